//! `delete`: bulk deletion of a large history while 16 threads run the life cycle.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lnpaystore::{Options, PaymentCounts, Store};

use crate::fixture::{attempt, creation, fill, payment, target, Fate, TempStore};
use crate::report::ms;
use crate::report::Figure;
use crate::Args;

pub fn delete(a: &Args) -> Vec<Figure> {
    let temp = TempStore::new();
    fill(&temp.path, a.large, 0, 1_700_000_000, 1000, Fate::Fail);
    let store = temp.open(Options::default());
    let run = delete_while_paying(&store, 2_000_000_000);
    let counts = store.payment_counts().unwrap();
    let right = run.deleted == a.large
        && counts
            == PaymentCounts {
                total: run.paid,
                succeeded: run.paid,
                ..PaymentCounts::default()
            };
    store.check_integrity().unwrap();
    vec![
        Figure::new("deleted", run.deleted as f64, "payments").at_least(a.large as f64),
        Figure::new("delete_s", run.took.as_secs_f64(), "s"),
        Figure::new("worst_op_ms", ms(run.worst), "ms").at_most(target(100.0, 200.0)),
        Figure::new("payments_during_delete", run.paid as f64, "payments"),
        Figure::new("counts_right", f64::from(u8::from(right)), "bool").at_least(1.0),
    ]
}

/// `backup`: an online backup of the large store while 16 threads run the life cycle;
/// the copy is opened and checked.
pub fn backup(a: &Args) -> Vec<Figure> {
    let temp = TempStore::new();
    fill(&temp.path, a.large, 0, 1_700_000_000, 1000, Fate::Settle);
    let store = temp.open(Options::default());
    let dest = temp.path.with_file_name("backup.db");
    let run = while_paying(&store, 2_000_000_000, || store.backup(&dest).unwrap());
    // The same load for as long without a backup: what the machine gives anyway.
    let quiet = while_paying(&store, 20_000_000_000, || std::thread::sleep(run.took));
    let copy = Store::open(
        &dest,
        Options {
            read_only: true,
            ..Options::default()
        },
    )
    .unwrap();
    let copied = copy.payment_counts().unwrap().total;
    copy.check_integrity().unwrap();
    let bytes = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len()) as f64;
    vec![
        Figure::new("copied", copied as f64, "payments").at_least(a.large as f64),
        Figure::new("backup_s", run.took.as_secs_f64(), "s"),
        Figure::new("worst_op_ms", ms(run.worst), "ms").at_most(100.0),
        Figure::new("worst_op_ms_no_backup", ms(quiet.worst), "ms"),
        Figure::new("payments_during_backup", run.paid as f64, "payments"),
        Figure::new("payments_no_backup", quiet.paid as f64, "payments"),
        Figure::new("copy_mib", bytes(&dest) / (1 << 20) as f64, "MiB"),
        Figure::new("store_mib", bytes(&temp.path) / (1 << 20) as f64, "MiB"),
    ]
}

/// What `delete_while_paying` saw.
pub struct DeleteRun {
    pub deleted: u64,
    pub took: Duration,
    /// The longest single life-cycle call meanwhile.
    pub worst: Duration,
    /// Payments the 16 threads completed (each settled).
    pub paid: u64,
}

/// `delete_payments(failed_only: true)` while 16 threads run durable life cycles on
/// payments numbered from `base` (fresh hashes for each run on a kept store).
pub fn delete_while_paying(store: &Store, base: u64) -> DeleteRun {
    let run = while_paying(store, base, || store.delete_payments(true, false).unwrap());
    DeleteRun {
        deleted: run.result,
        took: run.took,
        worst: run.worst,
        paid: run.paid,
    }
}

/// What `while_paying` saw.
pub struct PayingRun<T> {
    /// What the timed work returned.
    pub result: T,
    /// How long the work took.
    pub took: Duration,
    /// The longest single life-cycle call meanwhile.
    pub worst: Duration,
    /// Payments the 16 threads completed (each settled).
    pub paid: u64,
}

/// Runs `work` while 16 threads run durable life cycles on payments numbered from
/// `base`; they start 300 ms before it and stop 300 ms after.
pub fn while_paying<T>(store: &Store, base: u64, work: impl FnOnce() -> T) -> PayingRun<T> {
    let stop = AtomicBool::new(false);
    let (paid, worst) = (AtomicU64::new(0), AtomicU64::new(0));
    let (result, took) = std::thread::scope(|s| {
        for t in 0..16u64 {
            let (stop, paid, worst) = (&stop, &paid, &worst);
            s.spawn(move || {
                let timed = |f: &mut dyn FnMut()| {
                    let start = Instant::now();
                    f();
                    worst.fetch_max(start.elapsed().as_micros() as u64, Ordering::Relaxed);
                };
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let (pre, hash) = payment(base + t * 100_000_000 + i);
                    timed(&mut || {
                        store
                            .init_payment(&hash, creation(10_000, 1))
                            .map(drop)
                            .unwrap()
                    });
                    timed(&mut || {
                        store
                            .register_attempt(&hash, attempt(1, 10_000, None))
                            .map(drop)
                            .unwrap()
                    });
                    let settle = lnpaystore::SettleInfo {
                        preimage: pre,
                        settle_time_ns: 2,
                    };
                    timed(&mut || store.settle_attempt(&hash, 1, settle).map(drop).unwrap());
                    paid.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        let result = work();
        let took = start.elapsed();
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        (result, took)
    });
    PayingRun {
        result,
        took,
        worst: Duration::from_micros(worst.load(Ordering::Relaxed)),
        paid: paid.load(Ordering::Relaxed),
    }
}
