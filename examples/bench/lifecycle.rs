//! `lifecycle`, `lifecycle-mpp` and `memory`: payments from 64 threads through the C ABI
//! with durable commits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use lnpaystore::ffi::{lps_commit_stats, LpsCommitStats};

use crate::cabi::CStore;
use crate::fixture::{fdatasyncs_per_s, on_postgres, peak_rss_kib, target, TempStore};
use crate::report::Figure;
use crate::Args;

pub struct Run {
    pub payments_per_s: f64,
    pub commits_per_op: f64,
    pub max_batch: u64,
    /// Wall time of one whole payment (all its calls), 99th percentile and worst, ms:
    /// where a checkpoint's stall shows.
    pub payment_p99_ms: f64,
    pub payment_worst_ms: f64,
}

/// Runs `payments` payments from `threads` threads; each thread takes the next number.
pub fn run(a: &Args, payments: u64, max_batch_size: u32, mpp: bool) -> Run {
    let threads = a.threads;
    let temp = TempStore::new();
    let store = CStore::open(&temp.path, max_batch_size, a.batch_delay_us);
    let next = AtomicU64::new(0);
    let start = Instant::now();
    let mut micros: Vec<u32> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (store, next) = (&store, &next);
                s.spawn(move || {
                    let mut micros = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= payments {
                            return micros;
                        }
                        let began = Instant::now();
                        if mpp {
                            store.pay_mpp(n);
                        } else {
                            store.pay_single(n);
                        }
                        micros.push(began.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("payment thread"))
            .collect()
    });
    let secs = start.elapsed().as_secs_f64();
    micros.sort_unstable();
    let at = |q: f64| {
        let i = ((micros.len() as f64 * q) as usize).min(micros.len().saturating_sub(1));
        micros.get(i).map_or(0.0, |&us| us as f64 / 1e3)
    };
    let mut stats = LpsCommitStats {
        commits: 0,
        operations: 0,
        max_batch: 0,
    };
    assert_eq!(
        lps_commit_stats(store.raw(), &mut stats),
        lnpaystore::LpsStatus::Ok
    );
    store.close();
    Run {
        payments_per_s: payments as f64 / secs,
        commits_per_op: stats.commits as f64 / stats.operations.max(1) as f64,
        max_batch: stats.max_batch,
        payment_p99_ms: at(0.99),
        payment_worst_ms: at(1.0),
    }
}

pub fn lifecycle(a: &Args) -> Vec<Figure> {
    let batched = run(a, a.payments, 0, false);
    // Unbatched commits are an order of magnitude slower (on PostgreSQL, two: a round trip
    // and a WAL flush each): a quarter (a fortieth) of the load keeps the run short; the
    // comparison is of rates.
    let share = if on_postgres() { 40 } else { 4 };
    let unbatched = run(a, (a.payments / share).max(a.threads), 1, false);
    let disk = fdatasyncs_per_s();
    vec![
        Figure::new(
            "batched_payments_per_s",
            batched.payments_per_s,
            "payments/s",
        )
        .at_least(target(20_000.0, 5_000.0)),
        Figure::new(
            "unbatched_payments_per_s",
            unbatched.payments_per_s,
            "payments/s",
        ),
        Figure::new(
            "batched_over_unbatched",
            batched.payments_per_s / unbatched.payments_per_s,
            "x",
        )
        .at_least(10.0),
        Figure::new("commits_per_op", batched.commits_per_op, "").at_most(0.1),
        Figure::new("max_batch", batched.max_batch as f64, "ops"),
        Figure::new("payment_p99_ms", batched.payment_p99_ms, "ms"),
        Figure::new("payment_worst_ms", batched.payment_worst_ms, "ms"),
        Figure::new("disk_fdatasyncs_per_s", disk, "/s"),
    ]
}

pub fn lifecycle_mpp(a: &Args) -> Vec<Figure> {
    let r = run(a, a.payments / 4, 0, true);
    vec![
        Figure::new("payments_per_s", r.payments_per_s, "payments/s").at_least(5_000.0),
        Figure::new("commits_per_op", r.commits_per_op, ""),
        Figure::new("max_batch", r.max_batch as f64, "ops"),
        Figure::new("payment_p99_ms", r.payment_p99_ms, "ms"),
        Figure::new("payment_worst_ms", r.payment_worst_ms, "ms"),
    ]
}

/// Peak RSS of a fresh process running the batched `lifecycle` load (this program in
/// `memory-child` mode, so nothing else this run did counts).
pub fn memory(a: &Args) -> Vec<Figure> {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["memory-child", "--threads", &a.threads.to_string()])
        .args(["--payments", &a.payments.to_string()])
        .output()
        .expect("run the memory child");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(0.0));
    let (rss_kib, rate) = (fields.next().unwrap_or(0.0), fields.next().unwrap_or(0.0));
    vec![
        Figure::new("peak_rss_mib", rss_kib / 1024.0, "MiB").at_most(150.0),
        Figure::new("payments_per_s", rate, "payments/s"),
    ]
}

/// The `memory-child`: runs the load and prints its peak RSS (KiB) and payments/s.
pub fn memory_child(a: &Args) {
    let r = run(a, a.payments, 0, false);
    println!("{} {}", peak_rss_kib(), r.payments_per_s);
}
