//! The write-ahead log: batch commits become durable by one sequential append and its
//! fsync, instead of redb writing and syncing every page the batch touched.
//!
//! A batch commits to redb without fsync (its pages stay unsynced in redb's write
//! buffer or the OS page cache), and its changes are appended to the log as one record
//! (`log_record`). A sync thread fsyncs the log while the writer prepares the next
//! batch; one fsync covers every record appended before it started. A batch is durable,
//! and its callers answered, once its record is synced. Every few MiB of log, a
//! checkpoint (a durable redb commit) writes the accumulated pages once, and the log
//! starts over. At open, the records the file lacks are replayed.
//!
//! A failed append or fsync is final: every pending and later durability callback gets
//! the error, and no later append is made (the kernel may have dropped the pages, and a
//! record after a hole would be replayed over it).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::log_record::{self, Recorder, Salt};
use crate::sync::lock;

/// Runs once a commit is durable, or with the error that kept it from being.
pub type DurableCallback = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The file the log lives in. Tests supply their own to hold or fail its fsync.
pub trait LogFile: Send + Sync + fmt::Debug {
    /// Appends at the end.
    fn append(&self, data: &[u8]) -> io::Result<()>;
    /// Makes every append so far durable.
    fn sync(&self) -> io::Result<()>;
    /// Empties the log, durably.
    fn reset(&self) -> io::Result<()>;
    fn read_all(&self) -> io::Result<Vec<u8>>;
    /// Starts writing appended data to the device without waiting (a hint).
    fn start_writeback(&self) {}
    /// Deletes the log, which the caller has emptied: a cleanly closed store is one file.
    fn remove(&self) -> io::Result<()> {
        Ok(())
    }
}

/// The log beside a store file: `<store>-log`.
#[derive(Debug)]
pub struct FileLog {
    // Opened for appending: each write lands at the current end, also after a reset.
    file: File,
    path: std::path::PathBuf,
}

impl FileLog {
    pub fn open(store: &Path) -> io::Result<FileLog> {
        let mut name = store.as_os_str().to_owned();
        name.push("-log");
        let path = std::path::PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        Ok(FileLog { file, path })
    }
}

impl LogFile for FileLog {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        (&self.file).write_all(data)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn reset(&self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_data()
    }

    fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut f = &self.file;
        f.seek(io::SeekFrom::Start(0))?;
        f.read_to_end(&mut out)?;
        Ok(out)
    }

    fn remove(&self) -> io::Result<()> {
        std::fs::remove_file(&self.path)
    }

    /// Gives the disk the record at once, while the sync thread wakes up (the same trick
    /// paid off when redb's pages were synced per batch; docs/performance.md).
    fn start_writeback(&self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a plain system call on a descriptor this struct owns; offset and
            // length 0 mean the whole file. Errors surface in the fsync.
            unsafe {
                libc::sync_file_range(self.file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
            }
        }
    }
}

#[derive(Default)]
struct State {
    /// The lsn of the last record appended.
    appended: u64,
    /// Every record up to this lsn is synced (unless `failed`).
    synced: u64,
    failed: Option<String>,
    /// Callbacks by the lsn they wait for.
    waiting: BTreeMap<u64, Vec<DurableCallback>>,
    shutdown: bool,
}

