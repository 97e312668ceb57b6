//! The payment store's storage engine: what the payment logic asks of a backend.
//!
//! The logic is written once (`ops`, `import`): each operation reads the payment it
//! changes, decides with the model's rules, and hands the engine a list of `Mutation`s.
//! Each engine applies them its own way (the embedded engine as key writes, a SQL engine
//! as a few statements per batch) and answers the reads (`Snapshot`) with its own
//! indexes. Nothing of the domain rules lives in an engine.

use std::path::Path;
use std::sync::Arc;

use super::integrity::IntegrityReport;
use super::query::{PaymentCounts, QueryResponse};
use crate::backend::DurableCallback;
use crate::error::Result;
use crate::missioncontrol::McTable;
use crate::model::{FailureReason, Payment, PaymentHash, PaymentStatus, Query};

/// One change to the stored payments, as an operation decided it. Records are in the
/// project's encodings (`codec`), encoded on the caller's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// A new payment, INITIATED, with no attempt.
    InsertPayment {
        seq: u64,
        hash: PaymentHash,
        created_ns: i64,
        value_msat: u64,
        /// The encoded creation info.
        creation: Vec<u8>,
    },
    /// A new attempt (its info record).
    InsertAttempt {
        seq: u64,
        attempt_id: u64,
        info: Vec<u8>,
    },
    /// An attempt's encoded settle record.
    SetSettle {
        seq: u64,
        attempt_id: u64,
        settle: Vec<u8>,
    },
    /// An attempt's encoded fail record.
    SetFail {
        seq: u64,
        attempt_id: u64,
        fail: Vec<u8>,
    },
    /// The payment's failure reason (set or overwritten).
    SetReason { seq: u64, reason: FailureReason },
    /// The payment's derived status moved (counters and the non-terminal index follow).
    Status {
        seq: u64,
        from: PaymentStatus,
        to: PaymentStatus,
    },
    /// The payment and every record of it go.
    Delete(Removal),
    /// These attempts (with their outcomes) go; the payment's status does not change.
    DeleteAttempts { seq: u64, attempt_ids: Vec<u64> },
    /// A whole payment in its final state, with its own sequence number.
    Import(Arc<Imported>),
}

/// What an engine needs to remove a payment without reading it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub seq: u64,
    pub hash: PaymentHash,
    pub created_ns: i64,
    pub status: PaymentStatus,
    pub attempt_ids: Vec<u64>,
    /// It had settled: its hash stays paid (a tombstone) so it can never be paid again.
    pub tombstone: bool,
}

/// A whole payment to place, checked and encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub seq: u64,
    pub hash: PaymentHash,
    pub status: PaymentStatus,
    pub created_ns: i64,
    pub value_msat: u64,
    /// The encoded creation info.
    pub creation: Vec<u8>,
    pub attempts: Vec<AttemptRecords>,
    pub failure_reason: Option<FailureReason>,
}

/// One attempt's encoded records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecords {
    pub attempt_id: u64,
    pub info: Vec<u8>,
    pub settle: Option<Vec<u8>>,
    pub fail: Option<Vec<u8>>,
}

/// A write transaction as the payment logic sees it.
///
/// Reads answer from the store as of the transaction's start; whether they also see
/// this transaction's own mutations is the engine's choice: the caller (the batch view)
/// never asks about a payment, hash or sequence number it changed in the transaction.
/// `next_sequence` is the exception: it counts the transaction's own inserts.
pub trait PaymentWriter {
    fn load(&mut self, hash: &PaymentHash) -> Result<Option<Payment>>;
    /// Whether a payment with this hash exists (cheaper than `load`).
    fn hash_taken(&mut self, hash: &PaymentHash) -> Result<bool>;
    /// Whether the hash was paid and its payment deleted.
    fn tombstoned(&mut self, hash: &PaymentHash) -> Result<bool>;
    /// Whether a payment holds this sequence number.
    fn sequence_taken(&mut self, seq: u64) -> Result<bool>;
    /// The lowest sequence number above every payment's, this transaction's included.
    fn next_sequence(&mut self) -> Result<u64>;
    fn apply(&mut self, mutation: Mutation) -> Result<()>;
    /// Records the batch number of this transaction (readers and subscribers place a
    /// snapshot by it).
    fn set_epoch(&mut self, epoch: u64) -> Result<()>;
    /// A hint: the transaction is about to load these payments and check their hashes
    /// (an engine with round trips fetches them at once).
    fn prefetch(&mut self, hashes: &[PaymentHash]) -> Result<()> {
        let _ = hashes;
        Ok(())
    }
}

