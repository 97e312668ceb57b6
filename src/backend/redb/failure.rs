//! One failed write makes the store refuse every later write, whichever path it takes
//! (payment batches, mission-control flushes, bulk deletions, compaction, close): the
//! disk may have dropped what it held, and a write built on top of a hole could be
//! replayed or read over it. Reads go on; reopening the store recovers.

use super::RedbBackend;
use crate::error::{Error, Result};
use crate::sync::lock;

impl RedbBackend {
    /// The first failed write, of the log (an append or fsync) or of the file.
    pub(super) fn write_failure(&self) -> Option<String> {
        let failure = lock(&self.failure).clone();
        failure.or_else(|| self.wal.as_ref().and_then(|wal| wal.failed()))
    }

    /// `Io` once a write has failed.
    pub(super) fn refuse_after_failure(&self) -> Result<()> {
        match self.write_failure() {
            Some(e) => Err(Error::Io(format!(
                "the store refuses writes after a failed write ({e}); reopen it"
            ))),
            None => Ok(()),
        }
    }

    /// Passes on the result of a write to the file or the log, noting an I/O failure.
    pub(super) fn note_write<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(Error::Io(e)) = &result {
            lock(&self.failure).get_or_insert_with(|| e.clone());
        }
        result
    }
}
