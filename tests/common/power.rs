//! A simulated disk for power-loss tests: a store file and its write-ahead log in memory,
//! each remembering what was written (what the OS shows) apart from what completed
//! syncs covered (what survives a power loss).
//!
//! `Disk::cut` is the power loss: from then on every write and sync fails, and
//! `Disk::image` gives what a machine would find at boot: only what syncs covered
//! (`Loss::Synced`), that plus a random choice of the unsynced 512-byte sectors
//! (`Loss::Sectors`), or everything written (`Loss::Nothing`: a killed process, whose
//! writes the kernel keeps). The power can also be set to fail after a number of writes
//! and syncs (`Disk::cut_after`), so that it stops in the middle of a commit.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lnpaystore::backend::{LogFile, RedbBackend, RedbConfig};

const SECTOR: usize = 512;

/// What a power loss keeps of what was written but not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Only what completed syncs covered.
    Synced,
    /// That, and each unsynced sector with even odds.
    Sectors,
    /// Everything written: a killed process.
    Nothing,
}

#[derive(Debug, Default, Clone)]
struct Contents {
    written: Vec<u8>,
    synced: Vec<u8>,
    /// Sectors written (or cut off by a truncation) since the last sync.
    dirty: BTreeSet<usize>,
}

impl Contents {
    fn from_image(image: Vec<u8>) -> Contents {
        Contents {
            synced: image.clone(),
            written: image,
            dirty: BTreeSet::new(),
        }
    }

    fn mark(&mut self, from: usize, to: usize) {
        if to > from {
            self.dirty.extend(from / SECTOR..to.div_ceil(SECTOR));
        }
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        let end = offset + data.len();
        if self.written.len() < end {
            self.mark(self.written.len(), offset);
            self.written.resize(end, 0);
        }
        self.written[offset..end].copy_from_slice(data);
        self.mark(offset, end);
    }

    fn set_len(&mut self, len: usize) {
        let old = self.written.len();
        self.written.resize(len, 0);
        self.mark(old.min(len), old.max(len));
    }

    fn sync(&mut self) {
        self.synced.resize(self.written.len(), 0);
        for &s in &self.dirty {
            let (from, to) = (s * SECTOR, ((s + 1) * SECTOR).min(self.written.len()));
            if from < to {
                self.synced[from..to].copy_from_slice(&self.written[from..to]);
            }
        }
        self.dirty.clear();
    }

    fn image(&self, loss: Loss, rng: &mut Rng) -> Vec<u8> {
        match loss {
            Loss::Synced => self.synced.clone(),
            Loss::Nothing => self.written.clone(),
            Loss::Sectors => {
                let len = if rng.coin() {
                    self.written.len()
                } else {
                    self.synced.len()
                };
                let mut out = self.synced.clone();
                out.resize(len, 0);
                for &s in &self.dirty {
                    let (from, to) = (s * SECTOR, ((s + 1) * SECTOR).min(len));
                    if from >= to || !rng.coin() {
                        continue;
                    }
                    for (i, b) in out[from..to].iter_mut().enumerate() {
                        *b = self.written.get(from + i).copied().unwrap_or(0);
                    }
                }
                out
            }
        }
    }
}

/// A small deterministic generator (xorshift), so a failing run can be repeated.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

#[derive(Debug)]
struct Power {
    /// Every write and sync of both files takes this lock, so a cut falls between two
    /// of them, never inside one.
    bus: Mutex<()>,
    off: AtomicBool,
    /// Writes and syncs left before the power fails by itself (`u64::MAX`: never).
    left: AtomicU64,
    syncs: AtomicU64,
    /// One-off faults: the next log reset, or the next store file sync, fails.
    fail_log_reset: AtomicBool,
    fail_store_sync: AtomicBool,
    /// Each log append takes a moment before its bytes land, as a real write does.
    slow_appends: AtomicBool,
}

/// A store file and its log on one simulated disk.
#[derive(Debug, Clone)]
pub struct Disk {
    power: Arc<Power>,
    store: Arc<Mutex<Contents>>,
    log: Arc<Mutex<Contents>>,
}

/// The store file's view of the disk (redb's storage backend).
#[derive(Debug)]
pub struct StoreFile(Disk);

/// The log's view of the disk.
#[derive(Debug)]
pub struct LogOnDisk(Disk);

fn power_lost() -> io::Error {
    io::Error::other("simulated power loss")
}

impl Disk {
    /// An empty disk, powered.
    pub fn new() -> Disk {
        Disk::from_images(Vec::new(), Vec::new())
    }

