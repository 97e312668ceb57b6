//! The storage boundary. Payment and mission-control logic is written once against these
//! traits; each engine (redb, and PostgreSQL with the `postgres` feature) implements them.
//!
//! Tables are ordered byte-key → byte-value maps named by string. Scans take a visitor
//! rather than returning an iterator, which maps onto both a B-tree cursor and a SQL
//! cursor without tying lifetimes to the engine.

mod log_record;
mod overlay;
#[cfg(feature = "postgres")]
pub mod postgres;
mod redb;
pub mod schema;
mod wal;

use std::cell::RefCell;
use std::ops::Bound;
use std::path::Path;

use crate::error::Result;

pub use self::redb::{RedbBackend, RedbConfig, DEFAULT_CACHE_BYTES, DEFAULT_CHECKPOINT_BYTES};
pub use overlay::Overlay;
pub use wal::{DurableCallback, FileLog, LogFile};

/// What a scan visitor wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// A scan visitor: sees each key and value, says whether to go on. It must not call
/// back into the transaction (engines may hold a cursor while it runs).
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<Flow> + 'a;

/// A key range for scans: `(start, end)` bounds over raw keys.
pub type KeyRange<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

/// Read access inside a transaction (a consistent snapshot).
pub trait ReadTx {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Visits the entries of `range` in key order (descending when `reverse`).
    fn scan(
        &self,
        table: &str,
        range: KeyRange<'_>,
        reverse: bool,
        visit: &mut Visitor<'_>,
    ) -> Result<()>;

    /// Number of entries in the table.
    fn count(&self, table: &str) -> Result<u64>;
}

/// Write access inside a transaction; sees its own writes.
pub trait WriteTx: ReadTx {
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()>;
    /// Removes a key; returns whether it was present.
    fn delete(&mut self, table: &str, key: &[u8]) -> Result<bool>;
    /// Removes every entry of the table.
    fn clear(&mut self, table: &str) -> Result<()>;
}

/// A storage engine. Every transaction closure may run more than once: `reset` is called
/// before each (re)try so the caller can drop intermediate state from a failed try.
pub trait Backend: Send + Sync {
    fn read(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
    ) -> Result<()>;

    /// Runs `f` in a write transaction and commits it if `f` returns `Ok`.
    fn update(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
    ) -> Result<()>;

    /// Like `update`, but may return once the commit is visible and before it is
    /// durable. Returns the ticket to pass to `when_durable`; `None` when the commit is
    /// durable already.
    fn update_deferred(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
    ) -> Result<Option<u64>> {
        self.update(reset, f).map(|()| None)
    }

    /// Runs `callback` (perhaps on another thread) once the `update_deferred` commit
    /// with this ticket is durable, or with the error that kept it from being.
    fn when_durable(&self, ticket: Option<u64>, callback: DurableCallback) {
        let _ = ticket;
        callback(Ok(()));
    }

    /// Reclaims free space; waits for running transactions and blocks new ones.
    fn compact(&self) -> Result<()>;

    /// Makes every earlier commit durable (matters when commits skip fsync) and releases
    /// the file. Later calls fail with `Closed`.
    fn close(&self) -> Result<()>;

    /// Opened read-only: nothing reaches the storage, and the store refuses every change
    /// with `ReadOnly`.
    fn read_only(&self) -> bool {
        false
    }

    /// Writes a compact copy of one consistent snapshot to `dest`, a new file, while
    /// writes go on; `snapshot_taken` sees the snapshot before the copy starts. The
    /// copy is durable and carries the name only once complete.
    fn backup(
        &self,
        dest: &Path,
        snapshot_taken: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
    ) -> Result<()> {
        let _ = (dest, snapshot_taken);
        Err(crate::error::Error::invalid(
            "this storage engine has no online backup; use the database's own tools",
        ))
    }
}

/// Runs a read transaction returning a value (helper over the closure-based trait).
pub fn read<T>(backend: &dyn Backend, mut f: impl FnMut(&dyn ReadTx) -> Result<T>) -> Result<T> {
    // Both hooks touch the result: share it through a RefCell.
    let out = RefCell::new(None);
    backend.read(&mut || *out.borrow_mut() = None, &mut |tx| {
        *out.borrow_mut() = Some(f(tx)?);
        Ok(())
    })?;
    out.into_inner()
        .ok_or_else(|| crate::error::Error::Internal("read transaction produced no result".into()))
}

/// Runs a write transaction returning a value.
pub fn update<T>(
    backend: &dyn Backend,
    mut f: impl FnMut(&mut dyn WriteTx) -> Result<T>,
) -> Result<T> {
    let out = RefCell::new(None);
    backend.update(&mut || *out.borrow_mut() = None, &mut |tx| {
        *out.borrow_mut() = Some(f(tx)?);
        Ok(())
    })?;
    out.into_inner()
        .ok_or_else(|| crate::error::Error::Internal("write transaction produced no result".into()))
}
