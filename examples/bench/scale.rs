//! `scale`: a store of 5,800,000 payments (the size of the biggest lnd nodes) next to one
//! of 100,000, measured in the same run: opening clean and after a kill, the reads,
//! deleting the failed payments while 16 threads pay, compaction, peak RSS.
//!
//! The stores are filled by bulk import (`Store::import_payments`, without fsync, then
//! closed). `--store DIR` keeps them in DIR between runs: a later run finds them filled
//! and only re-imports the failed payments the previous run's `delete` removed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use lnpaystore::*;

use crate::fixture::{attempt, creation, fast, paired_medians, payment, peak_rss_kib};
use crate::import::{failed, settled};
use crate::maintenance::{delete_while_paying, while_paying};
use crate::reads::{kill_writer_at_full_log, open_and_resume};
use crate::report::{ms, Figure};
use crate::Args;

const SECOND: i64 = 1_000_000_000;
const VALUE: u64 = 100_000;
/// Creation times 7.2 s apart: a 2-hour window holds 1,000 payments at any size.
const SPACING_MS: i64 = 7_200;
const START_S: i64 = 1_600_000_000;
const IN_FLIGHT: u64 = 100;
/// Payments built in memory at a time while filling.
const FILL_CHUNK: u64 = 20_000;
const RUNS: usize = 21;
/// How long the 16 threads pay without the delete, for the machine's own slowest call.
const QUIET: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Settled,
    /// Settled in two shards after a failed one.
    SettledMpp,
    Failed,
    InFlight,
}

/// Payment `n` (1-based) of a store of `total`: the last 100 in flight, 5 in 29 failed
/// (1,000,000 of 5,800,000), 1 in 10 of the rest multi-shard, the others one shard.
fn shape(n: u64, total: u64) -> Shape {
    if n > total - IN_FLIGHT {
        Shape::InFlight
    } else if n % 29 < 5 {
        Shape::Failed
    } else if n % 10 == 7 {
        Shape::SettledMpp
    } else {
        Shape::Settled
    }
}

fn scale_payment(n: u64, total: u64) -> ImportPayment {
    let (pre, hash) = payment(n);
    let mpp = Some(Mpp {
        payment_addr: [9; 32],
        total_msat: VALUE,
    });
    let (htlcs, failure_reason) = match shape(n, total) {
        Shape::Settled => (vec![settled(attempt(1, VALUE, None), pre)], None),
        Shape::SettledMpp => (
            vec![
                failed(attempt(1, VALUE / 2, mpp)),
                settled(attempt(2, VALUE / 2, mpp), pre),
                settled(attempt(3, VALUE / 2, mpp), pre),
            ],
            None,
        ),
        Shape::Failed => (
            vec![failed(attempt(1, VALUE, None))],
            Some(FailureReason::NoRoute),
        ),
        Shape::InFlight => (
            vec![HtlcAttempt {
                info: attempt(1, VALUE, None),
                settle: None,
                failure: None,
            }],
            None,
        ),
    };
    let created = START_S * SECOND + n as i64 * SPACING_MS * 1_000_000;
    ImportPayment {
        sequence_num: n,
        hash,
        info: creation(VALUE, created),
        htlcs,
        failure_reason,
    }
}

fn failed_count(total: u64) -> u64 {
    (1..=total)
        .filter(|&n| shape(n, total) == Shape::Failed)
        .count() as u64
}

/// Imports the payments of `1..=total` that `wanted` picks, in chunks, without fsync.
fn import(store: &Store, total: u64, wanted: impl Fn(u64) -> bool) {
    let mut n = 1;
    while n <= total {
        let end = (n + FILL_CHUNK).min(total + 1);
        let chunk: Vec<ImportPayment> = (n..end)
            .filter(|&n| wanted(n))
            .map(|n| scale_payment(n, total))
            .collect();
        let expected = chunk.len() as u64;
        let report = store.import_payments(chunk).expect("import");
        assert_eq!(
            report.imported,
            expected,
            "refused: {:?}",
            report.refused.first()
        );
        n = end;
    }
}

/// A store of `total` payments in `dir`, filled unless a previous run left it filled
/// (a marker file says so). Returns its path and the time spent filling. The filling
/// runs in a child process (`scale-fill`), so that its memory, which the allocator
/// keeps after it is freed, does not count in the measured process's RSS.
fn ensure_filled(dir: &Path, total: u64) -> (PathBuf, Duration) {
    let started = Instant::now();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["scale-fill", dir.to_str().unwrap(), &total.to_string()])
        .status()
        .expect("start the filling child");
    assert!(status.success(), "filling the {total}-payment store failed");
    (store_path(dir, total), started.elapsed())
}

fn store_path(dir: &Path, total: u64) -> PathBuf {
    dir.join(format!("scale-{total}.db"))
}

