//! The embedded engine: one redb file, opened by one process at a time.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    Table, TableDefinition, TableError,
};

use super::log_record::{self, Change, Recorder};
use super::schema::{get_u64, put_u64};
use super::wal::{DurableCallback, FileLog, LogFile, Wal};
use super::{Backend, Flow, KeyRange, ReadTx, Visitor, WriteTx};
use crate::error::{Error, Result};

type Bytes = &'static [u8];

fn def(name: &str) -> TableDefinition<'_, Bytes, Bytes> {
    TableDefinition::new(name)
}

/// The engine's own table: the lsn of the last write-ahead log record the file holds.
const LOG_STATE: &str = "redb_log";
const KEY_LSN: &[u8] = b"lsn";

/// Engine settings derived from the store options.
#[derive(Debug, Clone, Copy)]
pub struct RedbConfig {
    /// Page cache size. redb's own default is 1 GiB; ours is `DEFAULT_CACHE_BYTES`.
    pub cache_size_bytes: usize,
    /// `false` skips fsync on commit (tests and benchmarks only).
    pub durable: bool,
    /// Saves the allocator state in each commit so that reopening after a crash does not
    /// walk the whole file. Off, and not offered by `Options`: it costs about a quarter of
    /// the life-cycle throughput, the repair it saves takes ~130 ms per 100,000 payments,
    /// and on a file whose stored allocator state is damaged redb can abort the process
    /// in its commit (found by `tests/corrupt_files.rs`).
    pub quick_repair: bool,
    /// Write-ahead log size at which the next batch first checkpoints.
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
}

/// Maps any redb error (they all convert into `redb::Error`) to ours.
fn map_err(e: impl Into<redb::Error>) -> Error {
    match e.into() {
        redb::Error::DatabaseAlreadyOpen => Error::Locked,
        redb::Error::Corrupted(m) => Error::Corrupt(m),
        redb::Error::UpgradeRequired(v) => {
            Error::Corrupt(format!("file has unsupported redb format version {v}"))
        }
        // redb reports a foreign or damaged file header as invalid data, and a file cut
        // short as an unexpected end.
        redb::Error::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            Error::Corrupt(e.to_string())
        }
        redb::Error::Io(e) => Error::Io(e.to_string()),
        redb::Error::PreviousIo => Error::Io("an earlier I/O error; reopen the store".into()),
        redb::Error::DatabaseClosed => Error::Closed,
        // Our tables always have one layout: another one was read from damaged pages.
        e @ (redb::Error::TableTypeMismatch { .. }
        | redb::Error::TableIsMultimap(_)
        | redb::Error::TableIsNotMultimap(_)
        | redb::Error::TypeDefinitionChanged { .. }) => Error::Corrupt(e.to_string()),
        // Only an earlier panic (caught, on a damaged file) poisons these.
        e @ (redb::Error::LockPoisoned(_) | redb::Error::TransactionPoisoned) => {
            Error::Corrupt(format!("after an earlier failure on a damaged file: {e}"))
        }
        redb::Error::ValueTooLarge(n) => Error::invalid(format!("value of {n} bytes is too large")),
        e => Error::Internal(e.to_string()),
    }
}

/// redb may panic on a damaged file; a damaged file must give `Corrupt`, never a crash.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(Error::Corrupt(format!(
            "{what} failed on a damaged file: {msg}"
        )))
    })
}

/// Drops the database without its closing writes, which redb skips while the thread
/// unwinds: a file found damaged must not be written to, and the closing commit could
/// panic on it (a second panic in a destructor would abort the host).
fn drop_without_writing(db: Database) {
    let _ = catch_unwind(AssertUnwindSafe(move || {
        let _db = db;
        std::panic::resume_unwind(Box::new("closing a damaged store without writing"));
    }));
}

impl RedbBackend {
    /// Notes that the file showed damage, so that closing does not write to it.
    fn watch<T>(&self, result: Result<T>) -> Result<T> {
        if matches!(result, Err(Error::Corrupt(_))) {
            self.damaged.store(true, Ordering::Release);
        }
        result
    }

