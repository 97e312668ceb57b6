package lnpaystore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lifeCycle runs one payment to its end; variant picks the path: 0 single shard,
// 1 MPP with a failed shard retried, 2 failed then re-initiated and paid, 3 given up.
func lifeCycle(s *Store, variant int) error {
	pre, hash := newPreimage()
	want := func(p *Payment, err error, status PaymentStatus) error {
		if err != nil {
			return err
		}
		if p.Status != status {
			return fmt.Errorf("variant %d: status %v, want %v", variant, p.Status, status)
		}
		return nil
	}
	if err := s.InitPayment(hash, creation(20_000)); err != nil {
		return err
	}
	switch variant {
	case 0:
		p, err := s.RegisterAttempt(hash, attempt(1, route(20_000)))
		if err := want(p, err, PaymentStatusInFlight); err != nil {
			return err
		}
		p, err = s.SettleAttempt(hash, 1, settle(pre))
		return want(p, err, PaymentStatusSucceeded)
	case 1:
		addr := [32]byte{byte(variant)}
		for id := uint64(1); id <= 2; id++ {
			if _, err := s.RegisterAttempt(hash, attempt(id, mppRoute(10_000, 20_000, addr))); err != nil {
				return err
			}
		}
		if _, err := s.FailAttempt(hash, 1, failInfo()); err != nil {
			return err
		}
		if _, err := s.RegisterAttempt(hash, attempt(3, mppRoute(10_000, 20_000, addr))); err != nil {
			return err
		}
		if _, err := s.SettleAttempt(hash, 2, settle(pre)); err != nil {
			return err
		}
		p, err := s.SettleAttempt(hash, 3, settle(pre))
		return want(p, err, PaymentStatusSucceeded)
	case 2:
		if _, err := s.RegisterAttempt(hash, attempt(1, route(20_000))); err != nil {
			return err
		}
		if _, err := s.FailAttempt(hash, 1, failInfo()); err != nil {
			return err
		}
		p, err := s.FailPayment(hash, FailureReasonNoRoute)
		if err := want(p, err, PaymentStatusFailed); err != nil {
			return err
		}
		if err := s.InitPayment(hash, creation(20_000)); err != nil {
			return err
		}
		if _, err := s.RegisterAttempt(hash, attempt(1, route(20_000))); err != nil {
			return err
		}
		p, err = s.SettleAttempt(hash, 1, settle(pre))
		return want(p, err, PaymentStatusSucceeded)
	default:
		p, err := s.FailPayment(hash, FailureReasonInsufficientBalance)
		if err := want(p, err, PaymentStatusFailed); err != nil {
			return err
		}
		return s.DeleteFailedAttempts(hash)
	}
}

func Test100GoroutinesRunLifeCycles(t *testing.T) {
	s := openTest(t)
	const goroutines, each = 100, 8
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := lifeCycle(s, (g+i)%4); err != nil {
					t.Errorf("goroutine %d, payment %d: %v", g, i, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	const n = goroutines * each
	wantCounts(t, s, PaymentCounts{Total: n, Succeeded: n * 3 / 4, Failed: n / 4})
	if inflight := ok[[]*Payment](t)(s.FetchInflightPayments()); len(inflight) != 0 {
		t.Fatalf("%d payments left in flight", len(inflight))
	}
}

// race runs f(i) for i in ids on one goroutine each, all released at once, and counts
// the outcomes by error code (StatusOK for success).
func race(ids []uint64, f func(id uint64) error) (map[Status]int, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes = map[Status]int{}
		other    error
		start    = make(chan struct{})
	)
	for _, id := range ids {
		wg.Add(1)
		go func(id uint64) {
			defer wg.Done()
			<-start
			err := f(id)
			mu.Lock()
			defer mu.Unlock()
			var e *Error
			switch {
			case err == nil:
				outcomes[StatusOK]++
			case errors.As(err, &e):
				outcomes[e.Code]++
			default:
				other = err
			}
		}(id)
	}
	close(start)
	wg.Wait()
	return outcomes, other
}

func span(from, n uint64) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = from + uint64(i)
	}
	return ids
}

// sentAmt is what the payment's non-failed shards deliver.
func sentAmt(p *Payment) MilliSatoshi {
	var sum MilliSatoshi
	for _, h := range p.HTLCs {
		if h.Failure == nil {
			sum += h.Route.ReceiverAmt()
		}
	}
	return sum
}

func wantOutcomes(t *testing.T, what string, got map[Status]int, err error, want map[Status]int) {
	t.Helper()
	check(t, err)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: outcomes %v, want %v", what, got, want)
	}
}

