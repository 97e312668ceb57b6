package dropin

// The differential test: lnd's own KVStore (on a bbolt file), and lnd's SQL store (on
// SQLite), and the drop-in are driven with the same random operation sequences; after
// every step their errors (as lnd's error values) and every payment they hold must agree. Where lnpaystore is
// deliberately stricter, the step is named as that difference and checked to be
// exactly it, and the sequence ends there (the stores now rightly disagree).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightningnetwork/lnd/kvdb"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/lightningnetwork/lnd/lnwire"
	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	"github.com/lightningnetwork/lnd/record"
	"github.com/lightningnetwork/lnd/routing/route"
	"github.com/lightningnetwork/lnd/tlv"
	lps "github.com/lnpaystore/lnpaystore/bindings/go"
	"github.com/lnpaystore/lnpaystore/lnd/convert"
	"github.com/lnpaystore/lnpaystore/lnd/internal/fielddiff"
	"github.com/lnpaystore/lnpaystore/lnd/internal/fixture"
)

var (
	diffSequences    = flag.Int("sequences", 500, "random operation sequences of the differential test")
	diffSeed         = flag.Uint64("seed", 1, "seed of the differential test's first sequence (sequence i uses seed+i)")
	diffSteps        = flag.Int("steps", 40, "operations per sequence at most")
	diffSQLSequences = flag.Int("sql-sequences", 100, "random operation sequences against lnd's SQL store (SQLite)")
)

// The differences the test names. Each is checked to be exactly what it says.
const (
	diffFalsePreimage = "false preimage: lnd records it and calls the payment succeeded; " +
		"lnpaystore refuses it (PREIMAGE_MISMATCH) and changes nothing"
	diffDuplicateAttempt = "repeated attempt id: lnd overwrites the attempt's info; " +
		"lnpaystore refuses it (ATTEMPT_EXISTS) and changes nothing"
	diffRepayDeleted = "InitPayment of a deleted paid hash: lnd starts paying it again; " +
		"lnpaystore refuses it (ALREADY_PAID)"
	diffSequenceGap = "sequence numbers: lnd spends one on every InitPayment call, refused ones too; " +
		"lnpaystore only on success"
	diffRestartBlock = "restart: lnd's next sequence number skips the rest of its reserved block of 1000; " +
		"lnpaystore's follows on"
	diffSQLAttemptUnknown = "unknown attempt id: lnd's SQL store fails on a foreign-key constraint"
	diffSQLResolved       = "outcome of an attempt that has one: lnd's SQL store fails on a unique constraint " +
		"(its KV store: ErrAttemptAlreadySettled / ErrAttemptAlreadyFailed, as the drop-in)"
	diffSQLReuse = "sequence numbers: lnd's SQL store gives a new payment the number of a deleted newest " +
		"payment again; lnpaystore never reuses one"
	diffSQLNoRows = "unknown hash: lnd's SQL store returns sql.ErrNoRows instead of ErrPaymentNotInitiated"
	diffSQLOrder  = "attempt order: lnd's SQL store does not always give a payment's attempts in id order " +
		"(its KV store and the drop-in do)"
	diffSQLLegacy = "legacy payload: lnd's SQL store does not keep a hop's legacy-payload flag " +
		"(its KV store and the drop-in do)"
	diffSQLOmitHopsState = "OmitHops: lnd's SQL store derives remaining amount and fees from the hop-less " +
		"routes (the value, 0); the drop-in from the stored ones"
	diffSQLHash      = "attempt without a hash: lnd's SQL store reads it back with the payment hash"
	diffSQLMaxZero   = "MaxPayments 0: lnd's SQL store refuses it; its KV store and the drop-in answer an empty page"
	diffSQLWindowEnd = "CreationDateEnd: lnd's SQL store leaves out the payments of the end's second after " +
		"its first nanosecond (its KV store and the drop-in include the whole second)"
	diffSQLOffsetSigned = "IndexOffset 2^64-1 reversed: lnd's SQL store reads it as -1 and returns nothing " +
		"(its KV store and the drop-in: the newest payments)"
	diffSQLOmitRecords = "OmitHops: lnd's SQL store also leaves out the first hop's wire custom records " +
		"(the drop-in leaves out the hops only)"
	diffDeleteUnknown = "DeletePayment of an unknown hash: lnd's KV store returns an unnamed error; " +
		"the drop-in ErrPaymentNotInitiated"
	diffOmitHops   = "OmitHops: lnd's KV store ignores it (its SQL store leaves hops out, as the drop-in does)"
	diffOffsetWrap = "IndexOffset 2^64-1 forwards: lnd starts again from the first payment (KV store: its " +
		"paginator, channeldb/paginate.go, adds 1 and wraps to 0; SQL store: reads it as -1); the drop-in " +
		"returns an empty page"
	diffInflightOrder = "FetchInFlightPayments order: lnd's KV store in hash order, the drop-in in sequence order"
)

// deliberate are the differences that end a sequence; a CI-sized run must meet each.
var deliberate = []string{diffFalsePreimage, diffDuplicateAttempt, diffRepayDeleted}

// noBatch hides bbolt's batching, whose 10 ms gathering delay would dominate the test;
// lnd's kvdb.Batch then runs each update on its own, with the same result.
type noBatch struct{ kvdb.Backend }

func TestDifferentialAgainstLndKVStore(t *testing.T) {
	differential(t, backendKV, *diffSequences)
}

// TestDifferentialAgainstLndSQLStore does the same against lnd's native SQL payments
// store (on SQLite), which differs from lnd's KV store in places of its own.
func TestDifferentialAgainstLndSQLStore(t *testing.T) {
	differential(t, backendSQLite, *diffSQLSequences)
}

const (
	backendKV     = "kv"
	backendSQLite = "sqlite"
)

