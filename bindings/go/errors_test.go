package lnpaystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStatusNamesMatchTheLibrary(t *testing.T) {
	for code, name := range statusNames {
		if got := code.cName(); got != name || code.String() != name {
			t.Errorf("status %d: binding says %q, library says %q", int32(code), name, got)
		}
	}
	// Every number the library names is in the binding's table.
	for code := Status(0); code < 256; code++ {
		if _, known := statusNames[code]; !known && code.cName() != "LPS_STATUS_UNKNOWN" {
			t.Errorf("status %d (%s) is missing from the binding", int32(code), code.cName())
		}
	}
	if got := Status(999).String(); got != "LPS_STATUS_UNKNOWN(999)" {
		t.Errorf("unknown status prints %q", got)
	}
}

func TestErrorsIs(t *testing.T) {
	err := error(newError(StatusAlreadyPaid, "lps_init_payment: paid"))
	wrapped := fmt.Errorf("router: %w", err)
	if !errors.Is(err, ErrAlreadyPaid) || !errors.Is(wrapped, ErrAlreadyPaid) {
		t.Fatal("errors.Is does not match the sentinel")
	}
	if errors.Is(wrapped, ErrPaymentExists) || errors.Is(errors.New("x"), ErrAlreadyPaid) {
		t.Fatal("errors.Is matches another code")
	}
	var e *Error
	if !errors.As(wrapped, &e) || e.Code != StatusAlreadyPaid {
		t.Fatal("errors.As does not find the *Error")
	}
	// One prefix: the function and the status are fields, not more prefixes.
	if got := err.Error(); got != "lnpaystore: paid" {
		t.Fatalf("Error() = %q", got)
	}
	if e.Op != "lps_init_payment" || e.Message != "paid" {
		t.Fatalf("Op %q, Message %q", e.Op, e.Message)
	}
	if got := (&Error{Code: StatusTimeout}).Error(); got != "lnpaystore: LPS_STATUS_TIMEOUT" {
		t.Fatalf("Error() without a message = %q", got)
	}
}

// unreachable lists the codes no scenario of the binding can produce, and why.
var unreachable = map[Status]string{
	StatusOK:          "not an error",
	StatusTimeout:     "the binding waits without a timeout; lps_subscription_close wakes it",
	StatusEndOfStream: "the binding turns it into the end of the Updates channel",
	StatusSentExceedsTotal: "a corruption guard: the store never writes such attempts, and " +
		"forging one needs a record-level edit of the file",
	StatusForked: "Go cannot fork a process that goes on running Go code; the C and " +
		"Python tests fork",
	StatusNotLeader: "a PostgreSQL store whose writer lease was lost; stores opened from Go " +
		"are files for now (tests/postgres_lease.rs covers the lease in Rust)",
}

