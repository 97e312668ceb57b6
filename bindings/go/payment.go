package lnpaystore

// #include "lnpaystore.h"
import "C"

import (
	"unsafe"
)

// The payment as the library hands it out, copied into Go values, and the router's
// decisions read from it.

// goPayment copies a library-owned payment; the caller frees the C object after.
func goPayment(c *C.LpsPayment) *Payment {
	p := &Payment{
		SequenceNum: uint64(c.sequence_num),
		Hash:        go32(&c.payment_hash),
		Info: CreationInfo{
			PaymentIdentifier:     go32(&c.info.payment_identifier),
			Value:                 MilliSatoshi(c.info.value_msat),
			CreationTime:          fromUnixNanos(int64(c.info.creation_time_ns)),
			PaymentRequest:        goBytes(c.info.payment_request),
			FirstHopCustomRecords: goRecords(c.info.first_hop_custom_records, c.info.first_hop_custom_records_len),
		},
		Status: PaymentStatus(c.status),
		State: PaymentState{
			NumAttemptsInFlight: uint32(c.state.num_attempts_in_flight),
			RemainingAmt:        MilliSatoshi(c.state.remaining_amt_msat),
			FeesPaid:            MilliSatoshi(c.state.fees_paid_msat),
			HasSettledHTLC:      bool(c.state.has_settled_htlc),
			PaymentFailed:       bool(c.state.payment_failed),
		},
	}
	if c.has_failure_reason {
		reason := FailureReason(c.failure_reason)
		p.FailureReason = &reason
	}
	if c.htlcs_len > 0 {
		htlcs := unsafe.Slice(c.htlcs, int(c.htlcs_len))
		p.HTLCs = make([]HTLCAttempt, len(htlcs))
		for i := range htlcs {
			p.HTLCs[i] = goHTLCAttempt(&htlcs[i])
		}
	}
	return p
}

// goPayments copies an array of library-owned payments.
func goPayments(c *C.LpsPayment, n C.size_t) []*Payment {
	if n == 0 || c == nil {
		return nil
	}
	cs := unsafe.Slice(c, int(n))
	out := make([]*Payment, len(cs))
	for i := range cs {
		out[i] = goPayment(&cs[i])
	}
	return out
}

func goHTLCAttempt(c *C.LpsHtlcAttempt) HTLCAttempt {
	h := HTLCAttempt{AttemptInfo: goAttemptInfo(&c.info)}
	if c.settle != nil {
		h.Settle = &SettleInfo{
			Preimage:   go32(&c.settle.preimage),
			SettleTime: fromUnixNanos(int64(c.settle.settle_time_ns)),
		}
	}
	if c.failure != nil {
		h.Failure = &FailInfo{
			FailTime:           fromUnixNanos(int64(c.failure.fail_time_ns)),
			Message:            goBytes(c.failure.message),
			Reason:             HTLCFailReason(c.failure.reason),
			FailureSourceIndex: uint32(c.failure.failure_source_index),
		}
	}
	return h
}

func goAttemptInfo(c *C.LpsAttemptInfo) AttemptInfo {
	a := AttemptInfo{
		AttemptID:   uint64(c.attempt_id),
		SessionKey:  go32(&c.session_key),
		Route:       goRoute(&c.route),
		AttemptTime: fromUnixNanos(int64(c.attempt_time_ns)),
	}
	if c.hash != nil {
		h := Hash(go32((*[32]C.uint8_t)(unsafe.Pointer(c.hash))))
		a.Hash = &h
	}
	return a
}

func goRoute(c *C.LpsRoute) Route {
	r := Route{
		TotalTimeLock:             uint32(c.total_time_lock),
		TotalAmount:               MilliSatoshi(c.total_amount_msat),
		SourcePubKey:              go33(&c.source_pub_key),
		FirstHopAmount:            MilliSatoshi(c.first_hop_amount_msat),
		FirstHopWireCustomRecords: goRecords(c.first_hop_wire_custom_records, c.first_hop_wire_custom_records_len),
	}
	if c.hops_len > 0 {
		hops := unsafe.Slice(c.hops, int(c.hops_len))
		r.Hops = make([]Hop, len(hops))
		for i := range hops {
			r.Hops[i] = goHop(&hops[i])
		}
	}
	return r
}

func goHop(c *C.LpsHop) Hop {
	h := Hop{
		PubKey:           go33(&c.pub_key),
		ChannelID:        uint64(c.channel_id),
		OutgoingTimeLock: uint32(c.outgoing_time_lock),
		AmtToForward:     MilliSatoshi(c.amt_to_forward_msat),
		LegacyPayload:    bool(c.legacy_payload),
		EncryptedData:    goBytes(c.encrypted_data),
		Metadata:         goBytes(c.metadata),
		TotalAmt:         MilliSatoshi(c.total_amt_msat),
		CustomRecords:    goRecords(c.custom_records, c.custom_records_len),
	}
	if c.mpp != nil {
		h.MPP = &MPP{PaymentAddr: go32(&c.mpp.payment_addr), TotalAmount: MilliSatoshi(c.mpp.total_msat)}
	}
	if c.amp != nil {
		h.AMP = &AMP{
			RootShare:  go32(&c.amp.root_share),
			SetID:      go32(&c.amp.set_id),
			ChildIndex: uint32(c.amp.child_index),
		}
	}
	if c.blinding_point != nil {
		b := go33((*[33]C.uint8_t)(unsafe.Pointer(c.blinding_point)))
		h.BlindingPoint = &b
	}
	return h
}

// decisionView is the part of a C payment the decision functions read: status and
// derived state. It lives in Go memory and holds no pointers, as cgo requires.
func (p *Payment) decisionView() C.LpsPayment {
	var c C.LpsPayment
	c.status = C.uint8_t(p.Status)
	c.state = C.LpsPaymentState{
		num_attempts_in_flight: C.uint32_t(p.State.NumAttemptsInFlight),
		remaining_amt_msat:     C.uint64_t(p.State.RemainingAmt),
		fees_paid_msat:         C.uint64_t(p.State.FeesPaid),
		has_settled_htlc:       C.bool(p.State.HasSettledHTLC),
		payment_failed:         C.bool(p.State.PaymentFailed),
	}
	return c
}

// Terminated reports whether the payment is SUCCEEDED or FAILED.
func (p *Payment) Terminated() bool {
	c := p.decisionView()
	return bool(C.lps_payment_terminated(&c))
}

// NeedWaitAttempts reports whether the router must wait for in-flight attempts
// before deciding (lnd's NeedWaitAttempts). An inconsistent state gives an error
// matching ErrInternal.
func (p *Payment) NeedWaitAttempts() (bool, error) {
	c := p.decisionView()
	var out C.bool
	err := call(func() C.LpsStatus { return C.lps_payment_need_wait_attempts(&c, &out) })
	return bool(out), err
}

// AllowMoreAttempts reports whether the router may register another attempt (lnd's
// AllowMoreAttempts). An inconsistent state gives an error matching ErrInternal.
func (p *Payment) AllowMoreAttempts() (bool, error) {
	c := p.decisionView()
	var out C.bool
	err := call(func() C.LpsStatus { return C.lps_payment_allow_more_attempts(&c, &out) })
	return bool(out), err
}
