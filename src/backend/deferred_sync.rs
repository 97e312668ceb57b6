//! Deferred fsync: a commit's fsync runs on a sync thread while the writer prepares the
//! next batch in memory.
//!
//! The file sees exactly the order of a synchronous commit: every write, resize or sync
//! that follows a deferred sync first waits for it to finish. Only CPU work (running the
//! next batch's operations against redb's in-memory pages) overlaps the device flush, so
//! what a crash can leave on disk is what it could leave with synchronous commits. redb
//! believes a commit durable when `sync_data` returns; nothing acts on that belief before
//! the real fsync is done, because nothing reaches the file before then, and callers
//! learn of a commit only from `when_durable`.
//!
//! A failed fsync is final: every later write and every pending or later durability
//! callback gets the error (the kernel may have dropped the dirty pages; retrying the
//! fsync would report success for data that is gone).

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use redb::{BackendError, StorageBackend};

use crate::sync::lock;

/// Runs once a commit is durable, or with the fsync error.
pub type DurableCallback = Box<dyn FnOnce(Result<(), String>) + Send>;

impl State {
    /// What every sync finished so far amounts to: the first fsync error, or success.
    fn outcome(&self) -> Result<(), String> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn io_error(e: String) -> io::Error {
        io::Error::other(format!("an earlier fsync failed: {e}"))
    }
}

#[derive(Default)]
struct State {
    /// Syncs asked for so far; a sync's ticket is the value after its request.
    requested: u64,
    /// Every sync up to this ticket has finished (successfully unless `failed`).
    completed: u64,
    failed: Option<String>,
    /// Callbacks by the ticket they wait for.
    waiting: BTreeMap<u64, Vec<DurableCallback>>,
    /// The ticket of the last deferred sync, taken by `take_ticket`.
    last_ticket: Option<u64>,
    shutdown: bool,
}

/// Shared between the storage wrapper, its sync thread and the backend that arms it.
pub struct SyncGate {
    state: Mutex<State>,
    changed: Condvar,
    /// Set by the writer around a commit whose sync may be deferred.
    defer: AtomicBool,
}

impl SyncGate {
    /// Lets the next `sync_data` calls return before the fsync (until disarmed).
    pub fn arm(&self, on: bool) {
        self.defer.store(on, Ordering::Release);
    }

    /// The ticket of the deferred sync requested since the last call, if any.
    pub fn take_ticket(&self) -> Option<u64> {
        lock(&self.state).last_ticket.take()
    }

    /// Runs `callback` once sync `ticket` finished (at once if it has).
    pub fn when_durable(&self, ticket: u64, callback: DurableCallback) {
        let mut s = lock(&self.state);
        if ticket <= s.completed {
            let result = s.outcome();
            drop(s);
            callback(result);
        } else {
            s.waiting.entry(ticket).or_default().push(callback);
        }
    }

    /// Waits until no sync is pending; the fsync error if one failed.
    fn settle(&self) -> io::Result<()> {
        let mut s = lock(&self.state);
        while s.completed < s.requested && s.failed.is_none() {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.outcome().map_err(State::io_error)
    }
}

/// A redb storage backend that defers the fsync of armed commits to a sync thread.
pub struct DeferredSyncFile<B: StorageBackend> {
    inner: Arc<B>,
    /// The same file, to start writing its dirty pages out as soon as a commit asks for
    /// its sync (see `start_writeback`).
    writeback: Option<std::fs::File>,
    gate: Arc<SyncGate>,
    syncer: Mutex<Option<JoinHandle<()>>>,
}

impl<B: StorageBackend> DeferredSyncFile<B> {
    pub fn new(inner: B) -> io::Result<(Self, Arc<SyncGate>)> {
        let inner = Arc::new(inner);
        let gate = Arc::new(SyncGate {
            state: Mutex::default(),
            changed: Condvar::new(),
            defer: AtomicBool::new(false),
        });
        let (file, g) = (inner.clone(), gate.clone());
        let syncer = std::thread::Builder::new()
            .name("lnpaystore-sync".into())
            .spawn(move || run_syncer(&*file, &g))?;
        let backend = DeferredSyncFile {
            inner,
            writeback: None,
            gate: gate.clone(),
            syncer: Mutex::new(Some(syncer)),
        };
        Ok((backend, gate))
    }

