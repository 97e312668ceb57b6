//! Opening, compacting and closing a store.

use std::ffi::{c_char, CStr};
use std::time::Duration;

use super::boundary::{guard, status};
use super::handle::{self, Castable, Out};
use super::owner::Owned;
use crate::error::{Error, LpsStatus, Result};
use crate::payments::{Options, Store};

/// An open payment store.
///
/// Thread-safety: every function may be called on one `LpsStore*` from many threads at
/// once, except `lps_store_close`, which must not race with any other call on it.
/// Lifetime: from `lps_store_open` until `lps_store_close`; subscriptions may outlive
/// it (they then end).
pub struct LpsStore {
    _private: [u8; 0],
}

impl Castable for LpsStore {
    type Rust = Owned<Store>;
}

/// Store options. Start from `lps_options_default`.
#[repr(C)]
pub struct LpsOptions {
    /// Most operations coalesced into one commit; 0 = default (1000), 1 = no batching.
    pub max_batch_size: u32,
    /// How long a batch stays open at least, for more operations; 0 = default (no
    /// linger: a batch is what arrives while the previous commit's fsync runs).
    pub max_batch_delay_us: u32,
    /// Page cache; 0 = default (32 MiB).
    pub cache_size_bytes: u64,
    /// true: commits are not fsync'd (tests and benchmarks only).
    pub no_sync: bool,
}

/// Writes the default options. NULL is ignored (with `lps_last_error` set).
#[no_mangle]
pub extern "C" fn lps_options_default(out: *mut LpsOptions) {
    let _ = guard("lps_options_default", || {
        let defaults = Options::default();
        Out::new(out, "out")?.write(LpsOptions {
            max_batch_size: defaults.max_batch_size,
            max_batch_delay_us: defaults.max_batch_delay.as_micros() as u32,
            cache_size_bytes: defaults.cache_size_bytes,
            no_sync: defaults.no_sync,
        });
        Ok(())
    });
}

fn options(c: Option<&LpsOptions>) -> Options {
    let Some(c) = c else {
        return Options::default();
    };
    Options {
        max_batch_size: c.max_batch_size,
        max_batch_delay: Duration::from_micros(u64::from(c.max_batch_delay_us)),
        cache_size_bytes: c.cache_size_bytes,
        no_sync: c.no_sync,
        ..Options::default()
    }
}

/// A UTF-8, non-empty string from C (paths, namespaces).
pub(crate) fn c_str<'a>(ptr: *const c_char, name: &'static str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::NullArgument(name));
    }
    // SAFETY: the caller passes a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|e| Error::invalid(format!("{name} is not valid UTF-8: {e}")))?;
    if s.is_empty() {
        return Err(Error::invalid(format!("{name} is empty")));
    }
    Ok(s)
}

/// Opens the store at `path` (UTF-8), creating the file if missing. `opts` NULL means
/// defaults. `LPS_STATUS_LOCKED` if the file is open in this or another process, or is
/// the `-log` of an open store; `LPS_STATUS_IO` if the parent directory is missing or
/// the path is a directory; `LPS_STATUS_VERSION` if a newer library wrote it;
/// `LPS_STATUS_CORRUPT` if it is not a store. A refused file is not written to; the
/// message names the path.
/// `path` may instead be a PostgreSQL URL (`postgres://…`, `postgresql://…`, libpq
/// parameters): the store then lives in that database (docs/postgres.md);
/// `LPS_STATUS_LOCKED` while another writer holds its lease, and every call returns
/// `LPS_STATUS_NOT_LEADER` once this store lost the lease.
#[no_mangle]
pub extern "C" fn lps_store_open(
    path: *const c_char,
    opts: *const LpsOptions,
    out: *mut *mut LpsStore,
) -> LpsStatus {
    status("lps_store_open", || {
        let out = Out::new(out, "out")?;
        let path = c_str(path, "path")?;
        let store = Store::open(path, options(handle::optional_input(opts)))?;
        out.write(handle::into_handle(store));
        Ok(())
    })
}