    pub fn open(path: &Path, config: RedbConfig) -> Result<RedbBackend> {
        if path.is_dir() {
            return Err(Error::Io(format!("{} is a directory", path.display())));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| map_err(redb::Error::Io(e)))?;
        // Takes the file lock (a second open gets `Locked`) before the log is touched.
        let file = redb::backends::FileBackend::new(file).map_err(map_err)?;
        let log = FileLog::open(path).map_err(|e| log_error("open", e))?;
        Self::with_storage(file, Arc::new(log), config)
    }

    /// Opens over any redb storage and write-ahead log (an embedder's own file layer;
    /// tests inject slow or failing disks). The storage must hold the file lock itself,
    /// as `FileBackend` does. Replays the log's records the file lacks.
    pub fn with_storage(
        storage: impl redb::StorageBackend,
        log: Arc<dyn LogFile>,
        config: RedbConfig,
    ) -> Result<RedbBackend> {
        let db = guarded("open", || {
            redb::Builder::new()
                .set_cache_size(config.cache_size_bytes)
                .create_with_backend(storage)
                .map_err(map_err)
        })?;
        let lsn = match guarded("replay", || replay(&db, log.as_ref())) {
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
        })
    }

    /// One write transaction. With `deferred` and a log, its commit skips redb's fsync
    /// and its changes go to the log instead; returns the record's lsn.
    fn write(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
        deferred: bool,
    ) -> Result<Option<u64>> {
        let guard = self.db()?;
        let db = guard.as_ref().ok_or(Error::Closed)?;
        let logged = match &self.wal {
            Some(wal) => {
                // A batch after a lost one must not reach the file, logged or not.
                if let Some(e) = wal.failed() {
                    return Err(Error::Io(e));
                }
                if deferred && wal.size() >= self.config.checkpoint_bytes {
                    self.watch(checkpoint(db, wal))?;
                }
                // Each logged batch gets the next lsn.
                deferred.then(|| (wal, wal.next_lsn()))
            }
            None => None,
        };
        let mut txn = guarded("begin write", || db.begin_write().map_err(map_err))?;
        if !self.config.durable || logged.is_some() {
            txn.set_durability(Durability::None).map_err(map_err)?;
        }
        txn.set_quick_repair(self.config.quick_repair);
        reset();
        let result = {
            let mut tx = RedbWrite {
                txn: &txn,
                tables: RefCell::default(),
                recorder: logged.map(|_| Recorder::default()),
            };
            f(&mut tx).and_then(|()| {
                // The lsn lands with the batch: replay skips what the file already has.
                if let Some((_, lsn)) = logged {
                    tx.write_lsn(lsn)?;
                }
                Ok(tx.recorder.take())
            })
        };
        let outcome = match result {
            Ok(recorded) => {
                let committed = guarded("commit", || txn.commit().map_err(map_err));
                match (committed, logged, recorded) {
                    // Committed: the batch is in redb now, so a failed append must
                    // reach its callers (and readers) through `when_durable`.
                    (Ok(()), Some((wal, lsn)), Some(changes)) => {
                        wal.append(lsn, &changes);
                        Ok(Some(lsn))
                    }
                    (committed, ..) => committed.map(|()| None),
                }
            }
            Err(e) => {
                // An abort error adds nothing to `e`; an abort that panics on a damaged
                // file must not escape.
                let _ = guarded("abort", || txn.abort().map_err(map_err));
                Err(e)
            }
        };
        self.watch(outcome)
    }

    fn db(&self) -> Result<RwLockReadGuard<'_, Option<Database>>> {
        let guard = self.db.read().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(Error::Closed);
        }
        Ok(guard)
    }
}

fn log_error(what: &str, e: std::io::Error) -> Error {
    Error::Io(format!("write-ahead log: cannot {what}: {e}"))
}

/// A durable redb commit: the file then holds every logged batch, and the log starts
/// over.
fn checkpoint(db: &Database, wal: &Wal) -> Result<()> {
    guarded("checkpoint", || {
        let txn = db.begin_write().map_err(map_err)?;
        txn.commit().map_err(map_err)
    })?;
    wal.reset().map_err(|e| log_error("start over", e))
}

