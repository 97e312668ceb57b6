//! The control tower's transitions, written once for every engine.
//!
//! Each transition is a pure decision (`decide_*`): given the payment as stored and the
//! caller's input, the model's rules either refuse (a domain error) or yield the new
//! state and the `Mutation`s that store it. The step functions around them read what the
//! decision needs through the batch view and hand the mutations to the engine. A refusal
//! applies nothing, so it cannot affect the other operations of its batch.

use std::sync::Arc;

use super::cache::BatchView;
use super::engine::{Mutation, PaymentWriter, Removal};
use crate::error::{Error, Result};
use crate::model::{
    verify_attempt, verify_preimage, AttemptInfo, CreationInfo, FailInfo, FailureReason,
    HtlcAttempt, Payment, PaymentHash, PaymentStatus, SettleInfo,
};

/// A transition's outcome: the payment's new state and what to store.
pub struct Decision {
    pub payment: Payment,
    pub mutations: Vec<Mutation>,
}

/// Rebuilds the payment after a change (deriving its status) and adds the status
/// change, if any, to the mutations.
fn finish(before: PaymentStatus, p: Payment, mut mutations: Vec<Mutation>) -> Result<Decision> {
    let p = Payment::from_parts(p.sequence_num, p.hash, p.info, p.htlcs, p.failure_reason)?;
    if p.status != before {
        mutations.push(Mutation::Status {
            seq: p.sequence_num,
            from: before,
            to: p.status,
        });
    }
    Ok(Decision {
        payment: p,
        mutations,
    })
}

/// What removing this payment takes.
pub fn removal(p: &Payment) -> Removal {
    Removal {
        seq: p.sequence_num,
        hash: p.hash,
        created_ns: p.info.creation_time_ns,
        status: p.status,
        attempt_ids: p.htlcs.iter().map(|h| h.info.attempt_id).collect(),
        tombstone: p.state.has_settled_htlc,
    }
}

/// `init_payment`: a new payment with sequence number `seq`, or a fresh start for a
/// failed one (which is removed first).
pub fn decide_init(
    old: Option<&Payment>,
    tombstoned: bool,
    seq: u64,
    hash: &PaymentHash,
    info: &CreationInfo,
    encoded_info: &[u8],
) -> Result<Decision> {
    if tombstoned {
        return Err(Error::AlreadyPaid);
    }
    let mut mutations = Vec::with_capacity(2);
    if let Some(old) = old {
        match old.status {
            PaymentStatus::Initiated => return Err(Error::PaymentExists),
            PaymentStatus::InFlight => return Err(Error::PaymentInFlight),
            PaymentStatus::Succeeded => return Err(Error::AlreadyPaid),
            PaymentStatus::Failed => mutations.push(Mutation::Delete(removal(old))),
        }
    }
    mutations.push(Mutation::InsertPayment {
        seq,
        hash: *hash,
        created_ns: info.creation_time_ns,
        value_msat: info.value_msat,
        creation: encoded_info.to_vec(),
    });
    let payment = Payment::from_parts(seq, *hash, info.clone(), Vec::new(), None)?;
    Ok(Decision { payment, mutations })
}