// Every status code of the C API, reached from its scenario and matched with errors.Is.
func TestEverySentinelIsReachable(t *testing.T) {
	s := openTest(t)
	dir := t.TempDir()
	reached := map[Status]bool{}
	expect := func(err error, target *Error) {
		t.Helper()
		wantErr(t, err, target)
		reached[target.Code] = true
	}
	expectP := func(target *Error) func(*Payment, error) {
		return func(p *Payment, err error) {
			t.Helper()
			if p != nil {
				t.Fatalf("a failed call returned a payment: %+v", p)
			}
			expect(err, target)
		}
	}
	addr := [32]byte{7}

	// Arguments.
	_, hash := newPreimage()
	expect(s.InitPayment(hash, nil), ErrNullArgument)
	expectP(ErrNullArgument)(s.RegisterAttempt(hash, nil))
	expect(s.InitPayment(hash, &CreationInfo{Value: 1, FirstHopCustomRecords: map[uint64][]byte{65535: {1}}}), ErrInvalidArgument)
	check(t, s.InitPayment(hash, creation(10_000)))
	expectP(ErrInvalidArgument)(s.RegisterAttempt(hash, attempt(1, Route{TotalAmount: 10_000})))
	bad := route(10_000)
	bad.Hops[0].CustomRecords = map[uint64][]byte{1: {1}}
	expectP(ErrInvalidArgument)(s.RegisterAttempt(hash, attempt(1, bad)))
	expectP(ErrInvalidArgument)(s.FailPayment(hash, FailureReason(6)))
	okp(t)(s.RegisterAttempt(hash, attempt(1, route(10_000))))
	expectP(ErrInvalidArgument)(s.FailAttempt(hash, 1, &FailInfo{Reason: HTLCFailReason(4)}))
	expectP(ErrNullArgument)(s.SettleAttempt(hash, 1, nil))
	expectP(ErrNullArgument)(s.FailAttempt(hash, 1, nil))
	_, err := Open(filepath.Join(dir, "a\x00b.db"), nil)
	expect(err, ErrInvalidArgument)
	_, err = Open(filepath.Join(dir, "x.db"), &Options{MaxBatchDelay: -time.Second})
	expect(err, ErrInvalidArgument)
	_, err = Open(filepath.Join(dir, "x.db"), &Options{MaxBatchDelay: math.MaxInt64})
	expect(err, ErrInvalidArgument)

	// Files.
	_, err = Open(filepath.Join(dir, "missing", "x.db"), nil)
	expect(err, ErrIO)
	_, err = Open(dir, nil)
	expect(err, ErrIO)
	garbage := filepath.Join(dir, "garbage.db")
	check(t, os.WriteFile(garbage, bytes.Repeat([]byte("not a store! "), 1000), 0o600))
	_, err = Open(garbage, nil)
	expect(err, ErrCorrupt)
	locked := filepath.Join(dir, "locked.db")
	first, err := Open(locked, &Options{NoSync: true})
	check(t, err)
	_, err = Open(locked, &Options{NoSync: true})
	expect(err, ErrLocked)
	check(t, first.Close())
	readOnly, err := Open(locked, &Options{ReadOnly: true})
	check(t, err)
	expect(readOnly.InitPayment(hash, creation(1)), ErrReadOnly)
	check(t, readOnly.Close())
	if newer, ok := newerVersionFile(t, dir); ok {
		_, err = Open(newer, nil)
		expect(err, ErrVersion)
	}

	// Use after Close, on the store and on its subscriptions.
	closed, err := Open(filepath.Join(dir, "closed.db"), &Options{NoSync: true})
	check(t, err)
	check(t, closed.Close())
	expect(closed.InitPayment(hash, creation(1)), ErrClosed)
	expectP(ErrClosed)(closed.FetchPayment(hash))
	_, err = closed.SubscribeAllPayments(context.Background())
	expect(err, ErrClosed)
	_, err = closed.PaymentCounts()
	expect(err, ErrClosed)
	expect(closed.Compact(), ErrClosed)

	// INTERNAL: the router's decisions refuse an inconsistent state (here a payment
	// SUCCEEDED with an amount left to send, which the store never hands out).
	inconsistent := &Payment{Status: PaymentStatusSucceeded, State: PaymentState{RemainingAmt: 1}}
	_, err = inconsistent.NeedWaitAttempts()
	expect(err, ErrInternal)

	// init_payment on a taken hash.
	pre, hash := newPreimage()
	check(t, s.InitPayment(hash, creation(10_000)))
	expect(s.InitPayment(hash, creation(10_000)), ErrPaymentExists)
	okp(t)(s.RegisterAttempt(hash, attempt(1, route(10_000))))
	expect(s.InitPayment(hash, creation(10_000)), ErrPaymentInFlight)
	expect(s.DeletePayment(hash, false), ErrPaymentInFlight)
	expectP(ErrAttemptNotFound)(s.SettleAttempt(hash, 2, settle(pre)))
	expectP(ErrPreimageMismatch)(s.SettleAttempt(hash, 1, settle(Preimage{1})))
	okp(t)(s.SettleAttempt(hash, 1, settle(pre)))
	expect(s.InitPayment(hash, creation(10_000)), ErrAlreadyPaid)
	expectP(ErrPaymentAlreadySucceeded)(s.RegisterAttempt(hash, attempt(2, route(10_000))))
	expectP(ErrPaymentAlreadySucceeded)(s.SettleAttempt(hash, 1, settle(pre)))

	// Unknown hashes.
	_, unknown := newPreimage()
	expectP(ErrPaymentNotInitiated)(s.FetchPayment(unknown))
	expectP(ErrPaymentNotInitiated)(s.RegisterAttempt(unknown, attempt(1, route(1))))
	expectP(ErrPaymentNotInitiated)(s.FailPayment(unknown, FailureReasonTimeout))
	_, err = s.SubscribePayment(context.Background(), unknown)
	expect(err, ErrPaymentNotInitiated)

	// A failed payment.
	_, hash = newPreimage()
	check(t, s.InitPayment(hash, creation(10_000)))
	okp(t)(s.FailPayment(hash, FailureReasonNoRoute))
	expectP(ErrPaymentAlreadyFailed)(s.RegisterAttempt(hash, attempt(1, route(10_000))))

	// Shards of an MPP payment.
	pre, hash = newPreimage()
	check(t, s.InitPayment(hash, creation(30_000)))
	okp(t)(s.RegisterAttempt(hash, attempt(1, mppRoute(10_000, 30_000, addr))))
	okp(t)(s.RegisterAttempt(hash, attempt(2, mppRoute(10_000, 30_000, addr))))
	expectP(ErrAttemptExists)(s.RegisterAttempt(hash, attempt(2, mppRoute(5_000, 30_000, addr))))
	expectP(ErrValueExceedsAmt)(s.RegisterAttempt(hash, attempt(3, mppRoute(10_001, 30_000, addr))))
	expectP(ErrMPPayment)(s.RegisterAttempt(hash, attempt(3, route(30_000))))
	expectP(ErrMPPPaymentAddrMismatch)(s.RegisterAttempt(hash, attempt(3, mppRoute(1_000, 30_000, [32]byte{8}))))
	expectP(ErrMPPTotalAmountMismatch)(s.RegisterAttempt(hash, attempt(3, mppRoute(1_000, 40_000, addr))))
	okp(t)(s.RegisterAttempt(hash, attempt(3, mppRoute(10_000, 30_000, addr))))
	okp(t)(s.FailAttempt(hash, 2, failInfo()))
	expectP(ErrAttemptAlreadyFailed)(s.FailAttempt(hash, 2, failInfo()))
	okp(t)(s.SettleAttempt(hash, 1, settle(pre)))
	expectP(ErrAttemptAlreadySettled)(s.SettleAttempt(hash, 1, settle(pre)))
	expectP(ErrPaymentPendingSettled)(s.RegisterAttempt(hash, attempt(4, mppRoute(10_000, 30_000, addr))))

	_, hash = newPreimage()
	check(t, s.InitPayment(hash, creation(30_000)))
	okp(t)(s.RegisterAttempt(hash, attempt(1, mppRoute(10_000, 30_000, addr))))
	okp(t)(s.FailPayment(hash, FailureReasonTimeout))
	expectP(ErrPaymentPendingFailed)(s.RegisterAttempt(hash, attempt(2, mppRoute(10_000, 30_000, addr))))

	// A single-path payment.
	_, hash = newPreimage()
	check(t, s.InitPayment(hash, creation(30_000)))
	expectP(ErrValueMismatch)(s.RegisterAttempt(hash, attempt(1, route(29_999))))
	okp(t)(s.RegisterAttempt(hash, attempt(1, route(30_000))))
	expectP(ErrNonMPPayment)(s.RegisterAttempt(hash, attempt(2, mppRoute(1_000, 30_000, addr))))

	// Blinded payments.
	blinded := func(amt, total MilliSatoshi) Route {
		r := route(amt)
		r.Hops[2].EncryptedData = []byte{1}
		r.Hops[2].TotalAmt = total
		return r
	}
	_, hash = newPreimage()
	check(t, s.InitPayment(hash, creation(30_000)))
	expectP(ErrBlindedMissingTotalAmount)(s.RegisterAttempt(hash, attempt(1, blinded(10_000, 0))))
	withMPP := blinded(10_000, 30_000)
	withMPP.Hops[2].MPP = &MPP{PaymentAddr: addr, TotalAmount: 30_000}
	expectP(ErrMPPRecordInBlindedPayment)(s.RegisterAttempt(hash, attempt(1, withMPP)))
	okp(t)(s.RegisterAttempt(hash, attempt(1, blinded(10_000, 30_000))))
	expectP(ErrBlindedTotalAmountMismatch)(s.RegisterAttempt(hash, attempt(2, blinded(10_000, 20_000))))
	expectP(ErrMixedBlindedAndNonBlinded)(s.RegisterAttempt(hash, attempt(2, mppRoute(10_000, 30_000, addr))))

	// An import onto a taken sequence number (the refusal carries the error).
	taken := okp(t)(s.FetchPayment(hash)).SequenceNum
	_, fresh := newPreimage()
	report := ok[*ImportReport](t)(s.ImportPayments([]ImportPayment{{SequenceNum: taken, Hash: fresh, Info: *creation(1)}}))
	if len(report.Refused) != 1 {
		t.Fatalf("import onto a taken number: %+v", report)
	}
	expect(report.Refused[0].Err, ErrSequenceNumExists)

	for code := range statusNames {
		if why, ok := unreachable[code]; ok {
			t.Logf("%v not reachable from Go: %s", code, why)
			continue
		}
		if code == StatusVersion && !reached[code] {
			continue // newerVersionFile skipped, with its reason logged
		}
		if !reached[code] {
			t.Errorf("%v was not reached", code)
		}
	}
}