    /// A disk holding these files, as found after a crash.
    pub fn from_images(store: Vec<u8>, log: Vec<u8>) -> Disk {
        Disk {
            power: Arc::new(Power {
                bus: Mutex::new(()),
                off: AtomicBool::new(false),
                left: AtomicU64::new(u64::MAX),
                syncs: AtomicU64::new(0),
                fail_log_reset: AtomicBool::new(false),
                fail_store_sync: AtomicBool::new(false),
                slow_appends: AtomicBool::new(false),
            }),
            store: Arc::new(Mutex::new(Contents::from_image(store))),
            log: Arc::new(Mutex::new(Contents::from_image(log))),
        }
    }

    /// Opens a store backend on this disk.
    pub fn backend(&self, config: RedbConfig) -> lnpaystore::Result<RedbBackend> {
        RedbBackend::with_storage(
            StoreFile(self.clone()),
            Arc::new(LogOnDisk(self.clone())),
            config,
        )
    }

    /// The power fails after `n` more writes and syncs.
    pub fn cut_after(&self, n: u64) {
        self.power.left.store(n, Ordering::SeqCst);
    }

    /// The power fails now (between two writes or syncs).
    pub fn cut(&self) {
        let _bus = self.power.bus.lock().unwrap();
        self.power.off.store(true, Ordering::SeqCst);
    }

    /// Log appends take a moment (50 µs) before their bytes land: a sync that runs
    /// meanwhile does not cover them.
    pub fn slow_appends(&self, on: bool) {
        self.power.slow_appends.store(on, Ordering::SeqCst);
    }

    /// The next truncation of the log fails (an I/O error; the power stays on).
    pub fn fail_log_reset(&self) {
        self.power.fail_log_reset.store(true, Ordering::SeqCst);
    }

    /// The next sync of the store file fails.
    pub fn fail_store_sync(&self) {
        self.power.fail_store_sync.store(true, Ordering::SeqCst);
    }

    pub fn is_off(&self) -> bool {
        self.power.off.load(Ordering::SeqCst)
    }

    /// Syncs completed so far, of either file.
    pub fn syncs(&self) -> u64 {
        self.power.syncs.load(Ordering::SeqCst)
    }

    /// What a boot after the power loss finds: a new, powered disk. Call after `cut`.
    pub fn image(&self, loss: Loss, rng: &mut Rng) -> Disk {
        assert!(self.is_off(), "image of a disk still running");
        let store = self.store.lock().unwrap().image(loss, rng);
        let log = self.log.lock().unwrap().image(loss, rng);
        Disk::from_images(store, log)
    }

    /// Bytes in the log as written.
    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap().written.len()
    }

    /// Runs one write or sync on `file` unless the power is (or goes) off.
    fn io<T>(&self, file: &Mutex<Contents>, f: impl FnOnce(&mut Contents) -> T) -> io::Result<T> {
        let _bus = self.power.bus.lock().unwrap();
        if self.power.off.load(Ordering::SeqCst) {
            return Err(power_lost());
        }
        let left = self.power.left.load(Ordering::SeqCst);
        if left != u64::MAX {
            if left == 0 {
                self.power.off.store(true, Ordering::SeqCst);
                return Err(power_lost());
            }
            self.power.left.store(left - 1, Ordering::SeqCst);
        }
        Ok(f(&mut file.lock().unwrap()))
    }

    fn sync(&self, file: &Mutex<Contents>) -> io::Result<()> {
        self.io(file, Contents::sync)?;
        self.power.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Default for Disk {
    fn default() -> Self {
        Disk::new()
    }
}

impl redb::StorageBackend for StoreFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.store.lock().unwrap().written.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let c = self.0.store.lock().unwrap();
        let from = offset as usize;
        let Some(data) = c.written.get(from..from + out.len()) else {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        };
        out.copy_from_slice(data);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.io(&self.0.store, |c| c.set_len(len as usize))
    }

    fn sync_data(&self) -> io::Result<()> {
        if self.0.power.fail_store_sync.swap(false, Ordering::SeqCst) {
            return Err(io::Error::other("injected store sync failure"));
        }
        self.0.sync(&self.0.store)
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.0.io(&self.0.store, |c| c.write(offset as usize, data))
    }
}

impl LogFile for LogOnDisk {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        if self.0.power.slow_appends.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
        self.0.io(&self.0.log, |c| {
            let end = c.written.len();
            c.write(end, data)
        })
    }

    fn sync(&self) -> io::Result<()> {
        self.0.sync(&self.0.log)
    }

    fn reset(&self) -> io::Result<()> {
        if self.0.power.fail_log_reset.swap(false, Ordering::SeqCst) {
            return Err(io::Error::other("injected log truncation failure"));
        }
        self.0.io(&self.0.log, |c| c.set_len(0))?;
        self.sync()
    }

    fn read_all(&self) -> io::Result<Vec<u8>> {
        Ok(self.0.log.lock().unwrap().written.clone())
    }
}
