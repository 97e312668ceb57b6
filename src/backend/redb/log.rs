//! The write-ahead log's orchestration over redb: which commits skip redb's fsync and
//! go to the log, when a checkpoint empties it, and replay at open.

use redb::{Database, Durability, ReadableDatabase};

use super::errors::{log_error, map_err};
use super::guard::guarded;
use super::tx::{RedbRead, RedbWrite};
use super::RedbBackend;
use crate::backend::log_record::{self, Change, Recorder};
use crate::backend::schema::{get_u64, put_u64};
use crate::backend::wal::{LogFile, Wal};
use crate::backend::WriteTx;
use crate::error::{Error, Result};

/// The engine's own table: the lsn of the last write-ahead log record the file holds.
const LOG_STATE: &str = "redb_log";
const KEY_LSN: &[u8] = b"lsn";

impl RedbBackend {
    /// One write transaction. With `deferred` and a log, its commit skips redb's fsync
    /// and its changes go to the log instead; returns the record's lsn.
    pub(super) fn write(
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
            let mut tx = RedbWrite::new(&txn, logged.map(|_| Recorder::default()));
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
}

impl RedbWrite<'_> {
    /// Notes the last log record the transaction includes; not itself logged (replay
    /// writes it).
    fn write_lsn(&mut self, lsn: u64) -> Result<()> {
        let recorder = self.recorder.take();
        let written = put_u64(self, LOG_STATE, KEY_LSN, lsn);
        self.recorder = recorder;
        written
    }
}

/// A durable redb commit: the file then holds every logged batch, and the log starts
/// over.
pub(super) fn checkpoint(db: &Database, wal: &Wal) -> Result<()> {
    guarded("checkpoint", || {
        let txn = db.begin_write().map_err(map_err)?;
        txn.commit().map_err(map_err)
    })?;
    wal.reset().map_err(|e| log_error("start over", e))
}

/// Applies the log's records that the file lacks, in one durable transaction, and
/// empties the log. Returns the lsn the file then holds.
pub(super) fn replay(db: &Database, log: &dyn LogFile) -> Result<u64> {
    let bytes = log.read_all().map_err(|e| log_error("read", e))?;
    let applied = {
        let tx = RedbRead::new(db.begin_read().map_err(map_err)?);
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
        let mut tx = RedbWrite::new(&txn, None);
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