func differential(t *testing.T, backend string, sequences int) {
	dir := t.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		// Memory-backed: bbolt's fsyncs cost nothing there.
		if d, err := os.MkdirTemp("/dev/shm", "lps-differential-"); err == nil {
			dir = d
			defer os.RemoveAll(d)
		}
	}
	counts := map[string]int{}
	ops := map[string]int{}
	errs := map[string]int{}
	steps := 0
	start := time.Now()
	for i := 0; i < sequences; i++ {
		seed := *diffSeed + uint64(i)
		s, err := newSequence(dir, backend, seed, counts, ops, errs)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.run(*diffSteps)
		s.close()
		steps += n
		if err != nil {
			t.Fatalf("sequence %d (-seed %d -sequences 1): %v\nsteps:\n%s", i, seed, err, strings.Join(s.log, "\n"))
		}
	}
	t.Logf("lnd's %s store: %d sequences, %d steps in %v; operations: %v", backend, sequences, steps, time.Since(start).Round(time.Millisecond), ops)
	outcomes := make([]string, 0, len(errs))
	for o := range errs {
		outcomes = append(outcomes, o)
	}
	sort.Strings(outcomes)
	for _, o := range outcomes {
		t.Logf("outcome %6d × %s", errs[o], o)
	}
	names := make([]string, 0, len(counts))
	for name := range counts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Logf("named difference seen %d times: %s", counts[name], name)
	}
	if sequences >= 500 && backend == backendKV {
		for _, name := range deliberate {
			if counts[name] == 0 {
				t.Errorf("never met: %s", name)
			}
		}
	}
}

// secret is a preimage and the hash it proves.
type secret struct {
	pre  lntypes.Preimage
	hash lntypes.Hash
}

// Each sequence pays four hashes, one per kind of attempt it favours.
const (
	kindSingle = iota
	kindMPP
	kindAMP
	kindBlinded
	kinds
)

type sequence struct {
	rng *rand.Rand
	lnd paymentsdb.DB
	// closeLnd closes lnd's store (and its files' handles).
	closeLnd func() error
	store    *lps.Store
	ours     *PaymentsDB
	pool     [kinds]secret
	values   map[lntypes.Hash]lnwire.MilliSatoshi
	// secrets are every preimage by its hash (payments and AMP shards).
	secrets map[lntypes.Hash]lntypes.Preimage
	// settled are the hashes that ever had a settled attempt.
	settled map[lntypes.Hash]bool
	// seqs maps lnd's sequence numbers to the drop-in's, in order of initiation.
	seqs [][2]uint64
	// lndSeq mirrors lnd's sequence allocation (KVStore.nextPaymentSequence): blocks of
	// 1000 reserved in the database, the block's rest lost on a restart.
	lndSeq         lndSequence
	inits          uint64
	nextAttempt    uint64
	usedAttemptIDs map[lntypes.Hash][]uint64
	t0             time.Time
	log            []string
	counts, ops    map[string]int
	// errs counts each operation's outcomes by lnd's error value.
	errs map[string]int
	ctx  context.Context
	// files is the path prefix of both stores' files.
	files string
	// backend is lnd's store: backendKV or backendSQLite.
	backend string
}

func newSequence(dir, backend string, seed uint64, counts, ops, errs map[string]int) (*sequence, error) {
	s := &sequence{errs: errs, backend: backend,
		rng:    rand.New(rand.NewPCG(seed, 0x6c6e64)),
		values: map[lntypes.Hash]lnwire.MilliSatoshi{}, secrets: map[lntypes.Hash]lntypes.Preimage{},
		settled: map[lntypes.Hash]bool{}, usedAttemptIDs: map[lntypes.Hash][]uint64{},
		t0: time.Unix(1_700_000_000, 0), counts: counts, ops: ops, ctx: context.Background(),
	}
	for k := range s.pool {
		s.pool[k] = s.newSecret()
	}
	name := fmt.Sprintf("seq-%d", seed)
	s.files = filepath.Join(dir, name)
	return s, s.open()
}

// open opens (or reopens) both stores.
func (s *sequence) open() error {
	bolt, err := kvdb.GetBoltBackend(&kvdb.BoltBackendConfig{
		DBPath: filepath.Dir(s.files), DBFileName: filepath.Base(s.files) + ".db", NoFreelistSync: true,
		DBTimeout: 5 * time.Second, AutoCompactMinAge: kvdb.DefaultBoltAutoCompactMinAge,
	})
	if err != nil {
		return err
	}
	s.closeLnd = bolt.Close
	if s.backend == backendSQLite {
		// lnd's native SQL payments store, migrated with lnd's own migrations.
		d := &fixture.DB{KV: bolt}
		if err := d.UseSQLite(s.files + ".sqlite"); err != nil {
			bolt.Close()
			return err
		}
		s.lnd, s.closeLnd = d.Payments, d.Close
	} else if s.lnd, err = paymentsdb.NewKVStore(noBatch{bolt}); err != nil {
		bolt.Close()
		return err
	}
	s.store, err = lps.Open(s.files+".lps", &lps.Options{NoSync: true})
	if err != nil {
		s.closeLnd()
		return err
	}
	s.ours = New(s.store)
	return nil
}

// opRestart closes both stores and opens them again, as a node's restart does.
func (s *sequence) opRestart() error {
	s.ops["restart"]++
	s.logf("restart")
	if err := errors.Join(s.store.Close(), s.closeLnd()); err != nil {
		return err
	}
	s.lndSeq.restart()
	if s.backend == backendKV {
		s.counts[diffRestartBlock]++
	}
	return s.open()
}

func (s *sequence) close() {
	s.store.Close()
	s.closeLnd()
	matches, _ := filepath.Glob(s.files + "*")
	for _, m := range matches {
		os.RemoveAll(m)
	}
}

func (s *sequence) newSecret() secret {
	var pre lntypes.Preimage
	for i := range pre {
		pre[i] = byte(s.rng.UintN(256))
	}
	return secret{pre: pre, hash: pre.Hash()}
}

func (s *sequence) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf("%3d ", len(s.log))+fmt.Sprintf(format, args...))
}

// errEnd ends a sequence after a named deliberate difference.
var errEnd = errors.New("sequence ends at a deliberate difference")

// run performs up to n random steps, comparing after each.
func (s *sequence) run(n int) (int, error) {
	for i := 0; i < n; i++ {
		err := s.step()
		if err == nil {
			err = s.compareAll()
		}
		if errors.Is(err, errEnd) {
			return i + 1, nil
		}
		if err != nil {
			return i + 1, err
		}
	}
	return n, nil
}

