package lnpaystore

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestSingleShardPayment(t *testing.T) {
	s := openTest(t)
	pre, hash := newPreimage()

	check(t, s.InitPayment(hash, creation(10_000)))
	p := okp(t)(s.FetchPayment(hash))
	wantStatus(t, p, PaymentStatusInitiated)
	if p.SequenceNum == 0 || p.Hash != hash || p.Info.Value != 10_000 || !p.Info.CreationTime.Equal(t0) {
		t.Fatalf("unexpected payment %+v", p)
	}
	wantDecisions(t, p, false, true, false)

	p = okp(t)(s.RegisterAttempt(hash, attempt(1, route(10_000))))
	wantStatus(t, p, PaymentStatusInFlight)
	want := PaymentState{NumAttemptsInFlight: 1, RemainingAmt: 0, FeesPaid: 30}
	if p.State != want {
		t.Fatalf("state %+v, want %+v", p.State, want)
	}
	wantDecisions(t, p, true, false, false)

	p = okp(t)(s.SettleAttempt(hash, 1, settle(pre)))
	wantStatus(t, p, PaymentStatusSucceeded)
	if len(p.HTLCs) != 1 || p.HTLCs[0].Settle == nil || p.HTLCs[0].Settle.Preimage != pre || p.HTLCs[0].Failure != nil {
		t.Fatalf("unexpected attempts %+v", p.HTLCs)
	}
	if !p.State.HasSettledHTLC || p.State.NumAttemptsInFlight != 0 || p.State.FeesPaid != 30 {
		t.Fatalf("unexpected state %+v", p.State)
	}
	wantDecisions(t, p, false, false, true)

	// The returned state is what a fetch reads back.
	if got := okp(t)(s.FetchPayment(hash)); !reflect.DeepEqual(got, p) {
		t.Fatalf("fetched %+v, settle returned %+v", got, p)
	}
	wantCounts(t, s, PaymentCounts{Total: 1, Succeeded: 1})
}

func TestMultiShardWithFailedShardAndRetry(t *testing.T) {
	s := openTest(t)
	pre, hash := newPreimage()
	addr := [32]byte{0xaa}
	const value = 30_000

	check(t, s.InitPayment(hash, creation(value)))
	for id := uint64(1); id <= 3; id++ {
		p := okp(t)(s.RegisterAttempt(hash, attempt(id, mppRoute(10_000, value, addr))))
		if p.State.NumAttemptsInFlight != uint32(id) || p.State.RemainingAmt != MilliSatoshi(value-10_000*id) {
			t.Fatalf("after shard %d: state %+v", id, p.State)
		}
	}
	// The full value is on its way: no room for another shard.
	_, err := s.RegisterAttempt(hash, attempt(9, mppRoute(1, value, addr)))
	wantErr(t, err, ErrValueExceedsAmt)

	// Shard 2 fails: its amount is free again and the router may retry.
	p := okp(t)(s.FailAttempt(hash, 2, failInfo()))
	wantStatus(t, p, PaymentStatusInFlight)
	if p.State.NumAttemptsInFlight != 2 || p.State.RemainingAmt != 10_000 || p.State.FeesPaid != 60 {
		t.Fatalf("after the failed shard: state %+v", p.State)
	}
	if f := p.HTLCs[1].Failure; f == nil || !reflect.DeepEqual(f, failInfo()) {
		t.Fatalf("failure info %+v, want %+v", f, failInfo())
	}
	wantDecisions(t, p, false, true, false)

	p = okp(t)(s.RegisterAttempt(hash, attempt(4, mppRoute(10_000, value, addr))))
	if p.State.NumAttemptsInFlight != 3 || p.State.RemainingAmt != 0 {
		t.Fatalf("after the retry: state %+v", p.State)
	}

	// Once a shard settled, no new shard may start.
	p = okp(t)(s.SettleAttempt(hash, 1, settle(pre)))
	wantStatus(t, p, PaymentStatusInFlight)
	if !p.State.HasSettledHTLC {
		t.Fatalf("state %+v has no settled shard", p.State)
	}
	check(t, failIfNil(s.SettleAttempt(hash, 3, settle(pre))))
	p = okp(t)(s.SettleAttempt(hash, 4, settle(pre)))
	wantStatus(t, p, PaymentStatusSucceeded)
	if len(p.HTLCs) != 4 || p.State.FeesPaid != 90 || p.State.RemainingAmt != 0 {
		t.Fatalf("final payment %+v", p)
	}
	for i, h := range p.HTLCs {
		if h.AttemptID != uint64(i+1) {
			t.Fatalf("attempts not in id order: %d at %d", h.AttemptID, i)
		}
	}
}

