//! A batch is durable once its write-ahead log record is synced; that fsync runs while
//! the writer prepares the next batch. Nobody may learn of a commit before its fsync is
//! done, a failed fsync fails everything after it, and the store file itself is synced
//! only by checkpoints. After a crash, the log's records are replayed.

mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::*;
use lnpaystore::backend::{LogFile, RedbBackend, RedbConfig};
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

    fn sync(&self) -> io::Result<()> {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        let mut held = self.held.lock().unwrap();
        while *held {
            held = self.release.wait(held).unwrap();
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(io::Error::other("the disk went away"));
        }
        Ok(())
    }
}

/// The write-ahead log, in memory, on the controlled disk.
#[derive(Debug, Default)]
struct SlowLog {
    data: Mutex<Vec<u8>>,
    control: Arc<Control>,
    fail_append: AtomicBool,
}

impl LogFile for SlowLog {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        if self.fail_append.load(Ordering::SeqCst) {
            return Err(io::Error::other("the disk is full"));
        }
        self.data.lock().unwrap().extend_from_slice(data);
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        self.control.sync()
    }
    fn reset(&self) -> io::Result<()> {
        self.data.lock().unwrap().clear();
        Ok(())
    }
    fn read_all(&self) -> io::Result<Vec<u8>> {
        Ok(self.data.lock().unwrap().clone())
    }
}

/// The store file, in memory; counts its fsyncs.
#[derive(Debug)]
struct StoreFile {
    inner: InMemoryBackend,
    syncs: Arc<AtomicU32>,
}

impl StorageBackend for StoreFile {
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
        self.syncs.fetch_add(1, Ordering::SeqCst);
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write(offset, data)
    }
}

struct Rig {
    log: Arc<SlowLog>,
    control: Arc<Control>,
    store_syncs: Arc<AtomicU32>,
    store: Store,
}

fn rig(checkpoint_bytes: u64, options: Options) -> Rig {
    let log = Arc::new(SlowLog::default());
    let store_syncs = Arc::new(AtomicU32::new(0));
    let file = StoreFile {
        inner: InMemoryBackend::new(),
        syncs: store_syncs.clone(),
    };
    let config = RedbConfig {
        checkpoint_bytes,
        ..RedbConfig::default()
    };
    let backend = RedbBackend::with_storage(file, log.clone(), config).unwrap();
    let store = Store::with_backend(Arc::new(backend), options).unwrap();
    Rig {
        control: log.control.clone(),
        log,
        store_syncs,
        store,
    }
}

