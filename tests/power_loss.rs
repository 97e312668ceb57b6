//! Power-loss test: the multi-threaded life cycle (single-shard and MPP payments,
//! failures, explicit and bulk deletion, compaction, checkpoints, mission-control
//! flushes) runs on a simulated disk (`common/power.rs`) that remembers what was written
//! apart from what completed syncs covered. The power fails after a random number of
//! writes and syncs; the disk then keeps only what syncs covered, or that plus a random
//! choice of the unsynced 512-byte sectors (every other crash). The store reopens from
//! what was kept (replaying its log), passes its integrity check, and must hold every
//! operation acknowledged before the power failed; the next run continues on it (ten
//! crashes per store, then a new one).
//!
//! Unlike a killed process, whose writes the kernel keeps, this loses exactly what an
//! fsync did not cover: an acknowledgement given before its record's fsync shows here.
//! The log's appends take a little time (as a write of real size does), so a sync
//! running meanwhile is common, and the power often fails inside a checkpoint or a
//! commit.
//!
//! `POWER_LOSS_CRASHES` sets the number of crashes (default 200; the extended run uses
//! 5,000), `POWER_LOSS_SEED` the seed.

mod common;
#[path = "common/power.rs"]
mod power;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::churn::{mc_options, number};
use common::mc_result;
use common::{attempt, creation, fail_info, mpp, payment, settle};
use lnpaystore::backend::RedbConfig;
use lnpaystore::*;
use power::{Disk, Loss, Rng};

const WORKERS: u64 = 4;

/// What the acknowledgements promise about one payment.
#[derive(Default, Debug)]
struct Promised {
    init: bool,
    registered: Vec<u64>,
    settled: Vec<u64>,
    failed_attempt: bool,
    failed: bool,
    deleted: bool,
}

/// Every operation acknowledged so far, over all runs.
#[derive(Default)]
struct Acks {
    payments: Mutex<BTreeMap<u64, Promised>>,
    mc: Mutex<Vec<(u64, u64)>>,
}

impl Acks {
    fn ack(&self, n: u64, f: impl FnOnce(&mut Promised)) {
        f(self.payments.lock().unwrap().entry(n).or_default());
    }
}

/// Stops the calling loop once the power is off; any failure while it is on is a
/// defect.
macro_rules! done {
    ($disk:expr, $call:expr) => {
        match $call {
            Ok(v) => v,
            Err(_) if $disk.is_off() => return,
            Err(e) => panic!("{} failed with the power on: {e}", stringify!($call)),
        }
    };
}