impl State {
    fn outcome(&self) -> Result<(), String> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

struct Shared {
    file: Arc<dyn LogFile>,
    state: Mutex<State>,
    changed: Condvar,
}

pub struct Wal {
    shared: Arc<Shared>,
    syncer: Mutex<Option<JoinHandle<()>>>,
    /// Bytes appended since the last reset.
    size: AtomicU64,
    /// This life of the log's salt, drawn at start and at each reset.
    salt: Mutex<Salt>,
}

impl Wal {
    /// Starts the sync thread; `lsn` is the last record the store holds.
    pub fn start(file: Arc<dyn LogFile>, lsn: u64) -> io::Result<Wal> {
        let shared = Arc::new(Shared {
            file,
            state: Mutex::new(State {
                appended: lsn,
                synced: lsn,
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        let s = shared.clone();
        let syncer = std::thread::Builder::new()
            .name("lnpaystore-sync".into())
            .spawn(move || s.run())?;
        Ok(Wal {
            shared,
            syncer: Mutex::new(Some(syncer)),
            size: AtomicU64::new(0),
            salt: Mutex::new(log_record::new_salt()?),
        })
    }

    /// The lsn the next record gets.
    pub fn next_lsn(&self) -> u64 {
        lock(&self.shared.state).appended + 1
    }

    /// The error of a failed append or fsync: nothing may be written after it.
    pub fn failed(&self) -> Option<String> {
        lock(&self.shared.state).failed.clone()
    }

    /// Appends the batch's records, numbered from `lsn` (which must be `next_lsn`), and
    /// asks for their fsync. A failed append fails the log: `when_durable` reports it for
    /// this batch and every later one.
    pub fn append(&self, lsn: u64, changes: &Recorder) {
        let synced = {
            let s = lock(&self.shared.state);
            debug_assert_eq!(lsn, s.appended + 1);
            s.failed.is_none().then_some(s.synced)
        };
        let mut written = 0;
        let mut result = Ok(());
        if let Some(synced) = synced {
            let salt = *lock(&self.salt);
            // The log starts over empty (`start` follows a replay that emptied it).
            let mut records = changes.frame(&salt, lsn, synced);
            if self.size() == 0 {
                records.insert(0, log_record::log_header(&salt));
            }
            for record in records {
                result = self.shared.file.append(&record);
                if result.is_err() {
                    break;
                }
                written += record.len() as u64;
            }
        }
        {
            let mut s = lock(&self.shared.state);
            // Published only now that its bytes are written: an fsync that starts
            // from here on covers them. Counted also when the log failed, so that its
            // callbacks get the error.
            s.appended = lsn + changes.records() - 1;
            if let Err(e) = &result {
                s.failed
                    .get_or_insert(format!("cannot append to the write-ahead log: {e}"));
            }
        }
        if written > 0 {
            self.size.fetch_add(written, Ordering::Relaxed);
            self.shared.file.start_writeback();
        }
        self.shared.changed.notify_all();
    }

    /// Bytes appended since the log last started over.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }

    /// Empties the log once a checkpoint made every record in it redundant.
    pub fn reset(&self) -> io::Result<()> {
        self.shared.file.reset()?;
        // A record left from this life (a torn write the reset did not reach) can never
        // be read as one of the next.
        *lock(&self.salt) = log_record::new_salt()?;
        self.size.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Deletes the emptied log file (see `LogFile::remove`).
    pub fn remove(&self) -> io::Result<()> {
        self.shared.file.remove()
    }

    /// Runs `callback` once record `lsn` is synced (at once if it is).
    pub fn when_durable(&self, lsn: u64, callback: DurableCallback) {
        let mut s = lock(&self.shared.state);
        if lsn <= s.synced || s.failed.is_some() {
            let result = s.outcome();
            drop(s);
            callback(result);
        } else {
            s.waiting.entry(lsn).or_default().push(callback);
        }
    }

    /// Waits for the last fsync, then stops the sync thread.
    pub fn close(&self) -> Result<(), String> {
        let result = {
            let mut s = lock(&self.shared.state);
            while s.synced < s.appended && s.failed.is_none() {
                s = self.shared.wait(s);
            }
            s.outcome()
        };
        self.stop_syncer();
        result
    }

    fn stop_syncer(&self) {
        lock(&self.shared.state).shutdown = true;
        self.shared.changed.notify_all();
        if let Some(handle) = lock(&self.syncer).take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        // `close` did this unless opening failed.
        self.stop_syncer();
    }
}

impl Shared {
    fn wait<'a>(&self, s: std::sync::MutexGuard<'a, State>) -> std::sync::MutexGuard<'a, State> {
        self.changed.wait(s).unwrap_or_else(|e| e.into_inner())
    }

    /// The sync thread: one fsync covers every record appended before it started.
    fn run(&self) {
        loop {
            let target = {
                let mut s = lock(&self.state);
                while s.synced == s.appended && s.failed.is_none() && !s.shutdown {
                    s = self.wait(s);
                }
                if s.failed.is_none() && s.synced < s.appended {
                    Some(s.appended)
                } else if s.failed.is_some() && !s.waiting.is_empty() {
                    None
                } else if s.shutdown {
                    return;
                } else {
                    // Failed, nothing waiting: sleep until shutdown.
                    while !s.shutdown && s.waiting.is_empty() {
                        s = self.wait(s);
                    }
                    continue;
                }
            };
            let result = match target {
                Some(_) => self.file.sync(),
                None => Ok(()),
            };
            let (ready, outcome) = {
                let mut s = lock(&self.state);
                if let Err(e) = result {
                    s.failed
                        .get_or_insert(format!("write-ahead log fsync failed: {e}"));
                }
                let ready = match (target, &s.failed) {
                    (Some(t), None) => {
                        s.synced = t;
                        let later = s.waiting.split_off(&(t + 1));
                        std::mem::replace(&mut s.waiting, later)
                    }
                    // Failed: every waiting callback gets the error.
                    _ => std::mem::take(&mut s.waiting),
                };
                (ready, s.outcome())
            };
            self.changed.notify_all();
            for callback in ready.into_values().flatten() {
                callback(outcome.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A log in memory whose fsync can be held or made to fail.
    #[derive(Debug, Default)]
    struct Probe {
        data: Mutex<Vec<u8>>,
        syncs: AtomicU64,
        held: Mutex<bool>,
        release: Condvar,
        fail: AtomicBool,
    }

    impl Probe {
        fn hold(&self, on: bool) {
            *lock(&self.held) = on;
            self.release.notify_all();
        }
    }

    impl LogFile for Probe {
        fn append(&self, data: &[u8]) -> io::Result<()> {
            lock(&self.data).extend_from_slice(data);
            Ok(())
        }
        fn sync(&self) -> io::Result<()> {
            self.syncs.fetch_add(1, Ordering::SeqCst);
            let mut held = lock(&self.held);
            while *held {
                held = self.release.wait(held).unwrap();
            }
            if self.fail.load(Ordering::Acquire) {
                return Err(io::Error::other("disk gone"));
            }
            Ok(())
        }
        fn reset(&self) -> io::Result<()> {
            lock(&self.data).clear();
            Ok(())
        }
        fn read_all(&self) -> io::Result<Vec<u8>> {
            Ok(lock(&self.data).clone())
        }
    }

    fn setup(lsn: u64) -> (Arc<Probe>, Wal) {
        let probe = Arc::new(Probe::default());
        let wal = Wal::start(probe.clone(), lsn).unwrap();
        (probe, wal)
    }

    fn changes() -> Recorder {
        let mut r = Recorder::default();
        r.put("t", b"k", b"v").unwrap();
        r
    }

    fn notify(wal: &Wal, lsn: u64) -> mpsc::Receiver<Result<(), String>> {
        let (tx, rx) = mpsc::channel();
        wal.when_durable(lsn, Box::new(move |r| tx.send(r).unwrap()));
        rx
    }

    #[test]
    fn callbacks_run_once_the_record_is_synced() {
        let (probe, wal) = setup(4);
        assert_eq!(wal.next_lsn(), 5);
        probe.hold(true);
        wal.append(5, &changes());
        let rx = notify(&wal, 5);
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        probe.hold(false);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
        // Registered after the fact: runs at once.
        assert_eq!(notify(&wal, 5).try_recv().unwrap(), Ok(()));
        // The record says what was synced when it was written.
        wal.append(6, &changes());
        let log = probe.read_all().unwrap();
        let records = super::super::log_record::records_to_replay(&log, 4).unwrap();
        let got: Vec<_> = records.iter().map(|r| (r.lsn, r.synced)).collect();
        assert_eq!(got, [(5, 4), (6, 5)]);
        assert_eq!(wal.size(), log.len() as u64);
        wal.reset().unwrap();
        assert_eq!((wal.size(), probe.read_all().unwrap().len()), (0, 0));
        wal.close().unwrap();
    }

    /// A log whose appends can be held halfway: the record is not written yet.
    #[derive(Debug, Default)]
    struct SlowAppend {
        inner: Probe,
        /// Bytes written when each fsync started.
        synced_lengths: Mutex<Vec<usize>>,
        hold_appends: Mutex<bool>,
        released: Condvar,
        appending: AtomicBool,
    }

    impl LogFile for SlowAppend {
        fn append(&self, data: &[u8]) -> io::Result<()> {
            self.appending.store(true, Ordering::SeqCst);
            let mut held = lock(&self.hold_appends);
            while *held {
                held = self.released.wait(held).unwrap();
            }
            drop(held);
            self.inner.append(data)
        }
        fn sync(&self) -> io::Result<()> {
            let len = lock(&self.inner.data).len();
            lock(&self.synced_lengths).push(len);
            self.inner.sync()
        }
        fn reset(&self) -> io::Result<()> {
            self.inner.reset()
        }
        fn read_all(&self) -> io::Result<Vec<u8>> {
            self.inner.read_all()
        }
    }

    #[test]
    fn an_fsync_during_an_append_does_not_cover_the_record() {
        let log = Arc::new(SlowAppend::default());
        let wal = Wal::start(log.clone(), 0).unwrap();
        // Record 1 is written; its fsync is held so that the sync thread is busy.
        log.inner.hold(true);
        wal.append(1, &changes());
        while log.inner.syncs.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        *lock(&log.hold_appends) = true;
        std::thread::scope(|s| {
            // Record 2's append blocks before its bytes are written.
            let appender = s.spawn(|| wal.append(2, &changes()));
            while !log.appending.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let second = notify(&wal, 2);
            // The fsync of record 1 ends; the sync thread looks for more work.
            let first = notify(&wal, 1);
            log.inner.hold(false);
            let first = first.recv_timeout(Duration::from_secs(5));
            let early = second.recv_timeout(Duration::from_millis(200)).is_ok();
            // Released before asserting, so that a failure cannot hang the test.
            *lock(&log.hold_appends) = false;
            log.released.notify_all();
            appender.join().unwrap();
            assert_eq!(first, Ok(Ok(())));
            assert!(
                !early,
                "record 2 was reported durable before its bytes were written"
            );
            assert_eq!(second.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
        });
        // Every fsync that made record 2 durable began after its bytes were written.
        let written = log.read_all().unwrap().len();
        let lengths = lock(&log.synced_lengths).clone();
        assert_eq!(lengths.last(), Some(&written), "{lengths:?}");
        wal.close().unwrap();
    }

    #[test]
    fn one_fsync_covers_the_records_appended_while_another_ran() {
        let (probe, wal) = setup(0);
        probe.hold(true);
        wal.append(1, &changes());
        while probe.syncs.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        for lsn in 2..=5 {
            wal.append(lsn, &changes());
        }
        let last = notify(&wal, 5);
        probe.hold(false);
        assert_eq!(last.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(()));
        assert_eq!(probe.syncs.load(Ordering::SeqCst), 2);
        wal.close().unwrap();
    }

    #[test]
    fn a_failed_fsync_fails_its_callbacks_and_every_later_append() {
        let (probe, wal) = setup(0);
        probe.fail.store(true, Ordering::Release);
        wal.append(1, &changes());
        let err = notify(&wal, 1)
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap_err();
        assert!(err.contains("disk gone"), "{err}");
        // Even once the disk would work again: the pages may be gone.
        probe.fail.store(false, Ordering::Release);
        let before = probe.read_all().unwrap().len();
        wal.append(2, &changes());
        assert_eq!(probe.read_all().unwrap().len(), before);
        assert!(wal.failed().is_some());
        assert!(notify(&wal, 2).try_recv().unwrap().is_err());
        assert!(wal.close().is_err());
    }

    #[test]
    fn close_waits_for_the_pending_fsync() {
        let (probe, wal) = setup(0);
        probe.hold(true);
        wal.append(1, &changes());
        std::thread::scope(|s| {
            let closer = s.spawn(|| wal.close());
            std::thread::sleep(Duration::from_millis(50));
            assert!(!closer.is_finished());
            probe.hold(false);
            closer.join().unwrap().unwrap();
        });
    }
}
