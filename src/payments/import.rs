//! Bulk import: whole payments in their final state (creation info, every attempt with
//! its outcome, the failure reason), keeping the sequence numbers they had elsewhere, so
//! the paging cursors of the node's clients stay valid after a move.
//!
//! Each payment is checked on the caller's thread with the model's own rules (creation
//! info and attempt shape, status derivation with its sum guard, preimages against the
//! hashes they prove) and encoded there; the writer then places chunks of
//! `IMPORT_CHUNK` payments, one operation each, refusing per payment what would overwrite
//! something: a hash that has a payment (`PaymentExists`) or a paid tombstone
//! (`AlreadyPaid`), a sequence number that has a payment (`SequenceNumExists`).
//!
//! The register-time rules (MPP agreement among in-flight shards, exact value of a
//! single-path attempt) are not replayed: they hold for the attempts in flight at the
//! moment each attempt was registered, and a whole payment does not say which those
//! were. The sum and preimage rules, which protect money, are checked.
//!
//! An import announces nothing to subscribers: it moves history in, it is not a
//! payment's life.

use std::sync::{Arc, Mutex};

use super::cache::BatchView;
use super::commit::Op;
use super::engine::{AttemptRecords, Imported, Mutation, PaymentWriter};
use crate::codec;
use crate::error::{Error, Result};
use crate::model::{
    check_operation_size, validate_attempt_shape, validate_creation_info, verify_preimage,
    CreationInfo, FailureReason, HtlcAttempt, Payment, PaymentHash,
};
use crate::sync::lock;

/// The highest sequence number an import keeps (2^62). Every number the store hands out
/// then stays below 2^63, with 2^62 left for later payments: PostgreSQL keeps them in a
/// signed 64-bit column, which sorts wrongly above that.
pub const MAX_IMPORT_SEQUENCE_NUM: u64 = 1 << 62;

/// Payments per write operation: large enough that commits are few, small enough that
/// the life cycle of a running node never waits long behind an import.
pub const IMPORT_CHUNK: usize = 1000;

/// A whole payment to import, in its final state. Its status is derived, as for every
/// payment, from the attempts and the failure reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPayment {
    /// Kept as given (1 ..= `MAX_IMPORT_SEQUENCE_NUM`); later payments get numbers above it.
    pub sequence_num: u64,
    pub hash: PaymentHash,
    pub info: CreationInfo,
    /// Every attempt with its settle or fail record (at most one of the two).
    pub htlcs: Vec<HtlcAttempt>,
    pub failure_reason: Option<FailureReason>,
}

/// A payment the import refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRefusal {
    /// Position of the payment in the call's input.
    pub index: usize,
    pub sequence_num: u64,
    pub hash: PaymentHash,
    pub error: Error,
}

/// What one import call did: every payment of the input is either imported or refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    pub imported: u64,
    /// In input order.
    pub refused: Vec<ImportRefusal>,
}

/// A checked payment with its records encoded, ready for the writer.
struct Prepared {
    index: usize,
    /// The derived state, which the batch view stages once placed.
    payment: Arc<Payment>,
    record: Arc<Imported>,
}

fn in_attempt(i: usize, e: Error) -> Error {
    match e {
        Error::InvalidArgument(m) => Error::InvalidArgument(format!("htlcs[{i}]: {m}")),
        other => other,
    }
}

