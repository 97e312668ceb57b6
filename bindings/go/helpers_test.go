package lnpaystore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// openTest opens a fresh store in a temporary directory, closed at the end of the test.
func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "payments.db"), &Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

var preimageCounter atomic.Uint64

// newPreimage returns a fresh preimage and the hash it proves.
func newPreimage() (Preimage, Hash) {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], preimageCounter.Add(1))
	pre := Preimage(sha256.Sum256(append([]byte("lnpaystore-go-test"), seed[:]...)))
	return pre, pre.Hash()
}

var t0 = time.Unix(1_700_000_000, 0)

func creation(value MilliSatoshi) *CreationInfo {
	return &CreationInfo{Value: value, CreationTime: t0}
}

// route is a 3-hop route delivering amt to the receiver with 10 msat fee per hop.
func route(amt MilliSatoshi) Route {
	hops := make([]Hop, 3)
	for i := range hops {
		hops[i] = Hop{
			PubKey:           PubKey{2, byte(i + 1)},
			ChannelID:        uint64(i + 1),
			OutgoingTimeLock: uint32(100 - i),
			AmtToForward:     amt + MilliSatoshi(10*(2-i)),
		}
	}
	return Route{TotalTimeLock: 103, TotalAmount: amt + 30, SourcePubKey: PubKey{3}, Hops: hops}
}

// mppRoute is route(amt) whose final hop carries an MPP record.
func mppRoute(amt, total MilliSatoshi, addr [32]byte) Route {
	r := route(amt)
	r.Hops[len(r.Hops)-1].MPP = &MPP{PaymentAddr: addr, TotalAmount: total}
	return r
}

func attempt(id uint64, r Route) *AttemptInfo {
	return &AttemptInfo{AttemptID: id, SessionKey: [32]byte{byte(id)}, Route: r, AttemptTime: t0.Add(time.Second)}
}

func settle(pre Preimage) *SettleInfo {
	return &SettleInfo{Preimage: pre, SettleTime: t0.Add(2 * time.Second)}
}

func failInfo() *FailInfo {
	return &FailInfo{FailTime: t0.Add(2 * time.Second), Message: []byte{0x40, 0x0f}, Reason: HTLCFailMessage, FailureSourceIndex: 2}
}

// ok unwraps (value, error) results: ok[int](t)(s.DeletePayments(DeleteOptions{FailedOnly: true})).
func ok[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

// okp unwraps a (*Payment, error) result.
func okp(t testing.TB) func(*Payment, error) *Payment { return ok[*Payment](t) }

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// wantErr checks that err matches target with errors.Is and is an *Error with a message.
func wantErr(t testing.TB, err error, target *Error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target.Code)
	}
	var e *Error
	if !errors.As(err, &e) || e.Message == "" {
		t.Fatalf("error %#v has no message", err)
	}
}

func wantStatus(t testing.TB, p *Payment, status PaymentStatus) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("payment status %v, want %v", p.Status, status)
	}
}
