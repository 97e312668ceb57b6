//! A commit's fsync runs while the writer prepares the next batch: nobody may learn of a
//! commit before its fsync is done, and a failed fsync fails everything after it.

mod common;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::*;
use lnpaystore::backend::{RedbBackend, RedbConfig};
use lnpaystore::*;
use redb::backends::InMemoryBackend;
use redb::StorageBackend;

/// A disk whose fsync can be held back or made to fail.
#[derive(Debug, Default)]
struct Control {
    held: Mutex<bool>,
    release: Condvar,
    fail: AtomicBool,
    syncs: AtomicU32,
}

impl Control {
    fn hold(&self, on: bool) {
        *self.held.lock().unwrap() = on;
        self.release.notify_all();
    }
}

#[derive(Debug)]
struct SlowDisk {
    inner: InMemoryBackend,
    control: Arc<Control>,
}

impl StorageBackend for SlowDisk {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.control.syncs.fetch_add(1, Ordering::SeqCst);
        let mut held = self.control.held.lock().unwrap();
        while *held {
            held = self.control.release.wait(held).unwrap();
        }
        if self.control.fail.load(Ordering::SeqCst) {
            return Err(io::Error::other("the disk went away"));
        }
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write(offset, data)
    }
}

fn slow_store() -> (Arc<Control>, Store) {
    let control = Arc::new(Control::default());
    let disk = SlowDisk {
        inner: InMemoryBackend::new(),
        control: control.clone(),
    };
    let backend = RedbBackend::with_storage(disk, RedbConfig::default()).unwrap();
    let store = Store::with_backend(Arc::new(backend), Options::default()).unwrap();
    (control, store)
}

/// Waits until the fsync after `before` syncs has started (and is held).
fn wait_for_sync(control: &Control, before: u32) {
    for _ in 0..1000 {
        if control.syncs.load(Ordering::SeqCst) > before {
            // The commit returns (and becomes visible) just after asking for its fsync.
            std::thread::sleep(Duration::from_millis(20));
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("no fsync started");
}

#[test]
fn callers_and_readers_wait_for_the_fsync() {
    let (control, store) = slow_store();
    let (_, hash) = payment(1);
    control.hold(true);
    let before = control.syncs.load(Ordering::SeqCst);
    std::thread::scope(|s| {
        let payer = s.spawn(|| store.init_payment(&hash, creation(1000, 1)));
        wait_for_sync(&control, before);
        let reader = s.spawn(|| store.fetch_payment(&hash));
        let counter = s.spawn(|| store.payment_counts());
        let watcher = s.spawn(|| store.subscribe_payment(&hash).map(|_| ()));
        std::thread::sleep(Duration::from_millis(100));
        let early = [
            ("the caller", payer.is_finished()),
            ("a fetch", reader.is_finished()),
            ("the counts", counter.is_finished()),
            ("a subscription", watcher.is_finished()),
        ];
        control.hold(false);
        for (what, done) in early {
            assert!(!done, "{what} learned of a commit before its fsync");
        }
        let paid = payer.join().unwrap().unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), paid);
        assert_eq!(counter.join().unwrap().unwrap().initiated, 1);
        watcher.join().unwrap().unwrap();
    });
    store.close().unwrap();
}

#[test]
fn a_failed_fsync_fails_its_batch_and_everything_after() {
    let (control, store) = slow_store();
    let (_, hash) = payment(1);
    control.fail.store(true, Ordering::SeqCst);
    let err = store.init_payment(&hash, creation(1000, 1)).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    // The commit is in memory but never reached the disk: no read may show it.
    let err = store.fetch_payment(&hash).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    // A disk that works again is not trusted: the kernel may have dropped the pages.
    control.fail.store(false, Ordering::SeqCst);
    let (_, other) = payment(2);
    assert!(store.init_payment(&other, creation(1000, 1)).is_err());
    assert!(store.payment_counts().is_err());
    let _ = store.close();
}
