//! The write-ahead log's orchestration over redb: which commits skip redb's fsync and
//! go to the log, when a checkpoint empties it, and replay at open.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

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
        // A batch after a lost one must not reach the file, logged or not.
        self.refuse_after_failure()?;
        let logged = match &self.wal {
            Some(wal) => {
                if deferred {
                    self.checkpoint_if_due(db, wal)?;
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
                // A large batch takes several records; the file notes the last.
                if let (Some((_, lsn)), Some(r)) = (logged, &tx.recorder) {
                    tx.write_lsn(lsn + r.records() - 1)?;
                }
                Ok(tx.recorder.take())
            })
        };
        let outcome = match result {
            Ok(recorded) => {
                let committed =
                    self.note_write(guarded("commit", || txn.commit().map_err(map_err)));
                match (committed, logged, recorded) {
                    // Committed: the batch is in redb now, so a failed append must
                    // reach its callers (and readers) through `when_durable`.
                    (Ok(()), Some((wal, lsn)), Some(changes)) => {
                        self.logged_changes
                            .fetch_add(changes.changes(), Ordering::Relaxed);
                        wal.append(lsn, &changes);
                        Ok(Some(lsn + changes.records() - 1))
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

    /// Checkpoints before the next logged batch when the changes logged since the last
    /// checkpoint reach the paced amount, or the log its size limit.
    fn checkpoint_if_due(&self, db: &Database, wal: &Wal) -> Result<()> {
        let due = self.checkpoint_due.load(Ordering::Relaxed);
        let done = self.logged_changes.load(Ordering::Relaxed);
        if done < due && wal.size() < self.config.checkpoint_bytes {
            return Ok(());
        }
        let started = Instant::now();
        self.checkpoint(db, wal)?;
        let next = next_checkpoint_changes(due, done, started.elapsed());
        self.checkpoint_due.store(next, Ordering::Relaxed);
        Ok(())
    }

    /// A checkpoint (see `checkpoint`); the count of changes since then starts over.
    pub(super) fn checkpoint(&self, db: &Database, wal: &Wal) -> Result<()> {
        self.note_write(self.watch(checkpoint(db, wal)))?;
        self.logged_changes.store(0, Ordering::Relaxed);
        Ok(())
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

/// How long a checkpoint should take. The writer stalls for it (a life-cycle call may
/// wait that long), and replay after a crash redoes about what a checkpoint writes and
/// reads the same pages first (measured: 1.5-3x the checkpoint's time), so this bounds
/// the reopen after a crash as well.
pub(super) const CHECKPOINT_BUDGET: Duration = Duration::from_millis(25);
/// The fewest logged changes before a checkpoint, however slow checkpoints get.
const MIN_CHECKPOINT_CHANGES: u64 = 2_000;
/// The most logged changes before a checkpoint, however fast checkpoints are (the log's
/// size limit usually comes first).
const MAX_CHECKPOINT_CHANGES: u64 = 1 << 20;

/// The count of logged changes at which the next checkpoint is due, from the last one,
/// which wrote `done` changes in `took`: as many as fit in `CHECKPOINT_BUDGET` at that
/// speed, growing at most twofold from `due`, within [`MIN_CHECKPOINT_CHANGES`,
/// `MAX_CHECKPOINT_CHANGES`].
///
/// Changes, not log bytes: a checkpoint's time goes to the pages it writes, and each
/// change dirties at most one leaf page. In a small store a checkpoint writes each hot
/// page once for many changes and is fast: checkpoints come rarely. In a large one each
/// payment's hash-index entry dirties a page of its own, and a bulk deletion logs few
/// bytes per page it dirties (measured at 600,000 payments: a 16 MiB log of deletions
/// took 800 ms to checkpoint): counting changes keeps checkpoints, and replay, near the
/// budget whatever the store's size and the work's kind.
pub(super) fn next_checkpoint_changes(due: u64, done: u64, took: Duration) -> u64 {
    let took = took.as_secs_f64().max(1e-3);
    let fit = (done as f64 * CHECKPOINT_BUDGET.as_secs_f64() / took) as u64;
    fit.min(due.saturating_mul(2))
        .clamp(MIN_CHECKPOINT_CHANGES, MAX_CHECKPOINT_CHANGES)
}

/// The count of logged changes of the first checkpoint after open, when nothing says
/// yet how long checkpoints take in this store: about what 1 MiB of life-cycle log
/// holds (~1,200 payments), so that a short run in a small store checkpoints as
/// seldom as before the pacing counted changes; the pacing takes over from there.
pub(super) fn first_checkpoint_changes() -> u64 {
    16_000
}

/// A durable redb commit: the file then holds every logged batch, and the log starts
/// over. It saves redb's allocator state (quick repair), so that reopening after a crash
/// loads it instead of walking every page of the file, a pass that grows with the store
/// (docs/performance.md, `scale`); only checkpoints pay for it, not the logged batches.
pub(super) fn checkpoint(db: &Database, wal: &Wal) -> Result<()> {
    guarded("checkpoint", || {
        let mut txn = db.begin_write().map_err(map_err)?;
        txn.set_quick_repair(true);
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
    let mut txn = db.begin_write().map_err(map_err)?;
    txn.set_quick_repair(true);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_come_sooner_when_they_are_slow_and_never_past_the_limits() {
        let budget = CHECKPOINT_BUDGET;
        // On budget: as many again.
        assert_eq!(next_checkpoint_changes(50_000, 50_000, budget), 50_000);
        // Four times over: a quarter.
        assert_eq!(next_checkpoint_changes(40_000, 40_000, budget * 4), 10_000);
        // Very slow: the floor.
        assert_eq!(next_checkpoint_changes(40_000, 40_000, budget * 100), 2_000);
        // Fast again: grows at most twofold, up to the ceiling.
        assert_eq!(next_checkpoint_changes(2_000, 2_000, budget / 10), 4_000);
        assert_eq!(
            next_checkpoint_changes(MAX_CHECKPOINT_CHANGES, 900_000, budget / 10),
            MAX_CHECKPOINT_CHANGES
        );
        // Due by the log's size with few changes: paced by those it did.
        assert_eq!(next_checkpoint_changes(100_000, 1_000, budget), 2_000);
    }
}
