//! The control tower's transitions as transaction steps. Each step runs every check before
//! its first write, so a domain error leaves the transaction untouched and the other
//! operations of its batch unaffected. Each keeps the indexes and counters in step.

use super::cache::BatchView;
use super::keys::{self, HTLC_FAIL, HTLC_INFO, HTLC_SETTLE, KIND_CREATION, KIND_FAILURE_REASON};
use crate::backend::schema::{
    get_u64, put_u64, COUNTERS, CREATION_INDEX, HASH_INDEX, INFLIGHT, KEY_NEXT_SEQUENCE, META,
    RECORDS, TOMBSTONES,
};
use crate::backend::WriteTx;
use crate::error::{Error, Result};
use crate::model::{
    verify_attempt, verify_preimage, AttemptInfo, CreationInfo, FailInfo, FailureReason,
    HtlcAttempt, Payment, PaymentHash, PaymentStatus, SettleInfo,
};

pub(super) fn add_to_counter(
    tx: &mut dyn WriteTx,
    status: PaymentStatus,
    delta: i64,
) -> Result<()> {
    let key = keys::counter(status);
    let now = get_u64(tx, COUNTERS, &key)?.unwrap_or(0);
    let next = now
        .checked_add_signed(delta)
        .ok_or_else(|| Error::corrupt(format!("{status:?} counter would leave range")))?;
    put_u64(tx, COUNTERS, &key, next)
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

/// Removes every trace of a payment: records, indexes, counter. Keeps a tombstone when it
/// had settled, so its hash can never be paid again.
pub fn remove_payment(tx: &mut dyn WriteTx, p: &Payment) -> Result<()> {
    let seq = p.sequence_num;
    tx.delete(RECORDS, &keys::record(seq, KIND_CREATION))?;
    tx.delete(RECORDS, &keys::record(seq, KIND_FAILURE_REASON))?;
    for h in &p.htlcs {
        remove_htlc(tx, seq, h)?;
    }
    tx.delete(HASH_INDEX, &p.hash)?;
    tx.delete(INFLIGHT, &keys::seq(seq))?;
    tx.delete(
        CREATION_INDEX,
        &keys::creation(p.info.creation_time_ns, seq),
    )?;
    add_to_counter(tx, p.status, -1)?;
    if p.state.has_settled_htlc {
        tx.put(TOMBSTONES, &p.hash, &[])?;
    }
    Ok(())
}

fn remove_htlc(tx: &mut dyn WriteTx, seq: u64, h: &HtlcAttempt) -> Result<()> {
    for sub in [HTLC_INFO, HTLC_SETTLE, HTLC_FAIL] {
        tx.delete(RECORDS, &keys::htlc(seq, h.info.attempt_id, sub))?;
    }
    Ok(())
}

fn existing(tx: &dyn WriteTx, view: &mut BatchView, hash: &PaymentHash) -> Result<Payment> {
    view.load(tx, hash)?.ok_or(Error::PaymentNotInitiated)
}

/// Rebuilds the payment after a change and records its status transition.
fn finish(tx: &mut dyn WriteTx, before: PaymentStatus, p: Payment) -> Result<Payment> {
    let p = Payment::from_parts(p.sequence_num, p.hash, p.info, p.htlcs, p.failure_reason)?;
    record_transition(tx, p.sequence_num, before, p.status)?;
    Ok(p)
}

/// `init_payment`: a new payment, or a fresh start for a failed one.
pub fn init(
    tx: &mut dyn WriteTx,
    view: &mut BatchView,
    hash: &PaymentHash,
    info: &CreationInfo,
    encoded_info: &[u8],
) -> Result<Payment> {
    if tx.get(TOMBSTONES, hash)?.is_some() {
        return Err(Error::AlreadyPaid);
    }
    if let Some(old) = view.load(tx, hash)? {
        match old.status {
            PaymentStatus::Initiated => return Err(Error::PaymentExists),
            PaymentStatus::InFlight => return Err(Error::PaymentInFlight),
            PaymentStatus::Succeeded => return Err(Error::AlreadyPaid),
            PaymentStatus::Failed => remove_payment(tx, &old)?,
        }
    }
    let seq = get_u64(tx, META, KEY_NEXT_SEQUENCE)?
        .ok_or_else(|| Error::corrupt("missing sequence counter"))?;
    put_u64(tx, META, KEY_NEXT_SEQUENCE, seq + 1)?;
    let mut creation = Vec::with_capacity(32 + encoded_info.len());
    creation.extend_from_slice(hash);
    creation.extend_from_slice(encoded_info);
    tx.put(RECORDS, &keys::record(seq, KIND_CREATION), &creation)?;
    tx.put(HASH_INDEX, hash, &keys::seq(seq))?;
    tx.put(INFLIGHT, &keys::seq(seq), &[])?;
    tx.put(
        CREATION_INDEX,
        &keys::creation(info.creation_time_ns, seq),
        &[],
    )?;
    add_to_counter(tx, PaymentStatus::Initiated, 1)?;
    Payment::from_parts(seq, *hash, info.clone(), Vec::new(), None)
}

/// `register_attempt`: adds an in-flight attempt after the rules of docs/behaviour.md,
/// Registering an attempt.
pub fn register(
    tx: &mut dyn WriteTx,
    view: &mut BatchView,
    hash: &PaymentHash,
    attempt: &AttemptInfo,
    encoded: &[u8],
) -> Result<Payment> {
    let mut p = existing(tx, view, hash)?;
    p.registrable()?;
    verify_attempt(&p, attempt)?;
    let before = p.status;
    tx.put(
        RECORDS,
        &keys::htlc(p.sequence_num, attempt.attempt_id, HTLC_INFO),
        encoded,
    )?;
    let at = p
        .htlcs
        .partition_point(|h| h.info.attempt_id < attempt.attempt_id);
    p.htlcs.insert(
        at,
        HtlcAttempt {
            info: attempt.clone(),
            settle: None,
            failure: None,
        },
    );
    finish(tx, before, p)
}

/// Finds an attempt that may still receive its outcome.
fn open_attempt(p: &Payment, attempt_id: u64) -> Result<usize> {
    p.updatable()?;
    let i = p
        .htlcs
        .binary_search_by_key(&attempt_id, |h| h.info.attempt_id)
        .map_err(|_| Error::AttemptNotFound(attempt_id))?;
    let h = &p.htlcs[i];
    if h.settle.is_some() {
        return Err(Error::AttemptAlreadySettled(attempt_id));
    }
    if h.failure.is_some() {
        return Err(Error::AttemptAlreadyFailed(attempt_id));
    }
    Ok(i)
}

/// `settle_attempt`: records the preimage once it proves the attempt's hash.
pub fn settle(
    tx: &mut dyn WriteTx,
    view: &mut BatchView,
    hash: &PaymentHash,
    attempt_id: u64,
    settle: &SettleInfo,
    encoded: &[u8],
) -> Result<Payment> {
    let mut p = existing(tx, view, hash)?;
    let i = open_attempt(&p, attempt_id)?;
    let expected = p.attempt_hash(&p.htlcs[i].info);
    verify_preimage(&expected, &settle.preimage)?;
    let before = p.status;
    tx.put(
        RECORDS,
        &keys::htlc(p.sequence_num, attempt_id, HTLC_SETTLE),
        encoded,
    )?;
    p.htlcs[i].settle = Some(*settle);
    finish(tx, before, p)
}

/// `fail_attempt`: records one attempt's failure.
pub fn fail_attempt(
    tx: &mut dyn WriteTx,
    view: &mut BatchView,
    hash: &PaymentHash,
    attempt_id: u64,
    fail: &FailInfo,
    encoded: &[u8],
) -> Result<Payment> {
    let mut p = existing(tx, view, hash)?;
    let i = open_attempt(&p, attempt_id)?;
    let before = p.status;
    tx.put(
        RECORDS,
        &keys::htlc(p.sequence_num, attempt_id, HTLC_FAIL),
        encoded,
    )?;
    p.htlcs[i].failure = Some(fail.clone());
    finish(tx, before, p)
}

/// `fail_payment`: records or overwrites the failure reason, whatever the attempts do.
pub fn fail_payment(
    tx: &mut dyn WriteTx,
    view: &mut BatchView,
    hash: &PaymentHash,
    reason: FailureReason,
) -> Result<Payment> {
    let mut p = existing(tx, view, hash)?;
    let before = p.status;
    tx.put(
        RECORDS,
        &keys::record(p.sequence_num, KIND_FAILURE_REASON),
        &[reason as u8],
    )?;
    p.failure_reason = Some(reason);
    finish(tx, before, p)
}

/// `delete_payment`: whole payment, or only its failed attempts. Refuses in-flight
/// payments. Returns whether the payment itself was removed.
pub fn delete(tx: &mut dyn WriteTx, p: &Payment, failed_attempts_only: bool) -> Result<bool> {
    if p.status == PaymentStatus::InFlight {
        return Err(Error::PaymentInFlight);
    }
    if failed_attempts_only {
        // Removing failed attempts of a non-in-flight payment never changes its status.
        for h in p.htlcs.iter().filter(|h| h.failure.is_some()) {
            remove_htlc(tx, p.sequence_num, h)?;
        }
        return Ok(false);
    }
    remove_payment(tx, p)?;
    Ok(true)
}

pub fn delete_by_hash(
    tx: &mut dyn WriteTx,
    view: &mut BatchView,
    hash: &PaymentHash,
    failed_attempts_only: bool,
) -> Result<bool> {
    let p = existing(tx, view, hash)?;
    // The payment (or its failed attempts) is gone from the records: so from the cache.
    view.forget(hash);
    delete(tx, &p, failed_attempts_only)
}
