package lnpaystore

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// next reads the next state or fails after a while.
func next(t *testing.T, sub *Subscription) *Payment {
	t.Helper()
	select {
	case p, open := <-sub.Updates():
		if !open {
			t.Fatalf("stream ended early (Err: %v)", sub.Err())
		}
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no update within 10 s")
	}
	return nil
}

// wantEnd checks that the stream ends without another state.
func wantEnd(t *testing.T, sub *Subscription) {
	t.Helper()
	select {
	case p, open := <-sub.Updates():
		if open {
			t.Fatalf("unexpected update %v after the end", p.Status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream did not end within 10 s")
	}
}

func TestSubscribePaymentFollowsTheLifeCycle(t *testing.T) {
	s := openTest(t)
	pre, hash := newPreimage()
	check(t, s.InitPayment(hash, creation(20_000)))
	sub, err := s.SubscribePayment(context.Background(), hash)
	check(t, err)
	defer sub.Close()

	wantStatus(t, next(t, sub), PaymentStatusInitiated)
	addr := [32]byte{1}
	okp(t)(s.RegisterAttempt(hash, attempt(1, mppRoute(10_000, 20_000, addr))))
	okp(t)(s.RegisterAttempt(hash, attempt(2, mppRoute(10_000, 20_000, addr))))
	okp(t)(s.SettleAttempt(hash, 1, settle(pre)))
	okp(t)(s.SettleAttempt(hash, 2, settle(pre)))

	// One state per change, in order, ending with the terminal one.
	for i, want := range []uint32{1, 2, 1, 0} {
		p := next(t, sub)
		if p.State.NumAttemptsInFlight != want {
			t.Fatalf("update %d: %d attempts in flight, want %d", i, p.State.NumAttemptsInFlight, want)
		}
	}
	wantEnd(t, sub)
	if err := sub.Err(); err != nil {
		t.Fatalf("Err after the terminal state: %v", err)
	}
	check(t, sub.Close())
	check(t, sub.Close())
}

func TestSubscribeTerminalPaymentEndsAfterItsState(t *testing.T) {
	s := openTest(t)
	_, hash := newPreimage()
	check(t, s.InitPayment(hash, creation(1_000)))
	okp(t)(s.FailPayment(hash, FailureReasonCanceled))
	sub, err := s.SubscribePayment(context.Background(), hash)
	check(t, err)
	wantStatus(t, next(t, sub), PaymentStatusFailed)
	wantEnd(t, sub)
	check(t, sub.Err())
}

func TestSubscribeAllPayments(t *testing.T) {
	s := openTest(t)
	_, old := newPreimage()
	check(t, s.InitPayment(old, creation(1_000)))
	sub, err := s.SubscribeAllPayments(context.Background())
	check(t, err)

	// First the non-terminal payments as they are, then every change.
	if p := next(t, sub); p.Hash != old {
		t.Fatalf("initial state of %v, want %v", p.Hash, old)
	}
	pre, hash := newPreimage()
	check(t, s.InitPayment(hash, creation(1_000)))
	okp(t)(s.RegisterAttempt(hash, attempt(1, route(1_000))))
	okp(t)(s.SettleAttempt(hash, 1, settle(pre)))
	for _, want := range []PaymentStatus{PaymentStatusInitiated, PaymentStatusInFlight, PaymentStatusSucceeded} {
		p := next(t, sub)
		if p.Hash != hash {
			t.Fatalf("update of %v, want %v", p.Hash, hash)
		}
		wantStatus(t, p, want)
	}

	// Close from another goroutine wakes the reader blocked in the library.
	go func() { time.Sleep(20 * time.Millisecond); sub.Close() }()
	wantEnd(t, sub)
	check(t, sub.Err())
}

func TestSubscriptionEndsWithItsContext(t *testing.T) {
	s := openTest(t)
	_, hash := newPreimage()
	check(t, s.InitPayment(hash, creation(1_000)))

	ctx, cancel := context.WithCancel(context.Background())
	sub, err := s.SubscribePayment(ctx, hash)
	check(t, err)
	next(t, sub)
	cancel()
	wantEnd(t, sub)
	if err := sub.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after cancel: %v", err)
	}
	check(t, sub.Close())

	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	all, err := s.SubscribeAllPayments(ctx)
	check(t, err)
	next(t, all)
	wantEnd(t, all)
	if err := all.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline: %v", err)
	}

	// A context that is already done ends the stream at once.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	sub, err = s.SubscribePayment(done, hash)
	check(t, err)
	for range sub.Updates() {
	}
	if !errors.Is(sub.Err(), context.Canceled) {
		t.Fatalf("Err: %v", sub.Err())
	}
}

// Close returns even when nobody reads the updates waiting for delivery.
func TestCloseWithUnreadUpdates(t *testing.T) {
	s := openTest(t)
	sub, err := s.SubscribeAllPayments(context.Background())
	check(t, err)
	for i := 0; i < 20; i++ {
		_, hash := newPreimage()
		check(t, s.InitPayment(hash, creation(1_000)))
	}
	time.Sleep(10 * time.Millisecond)
	check(t, sub.Close())
	for range sub.Updates() {
	}
}

func TestStoreCloseEndsSubscriptions(t *testing.T) {
	s, err := Open(t.TempDir()+"/p.db", &Options{NoSync: true})
	check(t, err)
	_, hash := newPreimage()
	check(t, s.InitPayment(hash, creation(1_000)))
	one, err := s.SubscribePayment(context.Background(), hash)
	check(t, err)
	all, err := s.SubscribeAllPayments(context.Background())
	check(t, err)
	next(t, all)
	// one's first state stays unread: its reader is blocked delivering it.
	check(t, s.Close())
	for _, sub := range []*Subscription{one, all} {
		for range sub.Updates() {
		}
		if !errors.Is(sub.Err(), ErrClosed) {
			t.Fatalf("Err after the store closed: %v", sub.Err())
		}
		check(t, sub.Close())
	}
}

// Subscriptions ended every way leave no goroutine behind.
func TestSubscriptionsLeakNoGoroutines(t *testing.T) {
	s := openTest(t)
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := subscribeAndEnd(s, i%3); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// subscribeAndEnd follows a payment with two subscriptions and ends them the way
// number how says: 0 at the end of the stream, 1 with Close, 2 by the context.
func subscribeAndEnd(s *Store, how int) error {
	pre, hash := newPreimage()
	if err := s.InitPayment(hash, creation(1_000)); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := s.SubscribePayment(ctx, hash)
	if err != nil {
		return err
	}
	all, err := s.SubscribeAllPayments(ctx)
	if err != nil {
		return err
	}
	switch how {
	case 0:
		if _, err := s.RegisterAttempt(hash, attempt(1, route(1_000))); err != nil {
			return err
		}
		if _, err := s.SettleAttempt(hash, 1, settle(pre)); err != nil {
			return err
		}
		for range sub.Updates() {
		}
		return all.Close()
	case 1:
		if err := sub.Close(); err != nil {
			return err
		}
		return all.Close()
	default:
		cancel()
		for range sub.Updates() {
		}
		for range all.Updates() {
		}
		return nil
	}
}
