// Package convert maps lnd's payment types (lnd's payments/db and routing/route
// packages) to lnpaystore's and back, field by field. The importer uses it to move
// lnd's history, and a drop-in for lnd's payments database can use it the other way.
package convert

import (
	"bytes"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/lightningnetwork/lnd/lnwire"
	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	"github.com/lightningnetwork/lnd/routing/route"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
)

// Hash is the key lnd files a payment under: the payment identifier of its creation
// info (the payment hash; for AMP payments, the set id).
func Hash(p *paymentsdb.MPPayment) lps.Hash {
	return lps.Hash(p.Info.PaymentIdentifier)
}

// Payment is lnd's payment as a whole lnpaystore payment to import, keeping its
// sequence number.
func Payment(p *paymentsdb.MPPayment) (lps.ImportPayment, error) {
	out := lps.ImportPayment{
		SequenceNum: p.SequenceNum,
		Hash:        Hash(p),
		Info:        CreationInfo(p.Info),
	}
	if len(p.HTLCs) > 0 {
		out.HTLCs = make([]lps.HTLCAttempt, len(p.HTLCs))
		for i := range p.HTLCs {
			h, err := HTLCAttempt(&p.HTLCs[i])
			if err != nil {
				return out, fmt.Errorf("htlcs[%d]: %w", i, err)
			}
			out.HTLCs[i] = h
		}
	}
	if p.FailureReason != nil {
		r := lps.FailureReason(*p.FailureReason)
		out.FailureReason = &r
	}
	return out, nil
}

// CreationInfo maps lnd's creation info.
func CreationInfo(c *paymentsdb.PaymentCreationInfo) lps.CreationInfo {
	return lps.CreationInfo{
		PaymentIdentifier:     lps.Hash(c.PaymentIdentifier),
		Value:                 lps.MilliSatoshi(c.Value),
		CreationTime:          c.CreationTime,
		PaymentRequest:        nonEmpty(c.PaymentRequest),
		FirstHopCustomRecords: records(c.FirstHopCustomRecords),
	}
}

// HTLCAttempt maps one attempt with its settle or fail record. lnd keeps failure
// messages decoded; they are stored encoded, exactly as lnd writes them.
func HTLCAttempt(h *paymentsdb.HTLCAttempt) (lps.HTLCAttempt, error) {
	out := lps.HTLCAttempt{AttemptInfo: AttemptInfo(&h.HTLCAttemptInfo)}
	if h.Settle != nil {
		out.Settle = SettleInfo(h.Settle)
	}
	if h.Failure != nil {
		f, err := FailInfo(h.Failure)
		if err != nil {
			return out, err
		}
		out.Failure = f
	}
	return out, nil
}

// SettleInfo maps an attempt's settle record.
func SettleInfo(s *paymentsdb.HTLCSettleInfo) *lps.SettleInfo {
	return &lps.SettleInfo{Preimage: lps.Preimage(s.Preimage), SettleTime: s.SettleTime}
}

// FailInfo maps an attempt's fail record, encoding its wire message as lnd stores it.
func FailInfo(f *paymentsdb.HTLCFailInfo) (*lps.FailInfo, error) {
	message, err := FailureMessage(f.Message)
	if err != nil {
		return nil, err
	}
	return &lps.FailInfo{
		FailTime:           f.FailTime,
		Message:            message,
		Reason:             lps.HTLCFailReason(f.Reason),
		FailureSourceIndex: f.FailureSourceIndex,
	}, nil
}

// FailureMessage encodes a wire failure message as lnd stores it (nil: empty).
func FailureMessage(m lnwire.FailureMessage) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	var b bytes.Buffer
	if err := lnwire.EncodeFailureMessage(&b, m, 0); err != nil {
		return nil, fmt.Errorf("failure message: %w", err)
	}
	return b.Bytes(), nil
}

// AttemptInfo maps lnd's attempt info; the session key is stored as its 32 raw bytes.
func AttemptInfo(a *paymentsdb.HTLCAttemptInfo) lps.AttemptInfo {
	out := lps.AttemptInfo{
		AttemptID:   a.AttemptID,
		Route:       Route(&a.Route),
		AttemptTime: a.AttemptTime,
	}
	out.SessionKey = SessionKey(a)
	if a.Hash != nil {
		h := lps.Hash(*a.Hash)
		out.Hash = &h
	}
	return out
}