// failIfNil turns a (payment, error) pair into its error, checking the payment is set.
func failIfNil(p *Payment, err error) error {
	if err == nil && p == nil {
		return errInvalid("nil payment without error")
	}
	return err
}

func TestFailAndReinit(t *testing.T) {
	s := openTest(t)
	pre, hash := newPreimage()

	check(t, s.InitPayment(hash, creation(10_000)))
	first := okp(t)(s.RegisterAttempt(hash, attempt(1, route(10_000))))
	p := okp(t)(s.FailAttempt(hash, 1, failInfo()))
	// Every shard failed but the router has not given up: still in flight.
	wantStatus(t, p, PaymentStatusInFlight)
	wantErr(t, s.InitPayment(hash, creation(10_000)), ErrPaymentInFlight)

	p = okp(t)(s.FailPayment(hash, FailureReasonNoRoute))
	wantStatus(t, p, PaymentStatusFailed)
	if p.FailureReason == nil || *p.FailureReason != FailureReasonNoRoute || !p.State.PaymentFailed {
		t.Fatalf("failed payment %+v", p)
	}
	wantDecisions(t, p, false, false, true)
	wantCounts(t, s, PaymentCounts{Total: 1, Failed: 1})

	// A failed payment may be initiated again: a fresh start with a new sequence number.
	check(t, s.InitPayment(hash, creation(10_000)))
	p = okp(t)(s.FetchPayment(hash))
	wantStatus(t, p, PaymentStatusInitiated)
	if p.SequenceNum <= first.SequenceNum || len(p.HTLCs) != 0 || p.FailureReason != nil {
		t.Fatalf("re-initiated payment %+v (first sequence number %d)", p, first.SequenceNum)
	}
	okp(t)(s.RegisterAttempt(hash, attempt(1, route(10_000))))

	// The router may give up while a shard is in flight; the payment fails once the
	// shard does.
	p = okp(t)(s.FailPayment(hash, FailureReasonTimeout))
	wantStatus(t, p, PaymentStatusInFlight)
	wantDecisions(t, p, true, false, false)
	p = okp(t)(s.FailAttempt(hash, 1, failInfo()))
	wantStatus(t, p, PaymentStatusFailed)

	check(t, s.InitPayment(hash, creation(10_000)))
	okp(t)(s.RegisterAttempt(hash, attempt(1, route(10_000))))
	wantStatus(t, okp(t)(s.SettleAttempt(hash, 1, settle(pre))), PaymentStatusSucceeded)
	wantCounts(t, s, PaymentCounts{Total: 1, Succeeded: 1})
}

