//! Mission control: namespaced results of past attempts (docs/behaviour.md, Mission
//! control).

use std::ffi::c_char;
use std::time::Duration;

use super::arena::{self, Arena};
use super::boundary::status;
use super::handle::{self, Castable, Out};
use super::owner::Owned;
use super::store::{self, LpsStore};
use super::types::LpsBytes;
use super::view;
use crate::error::{LpsStatus, Result};
use crate::missioncontrol::{McOptions, MissionControl};
use crate::model::{McFailure, McHop, McResult, McRoute};

/// A handle on one mission-control namespace of a store.
///
/// Thread-safety: every function may be called from many threads at once, except
/// `lps_mc_close`, which must not race with other calls on the handle. Lifetime: from
/// `lps_mc_open` until `lps_mc_close`. Closing the store closes the handle (storing
/// what it queued); later calls on it give `LPS_STATUS_CLOSED`, and `lps_mc_close`
/// still frees it.
pub struct LpsMissionControl {
    _private: [u8; 0],
}

impl Castable for LpsMissionControl {
    type Rust = Owned<MissionControl>;
}

/// Per-namespace options. Start from `lps_mc_options_default`.
#[repr(C)]
pub struct LpsMcOptions {
    /// Most results kept, the oldest (by time of reply) evicted first; 0 = unlimited;
    /// `lps_mc_options_default` gives 1000. Opening with a lower limit than the
    /// namespace holds evicts the oldest at once.
    pub max_records: u32,
    /// How long results stay queued before one transaction stores them; 0 = default
    /// (1000).
    pub flush_interval_ms: u32,
}

/// One hop of a result's route.
#[repr(C)]
pub struct LpsMcHop {
    pub channel_id: u64,
    pub pub_key: [u8; 33],
    /// Amount to forward (msat); `amt_to_forward_msat` in Rust, Go and Python.
    pub amt_to_fwd_msat: u64,
    pub has_blinding_point: bool,
    pub has_custom_records: bool,
}

/// The route of a result.
#[repr(C)]
pub struct LpsMcRoute {
    pub source_pub_key: [u8; 33],
    pub total_amount_msat: u64,
    pub hops: *const LpsMcHop,
    pub hops_len: usize,
}

/// The outcome of one attempt. Input: borrowed for the call. Output: owned by the
/// enclosing list.
#[repr(C)]
pub struct LpsMcResult {
    pub id: u64,
    /// Time forwarded, unix nanoseconds (≥ 0); `time_forwarded` in Rust, Go and Python.
    pub time_fwd_ns: i64,
    /// Unix nanoseconds (≥ 0); results are keyed and ordered by it.
    pub time_reply_ns: i64,
    pub route: LpsMcRoute,
    /// true: no failure record (the failure fields are ignored). Note that a zeroed
    /// struct is a failure (with neither source index nor message).
    pub success: bool,
    pub has_failure_source_index: bool,
    pub failure_source_index: u8,
    /// Encoded wire failure message; len 0 = none.
    pub failure_message: LpsBytes,
}

/// Stored results in key order. Lifetime: released with `lps_mc_result_list_free`.
/// Thread-safety: immutable.
#[repr(C)]
pub struct LpsMcResultList {
    pub results: *const LpsMcResult,
    pub len: usize,
}

#[repr(C)]
pub(crate) struct OwnedMcResultList {
    c: LpsMcResultList,
    _arena: Arena,
}

impl Castable for LpsMcResultList {
    type Rust = OwnedMcResultList;
}

/// Counters for observability.
#[repr(C)]
pub struct LpsMcStats {
    /// Results waiting for the next flush.
    pub queued: u64,
    /// Results in the store now.
    pub stored: u64,
    /// Transactions committed by flushes (the flusher's, lps_mc_flush and close).
    pub flushes: u64,
    /// Times the flusher thread woke up (0 while idle).
    pub wakeups: u64,
    /// Results removed to respect max_records (also queued ones older than everything
    /// kept, never written, and the trim when a namespace is opened with a lower limit).
    pub evicted: u64,
    /// Undecodable entries deleted.
    pub corrupted_removed: u64,
}

