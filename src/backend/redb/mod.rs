//! The embedded engine: one redb file, opened by one process at a time.
//!
//! - `errors`: redb's errors mapped to the crate's.
//! - `guard`: panic guards for damaged files.
//! - `tx`: the trait's transactions over redb's.
//! - `log`: the write-ahead log's orchestration (logged commits, checkpoints, replay).
//! - `close`: the close sequence.
//! - `scratch`: read-only opens (the file behind an in-memory layer).
//! - `backup`: the online backup.
//! - `failure`: one failed write refuses every later one.
//! - `files`: recognising a store file before writing to it, the log's lock, directory
//!   syncs.

mod backup;
mod close;
mod errors;
mod failure;
mod files;
mod guard;
mod log;
mod scratch;
mod tx;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use redb::{Database, ReadableDatabase};

use super::wal::{DurableCallback, FileLog, LogFile, Wal};
use super::{Backend, ReadTx, WriteTx};
use crate::error::{Error, Result};
use errors::{log_error, map_err};
use files::LogLock;
use guard::{drop_without_writing, guarded};
use tx::RedbRead;

/// Engine settings derived from the store options.
#[derive(Debug, Clone, Copy)]
pub struct RedbConfig {
    /// Page cache size. redb's own default is 1 GiB; ours is `DEFAULT_CACHE_BYTES`.
    pub cache_size_bytes: usize,
    /// `false` skips fsync on commit (tests and benchmarks only).
    pub durable: bool,
    /// Saves the allocator state in each commit so that reopening after a crash does not
    /// walk the whole file. Off, and not offered by `Options`: it costs more life-cycle
    /// throughput than the repair it saves at open (docs/performance.md has both), and on
    /// a file whose stored allocator state is damaged redb can abort the process in its
    /// commit (found by `tests/corrupt_files.rs`).
    pub quick_repair: bool,
    /// Write-ahead log size at which the next batch first checkpoints, at most; the
    /// checkpoints are otherwise paced by their time (see `log::next_checkpoint_changes`).
    pub checkpoint_bytes: u64,
}

/// 32 MiB: the hot pages of a busy node (recent payments, indexes) fit, and the
/// library stays far below the memory target.
pub const DEFAULT_CACHE_BYTES: usize = 32 << 20;

/// 16 MiB of log, about a thousand batches under load: a checkpoint then writes each
/// hot page once for many batches, the pages redb holds meanwhile stay within tens of
/// MiB, and replaying the log after a crash takes a fraction of a second.
pub const DEFAULT_CHECKPOINT_BYTES: u64 = 16 << 20;

impl Default for RedbConfig {
    fn default() -> Self {
        RedbConfig {
            cache_size_bytes: DEFAULT_CACHE_BYTES,
            durable: true,
            quick_repair: false,
            checkpoint_bytes: DEFAULT_CHECKPOINT_BYTES,
        }
    }
}

pub struct RedbBackend {
    // Transactions hold the read side; compaction and close take the write side.
    db: RwLock<Option<Database>>,
    config: RedbConfig,
    /// The file showed damage (a caught redb panic or a corrupt record): closing then
    /// writes nothing to it.
    damaged: AtomicBool,
    /// Makes `update_deferred` commits durable (`None` without fsync: `durable: false`).
    wal: Option<Wal>,
    /// Opened by `open_read_only`: the file is never written.
    read_only: bool,
    /// The count of logged changes at which the next checkpoint is due, paced by the
    /// last one's time.
    checkpoint_due: AtomicU64,
    /// Changes logged since the last checkpoint.
    logged_changes: AtomicU64,
    /// The first failed write of the file or the log (`failure`).
    failure: Mutex<Option<String>>,
    /// Held from open to close (`open` only; an embedder's log is its own affair).
    log_lock: Mutex<Option<LogLock>>,
}

impl RedbBackend {
    /// Opens (creating if missing) the store file at `path` and its write-ahead log,
    /// locking both; errors name the path.
    pub fn open(path: &Path, config: RedbConfig) -> Result<RedbBackend> {
        Self::open_file(path, config).map_err(|e| e.at(path))
    }

    /// Judges an existing file without writing to it (see `files`): what a store open
    /// calls before `open`, so that a file it refuses is left byte-identical.
    pub fn check_file(path: &Path) -> Result<()> {
        files::check_store_file(path).map_err(|e| e.at(path))
    }