/// Sleeps `ms`, waking early once the power is off; false then.
fn nap(disk: &Disk, ms: u64) -> bool {
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until {
        if disk.is_off() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    !disk.is_off()
}

fn worker(store: &Store, disk: &Disk, acks: &Acks, run: u64, w: u64) {
    for i in 0.. {
        let n = number(run, w, i);
        let (pre, hash) = payment(n);
        done!(
            disk,
            store.init_payment(&hash, creation(1000, 1_700_000_000 + i as i64))
        );
        acks.ack(n, |p| p.init = true);
        if i % 2 == 0 {
            for shard in [1, 2] {
                done!(
                    disk,
                    store.register_attempt(&hash, attempt(shard, 500, mpp(1000)))
                );
                acks.ack(n, |p| p.registered.push(shard));
            }
            for shard in [1, 2] {
                done!(disk, store.settle_attempt(&hash, shard, settle(pre)));
                acks.ack(n, |p| p.settled.push(shard));
            }
            if i % 10 == 0 {
                done!(disk, store.delete_payment(&hash, false));
                acks.ack(n, |p| p.deleted = true);
            }
        } else {
            done!(disk, store.register_attempt(&hash, attempt(1, 1000, None)));
            acks.ack(n, |p| p.registered.push(1));
            done!(disk, store.fail_attempt(&hash, 1, fail_info()));
            acks.ack(n, |p| p.failed_attempt = true);
            done!(disk, store.fail_payment(&hash, FailureReason::NoRoute));
            acks.ack(n, |p| p.failed = true);
        }
    }
}

/// One run: the load until the power fails.
/// `pause`: between two bulk deletions, mission-control flushes (twice as often) and
/// compactions (ten times less often), so that some runs are mostly payment batches.
fn run_until_power_loss(store: &Store, disk: &Disk, acks: &Acks, run: u64, pause: u64) {
    let mc = store.open_mission_control("power", mc_options()).unwrap();
    let next_mc = AtomicU64::new(run * 1_000_000);
    std::thread::scope(|s| {
        for w in 0..WORKERS {
            s.spawn(move || worker(store, disk, acks, run, w));
        }
        s.spawn(|| loop {
            if !nap(disk, pause) {
                return;
            }
            done!(disk, store.delete_payments(true, false));
        });
        s.spawn(|| loop {
            if !nap(disk, 10 * pause) {
                return;
            }
            done!(disk, store.compact());
        });
        s.spawn(|| loop {
            if !nap(disk, pause / 2) {
                return;
            }
            let from = next_mc.fetch_add(5, Ordering::Relaxed);
            for id in from..from + 5 {
                mc.add_result(mc_result(id)).unwrap();
            }
            done!(disk, mc.flush());
            acks.mc.lock().unwrap().push((from, from + 5));
        });
    });
    let _ = mc.close();
}

/// Checks every acknowledged operation against the reopened store.
fn verify(store: &Store, acks: &Acks, run: u64) {
    // Every acknowledged operation of this store's life, over all its crashes.
    for (n, promised) in acks.payments.lock().unwrap().iter() {
        let (_, hash) = payment(*n);
        let succeeding = (n % 1_000_000) % 2 == 0;
        let p = match store.fetch_payment(&hash) {
            Ok(p) => p,
            Err(Error::PaymentNotInitiated) => {
                // Gone: only a failed payment (bulk-deleted, maybe before its ack) or a
                // settled one (explicitly deleted, maybe before its ack).
                assert!(
                    !succeeding || promised.settled.len() == 2 || !promised.init,
                    "crash {run}: payment {n} lost: {promised:?}"
                );
                continue;
            }
            Err(e) => panic!("crash {run}: payment {n}: {e}"),
        };
        assert!(
            !promised.deleted,
            "crash {run}: payment {n} deleted but present"
        );
        for id in &promised.registered {
            assert!(
                p.attempt(*id).is_some(),
                "crash {run}: payment {n}: attempt {id} lost"
            );
        }
        for id in &promised.settled {
            assert!(
                p.attempt(*id).unwrap().settle.is_some(),
                "crash {run}: payment {n}: settle {id} lost"
            );
        }
        if promised.failed_attempt {
            assert!(
                p.attempt(1).unwrap().failure.is_some(),
                "crash {run}: payment {n}: failure lost"
            );
        }
        if promised.failed {
            assert_eq!(p.status, PaymentStatus::Failed, "crash {run}: payment {n}");
        }
    }
    let handle = store.open_mission_control("power", mc_options()).unwrap();
    let stored: BTreeSet<u64> = handle.fetch_all().unwrap().iter().map(|r| r.id).collect();
    for (from, to) in acks.mc.lock().unwrap().iter() {
        for id in *from..*to {
            assert!(
                stored.contains(&id),
                "crash {run}: mission-control result {id} lost"
            );
        }
    }
    handle.close().unwrap();
}

fn open(disk: &Disk, checkpoint_bytes: u64) -> Result<Store> {
    let config = RedbConfig {
        checkpoint_bytes,
        // Small, so that redb also writes pages between checkpoints.
        cache_size_bytes: 1 << 20,
        ..RedbConfig::default()
    };
    let backend = disk.backend(config)?;
    Store::with_backend(Arc::new(backend), Options::default())
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Crashes per store: then a new one starts, so each check reads a store of bounded size.
const CRASHES_PER_STORE: u64 = 10;

#[test]
fn acknowledged_operations_survive_power_loss() {
    let crashes = env("POWER_LOSS_CRASHES", 200);
    let seed = env("POWER_LOSS_SEED", 0x5eed_1e55_u64);
    let mut rng = Rng(seed);
    let mut acks = Acks::default();
    let mut disk = Disk::new();
    let started = Instant::now();
    let (mut logged, mut payments, mut flushes) = (0u64, 0usize, 0usize);
    for run in 1..=crashes {
        if run % CRASHES_PER_STORE == 1 {
            payments += acks.payments.lock().unwrap().len();
            flushes += acks.mc.lock().unwrap().len();
            acks = Acks::default();
            disk = Disk::new();
        }
        // Checkpoints every 32 KiB to 2 MiB of log: power fails in and around them.
        let checkpoint_bytes = 32 << (10 + rng.below(7));
        let store = open(&disk, checkpoint_bytes)
            .unwrap_or_else(|e| panic!("open before crash {run} (seed {seed}): {e}"));
        disk.slow_appends(true);
        disk.cut_after(20 + rng.below(1000));
        let pause = [4, 20, 100, 500][rng.below(4) as usize];
        run_until_power_loss(&store, &disk, &acks, run, pause);
        // Closing writes nothing now: the power is off.
        let _ = store.close();
        drop(store);
        let loss = if run % 2 == 0 {
            Loss::Sectors
        } else {
            Loss::Synced
        };
        disk = disk.image(loss, &mut rng);
        if disk.log_len() > 0 {
            logged += 1;
        }
        let store = open(&disk, checkpoint_bytes)
            .unwrap_or_else(|e| panic!("reopen after crash {run} ({loss:?}, seed {seed}): {e}"));
        store
            .check_integrity()
            .unwrap_or_else(|e| panic!("after crash {run} ({loss:?}, seed {seed}): {e}"));
        verify(&store, &acks, run);
        store.close().unwrap();
    }
    payments += acks.payments.lock().unwrap().len();
    flushes += acks.mc.lock().unwrap().len();
    assert!(
        logged * 4 >= crashes,
        "only {logged} of {crashes} crashes left a log to replay"
    );
    eprintln!(
        "power loss: {crashes} crashes (half keeping random unsynced sectors), {logged} with \
         a log to replay, {payments} payments and {flushes} mission-control flushes \
         acknowledged, 0 lost; {:?}",
        started.elapsed()
    );
}