/// The `scale-fill DIR TOTAL` child: fills the store (see `ensure_filled`).
pub fn fill_child(dir: &str, total: &str) {
    let (dir, total) = (Path::new(dir), total.parse().expect("a payment count"));
    let path = store_path(dir, total);
    let marker = dir.join(format!("scale-{total}.filled"));
    if marker.exists() {
        // A previous run deleted the failed payments: import them again.
        let store = Store::open(&path, fast()).expect("open the kept store");
        if store.payment_counts().unwrap().failed == 0 {
            import(&store, total, |n| shape(n, total) == Shape::Failed);
        }
        store.close().unwrap();
    } else {
        // Missing or left half-filled by an interrupted run: start over.
        let mut log = path.as_os_str().to_owned();
        log.push("-log");
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(PathBuf::from(log));
        let store = Store::open(&path, fast()).expect("create the store");
        import(&store, total, |_| true);
        store.close().unwrap();
        std::fs::write(&marker, b"").expect("write the marker");
    }
}

/// Fails the payments a killed writer left in flight (numbered past the filled ones),
/// so that every run finds the store's 100 in flight, and the delete takes them.
fn fail_leftovers(path: &Path, total: u64) {
    let store = Store::open(path, Options::default()).unwrap();
    for p in store.fetch_inflight_payments().unwrap() {
        if p.sequence_num <= total {
            continue;
        }
        for h in p
            .htlcs
            .iter()
            .filter(|h| h.settle.is_none() && h.failure.is_none())
        {
            let fail = FailInfo {
                fail_time_ns: 2,
                message: vec![0x10, 0x07],
                reason: HtlcFailReason::Message,
                failure_source_index: 1,
            };
            store
                .fail_attempt(&p.hash, h.info.attempt_id, fail)
                .unwrap();
        }
        store.fail_payment(&p.hash, FailureReason::NoRoute).unwrap();
    }
    store.close().unwrap();
}

/// Resets the process's peak RSS, so that the figure covers the measured steps.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", b"5");
}

/// The 1-minute load average, printed beside the figures (the machine is shared).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// A payment number range no earlier run on a kept store has used.
fn fresh_base() -> u64 {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    1_000_000_000_000_000 + (secs % 1_000_000) * 10_000_000_000
}

/// Medians of the reads on the small and the large store, timed in alternation.
struct Reads {
    inflight: (Duration, Duration),
    forwards: (Duration, Duration),
    reversed: (Duration, Duration),
    window: (Duration, Duration),
    counts: (Duration, Duration),
}

fn reads(small: (&Store, u64), large: (&Store, u64)) -> Reads {
    let inflight = |store: &Store| {
        let got = store.fetch_inflight_payments().unwrap();
        assert!(got.len() as u64 >= IN_FLIGHT);
    };
    let page = |(store, total): (&Store, u64), reversed| {
        let q = Query {
            index_offset: total / 2,
            max_payments: 100,
            include_incomplete: true,
            reversed,
            ..Query::default()
        };
        assert_eq!(store.query_payments(&q).unwrap().payments.len(), 100);
    };
    let window = |(store, total): (&Store, u64)| {
        let start = START_S + (total as i64 / 2) * SPACING_MS / 1000;
        let q = Query {
            max_payments: 1_000,
            include_incomplete: true,
            creation_date_start: start,
            creation_date_end: start + 7_200 - 1,
            ..Query::default()
        };
        assert_eq!(store.query_payments(&q).unwrap().payments.len(), 1_000);
    };
    let counts = |store: &Store| {
        store.payment_counts().unwrap();
    };
    Reads {
        inflight: paired_medians(RUNS, || inflight(small.0), || inflight(large.0)),
        forwards: paired_medians(RUNS, || page(small, false), || page(large, false)),
        reversed: paired_medians(RUNS, || page(small, true), || page(large, true)),
        window: paired_medians(RUNS, || window(small), || window(large)),
        counts: paired_medians(RUNS * 5, || counts(small.0), || counts(large.0)),
    }
}

/// File bytes per payment now, and after compaction; and the compaction's time.
fn compact(path: &Path) -> (f64, f64, Duration) {
    let store = Store::open(path, Options::default()).unwrap();
    let total = store.payment_counts().unwrap().total as f64;
    let before = std::fs::metadata(path).unwrap().len() as f64;
    let start = Instant::now();
    store.compact().unwrap();
    let took = start.elapsed();
    store.close().unwrap();
    let after = std::fs::metadata(path).unwrap().len() as f64;
    (before / total, after / total, took)
}

