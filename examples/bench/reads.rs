//! `inflight`, `query`, `query-dates`, `open` and `size`: reads on large stores, filled
//! fast and reopened with durable defaults.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lnpaystore::{Options, Query, Store};

use crate::fixture::{file_only, fill, median, paired_medians, target, Fate, TempStore};
use crate::report::ms;
use crate::report::Figure;
use crate::Args;

const RUNS: usize = 21;

/// A store of `total` payments, 100 of them in flight, reopened durable.
fn filled(total: u64, spacing_ms: i64) -> TempStore {
    let temp = TempStore::new();
    fill(
        &temp.path,
        total,
        100,
        1_700_000_000,
        spacing_ms,
        Fate::Settle,
    );
    temp
}

pub fn inflight(a: &Args) -> Vec<Figure> {
    let (small_temp, large_temp) = (filled(a.small, 1000), filled(a.large, 1000));
    let small_store = small_temp.open(Options::default());
    let large_store = large_temp.open(Options::default());
    for store in [&small_store, &large_store] {
        assert_eq!(store.fetch_inflight_payments().unwrap().len(), 100);
    }
    let (small, large) = paired_medians(
        RUNS,
        || drop(small_store.fetch_inflight_payments().unwrap()),
        || drop(large_store.fetch_inflight_payments().unwrap()),
    );
    vec![
        Figure::new("small_store_ms", ms(small), "ms"),
        Figure::new("large_store_ms", ms(large), "ms").at_most(target(2.0, 5.0)),
        Figure::new("large_over_small", ms(large) / ms(small), "x").at_most(1.5),
    ]
}

pub fn query(a: &Args) -> Vec<Figure> {
    let (small_temp, large_temp) = (filled(a.small, 1000), filled(a.large, 1000));
    let small_store = small_temp.open(Options::default());
    let large_store = large_temp.open(Options::default());
    let q = |total: u64, reversed| Query {
        index_offset: total / 2,
        max_payments: 100,
        include_incomplete: true,
        reversed,
        ..Query::default()
    };
    let page = |store: &lnpaystore::Store, total, reversed| {
        let got = store.query_payments(&q(total, reversed)).unwrap();
        assert_eq!(got.payments.len(), 100);
    };
    let (small, forwards) = paired_medians(
        RUNS,
        || page(&small_store, a.small, false),
        || page(&large_store, a.large, false),
    );
    let reversed = median(RUNS, || page(&large_store, a.large, true));
    let count = median(RUNS, || {
        large_store.payment_counts().unwrap();
    });
    vec![
        Figure::new("page_forwards_ms", ms(forwards), "ms").at_most(file_only(3.0)),
        Figure::new("page_reversed_ms", ms(reversed), "ms").at_most(file_only(3.0)),
        Figure::new("page_small_store_ms", ms(small), "ms"),
        Figure::new("large_over_small", ms(forwards) / ms(small), "x").at_most(1.5),
        Figure::new("count_total_ms", ms(count), "ms").at_most(file_only(0.1)),
    ]
}

pub fn query_dates(a: &Args) -> Vec<Figure> {
    // 7.2 s apart: a 2-hour window holds 1,000 payments, whatever the store's size.
    let (small_total, large_total) = (a.large / 10, a.large);
    let (small_temp, large_temp) = (filled(small_total, 7_200), filled(large_total, 7_200));
    let small_store = small_temp.open(Options::default());
    let large_store = large_temp.open(Options::default());
    let window = |store: &lnpaystore::Store, total: u64| {
        let start = 1_700_000_000 + (total as i64 / 2) * 7_200 / 1000;
        let q = Query {
            max_payments: 1_000,
            include_incomplete: true,
            creation_date_start: start,
            creation_date_end: start + 7_200 - 1,
            ..Query::default()
        };
        assert_eq!(store.query_payments(&q).unwrap().payments.len(), 1_000);
    };
    let (small, large) = paired_medians(
        RUNS,
        || window(&small_store, small_total),
        || window(&large_store, large_total),
    );
    vec![
        Figure::new("window_small_store_ms", ms(small), "ms"),
        Figure::new("window_large_store_ms", ms(large), "ms").at_most(file_only(5.0)),
        Figure::new("large_over_small", ms(large) / ms(small), "x").at_most(1.5),
    ]
}

