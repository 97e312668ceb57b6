package convert

// The way back: lnpaystore's payments as lnd's types, for a drop-in of lnd's payments
// database (package dropin).

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/lightningnetwork/lnd/lnwire"
	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	"github.com/lightningnetwork/lnd/record"
	"github.com/lightningnetwork/lnd/routing/route"
	"github.com/lightningnetwork/lnd/tlv"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
)

// LndPayment is a stored payment as lnd's MPPayment, with the status and derived state
// the store computed (lnd's own rules, so lnd's SetState would give the same).
func LndPayment(p *lps.Payment) (*paymentsdb.MPPayment, error) {
	info := LndCreationInfo(&p.Info)
	out := &paymentsdb.MPPayment{
		SequenceNum: p.SequenceNum,
		Info:        &info,
		Status:      paymentsdb.PaymentStatus(p.Status),
		State: &paymentsdb.MPPaymentState{
			NumAttemptsInFlight: int(p.State.NumAttemptsInFlight),
			RemainingAmt:        lnwire.MilliSatoshi(p.State.RemainingAmt),
			FeesPaid:            lnwire.MilliSatoshi(p.State.FeesPaid),
			HasSettledHTLC:      p.State.HasSettledHTLC,
			PaymentFailed:       p.State.PaymentFailed,
		},
	}
	if len(p.HTLCs) > 0 {
		out.HTLCs = make([]paymentsdb.HTLCAttempt, len(p.HTLCs))
		for i := range p.HTLCs {
			h, err := LndHTLCAttempt(&p.HTLCs[i])
			if err != nil {
				return nil, fmt.Errorf("payment %x, htlcs[%d]: %w", p.Hash[:], i, err)
			}
			out.HTLCs[i] = *h
		}
	}
	if p.FailureReason != nil {
		r := paymentsdb.FailureReason(*p.FailureReason)
		out.FailureReason = &r
	}
	return out, nil
}

// LndCreationInfo maps the creation info back.
func LndCreationInfo(c *lps.CreationInfo) paymentsdb.PaymentCreationInfo {
	return paymentsdb.PaymentCreationInfo{
		PaymentIdentifier:     lntypes.Hash(c.PaymentIdentifier),
		Value:                 lnwire.MilliSatoshi(c.Value),
		CreationTime:          c.CreationTime,
		PaymentRequest:        c.PaymentRequest,
		FirstHopCustomRecords: lnwire.CustomRecords(c.FirstHopCustomRecords),
	}
}

// LndHTLCAttempt maps an attempt with its outcome back; the failure message is decoded
// as lnd decodes it when reading its own store.
func LndHTLCAttempt(h *lps.HTLCAttempt) (*paymentsdb.HTLCAttempt, error) {
	info, err := LndAttemptInfo(&h.AttemptInfo)
	if err != nil {
		return nil, err
	}
	out := &paymentsdb.HTLCAttempt{HTLCAttemptInfo: *info}
	if h.Settle != nil {
		out.Settle = &paymentsdb.HTLCSettleInfo{
			Preimage:   lntypes.Preimage(h.Settle.Preimage),
			SettleTime: h.Settle.SettleTime,
		}
	}
	if h.Failure != nil {
		f, err := LndFailInfo(h.Failure)
		if err != nil {
			return nil, err
		}
		out.Failure = f
	}
	return out, nil
}

// LndFailInfo maps a fail record back, decoding its wire message.
func LndFailInfo(f *lps.FailInfo) (*paymentsdb.HTLCFailInfo, error) {
	out := &paymentsdb.HTLCFailInfo{
		FailTime:           f.FailTime,
		Reason:             paymentsdb.HTLCFailReason(f.Reason),
		FailureSourceIndex: f.FailureSourceIndex,
	}
	if len(f.Message) > 0 {
		msg, err := lnwire.DecodeFailureMessage(bytes.NewReader(f.Message), 0)
		// lnd keeps a message whose extra TLV bytes do not parse; so do we.
		if err != nil && !errors.Is(err, lnwire.ErrParsingExtraTLVBytes) {
			return nil, fmt.Errorf("failure message: %w", err)
		}
		out.Message = msg
	}
	return out, nil
}