// newerVersionFile writes a store whose recorded schema version is one above this
// library's, by patching the version in the file's metadata page. The layout is
// redb's, so the test skips this case if the bytes are not where it expects them.
func newerVersionFile(t *testing.T, dir string) (string, bool) {
	path := filepath.Join(dir, "newer.db")
	s, err := Open(path, &Options{NoSync: true})
	check(t, err)
	check(t, s.Close())
	b, err := os.ReadFile(path)
	check(t, err)
	// The metadata leaf: keys "next_sequence" and "schema_version", then their
	// 8-byte big-endian values.
	key := []byte("next_sequenceschema_version")
	at := bytes.Index(b, key)
	if at < 0 || bytes.Count(b, key) != 1 {
		t.Logf("VERSION not checked: the metadata page is not laid out as expected")
		return "", false
	}
	version := b[at+len(key)+8 : at+len(key)+16]
	if !bytes.Equal(version, []byte{0, 0, 0, 0, 0, 0, 0, 1}) {
		t.Logf("VERSION not checked: schema version bytes are % x", version)
		return "", false
	}
	version[7] = 2
	check(t, os.WriteFile(path, b, 0o600))
	return path, true
}

// The message is read on the thread of the failing call, so every goroutine sees its
// own failure's message even when many fail at once.
func TestErrorMessagesStayWithTheirCall(t *testing.T) {
	s := openTest(t)
	_, paid := newPreimage()
	check(t, s.InitPayment(paid, creation(1)))
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				var err error
				var want string
				if (g+i)%2 == 0 {
					err, want = s.InitPayment(paid, creation(1)), "lps_init_payment"
				} else {
					_, unknown := newPreimage()
					_, err = s.FetchPayment(unknown)
					want = "lps_fetch_payment"
				}
				var e *Error
				if !errors.As(err, &e) || e.Op != want {
					t.Errorf("goroutine %d: got %v, want a message from %s", g, err, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestAnOperationOverMaxOperationBytesIsRefusedAndWritesNothing(t *testing.T) {
	s := openTest(t)
	// Records of the largest allowed length each, enough of them to pass the limit.
	big := make([]byte, 1<<20)
	records := func(n int) map[uint64][]byte {
		m := make(map[uint64][]byte, n)
		for i := 0; i < n; i++ {
			m[65536+uint64(i)] = big
		}
		return m
	}
	over := MaxOperationBytes/len(big) + 1
	_, hash := newPreimage()
	info := &CreationInfo{Value: 1_000, CreationTime: t0, FirstHopCustomRecords: records(over)}
	err := s.InitPayment(hash, info)
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("InitPayment of %d MiB of records: %v, want ErrInvalidArgument naming the limit", over, err)
	}
	if _, err := s.FetchPayment(hash); !errors.Is(err, ErrPaymentNotInitiated) {
		t.Fatalf("a refused payment was written: FetchPayment: %v", err)
	}
	info.FirstHopCustomRecords = records(over - 2)
	check(t, s.InitPayment(hash, info))
}