/// Applies the log's records that the file lacks, in one durable transaction, and
/// empties the log. Returns the lsn the file then holds.
fn replay(db: &Database, log: &dyn LogFile) -> Result<u64> {
    let bytes = log.read_all().map_err(|e| log_error("read", e))?;
    let applied = {
        let tx = RedbRead {
            txn: db.begin_read().map_err(map_err)?,
            tables: RefCell::default(),
        };
        get_u64(&tx, LOG_STATE, KEY_LSN)?.unwrap_or(0)
    };
    let records = log_record::records_to_replay(&bytes, applied)?;
    let Some(last) = records.last().map(|r| r.lsn) else {
        if !bytes.is_empty() {
            log.reset().map_err(|e| log_error("start over", e))?;
        }
        return Ok(applied);
    };
    let txn = db.begin_write().map_err(map_err)?;
    {
        let mut tx = RedbWrite {
            txn: &txn,
            tables: RefCell::default(),
            recorder: None,
        };
        for record in &records {
            for change in log_record::changes(record.payload)? {
                match change {
                    Change::Put { table, key, value } => tx.put(table, key, value)?,
                    Change::Delete { table, key } => {
                        tx.delete(table, key)?;
                    }
                    Change::Clear { table } => tx.clear(table)?,
                }
            }
        }
        tx.write_lsn(last)?;
    }
    txn.commit().map_err(map_err)?;
    log.reset().map_err(|e| log_error("start over", e))?;
    Ok(last)
}

fn scan_table<T: ReadableTable<Bytes, Bytes>>(
    table: &T,
    range: KeyRange<'_>,
    reverse: bool,
    visit: &mut Visitor<'_>,
) -> Result<()> {
    let mut iter = table.range::<&[u8]>(range).map_err(map_err)?;
    loop {
        let item = if reverse {
            iter.next_back()
        } else {
            iter.next()
        };
        let Some(item) = item else { return Ok(()) };
        let (k, v) = item.map_err(map_err)?;
        if visit(k.value(), v.value())? == Flow::Stop {
            return Ok(());
        }
    }
}

/// The tables a transaction opened, by name. A transaction uses a handful, and every
/// operation looks several up: a short list beats hashing the name.
struct Opened<T>(Vec<(String, T)>);

impl<T> Default for Opened<T> {
    fn default() -> Self {
        Opened(Vec::new())
    }
}

impl<T> Opened<T> {
    fn get_or_open(&mut self, name: &str, open: impl FnOnce() -> Result<T>) -> Result<&mut T> {
        let i = match self.0.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.0.push((name.to_string(), open()?));
                self.0.len() - 1
            }
        };
        Ok(&mut self.0[i].1)
    }
}

struct RedbRead {
    txn: redb::ReadTransaction,
    // Tables opened so far; `None` marks a table that does not exist (reads as empty).
    tables: RefCell<Opened<Option<ReadOnlyTable<Bytes, Bytes>>>>,
}

impl RedbRead {
    fn with_table<T>(
        &self,
        name: &str,
        empty: T,
        f: impl FnOnce(&ReadOnlyTable<Bytes, Bytes>) -> Result<T>,
    ) -> Result<T> {
        guarded("read", || {
            let mut tables = self.tables.borrow_mut();
            let t = tables.get_or_open(name, || match self.txn.open_table(def(name)) {
                Ok(t) => Ok(Some(t)),
                Err(TableError::TableDoesNotExist(_)) => Ok(None),
                Err(e) => Err(map_err(e)),
            })?;
            match t {
                Some(t) => f(t),
                None => Ok(empty),
            }
        })
    }
}

impl ReadTx for RedbRead {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_table(table, None, |t| {
            Ok(t.get(key).map_err(map_err)?.map(|v| v.value().to_vec()))
        })
    }

    fn scan(
        &self,
        table: &str,
        range: KeyRange<'_>,
        reverse: bool,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        self.with_table(table, (), |t| scan_table(t, range, reverse, visit))
    }

    fn count(&self, table: &str) -> Result<u64> {
        self.with_table(table, 0, |t| t.len().map_err(map_err))
    }
}

struct RedbWrite<'txn> {
    txn: &'txn redb::WriteTransaction,
    // redb allows one open handle per table; the cache keeps it for the transaction.
    tables: RefCell<Opened<Table<'txn, Bytes, Bytes>>>,
    /// Collects the changes of a logged batch.
    recorder: Option<Recorder>,
}

