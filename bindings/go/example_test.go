package lnpaystore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	lnpaystore "github.com/lnpaystore/lnpaystore/bindings/go"
)

// A route of two hops delivering amt, with a 10 msat fee for the first hop.
func exampleRoute(amt lnpaystore.MilliSatoshi, mpp *lnpaystore.MPP) lnpaystore.Route {
	return lnpaystore.Route{
		TotalTimeLock: 144,
		TotalAmount:   amt + 10,
		SourcePubKey:  lnpaystore.PubKey{2, 0xaa},
		Hops: []lnpaystore.Hop{
			{PubKey: lnpaystore.PubKey{2, 0xbb}, ChannelID: 1, OutgoingTimeLock: 140, AmtToForward: amt},
			{PubKey: lnpaystore.PubKey{3, 0xcc}, ChannelID: 2, OutgoingTimeLock: 100, AmtToForward: amt, MPP: mpp},
		},
	}
}

// exampleStore opens a store in a fresh temporary directory.
func exampleStore() (*lnpaystore.Store, func()) {
	dir, err := os.MkdirTemp("", "lnpaystore-example")
	if err != nil {
		log.Fatal(err)
	}
	store, err := lnpaystore.Open(filepath.Join(dir, "payments.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	return store, func() {
		if err := store.Close(); err != nil {
			log.Fatal(err)
		}
		os.RemoveAll(dir)
	}
}

// The payment life cycle as a router drives it: init, one attempt, settle.
func Example() {
	dir, err := os.MkdirTemp("", "lnpaystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := lnpaystore.Open(filepath.Join(dir, "payments.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	preimage := lnpaystore.Preimage(sha256.Sum256([]byte("example")))
	hash := preimage.Hash()
	now := time.Now()

	err = store.InitPayment(hash, &lnpaystore.CreationInfo{Value: 50_000, CreationTime: now})
	if err != nil {
		log.Fatal(err)
	}
	payment, err := store.RegisterAttempt(hash, &lnpaystore.AttemptInfo{
		AttemptID:   1,
		Route:       exampleRoute(50_000, nil),
		AttemptTime: now,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(payment.Status, "attempts in flight:", payment.State.NumAttemptsInFlight)

	payment, err = store.SettleAttempt(hash, 1, &lnpaystore.SettleInfo{Preimage: preimage, SettleTime: time.Now()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(payment.Status, "fees:", payment.State.FeesPaid, "msat")

	counts, err := store.PaymentCounts()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", counts)
	// Output:
	// IN_FLIGHT attempts in flight: 1
	// SUCCEEDED fees: 10 msat
	// {Total:1 Initiated:0 InFlight:0 Succeeded:1 Failed:0}
}

// A multi-path payment: two shards, one fails, the router retries it.
func ExampleStore_RegisterAttempt() {
	store, done := exampleStore()
	defer done()

	preimage := lnpaystore.Preimage{1}
	hash := preimage.Hash()
	if err := store.InitPayment(hash, &lnpaystore.CreationInfo{Value: 20_000}); err != nil {
		log.Fatal(err)
	}
	mpp := &lnpaystore.MPP{PaymentAddr: [32]byte{9}, TotalAmount: 20_000}
	shard := func(id uint64) *lnpaystore.AttemptInfo {
		return &lnpaystore.AttemptInfo{AttemptID: id, Route: exampleRoute(10_000, mpp)}
	}
	for id := uint64(1); id <= 2; id++ {
		if _, err := store.RegisterAttempt(hash, shard(id)); err != nil {
			log.Fatal(err)
		}
	}
	// Overpaying is refused, however many goroutines try.
	_, err := store.RegisterAttempt(hash, shard(3))
	fmt.Println("third shard refused:", errors.Is(err, lnpaystore.ErrValueExceedsAmt))

	p, err := store.FailAttempt(hash, 1, &lnpaystore.FailInfo{Reason: lnpaystore.HTLCFailMessage})
	if err != nil {
		log.Fatal(err)
	}
	retry, _ := p.AllowMoreAttempts()
	fmt.Println("remaining:", p.State.RemainingAmt, "retry allowed:", retry)

	if _, err := store.RegisterAttempt(hash, shard(3)); err != nil {
		log.Fatal(err)
	}
	for _, id := range []uint64{2, 3} {
		p, err = store.SettleAttempt(hash, id, &lnpaystore.SettleInfo{Preimage: preimage})
		if err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(p.Status, "with", len(p.HTLCs), "attempts")
	// Output:
	// third shard refused: true
	// remaining: 10000 retry allowed: true
	// SUCCEEDED with 3 attempts
}

// Errors carry the status code of the C API; errors.Is matches them.
func ExampleStore_InitPayment() {
	store, done := exampleStore()
	defer done()

	hash := lnpaystore.Preimage{2}.Hash()
	info := &lnpaystore.CreationInfo{Value: 1_000}
	fmt.Println(store.InitPayment(hash, info))
	err := store.InitPayment(hash, info)
	fmt.Println(errors.Is(err, lnpaystore.ErrPaymentExists))

	var e *lnpaystore.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, int(e.Code))
	}
	// Output:
	// <nil>
	// true
	// LPS_STATUS_PAYMENT_EXISTS 100
}

// Following one payment until it ends.
func ExampleStore_SubscribePayment() {
	store, done := exampleStore()
	defer done()

	preimage := lnpaystore.Preimage{3}
	hash := preimage.Hash()
	if err := store.InitPayment(hash, &lnpaystore.CreationInfo{Value: 5_000}); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sub, err := store.SubscribePayment(ctx, hash)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	go func() {
		store.RegisterAttempt(hash, &lnpaystore.AttemptInfo{AttemptID: 1, Route: exampleRoute(5_000, nil)})
		store.SettleAttempt(hash, 1, &lnpaystore.SettleInfo{Preimage: preimage})
	}()
	// The channel is closed after the terminal state.
	for p := range sub.Updates() {
		fmt.Println(p.Status)
	}
	fmt.Println("end of stream, error:", sub.Err())
	// Output:
	// INITIATED
	// IN_FLIGHT
	// SUCCEEDED
	// end of stream, error: <nil>
}

// Paging through payments, newest first.
func ExampleStore_QueryPayments() {
	store, done := exampleStore()
	defer done()

	for i := byte(1); i <= 5; i++ {
		info := &lnpaystore.CreationInfo{Value: lnpaystore.MilliSatoshi(i) * 1_000}
		if err := store.InitPayment(lnpaystore.Preimage{i}.Hash(), info); err != nil {
			log.Fatal(err)
		}
	}
	q := lnpaystore.Query{MaxPayments: 2, Reversed: true, CountTotal: true}
	for {
		page, err := store.QueryPayments(q)
		if err != nil {
			log.Fatal(err)
		}
		if len(page.Payments) == 0 {
			break
		}
		for _, p := range page.Payments {
			fmt.Print(p.Info.Value, " ")
		}
		fmt.Println("of", page.TotalCount)
		q.IndexOffset = page.FirstIndexOffset // resume before this page
	}
	// Output:
	// 4000 5000 of 5
	// 2000 3000 of 5
	// 1000 of 5
}

// Every payment, newest first, page by page; and bulk deletion, which needs a
// deliberate choice of payments.
func ExampleStore_IterPayments() {
	store, done := exampleStore()
	defer done()

	for i := byte(1); i <= 3; i++ {
		hash := lnpaystore.Preimage{i}.Hash()
		info := &lnpaystore.CreationInfo{Value: lnpaystore.MilliSatoshi(i) * 1_000}
		if err := store.InitPayment(hash, info); err != nil {
			log.Fatal(err)
		}
		if _, err := store.FailPayment(hash, lnpaystore.FailureReasonNoRoute); err != nil {
			log.Fatal(err)
		}
	}
	for p, err := range store.IterPayments(lnpaystore.Query{Reversed: true, MaxPayments: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.SequenceNum, p.Info.Value, p.Status, p.Hash.String()[:8])
	}
	if _, err := store.DeletePayments(lnpaystore.DeleteOptions{}); err != nil {
		fmt.Println(err)
	}
	n, err := store.DeletePayments(lnpaystore.DeleteOptions{FailedOnly: true})
	fmt.Println("deleted", n, err)
	// Output:
	// 3 3000 FAILED 91d3827f
	// 2 2000 FAILED 5778f985
	// 1 1000 FAILED 01d0fabd
	// lnpaystore: DeleteOptions: set FailedOnly (every FAILED payment) or AllPayments (every payment not in flight, settled ones with their preimage)
	// deleted 3 <nil>
}

// After a restart, the router resumes the payments it left in flight.
func ExampleStore_FetchInflightPayments() {
	dir, err := os.MkdirTemp("", "lnpaystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "payments.db")

	store, err := lnpaystore.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	preimage := lnpaystore.Preimage{4}
	hash := preimage.Hash()
	if err := store.InitPayment(hash, &lnpaystore.CreationInfo{Value: 7_000}); err != nil {
		log.Fatal(err)
	}
	if _, err := store.RegisterAttempt(hash, &lnpaystore.AttemptInfo{AttemptID: 1, Route: exampleRoute(7_000, nil)}); err != nil {
		log.Fatal(err)
	}
	store.Close() // the node stops with the payment in flight

	store, err = lnpaystore.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	inflight, err := store.FetchInflightPayments()
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range inflight {
		fmt.Println(p.Status, p.Info.Value, "attempts in flight:", p.State.NumAttemptsInFlight)
		for _, h := range p.HTLCs {
			if h.Settle == nil && h.Failure == nil {
				// The HTLC's outcome arrives: record it.
				p, err = store.SettleAttempt(p.Hash, h.AttemptID, &lnpaystore.SettleInfo{Preimage: preimage})
				if err != nil {
					log.Fatal(err)
				}
			}
		}
		fmt.Println(p.Status)
	}
	// Output:
	// IN_FLIGHT 7000 attempts in flight: 1
	// SUCCEEDED
}

// Mission control: record the outcome of each attempt, read the history back on start-up.
func ExampleMissionControl() {
	dir, err := os.MkdirTemp("", "lnpaystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "payments.db")

	store, err := lnpaystore.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	// "" is the "default" namespace; nil options keep the newest 1000 results and
	// store the queue once a second.
	mc, err := store.OpenMissionControl("", nil)
	if err != nil {
		log.Fatal(err)
	}
	route := lnpaystore.McRoute{
		SourcePubKey: lnpaystore.PubKey{2, 0xaa},
		TotalAmount:  10_010,
		Hops: []lnpaystore.McHop{
			{ChannelID: 1, PubKey: lnpaystore.PubKey{2, 0xbb}, AmtToForward: 10_000},
			{ChannelID: 2, PubKey: lnpaystore.PubKey{3, 0xcc}, AmtToForward: 10_000},
		},
	}
	sent := time.Unix(1_700_000_000, 0)
	failedAt := uint8(1)
	results := []lnpaystore.McResult{
		// The second hop failed (the encoded wire message would go in Message)...
		{ID: 1, TimeForwarded: sent, TimeReply: sent.Add(time.Second), Route: route,
			Failure: &lnpaystore.McFailure{SourceIndex: &failedAt, Message: []byte{0x10, 0x07}}},
		// ...a retry succeeded (Failure nil).
		{ID: 2, TimeForwarded: sent.Add(2 * time.Second), TimeReply: sent.Add(3 * time.Second), Route: route},
	}
	for i := range results {
		// AddResult only queues: it never waits for the disk.
		if err := mc.AddResult(&results[i]); err != nil {
			log.Fatal(err)
		}
	}
	// Flush stores the queue now, in one transaction.
	if err := mc.Flush(); err != nil {
		log.Fatal(err)
	}
	stats, err := mc.Stats()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("queued:", stats.Queued, "stored:", stats.Stored, "transactions:", stats.Flushes)

	// Closing also stores what is queued (so does closing the store).
	if err := mc.Close(); err != nil {
		log.Fatal(err)
	}
	if err := store.Close(); err != nil {
		log.Fatal(err)
	}

	// After a restart: the history, oldest reply first.
	store, err = lnpaystore.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	mc, err = store.OpenMissionControl("", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer mc.Close()
	history, err := mc.FetchAll()
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range history {
		if r.Failure == nil {
			fmt.Println("attempt", r.ID, "succeeded")
		} else {
			fmt.Println("attempt", r.ID, "failed at hop", *r.Failure.SourceIndex)
		}
	}
	_, err = store.OpenMissionControl("default", nil)
	fmt.Println("open twice:", errors.Is(err, lnpaystore.ErrLocked))
	// Output:
	// queued: 0 stored: 2 transactions: 1
	// attempt 1 failed at hop 1
	// attempt 2 succeeded
	// open twice: true
}
