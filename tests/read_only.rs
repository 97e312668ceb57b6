//! Read-only opens: every read works, every change is refused with `ReadOnly`, and
//! neither the store file nor its write-ahead log changes by a byte, also when the log
//! holds batches the file lacks (replayed in memory only) and on read-only media.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{attempt, creation, fail, fail_info, mc_result, pay, payment, settle, with_suffix};
use lnpaystore::*;
use sha2::{Digest, Sha256};

fn read_only() -> Options {
    Options {
        read_only: true,
        ..Options::default()
    }
}

fn log_path(store: &Path) -> PathBuf {
    with_suffix(store, "-log")
}

/// Every file of the directory with its SHA-256 and modification time.
fn fingerprint(dir: &Path) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            let modified = e.metadata().unwrap().modified().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                Sha256::digest(&bytes).to_vec(),
                modified,
            )
        })
        .collect();
    files.sort();
    files
}

/// Ten payments: succeeded, failed and one in flight, and a mission-control result.
fn fill(store: &Store) {
    fill_first(store);
    fill_rest(store);
}

/// Mission control commits durably at once, not through the log: it comes first.
fn fill_first(store: &Store) {
    let mc = store
        .open_mission_control("default", McOptions::default())
        .unwrap();
    mc.add_result(mc_result(1)).unwrap();
    mc.close().unwrap();
    for n in 0..4 {
        pay(store, n, 1000, 1_700_000_000 + n as i64);
    }
}

fn fill_rest(store: &Store) {
    for n in 4..9 {
        fail(store, n, 2000, 1_700_000_000 + n as i64);
    }
    let (_, hash) = payment(9);
    store
        .init_payment(&hash, creation(500, 1_700_000_009))
        .unwrap();
    store
        .register_attempt(&hash, attempt(1, 500, None))
        .unwrap();
}

/// Reads everything `fill` wrote, then tries every change.
fn check_reads_and_refusals(store: &Store) {
    let counts = store.payment_counts().unwrap();
    assert_eq!(
        (
            counts.total,
            counts.succeeded,
            counts.failed,
            counts.in_flight
        ),
        (10, 4, 5, 1)
    );
    let page = store
        .query_payments(&Query {
            include_incomplete: true,
            max_payments: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.payments.len(), 10);
    assert_eq!(store.fetch_inflight_payments().unwrap().len(), 1);
    let (pre, hash) = payment(0);
    assert_eq!(
        store.fetch_payment(&hash).unwrap().status,
        PaymentStatus::Succeeded
    );
    store.check_integrity().unwrap();
    store.subscribe_all_payments().unwrap().close();

    let refused = |r: Result<Payment>, what: &str| match r {
        Err(Error::ReadOnly(w)) => assert_eq!(w, what),
        other => panic!("{what}: expected ReadOnly, got {other:?}"),
    };
    let (_, new) = payment(100);
    refused(store.init_payment(&new, creation(1, 1)), "init_payment");
    let (_, inflight) = payment(9);
    refused(
        store.register_attempt(&inflight, attempt(2, 1, None)),
        "register_attempt",
    );
    refused(
        store.settle_attempt(&hash, 1, settle(pre)),
        "settle_attempt",
    );
    refused(
        store.fail_attempt(&inflight, 1, fail_info()),
        "fail_attempt",
    );
    refused(
        store.fail_payment(&inflight, FailureReason::NoRoute),
        "fail_payment",
    );
    let status = |e: Error| e.status();
    assert_eq!(
        status(store.delete_payment(&hash, false).unwrap_err()),
        LpsStatus::ReadOnly
    );
    assert_eq!(
        status(store.delete_payments(false, false).unwrap_err()),
        LpsStatus::ReadOnly
    );
    assert_eq!(
        status(store.import_payments(Vec::new()).unwrap_err()),
        LpsStatus::ReadOnly
    );
    assert_eq!(status(store.compact().unwrap_err()), LpsStatus::ReadOnly);
    assert_eq!(LpsStatus::ReadOnly as i32, 13);

    let mc = store
        .open_mission_control("default", McOptions::default())
        .unwrap();
    assert_eq!(mc.fetch_all().unwrap(), vec![mc_result(1)]);
    assert_eq!(
        status(mc.add_result(mc_result(2)).unwrap_err()),
        LpsStatus::ReadOnly
    );
    assert_eq!(status(mc.clear().unwrap_err()), LpsStatus::ReadOnly);
    mc.close().unwrap();
    // Nothing got through: the payment is as it was.
    assert_eq!(store.payment_counts().unwrap().total, 10);
}

#[test]
fn a_cleanly_closed_store_reads_and_refuses_changes_without_a_byte_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lps.db");
    let store = Store::open(&path, Options::default()).unwrap();
    fill(&store);
    store.close().unwrap();
    let before = fingerprint(dir.path());

    let store = Store::open(&path, read_only()).unwrap();
    check_reads_and_refusals(&store);
    store.close().unwrap();
    assert_eq!(fingerprint(dir.path()), before);
    assert!(!log_path(&path).exists(), "no log is created");
}

