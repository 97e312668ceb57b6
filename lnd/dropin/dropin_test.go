package dropin

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/lightningnetwork/lnd/lnwire"
	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	"github.com/lightningnetwork/lnd/record"
	"github.com/lightningnetwork/lnd/routing/route"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
)

func openDB(t *testing.T) *PaymentsDB {
	t.Helper()
	store, err := lps.Open(filepath.Join(t.TempDir(), "payments.lps"), &lps.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return New(store)
}

func key(seed byte) *btcec.PrivateKey {
	k, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{seed}, 32))
	return k
}

// testRoute delivers amt over two hops; last shapes the final hop.
func testRoute(amt lnwire.MilliSatoshi, last func(*route.Hop)) route.Route {
	hops := []*route.Hop{
		{PubKeyBytes: route.NewVertex(key(1).PubKey()), ChannelID: 11, OutgoingTimeLock: 140, AmtToForward: amt + 5},
		{PubKeyBytes: route.NewVertex(key(2).PubKey()), ChannelID: 12, OutgoingTimeLock: 100, AmtToForward: amt,
			CustomRecords: record.CustomSet{65537: {1, 2}}, Metadata: []byte{9}},
	}
	if last != nil {
		last(hops[1])
	}
	return route.Route{TotalTimeLock: 180, TotalAmount: amt + 12, SourcePubKey: route.NewVertex(key(3).PubKey()),
		Hops: hops, FirstHopWireCustomRecords: lnwire.CustomRecords{65538: {7}}}
}

var t0 = time.Unix(1_700_000_000, 5)

// The life cycle through lnd's interface: lnd's types in, lnd's types and error values
// out, the session key and a decoded failure message intact.
func TestLifeCycleWithLndTypes(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	pre := lntypes.Preimage{0x42}
	hash := pre.Hash()
	info := &paymentsdb.PaymentCreationInfo{
		PaymentIdentifier: hash, Value: 20_000, CreationTime: t0,
		PaymentRequest: []byte("lnbc1"), FirstHopCustomRecords: lnwire.CustomRecords{65540: {1}},
	}
	if err := db.InitPayment(ctx, hash, info); err != nil {
		t.Fatal(err)
	}
	err := db.InitPayment(ctx, hash, info)
	if !errors.Is(err, paymentsdb.ErrPaymentExists) || !errors.Is(err, lps.ErrPaymentExists) {
		t.Fatalf("init twice: %v", err)
	}

	mpp := func(h *route.Hop) { h.MPP = record.NewMPP(20_000, [32]byte{0xad}) }
	a1, err := paymentsdb.NewHtlcAttempt(1, key(9), testRoute(10_000, mpp), t0, &hash)
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.RegisterAttempt(ctx, hash, &a1.HTLCAttemptInfo)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != paymentsdb.StatusInFlight || p.State.RemainingAmt != 10_000 || p.State.FeesPaid != 12 {
		t.Fatalf("after register: %v %+v", p.Status, p.State)
	}
	got := p.HTLCs[0]
	if !got.SessionKey().Key.Equals(&key(9).Key) {
		t.Fatal("session key differs")
	}
	if got.Route.FinalHop().MPP.PaymentAddr() != [32]byte{0xad} || !bytes.Equal(got.Route.FinalHop().Metadata, []byte{9}) {
		t.Fatalf("final hop: %+v", got.Route.FinalHop())
	}

	// A non-MPP attempt on an MPP payment: lnd's error value.
	a2 := paymentsdb.HTLCAttemptInfo{AttemptID: 2, Route: testRoute(20_000, nil), AttemptTime: t0, Hash: &hash}
	if _, err := db.RegisterAttempt(ctx, hash, &a2); !errors.Is(err, paymentsdb.ErrMPPayment) {
		t.Fatalf("non-MPP on MPP: %v", err)
	}

	fail := &paymentsdb.HTLCFailInfo{FailTime: t0, Message: lnwire.NewTemporaryChannelFailure(nil),
		Reason: paymentsdb.HTLCFailMessage, FailureSourceIndex: 1}
	if p, err = db.FailAttempt(ctx, hash, 1, fail); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.HTLCs[0].Failure.Message.(*lnwire.FailTemporaryChannelFailure); !ok {
		t.Fatalf("failure message: %T", p.HTLCs[0].Failure.Message)
	}
	if _, err := db.SettleAttempt(ctx, hash, 7, &paymentsdb.HTLCSettleInfo{Preimage: pre}); err == nil ||
		!errors.Is(err, lps.ErrAttemptNotFound) {
		t.Fatalf("settle unknown attempt: %v", err)
	}

	a3 := paymentsdb.HTLCAttemptInfo{AttemptID: 3, Route: testRoute(20_000, mpp), AttemptTime: t0, Hash: &hash}
	if _, err := db.RegisterAttempt(ctx, hash, &a3); err != nil {
		t.Fatal(err)
	}
	// A false preimage is refused; the true one settles.
	if _, err := db.SettleAttempt(ctx, hash, 3, &paymentsdb.HTLCSettleInfo{Preimage: lntypes.Preimage{1}}); !errors.Is(err, lps.ErrPreimageMismatch) {
		t.Fatalf("false preimage: %v", err)
	}
	if p, err = db.SettleAttempt(ctx, hash, 3, &paymentsdb.HTLCSettleInfo{Preimage: pre, SettleTime: t0}); err != nil {
		t.Fatal(err)
	}
	if p.Status != paymentsdb.StatusSucceeded || !p.Terminated() {
		t.Fatalf("after settle: %v", p.Status)
	}
	if _, err := db.Fail(ctx, lntypes.Hash{1}, paymentsdb.FailureReasonNoRoute); !errors.Is(err, paymentsdb.ErrPaymentNotInitiated) {
		t.Fatalf("fail unknown: %v", err)
	}

	inflight, err := db.FetchInFlightPayments(ctx)
	if err != nil || len(inflight) != 0 {
		t.Fatalf("in flight: %d %v", len(inflight), err)
	}
	resp, err := db.QueryPayments(ctx, paymentsdb.Query{MaxPayments: 10, CountTotal: true})
	if err != nil || len(resp.Payments) != 1 || resp.TotalCount != 1 || resp.FirstIndexOffset != p.SequenceNum {
		t.Fatalf("query: %+v %v", resp, err)
	}
	if resp, _ = db.QueryPayments(ctx, paymentsdb.Query{CountTotal: true}); len(resp.Payments) != 0 || resp.TotalCount != 1 {
		t.Fatalf("MaxPayments 0 is an empty page, as in lnd: %+v", resp)
	}
	resp, _ = db.QueryPayments(ctx, paymentsdb.Query{MaxPayments: 1, OmitHops: true})
	if len(resp.Payments[0].HTLCs[1].Route.Hops) != 0 {
		t.Fatal("OmitHops kept the hops")
	}

	// Deleted, the paid hash still cannot be paid again.
	if err := db.DeletePayment(ctx, hash, false); err != nil {
		t.Fatal(err)
	}
	if err := db.InitPayment(ctx, hash, info); !errors.Is(err, paymentsdb.ErrAlreadyPaid) {
		t.Fatalf("re-pay deleted paid hash: %v", err)
	}
	if err := db.DeletePayment(ctx, hash, false); !errors.Is(err, paymentsdb.ErrPaymentNotInitiated) {
		t.Fatalf("delete unknown: %v", err)
	}
}