impl<'txn> RedbWrite<'txn> {
    fn with_table<T>(
        &self,
        what: &str,
        name: &str,
        f: impl FnOnce(&mut Table<'txn, Bytes, Bytes>) -> Result<T>,
    ) -> Result<T> {
        guarded(what, || {
            let mut tables = self.tables.borrow_mut();
            let t = tables.get_or_open(name, || self.txn.open_table(def(name)).map_err(map_err))?;
            f(t)
        })
    }

    /// Notes the last log record the transaction includes; not itself logged (replay
    /// writes it).
    fn write_lsn(&mut self, lsn: u64) -> Result<()> {
        let recorder = self.recorder.take();
        let written = put_u64(self, LOG_STATE, KEY_LSN, lsn);
        self.recorder = recorder;
        written
    }
}

impl ReadTx for RedbWrite<'_> {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_table("read", table, |t| {
            Ok(t.get(key).map_err(map_err)?.map(|v| v.value().to_vec()))
        })
    }

    fn scan(
        &self,
        table: &str,
        range: KeyRange<'_>,
        reverse: bool,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        self.with_table("scan", table, |t| scan_table(&*t, range, reverse, visit))
    }

    fn count(&self, table: &str) -> Result<u64> {
        self.with_table("count", table, |t| t.len().map_err(map_err))
    }
}

impl WriteTx for RedbWrite<'_> {
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        if let Some(r) = &mut self.recorder {
            r.put(table, key, value);
        }
        self.with_table("write", table, |t| {
            t.insert(key, value).map_err(map_err)?;
            Ok(())
        })
    }

    fn delete(&mut self, table: &str, key: &[u8]) -> Result<bool> {
        if let Some(r) = &mut self.recorder {
            r.delete(table, key);
        }
        self.with_table("delete", table, |t| {
            Ok(t.remove(key).map_err(map_err)?.is_some())
        })
    }

    fn clear(&mut self, table: &str) -> Result<()> {
        if let Some(r) = &mut self.recorder {
            r.clear(table);
        }
        self.with_table("clear", table, |t| t.retain(|_, _| false).map_err(map_err))
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
        let tx = RedbRead {
            txn,
            tables: RefCell::default(),
        };
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
        if let Some(wal) = &self.wal {
            if let Some(e) = wal.failed() {
                return Err(Error::Io(e));
            }
            // redb compacts only what durable commits hold.
            self.watch(checkpoint(db, wal))?;
        }
        let result = guarded("compact", || {
            // Each call compacts what it can; repeat until nothing moves.
            while db.compact().map_err(map_err)? {}
            Ok(())
        });
        drop(guard);
        self.watch(result)
    }

    fn close(&self) -> Result<()> {
        let mut guard = self.db.write().unwrap_or_else(|e| e.into_inner());
        let Some(db) = guard.take() else {
            return Ok(());
        };
        // The last record's fsync finishes first. After a failed one the file keeps its
        // last checkpoint: the log holds what was durable, and reopening replays it.
        let logged = match &self.wal {
            Some(wal) => wal.close().map(|()| wal.size() > 0).map_err(Error::Io),
            None => Ok(true),
        };
        if self.damaged.load(Ordering::Acquire) || logged.is_err() {
            drop_without_writing(db);
            return logged.map(|_| ());
        }
        let mut result = Ok(());
        if logged == Ok(true) {
            // Batches since the last checkpoint, or (without a log) non-durable commits,
            // persist only once a durable commit follows.
            result = self.watch(guarded("close", || {
                let mut txn = db.begin_write().map_err(map_err)?;
                txn.set_quick_repair(self.config.quick_repair);
                txn.commit().map_err(map_err)
            }));
            if let (Ok(()), Some(wal)) = (&result, &self.wal) {
                result = wal.reset().map_err(|e| log_error("start over", e));
            }
        }
        if let (Ok(()), Some(wal)) = (&result, &self.wal) {
            // Empty now; removed while the file lock is still held, so it cannot be a
            // log another process has since opened. Harmless if it stays.
            let _ = wal.remove();
        }
        if self.damaged.load(Ordering::Acquire) {
            drop_without_writing(db);
            return result;
        }
        // redb's closing commit records the allocator state; on a file damaged where no
        // read looked, it may panic.
        result.and(guarded("close", || {
            drop(db);
            Ok(())
        }))
    }
}