/// `register_attempt`: adds an in-flight attempt after the rules of docs/behaviour.md,
/// Registering an attempt.
pub fn decide_register(mut p: Payment, attempt: &AttemptInfo, encoded: &[u8]) -> Result<Decision> {
    p.registrable()?;
    verify_attempt(&p, attempt)?;
    let before = p.status;
    let mutations = vec![Mutation::InsertAttempt {
        seq: p.sequence_num,
        attempt_id: attempt.attempt_id,
        info: encoded.to_vec(),
    }];
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
    finish(before, p, mutations)
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
pub fn decide_settle(
    mut p: Payment,
    attempt_id: u64,
    settle: &SettleInfo,
    encoded: &[u8],
) -> Result<Decision> {
    let i = open_attempt(&p, attempt_id)?;
    let expected = p.attempt_hash(&p.htlcs[i].info);
    verify_preimage(&expected, &settle.preimage)?;
    let before = p.status;
    let mutations = vec![Mutation::SetSettle {
        seq: p.sequence_num,
        attempt_id,
        settle: encoded.to_vec(),
    }];
    p.htlcs[i].settle = Some(*settle);
    finish(before, p, mutations)
}

/// `fail_attempt`: records one attempt's failure.
pub fn decide_fail_attempt(
    mut p: Payment,
    attempt_id: u64,
    fail: &FailInfo,
    encoded: &[u8],
) -> Result<Decision> {
    let i = open_attempt(&p, attempt_id)?;
    let before = p.status;
    let mutations = vec![Mutation::SetFail {
        seq: p.sequence_num,
        attempt_id,
        fail: encoded.to_vec(),
    }];
    p.htlcs[i].failure = Some(fail.clone());
    finish(before, p, mutations)
}

/// `fail_payment`: records or overwrites the failure reason, whatever the attempts do.
pub fn decide_fail_payment(mut p: Payment, reason: FailureReason) -> Result<Decision> {
    let before = p.status;
    let mutations = vec![Mutation::SetReason {
        seq: p.sequence_num,
        reason,
    }];
    p.failure_reason = Some(reason);
    finish(before, p, mutations)
}

/// `delete_payment`: the whole payment (new state `None`), or only its failed attempts.
/// Refuses in-flight payments.
pub fn decide_delete(
    p: Payment,
    failed_attempts_only: bool,
) -> Result<(Option<Payment>, Mutation)> {
    if p.status == PaymentStatus::InFlight {
        return Err(Error::PaymentInFlight);
    }
    if !failed_attempts_only {
        return Ok((None, Mutation::Delete(removal(&p))));
    }
    // Removing failed attempts of a non-in-flight payment never changes its status.
    let (failed, kept): (Vec<HtlcAttempt>, Vec<HtlcAttempt>) =
        p.htlcs.into_iter().partition(|h| h.failure.is_some());
    let mutation = Mutation::DeleteAttempts {
        seq: p.sequence_num,
        attempt_ids: failed.iter().map(|h| h.info.attempt_id).collect(),
    };
    let p = Payment::from_parts(p.sequence_num, p.hash, p.info, kept, p.failure_reason)?;
    Ok((Some(p), mutation))
}

fn existing(
    w: &mut dyn PaymentWriter,
    view: &mut BatchView,
    hash: &PaymentHash,
) -> Result<Payment> {
    view.load(w, hash)?.ok_or(Error::PaymentNotInitiated)
}

fn apply_all(w: &mut dyn PaymentWriter, mutations: Vec<Mutation>) -> Result<()> {
    mutations.into_iter().try_for_each(|m| w.apply(m))
}

/// Applies a decision's mutations and returns its payment (the batch stages it).
fn store(w: &mut dyn PaymentWriter, d: Decision) -> Result<Payment> {
    apply_all(w, d.mutations)?;
    Ok(d.payment)
}

/// The `init_payment` step.
pub fn init(
    w: &mut dyn PaymentWriter,
    view: &mut BatchView,
    hash: &PaymentHash,
    info: &CreationInfo,
    encoded_info: &[u8],
) -> Result<Payment> {
    let tombstoned = view.tombstoned(w, hash)?;
    let old = if tombstoned {
        None
    } else {
        view.load(w, hash)?
    };
    let seq = if tombstoned { 0 } else { w.next_sequence()? };
    let d = decide_init(old.as_ref(), tombstoned, seq, hash, info, encoded_info)?;
    if let Some(old) = &old {
        // The failed payment it replaces is gone: its sequence number with it.
        view.remove(hash, old.sequence_num, false);
    }
    store(w, d)
}

/// The `register_attempt` step.
pub fn register(
    w: &mut dyn PaymentWriter,
    view: &mut BatchView,
    hash: &PaymentHash,
    attempt: &AttemptInfo,
    encoded: &[u8],
) -> Result<Payment> {
    let p = existing(w, view, hash)?;
    store(w, decide_register(p, attempt, encoded)?)
}

/// The `settle_attempt` step.
pub fn settle(
    w: &mut dyn PaymentWriter,
    view: &mut BatchView,
    hash: &PaymentHash,
    attempt_id: u64,
    settle: &SettleInfo,
    encoded: &[u8],
) -> Result<Payment> {
    let p = existing(w, view, hash)?;
    store(w, decide_settle(p, attempt_id, settle, encoded)?)
}

/// The `fail_attempt` step.
pub fn fail_attempt(
    w: &mut dyn PaymentWriter,
    view: &mut BatchView,
    hash: &PaymentHash,
    attempt_id: u64,
    fail: &FailInfo,
    encoded: &[u8],
) -> Result<Payment> {
    let p = existing(w, view, hash)?;
    store(w, decide_fail_attempt(p, attempt_id, fail, encoded)?)
}

/// The `fail_payment` step.
pub fn fail_payment(
    w: &mut dyn PaymentWriter,
    view: &mut BatchView,
    hash: &PaymentHash,
    reason: FailureReason,
) -> Result<Payment> {
    let p = existing(w, view, hash)?;
    store(w, decide_fail_payment(p, reason)?)
}

/// The `delete_payment` step by hash, in the writer's batch.
pub fn delete_by_hash(
    w: &mut dyn PaymentWriter,
    view: &mut BatchView,
    hash: &PaymentHash,
    failed_attempts_only: bool,
) -> Result<()> {
    let p = existing(w, view, hash)?;
    delete_loaded(w, view, p, failed_attempts_only).map(drop)
}

/// Deletes a payment the batch loaded (or only its failed attempts); returns whether the
/// payment itself went.
pub fn delete_loaded(
    w: &mut dyn PaymentWriter,
    view: &mut BatchView,
    p: Payment,
    failed_attempts_only: bool,
) -> Result<bool> {
    let (hash, seq, tombstone) = (p.hash, p.sequence_num, p.state.has_settled_htlc);
    let (kept, mutation) = decide_delete(p, failed_attempts_only)?;
    w.apply(mutation)?;
    match kept {
        Some(p) => {
            view.stage(Arc::new(p));
            Ok(false)
        }
        None => {
            view.remove(&hash, seq, tombstone);
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn initiated(seq: u64) -> Payment {
        let info = CreationInfo {
            value_msat: 1000,
            ..Default::default()
        };
        Payment::from_parts(seq, [1; 32], info, Vec::new(), None).unwrap()
    }

    #[test]
    fn init_over_a_failed_payment_removes_it_then_inserts() {
        let failed = decide_fail_payment(initiated(3), FailureReason::NoRoute)
            .unwrap()
            .payment;
        let d = decide_init(Some(&failed), false, 9, &[1; 32], &failed.info, b"c").unwrap();
        assert!(matches!(
            &d.mutations[..],
            [
                Mutation::Delete(Removal {
                    seq: 3,
                    tombstone: false,
                    ..
                }),
                Mutation::InsertPayment { seq: 9, .. },
            ]
        ));
        assert_eq!(d.payment.sequence_num, 9);
    }

    #[test]
    fn a_refusal_yields_no_mutation() {
        let p = initiated(3);
        assert_eq!(
            decide_init(Some(&p), false, 9, &[1; 32], &p.info, b"c").err(),
            Some(Error::PaymentExists)
        );
        assert_eq!(
            decide_init(None, true, 9, &[1; 32], &p.info, b"c").err(),
            Some(Error::AlreadyPaid)
        );
        assert!(matches!(
            decide_settle(p, 5, &SettleInfo::default(), b"s"),
            Err(Error::AttemptNotFound(5))
        ));
    }

    #[test]
    fn a_status_change_is_a_mutation_of_its_own() {
        let d = decide_fail_payment(initiated(3), FailureReason::Timeout).unwrap();
        assert_eq!(
            d.mutations,
            vec![
                Mutation::SetReason {
                    seq: 3,
                    reason: FailureReason::Timeout
                },
                Mutation::Status {
                    seq: 3,
                    from: PaymentStatus::Initiated,
                    to: PaymentStatus::Failed
                },
            ]
        );
    }
}
