package lnpaystore

import (
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openStoreAt opens (or reopens) the store at path, closed at the end of the test
// unless the test closed it.
func openStoreAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path, &Options{NoSync: true})
	check(t, err)
	t.Cleanup(func() { check(t, s.Close()) })
	return s
}

// openMC opens a namespace, closed at the end of the test unless the test closed it.
func openMC(t testing.TB, s *Store, ns string, opts *McOptions) *MissionControl {
	t.Helper()
	mc, err := s.OpenMissionControl(ns, opts)
	check(t, err)
	t.Cleanup(func() { check(t, mc.Close()) })
	return mc
}

// slow keeps results queued until a Flush or Close stores them.
var slow = &McOptions{FlushInterval: time.Hour}

// replyAt is the time of reply of the i-th result: nanoseconds matter.
func replyAt(i int) time.Time { return t0.Add(time.Duration(i)*time.Millisecond + 123) }

// mcResult is a result replied at replyAt(i), with every kind of failure in turn.
func mcResult(id uint64, i int) McResult {
	r := McResult{
		ID:            id,
		TimeForwarded: replyAt(i).Add(-time.Second),
		TimeReply:     replyAt(i),
		Route: McRoute{
			SourcePubKey: PubKey{2, 0xaa},
			TotalAmount:  MilliSatoshi(10_000 + id),
			Hops: []McHop{
				{ChannelID: id, PubKey: PubKey{3, byte(id)}, AmtToForward: 10_000, HasBlindingPoint: id%2 == 0},
				{ChannelID: 1 << 40, PubKey: PubKey{2, 7}, AmtToForward: 9_990, HasCustomRecords: true},
			},
		},
	}
	idx := uint8(id % 5)
	switch id % 5 {
	case 0: // success
	case 1:
		r.Failure = &McFailure{SourceIndex: &idx, Message: []byte{0x40, 0x0f, byte(id)}}
	case 2:
		r.Failure = &McFailure{Message: []byte{0x10, 0x07}}
	case 3:
		r.Failure = &McFailure{SourceIndex: &idx}
	case 4:
		r.Failure = &McFailure{} // a failure without index nor message
		r.Route.Hops = nil
	}
	return r
}

// mcResults are mcResult(i, i) for i in [from, to).
func mcResults(from, to int) []McResult {
	var rs []McResult
	for i := from; i < to; i++ {
		rs = append(rs, mcResult(uint64(i), i))
	}
	return rs
}

func addAll(t testing.TB, mc *MissionControl, rs []McResult) {
	t.Helper()
	for i := range rs {
		check(t, mc.AddResult(&rs[i]))
	}
}

// wantResults checks FetchAll against want, which it sorts into key order.
func wantResults(t testing.TB, mc *MissionControl, want []McResult) {
	t.Helper()
	got, err := mc.FetchAll()
	check(t, err)
	want = append([]McResult(nil), want...)
	sort.SliceStable(want, func(i, j int) bool {
		a, b := want[i], want[j]
		if !a.TimeReply.Equal(b.TimeReply) {
			return a.TimeReply.Before(b.TimeReply)
		}
		return a.ID < b.ID
	})
	if len(want) == 0 {
		want = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FetchAll: got %d results\n%s\nwant %d\n%s", len(got), describe(got), len(want), describe(want))
	}
}

func describe(rs []McResult) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  id %d reply %d fwd %d route %+v failure %s\n", r.ID,
			unixNanos(r.TimeReply), unixNanos(r.TimeForwarded), r.Route, describeFailure(r.Failure))
	}
	return b.String()
}

func describeFailure(f *McFailure) string {
	switch {
	case f == nil:
		return "none"
	case f.SourceIndex == nil:
		return fmt.Sprintf("{index: none, message: %x}", f.Message)
	default:
		return fmt.Sprintf("{index: %d, message: %x}", *f.SourceIndex, f.Message)
	}
}

func stats(t testing.TB, mc *MissionControl) McStats {
	t.Helper()
	st, err := mc.Stats()
	check(t, err)
	return st
}

