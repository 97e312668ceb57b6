package lnpaystore

// #include "lnpaystore.h"
import "C"

import (
	"context"
	"sync"
)

// Subscription is a stream of payment states, delivered on the channel of Updates by
// a goroutine that pulls them from the library.
//
// The channel is closed when the stream ends: after the terminal state of a
// single-payment subscription, on Close, when the context is done, or when the store
// is closed. Err then says whether the end was abnormal. Close (or cancel the context)
// once you stop reading: a stream nobody reads keeps its goroutine until one of these
// ends it.
type Subscription struct {
	updates chan *Payment
	stop    chan struct{} // closed to make the reader stop delivering
	done    chan struct{} // closed once the reader has exited and freed the handle
	subs    *subscriptions

	// mu guards ptr and err. The reader frees ptr (and sets it to nil) under mu;
	// shutdown calls lps_subscription_close under mu, so it never sees a freed handle.
	mu       sync.Mutex
	ptr      *C.LpsSubscription
	stopping bool
	err      error

	stopCtx func() bool // unregisters the context callback
}

// subscriptions tracks a store's live subscriptions so that closing the store ends
// them. It is kept apart from Store so that a running subscription never keeps its
// Store reachable (the Store's finalizer can still run).
type subscriptions struct {
	mu  sync.Mutex
	set map[*Subscription]struct{}
}

func newSubscriptions() *subscriptions {
	return &subscriptions{set: make(map[*Subscription]struct{})}
}

func (r *subscriptions) add(s *Subscription) {
	r.mu.Lock()
	r.set[s] = struct{}{}
	r.mu.Unlock()
}

func (r *subscriptions) remove(s *Subscription) {
	r.mu.Lock()
	delete(r.set, s)
	r.mu.Unlock()
}

// closeAll ends every live subscription with cause and waits for their readers.
func (r *subscriptions) closeAll(cause error) {
	r.mu.Lock()
	live := make([]*Subscription, 0, len(r.set))
	for s := range r.set {
		live = append(live, s)
	}
	r.mu.Unlock()
	for _, s := range live {
		s.shutdown(cause)
		<-s.done
	}
}

// SubscribePayment streams one payment: its current state first, then one state per
// change, ending after the terminal state. An unknown hash gives
// ErrPaymentNotInitiated. The stream also ends when ctx is done.
func (s *Store) SubscribePayment(ctx context.Context, hash Hash) (*Subscription, error) {
	return s.subscribe(ctx, func(store *C.LpsStore, out **C.LpsSubscription) C.LpsStatus {
		return C.lps_subscribe_payment(store, cHash(&hash), out)
	})
}

// SubscribeAllPayments streams the current state of every non-terminal payment, then
// every change of every payment, until closed or ctx is done.
func (s *Store) SubscribeAllPayments(ctx context.Context) (*Subscription, error) {
	return s.subscribe(ctx, func(store *C.LpsStore, out **C.LpsSubscription) C.LpsStatus {
		return C.lps_subscribe_all_payments(store, out)
	})
}

func (s *Store) subscribe(ctx context.Context, f func(*C.LpsStore, **C.LpsSubscription) C.LpsStatus) (*Subscription, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	// Hold the store shared until the subscription is registered, so that a
	// concurrent Close either comes first (ErrClosed) or ends this subscription too.
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ptr == nil {
		return nil, errClosed("store")
	}
	var ptr *C.LpsSubscription
	err := call(func() C.LpsStatus { return f(s.ptr, &ptr) })
	if err != nil {
		return nil, err
	}
	sub := &Subscription{
		updates: make(chan *Payment),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		subs:    s.subs,
		ptr:     ptr,
	}
	s.subs.add(sub)
	sub.stopCtx = context.AfterFunc(ctx, func() { sub.shutdown(ctx.Err()) })
	go sub.read(ptr)
	return sub, nil
}

// Updates is the stream of payment states. It is closed when the stream ends.
func (sub *Subscription) Updates() <-chan *Payment { return sub.updates }

// Err reports why the stream ended, once Updates is closed: nil after the terminal
// state or Close, the context's error when ctx ended it, an error matching ErrClosed
// when the store was closed, or the library's error.
func (sub *Subscription) Err() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

// Close ends the stream and waits until its goroutine has exited and released the
// C handle; Updates is closed when it returns. Closing twice is a no-op. It may be
// called from any goroutine, also while another one reads Updates.
func (sub *Subscription) Close() error {
	sub.shutdown(nil)
	<-sub.done
	return nil
}

// shutdown stops delivery and wakes the reader if it waits in the library. The
// first cause wins.
func (sub *Subscription) shutdown(cause error) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.stopping {
		return
	}
	sub.stopping = true
	if sub.err == nil {
		sub.err = cause
	}
	close(sub.stop)
	if sub.ptr != nil {
		C.lps_subscription_close(sub.ptr)
	}
}

// read is the goroutine that owns the handle: it pulls states until the stream ends,
// then frees the handle (close, reader exits, free: the documented shutdown order).
func (sub *Subscription) read(ptr *C.LpsSubscription) {
	defer func() {
		sub.stopCtx()
		sub.mu.Lock()
		C.lps_subscription_free(sub.ptr)
		sub.ptr = nil
		sub.mu.Unlock()
		sub.subs.remove(sub)
		close(sub.updates)
		close(sub.done)
	}()
	for {
		var out *C.LpsPayment
		// -1: wait without a timeout; lps_subscription_close wakes us.
		err := call(func() C.LpsStatus { return C.lps_subscription_next(ptr, -1, &out) })
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Code != StatusEndOfStream {
				sub.mu.Lock()
				if sub.err == nil && !sub.stopping {
					sub.err = err
				}
				sub.mu.Unlock()
			}
			return
		}
		p := goPayment(out)
		C.lps_payment_free(out)
		select {
		case sub.updates <- p:
		case <-sub.stop:
			return
		}
	}
}
