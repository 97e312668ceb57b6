package lnpaystore

// #include "lnpaystore.h"
import "C"

import (
	"iter"
	"time"
)

// Query asks for one page of payments (docs/behaviour.md, Queries). Its zero
// value asks for the oldest 100 payments of every status, as the Python binding's
// defaults do.
type Query struct {
	// IndexOffset is exclusive: forwards, the page starts after it; reversed, it
	// ends before it. 0 = from the oldest (forwards) or the newest (reversed).
	IndexOffset uint64
	// MaxPayments caps the page; 0 = 100.
	MaxPayments uint64
	Reversed    bool
	// ExcludeIncomplete returns only SUCCEEDED payments (the C API's
	// include_incomplete = false); the zero value returns every status.
	ExcludeIncomplete bool
	// CountTotal also returns the number of payments in the store (O(1)).
	CountTotal bool
	// CreationDateStart and CreationDateEnd filter by creation time, inclusive, at
	// the resolution of whole seconds (the end's whole second is included). The
	// zero Time means unset.
	CreationDateStart time.Time
	CreationDateEnd   time.Time
	// OmitHops leaves out route hops.
	OmitHops bool
}

// QueryResponse is one page of payments.
type QueryResponse struct {
	// Payments are in ascending sequence number, also for reversed queries.
	Payments []*Payment
	// FirstIndexOffset and LastIndexOffset are the sequence numbers of the page's
	// first and last payment, to resume paging.
	FirstIndexOffset uint64
	LastIndexOffset  uint64
	// TotalCount is set only when the query asked for CountTotal.
	TotalCount uint64
}

// unixSeconds maps the zero Time to 0 (unset).
func unixSeconds(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// QueryPayments reads one page of payments. Its cost depends on the page size, and
// a date window seeks an index of creation times.
func (s *Store) QueryPayments(q Query) (*QueryResponse, error) {
	// No pointers inside, so it may live in Go memory.
	cq := C.LpsQuery{
		index_offset:        C.uint64_t(q.IndexOffset),
		max_payments:        C.uint64_t(q.MaxPayments),
		reversed:            C.bool(q.Reversed),
		include_incomplete:  C.bool(!q.ExcludeIncomplete),
		count_total:         C.bool(q.CountTotal),
		creation_date_start: C.int64_t(unixSeconds(q.CreationDateStart)),
		creation_date_end:   C.int64_t(unixSeconds(q.CreationDateEnd)),
		omit_hops:           C.bool(q.OmitHops),
	}
	var out *C.LpsQueryResponse
	if err := s.do(func(store *C.LpsStore) C.LpsStatus { return C.lps_query_payments(store, &cq, &out) }); err != nil {
		return nil, err
	}
	defer C.lps_query_response_free(out)
	return &QueryResponse{
		Payments:         goPayments(out.payments, out.payments_len),
		FirstIndexOffset: uint64(out.first_index_offset),
		LastIndexOffset:  uint64(out.last_index_offset),
		TotalCount:       uint64(out.total_count),
	}, nil
}

// IterPayments yields every payment q selects, page by page: oldest first, or newest
// first when q.Reversed. q.MaxPayments is the page size (0 = 100) and q.IndexOffset
// where to start (exclusive); memory use is one page whatever the store's size. A
// failed page yields (nil, err) and ends the iteration. CountTotal is ignored.
//
//	for p, err := range store.IterPayments(lnpaystore.Query{Reversed: true}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(p.SequenceNum, p.Status)
//	}
func (s *Store) IterPayments(q Query) iter.Seq2[*Payment, error] {
	return func(yield func(*Payment, error) bool) {
		q.CountTotal = false
		pageSize := q.MaxPayments
		if pageSize == 0 {
			pageSize = 100
		}
		for {
			page, err := s.QueryPayments(q)
			if err != nil {
				yield(nil, err)
				return
			}
			n := len(page.Payments)
			for i := range n {
				// Pages are in ascending order; reversed iteration walks them backwards.
				p := page.Payments[i]
				if q.Reversed {
					p = page.Payments[n-1-i]
				}
				if !yield(p, nil) {
					return
				}
			}
			if uint64(n) < pageSize {
				return
			}
			if q.Reversed {
				q.IndexOffset = page.FirstIndexOffset
			} else {
				q.IndexOffset = page.LastIndexOffset
			}
		}
	}
}

// PaymentCounts returns the number of payments per status and in total, in O(1).
func (s *Store) PaymentCounts() (PaymentCounts, error) {
	var c C.LpsPaymentCounts
	if err := s.do(func(store *C.LpsStore) C.LpsStatus { return C.lps_payment_counts(store, &c) }); err != nil {
		return PaymentCounts{}, err
	}
	return PaymentCounts{
		Total:     uint64(c.total),
		Initiated: uint64(c.initiated),
		InFlight:  uint64(c.in_flight),
		Succeeded: uint64(c.succeeded),
		Failed:    uint64(c.failed),
	}, nil
}
