//! Mutations as key writes: the records, the indexes (hash, non-terminal, creation
//! time), the per-status counters and the next sequence number, kept in step.

use super::keys::{self, HTLC_FAIL, HTLC_INFO, HTLC_SETTLE, KIND_CREATION, KIND_FAILURE_REASON};
use crate::backend::schema::{
    get_u64, put_u64, COUNTERS, CREATION_INDEX, HASH_INDEX, INFLIGHT, KEY_NEXT_SEQUENCE, META,
    RECORDS, TOMBSTONES,
};
use crate::backend::WriteTx;
use crate::error::{Error, Result};
use crate::model::{PaymentHash, PaymentStatus};
use crate::payments::engine::{Imported, Mutation, Removal};

pub fn apply(tx: &mut dyn WriteTx, m: Mutation) -> Result<()> {
    match m {
        Mutation::InsertPayment {
            seq,
            hash,
            created_ns,
            creation,
            ..
        } => insert_payment(tx, seq, &hash, created_ns, &creation),
        Mutation::InsertAttempt {
            seq,
            attempt_id,
            info,
        } => tx.put(RECORDS, &keys::htlc(seq, attempt_id, HTLC_INFO), &info),
        Mutation::SetSettle {
            seq,
            attempt_id,
            settle,
        } => tx.put(RECORDS, &keys::htlc(seq, attempt_id, HTLC_SETTLE), &settle),
        Mutation::SetFail {
            seq,
            attempt_id,
            fail,
        } => tx.put(RECORDS, &keys::htlc(seq, attempt_id, HTLC_FAIL), &fail),
        Mutation::SetReason { seq, reason } => tx.put(
            RECORDS,
            &keys::record(seq, KIND_FAILURE_REASON),
            &[reason as u8],
        ),
        Mutation::Status { seq, from, to } => record_transition(tx, seq, from, to),
        Mutation::Delete(removal) => remove_payment(tx, &removal),
        Mutation::DeleteAttempts { seq, attempt_ids } => {
            for id in attempt_ids {
                remove_htlc(tx, seq, id)?;
            }
            Ok(())
        }
        Mutation::Import(p) => place_payment(tx, &p),
    }
}

pub fn add_to_counter(tx: &mut dyn WriteTx, status: PaymentStatus, delta: i64) -> Result<()> {
    let key = keys::counter(status);
    let now = get_u64(tx, COUNTERS, &key)?.unwrap_or(0);
    let next = now
        .checked_add_signed(delta)
        .ok_or_else(|| Error::corrupt(format!("{status:?} counter would leave range")))?;
    put_u64(tx, COUNTERS, &key, next)
}

/// The store's next sequence number.
pub fn next_sequence(tx: &dyn WriteTx) -> Result<u64> {
    get_u64(tx, META, KEY_NEXT_SEQUENCE)?.ok_or_else(|| Error::corrupt("missing sequence counter"))
}

/// Moves the next sequence number above `seq`.
fn take_sequence(tx: &mut dyn WriteTx, seq: u64) -> Result<()> {
    let next = next_sequence(tx)?;
    if seq >= next {
        put_u64(tx, META, KEY_NEXT_SEQUENCE, seq + 1)?;
    }
    Ok(())
}

fn insert_payment(
    tx: &mut dyn WriteTx,
    seq: u64,
    hash: &PaymentHash,
    created_ns: i64,
    info: &[u8],
) -> Result<()> {
    take_sequence(tx, seq)?;
    let mut creation = Vec::with_capacity(32 + info.len());
    creation.extend_from_slice(hash);
    creation.extend_from_slice(info);
    tx.put(RECORDS, &keys::record(seq, KIND_CREATION), &creation)?;
    tx.put(HASH_INDEX, hash, &keys::seq(seq))?;
    tx.put(INFLIGHT, &keys::seq(seq), &[])?;
    tx.put(CREATION_INDEX, &keys::creation(created_ns, seq), &[])?;
    add_to_counter(tx, PaymentStatus::Initiated, 1)
}

/// Keeps counters and the non-terminal index in step with a status change.
fn record_transition(
    tx: &mut dyn WriteTx,
    seq: u64,
    old: PaymentStatus,
    new: PaymentStatus,
) -> Result<()> {
    if old == new {
        return Ok(());
    }
    add_to_counter(tx, old, -1)?;
    add_to_counter(tx, new, 1)?;
    match (old.is_terminal(), new.is_terminal()) {
        (false, true) => {
            tx.delete(INFLIGHT, &keys::seq(seq))?;
        }
        (true, false) => tx.put(INFLIGHT, &keys::seq(seq), &[])?,
        _ => {}
    }
    Ok(())
}

/// Removes every trace of a payment: records, indexes, counter; keeps its tombstone.
fn remove_payment(tx: &mut dyn WriteTx, p: &Removal) -> Result<()> {
    let seq = p.seq;
    tx.delete(RECORDS, &keys::record(seq, KIND_CREATION))?;
    tx.delete(RECORDS, &keys::record(seq, KIND_FAILURE_REASON))?;
    for &id in &p.attempt_ids {
        remove_htlc(tx, seq, id)?;
    }
    tx.delete(HASH_INDEX, &p.hash)?;
    tx.delete(INFLIGHT, &keys::seq(seq))?;
    tx.delete(CREATION_INDEX, &keys::creation(p.created_ns, seq))?;
    add_to_counter(tx, p.status, -1)?;
    if p.tombstone {
        tx.put(TOMBSTONES, &p.hash, &[])?;
    }
    Ok(())
}

fn remove_htlc(tx: &mut dyn WriteTx, seq: u64, attempt_id: u64) -> Result<()> {
    for sub in [HTLC_INFO, HTLC_SETTLE, HTLC_FAIL] {
        tx.delete(RECORDS, &keys::htlc(seq, attempt_id, sub))?;
    }
    Ok(())
}

fn place_payment(tx: &mut dyn WriteTx, p: &Imported) -> Result<()> {
    let seq = p.seq;
    take_sequence(tx, seq)?;
    let mut creation = Vec::with_capacity(32 + p.creation.len());
    creation.extend_from_slice(&p.hash);
    creation.extend_from_slice(&p.creation);
    tx.put(RECORDS, &keys::record(seq, KIND_CREATION), &creation)?;
    if let Some(reason) = p.failure_reason {
        tx.put(
            RECORDS,
            &keys::record(seq, KIND_FAILURE_REASON),
            &[reason as u8],
        )?;
    }
    for a in &p.attempts {
        tx.put(RECORDS, &keys::htlc(seq, a.attempt_id, HTLC_INFO), &a.info)?;
        if let Some(settle) = &a.settle {
            tx.put(RECORDS, &keys::htlc(seq, a.attempt_id, HTLC_SETTLE), settle)?;
        }
        if let Some(fail) = &a.fail {
            tx.put(RECORDS, &keys::htlc(seq, a.attempt_id, HTLC_FAIL), fail)?;
        }
    }
    tx.put(HASH_INDEX, &p.hash, &keys::seq(seq))?;
    tx.put(CREATION_INDEX, &keys::creation(p.created_ns, seq), &[])?;
    if !p.status.is_terminal() {
        tx.put(INFLIGHT, &keys::seq(seq), &[])?;
    }
    add_to_counter(tx, p.status, 1)
}
