//! The close sequence: the last log fsync, a final durable commit, the emptied log
//! removed, and redb's own closing commit, each skipped on a file found damaged.

use super::errors::{log_error, map_err};
use super::guard::{drop_without_writing, guarded};
use super::RedbBackend;
use crate::error::{Error, Result};

impl RedbBackend {
    pub(super) fn close_store(&self) -> Result<()> {
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
        // After a failed write, closing writes nothing either (reopening recovers).
        let logged = logged.and_then(|l| self.refuse_after_failure().map(|()| l));
        if self.is_damaged() || logged.is_err() {
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
        if self.is_damaged() {
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