#[test]
fn a_pending_log_is_replayed_in_memory_only() {
    let live = tempfile::tempdir().unwrap();
    let store = Store::open(live.path().join("lps.db"), Options::default()).unwrap();
    // The files as a kill could leave them: the store file as it was after the first
    // payments, the log with every batch acknowledged since the last checkpoint (this
    // run has none), so that the rest exists only in the log.
    let crashed = tempfile::tempdir().unwrap();
    let path = crashed.path().join("lps.db");
    fill_first(&store);
    std::fs::copy(live.path().join("lps.db"), &path).unwrap();
    fill_rest(&store);
    std::fs::copy(log_path(&live.path().join("lps.db")), log_path(&path)).unwrap();
    store.close().unwrap();
    assert!(std::fs::metadata(log_path(&path)).unwrap().len() > 0);
    let before = fingerprint(crashed.path());

    for _ in 0..2 {
        let store = Store::open(&path, read_only()).unwrap();
        check_reads_and_refusals(&store);
        store.close().unwrap();
        assert_eq!(fingerprint(crashed.path()), before, "files unchanged");
    }
    // A writable open then replays the same log into the file.
    let store = Store::open(&path, Options::default()).unwrap();
    assert_eq!(store.payment_counts().unwrap().total, 10);
    store.close().unwrap();
}

#[test]
fn read_only_opens_share_the_file_and_exclude_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lps.db");
    let writer = Store::open(&path, Options::default()).unwrap();
    fill(&writer);
    match Store::open(&path, read_only()) {
        Err(Error::Locked(m)) => assert!(m.contains("lps.db"), "{m}"),
        other => panic!("a writer has it: expected Locked, got {:?}", other.err()),
    }
    writer.close().unwrap();

    let a = Store::open(&path, read_only()).unwrap();
    let b = Store::open(&path, read_only()).unwrap();
    assert_eq!(b.payment_counts().unwrap().total, 10);
    assert_eq!(
        Store::open(&path, Options::default())
            .err()
            .map(|e| e.status()),
        Some(LpsStatus::Locked),
        "readers have it"
    );
    a.close().unwrap();
    b.close().unwrap();
    Store::open(&path, Options::default())
        .unwrap()
        .close()
        .unwrap();
}

#[test]
fn a_missing_or_empty_file_is_refused_and_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    match Store::open(&path, read_only()) {
        Err(Error::Io(msg)) => assert!(msg.contains("missing.db"), "{msg}"),
        other => panic!("expected Io naming the path, got {:?}", other.err()),
    }
    assert!(!path.exists());
    assert!(!log_path(&path).exists());

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(
        Store::open(&empty, read_only()).err().map(|e| e.status()),
        Some(LpsStatus::Corrupt)
    );
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
}

#[test]
fn a_read_only_directory_is_enough() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("ro");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("lps.db");
    let store = Store::open(&path, Options::default()).unwrap();
    fill(&store);
    store.close().unwrap();
    let set = |p: &Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
    set(&path, 0o444).unwrap();
    set(&sub, 0o555).unwrap();
    let before = fingerprint(&sub);
    let result = std::panic::catch_unwind(|| {
        let store = Store::open(&path, read_only()).unwrap();
        check_reads_and_refusals(&store);
        store.close().unwrap();
    });
    let after = fingerprint(&sub);
    set(&sub, 0o755).unwrap();
    result.unwrap();
    assert_eq!(after, before);
}