// LndAttemptInfo maps attempt info back, with its session key.
func LndAttemptInfo(a *lps.AttemptInfo) (*paymentsdb.HTLCAttemptInfo, error) {
	rt, err := LndRoute(&a.Route)
	if err != nil {
		return nil, err
	}
	out := &paymentsdb.HTLCAttemptInfo{
		AttemptID:   a.AttemptID,
		Route:       rt,
		AttemptTime: a.AttemptTime,
	}
	if a.Hash != nil {
		h := lntypes.Hash(*a.Hash)
		out.Hash = &h
	}
	if err := SetSessionKey(out, a.SessionKey); err != nil {
		return nil, err
	}
	return out, nil
}

// SetSessionKey stores the 32 raw bytes lnd keeps as an attempt's session key. lnd
// fills that field only when it builds an onion (NewHtlcAttempt) or reads its own
// store, so it is written here the way SessionKey reads it; the parsed key lnd
// caches is left empty and parsed from these bytes when asked for.
func SetSessionKey(a *HTLCAttemptInfo, key [32]byte) error {
	f := reflect.ValueOf(a).Elem().FieldByName("sessionKey")
	if !f.IsValid() || f.Type() != reflect.TypeOf([32]byte{}) {
		return errors.New("this lnd version's HTLCAttemptInfo has no 32-byte sessionKey field")
	}
	*(*[32]byte)(unsafe.Pointer(f.UnsafeAddr())) = key
	return nil
}

// LndRoute maps a route back (without hops when the query omitted them).
func LndRoute(r *lps.Route) (route.Route, error) {
	out := route.Route{
		TotalTimeLock:             r.TotalTimeLock,
		TotalAmount:               lnwire.MilliSatoshi(r.TotalAmount),
		SourcePubKey:              route.Vertex(r.SourcePubKey),
		FirstHopWireCustomRecords: lnwire.CustomRecords(r.FirstHopWireCustomRecords),
	}
	if r.FirstHopAmount != 0 {
		out.FirstHopAmount = tlv.NewRecordT[tlv.TlvType0](tlv.NewBigSizeT(lnwire.MilliSatoshi(r.FirstHopAmount)))
	}
	if len(r.Hops) > 0 {
		out.Hops = make([]*route.Hop, len(r.Hops))
		for i := range r.Hops {
			h, err := LndHop(&r.Hops[i])
			if err != nil {
				return out, fmt.Errorf("hops[%d]: %w", i, err)
			}
			out.Hops[i] = h
		}
	}
	return out, nil
}

// LndHop maps a hop back; the blinding point is parsed into lnd's key type.
func LndHop(h *lps.Hop) (*route.Hop, error) {
	out := &route.Hop{
		PubKeyBytes:      route.Vertex(h.PubKey),
		ChannelID:        h.ChannelID,
		OutgoingTimeLock: h.OutgoingTimeLock,
		AmtToForward:     lnwire.MilliSatoshi(h.AmtToForward),
		LegacyPayload:    h.LegacyPayload,
		EncryptedData:    h.EncryptedData,
		Metadata:         h.Metadata,
		TotalAmtMsat:     lnwire.MilliSatoshi(h.TotalAmt),
		CustomRecords:    record.CustomSet(h.CustomRecords),
	}
	if h.MPP != nil {
		out.MPP = record.NewMPP(lnwire.MilliSatoshi(h.MPP.TotalAmount), h.MPP.PaymentAddr)
	}
	if h.AMP != nil {
		out.AMP = record.NewAMP(h.AMP.RootShare, h.AMP.SetID, h.AMP.ChildIndex)
	}
	if h.BlindingPoint != nil {
		key, err := btcec.ParsePubKey(h.BlindingPoint[:])
		if err != nil {
			return nil, fmt.Errorf("blinding point: %w", err)
		}
		out.BlindingPoint = key
	}
	return out, nil
}
