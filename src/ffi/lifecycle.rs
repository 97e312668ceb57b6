//! The payment life cycle (lnd's control tower) and deletions.

use std::sync::Arc;

use super::boundary::status;
use super::handle::{self, Out};
use super::payment::{payment_list_out, payment_out, LpsPayment, LpsPaymentList};
use super::store::LpsStore;
use super::types::{LpsAttemptInfo, LpsCreationInfo, LpsFailInfo, LpsSettleInfo};
use super::view;
use crate::error::{LpsStatus, Result};
use crate::model::{FailureReason, Payment, PaymentHash};
use crate::payments::{Change, Store};

fn hash(ptr: *const u8) -> Result<PaymentHash> {
    handle::fixed_bytes::<32>(ptr, "hash")
}

/// Hands the new state to the caller if it asked for it.
fn give(out: Option<Out<*mut LpsPayment>>, payment: Arc<Payment>) {
    if let Some(out) = out {
        out.write(payment_out(payment));
    }
}

/// Shared shape of the mutating calls: check every pointer, run, then hand out the
/// new state if asked.
fn update(
    store: *mut LpsStore,
    out: *mut *mut LpsPayment,
    op: impl FnOnce(&Store) -> Result<Arc<Payment>>,
) -> Result<()> {
    let store = handle::resource(store, "store")?;
    let out = Out::optional(out);
    give(out, op(store)?);
    Ok(())
}

/// Records a new payment, or restarts a FAILED one. `LPS_STATUS_PAYMENT_EXISTS`,
/// `_IN_FLIGHT` or `_ALREADY_PAID` when the hash is taken.
#[no_mangle]
pub extern "C" fn lps_init_payment(
    store: *mut LpsStore,
    hash: *const u8,
    info: *const LpsCreationInfo,
) -> LpsStatus {
    status("lps_init_payment", || {
        update(store, std::ptr::null_mut(), |s| {
            let hash = self::hash(hash)?;
            let info = view::creation_info(handle::input(info, "info")?)?;
            s.change(&hash, Change::Init(info))
        })
    })
}

/// Records one HTLC attempt, validated against the payment (docs/behaviour.md, Registering
/// an attempt). `out` (optional) receives the new state, to be freed with
/// `lps_payment_free`.
#[no_mangle]
pub extern "C" fn lps_register_attempt(
    store: *mut LpsStore,
    hash: *const u8,
    attempt: *const LpsAttemptInfo,
    out: *mut *mut LpsPayment,
) -> LpsStatus {
    status("lps_register_attempt", || {
        update(store, out, |s| {
            let hash = self::hash(hash)?;
            let attempt = view::attempt_info(handle::input(attempt, "attempt")?)?;
            s.change(&hash, Change::Register(attempt))
        })
    })
}

/// Records an attempt's success; the preimage must hash to the attempt's hash.
#[no_mangle]
pub extern "C" fn lps_settle_attempt(
    store: *mut LpsStore,
    hash: *const u8,
    attempt_id: u64,
    settle: *const LpsSettleInfo,
    out: *mut *mut LpsPayment,
) -> LpsStatus {
    status("lps_settle_attempt", || {
        update(store, out, |s| {
            let hash = self::hash(hash)?;
            let settle = view::settle_info(handle::input(settle, "settle")?);
            s.change(&hash, Change::Settle(attempt_id, settle))
        })
    })
}

/// Records an attempt's failure.
#[no_mangle]
pub extern "C" fn lps_fail_attempt(
    store: *mut LpsStore,
    hash: *const u8,
    attempt_id: u64,
    fail: *const LpsFailInfo,
    out: *mut *mut LpsPayment,
) -> LpsStatus {
    status("lps_fail_attempt", || {
        update(store, out, |s| {
            let hash = self::hash(hash)?;
            let fail = view::fail_info(handle::input(fail, "fail")?)?;
            s.change(&hash, Change::FailAttempt(attempt_id, fail))
        })
    })
}

/// Records that the router gave up (`reason` is an `LpsFailureReason`); allowed while
/// attempts are still in flight.
#[no_mangle]
pub extern "C" fn lps_fail_payment(
    store: *mut LpsStore,
    hash: *const u8,
    reason: u8,
    out: *mut *mut LpsPayment,
) -> LpsStatus {
    status("lps_fail_payment", || {
        update(store, out, |s| {
            let hash = self::hash(hash)?;
            let reason = FailureReason::try_from(reason)?;
            s.change(&hash, Change::FailPayment(reason))
        })
    })
}

/// Reads one payment with all its attempts; free it with `lps_payment_free`.
#[no_mangle]
pub extern "C" fn lps_fetch_payment(
    store: *mut LpsStore,
    hash: *const u8,
    out: *mut *mut LpsPayment,
) -> LpsStatus {
    status("lps_fetch_payment", || {
        let out = Out::new(out, "out")?;
        let store = handle::resource(store, "store")?;
        let payment = store.fetch_payment(&self::hash(hash)?)?;
        out.write(payment_out(Arc::new(payment)));
        Ok(())
    })
}

/// Every INITIATED or IN_FLIGHT payment, to resume after a restart; its cost depends
/// on their number only. Free the list with `lps_payment_list_free`.
#[no_mangle]
pub extern "C" fn lps_fetch_inflight_payments(
    store: *mut LpsStore,
    out: *mut *mut LpsPaymentList,
) -> LpsStatus {
    status("lps_fetch_inflight_payments", || {
        let out = Out::new(out, "out")?;
        let store = handle::resource(store, "store")?;
        let payments = store.fetch_inflight_payments()?;
        out.write(payment_list_out(
            payments.into_iter().map(Arc::new).collect(),
        ));
        Ok(())
    })
}

/// Removes the failed attempts of a terminal payment.
#[no_mangle]
pub extern "C" fn lps_delete_failed_attempts(store: *mut LpsStore, hash: *const u8) -> LpsStatus {
    status("lps_delete_failed_attempts", || {
        let store = handle::resource(store, "store")?;
        store.delete_failed_attempts(&self::hash(hash)?)
    })
}

/// Deletes a payment that is not IN_FLIGHT, or only its failed attempts. A deleted SUCCEEDED hash
/// stays `LPS_STATUS_ALREADY_PAID` for `lps_init_payment`.
#[no_mangle]
pub extern "C" fn lps_delete_payment(
    store: *mut LpsStore,
    hash: *const u8,
    failed_attempts_only: bool,
) -> LpsStatus {
    status("lps_delete_payment", || {
        let store = handle::resource(store, "store")?;
        store.delete_payment(&self::hash(hash)?, failed_attempts_only)
    })
}

/// Deletes every payment that is not IN_FLIGHT (INITIATED, SUCCEEDED and FAILED, as in
/// lnd; only FAILED ones if `failed_only`), or only their failed attempts, in bounded
/// transactions; `deleted` (optional) receives how many payments were deleted (0 when
/// only attempts were deleted).
#[no_mangle]
pub extern "C" fn lps_delete_payments(
    store: *mut LpsStore,
    failed_only: bool,
    failed_attempts_only: bool,
    deleted: *mut u64,
) -> LpsStatus {
    status("lps_delete_payments", || {
        let store = handle::resource(store, "store")?;
        let deleted = Out::optional(deleted);
        let n = store.delete_payments(failed_only, failed_attempts_only)?;
        if let Some(out) = deleted {
            out.write(n);
        }
        Ok(())
    })
}