// Every field of every input survives the trip through C and the store.
func TestRoundTripAllFields(t *testing.T) {
	s := openTest(t)

	// An AMP shard: the attempt carries its own hash, which its preimage must match.
	setID, _ := newPreimage()
	childPre, childHash := newPreimage()
	paymentHash := Hash(setID)
	info := &CreationInfo{
		PaymentIdentifier:     Hash{9, 9, 9},
		Value:                 5_000,
		CreationTime:          t0.Add(123 * time.Nanosecond),
		PaymentRequest:        []byte("lnbc50n1p..."),
		FirstHopCustomRecords: map[uint64][]byte{65536: {1}, 70000: {2, 3}},
	}
	check(t, s.InitPayment(paymentHash, info))
	r := route(5_000)
	r.FirstHopAmount = 5_020
	r.FirstHopWireCustomRecords = map[uint64][]byte{65537: {7}}
	r.Hops[0].LegacyPayload = true
	r.Hops[1].Metadata = []byte{0xde, 0xad}
	r.Hops[1].CustomRecords = map[uint64][]byte{1 << 20: []byte("custom")}
	r.Hops[2].AMP = &AMP{RootShare: [32]byte{1}, SetID: [32]byte(setID), ChildIndex: 7}
	r.Hops[2].MPP = &MPP{PaymentAddr: [32]byte{2}, TotalAmount: 5_000}
	a := &AttemptInfo{AttemptID: 42, SessionKey: [32]byte{0x55}, Route: r, AttemptTime: t0.Add(time.Millisecond), Hash: &childHash}
	p := okp(t)(s.RegisterAttempt(paymentHash, a))
	if !reflect.DeepEqual(p.Info, *info) {
		t.Fatalf("creation info\n got %+v\nwant %+v", p.Info, *info)
	}
	if !reflect.DeepEqual(p.HTLCs[0].AttemptInfo, *a) {
		t.Fatalf("attempt info\n got %+v\nwant %+v", p.HTLCs[0].AttemptInfo, *a)
	}
	_, err := s.SettleAttempt(paymentHash, 42, settle(Preimage(setID)))
	wantErr(t, err, ErrPreimageMismatch)
	p = okp(t)(s.SettleAttempt(paymentHash, 42, settle(childPre)))
	wantStatus(t, p, PaymentStatusSucceeded)
	if !reflect.DeepEqual(p.HTLCs[0].Settle, settle(childPre)) {
		t.Fatalf("settle info %+v", p.HTLCs[0].Settle)
	}

	// A blinded route: encrypted data, blinding point and total amount.
	_, hash := newPreimage()
	check(t, s.InitPayment(hash, creation(8_000)))
	b := route(4_000)
	point := [33]byte{3, 4, 5}
	b.Hops[1].BlindingPoint = &point
	b.Hops[1].EncryptedData = []byte{1, 2, 3}
	b.Hops[2].EncryptedData = []byte{4, 5, 6}
	b.Hops[2].TotalAmt = 8_000
	p = okp(t)(s.RegisterAttempt(hash, attempt(1, b)))
	if got := p.HTLCs[0].Route; !reflect.DeepEqual(got, b) {
		t.Fatalf("blinded route\n got %+v\nwant %+v", got, b)
	}
	p = okp(t)(s.RegisterAttempt(hash, attempt(2, b)))
	if p.State.RemainingAmt != 0 || p.State.NumAttemptsInFlight != 2 {
		t.Fatalf("two blinded shards: state %+v", p.State)
	}
	if r := p.HTLCs[1].Route; r.ReceiverAmt() != 4_000 || !bytes.Equal(r.Hops[2].EncryptedData, []byte{4, 5, 6}) {
		t.Fatalf("second blinded shard %+v", r)
	}
}

func TestRestartAndResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payments.db")
	s, err := Open(path, &Options{NoSync: true})
	check(t, err)

	preA, hashA := newPreimage() // initiated only
	preB, hashB := newPreimage() // one shard in flight
	preC, hashC := newPreimage() // done
	for _, h := range []Hash{hashA, hashB, hashC} {
		check(t, s.InitPayment(h, creation(10_000)))
	}
	okp(t)(s.RegisterAttempt(hashB, attempt(1, route(10_000))))
	okp(t)(s.RegisterAttempt(hashC, attempt(1, route(10_000))))
	okp(t)(s.SettleAttempt(hashC, 1, settle(preC)))
	check(t, s.Close())
	check(t, s.Close()) // idempotent

	s, err = Open(path, &Options{NoSync: true})
	check(t, err)
	defer func() { check(t, s.Close()) }()
	inflight := ok[[]*Payment](t)(s.FetchInflightPayments())
	if len(inflight) != 2 || inflight[0].Hash != hashA || inflight[1].Hash != hashB {
		t.Fatalf("in-flight payments after restart: %+v", inflight)
	}
	wantStatus(t, inflight[0], PaymentStatusInitiated)
	wantStatus(t, inflight[1], PaymentStatusInFlight)
	if inflight[1].State.NumAttemptsInFlight != 1 {
		t.Fatalf("resumed payment %+v", inflight[1])
	}

	// Resume: the router finishes what it started.
	okp(t)(s.RegisterAttempt(hashA, attempt(1, route(10_000))))
	okp(t)(s.SettleAttempt(hashA, 1, settle(preA)))
	okp(t)(s.SettleAttempt(hashB, 1, settle(preB)))
	if inflight := ok[[]*Payment](t)(s.FetchInflightPayments()); len(inflight) != 0 {
		t.Fatalf("still in flight: %+v", inflight)
	}
	wantCounts(t, s, PaymentCounts{Total: 3, Succeeded: 3})
}