fn slow_store() -> (Arc<Control>, Store) {
    let rig = rig(RedbConfig::default().checkpoint_bytes, Options::default());
    (rig.control, rig.store)
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

/// The batch is in redb's memory when its append fails: it must fail like a lost fsync,
/// and no read may show it or hang waiting for it.
#[test]
fn a_failed_append_fails_its_batch_and_everything_after() {
    let rig = rig(RedbConfig::default().checkpoint_bytes, Options::default());
    let (_, kept) = payment(1);
    rig.store.init_payment(&kept, creation(1000, 1)).unwrap();
    rig.log.fail_append.store(true, Ordering::SeqCst);
    let (_, lost) = payment(2);
    let err = rig
        .store
        .init_payment(&lost, creation(1000, 1))
        .unwrap_err();
    assert!(
        matches!(err, Error::Io(ref m) if m.contains("disk is full")),
        "{err:?}"
    );
    assert!(matches!(rig.store.fetch_payment(&lost), Err(Error::Io(_))));
    rig.log.fail_append.store(false, Ordering::SeqCst);
    assert!(rig
        .store
        .init_payment(&payment(3).1, creation(1000, 1))
        .is_err());
    assert!(rig.store.delete_payments(false, false).is_err());
    assert!(rig.store.close().is_err());
    // Only the record before the failure is in the log (opening wrote none: the schema
    // is a durable commit), so a reopen would replay just it.
    assert_eq!(rig.log.records(), 1);
}

#[test]
fn batches_sync_only_the_log_until_a_checkpoint() {
    let rig = rig(64 << 10, Options::default());
    let start = rig.store_syncs.load(Ordering::SeqCst);
    let mut n = 0;
    // Serial calls: each is a batch, and appends a record of a few hundred bytes.
    let log_syncs = rig.control.syncs.load(Ordering::SeqCst);
    while rig.store_syncs.load(Ordering::SeqCst) == start {
        n += 1;
        assert!(n < 2_000, "no checkpoint after {n} payments");
        pay(&rig.store, n, 1000, n as i64);
        // init, register, settle: three records, each synced before its call returns.
        let synced = rig.control.syncs.load(Ordering::SeqCst) - log_syncs;
        assert_eq!(synced, 3 * n as u32);
    }
    assert!(n > 20, "checkpointed after only {n} payments");
    // The checkpoint emptied the log; the batch that made it is the one record left.
    let left = rig.log.read_all().unwrap().len();
    assert!(left > 0 && left < 4 << 10, "{left} bytes left in the log");
    for i in 1..=n {
        let (_, hash) = payment(i);
        assert_eq!(
            rig.store.fetch_payment(&hash).unwrap().status,
            PaymentStatus::Succeeded
        );
    }
    rig.store.close().unwrap();
    assert!(rig.log.read_all().unwrap().is_empty(), "close checkpoints");
}

fn copy(from: &Path, to: &Path) {
    for suffix in ["", "-log"] {
        let name = |p: &Path| {
            let mut s = p.as_os_str().to_owned();
            s.push(suffix);
            s
        };
        std::fs::copy(name(from), name(to)).unwrap();
    }
}

/// Copying the files of an open store gives what a kill would leave: the store file
/// holds the last checkpoint, the log every batch after it.
#[test]
fn a_killed_store_replays_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let (live, copied) = (dir.path().join("live.db"), dir.path().join("copy.db"));
    let options = Options {
        checkpoint_bytes: 16 << 10,
        ..Options::default()
    };
    let store = Store::open(&live, options).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &store;
            s.spawn(move || {
                for i in 0..50 {
                    let n = 1 + t * 50 + i;
                    if n % 3 == 0 {
                        fail(store, n, 1000, n as i64);
                    } else {
                        pay(store, n, 1000, n as i64);
                    }
                }
            });
        }
    });
    copy(&live, &copied);
    let log_len = std::fs::metadata(dir.path().join("copy.db-log"))
        .unwrap()
        .len();
    assert!(log_len > 0, "nothing to replay");
    store.close().unwrap();
    let reopened = Store::open(&copied, Options::default()).unwrap();
    for n in 1..=200 {
        let (_, hash) = payment(n);
        let want = match n % 3 {
            0 => PaymentStatus::Failed,
            _ => PaymentStatus::Succeeded,
        };
        assert_eq!(reopened.fetch_payment(&hash).unwrap().status, want, "{n}");
    }
    assert_counts_consistent(&reopened);
    assert!(reopened.check_integrity().is_ok());
    assert_eq!(reopened.payment_counts().unwrap().total, 200);
    // The replayed batches are in the store file now; the log started over.
    assert_eq!(
        std::fs::metadata(dir.path().join("copy.db-log"))
            .unwrap()
            .len(),
        0
    );
    reopened.close().unwrap();
    // A cleanly closed store is one file.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["copy.db", "live.db"]);
}

impl SlowLog {
    /// Records in the log, counted by the salt each starts with (the log header, magic
    /// and salt, takes the first 24 bytes).
    fn records(&self) -> usize {
        let data = self.data.lock().unwrap();
        let Some(salt) = data.get(8..24) else {
            return 0;
        };
        data[24..].windows(16).filter(|w| w == &salt).count()
    }
}

/// `max_batch_size = 1` means no group commit: a full batch waits for the previous
/// fsync, so no two operations share one.
#[test]
fn a_full_batch_waits_for_the_previous_fsync() {
    let rig = rig(RedbConfig::default().checkpoint_bytes, {
        Options {
            max_batch_size: 1,
            ..Options::default()
        }
    });
    let before = rig.log.records();
    rig.control.hold(true);
    std::thread::scope(|s| {
        let payers: Vec<_> = (1..=4)
            .map(|n| {
                let store = &rig.store;
                s.spawn(move || store.init_payment(&payment(n).1, creation(1000, 1)))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let while_held = rig.log.records();
        rig.control.hold(false);
        assert_eq!(while_held, before + 1, "committed past a pending fsync");
        for p in payers {
            p.join().unwrap().unwrap();
        }
    });
    assert_eq!(rig.log.records(), before + 4);
    rig.store.close().unwrap();
}
