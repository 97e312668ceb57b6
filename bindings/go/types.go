package lnpaystore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Hash is a payment hash (for AMP payments: the set id). It prints, and marshals
// to text and JSON, as lower-case hex; ParseHash reads it back.
type Hash [32]byte

// Preimage is the proof of payment: its SHA-256 is the payment hash. It prints as
// hex, like Hash.
type Preimage [32]byte

// Hash returns SHA-256(p), the payment hash that p proves.
func (p Preimage) Hash() Hash { return sha256.Sum256(p[:]) }

// PubKey is a compressed secp256k1 public key. It prints as hex; ParsePubKey reads
// it back.
type PubKey [33]byte

// parseHex decodes exactly len(out) bytes of hex; errors match ErrInvalidArgument.
func parseHex(what, s string, out []byte) error {
	if len(s) != 2*len(out) {
		return errInvalid("%s %q: need %d hex characters, got %d", what, s, 2*len(out), len(s))
	}
	if _, err := hex.Decode(out, []byte(s)); err != nil {
		return errInvalid("%s %q: not hex: %v", what, s, err)
	}
	return nil
}

// String is the hash in lower-case hex (64 characters).
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText gives the hex form (so encoding/json writes a hex string).
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads the hex form.
func (h *Hash) UnmarshalText(text []byte) error { return parseHex("hash", string(text), h[:]) }

// ParseHash reads a hash from 64 hex characters (either case); other input gives an
// error matching ErrInvalidArgument.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := parseHex("hash", s, h[:])
	return h, err
}

// String is the preimage in lower-case hex (64 characters).
func (p Preimage) String() string { return hex.EncodeToString(p[:]) }

// MarshalText gives the hex form.
func (p Preimage) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads the hex form.
func (p *Preimage) UnmarshalText(text []byte) error {
	return parseHex("preimage", string(text), p[:])
}

// ParsePreimage reads a preimage from 64 hex characters.
func ParsePreimage(s string) (Preimage, error) {
	var p Preimage
	err := parseHex("preimage", s, p[:])
	return p, err
}

// String is the key in lower-case hex (66 characters).
func (k PubKey) String() string { return hex.EncodeToString(k[:]) }