func TestDeletes(t *testing.T) {
	s := openTest(t)
	addr := [32]byte{1}

	// Succeeded after a failed shard.
	preS, hashS := newPreimage()
	check(t, s.InitPayment(hashS, creation(20_000)))
	okp(t)(s.RegisterAttempt(hashS, attempt(1, mppRoute(10_000, 20_000, addr))))
	okp(t)(s.RegisterAttempt(hashS, attempt(2, mppRoute(10_000, 20_000, addr))))
	okp(t)(s.FailAttempt(hashS, 1, failInfo()))
	okp(t)(s.RegisterAttempt(hashS, attempt(3, mppRoute(10_000, 20_000, addr))))
	okp(t)(s.SettleAttempt(hashS, 2, settle(preS)))
	okp(t)(s.SettleAttempt(hashS, 3, settle(preS)))

	// Failed, with a failed attempt.
	_, hashF := newPreimage()
	check(t, s.InitPayment(hashF, creation(10_000)))
	okp(t)(s.RegisterAttempt(hashF, attempt(1, route(10_000))))
	okp(t)(s.FailAttempt(hashF, 1, failInfo()))
	okp(t)(s.FailPayment(hashF, FailureReasonError))

	// In flight.
	_, hashI := newPreimage()
	check(t, s.InitPayment(hashI, creation(10_000)))
	okp(t)(s.RegisterAttempt(hashI, attempt(1, route(10_000))))

	wantCounts(t, s, PaymentCounts{Total: 3, InFlight: 1, Succeeded: 1, Failed: 1})

	wantErr(t, s.DeletePayment(hashI, false), ErrPaymentInFlight)
	wantErr(t, s.DeleteFailedAttempts(hashI), ErrPaymentInFlight)

	check(t, s.DeleteFailedAttempts(hashS))
	p := okp(t)(s.FetchPayment(hashS))
	if len(p.HTLCs) != 2 || p.HTLCs[0].AttemptID != 2 || p.HTLCs[1].AttemptID != 3 {
		t.Fatalf("after deleting failed attempts: %+v", p.HTLCs)
	}
	wantStatus(t, p, PaymentStatusSucceeded)

	check(t, s.DeletePayment(hashF, true))
	p = okp(t)(s.FetchPayment(hashF))
	if len(p.HTLCs) != 0 {
		t.Fatalf("failed attempts left: %+v", p.HTLCs)
	}
	wantStatus(t, p, PaymentStatusFailed)

	check(t, s.DeletePayment(hashS, false))
	_, err := s.FetchPayment(hashS)
	wantErr(t, err, ErrPaymentNotInitiated)
	// Deleting history never reopens the door to paying the hash twice.
	wantErr(t, s.InitPayment(hashS, creation(20_000)), ErrAlreadyPaid)
	wantCounts(t, s, PaymentCounts{Total: 2, InFlight: 1, Failed: 1})

	// Bulk deletion is a deliberate choice: no options, or both, delete nothing.
	for _, opts := range []DeleteOptions{{}, {FailedAttemptsOnly: true}, {FailedOnly: true, AllPayments: true}} {
		n, err := s.DeletePayments(opts)
		wantErr(t, err, ErrInvalidArgument)
		if n != 0 {
			t.Fatalf("%+v: deleted %d", opts, n)
		}
	}
	wantCounts(t, s, PaymentCounts{Total: 2, InFlight: 1, Failed: 1})
	// Only FAILED payments, then everything that is not in flight.
	if n := ok[int](t)(s.DeletePayments(DeleteOptions{FailedOnly: true})); n != 1 {
		t.Fatalf("deleted %d failed payments, want 1", n)
	}
	wantCounts(t, s, PaymentCounts{Total: 1, InFlight: 1})
	okp(t)(s.FailAttempt(hashI, 1, failInfo()))
	okp(t)(s.FailPayment(hashI, FailureReasonCanceled))
	if n := ok[int](t)(s.DeletePayments(DeleteOptions{AllPayments: true, FailedAttemptsOnly: true})); n != 0 {
		t.Fatalf("deleting attempts only reported %d payments", n)
	}
	if n := ok[int](t)(s.DeletePayments(DeleteOptions{AllPayments: true})); n != 1 {
		t.Fatalf("deleted %d payments, want 1", n)
	}
	wantCounts(t, s, PaymentCounts{})
	check(t, s.Compact())
	// The compacted store still works, and a failed-then-deleted hash is free again.
	check(t, s.InitPayment(hashI, creation(10_000)))
	wantCounts(t, s, PaymentCounts{Total: 1, Initiated: 1})
}