    /// Names the file `inner` writes to, for `start_writeback`.
    pub fn with_writeback(mut self, file: std::fs::File) -> Self {
        self.writeback = Some(file);
        self
    }

    /// Starts writing the file's dirty pages to the device without waiting, so the disk
    /// is busy with a commit while the sync thread wakes up; its fsync then has less
    /// left to do (a sixth more life-cycle throughput measured). Durability still comes
    /// from that fsync alone; an error here shows up there, so it is ignored.
    fn start_writeback(&self) {
        #[cfg(target_os = "linux")]
        if let Some(file) = &self.writeback {
            use std::os::fd::AsRawFd;
            // SAFETY: a plain system call on a descriptor this struct owns; offset and
            // length 0 mean the whole file.
            unsafe {
                libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
            }
        }
    }

    fn stop_syncer(&self) {
        lock(&self.gate.state).shutdown = true;
        self.gate.changed.notify_all();
        if let Some(handle) = lock(&self.syncer).take() {
            let _ = handle.join();
        }
    }
}

/// The sync thread: one fsync covers every sync requested before it started.
fn run_syncer(file: &dyn StorageBackend, gate: &SyncGate) {
    loop {
        let target = {
            let mut s = lock(&gate.state);
            while s.completed == s.requested && !s.shutdown {
                s = gate.changed.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            if s.completed == s.requested {
                return;
            }
            s.requested
        };
        let result = if lock(&gate.state).failed.is_some() {
            Ok(())
        } else {
            file.sync_data()
        };
        let (ready, outcome) = {
            let mut s = lock(&gate.state);
            if let Err(e) = result {
                s.failed.get_or_insert(e.to_string());
            }
            s.completed = target;
            let later = s.waiting.split_off(&(target + 1));
            let ready = std::mem::replace(&mut s.waiting, later);
            let outcome = s.outcome();
            (ready, outcome)
        };
        gate.changed.notify_all();
        for callback in ready.into_values().flatten() {
            callback(outcome.clone());
        }
    }
}

impl<B: StorageBackend> fmt::Debug for DeferredSyncFile<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredSyncFile")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<B: StorageBackend> StorageBackend for DeferredSyncFile<B> {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        // Reads see the page cache, which already holds every earlier write.
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.gate.settle()?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        if self.gate.defer.load(Ordering::Acquire) {
            let mut s = lock(&self.gate.state);
            s.outcome().map_err(State::io_error)?;
            s.requested += 1;
            s.last_ticket = Some(s.requested);
            drop(s);
            self.gate.changed.notify_all();
            self.start_writeback();
            return Ok(());
        }
        self.gate.settle()?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.gate.settle()?;
        self.inner.write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        // The last deferred sync finishes before the file is released.
        let settled = self.gate.settle();
        self.stop_syncer();
        settled.and(self.inner.close())
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

impl<B: StorageBackend> Drop for DeferredSyncFile<B> {
    fn drop(&mut self) {
        // redb calls `close` first; this covers a failed open.
        self.stop_syncer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A storage stand-in that logs calls and whose fsync can be held or made to fail.
    #[derive(Debug, Default)]
    struct Probe {
        log: Mutex<Vec<&'static str>>,
        held: Mutex<bool>,
        release: Condvar,
        fail: AtomicBool,
    }

    #[derive(Debug)]
    struct ProbeFile(Arc<Probe>);

    impl Probe {
        fn note(&self, what: &'static str) {
            lock(&self.log).push(what);
        }

        fn log(&self) -> Vec<&'static str> {
            lock(&self.log).clone()
        }

        fn hold(&self, on: bool) {
            *lock(&self.held) = on;
            self.release.notify_all();
        }
    }

    impl StorageBackend for ProbeFile {
        fn len(&self) -> io::Result<u64> {
            Ok(0)
        }
        fn read(&self, _: u64, _: &mut [u8]) -> io::Result<()> {
            Ok(())
        }
        fn set_len(&self, _: u64) -> io::Result<()> {
            self.0.note("set_len");
            Ok(())
        }
        fn sync_data(&self) -> io::Result<()> {
            self.0.note("sync start");
            let mut held = lock(&self.0.held);
            while *held {
                held = self.0.release.wait(held).unwrap();
            }
            self.0.note("sync end");
            if self.0.fail.load(Ordering::Acquire) {
                return Err(io::Error::other("disk gone"));
            }
            Ok(())
        }
        fn write(&self, _: u64, data: &[u8]) -> io::Result<()> {
            self.0
                .note(if data == b"a" { "write a" } else { "write b" });
            Ok(())
        }
    }

    fn setup() -> (Arc<Probe>, DeferredSyncFile<ProbeFile>, Arc<SyncGate>) {
        let probe = Arc::new(Probe::default());
        let (file, gate) = DeferredSyncFile::new(ProbeFile(probe.clone())).unwrap();
        (probe, file, gate)
    }

    /// A deferred sync of the writes before it, left running.
    fn deferred_sync(file: &DeferredSyncFile<ProbeFile>, gate: &SyncGate) -> u64 {
        gate.arm(true);
        file.sync_data().unwrap();
        gate.arm(false);
        gate.take_ticket().expect("a deferred sync leaves a ticket")
    }

    fn wait_for(probe: &Probe, entry: &'static str) {
        for _ in 0..500 {
            if probe.log().contains(&entry) {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("{entry} never happened: {:?}", probe.log());
    }

    #[test]
    fn writes_after_a_deferred_sync_wait_for_it() {
        let (probe, file, gate) = setup();
        probe.hold(true);
        file.write(0, b"a").unwrap();
        deferred_sync(&file, &gate);
        wait_for(&probe, "sync start");
        std::thread::scope(|s| {
            let writer = s.spawn(|| file.write(0, b"b"));
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(probe.log(), ["write a", "sync start"], "write b went first");
            probe.hold(false);
            writer.join().unwrap().unwrap();
        });
        assert_eq!(
            probe.log(),
            ["write a", "sync start", "sync end", "write b"]
        );
        // Without arming, a sync is synchronous again.
        file.sync_data().unwrap();
        assert_eq!(probe.log().len(), 6);
        assert_eq!(gate.take_ticket(), None);
    }

    #[test]
    fn callbacks_run_once_the_fsync_is_done() {
        let (probe, file, gate) = setup();
        probe.hold(true);
        let ticket = deferred_sync(&file, &gate);
        let (tx, rx) = mpsc::channel();
        gate.when_durable(ticket, Box::new(move |r| tx.send(r).unwrap()));
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        probe.hold(false);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
        // Registered after the fact: runs at once, on this thread.
        let (tx, rx) = mpsc::channel();
        gate.when_durable(ticket, Box::new(move |r| tx.send(r).unwrap()));
        assert_eq!(rx.try_recv().unwrap(), Ok(()));
    }

    #[test]
    fn a_failed_fsync_fails_its_callbacks_and_every_later_write() {
        let (probe, file, gate) = setup();
        probe.fail.store(true, Ordering::Release);
        let ticket = deferred_sync(&file, &gate);
        let (tx, rx) = mpsc::channel();
        gate.when_durable(ticket, Box::new(move |r| tx.send(r).unwrap()));
        let err = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap_err();
        assert!(err.contains("disk gone"), "{err}");
        // Even once the disk would work again: the pages may be gone.
        probe.fail.store(false, Ordering::Release);
        assert!(file.write(0, b"b").is_err());
        assert!(file.set_len(0).is_err());
        assert!(file.sync_data().is_err());
        gate.arm(true);
        assert!(file.sync_data().is_err());
        gate.arm(false);
        assert!(!probe.log().contains(&"write b"));
    }

    #[test]
    fn close_waits_for_the_pending_fsync() {
        let (probe, file, gate) = setup();
        probe.hold(true);
        deferred_sync(&file, &gate);
        std::thread::scope(|s| {
            let closer = s.spawn(|| file.close());
            std::thread::sleep(Duration::from_millis(50));
            assert!(!closer.is_finished());
            probe.hold(false);
            closer.join().unwrap().unwrap();
        });
        assert_eq!(probe.log(), ["sync start", "sync end"]);
    }
}
