package lnpaystore

// #include "lnpaystore.h"
import "C"

import (
	"unsafe"
)

// ImportPayment is a whole payment in its final state, for [Store.ImportPayments].
// Its status is derived from the attempts and the failure reason, as for every
// payment.
type ImportPayment struct {
	// SequenceNum is kept as given (1 to 2^62): clients' paging cursors stay valid.
	SequenceNum uint64
	Hash        Hash
	Info        CreationInfo
	// HTLCs are every attempt with its outcome (Settle and Failure nil while in flight).
	HTLCs []HTLCAttempt
	// FailureReason is set when the router gave up.
	FailureReason *FailureReason
}

// ImportRefusal is one payment that [Store.ImportPayments] did not import.
type ImportRefusal struct {
	// Index is the payment's position in the call's input.
	Index       int
	SequenceNum uint64
	Hash        Hash
	// Err says why; match it with errors.Is: ErrPaymentExists (the hash has a
	// payment), ErrAlreadyPaid (the hash was paid and its payment deleted),
	// ErrSequenceNumExists, or the rule the payment breaks (ErrInvalidArgument,
	// ErrPreimageMismatch, ErrSentExceedsTotal, ErrAttemptExists).
	Err error
}

// ImportReport is what one import did: every input payment was imported or refused.
type ImportReport struct {
	Imported uint64
	// Refused is in input order.
	Refused []ImportRefusal
}

// MaxImportPayments is the most payments one ImportPayments call accepts.
const MaxImportPayments = C.LPS_MAX_IMPORT_PAYMENTS

// ImportPayments imports whole payments in their final state, keeping their sequence
// numbers, in durable chunks. Nothing is overwritten: a payment whose hash or
// sequence number is taken, or that breaks the store's rules (route shape, attempts
// adding up to more than the value, a preimage that does not prove its hash), is
// refused and listed in the report; the others are imported. Later payments get
// sequence numbers above every imported one. Imports emit no subscription events.
//
// A storage failure returns an error and no report; the chunks committed before it
// stay, and importing again refuses them with ErrPaymentExists.
func (s *Store) ImportPayments(payments []ImportPayment) (*ImportReport, error) {
	if len(payments) > MaxImportPayments {
		return nil, errInvalid("import: %d payments, more than the %d of one call", len(payments), MaxImportPayments)
	}
	var a arena
	defer a.free()
	in := allocSlice[C.LpsImportPayment](&a, len(payments))
	for i := range payments {
		a.importPayment(&in[i], &payments[i])
	}
	var first *C.LpsImportPayment
	if len(in) > 0 {
		first = &in[0]
	}
	var out *C.LpsImportReport
	err := s.do(func(store *C.LpsStore) C.LpsStatus {
		return C.lps_import_payments(store, first, C.size_t(len(in)), &out)
	})
	if err != nil {
		return nil, err
	}
	defer C.lps_import_report_free(out)
	report := &ImportReport{Imported: uint64(out.imported)}
	if out.refused_len > 0 {
		report.Refused = make([]ImportRefusal, 0, int(out.refused_len))
		for _, r := range unsafe.Slice(out.refused, int(out.refused_len)) {
			report.Refused = append(report.Refused, ImportRefusal{
				Index:       int(r.index),
				SequenceNum: uint64(r.sequence_num),
				Hash:        go32(&r.payment_hash),
				Err:         newError(Status(r.status), C.GoString(r.message)),
			})
		}
	}
	return report, nil
}

func (a *arena) importPayment(c *C.LpsImportPayment, p *ImportPayment) {
	c.sequence_num = C.uint64_t(p.SequenceNum)
	c.payment_hash = c32((*[32]byte)(&p.Hash))
	c.info = *a.creationInfo(&p.Info)
	if len(p.HTLCs) > 0 {
		htlcs := allocSlice[C.LpsHtlcAttempt](a, len(p.HTLCs))
		for i := range p.HTLCs {
			h := &p.HTLCs[i]
			htlcs[i].info = *a.attemptInfo(&h.AttemptInfo)
			htlcs[i].settle = a.settleInfo(h.Settle)
			htlcs[i].failure = a.failInfo(h.Failure)
		}
		c.htlcs, c.htlcs_len = &htlcs[0], C.size_t(len(htlcs))
	}
	if p.FailureReason != nil {
		c.has_failure_reason = true
		c.failure_reason = C.uint8_t(*p.FailureReason)
	}
}

// AddEncodedResult queues a mission-control result given in its stored form, as lnd
// stores it: key (time of reply, attempt id, source public key) and value (the TLV
// stream). It is queued only if it would be stored byte for byte as given; otherwise
// ErrInvalidArgument says where it differs. For importers; a node uses AddResult.
func (mc *MissionControl) AddEncodedResult(key, value []byte) error {
	var a arena
	defer a.free()
	k, v := a.bytes(key), a.bytes(value)
	return mc.do(func(p *C.LpsMissionControl) C.LpsStatus { return C.lps_mc_add_encoded_result(p, k, v) })
}