    fn open_file(path: &Path, config: RedbConfig) -> Result<RedbBackend> {
        if path.is_dir() {
            return Err(Error::Io("is a directory".into()));
        }
        let created = !path.exists();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::Io(e.to_string()))?;
        let refuse = |e: Error| {
            if created {
                // Ours, and empty of anything: a refused open leaves nothing behind.
                let _ = std::fs::remove_file(path);
            }
            e
        };
        let storage = redb::backends::FileBackend::new(file).map_err(map_err)?;
        // redb takes the file lock here, before the log is touched.
        let db = Self::open_database(storage, config).map_err(refuse)?;
        let opened = LogLock::take(path).and_then(|lock| {
            let log = FileLog::open(path).map_err(|e| log_error("open", e))?;
            if config.durable {
                files::sync_parent(path)?;
            }
            Ok((lock, log))
        });
        let (lock, log) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                drop_without_writing(db);
                return Err(refuse(e));
            }
        };
        let mut backend = Self::start(db, Arc::new(log), config)?;
        backend.log_lock = Mutex::new(Some(lock));
        Ok(backend)
    }

    /// Opens over any redb storage and write-ahead log (an embedder's own file layer;
    /// tests inject slow or failing disks). The storage must hold the file lock itself,
    /// as `FileBackend` does. Replays the log's records the file lacks.
    pub fn with_storage(
        storage: impl redb::StorageBackend,
        log: Arc<dyn LogFile>,
        config: RedbConfig,
    ) -> Result<RedbBackend> {
        Self::start(Self::open_database(storage, config)?, log, config)
    }

    fn open_database(storage: impl redb::StorageBackend, config: RedbConfig) -> Result<Database> {
        guarded("open", || {
            redb::Builder::new()
                .set_cache_size(config.cache_size_bytes)
                .create_with_backend(storage)
                .map_err(map_err)
        })
    }

    /// Replays the log into the opened database and starts the log's sync thread.
    fn start(db: Database, log: Arc<dyn LogFile>, config: RedbConfig) -> Result<RedbBackend> {
        let lsn = match guarded("replay", || log::replay(&db, log.as_ref())) {
            Ok(lsn) => lsn,
            Err(e) => {
                drop_without_writing(db);
                return Err(e);
            }
        };
        let wal = match config.durable {
            true => Some(Wal::start(log, lsn).map_err(|e| log_error("start", e))?),
            false => {
                // Never written without fsync; replay emptied it. A leftover empty file
                // would be harmless, so a failed removal is not an error.
                let _ = log.remove();
                None
            }
        };
        Ok(RedbBackend {
            db: RwLock::new(Some(db)),
            config,
            damaged: AtomicBool::new(false),
            wal,
            read_only: false,
            checkpoint_due: AtomicU64::new(log::first_checkpoint_changes()),
            logged_changes: AtomicU64::new(0),
            failure: Mutex::new(None),
            log_lock: Mutex::new(None),
        })
    }

    /// Opens an existing store without ever writing to it or its log, also on read-only
    /// media: a pending log is replayed in memory, and redb's own writes stay there too.
    /// Other read-only opens may share the file; a writer gets (or gives) `Locked`.
    pub fn open_read_only(path: &Path, config: RedbConfig) -> Result<RedbBackend> {
        if path.is_dir() {
            return Err(Error::Io(format!("{} is a directory", path.display())));
        }
        let file = scratch::ScratchFile::open(path)?;
        let log = scratch::ReadOnlyLog::read(path)?;
        // No log of its own: nothing is ever made durable.
        let config = RedbConfig {
            durable: false,
            ..config
        };
        let mut backend = Self::with_storage(file, Arc::new(log), config)?;
        backend.read_only = true;
        Ok(backend)
    }

    fn db(&self) -> Result<RwLockReadGuard<'_, Option<Database>>> {
        let guard = self.db.read().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(Error::Closed);
        }
        Ok(guard)
    }
}

impl Backend for RedbBackend {
    fn read(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
    ) -> Result<()> {
        let guard = self.db()?;
        let db = guard.as_ref().ok_or(Error::Closed)?;
        let txn = guarded("begin read", || db.begin_read().map_err(map_err))?;
        let tx = RedbRead::new(txn);
        // redb never asks to retry; the hook still runs once, as the contract says.
        reset();
        self.watch(f(&tx))
    }

    fn update(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
    ) -> Result<()> {
        self.write(reset, f, false).map(|_| ())
    }

    fn update_deferred(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
    ) -> Result<Option<u64>> {
        // No ticket without a log (`durable: false`): there is nothing to wait for.
        self.write(reset, f, true)
    }

    fn when_durable(&self, ticket: Option<u64>, callback: DurableCallback) {
        match (ticket, &self.wal) {
            (Some(lsn), Some(wal)) => wal.when_durable(lsn, callback),
            _ => callback(Ok(())),
        }
    }

    fn compact(&self) -> Result<()> {
        let mut guard = self.db.write().unwrap_or_else(|e| e.into_inner());
        let db = guard.as_mut().ok_or(Error::Closed)?;
        self.refuse_after_failure()?;
        if let Some(wal) = &self.wal {
            // redb compacts only what durable commits hold.
            self.checkpoint(db, wal)?;
        }
        let result = guarded("compact", || {
            // Each call compacts what it can; repeat until nothing moves.
            while db.compact().map_err(map_err)? {}
            Ok(())
        });
        drop(guard);
        self.note_write(self.watch(result))
    }

    fn close(&self) -> Result<()> {
        let closed = self.close_store();
        // After the log's removal: the store file's lock still covered it until now.
        drop(
            self.log_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        closed
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn backup(
        &self,
        dest: &Path,
        snapshot_taken: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
    ) -> Result<()> {
        self.backup_to(dest, snapshot_taken)
    }
}