// Goroutines racing RegisterAttempt on one MPP payment never overpay, and a
// subscriber sees every change exactly once.
func TestRacingRegisterAttemptNeverOverpays(t *testing.T) {
	s := openTest(t)
	_, hash := newPreimage()
	const value, shard = 100_000, 7_000
	addr := [32]byte{0x33}
	check(t, s.InitPayment(hash, creation(value)))
	sub, err := s.SubscribePayment(context.Background(), hash)
	check(t, err)
	defer sub.Close()
	register := func(id uint64) error {
		p, err := s.RegisterAttempt(hash, attempt(id, mppRoute(shard, value, addr)))
		if err == nil && sentAmt(p) > value {
			return fmt.Errorf("overpaid: %d msat sent of %d", sentAmt(p), value)
		}
		return err
	}
	var events []*Payment
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for p := range sub.Updates() {
			events = append(events, p)
		}
	}()

	// 50 shards of 7,000 race for 100,000: exactly 14 fit.
	got, err := race(span(1, 50), register)
	wantOutcomes(t, "first race", got, err, map[Status]int{StatusOK: 14, StatusValueExceedsAmt: 36})
	p := okp(t)(s.FetchPayment(hash))
	var live []uint64
	for _, h := range p.HTLCs {
		live = append(live, h.AttemptID)
	}

	// Four shards fail, each twice at once: one failure each is recorded.
	failing := append(append([]uint64{}, live[:4]...), live[:4]...)
	got, err = race(failing, func(id uint64) error { _, err := s.FailAttempt(hash, id, failInfo()); return err })
	wantOutcomes(t, "failures", got, err, map[Status]int{StatusOK: 4, StatusAttemptAlreadyFailed: 4})

	// 20 new shards race for the 30,000 left: exactly 4 fit.
	got, err = race(span(100, 20), register)
	wantOutcomes(t, "second race", got, err, map[Status]int{StatusOK: 4, StatusValueExceedsAmt: 16})
	p = okp(t)(s.FetchPayment(hash))
	if sent := sentAmt(p); sent != 14*shard || p.State.RemainingAmt != value-14*shard || p.State.NumAttemptsInFlight != 14 {
		t.Fatalf("sent %d, state %+v", sent, p.State)
	}

	// Everything in flight fails at once, then the router gives up.
	var inflight []uint64
	for _, h := range p.HTLCs {
		if h.Failure == nil {
			inflight = append(inflight, h.AttemptID)
		}
	}
	got, err = race(inflight, func(id uint64) error { _, err := s.FailAttempt(hash, id, failInfo()); return err })
	wantOutcomes(t, "final failures", got, err, map[Status]int{StatusOK: 14})
	wantStatus(t, okp(t)(s.FailPayment(hash, FailureReasonTimeout)), PaymentStatusFailed)

	// The stream: the initial state, one per successful change (14 + 4 + 4 + 14 + 1).
	<-collected
	check(t, sub.Err())
	if len(events) != 1+14+4+4+14+1 {
		t.Fatalf("%d updates, want %d", len(events), 1+14+4+4+14+1)
	}
	for i, e := range events {
		if sentAmt(e) > value {
			t.Fatalf("update %d overpays: %d", i, sentAmt(e))
		}
		if i > 0 && len(e.HTLCs) < len(events[i-1].HTLCs) {
			t.Fatalf("update %d goes back in time", i)
		}
	}
	wantStatus(t, events[len(events)-1], PaymentStatusFailed)
}

// Close waits for the operations in progress; later ones get ErrClosed, never a
// freed handle.
func TestCloseRacesOperations(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "p.db"), &Options{NoSync: true})
	check(t, err)
	var (
		wg       sync.WaitGroup
		finished atomic.Int64
	)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				err := lifeCycle(s, i%4)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				finished.Add(1)
			}
		}()
	}
	for finished.Load() < 100 {
		time.Sleep(time.Millisecond)
	}
	check(t, s.Close())
	wg.Wait()
	check(t, s.Close())
}

// A Store nobody closed is closed by its finalizer, which releases the file.
func TestFinalizerReleasesAForgottenStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	func() {
		s, err := Open(path, &Options{NoSync: true})
		check(t, err)
		_, hash := newPreimage()
		check(t, s.InitPayment(hash, creation(1)))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		s, err := Open(path, &Options{NoSync: true})
		if err == nil {
			wantCounts(t, s, PaymentCounts{Total: 1, Initiated: 1})
			check(t, s.Close())
			return
		}
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			t.Fatalf("reopen: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