/// The pure checks of one payment, then its encoding.
fn prepare(index: usize, p: ImportPayment) -> Result<Prepared> {
    if p.sequence_num == 0 || p.sequence_num > MAX_IMPORT_SEQUENCE_NUM {
        return Err(Error::invalid(format!(
            "sequence number {} is outside 1..={MAX_IMPORT_SEQUENCE_NUM}",
            p.sequence_num
        )));
    }
    validate_creation_info(&p.info)?;
    let mut attempts = Vec::with_capacity(p.htlcs.len());
    for (i, h) in p.htlcs.iter().enumerate() {
        validate_attempt_shape(&h.info).map_err(|e| in_attempt(i, e))?;
        if p.htlcs[..i]
            .iter()
            .any(|o| o.info.attempt_id == h.info.attempt_id)
        {
            return Err(Error::AttemptExists(h.info.attempt_id));
        }
        let mut records = AttemptRecords {
            attempt_id: h.info.attempt_id,
            info: codec::encode_attempt(&h.info),
            settle: None,
            fail: None,
        };
        match (&h.settle, &h.failure) {
            (Some(_), Some(_)) => {
                return Err(in_attempt(
                    i,
                    Error::invalid("an attempt cannot be both settled and failed"),
                ))
            }
            (Some(settle), None) => {
                verify_preimage(&h.info.hash.unwrap_or(p.hash), &settle.preimage)?;
                records.settle = Some(codec::encode_settle(settle));
            }
            (None, Some(fail)) => records.fail = Some(codec::encode_fail(fail)),
            (None, None) => {}
        }
        attempts.push(records);
    }
    let creation = codec::encode_creation(&p.info);
    let stored = creation.len()
        + attempts
            .iter()
            .map(|a| {
                a.info.len()
                    + a.settle.as_ref().map_or(0, Vec::len)
                    + a.fail.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>();
    check_operation_size("the payment", stored)?;
    // The derivation every read runs: status, and the guard against overpaying attempts.
    let payment = Payment::from_parts(p.sequence_num, p.hash, p.info, p.htlcs, p.failure_reason)?;
    Ok(Prepared {
        index,
        record: Arc::new(Imported {
            seq: payment.sequence_num,
            hash: payment.hash,
            status: payment.status,
            created_ns: payment.info.creation_time_ns,
            value_msat: payment.info.value_msat,
            creation,
            attempts,
            failure_reason: payment.failure_reason,
        }),
        payment: Arc::new(payment),
    })
}

/// Whether the payment may be placed without overwriting anything. `next` is the
/// store's next sequence number: no payment holds a number at or above it.
fn check_free(
    w: &mut dyn PaymentWriter,
    view: &mut BatchView,
    p: &Imported,
    next: u64,
) -> Result<()> {
    if view.hash_taken(w, &p.hash)? {
        return Err(Error::PaymentExists);
    }
    if view.tombstoned(w, &p.hash)? {
        return Err(Error::AlreadyPaid);
    }
    if p.seq < next && view.sequence_taken(w, p.seq)? {
        return Err(Error::SequenceNumExists(p.seq));
    }
    Ok(())
}

/// One chunk as a transaction step: places every payment that is free. Returns one
/// outcome per payment; a refusal applies nothing.
fn place_chunk(
    w: &mut dyn PaymentWriter,
    view: &mut BatchView,
    chunk: &[Prepared],
) -> Result<Vec<Result<()>>> {
    let mut outcomes = Vec::with_capacity(chunk.len());
    for p in chunk {
        let next = w.next_sequence()?;
        let outcome = check_free(w, view, &p.record, next);
        if outcome.is_ok() {
            w.apply(Mutation::Import(p.record.clone()))?;
            view.stage(p.payment.clone());
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The writer operation placing one chunk. Its outcomes reach the caller through
/// `outcomes`, rewritten on each (re)try of the transaction.
fn chunk_op(chunk: Vec<Prepared>, outcomes: Arc<Mutex<Vec<Result<()>>>>) -> Op {
    Box::new(move |w: &mut dyn PaymentWriter, view: &mut BatchView| {
        let placed = place_chunk(w, view, &chunk)?;
        *lock(&outcomes) = placed;
        Ok(None)
    })
}

/// One chunk checked and encoded: the payments for the writer and the refusals so far.
struct Chunk {
    prepared: Vec<Prepared>,
    refused: Vec<ImportRefusal>,
}

fn prepare_chunk(payments: impl Iterator<Item = (usize, ImportPayment)>) -> Chunk {
    let mut chunk = Chunk {
        prepared: Vec::with_capacity(IMPORT_CHUNK),
        refused: Vec::new(),
    };
    for (index, p) in payments {
        let (sequence_num, hash) = (p.sequence_num, p.hash);
        match prepare(index, p) {
            Ok(prepared) => chunk.prepared.push(prepared),
            Err(error) => chunk.refused.push(ImportRefusal {
                index,
                sequence_num,
                hash,
                error,
            }),
        }
    }
    chunk
}

/// Checks and encodes the input chunk by chunk and has `write` place each chunk (through
/// the writer, durably). A storage error stops the import: the chunks written before it
/// stay, and a rerun reports their payments as `PaymentExists`.
///
/// Chunks are prepared on the caller's thread between the writer's turns; a helper
/// thread overlapping the two gained nothing measurable, and callers such as the lnd
/// importer already overlap their own reading with the import.
pub(super) fn import(
    payments: Vec<ImportPayment>,
    mut write: impl FnMut(Op) -> Result<()>,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut payments = payments.into_iter().enumerate().peekable();
    while payments.peek().is_some() {
        let mut chunk = prepare_chunk(payments.by_ref().take(IMPORT_CHUNK));
        place(&mut write, &mut chunk, &mut report)?;
    }
    Ok(report)
}

/// Has one chunk placed and adds its outcomes to the report.
fn place(
    write: &mut impl FnMut(Op) -> Result<()>,
    chunk: &mut Chunk,
    report: &mut ImportReport,
) -> Result<()> {
    let keys: Vec<(usize, u64, PaymentHash)> = chunk
        .prepared
        .iter()
        .map(|p| (p.index, p.record.seq, p.record.hash))
        .collect();
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    if !keys.is_empty() {
        let prepared = std::mem::take(&mut chunk.prepared);
        write(chunk_op(prepared, outcomes.clone()))?;
    }
    let outcomes = std::mem::take(&mut *lock(&outcomes));
    if outcomes.len() != keys.len() {
        return Err(Error::Internal(format!(
            "import chunk answered {} of {} payments",
            outcomes.len(),
            keys.len()
        )));
    }
    for ((index, sequence_num, hash), outcome) in keys.into_iter().zip(outcomes) {
        match outcome {
            Ok(()) => report.imported += 1,
            Err(error) => chunk.refused.push(ImportRefusal {
                index,
                sequence_num,
                hash,
                error,
            }),
        }
    }
    chunk.refused.sort_by_key(|r| r.index);
    report.refused.append(&mut chunk.refused);
    Ok(())
}
