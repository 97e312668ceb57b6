//! Status and state derivation: the table of docs/behaviour.md, Status, never stored as
//! truth.

use super::enums::PaymentStatus;
use super::types::{CreationInfo, HtlcAttempt, PaymentState};
use crate::error::{Error, Result};

/// Status plus the derived figures returned with every payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerivedState {
    pub status: PaymentStatus,
    pub state: PaymentState,
}

/// Derives status and state from the attempts and whether the payment has a failure reason.
pub fn derive_state(
    info: &CreationInfo,
    htlcs: &[HtlcAttempt],
    payment_failed: bool,
) -> Result<DerivedState> {
    let mut in_flight = 0u32;
    let mut settled = false;
    let mut failed = false;
    // Summed in u128: a saturating u64 sum would let u64::MAX-sized attempts overpay.
    let mut sent = 0u128;
    let mut fees = 0u64;
    for h in htlcs {
        if h.failure.is_some() {
            failed = true;
            continue;
        }
        if h.settle.is_some() {
            settled = true;
        } else {
            in_flight += 1;
        }
        let route = &h.info.route;
        sent += u128::from(route.receiver_amt());
        fees = fees.saturating_add(route.total_fees());
    }
    if sent > u128::from(info.value_msat) {
        return Err(Error::SentExceedsTotal {
            sent: u64::try_from(sent).unwrap_or(u64::MAX),
            value: info.value_msat,
        });
    }
    let status = match (in_flight > 0, settled, payment_failed, failed) {
        (true, _, _, _) => PaymentStatus::InFlight,
        (false, true, _, _) => PaymentStatus::Succeeded,
        (false, false, true, _) => PaymentStatus::Failed,
        (false, false, false, true) => PaymentStatus::InFlight,
        (false, false, false, false) => PaymentStatus::Initiated,
    };
    Ok(DerivedState {
        status,
        state: PaymentState {
            num_attempts_in_flight: in_flight,
            remaining_amt_msat: info.value_msat - sent as u64,
            fees_paid_msat: fees,
            has_settled_htlc: settled,
            // A settled attempt makes the outcome a success, failure reason or not (lnd
            // derives it so too).
            payment_failed: payment_failed && !settled,
        },
    })
}
