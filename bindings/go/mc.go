package lnpaystore

// #include <stdlib.h>
// #include "lnpaystore.h"
import "C"

import (
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Mission control (docs/behaviour.md, Mission control): the results of past payment
// attempts, from which path finding rebuilds its model on start-up. They live in named
// namespaces of the store's file, one MissionControl handle per open namespace.

// McHop is one hop of the route of a mission-control result.
type McHop struct {
	ChannelID        uint64
	PubKey           PubKey
	AmtToForward     MilliSatoshi
	HasBlindingPoint bool
	HasCustomRecords bool
}

// McRoute is the minimal route that mission control keeps of an attempt.
type McRoute struct {
	SourcePubKey PubKey
	TotalAmount  MilliSatoshi
	Hops         []McHop // nil = none
}

// McFailure is the failure of an attempt. Both parts are optional: &McFailure{} is a
// failure with neither a source index nor a message.
type McFailure struct {
	// SourceIndex is the index of the hop that reported the failure; nil = unknown.
	SourceIndex *uint8
	// Message is the encoded wire failure message; empty = none (read back as nil).
	Message []byte
}

// McResult is the outcome of one payment attempt.
//
// Results are keyed by (TimeReply, ID, Route.SourcePubKey): FetchAll returns them in
// order of TimeReply, and a result with the key of a stored one is stored once.
//
// Times are stored as unix nanoseconds and must not be before 1970 (ErrInvalidArgument);
// as elsewhere in this package, the zero Time is stored as 0 and 0 reads back as the
// zero Time.
type McResult struct {
	ID            uint64
	TimeForwarded time.Time
	TimeReply     time.Time
	Route         McRoute
	// Failure is nil for a successful attempt.
	Failure *McFailure
}

// McOptions tune one mission-control namespace. Unlike Options, the zero value is
// not the default: MaxRecords 0 means unlimited. Pass nil to OpenMissionControl, or
// start from DefaultMcOptions, for the library's defaults (1000 records, 1 s).
type McOptions struct {
	// MaxRecords is how many results the namespace keeps, the oldest (by TimeReply)
	// evicted first; 0 = unlimited.
	MaxRecords uint32
	// FlushInterval is how long added results stay queued before one transaction
	// stores them; 0 = the default (1 s). Rounded up to whole milliseconds, at most
	// math.MaxUint32 of them.
	FlushInterval time.Duration
}

// DefaultMcOptions are the library's defaults: 1000 records, flushed every second.
func DefaultMcOptions() McOptions {
	var c C.LpsMcOptions
	C.lps_mc_options_default(&c)
	return McOptions{
		MaxRecords:    uint32(c.max_records),
		FlushInterval: time.Duration(c.flush_interval_ms) * time.Millisecond,
	}
}

func (o *McOptions) c() (C.LpsMcOptions, error) {
	var c C.LpsMcOptions
	C.lps_mc_options_default(&c)
	if o.FlushInterval < 0 {
		return c, errInvalid("FlushInterval %v is negative", o.FlushInterval)
	}
	if o.FlushInterval > math.MaxUint32*time.Millisecond {
		return c, errInvalid("FlushInterval %v is above %d ms", o.FlushInterval, uint32(math.MaxUint32))
	}
	c.max_records = C.uint32_t(o.MaxRecords)
	c.flush_interval_ms = C.uint32_t((o.FlushInterval + time.Millisecond - 1) / time.Millisecond)
	return c, nil
}

// McStats are a namespace's counters, for observability.
type McStats struct {
	Queued           uint64 // results waiting for the next flush
	Stored           uint64 // results in the store now
	Flushes          uint64 // transactions that stored results
	Wakeups          uint64 // times the flusher woke up (stays 0 while idle)
	Evicted          uint64 // results removed, or never written, to respect MaxRecords
	CorruptedRemoved uint64 // undecodable entries deleted
}

// MissionControl is an open mission-control namespace. It is safe for concurrent use
// by many goroutines.
//
// AddResult only queues; a background flusher of the library stores the queue once
// per FlushInterval in one transaction, and sleeps while nothing is queued. Flush
// stores the queue now; Close (or closing the store) stores it and stops the flusher.
//
// Close it when done. Closing its Store first also stores what is queued; the
// MissionControl then returns errors matching ErrClosed, and its Close still releases
// it. A live MissionControl keeps its Store reachable.
type MissionControl struct {
	store *Store
	ns    string

	// mu guards ptr: calls hold it shared, Close exclusively, because the C API
	// forbids lps_mc_close to race with any other call on the handle. Every call
	// also holds store.mu shared (taken first), so lps_store_close never runs
	// during a call on the handle.
	mu  sync.RWMutex
	ptr *C.LpsMissionControl
}

// openMissionControls counts the C handles opened and not yet released (tests
// check that each is released exactly once).
var openMissionControls atomic.Int64

// OpenMissionControl opens a namespace of the store ("" = "default"; 1 to 255 bytes of
// UTF-8) and starts its flusher. opts nil means the defaults (1000 records, 1 s); note
// that a non-nil opts with MaxRecords 0 means unlimited. A namespace already open on
// this store gives an error matching ErrLocked.
func (s *Store) OpenMissionControl(namespace string, opts *McOptions) (*MissionControl, error) {
	if strings.IndexByte(namespace, 0) >= 0 {
		return nil, errInvalid("namespace contains a NUL byte")
	}
	var copts *C.LpsMcOptions
	if opts != nil {
		c, err := opts.c()
		if err != nil {
			return nil, err
		}
		copts = &c
	}
	var cns *C.char // NULL: "default"
	if namespace == "" {
		namespace = "default"
	} else {
		cns = C.CString(namespace)
		defer C.free(unsafe.Pointer(cns))
	}
	var ptr *C.LpsMissionControl
	err := s.do(func(store *C.LpsStore) C.LpsStatus { return C.lps_mc_open(store, cns, copts, &ptr) })
	if err != nil {
		return nil, err
	}
	openMissionControls.Add(1)
	mc := &MissionControl{store: s, ns: namespace, ptr: ptr}
	// Safety net only: Close reports whether the last flush succeeded.
	runtime.SetFinalizer(mc, func(mc *MissionControl) { _ = mc.Close() })
	return mc, nil
}

// Namespace is the name of the namespace ("default" when opened with "").
func (mc *MissionControl) Namespace() string { return mc.ns }

// do runs one C call on the handle, sharing it with other calls. After the store was
// closed, the library answers LPS_STATUS_CLOSED on the still valid handle.
func (mc *MissionControl) do(f func(*C.LpsMissionControl) C.LpsStatus) error {
	mc.store.mu.RLock()
	defer mc.store.mu.RUnlock()
	mc.mu.RLock()
	defer mc.mu.RUnlock()
	if mc.ptr == nil {
		return errClosed("mission control")
	}
	err := call(func() C.LpsStatus { return f(mc.ptr) })
	runtime.KeepAlive(mc)
	return err
}

// mcNanos converts a result's time; the int64 range is checked here (UnixNano is
// undefined outside it), the sign by the library.
func mcNanos(field string, t time.Time) (C.int64_t, error) {
	if !t.IsZero() && t.Before(minNanoTime) || t.After(maxNanoTime) {
		return 0, errInvalid("%s %v is outside the range of unix nanoseconds", field, t)
	}
	return C.int64_t(unixNanos(t)), nil
}

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

func (a *arena) mcResult(r *McResult) (*C.LpsMcResult, error) {
	if r == nil {
		return nil, nil
	}
	fwd, err := mcNanos("TimeForwarded", r.TimeForwarded)
	if err != nil {
		return nil, err
	}
	reply, err := mcNanos("TimeReply", r.TimeReply)
	if err != nil {
		return nil, err
	}
	c := alloc[C.LpsMcResult](a)
	c.id = C.uint64_t(r.ID)
	c.time_fwd_ns = fwd
	c.time_reply_ns = reply
	c.route.source_pub_key = c33((*[33]byte)(&r.Route.SourcePubKey))
	c.route.total_amount_msat = C.uint64_t(r.Route.TotalAmount)
	if n := len(r.Route.Hops); n > 0 {
		hops := allocSlice[C.LpsMcHop](a, n)
		for i := range r.Route.Hops {
			h := &r.Route.Hops[i]
			hops[i].channel_id = C.uint64_t(h.ChannelID)
			hops[i].pub_key = c33((*[33]byte)(&h.PubKey))
			hops[i].amt_to_fwd_msat = C.uint64_t(h.AmtToForward)
			hops[i].has_blinding_point = C.bool(h.HasBlindingPoint)
			hops[i].has_custom_records = C.bool(h.HasCustomRecords)
		}
		c.route.hops, c.route.hops_len = &hops[0], C.size_t(n)
	}
	if f := r.Failure; f == nil {
		c.success = true
	} else {
		if f.SourceIndex != nil {
			c.has_failure_source_index = true
			c.failure_source_index = C.uint8_t(*f.SourceIndex)
		}
		c.failure_message = a.bytes(f.Message)
	}
	return c, nil
}

func goMcResult(c *C.LpsMcResult) McResult {
	r := McResult{
		ID:            uint64(c.id),
		TimeForwarded: fromUnixNanos(int64(c.time_fwd_ns)),
		TimeReply:     fromUnixNanos(int64(c.time_reply_ns)),
		Route: McRoute{
			SourcePubKey: go33(&c.route.source_pub_key),
			TotalAmount:  MilliSatoshi(c.route.total_amount_msat),
		},
	}
	if c.route.hops_len > 0 && c.route.hops != nil {
		hops := unsafe.Slice(c.route.hops, int(c.route.hops_len))
		r.Route.Hops = make([]McHop, len(hops))
		for i := range hops {
			r.Route.Hops[i] = McHop{
				ChannelID:        uint64(hops[i].channel_id),
				PubKey:           go33(&hops[i].pub_key),
				AmtToForward:     MilliSatoshi(hops[i].amt_to_fwd_msat),
				HasBlindingPoint: bool(hops[i].has_blinding_point),
				HasCustomRecords: bool(hops[i].has_custom_records),
			}
		}
	}
	if !c.success {
		f := &McFailure{Message: goBytes(c.failure_message)}
		if c.has_failure_source_index {
			i := uint8(c.failure_source_index)
			f.SourceIndex = &i
		}
		r.Failure = f
	}
	return r
}

// AddResult queues a result for the next flush; it never waits for the disk. A nil
// result gives ErrNullArgument; a time before 1970, ErrInvalidArgument.
func (mc *MissionControl) AddResult(r *McResult) error {
	var a arena
	defer a.free()
	c, err := a.mcResult(r)
	if err != nil {
		return err
	}
	return mc.do(func(p *C.LpsMissionControl) C.LpsStatus { return C.lps_mc_add_result(p, c) })
}

// Flush stores what is queued now, in one transaction.
func (mc *MissionControl) Flush() error {
	return mc.do(func(p *C.LpsMissionControl) C.LpsStatus { return C.lps_mc_flush(p) })
}

// FetchAll returns every stored result in key order, that is by TimeReply (then ID
// and source key); nil when none. Queued results are included once flushed. Entries
// that fail to decode are deleted and counted in McStats.CorruptedRemoved.
func (mc *MissionControl) FetchAll() ([]McResult, error) {
	var list *C.LpsMcResultList
	err := mc.do(func(p *C.LpsMissionControl) C.LpsStatus { return C.lps_mc_fetch_all(p, &list) })
	if err != nil {
		return nil, err
	}
	defer C.lps_mc_result_list_free(list)
	if list.len == 0 || list.results == nil {
		return nil, nil
	}
	cs := unsafe.Slice(list.results, int(list.len))
	out := make([]McResult, len(cs))
	for i := range cs {
		out[i] = goMcResult(&cs[i])
	}
	return out, nil
}

// Clear removes every stored result of the namespace and drops what is queued.
func (mc *MissionControl) Clear() error {
	return mc.do(func(p *C.LpsMissionControl) C.LpsStatus { return C.lps_mc_clear(p) })
}

// Stats reads the namespace's counters.
func (mc *MissionControl) Stats() (McStats, error) {
	var c C.LpsMcStats
	if err := mc.do(func(p *C.LpsMissionControl) C.LpsStatus { return C.lps_mc_stats(p, &c) }); err != nil {
		return McStats{}, err
	}
	return McStats{
		Queued:           uint64(c.queued),
		Stored:           uint64(c.stored),
		Flushes:          uint64(c.flushes),
		Wakeups:          uint64(c.wakeups),
		Evicted:          uint64(c.evicted),
		CorruptedRemoved: uint64(c.corrupted_removed),
	}, nil
}

// Close stores what is queued, stops the flusher and releases the namespace (it may
// then be opened again). It waits for calls in progress. Closing twice is a no-op;
// any later call returns an error matching ErrClosed. The handle is released also when
// the last flush fails; the error then says why. After its Store was closed, Close
// only releases the handle and returns nil.
func (mc *MissionControl) Close() error {
	mc.store.mu.RLock()
	defer mc.store.mu.RUnlock()
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.ptr == nil {
		return nil
	}
	runtime.SetFinalizer(mc, nil)
	ptr := mc.ptr
	mc.ptr = nil
	openMissionControls.Add(-1)
	err := call(func() C.LpsStatus { return C.lps_mc_close(ptr) })
	runtime.KeepAlive(mc)
	return err
}