func TestPaymentCounts(t *testing.T) {
	s := openTest(t)
	wantCounts(t, s, PaymentCounts{})
	for i := 0; i < 4; i++ {
		pre, hash := newPreimage()
		check(t, s.InitPayment(hash, creation(1_000)))
		if i == 0 {
			continue
		}
		okp(t)(s.RegisterAttempt(hash, attempt(1, route(1_000))))
		switch i {
		case 2:
			okp(t)(s.SettleAttempt(hash, 1, settle(pre)))
		case 3:
			okp(t)(s.FailAttempt(hash, 1, failInfo()))
			okp(t)(s.FailPayment(hash, FailureReasonInsufficientBalance))
		}
	}
	wantCounts(t, s, PaymentCounts{Total: 4, Initiated: 1, InFlight: 1, Succeeded: 1, Failed: 1})
}

// The router's decisions, including the library's verdict on inconsistent states.
func TestDecisionsOnInconsistentStates(t *testing.T) {
	p := &Payment{Status: PaymentStatusSucceeded, State: PaymentState{RemainingAmt: 5}}
	_, err := p.NeedWaitAttempts()
	wantErr(t, err, ErrInternal)
	_, err = p.AllowMoreAttempts()
	wantErr(t, err, ErrInternal)
	if !p.Terminated() {
		t.Fatal("a SUCCEEDED payment is terminated")
	}
	// An out-of-range status is refused, not guessed at.
	p = &Payment{Status: 9, State: PaymentState{RemainingAmt: 5}}
	_, err = p.NeedWaitAttempts()
	wantErr(t, err, ErrInvalidArgument)
	if p.Terminated() {
		t.Fatal("an invalid status is not terminated")
	}
}

func wantDecisions(t *testing.T, p *Payment, needWait, allowMore, terminated bool) {
	t.Helper()
	if got := ok[bool](t)(p.NeedWaitAttempts()); got != needWait {
		t.Fatalf("%v payment: NeedWaitAttempts %v, want %v", p.Status, got, needWait)
	}
	if got := ok[bool](t)(p.AllowMoreAttempts()); got != allowMore {
		t.Fatalf("%v payment: AllowMoreAttempts %v, want %v", p.Status, got, allowMore)
	}
	if got := p.Terminated(); got != terminated {
		t.Fatalf("%v payment: Terminated %v, want %v", p.Status, got, terminated)
	}
}

func wantCounts(t *testing.T, s *Store, want PaymentCounts) {
	t.Helper()
	if got := ok[PaymentCounts](t)(s.PaymentCounts()); got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
}