/// Writes the default options (1000 records, 1000 ms). NULL is ignored (with
/// `lps_last_error` set).
#[no_mangle]
pub extern "C" fn lps_mc_options_default(out: *mut LpsMcOptions) {
    let _ = super::boundary::guard("lps_mc_options_default", || {
        let defaults = McOptions::default();
        Out::new(out, "out")?.write(LpsMcOptions {
            max_records: defaults.max_records,
            flush_interval_ms: defaults.flush_interval.as_millis() as u32,
        });
        Ok(())
    });
}

fn options(c: Option<&LpsMcOptions>) -> McOptions {
    let defaults = McOptions::default();
    match c {
        None => defaults,
        Some(c) => McOptions {
            max_records: c.max_records,
            flush_interval: match c.flush_interval_ms {
                0 => defaults.flush_interval,
                ms => Duration::from_millis(u64::from(ms)),
            },
        },
    }
}

/// Opens namespace `ns` (UTF-8, 1–255 bytes; NULL = "default") in the store's file and
/// starts its flusher. `LPS_STATUS_LOCKED` if the namespace is already open on this
/// store. `opts` NULL means defaults.
#[no_mangle]
pub extern "C" fn lps_mc_open(
    store: *mut LpsStore,
    ns: *const c_char,
    opts: *const LpsMcOptions,
    out: *mut *mut LpsMissionControl,
) -> LpsStatus {
    status("lps_mc_open", || {
        let out = Out::new(out, "out")?;
        let store = handle::resource(store, "store")?;
        let ns = match ns.is_null() {
            true => "default",
            false => store::c_str(ns, "ns")?,
        };
        let mc = store.open_mission_control(ns, options(handle::optional_input(opts)))?;
        out.write(handle::into_handle(mc));
        Ok(())
    })
}

fn mc_result(c: &LpsMcResult) -> Result<McResult> {
    let hops = view::caller_slice(
        c.route.hops,
        c.route.hops_len,
        view::LPS_MAX_ARRAY_LEN,
        "result.route.hops",
    )?;
    let failure = match c.success {
        true => None,
        false => Some(McFailure {
            source_index: c.has_failure_source_index.then_some(c.failure_source_index),
            message: Some(view::bytes(&c.failure_message, "result.failure_message")?)
                .filter(|m| !m.is_empty())
                .map(<[u8]>::to_vec),
        }),
    };
    Ok(McResult {
        id: c.id,
        time_forwarded_ns: c.time_fwd_ns,
        time_reply_ns: c.time_reply_ns,
        route: McRoute {
            source_pub_key: c.route.source_pub_key,
            total_amount_msat: c.route.total_amount_msat,
            hops: hops
                .iter()
                .map(|h| McHop {
                    channel_id: h.channel_id,
                    pub_key: h.pub_key,
                    amt_to_forward_msat: h.amt_to_fwd_msat,
                    has_blinding_point: h.has_blinding_point,
                    has_custom_records: h.has_custom_records,
                })
                .collect(),
        },
        failure,
    })
}

fn mc<'a>(ptr: *mut LpsMissionControl) -> Result<&'a MissionControl> {
    handle::resource(ptr, "mc")
}

/// Queues a result for the next flush; never waits for the disk. Negative times are
/// `LPS_STATUS_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn lps_mc_add_result(
    mc: *mut LpsMissionControl,
    result: *const LpsMcResult,
) -> LpsStatus {
    status("lps_mc_add_result", || {
        let mc = self::mc(mc)?;
        mc.add_result(mc_result(handle::input(result, "result")?)?)
    })
}

