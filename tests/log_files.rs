//! Damaged write-ahead logs. A store is killed (its files copied while open) after 18
//! serial operations, each with a log record of its own; then every record boundary and
//! every `LOG_FLIP_STRIDE`-th byte (default 3) of the log is cut or flipped, and the copy
//! reopened. A damaged record that a later record says was synced, or a damaged log
//! header, gives `CORRUPT`; a damaged or cut last record is a torn write that was never
//! acknowledged, and the store opens with every record before it (a log cut inside its
//! header holds none). Nothing else is acceptable.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use lnpaystore::*;

const PAYMENTS: u64 = 6;
/// init, register, settle.
const OPS_PER_PAYMENT: usize = 3;
/// The log header: magic (8 bytes) and the salt every record starts with (16).
const LOG_HEADER: usize = 24;

fn log_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-log");
    PathBuf::from(name)
}

/// The files a kill leaves after the serial operations.
fn killed_store(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let db = dir.join("live.db");
    let store = Store::open(&db, Options::default()).unwrap();
    for n in 1..=PAYMENTS {
        pay(&store, n, 1000, n as i64);
    }
    let files = (
        std::fs::read(&db).unwrap(),
        std::fs::read(log_of(&db)).unwrap(),
    );
    store.close().unwrap();
    files
}

/// Where each record starts: at the log's salt.
fn record_starts(log: &[u8]) -> Vec<usize> {
    let salt = &log[8..LOG_HEADER];
    (LOG_HEADER..log.len().saturating_sub(salt.len()))
        .filter(|&i| &log[i..i + salt.len()] == salt)
        .collect()
}

/// Opens a copy with this log; checks it holds exactly the first `records` operations.
fn expect_records(dir: &Path, db: &[u8], log: &[u8], records: usize, what: &str) {
    let path = dir.join("copy.db");
    std::fs::write(&path, db).unwrap();
    std::fs::write(log_of(&path), log).unwrap();
    let store = Store::open(&path, Options::default())
        .unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
    for n in 1..=PAYMENTS {
        let done = records.saturating_sub((n as usize - 1) * OPS_PER_PAYMENT);
        let got = store.fetch_payment(&payment(n).1);
        let status = got.as_ref().map(|p| p.status);
        let want = match done.min(OPS_PER_PAYMENT) {
            0 => Err(()),
            1 => Ok(PaymentStatus::Initiated),
            2 => Ok(PaymentStatus::InFlight),
            _ => Ok(PaymentStatus::Succeeded),
        };
        match (&status, want) {
            (Err(Error::PaymentNotInitiated), Err(())) => {}
            (Ok(s), Ok(w)) if *s == w => {}
            _ => panic!("{what}: payment {n} after {records} records: {got:?}"),
        }
    }
    store
        .check_integrity()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_counts_consistent(&store);
    // Replayed into the store file; a clean close then removes the emptied log.
    assert_eq!(std::fs::metadata(log_of(&path)).unwrap().len(), 0, "{what}");
    store.close().unwrap();
    assert!(!log_of(&path).exists(), "{what}");
}

fn expect_corrupt(dir: &Path, db: &[u8], log: &[u8], what: &str) {
    let path = dir.join("copy.db");
    std::fs::write(&path, db).unwrap();
    std::fs::write(log_of(&path), log).unwrap();
    match Store::open(&path, Options::default()) {
        Err(Error::Corrupt(_)) => {}
        Err(e) => panic!("{what}: {e:?} instead of CORRUPT"),
        Ok(store) => {
            let _ = store.close();
            panic!("{what}: opened a store whose log lost a synced record");
        }
    }
    // Refusing wrote nothing: the same files still say so.
    assert!(matches!(
        Store::open(&path, Options::default()),
        Err(Error::Corrupt(_))
    ));
}

#[test]
fn damaged_logs_give_corrupt_or_every_acknowledged_operation() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = killed_store(dir.path());
    let starts = record_starts(&log);
    let total = PAYMENTS as usize * OPS_PER_PAYMENT;
    assert_eq!(starts.len(), total, "one record per operation");
    let record_of = |at: usize| starts.iter().rposition(|&s| s <= at).unwrap();

    expect_records(dir.path(), &db, &log, total, "intact");
    expect_records(dir.path(), &db, &[], 0, "log gone");

    let stride = std::env::var("LOG_FLIP_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut cuts: Vec<usize> = (0..log.len()).step_by(stride).collect();
    cuts.extend(starts.iter().flat_map(|&s| [s, s + 1]));
    let (n_cuts, n_flips) = (cuts.len(), log.len().div_ceil(stride));
    for cut in cuts {
        // Cut inside record r: records before it stay.
        let kept = starts.iter().filter(|&&s| s < cut).count();
        // A cut inside the header leaves a log that never held anything.
        let complete = if starts.contains(&cut) {
            kept
        } else {
            kept.saturating_sub(1)
        };
        expect_records(
            dir.path(),
            &db,
            &log[..cut],
            complete,
            &format!("cut at {cut}"),
        );
    }
    for at in (0..log.len()).step_by(stride) {
        let mut bad = log.clone();
        bad[at] ^= 0x10;
        if at < starts[0] {
            // The header: its salt is what finds the records.
            expect_corrupt(dir.path(), &db, &bad, &format!("flip at {at} (header)"));
            continue;
        }
        let what = format!("flip at {at} (record {})", record_of(at));
        if record_of(at) + 1 < total {
            expect_corrupt(dir.path(), &db, &bad, &what);
        } else {
            expect_records(dir.path(), &db, &bad, total - 1, &what);
        }
    }
    eprintln!(
        "log_files: {}-byte log of {total} records; {n_cuts} cuts and {n_flips} flips",
        log.len()
    );
}

/// A log whose records start after the store's (records missing in between) is damage,
/// not something to skip.
#[test]
fn a_log_that_does_not_follow_the_store_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = killed_store(dir.path());
    let starts = record_starts(&log);
    let without_first = [&log[..LOG_HEADER], &log[starts[1]..]].concat();
    expect_corrupt(dir.path(), &db, &without_first, "first record gone");
}