/// A consistent read snapshot.
pub trait Snapshot {
    /// The last batch number committed in this snapshot.
    fn epoch(&mut self) -> Result<u64>;
    fn payment(&mut self, hash: &PaymentHash) -> Result<Option<Payment>>;
    /// Every INITIATED or IN_FLIGHT payment, in sequence order.
    fn inflight(&mut self) -> Result<Vec<Payment>>;
    fn query(&mut self, query: &Query) -> Result<QueryResponse>;
    /// Per-status counts, in constant time.
    fn counts(&mut self) -> Result<PaymentCounts>;
    /// Cross-checks every index and counter against the payments; `Corrupt` names the
    /// first violation.
    fn check_integrity(&mut self) -> Result<IntegrityReport>;
    /// A hint: a write transaction is about to look these hashes up (an engine with a
    /// page cache reads their index pages now, outside the writer).
    fn warm(&mut self, hashes: &[PaymentHash]) -> Result<()> {
        let _ = hashes;
        Ok(())
    }
}

/// A payment storage engine. Each transaction closure may run more than once: `reset`
/// is called before each (re)try so the caller can drop state from a failed try.
pub trait Engine: Send + Sync {
    fn read(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn Snapshot) -> Result<()>,
    ) -> Result<()>;

    /// Runs `f` in a write transaction and commits it, durably, if `f` returns `Ok`.
    fn write(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn PaymentWriter) -> Result<()>,
    ) -> Result<()>;

    /// Like `write`, but may return once the commit is visible and before it is durable.
    /// Returns the ticket for `when_durable`; `None` when it is durable already.
    fn write_deferred(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn PaymentWriter) -> Result<()>,
    ) -> Result<Option<u64>> {
        self.write(reset, f).map(|()| None)
    }

    /// Runs `callback` once the `write_deferred` commit with this ticket is durable (or
    /// with the error that kept it from being).
    fn when_durable(&self, ticket: Option<u64>, callback: DurableCallback) {
        let _ = ticket;
        callback(Ok(()));
    }

    /// Where mission control keeps its results.
    fn mission_control(&self) -> Result<Arc<dyn McTable>>;

    /// Reclaims space freed by deletions; other calls wait meanwhile.
    fn compact(&self) -> Result<()>;

    /// Makes every commit durable and releases the storage. Later calls fail `Closed`.
    fn close(&self) -> Result<()>;

    /// Opened read-only: nothing reaches the storage, and the store refuses every change
    /// with `ReadOnly`.
    fn read_only(&self) -> bool {
        false
    }

    /// Writes a compact copy of one consistent snapshot to `dest`, a new file, while
    /// writes go on; `snapshot_taken` sees the snapshot before the copy starts. The copy
    /// is durable and carries the name only once complete.
    fn backup(
        &self,
        dest: &Path,
        snapshot_taken: &mut dyn FnMut(&mut dyn Snapshot) -> Result<()>,
    ) -> Result<()> {
        let _ = (dest, snapshot_taken);
        Err(crate::error::Error::invalid(
            "this storage engine has no online backup; use the database's own tools",
        ))
    }
}

/// Runs a read transaction returning a value.
pub fn read<T>(
    engine: &dyn Engine,
    mut f: impl FnMut(&mut dyn Snapshot) -> Result<T>,
) -> Result<T> {
    let out = std::cell::RefCell::new(None);
    engine.read(&mut || *out.borrow_mut() = None, &mut |s| {
        *out.borrow_mut() = Some(f(s)?);
        Ok(())
    })?;
    out.into_inner()
        .ok_or_else(|| crate::error::Error::Internal("read transaction produced no result".into()))
}
