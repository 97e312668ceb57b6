//! A storage error in a batch: the operations are retried alone, so only the culprit fails.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};

use common::*;
use lnpaystore::backend::{Backend, ReadTx, RedbBackend, RedbConfig, WriteTx};
use lnpaystore::*;

/// Wraps the redb backend with two faults: the next `fail_next` write transactions fail
/// with `Io` after running their body (so real writes must be rolled back), and any `put`
/// of the `poison` key panics (a bug inside one operation).
struct Faulty {
    inner: RedbBackend,
    fail_next: AtomicU32,
    poison: Option<PaymentHash>,
}

impl Faulty {
    fn open(path: &std::path::Path, poison: Option<PaymentHash>) -> Arc<Faulty> {
        Arc::new(Faulty {
            inner: RedbBackend::open(path, RedbConfig::default()).unwrap(),
            fail_next: AtomicU32::new(0),
            poison,
        })
    }
}

/// A store over a `Faulty` backend in `dir`, with the default fast options.
fn faulty_store(dir: &tempfile::TempDir) -> (Arc<Faulty>, Store) {
    let flaky = Faulty::open(&dir.path().join("f.db"), None);
    let store = Store::with_backend(flaky.clone(), fast_options()).unwrap();
    (flaky, store)
}

impl Backend for Faulty {
    fn read(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
    ) -> Result<()> {
        self.inner.read(reset, f)
    }

    fn update(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
    ) -> Result<()> {
        let fail = self
            .fail_next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        self.inner.update(reset, &mut |tx| {
            f(&mut PanickyTx {
                inner: tx,
                poison: self.poison.as_ref().map(|p| &p[..]),
            })?;
            if fail {
                return Err(Error::Io("injected disk failure".into()));
            }
            Ok(())
        })
    }

    fn compact(&self) -> Result<()> {
        self.inner.compact()
    }

    fn close(&self) -> Result<()> {
        self.inner.close()
    }
}

/// A transaction whose `put` panics for one key.
struct PanickyTx<'a> {
    inner: &'a mut dyn WriteTx,
    poison: Option<&'a [u8]>,
}

impl ReadTx for PanickyTx<'_> {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(table, key)
    }
    fn scan(
        &self,
        table: &str,
        range: lnpaystore::backend::KeyRange<'_>,
        reverse: bool,
        visit: &mut lnpaystore::backend::Visitor<'_>,
    ) -> Result<()> {
        self.inner.scan(table, range, reverse, visit)
    }
    fn count(&self, table: &str) -> Result<u64> {
        self.inner.count(table)
    }
}

impl WriteTx for PanickyTx<'_> {
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        assert_ne!(Some(key), self.poison, "injected bug");
        self.inner.put(table, key, value)
    }
    fn delete(&mut self, table: &str, key: &[u8]) -> Result<bool> {
        self.inner.delete(table, key)
    }
    fn clear(&mut self, table: &str) -> Result<()> {
        self.inner.clear(table)
    }
}

#[test]
fn a_failed_batch_is_retried_one_operation_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Faulty::open(&dir.path().join("f.db"), None);
    let options = Options {
        max_batch_delay: std::time::Duration::from_millis(30),
        ..fast_options()
    };
    let store = Arc::new(Store::with_backend(flaky.clone(), options).unwrap());
    flaky.fail_next.store(1, Ordering::Release);
    let barrier = Arc::new(Barrier::new(12));
    let handles: Vec<_> = (0..12u64)
        .map(|t| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store
                    .init_payment(&payment(t).1, creation(1000, 10))
                    .map(|p| p.sequence_num)
            })
        })
        .collect();
    let results: Vec<Result<u64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let mut seqs: Vec<u64> = results.into_iter().map(|r| r.unwrap()).collect();
    seqs.sort();
    // The failed batch's sequence numbers were rolled back with it: no gaps, no reuse.
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
    assert!(
        store.commit_stats().max_batch > 1,
        "the operations shared a batch"
    );
    assert_eq!(store.payment_counts().unwrap().initiated, 12);
    assert_counts_consistent(&store);
}

#[test]
fn a_failed_batch_leaves_no_trace_in_the_writers_cache() {
    // The writer keeps in-flight payments decoded and changes them in place: an aborted
    // transaction must not leave its change behind.
    let dir = tempfile::tempdir().unwrap();
    let (flaky, store) = faulty_store(&dir);
    let (_, h) = payment(1);
    store.init_payment(&h, creation(1000, 10)).unwrap();
    store
        .register_attempt(&h, attempt(1, 400, mpp(1000)))
        .unwrap();
    flaky.fail_next.store(1, Ordering::Release);
    assert!(matches!(
        store.register_attempt(&h, attempt(2, 600, mpp(1000))),
        Err(Error::Io(_))
    ));
    // Attempt 2 was rolled back: registering it again works, once.
    let p = store
        .register_attempt(&h, attempt(2, 600, mpp(1000)))
        .unwrap();
    let ids: Vec<u64> = p.htlcs.iter().map(|a| a.info.attempt_id).collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(store.fetch_payment(&h).unwrap(), p);
}

#[test]
fn a_lone_operation_gets_the_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (flaky, store) = faulty_store(&dir);
    let (_, h) = payment(1);
    flaky.fail_next.store(1, Ordering::Release);
    assert!(matches!(
        store.init_payment(&h, creation(1000, 10)),
        Err(Error::Io(_))
    ));
    assert_eq!(
        store.fetch_payment(&h),
        Err(Error::PaymentNotInitiated),
        "rolled back"
    );
    assert_eq!(store.payment_counts().unwrap().total, 0);
    // The next attempt works and takes the first sequence number.
    assert_eq!(
        store
            .init_payment(&h, creation(1000, 10))
            .unwrap()
            .sequence_num,
        1
    );
}

#[test]
fn a_panicking_operation_fails_alone_and_the_writer_survives() {
    let dir = tempfile::tempdir().unwrap();
    let (_, poison) = payment(666);
    let backend = Faulty::open(&dir.path().join("p.db"), Some(poison));
    let options = Options {
        max_batch_delay: std::time::Duration::from_millis(30),
        ..fast_options()
    };
    let store = Arc::new(Store::with_backend(backend, options).unwrap());
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let hash = if t == 0 { poison } else { payment(t).1 };
                store.init_payment(&hash, creation(1000, 10)).map(|_| ())
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let r = h.join().unwrap();
        if t == 0 {
            assert!(matches!(r, Err(Error::Internal(_))), "{r:?}");
        } else {
            assert_eq!(r, Ok(()));
        }
    }
    // The writer is still alive.
    store
        .init_payment(&payment(100).1, creation(1000, 10))
        .unwrap();
    assert_eq!(store.payment_counts().unwrap().initiated, 8);
    assert_counts_consistent(&store);
}
