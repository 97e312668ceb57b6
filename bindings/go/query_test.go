package lnpaystore

import (
	"testing"
	"time"
)

// seedPayments makes n payments created an hour apart from t0; even ones succeed,
// odd ones stay in flight. It returns their sequence numbers in order.
func seedPayments(t *testing.T, s *Store, n int) []uint64 {
	t.Helper()
	seqs := make([]uint64, n)
	for i := 0; i < n; i++ {
		pre, hash := newPreimage()
		info := creation(1_000)
		info.CreationTime = t0.Add(time.Duration(i) * time.Hour)
		check(t, s.InitPayment(hash, info))
		p := okp(t)(s.RegisterAttempt(hash, attempt(1, route(1_000))))
		if i%2 == 0 {
			p = okp(t)(s.SettleAttempt(hash, 1, settle(pre)))
		}
		seqs[i] = p.SequenceNum
	}
	return seqs
}

func pageSeqs(r *QueryResponse) []uint64 {
	out := make([]uint64, len(r.Payments))
	for i, p := range r.Payments {
		out[i] = p.SequenceNum
	}
	return out
}

func wantSeqs(t *testing.T, r *QueryResponse, want ...uint64) {
	t.Helper()
	got := pageSeqs(r)
	if len(got) != len(want) {
		t.Fatalf("page %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("page %v, want %v", got, want)
		}
	}
	if len(want) > 0 && (r.FirstIndexOffset != want[0] || r.LastIndexOffset != want[len(want)-1]) {
		t.Fatalf("page offsets %d..%d, want %d..%d", r.FirstIndexOffset, r.LastIndexOffset, want[0], want[len(want)-1])
	}
}

func TestQueryPagingForwards(t *testing.T) {
	s := openTest(t)
	seq := seedPayments(t, s, 10)

	// Pages of 4 from the oldest; each page resumes after the previous one's last.
	var got []uint64
	q := Query{MaxPayments: 4}
	for {
		r := ok[*QueryResponse](t)(s.QueryPayments(q))
		if len(r.Payments) == 0 {
			break
		}
		got = append(got, pageSeqs(r)...)
		q.IndexOffset = r.LastIndexOffset
	}
	if len(got) != 10 {
		t.Fatalf("paged through %v", got)
	}
	for i := range got {
		if got[i] != seq[i] {
			t.Fatalf("paged through %v, want %v", got, seq)
		}
	}

	// The offset is exclusive.
	r := ok[*QueryResponse](t)(s.QueryPayments(Query{IndexOffset: seq[2], MaxPayments: 2}))
	wantSeqs(t, r, seq[3], seq[4])

	// With ExcludeIncomplete only SUCCEEDED payments (the even ones) count.
	r = ok[*QueryResponse](t)(s.QueryPayments(Query{MaxPayments: 3, ExcludeIncomplete: true}))
	wantSeqs(t, r, seq[0], seq[2], seq[4])
	for _, p := range r.Payments {
		wantStatus(t, p, PaymentStatusSucceeded)
	}
}

func TestQueryPagingReversed(t *testing.T) {
	s := openTest(t)
	seq := seedPayments(t, s, 10)

	// From the newest, pages stay in ascending order; each resumes before the
	// previous one's first.
	q := Query{MaxPayments: 4, Reversed: true}
	r := ok[*QueryResponse](t)(s.QueryPayments(q))
	wantSeqs(t, r, seq[6], seq[7], seq[8], seq[9])
	q.IndexOffset = r.FirstIndexOffset
	r = ok[*QueryResponse](t)(s.QueryPayments(q))
	wantSeqs(t, r, seq[2], seq[3], seq[4], seq[5])
	q.IndexOffset = r.FirstIndexOffset
	r = ok[*QueryResponse](t)(s.QueryPayments(q))
	wantSeqs(t, r, seq[0], seq[1])
	q.IndexOffset = r.FirstIndexOffset
	r = ok[*QueryResponse](t)(s.QueryPayments(q))
	wantSeqs(t, r)
}