func TestMcDefaultOptions(t *testing.T) {
	if got, want := DefaultMcOptions(), (McOptions{MaxRecords: 1000, FlushInterval: time.Second}); got != want {
		t.Fatalf("DefaultMcOptions() = %+v, want %+v", got, want)
	}
	// nil opts: 1000 records kept, the oldest evicted.
	s := openTest(t)
	mc := openMC(t, s, "", nil)
	if mc.Namespace() != "default" {
		t.Fatalf("Namespace() = %q", mc.Namespace())
	}
	rs := mcResults(0, 1003)
	addAll(t, mc, rs)
	check(t, mc.Flush())
	wantResults(t, mc, rs[3:])
	if st := stats(t, mc); st.Stored != 1000 || st.Evicted != 3 {
		t.Fatalf("stats %+v", st)
	}
	// MaxRecords 0: unlimited.
	unlimited := openMC(t, s, "unlimited", &McOptions{})
	addAll(t, unlimited, rs)
	check(t, unlimited.Flush())
	wantResults(t, unlimited, rs)
}

// What was added is read back after a restart, field for field, in time-of-reply order.
func TestMcResultsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	want := mcResults(0, 40)
	// Same time of reply, other ids and source keys: ordered by id, then key.
	same := mcResult(100, 7)
	same.Route.SourcePubKey = PubKey{3}
	want = append(want, same)
	want = append(want, McResult{ID: 101, TimeReply: replyAt(7), Failure: &McFailure{Message: []byte{}}})

	s, err := Open(path, &Options{NoSync: true})
	check(t, err)
	mc, err := s.OpenMissionControl("", nil)
	check(t, err)
	shuffled := append([]McResult(nil), want...)
	rand.New(rand.NewSource(1)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	addAll(t, mc, shuffled)
	check(t, mc.Close())
	check(t, s.Close())

	// An empty message reads back as none.
	want[len(want)-1].Failure.Message = nil
	s = openStoreAt(t, path)
	mc = openMC(t, s, "default", nil)
	wantResults(t, mc, want)
	if st := stats(t, mc); st.Stored != uint64(len(want)) || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// At most MaxRecords results are kept, the newest, across flushes and restarts.
func TestMcEvictionKeepsTheNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	opts := &McOptions{MaxRecords: 5, FlushInterval: time.Hour}
	rs := mcResults(0, 12)

	s, err := Open(path, &Options{NoSync: true})
	check(t, err)
	mc, err := s.OpenMissionControl("evict", opts)
	check(t, err)
	addAll(t, mc, rs[1:4])
	check(t, mc.Flush())
	wantResults(t, mc, rs[1:4])
	addAll(t, mc, rs[4:8])
	check(t, mc.Flush())
	wantResults(t, mc, rs[3:8])
	if st := stats(t, mc); st.Stored != 5 || st.Evicted != 2 {
		t.Fatalf("stats %+v", st)
	}
	// Older than everything kept: never written.
	addAll(t, mc, rs[0:1])
	check(t, mc.Flush())
	wantResults(t, mc, rs[3:8])
	if st := stats(t, mc); st.Stored != 5 || st.Evicted != 3 {
		t.Fatalf("stats %+v", st)
	}
	check(t, mc.Close())
	check(t, s.Close())

	s = openStoreAt(t, path)
	mc = openMC(t, s, "evict", opts)
	wantResults(t, mc, rs[3:8])
	// More than MaxRecords in one flush, newest first.
	for i := 11; i >= 8; i-- {
		check(t, mc.AddResult(&rs[i]))
	}
	check(t, mc.Flush())
	wantResults(t, mc, rs[7:12])
	if st := stats(t, mc); st.Stored != 5 || st.Evicted != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// A result with the key of a stored or queued one is stored once.
func TestMcDuplicatesAreStoredOnce(t *testing.T) {
	s := openTest(t)
	mc := openMC(t, s, "dup", slow)
	r := mcResult(1, 1)
	addAll(t, mc, []McResult{r, r, r})
	check(t, mc.Flush())
	addAll(t, mc, []McResult{r})
	check(t, mc.Flush())
	wantResults(t, mc, []McResult{r})
	// Another source key is another key.
	other := r
	other.Route.SourcePubKey = PubKey{3}
	addAll(t, mc, []McResult{other, r})
	check(t, mc.Flush())
	wantResults(t, mc, []McResult{r, other})
	if st := stats(t, mc); st.Stored != 2 || st.Evicted != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Flush stores the queue now, whatever the interval.
func TestMcFlushStoresNow(t *testing.T) {
	s := openTest(t)
	mc := openMC(t, s, "", slow)
	rs := mcResults(0, 3)
	addAll(t, mc, rs)
	if st := stats(t, mc); st.Queued != 3 || st.Stored != 0 || st.Flushes != 0 {
		t.Fatalf("stats before Flush %+v", st)
	}
	wantResults(t, mc, nil)
	check(t, mc.Flush())
	if st := stats(t, mc); st.Queued != 0 || st.Stored != 3 || st.Flushes != 1 {
		t.Fatalf("stats after Flush %+v", st)
	}
	wantResults(t, mc, rs)
	check(t, mc.Flush()) // nothing queued: no transaction
	if st := stats(t, mc); st.Flushes != 1 {
		t.Fatalf("stats after an empty Flush %+v", st)
	}
}

// The flusher waits out the interval: nothing is stored before it, everything after
// Close (of the handle or of the store).
func TestMcQueuedUntilIntervalOrClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(path, &Options{NoSync: true})
	check(t, err)
	mc, err := s.OpenMissionControl("", slow)
	check(t, err)
	rs := mcResults(0, 20)
	addAll(t, mc, rs[:10])
	time.Sleep(300 * time.Millisecond)
	if st := stats(t, mc); st.Stored != 0 || st.Queued != 10 || st.Flushes != 0 {
		t.Fatalf("stats %+v", st)
	}
	wantResults(t, mc, nil)
	check(t, mc.Close())

	mc, err = s.OpenMissionControl("", slow)
	check(t, err)
	wantResults(t, mc, rs[:10])
	addAll(t, mc, rs[10:])
	check(t, s.Close()) // closes mc, storing its queue
	check(t, mc.Close())

	s = openStoreAt(t, path)
	mc = openMC(t, s, "", nil)
	wantResults(t, mc, rs)

	// A short interval: the flusher stores on its own.
	fast := openMC(t, s, "fast", &McOptions{FlushInterval: 20 * time.Millisecond})
	addAll(t, fast, rs)
	waitStored(t, fast, uint64(len(rs)))
	wantResults(t, fast, rs)
}

func waitStored(t testing.TB, mc *MissionControl, n uint64) McStats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := stats(t, mc)
		if st.Stored == n && st.Queued == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("not stored within 10 s: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An idle handle costs nothing: its flusher sleeps without a timer.
func TestMcIdleHandleNeverWakesUp(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	idle := openMC(t, s, "idle", nil)
	busy := openMC(t, s, "busy", &McOptions{FlushInterval: 10 * time.Millisecond})
	rs := mcResults(0, 5)
	addAll(t, busy, rs)
	waitStored(t, busy, 5)
	time.Sleep(50 * time.Millisecond) // let the flusher go back to sleep
	after := stats(t, busy)

	time.Sleep(2 * time.Second)
	if st := stats(t, idle); st.Wakeups != 0 || st.Flushes != 0 {
		t.Fatalf("idle handle: %+v", st)
	}
	if st := stats(t, busy); st.Wakeups != after.Wakeups || st.Flushes != after.Flushes {
		t.Fatalf("handle idle again: %+v, before %+v", st, after)
	}
}

// Namespaces have their own results, options and Clear.
func TestMcNamespacesAreIndependent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(path, &Options{NoSync: true})
	check(t, err)
	a, err := s.OpenMissionControl("a", &McOptions{MaxRecords: 2, FlushInterval: time.Hour})
	check(t, err)
	b, err := s.OpenMissionControl("a/b ⚡", slow)
	check(t, err)
	if a.Namespace() != "a" || b.Namespace() != "a/b ⚡" {
		t.Fatalf("namespaces %q, %q", a.Namespace(), b.Namespace())
	}
	rs := mcResults(0, 4)
	addAll(t, a, rs)
	addAll(t, b, rs)
	check(t, a.Flush())
	wantResults(t, b, nil) // b's queue is its own
	check(t, b.Flush())
	wantResults(t, a, rs[2:])
	wantResults(t, b, rs)

	check(t, a.Clear())
	wantResults(t, a, nil)
	wantResults(t, b, rs)
	if st := stats(t, a); st.Stored != 0 {
		t.Fatalf("stats after Clear %+v", st)
	}
	// Clear drops what is queued too.
	addAll(t, a, rs[:1])
	check(t, a.Clear())
	check(t, a.Flush())
	wantResults(t, a, nil)
	addAll(t, a, rs[3:])
	check(t, a.Close())
	check(t, b.Close())
	check(t, s.Close())

	s = openStoreAt(t, path)
	a = openMC(t, s, "a", nil)
	b = openMC(t, s, "a/b ⚡", nil)
	wantResults(t, a, rs[3:])
	wantResults(t, b, rs)
	wantResults(t, openMC(t, s, "", nil), nil)
}

func TestMcOpenTwiceIsLocked(t *testing.T) {
	s := openTest(t)
	first, err := s.OpenMissionControl("", nil)
	check(t, err)
	_, err = s.OpenMissionControl("default", slow)
	wantErr(t, err, ErrLocked)
	other := openMC(t, s, "other", nil) // another namespace is fine
	_, err = s.OpenMissionControl("other", nil)
	wantErr(t, err, ErrLocked)
	check(t, other.Close())
	check(t, first.Close())
	again := openMC(t, s, "default", nil) // free once closed
	_ = openMC(t, s, "other", nil)
	// Another store has its own namespaces.
	openMC(t, openTest(t), "default", nil)
	check(t, again.Close())
	check(t, again.Close()) // idempotent
	wantErr(t, again.Flush(), ErrClosed)
}

// Arguments the library or the binding reject.
func TestMcInvalidArguments(t *testing.T) {
	s := openTest(t)
	mc := openMC(t, s, "", slow)
	good := mcResult(1, 1)

	wantErr(t, mc.AddResult(nil), ErrNullArgument)
	for name, mutate := range map[string]func(r *McResult){
		"reply before 1970":     func(r *McResult) { r.TimeReply = time.Unix(-1, 0) },
		"forwarded before 1970": func(r *McResult) { r.TimeForwarded = time.Unix(0, -1) },
		"reply in year 1000":    func(r *McResult) { r.TimeReply = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"forwarded in 3000":     func(r *McResult) { r.TimeForwarded = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		r := good
		mutate(&r)
		err := mc.AddResult(&r)
		if !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("%s: got %v, want ErrInvalidArgument", name, err)
		}
		wantErr(t, err, ErrInvalidArgument)
	}
	if st := stats(t, mc); st.Queued != 0 {
		t.Fatalf("a rejected result was queued: %+v", st)
	}

	for _, ns := range []string{"a\x00b", strings.Repeat("n", 256), "\xff\xfe"} {
		_, err := s.OpenMissionControl(ns, nil)
		wantErr(t, err, ErrInvalidArgument)
	}
	openMC(t, s, strings.Repeat("n", 255), nil)
	for _, opts := range []*McOptions{
		{FlushInterval: -time.Millisecond},
		{FlushInterval: (1 << 32) * time.Millisecond},
	} {
		_, err := s.OpenMissionControl("opts", opts)
		wantErr(t, err, ErrInvalidArgument)
	}
}

// The zero Time is stored as 0 and read back as the zero Time; so is the Unix epoch.
// Times keep their nanoseconds.
func TestMcZeroAndEpochTimes(t *testing.T) {
	s := openTest(t)
	mc := openMC(t, s, "", slow)
	zero := McResult{ID: 1}
	epoch := McResult{ID: 2, TimeForwarded: time.Unix(0, 0), TimeReply: time.Unix(0, 0)}
	nanos := McResult{ID: 3, TimeForwarded: time.Unix(0, 1), TimeReply: time.Unix(1, 999_999_999)}
	addAll(t, mc, []McResult{nanos, epoch, zero})
	check(t, mc.Flush())
	got, err := mc.FetchAll()
	check(t, err)
	if len(got) != 3 {
		t.Fatalf("got %d results", len(got))
	}
	for i, r := range got[:2] {
		if r.ID != uint64(i+1) || !r.TimeForwarded.IsZero() || !r.TimeReply.IsZero() {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if r := got[2]; r.ID != 3 || !r.TimeForwarded.Equal(nanos.TimeForwarded) || !r.TimeReply.Equal(nanos.TimeReply) {
		t.Fatalf("result 2: %+v", r)
	}
}

// Closing the store closes (and flushes) its handles: they answer ErrClosed, and
// their Close still releases them, once.
func TestMcStoreCloseClosesHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	base := openMissionControls.Load()
	s, err := Open(path, &Options{NoSync: true})
	check(t, err)
	mc, err := s.OpenMissionControl("", slow)
	check(t, err)
	other, err := s.OpenMissionControl("other", slow)
	check(t, err)
	rs := mcResults(0, 3)
	addAll(t, mc, rs)
	check(t, s.Close())

	wantErr(t, mc.AddResult(&rs[0]), ErrClosed)
	wantErr(t, mc.Flush(), ErrClosed)
	_, err = mc.FetchAll()
	wantErr(t, err, ErrClosed)
	wantErr(t, mc.Clear(), ErrClosed)
	_, err = mc.Stats()
	wantErr(t, err, ErrClosed)
	_, err = s.OpenMissionControl("new", nil)
	wantErr(t, err, ErrClosed)

	if n := openMissionControls.Load(); n != base+2 {
		t.Fatalf("%d handles open, want %d", n, base+2)
	}
	check(t, mc.Close())
	check(t, mc.Close())
	if n := openMissionControls.Load(); n != base+1 {
		t.Fatalf("%d handles open, want %d", n, base+1)
	}
	wantErr(t, mc.Flush(), ErrClosed)
	check(t, other.Close())
	if n := openMissionControls.Load(); n != base {
		t.Fatalf("%d handles open, want %d", n, base)
	}

	s = openStoreAt(t, path)
	wantResults(t, openMC(t, s, "", nil), rs)
}

// A handle nobody closed is closed by its finalizer: it stores its queue and releases
// the namespace, also when its store was closed first; each C handle is released once.
func TestMcFinalizerReleasesForgottenHandles(t *testing.T) {
	base := openMissionControls.Load()
	s := openTest(t)
	closed, err := Open(filepath.Join(t.TempDir(), "p.db"), &Options{NoSync: true})
	check(t, err)
	r := mcResult(1, 1)
	func() {
		mc, err := s.OpenMissionControl("forgotten", slow)
		check(t, err)
		check(t, mc.AddResult(&r))
		_, err = closed.OpenMissionControl("forgotten", slow)
		check(t, err)
	}()
	check(t, closed.Close())

	deadline := time.Now().Add(10 * time.Second)
	// (> base: a handle leaked by an earlier, failed test may be finalized meanwhile.)
	for openMissionControls.Load() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d handles left open", openMissionControls.Load()-base)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	wantResults(t, openMC(t, s, "forgotten", nil), []McResult{r})
}

// 8 goroutines add concurrently, while others flush and read: nothing is lost.
func TestMcConcurrentAddsLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(path, &Options{NoSync: true})
	check(t, err)
	mc, err := s.OpenMissionControl("", &McOptions{FlushInterval: 5 * time.Millisecond})
	check(t, err)
	const goroutines, each = 8, 250
	var (
		adders, readers sync.WaitGroup
		stop            atomic.Bool
		want            = make([]McResult, goroutines*each)
	)
	for g := 0; g < goroutines; g++ {
		adders.Add(1)
		go func() {
			defer adders.Done()
			for i := 0; i < each; i++ {
				n := g*each + i
				want[n] = mcResult(uint64(n), n)
				if err := mc.AddResult(&want[n]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	readers.Add(1)
	go func() {
		defer readers.Done()
		for !stop.Load() {
			if err := mc.Flush(); err != nil {
				t.Error(err)
				return
			}
			if _, err := mc.FetchAll(); err != nil {
				t.Error(err)
				return
			}
			if _, err := mc.Stats(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	adders.Wait()
	stop.Store(true)
	readers.Wait()
	check(t, mc.Close())
	check(t, s.Close())

	s = openStoreAt(t, path)
	mc = openMC(t, s, "", &McOptions{})
	wantResults(t, mc, want)
}

// Close racing AddResult: every result whose AddResult succeeded is stored, later
// calls get ErrClosed. The same when the store is closed under the handle.
func TestMcCloseRacesAddResult(t *testing.T) {
	for _, closeStore := range []bool{false, true} {
		t.Run(fmt.Sprintf("closeStore=%v", closeStore), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.db")
			s, err := Open(path, &Options{NoSync: true})
			check(t, err)
			mc, err := s.OpenMissionControl("", &McOptions{FlushInterval: time.Millisecond})
			check(t, err)
			var (
				wg    sync.WaitGroup
				added atomic.Int64
				next  atomic.Int64
			)
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n := int(next.Add(1))
						r := mcResult(uint64(n), n)
						err := mc.AddResult(&r)
						if errors.Is(err, ErrClosed) {
							return
						}
						if err != nil {
							t.Error(err)
							return
						}
						added.Add(1)
					}
				}()
			}
			for added.Load() < 500 {
				time.Sleep(time.Millisecond)
			}
			if closeStore {
				check(t, s.Close())
				wg.Wait()
				check(t, mc.Close())
			} else {
				check(t, mc.Close())
				wg.Wait()
				check(t, mc.Close())
				check(t, s.Close())
			}

			s = openStoreAt(t, path)
			st := stats(t, openMC(t, s, "", &McOptions{}))
			if st.Stored != uint64(added.Load()) {
				t.Fatalf("%d results stored, %d added", st.Stored, added.Load())
			}
		})
	}
}