pub fn scale(a: &Args) -> Vec<Figure> {
    let temp = match &a.store {
        Some(_) => None,
        None => Some(tempfile::tempdir().expect("temp dir")),
    };
    let dir = a
        .store
        .clone()
        .unwrap_or_else(|| temp.as_ref().unwrap().path().to_path_buf());
    std::fs::create_dir_all(&dir).expect("create the store directory");
    let (large_n, small_n) = (a.scale, a.large);
    let (small_path, _) = ensure_filled(&dir, small_n);
    let (large_path, fill) = ensure_filled(&dir, large_n);
    let load = load_average();
    reset_peak_rss();

    let clean = paired_medians(
        5,
        || {
            open_and_resume(&small_path);
        },
        || {
            open_and_resume(&large_path);
        },
    );
    let r = {
        let small = Store::open(&small_path, Options::default()).unwrap();
        let large = Store::open(&large_path, Options::default()).unwrap();
        let r = reads((&small, small_n), (&large, large_n));
        small.close().unwrap();
        large.close().unwrap();
        r
    };
    let base = fresh_base();
    let small_log = kill_writer_at_full_log(&small_path, base);
    let small_kill = open_and_resume(&small_path);
    let large_log = kill_writer_at_full_log(&large_path, base + 2_000_000_000);
    let large_kill = open_and_resume(&large_path);
    fail_leftovers(&small_path, small_n);
    fail_leftovers(&large_path, large_n);

    let store = Store::open(&large_path, Options::default()).unwrap();
    // What the machine gives anyway: the same load for a while without the delete.
    let quiet = while_paying(&store, base + 6_000_000_000, || std::thread::sleep(QUIET));
    let before = store.payment_counts().unwrap();
    let del = delete_while_paying(&store, base + 4_000_000_000);
    let after = store.payment_counts().unwrap();
    store.close().unwrap();
    let counts_right = del.deleted == before.failed
        && del.deleted >= failed_count(large_n)
        && after.failed == 0
        && after.total == before.total - del.deleted + del.paid;
    let rss_before_compact = peak_rss_kib();
    reset_peak_rss();
    let (bytes, bytes_compacted, compact_took) = compact(&large_path);
    let rss_compact = peak_rss_kib();
    let mib_of_kib = |kib: u64| kib as f64 / 1024.0;

    let ratio = |(small, large): (Duration, Duration)| ms(large) / ms(small);
    let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
    vec![
        Figure::new("payments", large_n as f64, "payments"),
        Figure::new("beside", small_n as f64, "payments"),
        Figure::new("load_average", load, ""),
        Figure::new("fill_s", fill.as_secs_f64(), "s"),
        Figure::new("open_clean_ms", ms(clean.1), "ms").at_most(100.0),
        Figure::new("open_clean_beside_ms", ms(clean.0), "ms"),
        Figure::new("open_after_kill_ms", ms(large_kill), "ms").at_most(1000.0),
        Figure::new("open_after_kill_beside_ms", ms(small_kill), "ms"),
        Figure::new("log_replayed_mib", mib(large_log), "MiB"),
        Figure::new("log_replayed_beside_mib", mib(small_log), "MiB"),
        Figure::new("inflight_ms", ms(r.inflight.1), "ms"),
        Figure::new("inflight_ratio", ratio(r.inflight), "x").at_most(1.5),
        Figure::new("page_forwards_ms", ms(r.forwards.1), "ms"),
        Figure::new("page_forwards_ratio", ratio(r.forwards), "x").at_most(1.5),
        Figure::new("page_reversed_ms", ms(r.reversed.1), "ms"),
        Figure::new("page_reversed_ratio", ratio(r.reversed), "x").at_most(1.5),
        Figure::new("window_ms", ms(r.window.1), "ms"),
        Figure::new("window_ratio", ratio(r.window), "x").at_most(1.5),
        Figure::new("counts_ms", ms(r.counts.1), "ms"),
        Figure::new("counts_ratio", ratio(r.counts), "x").at_most(1.5),
        Figure::new("deleted", del.deleted as f64, "payments"),
        Figure::new("delete_s", del.took.as_secs_f64(), "s"),
        Figure::new("delete_worst_op_ms", ms(del.worst), "ms").at_most(100.0),
        Figure::new("worst_op_ms_no_delete", ms(quiet.worst), "ms"),
        Figure::new("payments_during_delete", del.paid as f64, "payments"),
        Figure::new("counts_right", f64::from(u8::from(counts_right)), "bool").at_least(1.0),
        Figure::new("compact_s", compact_took.as_secs_f64(), "s"),
        Figure::new("bytes_per_payment", bytes, "bytes"),
        Figure::new("bytes_per_payment_compacted", bytes_compacted, "bytes"),
        Figure::new(
            "peak_rss_before_compact_mib",
            mib_of_kib(rss_before_compact),
            "MiB",
        ),
        Figure::new("peak_rss_compact_mib", mib_of_kib(rss_compact), "MiB"),
        Figure::new(
            "peak_rss_mib",
            mib_of_kib(rss_before_compact.max(rss_compact)),
            "MiB",
        )
        .at_most(150.0),
    ]
}
