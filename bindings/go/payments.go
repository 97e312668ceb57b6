package lnpaystore

// #include "lnpaystore.h"
import "C"

import (
	"unsafe"
)

// The control tower: the payment life cycle (docs/behaviour.md, Life cycle), reads
// and deletions. A nil info/attempt/settle/fail pointer is passed to C as NULL and
// reported as ErrNullArgument.

// MaxOperationBytes is the most bytes one operation may store: a payment's creation
// info, an attempt with its route, a settle or failure, a mission-control result, one
// imported payment. More fails with ErrInvalidArgument and writes nothing.
const MaxOperationBytes = C.LPS_MAX_OPERATION_BYTES

// cHash points C at a hash for the duration of one call (Go memory without
// pointers, which cgo allows).
func cHash(h *Hash) *C.uint8_t { return (*C.uint8_t)(unsafe.Pointer(&h[0])) }

func (a *arena) creationInfo(info *CreationInfo) *C.LpsCreationInfo {
	if info == nil {
		return nil
	}
	c := alloc[C.LpsCreationInfo](a)
	c.payment_identifier = c32((*[32]byte)(&info.PaymentIdentifier))
	c.value_msat = C.uint64_t(info.Value)
	c.creation_time_ns = C.int64_t(unixNanos(info.CreationTime))
	c.payment_request = a.bytes(info.PaymentRequest)
	c.first_hop_custom_records, c.first_hop_custom_records_len = a.records(info.FirstHopCustomRecords)
	return c
}

func (a *arena) hop(c *C.LpsHop, h *Hop) {
	c.pub_key = c33((*[33]byte)(&h.PubKey))
	c.channel_id = C.uint64_t(h.ChannelID)
	c.outgoing_time_lock = C.uint32_t(h.OutgoingTimeLock)
	c.amt_to_forward_msat = C.uint64_t(h.AmtToForward)
	c.legacy_payload = C.bool(h.LegacyPayload)
	if h.MPP != nil {
		m := alloc[C.LpsMpp](a)
		m.payment_addr = c32(&h.MPP.PaymentAddr)
		m.total_msat = C.uint64_t(h.MPP.TotalAmount)
		c.mpp = m
	}
	if h.AMP != nil {
		m := alloc[C.LpsAmp](a)
		m.root_share = c32(&h.AMP.RootShare)
		m.set_id = c32(&h.AMP.SetID)
		m.child_index = C.uint32_t(h.AMP.ChildIndex)
		c.amp = m
	}
	c.encrypted_data = a.bytes(h.EncryptedData)
	if h.BlindingPoint != nil {
		b := allocSlice[byte](a, 33)
		copy(b, h.BlindingPoint[:])
		c.blinding_point = (*C.uint8_t)(unsafe.Pointer(&b[0]))
	}
	c.metadata = a.bytes(h.Metadata)
	c.total_amt_msat = C.uint64_t(h.TotalAmt)
	c.custom_records, c.custom_records_len = a.records(h.CustomRecords)
}

func (a *arena) route(c *C.LpsRoute, r *Route) {
	c.total_time_lock = C.uint32_t(r.TotalTimeLock)
	c.total_amount_msat = C.uint64_t(r.TotalAmount)
	c.source_pub_key = c33((*[33]byte)(&r.SourcePubKey))
	if len(r.Hops) > 0 {
		hops := allocSlice[C.LpsHop](a, len(r.Hops))
		for i := range r.Hops {
			a.hop(&hops[i], &r.Hops[i])
		}
		c.hops, c.hops_len = &hops[0], C.size_t(len(hops))
	}
	c.first_hop_amount_msat = C.uint64_t(r.FirstHopAmount)
	c.first_hop_wire_custom_records, c.first_hop_wire_custom_records_len = a.records(r.FirstHopWireCustomRecords)
}

func (a *arena) attemptInfo(info *AttemptInfo) *C.LpsAttemptInfo {
	if info == nil {
		return nil
	}
	c := alloc[C.LpsAttemptInfo](a)
	c.attempt_id = C.uint64_t(info.AttemptID)
	c.session_key = c32(&info.SessionKey)
	a.route(&c.route, &info.Route)
	c.attempt_time_ns = C.int64_t(unixNanos(info.AttemptTime))
	if info.Hash != nil {
		h := allocSlice[byte](a, 32)
		copy(h, info.Hash[:])
		c.hash = (*C.uint8_t)(unsafe.Pointer(&h[0]))
	}
	return c
}

func (a *arena) settleInfo(info *SettleInfo) *C.LpsSettleInfo {
	if info == nil {
		return nil
	}
	c := alloc[C.LpsSettleInfo](a)
	c.preimage = c32((*[32]byte)(&info.Preimage))
	c.settle_time_ns = C.int64_t(unixNanos(info.SettleTime))
	return c
}

func (a *arena) failInfo(info *FailInfo) *C.LpsFailInfo {
	if info == nil {
		return nil
	}
	c := alloc[C.LpsFailInfo](a)
	c.fail_time_ns = C.int64_t(unixNanos(info.FailTime))
	c.message = a.bytes(info.Message)
	c.reason = C.uint8_t(info.Reason)
	c.failure_source_index = C.uint32_t(info.FailureSourceIndex)
	return c
}

// update runs a mutating call that hands out the payment's new state, copies that
// state into Go and frees the C object.
func (s *Store) update(f func(store *C.LpsStore, out **C.LpsPayment) C.LpsStatus) (*Payment, error) {
	var out *C.LpsPayment
	if err := s.do(func(store *C.LpsStore) C.LpsStatus { return f(store, &out) }); err != nil {
		return nil, err
	}
	defer C.lps_payment_free(out)
	return goPayment(out), nil
}

