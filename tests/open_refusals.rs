//! Opens that must be refused, and what a refusal may touch: a live store's log is locked
//! like the store; a file of a newer schema, with bad metadata or of another program is
//! refused without a byte of it changing and without a log created beside it; every
//! refusal names the path, in the library's words (no storage-engine internals).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use lnpaystore::backend::schema::{put_u64, KEY_SCHEMA_VERSION, META, SCHEMA_VERSION};
use lnpaystore::backend::{self, Backend, RedbBackend, RedbConfig};
use lnpaystore::*;
use redb::{ReadableDatabase, TableDefinition, TableHandle};

fn log_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-log");
    PathBuf::from(name)
}

fn durable() -> Options {
    Options::default()
}

/// A closed store with one payment.
fn store_with_a_payment(path: &Path) {
    let store = Store::open(path, fast_options()).unwrap();
    pay(&store, 1, 1000, 10);
    store.close().unwrap();
}

/// A store whose schema version is set to `version` (through the engine, below the
/// schema check).
fn store_with_version(path: &Path, version: u64) {
    store_with_a_payment(path);
    let b = RedbBackend::open(path, RedbConfig::default()).unwrap();
    backend::update(&b, |tx| put_u64(tx, META, KEY_SCHEMA_VERSION, version)).unwrap();
    b.close().unwrap();
    assert!(!log_of(path).exists());
}

/// Opens `path`, which must be refused with an error `want` accepts; the file must be
/// byte-identical afterwards and no log may appear beside it. Returns the message.
fn refused_untouched(path: &Path, what: &str, want: fn(&Error) -> bool) -> String {
    let before = std::fs::read(path).unwrap();
    let err = match Store::open(path, durable()) {
        Ok(store) => {
            store.close().unwrap();
            panic!("{what}: opened");
        }
        Err(e) => e,
    };
    assert!(want(&err), "{what}: {err:?}");
    assert!(
        std::fs::read(path).unwrap() == before,
        "{what}: the refused file changed"
    );
    assert!(!log_of(path).exists(), "{what}: a log was created");
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "{what}: the message does not name the path: {message}"
    );
    assert!(
        !message.to_lowercase().contains("redb"),
        "{what}: the message shows the engine: {message}"
    );
    message
}

#[test]
fn a_newer_schema_is_refused_and_left_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    store_with_version(&path, SCHEMA_VERSION + 1);
    refused_untouched(
        &path,
        "newer schema",
        |e| matches!(e, Error::Version { found, .. } if *found == SCHEMA_VERSION + 1),
    );
}

#[test]
fn schema_version_zero_is_corrupt_and_left_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zero.db");
    store_with_version(&path, 0);
    refused_untouched(&path, "schema 0", |e| matches!(e, Error::Corrupt(_)));
}

#[test]
fn a_meta_table_of_other_types_is_corrupt_and_left_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(TableDefinition::<u64, u64>::new(META))
            .unwrap()
            .insert(1, 2)
            .unwrap();
        txn.commit().unwrap();
    }
    refused_untouched(&path, "meta of other types", |e| {
        matches!(e, Error::Corrupt(_))
    });
}

#[test]
fn another_programs_redb_file_is_corrupt_and_left_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let users = TableDefinition::<&str, u64>::new("users");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(users).unwrap().insert("alice", 1).unwrap();
        txn.commit().unwrap();
    }
    let message = refused_untouched(&path, "foreign redb file", |e| {
        matches!(e, Error::Corrupt(_))
    });
    assert!(message.contains("not an lnpaystore store"), "{message}");
    // Still the other program's file, with only its own table.
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let tables: Vec<String> = txn
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_string())
        .collect();
    assert_eq!(tables, ["users"]);
}

#[test]
fn a_file_that_is_not_a_database_is_corrupt_in_the_librarys_words() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.db");
    std::fs::write(&path, [0x5a; 8192]).unwrap();
    let message = refused_untouched(&path, "not a database", |e| matches!(e, Error::Corrupt(_)));
    assert!(message.contains("not an lnpaystore store"), "{message}");
}

#[test]
fn open_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/x.db");
    let e = Store::open(&missing, fast_options())
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );
    let e = Store::open(dir.path(), fast_options())
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    assert!(
        e.to_string().contains(&dir.path().display().to_string()),
        "{e}"
    );
}

#[test]
fn a_live_stores_log_cannot_be_opened_as_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    let store = Store::open(&path, durable()).unwrap();
    let h = pay(&store, 1, 1000, 10);
    let log = log_of(&path);
    assert!(log.exists());
    // Empty after a checkpoint or not: either way it is the live store's.
    for _ in 0..2 {
        let r = Store::open(&log, durable()).map(|_| ());
        assert!(matches!(r, Err(Error::Locked(_))), "{r:?}");
        assert!(
            !log_of(&log).exists(),
            "the refused open created a log of its own"
        );
        store.compact().unwrap(); // checkpoints: the log is empty the second time
    }
    pay(&store, 2, 1000, 10);
    store.close().unwrap();
    let again = Store::open(&path, durable()).unwrap();
    assert_eq!(again.payment_counts().unwrap().total, 2);
    assert!(again.fetch_payment(&h).is_ok());
    again.check_integrity().unwrap();
    again.close().unwrap();
}

#[test]
fn a_store_whose_log_is_held_elsewhere_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    // Something holds a store at the path of node.db's log.
    let squatter = Store::open(log_of(&path), durable()).unwrap();
    let r = Store::open(&path, durable()).map(|_| ());
    assert!(matches!(r, Err(Error::Locked(_))), "{r:?}");
    assert!(
        !path.exists(),
        "the refused open left a new store file behind"
    );
    squatter.close().unwrap();
}

#[test]
fn a_second_open_of_a_live_store_is_locked_and_creates_no_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("held.db");
    let holder = Store::open(&path, fast_options()).unwrap(); // no_sync: no log of its own
    pay(&holder, 1, 1000, 10);
    let before = std::fs::read(&path).unwrap();
    for options in [durable(), fast_options()] {
        let r = Store::open(&path, options).map(|_| ());
        assert!(matches!(r, Err(Error::Locked(_))), "{r:?}");
    }
    assert!(!log_of(&path).exists(), "the refused open created a log");
    assert!(
        std::fs::read(&path).unwrap() == before,
        "the refused open wrote"
    );
    holder.close().unwrap();
}
