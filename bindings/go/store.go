package lnpaystore

// #include <stdlib.h>
// #include "lnpaystore.h"
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Options tune a store. The zero value means the library's defaults.
type Options struct {
	// MaxBatchSize caps how many operations share one commit; 0 = default (1000),
	// 1 = no batching.
	MaxBatchSize uint32
	// MaxBatchDelay is how long a batch stays open at least; 0 = no linger (a
	// batch is what arrives while the previous commit's fsync runs). Whole
	// microseconds, at most math.MaxUint32 of them.
	MaxBatchDelay time.Duration
	// CacheSizeBytes is the page cache; 0 = default (32 MiB).
	CacheSizeBytes uint64
	// NoSync skips fsync on commit: tests and benchmarks only.
	NoSync bool
	// ReadOnly opens an existing store without ever writing a byte to it or its
	// log (backups, snapshots, read-only media): a log left by a crash is replayed
	// in memory only, and every change returns an error matching ErrReadOnly.
	// Read-only opens share the file; a writer and a read-only open exclude each
	// other (ErrLocked). A missing file is an error, never created. A PostgreSQL
	// URL opened read-only takes no lease and writes nothing, so it reads beside the
	// database's live writer.
	ReadOnly bool
}

func (o *Options) c() (C.LpsOptions, error) {
	var c C.LpsOptions
	C.lps_options_default(&c)
	if o.MaxBatchDelay < 0 {
		return c, errInvalid("MaxBatchDelay %v is negative", o.MaxBatchDelay)
	}
	// Compare before rounding up: the rounding addition would overflow near MaxInt64.
	if o.MaxBatchDelay > math.MaxUint32*time.Microsecond {
		return c, errInvalid("MaxBatchDelay %v is above %d µs", o.MaxBatchDelay, uint32(math.MaxUint32))
	}
	us := (o.MaxBatchDelay + time.Microsecond - 1) / time.Microsecond
	if o.MaxBatchSize != 0 {
		c.max_batch_size = C.uint32_t(o.MaxBatchSize)
	}
	c.max_batch_delay_us = C.uint32_t(us)
	if o.CacheSizeBytes != 0 {
		c.cache_size_bytes = C.uint64_t(o.CacheSizeBytes)
	}
	c.no_sync = C.bool(o.NoSync)
	return c, nil
}

// Store is an open payment store. It is safe for concurrent use by many goroutines.
type Store struct {
	// mu guards ptr: operations hold it shared, Close exclusively, because the C
	// API forbids lps_store_close to race with any other call on the store.
	mu   sync.RWMutex
	ptr  *C.LpsStore
	subs *subscriptions
}

// Version is the version of the linked library.
func Version() string { return C.GoString(C.lps_version()) }

// ABIVersion is the C ABI version of the linked library.
func ABIVersion() uint32 { return uint32(C.lps_abi_version()) }

// Open opens the store at path, creating the file if missing (its directory must
// exist). opts nil means defaults. A file already open, in this or another process,
// gives an error matching ErrLocked; a file that is not a store, ErrCorrupt; one
// written by a newer library, ErrVersion. path may also be a PostgreSQL URL
// (postgres://user@host/dbname, libpq parameters): the store then lives in that
// database; a second writer gets ErrLocked, and a store that lost the database's
// writer lease gives ErrNotLeader on every call until reopened (docs/postgres.md).
func Open(path string, opts *Options) (*Store, error) {
	if got := ABIVersion(); got != C.LPS_ABI_VERSION {
		return nil, fmt.Errorf("lnpaystore: library ABI version %d, binding built for %d", got, C.LPS_ABI_VERSION)
	}
	if strings.IndexByte(path, 0) >= 0 {
		return nil, errInvalid("path contains a NUL byte")
	}
	var copts *C.LpsOptions
	if opts != nil {
		c, err := opts.c()
		if err != nil {
			return nil, err
		}
		copts = &c
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var ptr *C.LpsStore
	open := func() C.LpsStatus { return C.lps_store_open(cpath, copts, &ptr) }
	if opts != nil && opts.ReadOnly {
		open = func() C.LpsStatus { return C.lps_store_open_read_only(cpath, copts, &ptr) }
	}
	if err := call(open); err != nil {
		return nil, err
	}
	s := &Store{ptr: ptr, subs: newSubscriptions()}
	// Safety net only: a Store must be closed explicitly to learn the final
	// commit's outcome.
	runtime.SetFinalizer(s, func(s *Store) { _ = s.Close() })
	return s, nil
}

// do runs one C call on the open store, sharing the store with other calls.
func (s *Store) do(f func(store *C.LpsStore) C.LpsStatus) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ptr == nil {
		return errClosed("store")
	}
	err := call(func() C.LpsStatus { return f(s.ptr) })
	runtime.KeepAlive(s)
	return err
}

// Close ends every subscription of the store, closes its mission-control namespaces
// (storing what they queued), finishes queued writes and releases the file. It waits
// for operations in progress, also those on its MissionControl handles; these then
// return errors matching ErrClosed, and their Close only releases them. Closing twice is a no-op; any later
// operation returns an error matching ErrClosed. The handle is released also when the
// final commit fails; the error then says why.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr == nil {
		return nil
	}
	runtime.SetFinalizer(s, nil)
	s.subs.closeAll(errClosed("store"))
	ptr := s.ptr
	s.ptr = nil
	err := call(func() C.LpsStatus { return C.lps_store_close(ptr) })
	runtime.KeepAlive(s)
	return err
}

// Backup writes a consistent, compact copy of the store to dest, a path that must
// not exist, while other calls go on. The copy holds every operation acknowledged
// before the call (mission-control results still queued are not), is fsynced (file
// and directory) and opens as a store of its own. Until complete it is
// dest+".partial", so a copy cut short never carries the name; a later backup to dest
// starts that file over. An existing dest (or dest+"-log") gives an error matching
// ErrInvalidArgument; a missing directory, ErrIO. Works on a read-only store too.
func (s *Store) Backup(dest string) error {
	if strings.IndexByte(dest, 0) >= 0 {
		return errInvalid("dest contains a NUL byte")
	}
	cdest := C.CString(dest)
	defer C.free(unsafe.Pointer(cdest))
	return s.do(func(store *C.LpsStore) C.LpsStatus { return C.lps_store_backup(store, cdest) })
}

// Compact reclaims the file space that deletions freed. Other calls wait meanwhile.
func (s *Store) Compact() error {
	return s.do(func(store *C.LpsStore) C.LpsStatus { return C.lps_store_compact(store) })
}

// CheckIntegrity cross-checks every index and counter against the payment records
// (reads the whole store): nil, or an error matching ErrCorrupt that names the first
// violation.
func (s *Store) CheckIntegrity() error {
	return s.do(func(store *C.LpsStore) C.LpsStatus { return C.lps_check_integrity(store) })
}
