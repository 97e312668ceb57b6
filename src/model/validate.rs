//! Attempt and creation-info validation: the register rules of docs/behaviour.md,
//! Registering an attempt.

use sha2::{Digest, Sha256};

use super::types::{
    AttemptInfo, CreationInfo, CustomRecords, Payment, PaymentHash, Preimage,
    MIN_CUSTOM_RECORD_TYPE,
};
use crate::error::{Error, Result};

/// The most an operation may write, in bytes as stored (an attempt with its route, a
/// payment's creation info, a failure, a mission-control result, one imported payment).
/// Far below what one write-ahead log record holds, so that every acknowledged batch can
/// be replayed; a real operation is a few KiB.
pub const MAX_OPERATION_BYTES: usize = 4 << 20;

/// `InvalidArgument` when `what`, `bytes` long as stored, is over `MAX_OPERATION_BYTES`.
pub fn check_operation_size(what: &str, bytes: usize) -> Result<()> {
    if bytes > MAX_OPERATION_BYTES {
        return Err(Error::invalid(format!(
            "{what} is {bytes} bytes, over the limit of {MAX_OPERATION_BYTES} bytes per \
             operation"
        )));
    }
    Ok(())
}

fn check_custom_records(what: &str, records: &CustomRecords) -> Result<()> {
    match records.keys().next() {
        Some(&t) if t < MIN_CUSTOM_RECORD_TYPE => Err(Error::invalid(format!(
            "{what}: custom record type {t} is below {MIN_CUSTOM_RECORD_TYPE}"
        ))),
        _ => Ok(()),
    }
}

/// Checks a creation info's own fields, independent of the store.
pub fn validate_creation_info(info: &CreationInfo) -> Result<()> {
    // Nothing could ever be sent for it, and the router's decisions would be undefined.
    if info.value_msat == 0 {
        return Err(Error::invalid("payment value is 0 msat"));
    }
    check_custom_records("first-hop custom records", &info.first_hop_custom_records)
}

/// Checks an attempt's own shape (non-empty route, custom record ranges), independent of
/// the payment it is registered on.
pub fn validate_attempt_shape(attempt: &AttemptInfo) -> Result<()> {
    let route = &attempt.route;
    if route.hops.is_empty() {
        return Err(Error::invalid("route has no hops"));
    }
    // A route cannot deliver more than it sends: its fees would be negative.
    if route.total_amount_msat < route.receiver_amt() {
        return Err(Error::invalid(format!(
            "route total {} msat is below the {} msat it delivers",
            route.total_amount_msat,
            route.receiver_amt()
        )));
    }
    check_custom_records(
        "first-hop wire custom records",
        &route.first_hop_wire_custom_records,
    )?;
    for (i, hop) in route.hops.iter().enumerate() {
        check_custom_records(&format!("hop {i}"), &hop.custom_records)?;
    }
    Ok(())
}

/// Checks a new attempt against the payment's in-flight attempts and its value, in the
/// order of docs/behaviour.md, "Registering an attempt" (the first failing check names
/// the error).
pub fn verify_attempt(payment: &Payment, attempt: &AttemptInfo) -> Result<()> {
    let route = &attempt.route;
    let blinded = route.is_blinded();
    let mpp = route.final_mpp();

    if blinded {
        if route.final_total_amt() == 0 {
            return Err(Error::BlindedMissingTotalAmount);
        }
        if mpp.is_some() {
            return Err(Error::MppRecordInBlindedPayment);
        }
    }

    for other in payment.htlcs.iter().filter(|h| h.in_flight()) {
        let other_route = &other.info.route;
        let other_mpp = other_route.final_mpp();
        if blinded && other_mpp.is_some() {
            return Err(Error::MppRecordInBlindedPayment);
        }
        if blinded != other_route.is_blinded() {
            return Err(Error::MixedBlindedAndNonBlinded);
        }
        if blinded {
            if route.final_total_amt() != other_route.final_total_amt() {
                return Err(Error::BlindedTotalAmountMismatch);
            }
            continue;
        }
        match (mpp, other_mpp) {
            (None, Some(_)) => return Err(Error::MpPayment),
            (Some(_), None) => return Err(Error::NonMpPayment),
            (None, None) => continue,
            (Some(a), Some(b)) => {
                if a.payment_addr != b.payment_addr {
                    return Err(Error::MppPaymentAddrMismatch);
                }
                if a.total_msat != b.total_msat {
                    return Err(Error::MppTotalAmountMismatch);
                }
            }
        }
    }

    let amount = route.receiver_amt();
    let value = payment.info.value_msat;
    if !blinded && mpp.is_none() && amount != value {
        return Err(Error::ValueMismatch { amount, value });
    }
    // u128: the sum must not saturate into looking affordable.
    let attempted = u128::from(payment.sent_amt()) + u128::from(amount);
    if attempted > u128::from(value) {
        return Err(Error::ValueExceedsAmt {
            attempted: u64::try_from(attempted).unwrap_or(u64::MAX),
            value,
        });
    }
    if payment.attempt(attempt.attempt_id).is_some() {
        return Err(Error::AttemptExists(attempt.attempt_id));
    }
    Ok(())
}

/// A settle record is proof of payment only when SHA-256 of its preimage is the hash the
/// attempt paid (the attempt's own hash for AMP shards, else the payment hash).
pub fn verify_preimage(expected: &PaymentHash, preimage: &Preimage) -> Result<()> {
    if Sha256::digest(preimage).as_slice() != expected {
        return Err(Error::PreimageMismatch);
    }
    Ok(())
}
