//! Online backup: a consistent, compact copy written while the life cycle runs, holding
//! every operation acknowledged before the backup started; an existing destination is
//! refused; a backup killed midway leaves no file under the destination's name.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{attempt, creation, fail, fast_options, mc_result, pay, payment, settle, with_suffix};
use lnpaystore::*;

fn all_payments(store: &Store) -> Vec<Payment> {
    store
        .query_payments(&Query {
            include_incomplete: true,
            max_payments: u64::MAX,
            ..Default::default()
        })
        .unwrap()
        .payments
}

#[test]
fn a_quiet_store_is_copied_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("lps.db"), Options::default()).unwrap();
    for n in 0..50 {
        pay(&store, n, 1000 + n, 1_700_000_000 + n as i64);
    }
    for n in 50..60 {
        fail(&store, n, 1000, 1_700_000_000);
    }
    let (_, hash) = payment(60);
    store
        .init_payment(&hash, creation(500, 1_700_000_060))
        .unwrap();
    let mc = store
        .open_mission_control("default", McOptions::default())
        .unwrap();
    mc.add_result(mc_result(1)).unwrap();
    mc.close().unwrap();

    let dest = dir.path().join("copy.db");
    store.backup(&dest).unwrap();
    assert!(!with_suffix(&dest, ".partial").exists());
    assert!(!with_suffix(&dest, "-log").exists());
    let copy = Store::open(&dest, Options::default()).unwrap();
    assert_eq!(all_payments(&copy), all_payments(&store));
    assert_eq!(
        copy.payment_counts().unwrap(),
        store.payment_counts().unwrap()
    );
    copy.check_integrity().unwrap();
    let copied_mc = copy
        .open_mission_control("default", McOptions::default())
        .unwrap();
    assert_eq!(copied_mc.fetch_all().unwrap(), vec![mc_result(1)]);
    // The copy is a store of its own: it takes new payments after the copied ones.
    let (_, next) = payment(61);
    let p = copy.init_payment(&next, creation(1, 1)).unwrap();
    assert_eq!(p.sequence_num, 62);
}

#[test]
fn the_copy_is_compact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lps.db");
    let store = Store::open(&path, fast_options()).unwrap();
    for n in 0..2000 {
        pay(&store, n, 1000, 1_700_000_000);
    }
    store.delete_payments(false, false).unwrap();
    for n in 2000..2100 {
        pay(&store, n, 1000, 1_700_000_000);
    }
    let dest = dir.path().join("copy.db");
    store.backup(&dest).unwrap();
    store.close().unwrap();
    let (source, copy) = (
        std::fs::metadata(&path).unwrap().len(),
        std::fs::metadata(&dest).unwrap().len(),
    );
    assert!(
        copy * 3 < source,
        "a copy of 100 payments ({copy} bytes) is much smaller than the store that held 2,100 ({source} bytes)"
    );
    assert_eq!(
        Store::open(&dest, fast_options())
            .unwrap()
            .payment_counts()
            .unwrap()
            .total,
        100
    );
}

#[test]
fn an_existing_destination_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("lps.db"), fast_options()).unwrap();
    pay(&store, 1, 1000, 1_700_000_000);
    let dest = dir.path().join("taken.db");
    std::fs::write(&dest, b"precious").unwrap();
    match store.backup(&dest) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("taken.db"), "{m}"),
        other => panic!("expected InvalidArgument naming the path, got {other:?}"),
    }
    assert_eq!(std::fs::read(&dest).unwrap(), b"precious");

    // A log beside the destination would be replayed into the copy: refused too.
    let beside = dir.path().join("beside.db");
    std::fs::write(with_suffix(&beside, "-log"), b"x").unwrap();
    assert_eq!(
        store.backup(&beside).unwrap_err().status(),
        LpsStatus::InvalidArgument
    );
    assert!(!beside.exists());

    let nowhere = dir.path().join("missing-dir").join("copy.db");
    match store.backup(&nowhere) {
        Err(Error::Io(m)) => assert!(m.contains("missing-dir"), "{m}"),
        other => panic!("expected Io naming the path, got {other:?}"),
    }
}

#[test]
fn a_read_only_store_can_be_backed_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lps.db");
    let store = Store::open(&path, fast_options()).unwrap();
    for n in 0..10 {
        pay(&store, n, 1000, 1_700_000_000);
    }
    store.close().unwrap();
    let ro = Store::open(
        &path,
        Options {
            read_only: true,
            ..Options::default()
        },
    )
    .unwrap();
    let dest = dir.path().join("copy.db");
    ro.backup(&dest).unwrap();
    let copy = Store::open(&dest, fast_options()).unwrap();
    assert_eq!(all_payments(&copy), all_payments(&ro));
}

