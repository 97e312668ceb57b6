//! Panic guards: redb may panic on a damaged file, and a damaged file must give
//! `Corrupt` (and never be written to again), never a crash.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use redb::Database;

use super::RedbBackend;
use crate::error::{Error, Result};

/// Runs `f`, turning a redb panic into `Corrupt` naming `what`.
pub(super) fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
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
pub(super) fn drop_without_writing(db: Database) {
    let _ = catch_unwind(AssertUnwindSafe(move || {
        let _db = db;
        std::panic::resume_unwind(Box::new("closing a damaged store without writing"));
    }));
}

impl RedbBackend {
    /// Notes that the file showed damage, so that closing does not write to it.
    pub(super) fn watch<T>(&self, result: Result<T>) -> Result<T> {
        if matches!(result, Err(Error::Corrupt(_))) {
            self.damaged.store(true, Ordering::Release);
        }
        result
    }

    pub(super) fn is_damaged(&self) -> bool {
        self.damaged.load(Ordering::Acquire)
    }
}
