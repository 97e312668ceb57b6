//! The file: locking, versions, corrupt and foreign files, bad paths.

mod common;

use std::io::Write;

use common::*;
use lnpaystore::backend::schema::{put_u64, KEY_SCHEMA_VERSION, META, SCHEMA_VERSION};
use lnpaystore::backend::{self, Backend, RedbBackend, RedbConfig};
use lnpaystore::*;

#[test]
fn second_open_of_the_same_file_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let store = open(&path);
    assert!(matches!(
        Store::open(&path, fast_options()),
        Err(Error::Locked(_))
    ));
    store.close().unwrap();
    let again = Store::open(&path, fast_options()).unwrap();
    again.close().unwrap();
}

#[test]
fn newer_schema_version_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    pay(&open(&path), 1, 1000, 10);
    {
        let b = RedbBackend::open(&path, RedbConfig::default()).unwrap();
        backend::update(&b, |tx| {
            put_u64(tx, META, KEY_SCHEMA_VERSION, SCHEMA_VERSION + 1)
        })
        .unwrap();
        b.close().unwrap();
    }
    match Store::open(&path, fast_options()) {
        Err(e @ Error::Version { .. }) => assert_eq!(e.status(), LpsStatus::Version),
        other => panic!("expected Version, got {:?}", other.map(|_| ())),
    }
    // A refused open changes nothing: the version and the data are as they were.
    let b = RedbBackend::open(&path, RedbConfig::default()).unwrap();
    let (version, records) = backend::read(&b, |tx| {
        Ok((
            backend::schema::get_u64(tx, META, KEY_SCHEMA_VERSION)?,
            tx.count(backend::schema::RECORDS)?,
        ))
    })
    .unwrap();
    assert_eq!(version, Some(SCHEMA_VERSION + 1));
    assert_eq!(records, 3, "creation, attempt and settle records untouched");
}

#[test]
fn foreign_and_corrupt_files_give_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign.db");
    std::fs::File::create(&foreign)
        .unwrap()
        .write_all(&[0x5a; 8192])
        .unwrap();
    let r = Store::open(&foreign, fast_options()).map(|_| ());
    assert!(matches!(r, Err(Error::Corrupt(_))), "{r:?}");

    // A real store with its header smashed.
    let path = dir.path().join("smashed.db");
    pay(&open(&path), 1, 1000, 10);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..64].fill(0xff);
    std::fs::write(&path, &bytes).unwrap();
    let r = Store::open(&path, fast_options()).map(|_| ());
    assert!(matches!(r, Err(Error::Corrupt(_))), "{r:?}");
}

#[test]
fn bad_paths_give_io() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::open(dir.path(), fast_options()),
        Err(Error::Io(_))
    ));
    let missing_parent = dir.path().join("no/such/dir/x.db");
    assert!(matches!(
        Store::open(missing_parent, fast_options()),
        Err(Error::Io(_))
    ));
}

#[test]
fn calls_after_close_give_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("c.db"));
    store.close().unwrap();
    store.close().unwrap();
    let (_, h) = payment(1);
    assert_eq!(store.init_payment(&h, creation(1, 1)), Err(Error::Closed));
    assert_eq!(store.fetch_payment(&h), Err(Error::Closed));
    assert!(matches!(store.payment_counts(), Err(Error::Closed)));
    assert!(matches!(store.subscribe_all_payments(), Err(Error::Closed)));
    assert_eq!(store.compact(), Err(Error::Closed));
}

#[test]
fn a_new_store_records_the_current_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    open(&path).close().unwrap();
    let b = RedbBackend::open(&path, RedbConfig::default()).unwrap();
    let v = backend::read(&b, |tx| {
        backend::schema::get_u64(tx, META, KEY_SCHEMA_VERSION)
    })
    .unwrap();
    assert_eq!(v, Some(SCHEMA_VERSION));
}