/// Opens the store and reads the payments to resume, as a node does at start-up.
pub fn open_and_resume(path: &Path) -> Duration {
    let start = Instant::now();
    let store = Store::open(path, Options::default()).expect("open store");
    store.fetch_inflight_payments().unwrap();
    let took = start.elapsed();
    store.close().unwrap();
    took
}

pub fn open(a: &Args) -> Vec<Figure> {
    let temp = filled(a.large, 1000);
    let clean = median(5, || {
        open_and_resume(&temp.path);
    });
    let replayed = kill_writer_at_full_log(&temp.path, 1_000_000_000);
    let after_kill = open_and_resume(&temp.path);
    vec![
        Figure::new("open_clean_ms", ms(clean), "ms").at_most(100.0),
        Figure::new("open_after_kill_ms", ms(after_kill), "ms").at_most(1000.0),
        Figure::new(
            "log_replayed_mib",
            replayed as f64 / (1 << 20) as f64,
            "MiB",
        ),
    ]
}

/// Runs a writer (this program in `open-writer` mode, paying payments numbered from
/// `base`) on the store until its write-ahead log is nearly full (the worst case to
/// replay), then kills it with SIGKILL. Returns the log's size. The log's limit adapts
/// to how long checkpoints take (starting small after open), so "full" is 7/8 of the
/// largest size the log reached before a checkpoint in the writer's first 10 s (or
/// 16 MiB, or whatever it has at 30 s).
pub fn kill_writer_at_full_log(path: &Path, base: u64) -> u64 {
    let mut log_path = path.as_os_str().to_owned();
    log_path.push("-log");
    let mut writer = Command::new(std::env::current_exe().unwrap())
        .args(["open-writer", path.to_str().unwrap(), &base.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the writer");
    let log_len = || std::fs::metadata(&log_path).map_or(0, |m| m.len());
    let start = Instant::now();
    let (mut last, mut peak, mut largest) = (0, 0, 0);
    let mut full = lnpaystore::backend::DEFAULT_CHECKPOINT_BYTES * 7 / 8;
    loop {
        let len = log_len();
        if len < last {
            // A checkpoint emptied the log at about `peak`.
            largest = largest.max(peak);
            peak = 0;
        }
        (last, peak) = (len, peak.max(len));
        if start.elapsed() >= Duration::from_secs(10) && largest > 0 {
            full = full.min(largest * 7 / 8);
        }
        if len >= full || start.elapsed() >= Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    writer.kill().expect("SIGKILL");
    writer.wait().unwrap();
    log_len()
}

/// The `open-writer` child: durable life cycles from 16 threads, on payments numbered
/// from `base`, until killed.
pub fn writer(path: &str, base: u64) {
    let store = Store::open(path, Options::default()).expect("open");
    std::thread::scope(|s| {
        for t in 0..16u64 {
            let store = &store;
            s.spawn(move || {
                for i in 0.. {
                    let n = base + t * 100_000_000 + i;
                    let (pre, hash) = crate::fixture::payment(n);
                    store
                        .init_payment(&hash, crate::fixture::creation(10_000, 1))
                        .unwrap();
                    let attempt = crate::fixture::attempt(1, 10_000, None);
                    store.register_attempt(&hash, attempt).unwrap();
                    let settle = lnpaystore::SettleInfo {
                        preimage: pre,
                        settle_time_ns: 2,
                    };
                    store.settle_attempt(&hash, 1, settle).unwrap();
                }
            });
        }
    });
}

pub fn size(a: &Args) -> Vec<Figure> {
    let temp = TempStore::new();
    fill(&temp.path, a.large, 0, 1_700_000_000, 1000, Fate::Settle);
    let bytes = std::fs::metadata(&temp.path).unwrap().len();
    let store = temp.open(Options::default());
    store.compact().unwrap();
    store.close().unwrap();
    let compacted = std::fs::metadata(&temp.path).unwrap().len();
    vec![
        Figure::new("bytes_per_payment", bytes as f64 / a.large as f64, "bytes").at_most(2048.0),
        Figure::new(
            "bytes_per_payment_compacted",
            compacted as f64 / a.large as f64,
            "bytes",
        ),
    ]
}