func TestQueryOptions(t *testing.T) {
	s := openTest(t)
	seedPayments(t, s, 5)

	r := ok[*QueryResponse](t)(s.QueryPayments(Query{CountTotal: true, OmitHops: true}))
	if len(r.Payments) != 5 || r.TotalCount != 5 {
		t.Fatalf("%d payments, total %d", len(r.Payments), r.TotalCount)
	}
	for _, p := range r.Payments {
		if len(p.HTLCs) != 1 || p.HTLCs[0].Route.Hops != nil || p.HTLCs[0].Route.TotalAmount != 1_030 {
			t.Fatalf("OmitHops: attempt %+v", p.HTLCs)
		}
	}
	r = ok[*QueryResponse](t)(s.QueryPayments(Query{}))
	if r.TotalCount != 0 || len(r.Payments[0].HTLCs[0].Route.Hops) != 3 {
		t.Fatalf("without CountTotal/OmitHops: total %d, hops %d", r.TotalCount, len(r.Payments[0].HTLCs[0].Route.Hops))
	}
}

func TestQueryDateWindows(t *testing.T) {
	s := openTest(t)
	seq := seedPayments(t, s, 10) // payment i created at t0 + i hours

	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) }
	query := func(start, end time.Time) *QueryResponse {
		return ok[*QueryResponse](t)(s.QueryPayments(Query{CreationDateStart: start, CreationDateEnd: end}))
	}
	// Both bounds are inclusive.
	wantSeqs(t, query(at(2), at(4)), seq[2], seq[3], seq[4])
	// The end bound covers its whole second.
	wantSeqs(t, query(at(2), at(4).Add(999*time.Millisecond)), seq[2], seq[3], seq[4])
	wantSeqs(t, query(at(2).Add(time.Second), at(4).Add(-time.Second)), seq[3])
	// Open-ended windows.
	wantSeqs(t, query(at(8), time.Time{}), seq[8], seq[9])
	wantSeqs(t, query(time.Time{}, at(1)), seq[0], seq[1])
	// An empty window, and one with the bounds crossed.
	wantSeqs(t, query(at(20), at(30)))
	wantSeqs(t, query(at(4), at(2)))

	// Windows combine with paging and direction.
	r := ok[*QueryResponse](t)(s.QueryPayments(Query{
		CreationDateStart: at(1), CreationDateEnd: at(8),
		MaxPayments: 3, Reversed: true, IndexOffset: seq[8],
	}))
	wantSeqs(t, r, seq[5], seq[6], seq[7])
	r = ok[*QueryResponse](t)(s.QueryPayments(Query{
		CreationDateStart: at(1), CreationDateEnd: at(8), MaxPayments: 2, ExcludeIncomplete: true,
	}))
	wantSeqs(t, r, seq[2], seq[4])
}

// The zero Query means what the Python binding's defaults mean: every status.
func TestZeroQueryIncludesEveryStatus(t *testing.T) {
	s := openTest(t)
	seq := seedPayments(t, s, 4)
	wantSeqs(t, ok[*QueryResponse](t)(s.QueryPayments(Query{})), seq...)
}

func TestIterPayments(t *testing.T) {
	s := openTest(t)
	seq := seedPayments(t, s, 10)
	collect := func(q Query) []uint64 {
		var got []uint64
		for p, err := range s.IterPayments(q) {
			check(t, err)
			got = append(got, p.SequenceNum)
		}
		return got
	}
	same := func(got, want []uint64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("iterated %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("iterated %v, want %v", got, want)
			}
		}
	}
	// Pages of 3 (the last one short), and of exactly the store's size.
	same(collect(Query{MaxPayments: 3}), seq)
	same(collect(Query{MaxPayments: 10}), seq)
	newest := make([]uint64, len(seq))
	for i := range seq {
		newest[i] = seq[len(seq)-1-i]
	}
	same(collect(Query{MaxPayments: 4, Reversed: true}), newest)
	// Filters and the start offset hold on every page.
	same(collect(Query{MaxPayments: 2, ExcludeIncomplete: true, IndexOffset: seq[1]}),
		[]uint64{seq[2], seq[4], seq[6], seq[8]})
	same(collect(Query{MaxPayments: 2, Reversed: true, CreationDateEnd: t0.Add(3 * time.Hour)}),
		[]uint64{seq[3], seq[2], seq[1], seq[0]})

	// Breaking out stops the paging.
	n := 0
	for range s.IterPayments(Query{MaxPayments: 1}) {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("iterated %d after break", n)
	}

	// A failing page ends the iteration with its error.
	check(t, s.Close())
	var errs []error
	for p, err := range s.IterPayments(Query{}) {
		if p != nil {
			t.Fatal("a payment from a closed store")
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 {
		t.Fatalf("closed store: %v", errs)
	}
	wantErr(t, errs[0], ErrClosed)
}