// SessionKey is the attempt's session key as lnd stores it: 32 raw bytes. lnd hands
// it out only as a parsed key (HTLCAttemptInfo.SessionKey), which computes the public
// key, over half of the importer's time; so the stored bytes are read from lnd's
// struct field, and through the parsed key when that field is not there (another lnd
// version). --verify compares the result with the parsed key.
func SessionKey(a *HTLCAttemptInfo) [32]byte {
	if f := reflect.ValueOf(a).Elem().FieldByName("sessionKey"); f.IsValid() &&
		f.Type() == reflect.TypeOf([32]byte{}) {
		return *(*[32]byte)(unsafe.Pointer(f.UnsafeAddr()))
	}
	var out [32]byte
	if key := a.SessionKey(); key != nil {
		copy(out[:], key.Serialize())
	}
	return out
}

// HTLCAttemptInfo is lnd's attempt info.
type HTLCAttemptInfo = paymentsdb.HTLCAttemptInfo

// Route maps a route with every hop field lnd stores.
func Route(r *route.Route) lps.Route {
	out := lps.Route{
		TotalTimeLock:             r.TotalTimeLock,
		TotalAmount:               lps.MilliSatoshi(r.TotalAmount),
		SourcePubKey:              lps.PubKey(r.SourcePubKey),
		FirstHopAmount:            lps.MilliSatoshi(r.FirstHopAmount.Val.Int()),
		FirstHopWireCustomRecords: records(r.FirstHopWireCustomRecords),
	}
	if len(r.Hops) > 0 {
		out.Hops = make([]lps.Hop, len(r.Hops))
		for i, h := range r.Hops {
			out.Hops[i] = Hop(h)
		}
	}
	return out
}

// Hop maps one hop (MPP, AMP, blinded-path data, metadata, custom records).
func Hop(h *route.Hop) lps.Hop {
	out := lps.Hop{
		PubKey:           lps.PubKey(h.PubKeyBytes),
		ChannelID:        h.ChannelID,
		OutgoingTimeLock: h.OutgoingTimeLock,
		AmtToForward:     lps.MilliSatoshi(h.AmtToForward),
		LegacyPayload:    h.LegacyPayload,
		EncryptedData:    nonEmpty(h.EncryptedData),
		Metadata:         nonEmpty(h.Metadata),
		TotalAmt:         lps.MilliSatoshi(h.TotalAmtMsat),
		CustomRecords:    records(h.CustomRecords),
	}
	if h.MPP != nil {
		out.MPP = &lps.MPP{PaymentAddr: h.MPP.PaymentAddr(), TotalAmount: lps.MilliSatoshi(h.MPP.TotalMsat())}
	}
	if h.AMP != nil {
		out.AMP = &lps.AMP{RootShare: h.AMP.RootShare(), SetID: h.AMP.SetID(), ChildIndex: h.AMP.ChildIndex()}
	}
	if h.BlindingPoint != nil {
		var b [33]byte
		copy(b[:], h.BlindingPoint.SerializeCompressed())
		out.BlindingPoint = &b
	}
	return out
}

// Status maps lnd's payment status (the numbers are the same).
func Status(s paymentsdb.PaymentStatus) lps.PaymentStatus { return lps.PaymentStatus(s) }

// State maps lnd's derived payment state.
func State(s *paymentsdb.MPPaymentState) lps.PaymentState {
	if s == nil {
		return lps.PaymentState{}
	}
	return lps.PaymentState{
		NumAttemptsInFlight: uint32(s.NumAttemptsInFlight),
		RemainingAmt:        lps.MilliSatoshi(s.RemainingAmt),
		FeesPaid:            lps.MilliSatoshi(s.FeesPaid),
		HasSettledHTLC:      s.HasSettledHTLC,
		PaymentFailed:       s.PaymentFailed,
	}
}

// PublicKey parses a 33-byte compressed key (for the way back to lnd's types).
func PublicKey(b [33]byte) (*btcec.PublicKey, error) { return btcec.ParsePubKey(b[:]) }

// PaymentHash is lnpaystore's hash as lnd's type.
func PaymentHash(h lps.Hash) lntypes.Hash { return lntypes.Hash(h) }

func records[M ~map[uint64][]byte](m M) map[uint64][]byte {
	if len(m) == 0 {
		return nil
	}
	out := make(map[uint64][]byte, len(m))
	for k, v := range m {
		out[k] = nonEmpty(v)
	}
	return out
}

// nonEmpty maps empty byte strings to nil, as lnpaystore hands them out.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