func (s *sequence) pick(weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	r := s.rng.IntN(total)
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

func (s *sequence) chance(percent int) bool { return s.rng.IntN(100) < percent }

// step draws one operation and runs it on both stores.
func (s *sequence) step() error {
	k := s.rng.IntN(kinds)
	hash := s.pool[k].hash
	if s.chance(3) {
		hash = s.newSecret().hash // a hash no one paid
	}
	op := s.pick(14, 30, 16, 12, 5, 5, 3, 3, 4, 2, 2, 8, 1)
	if op > 0 && op < 8 && s.fetchLnd(hash) == nil && s.chance(75) {
		// Mostly act on payments that exist: the unknown-hash answers need few draws.
		op = 0
	}
	switch op {
	case 0:
		return s.opInit(hash)
	case 1:
		return s.opRegister(hash, k)
	case 2:
		return s.opSettle(hash)
	case 3:
		return s.opFailAttempt(hash)
	case 4:
		return s.opFail(hash)
	case 5:
		return s.opDelete(hash, s.chance(50))
	case 6:
		return s.opDeleteFailedAttempts(hash)
	case 7:
		return s.opDeletePayments()
	case 8:
		return s.opFetch(hash)
	case 9:
		return s.opFetchInflight()
	case 10:
		return s.opFetchInflight()
	case 11:
		return s.opQuery()
	default:
		return s.opRestart()
	}
}

// lndSequence is lnd's sequence allocation, as KVStore.nextPaymentSequence does it.
type lndSequence struct{ curr, stored, db uint64 }

func (q *lndSequence) next() uint64 {
	if q.curr == q.stored {
		upper := q.db + 1000
		if q.curr == 0 {
			q.curr = q.db
		}
		q.stored, q.db = upper, upper
	}
	q.curr++
	return q.curr
}

// restart forgets the reserved block, as a new KVStore does.
func (q *lndSequence) restart() { q.curr, q.stored = 0, 0 }

// --- errors ---

var lndSentinels = []error{
	paymentsdb.ErrAlreadyPaid, paymentsdb.ErrPaymentInFlight, paymentsdb.ErrPaymentExists,
	paymentsdb.ErrPaymentNotInitiated, paymentsdb.ErrPaymentAlreadySucceeded,
	paymentsdb.ErrPaymentAlreadyFailed, paymentsdb.ErrAttemptAlreadySettled,
	paymentsdb.ErrAttemptAlreadyFailed, paymentsdb.ErrValueMismatch, paymentsdb.ErrValueExceedsAmt,
	paymentsdb.ErrNonMPPayment, paymentsdb.ErrMPPayment, paymentsdb.ErrMPPRecordInBlindedPayment,
	paymentsdb.ErrBlindedPaymentTotalAmountMismatch, paymentsdb.ErrMixedBlindedAndNonBlindedPayments,
	paymentsdb.ErrBlindedPaymentMissingTotalAmount, paymentsdb.ErrMPPPaymentAddrMismatch,
	paymentsdb.ErrMPPTotalAmountMismatch, paymentsdb.ErrPaymentPendingSettled,
	paymentsdb.ErrPaymentPendingFailed, paymentsdb.ErrSentExceedsTotal,
}

const (
	classAttemptNotFound = "attempt not found"
	// classResolved is lnd's SQL store's answer to an outcome for an attempt that has one.
	classResolved = "attempt already resolved"
)

// class names an error by lnd's error value; lnd's unnamed errors for an unknown
// attempt get the class the drop-in's ErrAttemptNotFound has.
func (s *sequence) class(err error) string {
	if err == nil {
		return "ok"
	}
	for _, e := range lndSentinels {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	msg := err.Error()
	switch {
	case errors.Is(err, lps.ErrAttemptNotFound),
		strings.HasPrefix(msg, "HTLC with ID ") && strings.HasSuffix(msg, " not registered"),
		msg == "htlcs bucket not found":
		return classAttemptNotFound
	case strings.HasPrefix(msg, "failed to ") && strings.HasSuffix(msg, "FOREIGN KEY constraint failed (787)"):
		// lnd's SQL store: the attempt row the outcome refers to does not exist.
		s.counts[diffSQLAttemptUnknown]++
		return classAttemptNotFound
	case strings.HasSuffix(msg, "UNIQUE constraint failed: payment_htlc_attempt_resolutions.attempt_index (1555)"):
		return classResolved
	case strings.HasSuffix(msg, ": sql: no rows in result set"):
		// lnd's SQL store: no payment row for the hash.
		s.counts[diffSQLNoRows+" ("+strings.SplitN(msg, ":", 2)[0]+")"]++
		return paymentsdb.ErrPaymentNotInitiated.Error()
	case errors.Is(err, lps.ErrAttemptExists),
		strings.HasSuffix(msg, "UNIQUE constraint failed: payment_htlc_attempts.attempt_index (2067)"):
		// lnd's SQL store refuses a repeated attempt id too (its KV store overwrites).
		return "attempt exists"
	case msg == "non bucket element in payments bucket":
		s.counts[diffDeleteUnknown]++
		return paymentsdb.ErrPaymentNotInitiated.Error()
	}
	return "unclassified: " + msg
}

func (s *sequence) sameError(what string, lndErr, ourErr error) error {
	l, o := s.class(lndErr), s.class(ourErr)
	if l == classResolved && (o == paymentsdb.ErrAttemptAlreadyFailed.Error() ||
		o == paymentsdb.ErrAttemptAlreadySettled.Error()) {
		s.counts[diffSQLResolved]++
		l = o
	}
	if l != o {
		return fmt.Errorf("%s: lnd %q (%v), drop-in %q (%v)", what, l, lndErr, o, ourErr)
	}
	if !strings.HasPrefix(what, "state:") {
		s.errs[what+": "+l]++
	}
	return nil
}

// --- payments ---

// ourSeq maps lnd's sequence number of a payment to the drop-in's.
func (s *sequence) ourSeq(l uint64) (uint64, bool) {
	for _, p := range s.seqs {
		if p[0] == l {
			return p[1], true
		}
	}
	return 0, false
}

// stored is a payment as both sides must hold it.
type stored struct {
	lps.ImportPayment
	Status lps.PaymentStatus
	State  lps.PaymentState
}

func (s *sequence) stored(p *paymentsdb.MPPayment, lndSide, omitHops bool) (stored, error) {
	ip, err := convert.Payment(p)
	if err != nil {
		return stored{}, err
	}
	if lndSide {
		seq, ok := s.ourSeq(ip.SequenceNum)
		if !ok {
			return stored{}, fmt.Errorf("lnd's sequence number %d was never initiated", ip.SequenceNum)
		}
		ip.SequenceNum = seq
		if !sort.SliceIsSorted(ip.HTLCs, func(i, j int) bool { return ip.HTLCs[i].AttemptID < ip.HTLCs[j].AttemptID }) {
			// lnd's SQL store does not always order a payment's attempts by id.
			s.counts[diffSQLOrder]++
			sort.Slice(ip.HTLCs, func(i, j int) bool { return ip.HTLCs[i].AttemptID < ip.HTLCs[j].AttemptID })
		}
		if omitHops {
			for i := range ip.HTLCs {
				ip.HTLCs[i].Route.Hops = nil
			}
		}
	}
	return stored{ip, convert.Status(p.Status), convert.State(p.State)}, nil
}

func (s *sequence) samePayment(what string, l, o *paymentsdb.MPPayment, omitHops bool) error {
	if l == nil || o == nil {
		if l != o {
			return fmt.Errorf("%s: lnd %v, drop-in %v", what, l != nil, o != nil)
		}
		return nil
	}
	ls, err := s.stored(l, true, omitHops)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	ours, err := s.stored(o, false, false)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if s.backend == backendSQLite && omitHops && ls.State.RemainingAmt == ls.Info.Value && ls.State.FeesPaid == 0 &&
		(ls.State != ours.State) {
		// lnd's SQL store derives the state from the hop-less routes it read: nothing
		// sent, no fees.
		s.counts[diffSQLOmitHopsState]++
		ls.State.RemainingAmt, ls.State.FeesPaid = ours.State.RemainingAmt, ours.State.FeesPaid
	}
	if s.backend == backendSQLite && omitHops {
		for i := range ours.HTLCs {
			if i < len(ls.HTLCs) && len(ls.HTLCs[i].Route.FirstHopWireCustomRecords) == 0 &&
				len(ours.HTLCs[i].Route.FirstHopWireCustomRecords) > 0 {
				// lnd's SQL store leaves the route's custom records out with the hops.
				s.counts[diffSQLOmitRecords]++
				ours.HTLCs[i].Route.FirstHopWireCustomRecords = nil
			}
		}
	}
	if s.backend == backendSQLite {
		for i := range ours.HTLCs {
			if h := &ours.HTLCs[i]; h.Hash == nil && i < len(ls.HTLCs) && ls.HTLCs[i].Hash != nil &&
				*ls.HTLCs[i].Hash == ours.Hash {
				// lnd's SQL store reads an attempt without a hash back with the payment's.
				s.counts[diffSQLHash]++
				h.Hash = &ours.Hash
			}
		}
	}
	if s.backend == backendSQLite {
		// lnd's SQL store keeps no legacy-payload flag: every hop reads back as TLV.
		for i := range ours.HTLCs {
			for j := range ours.HTLCs[i].Route.Hops {
				if h := &ours.HTLCs[i].Route.Hops[j]; h.LegacyPayload {
					h.LegacyPayload = false
					s.counts[diffSQLLegacy]++
				}
			}
		}
	}
	if d := fielddiff.Diff(what, ls, ours); len(d) > 0 {
		return errors.New(strings.Join(d, "\n"))
	}
	return nil
}

// compareAll compares every payment of the sequence, the in-flight lists and a query
// of everything.
func (s *sequence) compareAll() error {
	for k, sec := range s.pool {
		l, lErr := s.lnd.FetchPayment(s.ctx, sec.hash)
		o, oErr := s.ours.FetchPayment(s.ctx, sec.hash)
		what := fmt.Sprintf("state: payment %d", k)
		if err := s.sameError(what, lErr, oErr); err != nil {
			return err
		}
		if err := s.samePayment(what, l, o, false); err != nil {
			return err
		}
	}
	if err := s.compareInflight("state: in flight"); err != nil {
		return err
	}
	return s.compareQuery("state: all", paymentsdb.Query{MaxPayments: 1000, IncludeIncomplete: true, CountTotal: true})
}

func (s *sequence) compareInflight(what string) error {
	l, lErr := s.lnd.FetchInFlightPayments(s.ctx)
	o, oErr := s.ours.FetchInFlightPayments(s.ctx)
	if err := s.sameError(what, lErr, oErr); err != nil {
		return err
	}
	if len(l) != len(o) {
		return fmt.Errorf("FetchInFlightPayments: lnd %d payments, drop-in %d", len(l), len(o))
	}
	for i := 1; i < len(o); i++ {
		if o[i].SequenceNum <= o[i-1].SequenceNum {
			return fmt.Errorf("FetchInFlightPayments: not in sequence order")
		}
	}
	// Same order for the comparison: by sequence number.
	sort.Slice(l, func(i, j int) bool { return l[i].SequenceNum < l[j].SequenceNum })
	for i := range l {
		if err := s.samePayment(fmt.Sprintf("FetchInFlightPayments[%d]", i), l[i], o[i], false); err != nil {
			return err
		}
	}
	if len(l) > 1 && s.backend == backendKV {
		s.counts[diffInflightOrder]++
	}
	return nil
}

// --- operations ---

func (s *sequence) fetchLnd(hash lntypes.Hash) *paymentsdb.MPPayment {
	p, _ := s.lnd.FetchPayment(s.ctx, hash)
	return p
}

func (s *sequence) opInit(hash lntypes.Hash) error {
	s.ops["InitPayment"]++
	value := lnwire.MilliSatoshi(6_000 * (1 + s.rng.IntN(3)))
	if p := s.fetchLnd(hash); p != nil {
		value = p.Info.Value // a retry pays the same amount
	}
	info := &paymentsdb.PaymentCreationInfo{
		PaymentIdentifier: hash,
		Value:             value,
		CreationTime:      s.t0.Add(time.Duration(s.rng.IntN(20))*time.Second + time.Duration(s.rng.IntN(1e9))),
	}
	if s.chance(70) {
		info.PaymentRequest = []byte(fmt.Sprintf("lnbcrt%dn1p%d", value/1000, s.rng.IntN(1000)))
	}
	if s.chance(30) {
		info.FirstHopCustomRecords = lnwire.CustomRecords{65536 + uint64(s.rng.IntN(5)): {byte(s.rng.IntN(256))}}
	}
	s.logf("InitPayment %x value %d", hash[:4], value)
	before := s.fetchLnd(hash)
	wantLnd := s.lndSeq.next()
	lErr := s.lnd.InitPayment(s.ctx, hash, info)
	oErr := s.ours.InitPayment(s.ctx, hash, info)
	if lErr == nil && errors.Is(oErr, paymentsdb.ErrAlreadyPaid) {
		return s.checkRepayDeleted(hash, before)
	}
	if err := s.sameError("InitPayment", lErr, oErr); err != nil {
		return err
	}
	if lErr != nil {
		return nil
	}
	s.values[hash] = value
	s.inits++
	l := s.fetchLnd(hash)
	o, err := s.ours.FetchPayment(s.ctx, hash)
	if err != nil {
		return err
	}
	// Exactly the sequence-number difference: lnd counts calls, the drop-in successes.
	if s.backend == backendSQLite {
		wantLnd = l.SequenceNum // lnd's SQL store numbers payments its own way
	}
	if l.SequenceNum != wantLnd || o.SequenceNum != s.inits {
		return fmt.Errorf("InitPayment: sequence numbers lnd %d (expected %d), drop-in %d (successes %d)",
			l.SequenceNum, wantLnd, o.SequenceNum, s.inits)
	}
	if l.SequenceNum != o.SequenceNum && s.backend == backendKV {
		s.counts[diffSequenceGap]++
	}
	// lnd's SQL store numbers a payment max+1 of the live ones, so the number of a
	// deleted newest payment comes back: the old pairing goes.
	for len(s.seqs) > 0 && s.seqs[len(s.seqs)-1][0] >= l.SequenceNum {
		s.seqs = s.seqs[:len(s.seqs)-1]
		s.counts[diffSQLReuse]++
	}
	s.seqs = append(s.seqs, [2]uint64{l.SequenceNum, o.SequenceNum})
	return nil
}

// checkRepayDeleted: lnd paid a deleted paid hash again; the drop-in refused.
func (s *sequence) checkRepayDeleted(hash lntypes.Hash, before *paymentsdb.MPPayment) error {
	if before != nil || !s.settled[hash] {
		return fmt.Errorf("InitPayment: drop-in ALREADY_PAID for a hash that is not a deleted paid one")
	}
	if p := s.fetchLnd(hash); p == nil || p.Status != paymentsdb.StatusInitiated {
		return fmt.Errorf("InitPayment: lnd did not start the payment again")
	}
	if _, err := s.ours.FetchPayment(s.ctx, hash); !errors.Is(err, paymentsdb.ErrPaymentNotInitiated) {
		return fmt.Errorf("InitPayment: the refused payment exists in the drop-in: %v", err)
	}
	s.counts[diffRepayDeleted]++
	s.logf("  named difference: %s", diffRepayDeleted)
	return errEnd
}

var (
	addrA = [32]byte{0xa}
	addrB = [32]byte{0xb}
)

func nodeKey(i int) route.Vertex {
	k, _ := btcec.PrivKeyFromBytes(append(make([]byte, 31), byte(i+1)))
	return route.NewVertex(k.PubKey())
}

// attempt draws an attempt of the given kind (sometimes another, sometimes malformed
// for the payment) for a payment of value.
func (s *sequence) attempt(hash lntypes.Hash, kind int, value lnwire.MilliSatoshi) *paymentsdb.HTLCAttemptInfo {
	if s.chance(15) {
		kind = s.rng.IntN(kinds)
	}
	amt := value
	if kind != kindSingle {
		amt = []lnwire.MilliSatoshi{value / 2, value / 3, value, value / 3 * 2}[s.rng.IntN(4)]
	}
	if s.chance(8) {
		amt += lnwire.MilliSatoshi(1 + s.rng.IntN(2_000))
	}
	if amt == 0 {
		amt = 1
	}
	hops := make([]*route.Hop, 1+s.rng.IntN(3))
	var fees lnwire.MilliSatoshi
	for i := len(hops) - 1; i >= 0; i-- {
		hops[i] = &route.Hop{
			PubKeyBytes: nodeKey(i), ChannelID: uint64(s.rng.IntN(1 << 20)),
			OutgoingTimeLock: uint32(800_000 + 40*i), AmtToForward: amt + fees,
		}
		if i < len(hops)-1 {
			fees += lnwire.MilliSatoshi(s.rng.IntN(20))
			if s.chance(10) {
				hops[i].LegacyPayload = true
			}
		}
	}
	final := hops[len(hops)-1]
	if s.chance(30) {
		final.CustomRecords = record.CustomSet{65537 + uint64(s.rng.IntN(3)): {byte(s.rng.IntN(256))}}
	}
	if s.chance(20) {
		final.Metadata = []byte{0xfe, byte(s.rng.IntN(256))}
	}
	a := &paymentsdb.HTLCAttemptInfo{
		AttemptTime: s.t0.Add(time.Duration(s.rng.Int64N(1e12))),
	}
	h := hash
	a.Hash = &h
	switch kind {
	case kindMPP:
		addr, total := addrA, value
		if s.chance(8) {
			addr = addrB
		}
		if s.chance(8) {
			total += 1_000
		}
		final.MPP = record.NewMPP(total, addr)
	case kindAMP:
		final.MPP = record.NewMPP(value, addrA)
		child := s.newSecret()
		s.secrets[child.hash] = child.pre
		final.AMP = record.NewAMP([32]byte{0x11}, hash, uint32(s.rng.IntN(1000)))
		a.Hash = &child.hash
	case kindBlinded:
		final.EncryptedData = []byte{0x04, byte(s.rng.IntN(256))}
		final.TotalAmtMsat = value
		switch s.pick(85, 5, 10) {
		case 1:
			final.TotalAmtMsat = 0
		case 2:
			final.TotalAmtMsat = value + 7
		}
		if s.chance(10) {
			final.MPP = record.NewMPP(value, addrA)
		}
		if len(hops) > 1 {
			intro, _ := btcec.PrivKeyFromBytes([]byte{0x42})
			hops[0].BlindingPoint = intro.PubKey()
			hops[0].EncryptedData = []byte{0x01}
			hops[0].LegacyPayload = false
		}
	}
	a.Route = route.Route{
		TotalTimeLock: 800_200, TotalAmount: amt + fees + lnwire.MilliSatoshi(s.rng.IntN(10)),
		SourcePubKey: nodeKey(9), Hops: hops,
	}
	if s.chance(10) && kind != kindAMP {
		// Older attempts carry no hash (the payment hash applies); lnd then stores no
		// first-hop records, so none are drawn.
		a.Hash = nil
	} else {
		if s.chance(20) {
			a.Route.FirstHopAmount = tlv.NewRecordT[tlv.TlvType0](tlv.NewBigSizeT(hops[0].AmtToForward + 1))
		}
		if s.chance(20) {
			a.Route.FirstHopWireCustomRecords = lnwire.CustomRecords{65600: {byte(s.rng.IntN(256))}}
		}
	}
	// A fresh attempt id, or now and then one the payment already used.
	used := s.usedAttemptIDs[hash]
	if len(used) > 0 && s.chance(8) {
		a.AttemptID = used[s.rng.IntN(len(used))]
	} else {
		s.nextAttempt++
		a.AttemptID = s.nextAttempt
	}
	var key [32]byte
	for i := range key {
		key[i] = byte(s.rng.UintN(256))
	}
	if err := convert.SetSessionKey(a, key); err != nil {
		panic(err)
	}
	return a
}

func (s *sequence) opRegister(hash lntypes.Hash, kind int) error {
	s.ops["RegisterAttempt"]++
	value, ok := s.values[hash]
	if !ok {
		value = 6_000
	}
	a := s.attempt(hash, kind, value)
	fh := a.Route.FinalHop()
	s.logf("RegisterAttempt %x id %d amt %d mpp %v amp %v blinded %v total %d", hash[:4], a.AttemptID,
		a.Route.ReceiverAmt(), fh.MPP != nil, fh.AMP != nil, len(fh.EncryptedData) > 0, fh.TotalAmtMsat)
	before := s.fetchLnd(hash)
	l, lErr := s.lnd.RegisterAttempt(s.ctx, hash, a)
	o, oErr := s.ours.RegisterAttempt(s.ctx, hash, a)
	if lErr == nil && errors.Is(oErr, lps.ErrAttemptExists) {
		return s.checkDuplicateAttempt(hash, a, before, l)
	}
	if err := s.sameError("RegisterAttempt", lErr, oErr); err != nil {
		return err
	}
	if lErr == nil {
		s.usedAttemptIDs[hash] = append(s.usedAttemptIDs[hash], a.AttemptID)
	}
	return s.samePayment("RegisterAttempt", l, o, false)
}

// checkDuplicateAttempt: lnd took a repeated attempt id (overwriting the attempt);
// the drop-in refused it and kept the payment as it was.
func (s *sequence) checkDuplicateAttempt(hash lntypes.Hash, a *paymentsdb.HTLCAttemptInfo,
	before, after *paymentsdb.MPPayment) error {

	if before == nil {
		return errors.New("RegisterAttempt: ATTEMPT_EXISTS on a payment lnd does not have")
	}
	idx := -1
	for i := range before.HTLCs {
		if before.HTLCs[i].AttemptID == a.AttemptID {
			idx = i
		}
	}
	if idx < 0 {
		return fmt.Errorf("RegisterAttempt: ATTEMPT_EXISTS for id %d, which the payment does not have", a.AttemptID)
	}
	o, err := s.ours.FetchPayment(s.ctx, hash)
	if err != nil {
		return err
	}
	if err := s.samePayment("refused repeated attempt (drop-in unchanged)", before, o, false); err != nil {
		return err
	}
	// lnd: the same attempts, this one's info replaced, its outcome kept.
	want, err := convert.Payment(before)
	if err != nil {
		return err
	}
	want.HTLCs[idx].AttemptInfo = convert.AttemptInfo(a)
	got, err := convert.Payment(after)
	if err != nil {
		return err
	}
	if d := fielddiff.Diff("lnd after a repeated attempt id", want.HTLCs, got.HTLCs); len(d) > 0 {
		return errors.New(strings.Join(d, "\n"))
	}
	s.counts[diffDuplicateAttempt]++
	s.logf("  named difference: %s", diffDuplicateAttempt)
	return errEnd
}

// attemptOf picks an attempt id of the payment (now and then one it does not have).
func (s *sequence) attemptOf(p *paymentsdb.MPPayment) (uint64, *paymentsdb.HTLCAttempt) {
	if p == nil || len(p.HTLCs) == 0 || s.chance(5) {
		return s.nextAttempt + 1 + uint64(s.rng.IntN(3)), nil
	}
	// Prefer attempts in flight.
	var inflight []int
	for i := range p.HTLCs {
		if p.HTLCs[i].Settle == nil && p.HTLCs[i].Failure == nil {
			inflight = append(inflight, i)
		}
	}
	i := s.rng.IntN(len(p.HTLCs))
	if len(inflight) > 0 && s.chance(85) {
		i = inflight[s.rng.IntN(len(inflight))]
	}
	return p.HTLCs[i].AttemptID, &p.HTLCs[i]
}

func (s *sequence) opSettle(hash lntypes.Hash) error {
	s.ops["SettleAttempt"]++
	before := s.fetchLnd(hash)
	id, h := s.attemptOf(before)
	pre := s.newSecret().pre
	if h != nil && !s.chance(6) {
		proves := hash
		if h.Hash != nil {
			proves = *h.Hash
		}
		if p, ok := s.secrets[proves]; ok {
			pre = p
		} else if proves == hash {
			for _, sec := range s.pool {
				if sec.hash == hash {
					pre = sec.pre
				}
			}
		}
	}
	info := &paymentsdb.HTLCSettleInfo{Preimage: pre, SettleTime: s.t0.Add(time.Duration(s.rng.Int64N(1e12)))}
	s.logf("SettleAttempt %x id %d", hash[:4], id)
	l, lErr := s.lnd.SettleAttempt(s.ctx, hash, id, info)
	o, oErr := s.ours.SettleAttempt(s.ctx, hash, id, info)
	if lErr == nil && errors.Is(oErr, lps.ErrPreimageMismatch) {
		return s.checkFalsePreimage(hash, h, info, before, l)
	}
	if err := s.sameError("SettleAttempt", lErr, oErr); err != nil {
		return err
	}
	if lErr == nil {
		s.settled[hash] = true
	}
	return s.samePayment("SettleAttempt", l, o, false)
}

// checkFalsePreimage: lnd recorded a preimage that does not prove the attempt's hash;
// the drop-in refused it and kept the payment as it was.
func (s *sequence) checkFalsePreimage(hash lntypes.Hash, h *paymentsdb.HTLCAttempt,
	info *paymentsdb.HTLCSettleInfo, before, after *paymentsdb.MPPayment) error {

	if h == nil {
		return errors.New("SettleAttempt: PREIMAGE_MISMATCH for an attempt the payment does not have")
	}
	proves := hash
	if h.Hash != nil {
		proves = *h.Hash
	}
	if info.Preimage.Hash() == proves {
		return errors.New("SettleAttempt: PREIMAGE_MISMATCH for the true preimage")
	}
	o, err := s.ours.FetchPayment(s.ctx, hash)
	if err != nil {
		return err
	}
	if err := s.samePayment("refused false preimage (drop-in unchanged)", before, o, false); err != nil {
		return err
	}
	want, err := convert.Payment(before)
	if err != nil {
		return err
	}
	for i := range want.HTLCs {
		if want.HTLCs[i].AttemptID == h.AttemptID {
			want.HTLCs[i].Settle = convert.SettleInfo(info)
		}
	}
	got, err := convert.Payment(after)
	if err != nil {
		return err
	}
	if d := fielddiff.Diff("lnd after a false preimage", want.HTLCs, got.HTLCs); len(d) > 0 {
		return errors.New(strings.Join(d, "\n"))
	}
	s.counts[diffFalsePreimage]++
	s.logf("  named difference: %s", diffFalsePreimage)
	return errEnd
}

var failureMessages = []func() lnwire.FailureMessage{
	func() lnwire.FailureMessage { return nil },
	func() lnwire.FailureMessage { return lnwire.NewTemporaryChannelFailure(nil) },
	func() lnwire.FailureMessage { return &lnwire.FailTemporaryNodeFailure{} },
	func() lnwire.FailureMessage { return lnwire.NewFailIncorrectDetails(12_000, 800_123) },
	func() lnwire.FailureMessage { return &lnwire.FailUnknownNextPeer{} },
}

func (s *sequence) opFailAttempt(hash lntypes.Hash) error {
	s.ops["FailAttempt"]++
	id, _ := s.attemptOf(s.fetchLnd(hash))
	info := &paymentsdb.HTLCFailInfo{
		FailTime:           s.t0.Add(time.Duration(s.rng.Int64N(1e12))),
		Message:            failureMessages[s.rng.IntN(len(failureMessages))](),
		Reason:             paymentsdb.HTLCFailReason(s.rng.IntN(4)),
		FailureSourceIndex: uint32(s.rng.IntN(4)),
	}
	s.logf("FailAttempt %x id %d", hash[:4], id)
	l, lErr := s.lnd.FailAttempt(s.ctx, hash, id, info)
	o, oErr := s.ours.FailAttempt(s.ctx, hash, id, info)
	if err := s.sameError("FailAttempt", lErr, oErr); err != nil {
		return err
	}
	return s.samePayment("FailAttempt", l, o, false)
}

func (s *sequence) opFail(hash lntypes.Hash) error {
	s.ops["Fail"]++
	reason := paymentsdb.FailureReason(s.rng.IntN(6))
	s.logf("Fail %x %v", hash[:4], reason)
	l, lErr := s.lnd.Fail(s.ctx, hash, reason)
	o, oErr := s.ours.Fail(s.ctx, hash, reason)
	if err := s.sameError("Fail", lErr, oErr); err != nil {
		return err
	}
	return s.samePayment("Fail", l, o, false)
}

func (s *sequence) opDelete(hash lntypes.Hash, failedAttemptsOnly bool) error {
	s.ops["DeletePayment"]++
	s.logf("DeletePayment %x failedAttemptsOnly %v", hash[:4], failedAttemptsOnly)
	lErr := s.lnd.DeletePayment(s.ctx, hash, failedAttemptsOnly)
	oErr := s.ours.DeletePayment(s.ctx, hash, failedAttemptsOnly)
	return s.sameError("DeletePayment", lErr, oErr)
}

func (s *sequence) opDeleteFailedAttempts(hash lntypes.Hash) error {
	s.ops["DeleteFailedAttempts"]++
	s.logf("DeleteFailedAttempts %x", hash[:4])
	lErr := s.lnd.DeleteFailedAttempts(s.ctx, hash)
	oErr := s.ours.DeleteFailedAttempts(s.ctx, hash)
	return s.sameError("DeleteFailedAttempts", lErr, oErr)
}

func (s *sequence) opDeletePayments() error {
	s.ops["DeletePayments"]++
	failedOnly, attemptsOnly := s.chance(50), s.chance(40)
	s.logf("DeletePayments failedOnly %v failedAttemptsOnly %v", failedOnly, attemptsOnly)
	ln, lErr := s.lnd.DeletePayments(s.ctx, failedOnly, attemptsOnly)
	on, oErr := s.ours.DeletePayments(s.ctx, failedOnly, attemptsOnly)
	if err := s.sameError("DeletePayments", lErr, oErr); err != nil {
		return err
	}
	if ln != on {
		return fmt.Errorf("DeletePayments: lnd deleted %d, drop-in %d", ln, on)
	}
	return nil
}

func (s *sequence) opFetch(hash lntypes.Hash) error {
	s.ops["FetchPayment"]++
	s.logf("FetchPayment %x", hash[:4])
	l, lErr := s.lnd.FetchPayment(s.ctx, hash)
	o, oErr := s.ours.FetchPayment(s.ctx, hash)
	if err := s.sameError("FetchPayment", lErr, oErr); err != nil {
		return err
	}
	return s.samePayment("FetchPayment", l, o, false)
}

func (s *sequence) opFetchInflight() error {
	s.ops["FetchInFlightPayments"]++
	s.logf("FetchInFlightPayments")
	return s.compareInflight("FetchInFlightPayments")
}

// ourOffset maps a query offset in lnd's sequence numbers to the drop-in's, so that
// both name the same place between the same payments.
func (s *sequence) ourOffset(o uint64, reversed bool) uint64 {
	if o == 0 {
		return 0
	}
	var at uint64
	for _, p := range s.seqs {
		if p[0] == o {
			return p[1]
		}
		if p[0] < o {
			at = p[1]
		}
	}
	if reversed {
		// Before o: everything up to the last payment below it.
		return at + 1
	}
	return at
}

func (s *sequence) opQuery() error {
	s.ops["QueryPayments"]++
	q := paymentsdb.Query{
		MaxPayments:       []uint64{0, 1, 2, 3, 5, 100}[s.pick(3, 20, 20, 20, 17, 20)],
		Reversed:          s.chance(50),
		IncludeIncomplete: s.chance(70),
		CountTotal:        s.chance(50),
		OmitHops:          s.chance(15),
	}
	switch {
	case len(s.seqs) > 0 && s.chance(60):
		q.IndexOffset = s.seqs[s.rng.IntN(len(s.seqs))][0] + uint64(s.pick(80, 20))
	case s.chance(10):
		q.IndexOffset = math.MaxUint64
	case s.chance(20):
		q.IndexOffset = s.lndSeq.curr + 1
	}
	if s.chance(40) {
		q.CreationDateStart = s.t0.Unix() + int64(s.rng.IntN(20))
	}
	if s.chance(40) {
		q.CreationDateEnd = s.t0.Unix() + int64(s.rng.IntN(20))
	}
	s.logf("QueryPayments %+v", q)
	return s.compareQuery("QueryPayments", q)
}

func (s *sequence) compareQuery(what string, q paymentsdb.Query) error {
	l, lErr := s.lnd.QueryPayments(s.ctx, q)
	oq := q
	oq.IndexOffset = s.ourOffset(q.IndexOffset, q.Reversed)
	if s.backend == backendSQLite && q.CreationDateEnd != 0 {
		// lnd's SQL store ends the window at the end's first nanosecond; its KV store,
		// and the drop-in, at its last.
		oq.CreationDateEnd--
		s.counts[diffSQLWindowEnd]++
	}
	o, oErr := s.ours.QueryPayments(s.ctx, oq)
	if q.MaxPayments == 0 && lErr != nil && lErr.Error() == "max payments must be non-zero" {
		// lnd's SQL store refuses a page of 0; its KV store, and the drop-in, answer an
		// empty one.
		if oErr != nil || len(o.Payments) != 0 {
			return fmt.Errorf("%s: MaxPayments 0: drop-in %d payments, %v", what, len(o.Payments), oErr)
		}
		s.counts[diffSQLMaxZero]++
		return nil
	}
	if err := s.sameError(what, lErr, oErr); err != nil {
		return err
	}
	if s.backend == backendSQLite && q.Reversed && q.IndexOffset > math.MaxInt64 && len(l.Payments) == 0 {
		// lnd's SQL store takes the offset as a signed number: below every payment.
		s.counts[diffSQLOffsetSigned]++
		return nil
	}
	if q.IndexOffset == math.MaxUint64 && !q.Reversed && len(l.Payments) > 0 {
		// lnd's paginator wraps to the first payment: exactly the page of offset 0.
		if len(o.Payments) != 0 {
			return fmt.Errorf("%s: the drop-in returned %d payments after the last possible offset", what, len(o.Payments))
		}
		q.IndexOffset, oq.IndexOffset = 0, 0
		o, oErr = s.ours.QueryPayments(s.ctx, oq)
		if oErr != nil {
			return oErr
		}
		s.counts[diffOffsetWrap]++
	}
	if q.OmitHops && len(l.Payments) > 0 && s.backend == backendKV {
		s.counts[diffOmitHops]++
	}
	if l.TotalCount != o.TotalCount {
		return fmt.Errorf("%s: TotalCount lnd %d, drop-in %d", what, l.TotalCount, o.TotalCount)
	}
	if len(l.Payments) != len(o.Payments) {
		return fmt.Errorf("%s: lnd %d payments, drop-in %d (drop-in offset %d)", what, len(l.Payments), len(o.Payments), oq.IndexOffset)
	}
	for i := range l.Payments {
		if err := s.samePayment(fmt.Sprintf("%s[%d]", what, i), l.Payments[i], o.Payments[i], q.OmitHops); err != nil {
			return err
		}
	}
	first, _ := s.ourSeq(l.FirstIndexOffset)
	last, _ := s.ourSeq(l.LastIndexOffset)
	if first != o.FirstIndexOffset || last != o.LastIndexOffset {
		return fmt.Errorf("%s: first/last offsets lnd %d/%d (drop-in's numbers %d/%d), drop-in %d/%d", what,
			l.FirstIndexOffset, l.LastIndexOffset, first, last, o.FirstIndexOffset, o.LastIndexOffset)
	}
	return nil
}

// Input lnd stores unchecked is refused: a payment of 0 msat and a route whose total
// is below what it delivers (lnd's fees would wrap around). A route without hops is
// left out: lnd's RegisterAttempt dereferences its missing final hop.
func TestInputLndStoresUnchecked(t *testing.T) {
	s, err := newSequence(t.TempDir(), backendKV, 1, map[string]int{}, map[string]int{}, map[string]int{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	zero := s.newSecret().hash
	info := &paymentsdb.PaymentCreationInfo{PaymentIdentifier: zero, CreationTime: s.t0}
	if err := s.lnd.InitPayment(s.ctx, zero, info); err != nil {
		t.Fatalf("lnd refused a payment of 0 msat: %v", err)
	}
	if err := s.ours.InitPayment(s.ctx, zero, info); !errors.Is(err, lps.ErrInvalidArgument) {
		t.Fatalf("drop-in, payment of 0 msat: %v", err)
	}

	hash := s.pool[kindSingle].hash
	info = &paymentsdb.PaymentCreationInfo{PaymentIdentifier: hash, Value: 6_000, CreationTime: s.t0}
	if err := errors.Join(s.lnd.InitPayment(s.ctx, hash, info), s.ours.InitPayment(s.ctx, hash, info)); err != nil {
		t.Fatal(err)
	}
	a := s.attempt(hash, kindSingle, 6_000)
	a.Route.TotalAmount = a.Route.ReceiverAmt() - 1
	p, err := s.lnd.RegisterAttempt(s.ctx, hash, a)
	if err != nil {
		t.Fatalf("lnd refused negative fees: %v", err)
	}
	if p.State.FeesPaid < a.Route.ReceiverAmt() {
		t.Fatalf("lnd's fees paid %d: expected them to wrap around", p.State.FeesPaid)
	}
	if _, err := s.ours.RegisterAttempt(s.ctx, hash, a); !errors.Is(err, lps.ErrInvalidArgument) {
		t.Fatalf("drop-in, negative fees: %v", err)
	}
}

// lnd's KV store writes an attempt's first-hop amount and wire custom records only after
// the attempt's hash, so an attempt without one loses them; the drop-in keeps them. (The
// random sequences give such attempts none.)
func TestAttemptWithoutHashKeepsFirstHopRecords(t *testing.T) {
	s, err := newSequence(t.TempDir(), backendKV, 2, map[string]int{}, map[string]int{}, map[string]int{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	hash := s.pool[kindSingle].hash
	info := &paymentsdb.PaymentCreationInfo{PaymentIdentifier: hash, Value: 6_000, CreationTime: s.t0}
	if err := errors.Join(s.lnd.InitPayment(s.ctx, hash, info), s.ours.InitPayment(s.ctx, hash, info)); err != nil {
		t.Fatal(err)
	}
	a := s.attempt(hash, kindSingle, 6_000)
	a.Hash = nil
	a.Route.FirstHopWireCustomRecords = lnwire.CustomRecords{65600: {1}}
	l, err := s.lnd.RegisterAttempt(s.ctx, hash, a)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.ours.RegisterAttempt(s.ctx, hash, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.HTLCs[0].Route.FirstHopWireCustomRecords) != 0 {
		t.Fatal("lnd kept the first-hop records of an attempt without a hash")
	}
	if len(o.HTLCs[0].Route.FirstHopWireCustomRecords) != 1 {
		t.Fatal("the drop-in lost the first-hop records")
	}
}