// MarshalText gives the hex form.
func (k PubKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads the hex form.
func (k *PubKey) UnmarshalText(text []byte) error {
	return parseHex("public key", string(text), k[:])
}

// ParsePubKey reads a compressed public key from 66 hex characters; other input
// gives an error matching ErrInvalidArgument. The point itself is not validated.
func ParsePubKey(s string) (PubKey, error) {
	var k PubKey
	err := parseHex("public key", s, k[:])
	return k, err
}

// MilliSatoshi is an amount in thousandths of a satoshi.
type MilliSatoshi uint64

// CreationInfo is the static information recorded once, by InitPayment.
type CreationInfo struct {
	PaymentIdentifier Hash
	Value             MilliSatoshi
	// CreationTime is stored in unix nanoseconds; the zero Time means unset.
	CreationTime time.Time
	// PaymentRequest is the opaque payment request (may be empty).
	PaymentRequest []byte
	// FirstHopCustomRecords maps TLV types (≥ 65536) to values.
	FirstHopCustomRecords map[uint64][]byte
}

// MPP is the multi-path payment record of a final hop.
type MPP struct {
	PaymentAddr [32]byte
	TotalAmount MilliSatoshi
}

// AMP is the atomic multi-path payment record of a final hop.
type AMP struct {
	RootShare  [32]byte
	SetID      [32]byte
	ChildIndex uint32
}

// Hop is one hop of a route.
type Hop struct {
	PubKey           PubKey
	ChannelID        uint64
	OutgoingTimeLock uint32
	AmtToForward     MilliSatoshi
	LegacyPayload    bool
	MPP              *MPP // nil = none
	AMP              *AMP // nil = none
	// EncryptedData marks a hop of a blinded path (empty = none).
	EncryptedData []byte
	BlindingPoint *[33]byte // nil = none
	Metadata      []byte
	// TotalAmt is the total amount of a blinded payment (0 = unset).
	TotalAmt MilliSatoshi
	// CustomRecords maps TLV types (≥ 65536) to values.
	CustomRecords map[uint64][]byte
}

// Route is a path from the sender to the receiver. It needs at least one hop.
type Route struct {
	TotalTimeLock  uint32
	TotalAmount    MilliSatoshi
	SourcePubKey   PubKey
	Hops           []Hop
	FirstHopAmount MilliSatoshi // 0 = unset
	// FirstHopWireCustomRecords maps TLV types (≥ 65536) to values.
	FirstHopWireCustomRecords map[uint64][]byte
}

// ReceiverAmt is the amount the final hop receives (0 for a route without hops).
func (r *Route) ReceiverAmt() MilliSatoshi {
	if len(r.Hops) == 0 {
		return 0
	}
	return r.Hops[len(r.Hops)-1].AmtToForward
}

// AttemptInfo describes one HTLC attempt: a route and the session key its onion was
// built with.
type AttemptInfo struct {
	AttemptID   uint64
	SessionKey  [32]byte
	Route       Route
	AttemptTime time.Time
	// Hash is the attempt's own hash (AMP shards); nil means the payment hash.
	Hash *Hash
}

// SettleInfo is the proof of payment of one attempt.
type SettleInfo struct {
	Preimage   Preimage
	SettleTime time.Time
}

// FailInfo is the outcome of a failed attempt.
type FailInfo struct {
	FailTime time.Time
	// Message is the encoded wire failure message (may be empty).
	Message            []byte
	Reason             HTLCFailReason
	FailureSourceIndex uint32
}

// HTLCAttempt is an attempt with its outcome: at most one of Settle and Failure is
// set; neither while the attempt is in flight.
type HTLCAttempt struct {
	AttemptInfo
	Settle  *SettleInfo
	Failure *FailInfo
}

// PaymentState holds the figures derived from a payment's attempts.
type PaymentState struct {
	NumAttemptsInFlight uint32
	// RemainingAmt is the value minus what non-failed attempts deliver.
	RemainingAmt MilliSatoshi
	// FeesPaid is the sum of the fees of non-failed attempts.
	FeesPaid       MilliSatoshi
	HasSettledHTLC bool
	PaymentFailed  bool
}

// Payment is a payment with its attempts and derived status, as read from the store.
type Payment struct {
	// SequenceNum orders payments; a re-initiated payment gets a new one.
	SequenceNum uint64
	Hash        Hash
	Info        CreationInfo
	// HTLCs are the attempts in ascending attempt id.
	HTLCs []HTLCAttempt
	// FailureReason is set once the router gave up (FailPayment).
	FailureReason *FailureReason
	Status        PaymentStatus
	State         PaymentState
}

// PaymentStatus is the status derived from a payment's attempts and failure reason.
type PaymentStatus uint8

// Payment statuses, with the numbers of the C API.
const (
	PaymentStatusInitiated PaymentStatus = 1
	PaymentStatusInFlight  PaymentStatus = 2
	PaymentStatusSucceeded PaymentStatus = 3
	PaymentStatusFailed    PaymentStatus = 4
)

func (s PaymentStatus) String() string {
	switch s {
	case PaymentStatusInitiated:
		return "INITIATED"
	case PaymentStatusInFlight:
		return "IN_FLIGHT"
	case PaymentStatusSucceeded:
		return "SUCCEEDED"
	case PaymentStatusFailed:
		return "FAILED"
	}
	return fmt.Sprintf("PaymentStatus(%d)", uint8(s))
}

// FailureReason is why the router gave up on a payment.
type FailureReason uint8

// Payment failure reasons, with the numbers of the C API.
const (
	FailureReasonTimeout                 FailureReason = 0
	FailureReasonNoRoute                 FailureReason = 1
	FailureReasonError                   FailureReason = 2
	FailureReasonIncorrectPaymentDetails FailureReason = 3
	FailureReasonInsufficientBalance     FailureReason = 4
	FailureReasonCanceled                FailureReason = 5
)

func (r FailureReason) String() string {
	switch r {
	case FailureReasonTimeout:
		return "TIMEOUT"
	case FailureReasonNoRoute:
		return "NO_ROUTE"
	case FailureReasonError:
		return "ERROR"
	case FailureReasonIncorrectPaymentDetails:
		return "INCORRECT_PAYMENT_DETAILS"
	case FailureReasonInsufficientBalance:
		return "INSUFFICIENT_BALANCE"
	case FailureReasonCanceled:
		return "CANCELED"
	}
	return fmt.Sprintf("FailureReason(%d)", uint8(r))
}

// HTLCFailReason is why one attempt failed.
type HTLCFailReason uint8

// Attempt failure reasons, with the numbers of the C API.
const (
	HTLCFailUnknown    HTLCFailReason = 0
	HTLCFailUnreadable HTLCFailReason = 1
	HTLCFailInternal   HTLCFailReason = 2
	HTLCFailMessage    HTLCFailReason = 3
)

func (r HTLCFailReason) String() string {
	switch r {
	case HTLCFailUnknown:
		return "UNKNOWN"
	case HTLCFailUnreadable:
		return "UNREADABLE"
	case HTLCFailInternal:
		return "INTERNAL"
	case HTLCFailMessage:
		return "MESSAGE"
	}
	return fmt.Sprintf("HTLCFailReason(%d)", uint8(r))
}

// PaymentCounts are the numbers of payments per status and in total.
type PaymentCounts struct {
	Total, Initiated, InFlight, Succeeded, Failed uint64
}

// unixNanos maps the zero Time to 0 (unset) and others to unix nanoseconds.
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNanos maps 0 (unset) to the zero Time.
func fromUnixNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