/// Opens the existing store at `path` (UTF-8) read-only: neither the file nor its
/// write-ahead log is ever written (read-only media, backups, snapshots), a log left by
/// a crash is replayed in memory only, and every change (life cycle, deletions, import,
/// compaction, mission-control results) returns `LPS_STATUS_READ_ONLY`. `opts` NULL
/// means defaults (`cache_size_bytes` applies; the write options do not). Read-only
/// opens share the file; a writer and a read-only open exclude each other
/// (`LPS_STATUS_LOCKED`). A missing file gives `LPS_STATUS_IO` and is not created.
/// A PostgreSQL URL opened read-only takes no lease and writes nothing, so it reads
/// beside the database's live writer (a database without the tables: `LPS_STATUS_IO`).
#[no_mangle]
pub extern "C" fn lps_store_open_read_only(
    path: *const c_char,
    opts: *const LpsOptions,
    out: *mut *mut LpsStore,
) -> LpsStatus {
    status("lps_store_open_read_only", || {
        let out = Out::new(out, "out")?;
        let path = c_str(path, "path")?;
        let options = Options {
            read_only: true,
            ..options(handle::optional_input(opts))
        };
        out.write(handle::into_handle(Store::open(path, options)?));
        Ok(())
    })
}

/// Writes a consistent, compact copy of the store to `dest_path` (UTF-8), a path that
/// must not exist, while other calls go on. The copy holds every operation acknowledged
/// before the call (mission-control results still queued are not), is fsynced (file and
/// directory) and opens as a store of its own. Until complete it is `<dest_path>.partial`,
/// so a copy cut short never carries the name; a later backup to the same path starts
/// that file over. `LPS_STATUS_INVALID_ARGUMENT` if `dest_path` (or `<dest_path>-log`)
/// exists or another backup to it is running; `LPS_STATUS_IO` if its directory is missing
/// or the disk fails. Works on a store opened read-only too.
#[no_mangle]
pub extern "C" fn lps_store_backup(store: *mut LpsStore, dest_path: *const c_char) -> LpsStatus {
    status("lps_store_backup", || {
        let dest = c_str(dest_path, "dest_path")?;
        handle::resource(store, "store")?.backup(dest)
    })
}

/// Reclaims the file space that deletions freed. Other calls on the store wait
/// meanwhile.
#[no_mangle]
pub extern "C" fn lps_store_compact(store: *mut LpsStore) -> LpsStatus {
    status("lps_store_compact", || {
        handle::resource(store, "store")?.compact()
    })
}

/// Finishes queued writes, ends subscriptions, stops every mission-control handle of
/// the store, releases the file and frees the handle (also when the final commit
/// fails: the status then says why). NULL → `LPS_STATUS_OK`. Must not race with other
/// calls on the store.
#[no_mangle]
pub extern "C" fn lps_store_close(store: *mut LpsStore) -> LpsStatus {
    status("lps_store_close", || match handle::release(store)? {
        Some(store) => store.close(),
        None => Ok(()),
    })
}

/// How well group commit coalesces writes (an addition to the base contract, docs/c-api.md,
/// for observability and the benchmark).
#[repr(C)]
pub struct LpsCommitStats {
    /// Durable commits (transactions) so far.
    pub commits: u64,
    /// Write operations committed.
    pub operations: u64,
    /// Most operations one commit carried.
    pub max_batch: u64,
}

/// Reads the store's commit counters since it was opened.
#[no_mangle]
pub extern "C" fn lps_commit_stats(store: *mut LpsStore, out: *mut LpsCommitStats) -> LpsStatus {
    status("lps_commit_stats", || {
        let out = Out::new(out, "out")?;
        let s = handle::resource(store, "store")?.commit_stats();
        out.write(LpsCommitStats {
            commits: s.commits,
            operations: s.operations,
            max_batch: s.max_batch,
        });
        Ok(())
    })
}

/// Cross-checks every index and counter of the store against its payment records (one
/// snapshot; reads the whole store): OK, or `LPS_STATUS_CORRUPT` naming the first
/// violation.
#[no_mangle]
pub extern "C" fn lps_check_integrity(store: *mut LpsStore) -> LpsStatus {
    status("lps_check_integrity", || {
        handle::resource(store, "store")?
            .check_integrity()
            .map(drop)
    })
}