/// Workers run the life cycle (durable commits) during the backup; every payment whose
/// last step was acknowledged before the backup started is in the copy at least in
/// that state, and the copy passes the integrity check.
#[test]
fn a_backup_under_load_holds_everything_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("lps.db"), Options::default()).unwrap();
    for n in 0..3000 {
        pay(&store, 1_000_000 + n, 1000, 1_700_000_000);
    }
    // Payment number → the last acknowledged step (1 init, 2 register, 3 settle).
    let acked = Mutex::new(BTreeMap::<u64, u8>::new());
    let stop = AtomicBool::new(false);
    let dest = dir.path().join("copy.db");
    let before_backup = std::thread::scope(|s| {
        for w in 0..4u64 {
            let (store, acked, stop) = (&store, &acked, &stop);
            s.spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let n = w * 1_000_000_000 + i;
                    let (pre, hash) = payment(n);
                    store.init_payment(&hash, creation(1000, 1)).unwrap();
                    acked.lock().unwrap().insert(n, 1);
                    store
                        .register_attempt(&hash, attempt(1, 1000, None))
                        .unwrap();
                    acked.lock().unwrap().insert(n, 2);
                    store.settle_attempt(&hash, 1, settle(pre)).unwrap();
                    acked.lock().unwrap().insert(n, 3);
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        let before = acked.lock().unwrap().clone();
        store.backup(&dest).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        before
    });
    assert!(
        !before_backup.is_empty(),
        "the workers ran before the backup"
    );
    let copy = Store::open(&dest, fast_options()).unwrap();
    copy.check_integrity().unwrap();
    for (&n, &step) in &before_backup {
        let (_, hash) = payment(n);
        let p = copy
            .fetch_payment(&hash)
            .unwrap_or_else(|e| panic!("payment {n} acknowledged before the backup: {e}"));
        let in_copy = match (p.htlcs.len(), p.status) {
            (_, PaymentStatus::Succeeded) => 3,
            (1, _) => 2,
            _ => 1,
        };
        assert!(
            in_copy >= step,
            "payment {n}: step {step} acked, {in_copy} copied"
        );
    }
    let total = copy.payment_counts().unwrap().total;
    assert!(total >= 3000 + before_backup.len() as u64);
    assert!(total <= store.payment_counts().unwrap().total);
}

const CHILD_ENV: &str = "LPS_BACKUP_CHILD";

/// The child of the kill test: fills a store, then backs it up until killed.
#[test]
fn backup_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // only runs when the parent starts it
    };
    let dir = PathBuf::from(dir);
    let path = dir.join("lps.db");
    if !path.exists() {
        // Filled without fsync, then closed: the kill below must not lose it.
        let store = Store::open(&path, fast_options()).unwrap();
        for n in 0..5_000 {
            pay(&store, n, 1000, 1_700_000_000);
        }
        store.close().unwrap();
    }
    let store = Store::open(&path, fast_options()).unwrap();
    loop {
        store.backup(dir.join("copy.db")).unwrap();
        // Finished before the kill: the parent removes it and waits for the next.
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Kills a backup midway: the destination's name never appears, and a new backup to it
/// starts the leftover partial file over and succeeds.
#[test]
fn a_backup_killed_midway_leaves_no_store_under_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy.db");
    let partial = with_suffix(&dest, ".partial");
    let mut killed_midway = false;
    for _ in 0..5 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "backup_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Kill as soon as the copy has some bytes.
        let deadline = Instant::now() + Duration::from_secs(300);
        while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 64 << 10 {
            assert!(Instant::now() < deadline, "no backup started");
            std::thread::sleep(Duration::from_micros(200));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        if !dest.exists() {
            killed_midway = true;
            break;
        }
        std::fs::remove_file(&dest).unwrap(); // it finished first: try again
    }
    assert!(killed_midway, "every backup finished before the kill");
    assert!(
        partial.exists(),
        "the partial copy is left under its own name"
    );
    assert_eq!(
        Store::open(
            &dest,
            Options {
                read_only: true,
                ..Options::default()
            }
        )
        .err()
        .map(|e| e.status()),
        Some(LpsStatus::Io),
        "nothing opens under the destination's name"
    );
    // A new backup starts the leftover over.
    let store = Store::open(dir.path().join("lps.db"), fast_options()).unwrap();
    store.backup(&dest).unwrap();
    assert!(!partial.exists());
    let copy = Store::open(&dest, fast_options()).unwrap();
    assert_eq!(copy.payment_counts().unwrap().total, 5_000);
    copy.check_integrity().unwrap();
}