/// Stores what is queued now, in one transaction.
#[no_mangle]
pub extern "C" fn lps_mc_flush(mc: *mut LpsMissionControl) -> LpsStatus {
    status("lps_mc_flush", || self::mc(mc)?.flush())
}

/// Every stored result in key order (queued results once flushed). Undecodable entries
/// are deleted and counted in `corrupted_removed`. Free the list with
/// `lps_mc_result_list_free`.
#[no_mangle]
pub extern "C" fn lps_mc_fetch_all(
    mc: *mut LpsMissionControl,
    out: *mut *mut LpsMcResultList,
) -> LpsStatus {
    status("lps_mc_fetch_all", || {
        let out = Out::new(out, "out")?;
        let results = self::mc(mc)?.fetch_all()?;
        let mut arena = Arena::default();
        let views: Vec<LpsMcResult> = results.iter().map(|r| result_view(&mut arena, r)).collect();
        arena.keep(results);
        let (results, len) = arena.slice(views);
        out.write(handle::into_raw(OwnedMcResultList {
            c: LpsMcResultList { results, len },
            _arena: arena,
        }));
        Ok(())
    })
}

fn result_view(arena: &mut Arena, r: &McResult) -> LpsMcResult {
    let hops: Vec<LpsMcHop> = r
        .route
        .hops
        .iter()
        .map(|h| LpsMcHop {
            channel_id: h.channel_id,
            pub_key: h.pub_key,
            amt_to_fwd_msat: h.amt_to_forward_msat,
            has_blinding_point: h.has_blinding_point,
            has_custom_records: h.has_custom_records,
        })
        .collect();
    let (hops, hops_len) = arena.slice(hops);
    let failure = r.failure.as_ref();
    LpsMcResult {
        id: r.id,
        time_fwd_ns: r.time_forwarded_ns,
        time_reply_ns: r.time_reply_ns,
        route: LpsMcRoute {
            source_pub_key: r.route.source_pub_key,
            total_amount_msat: r.route.total_amount_msat,
            hops,
            hops_len,
        },
        success: failure.is_none(),
        has_failure_source_index: failure.is_some_and(|f| f.source_index.is_some()),
        failure_source_index: failure.and_then(|f| f.source_index).unwrap_or(0),
        failure_message: failure
            .and_then(|f| f.message.as_deref())
            .map_or(LpsBytes::EMPTY, arena::bytes),
    }
}

/// Removes every stored result of the namespace and drops what is queued.
#[no_mangle]
pub extern "C" fn lps_mc_clear(mc: *mut LpsMissionControl) -> LpsStatus {
    status("lps_mc_clear", || self::mc(mc)?.clear())
}

/// Reads the handle's counters.
#[no_mangle]
pub extern "C" fn lps_mc_stats(mc: *mut LpsMissionControl, out: *mut LpsMcStats) -> LpsStatus {
    status("lps_mc_stats", || {
        let out = Out::new(out, "out")?;
        let s = self::mc(mc)?.stats()?;
        out.write(LpsMcStats {
            queued: s.queued,
            stored: s.stored,
            flushes: s.flushes,
            wakeups: s.wakeups,
            evicted: s.evicted,
            corrupted_removed: s.corrupted_removed,
        });
        Ok(())
    })
}

/// Stores what is queued, stops the flusher and frees the handle (also when that last
/// flush fails: the status says why). NULL → `LPS_STATUS_OK`. Must not race with other
/// calls on the handle.
#[no_mangle]
pub extern "C" fn lps_mc_close(mc: *mut LpsMissionControl) -> LpsStatus {
    status("lps_mc_close", || match handle::release(mc)? {
        Some(mc) => mc.close(),
        None => Ok(()),
    })
}

/// Releases a result list. NULL is ignored.
#[no_mangle]
pub extern "C" fn lps_mc_result_list_free(list: *mut LpsMcResultList) {
    handle::free("lps_mc_result_list_free", list);
}