// lnd's router resumes an attempt after a restart from what the database gives back:
// the onion and the circuit (to decrypt the failure) rebuilt from the session key,
// route and hash must be those of the attempt as it was sent.
func TestAttemptResumesWithItsOnionAndCircuit(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	pre := lntypes.Preimage{0x77}
	hash := pre.Hash()
	info := &paymentsdb.PaymentCreationInfo{PaymentIdentifier: hash, Value: 10_000, CreationTime: t0}
	if err := db.InitPayment(ctx, hash, info); err != nil {
		t.Fatal(err)
	}
	sent, err := paymentsdb.NewHtlcAttempt(5, key(8), testRoute(10_000, nil), t0, &hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RegisterAttempt(ctx, hash, &sent.HTLCAttemptInfo); err != nil {
		t.Fatal(err)
	}
	inflight, err := db.FetchInFlightPayments(ctx)
	if err != nil || len(inflight) != 1 || len(inflight[0].HTLCs) != 1 {
		t.Fatalf("in flight: %v %v", inflight, err)
	}
	got := inflight[0].HTLCs[0]
	wantOnion, err := sent.OnionBlob()
	if err != nil {
		t.Fatal(err)
	}
	gotOnion, err := got.OnionBlob()
	if err != nil {
		t.Fatal(err)
	}
	if gotOnion != wantOnion {
		t.Fatal("the rebuilt onion differs from the one sent")
	}
	wantCircuit, _ := sent.Circuit()
	gotCircuit, err := got.Circuit()
	if err != nil {
		t.Fatal(err)
	}
	if !gotCircuit.SessionKey.Key.Equals(&wantCircuit.SessionKey.Key) ||
		len(gotCircuit.PaymentPath) != len(wantCircuit.PaymentPath) {
		t.Fatal("the rebuilt circuit differs")
	}
	for i := range wantCircuit.PaymentPath {
		if !gotCircuit.PaymentPath[i].IsEqual(wantCircuit.PaymentPath[i]) {
			t.Fatalf("circuit hop %d differs", i)
		}
	}
}