// InitPayment records a new payment, or restarts a FAILED one with a new sequence
// number. A taken hash gives ErrPaymentExists (INITIATED), ErrPaymentInFlight or
// ErrAlreadyPaid (also after the paid payment was deleted).
func (s *Store) InitPayment(hash Hash, info *CreationInfo) error {
	var a arena
	defer a.free()
	c := a.creationInfo(info)
	return s.do(func(store *C.LpsStore) C.LpsStatus { return C.lps_init_payment(store, cHash(&hash), c) })
}

// RegisterAttempt records one HTLC attempt, validated against the payment and its
// other attempts (docs/behaviour.md, Registering an attempt), and returns the payment's new
// state. Concurrent calls for one payment are serialized by the store: they can never
// overpay.
func (s *Store) RegisterAttempt(hash Hash, attempt *AttemptInfo) (*Payment, error) {
	var a arena
	defer a.free()
	c := a.attemptInfo(attempt)
	return s.update(func(store *C.LpsStore, out **C.LpsPayment) C.LpsStatus {
		return C.lps_register_attempt(store, cHash(&hash), c, out)
	})
}

// SettleAttempt records an attempt's success and returns the payment's new state.
// The preimage must hash to the attempt's hash (ErrPreimageMismatch).
func (s *Store) SettleAttempt(hash Hash, attemptID uint64, settle *SettleInfo) (*Payment, error) {
	var a arena
	defer a.free()
	c := a.settleInfo(settle)
	return s.update(func(store *C.LpsStore, out **C.LpsPayment) C.LpsStatus {
		return C.lps_settle_attempt(store, cHash(&hash), C.uint64_t(attemptID), c, out)
	})
}

// FailAttempt records an attempt's failure and returns the payment's new state.
func (s *Store) FailAttempt(hash Hash, attemptID uint64, fail *FailInfo) (*Payment, error) {
	var a arena
	defer a.free()
	c := a.failInfo(fail)
	return s.update(func(store *C.LpsStore, out **C.LpsPayment) C.LpsStatus {
		return C.lps_fail_attempt(store, cHash(&hash), C.uint64_t(attemptID), c, out)
	})
}

// FailPayment records that the router gave up, and returns the payment's new state.
// It is allowed while attempts are still in flight.
func (s *Store) FailPayment(hash Hash, reason FailureReason) (*Payment, error) {
	return s.update(func(store *C.LpsStore, out **C.LpsPayment) C.LpsStatus {
		return C.lps_fail_payment(store, cHash(&hash), C.uint8_t(reason), out)
	})
}

// FetchPayment reads one payment with all its attempts (ErrPaymentNotInitiated if
// unknown).
func (s *Store) FetchPayment(hash Hash) (*Payment, error) {
	var out *C.LpsPayment
	if err := s.do(func(store *C.LpsStore) C.LpsStatus { return C.lps_fetch_payment(store, cHash(&hash), &out) }); err != nil {
		return nil, err
	}
	defer C.lps_payment_free(out)
	return goPayment(out), nil
}

// FetchInflightPayments returns every INITIATED or IN_FLIGHT payment, to resume them
// after a restart. Its cost depends on their number only.
func (s *Store) FetchInflightPayments() ([]*Payment, error) {
	var out *C.LpsPaymentList
	if err := s.do(func(store *C.LpsStore) C.LpsStatus { return C.lps_fetch_inflight_payments(store, &out) }); err != nil {
		return nil, err
	}
	defer C.lps_payment_list_free(out)
	return goPayments(out.payments, out.len), nil
}

// DeleteFailedAttempts removes the failed attempts of a payment that is not in
// flight (ErrPaymentInFlight otherwise).
func (s *Store) DeleteFailedAttempts(hash Hash) error {
	return s.do(func(store *C.LpsStore) C.LpsStatus { return C.lps_delete_failed_attempts(store, cHash(&hash)) })
}

// DeletePayment deletes a payment that is not in flight, or only its failed
// attempts. A deleted SUCCEEDED hash still gives ErrAlreadyPaid to InitPayment.
func (s *Store) DeletePayment(hash Hash, failedAttemptsOnly bool) error {
	return s.do(func(store *C.LpsStore) C.LpsStatus {
		return C.lps_delete_payment(store, cHash(&hash), C.bool(failedAttemptsOnly))
	})
}

// DeleteOptions choose what DeletePayments deletes. Which payments is a deliberate
// choice: exactly one of FailedOnly and AllPayments must be set, so the zero value
// deletes nothing and returns ErrInvalidArgument.
type DeleteOptions struct {
	// FailedOnly deletes every FAILED payment.
	FailedOnly bool
	// AllPayments deletes every payment that is not in flight, including SUCCEEDED
	// ones with their preimage, the proof of payment (their hashes still give
	// ErrAlreadyPaid to InitPayment).
	AllPayments bool
	// FailedAttemptsOnly keeps those payments and deletes only their failed attempts.
	FailedAttemptsOnly bool
}

// DeletePayments deletes the payments opts chooses (or only their failed attempts),
// in bounded transactions, so the life cycle goes on meanwhile. It returns how many
// payments were deleted (0 when only attempts were).
func (s *Store) DeletePayments(opts DeleteOptions) (int, error) {
	if opts.FailedOnly == opts.AllPayments {
		return 0, errInvalid("DeleteOptions: set FailedOnly (every FAILED payment) or AllPayments " +
			"(every payment not in flight, settled ones with their preimage)")
	}
	var deleted C.uint64_t
	err := s.do(func(store *C.LpsStore) C.LpsStatus {
		return C.lps_delete_payments(store, C.bool(opts.FailedOnly), C.bool(opts.FailedAttemptsOnly), &deleted)
	})
	return int(deleted), err
}