/// On a read-only file system (a tmpfs remounted read-only), with a log to replay. Needs
/// root and the right to mount; skipped (with a note) otherwise.
#[test]
fn a_read_only_file_system_with_a_log_to_replay() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mount = |args: &[&str]| {
        Command::new("mount")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !mount(&[
        "-t",
        "tmpfs",
        "-o",
        "size=64m",
        "lps-ro-test",
        mnt.to_str().unwrap(),
    ]) {
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        return;
    }
    let result = std::panic::catch_unwind(|| {
        let live = dir.path().join("live.db");
        let store = Store::open(&live, Options::default()).unwrap();
        let path = mnt.join("lps.db");
        fill_first(&store);
        std::fs::copy(&live, &path).unwrap();
        fill_rest(&store);
        std::fs::copy(log_path(&live), log_path(&path)).unwrap();
        store.close().unwrap();
        assert!(mount(&["-o", "remount,ro", mnt.to_str().unwrap()]));
        assert!(
            std::fs::write(mnt.join("probe"), b"x").is_err(),
            "mount is read-only"
        );
        let before = fingerprint(&mnt);
        let store = Store::open(&path, read_only()).unwrap();
        check_reads_and_refusals(&store);
        store.close().unwrap();
        assert_eq!(fingerprint(&mnt), before);
        // A writable open fails there, as it must.
        assert!(Store::open(&path, Options::default()).is_err());
    });
    let _ = Command::new("umount").arg(&mnt).status();
    result.unwrap();
}

/// A PostgreSQL store opened read-only: no lease, nothing written, beside a live writer.
#[cfg(feature = "postgres")]
mod database {
    use super::*;
    use common::pg;

    /// A role that may only read the schema of `url`: a read-only open that wrote
    /// anything (the lease, the schema, a row) would fail with "permission denied".
    fn reader_url(url: &str) -> String {
        let schema = url.rsplit("search_path%3D").next().unwrap();
        pg::client(url)
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE lnpaystore_reader LOGIN; \
                 EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
                 GRANT USAGE ON SCHEMA {schema} TO lnpaystore_reader; \
                 GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO lnpaystore_reader"
            ))
            .unwrap();
        url.replacen("://postgres@", "://lnpaystore_reader@", 1)
    }

    fn lease_row(url: &str) -> (String, i64) {
        let row = pg::client(url)
            .query_one("SELECT holder, term FROM lease", &[])
            .unwrap();
        (row.get(0), row.get(1))
    }

    #[test]
    fn a_database_reads_beside_its_writer_and_writes_nothing() {
        let Some(url) = pg::fresh_schema_url("ro") else {
            return;
        };
        let writer = Store::open(&url, Options::default()).unwrap();
        fill(&writer);
        let lease = lease_row(&url);
        let reader = Store::open(reader_url(&url), read_only()).unwrap();
        check_reads_and_refusals(&reader);
        // The writer goes on; the reader sees its commits (without waiting for a commit
        // of its own that never comes).
        pay(&writer, 50, 1000, 1_700_000_050);
        assert_eq!(reader.payment_counts().unwrap().total, 11);
        let err = reader.backup(tempfile::tempdir().unwrap().path().join("copy.db"));
        assert_eq!(err.unwrap_err().status(), LpsStatus::InvalidArgument);
        assert_eq!(lease_row(&url), lease, "the writer's lease is untouched");
        // A writer opens and closes beside it: read-only opens do not exclude one.
        writer.close().unwrap();
        let writer = Store::open(&url, Options::default()).unwrap();
        assert_eq!(reader.fetch_inflight_payments().unwrap().len(), 1);
        writer.close().unwrap();
        reader.close().unwrap();
    }

    #[test]
    fn a_database_without_a_store_is_refused_and_nothing_created() {
        let Some(url) = pg::fresh_schema_url("ro_empty") else {
            return;
        };
        match Store::open(&url, read_only()) {
            Err(Error::Io(m)) => assert!(m.contains("no lnpaystore tables"), "{m}"),
            other => panic!("expected Io, got {:?}", other.err()),
        }
        let tables: i64 = pg::client(&url)
            .query_one(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema()",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 0);
    }
}
