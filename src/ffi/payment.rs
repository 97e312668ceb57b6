//! The payment as the library hands it out: `LpsPayment` and its lists, their frees,
//! and the router's decisions read from a payment.

use std::ptr;

use sha2::Digest;
use std::sync::Arc;

use super::arena::{self, Arena};
use super::boundary::{guard, status};
use super::handle::{self, Castable, Out};
use super::types::{
    LpsAmp, LpsAttemptInfo, LpsCreationInfo, LpsFailInfo, LpsHop, LpsMpp, LpsRecord, LpsRoute,
    LpsSettleInfo,
};
use crate::error::{LpsStatus, Result};
use crate::model::{
    AttemptInfo, CustomRecords, Hop, HtlcAttempt, Payment, PaymentState, PaymentStatus, Route,
};

/// One attempt with its outcome. Owned by the enclosing `LpsPayment`.
#[repr(C)]
pub struct LpsHtlcAttempt {
    pub info: LpsAttemptInfo,
    /// NULL unless settled.
    pub settle: *const LpsSettleInfo,
    /// NULL unless failed.
    pub failure: *const LpsFailInfo,
}

/// Figures derived from the attempts, which the router decides from.
#[repr(C)]
pub struct LpsPaymentState {
    pub num_attempts_in_flight: u32,
    pub remaining_amt_msat: u64,
    pub fees_paid_msat: u64,
    pub has_settled_htlc: bool,
    pub payment_failed: bool,
}

/// A payment with its attempts and derived status, read-only.
///
/// Lifetime: allocated by the library; a payment returned on its own is released with
/// `lps_payment_free`; a payment inside a list or query response belongs to that object
/// and is released with it (never pass it to `lps_payment_free`). Every pointer inside
/// stays valid until then. Thread-safety: immutable, so it may be read from any thread.
#[repr(C)]
pub struct LpsPayment {
    pub sequence_num: u64,
    pub payment_hash: [u8; 32],
    pub info: LpsCreationInfo,
    /// Ascending attempt id.
    pub htlcs: *const LpsHtlcAttempt,
    pub htlcs_len: usize,
    pub has_failure_reason: bool,
    /// `LpsFailureReason`, valid if `has_failure_reason`.
    pub failure_reason: u8,
    /// `LpsPaymentStatus`.
    pub status: u8,
    pub state: LpsPaymentState,
}

/// A list of payments, read-only. Lifetime: released with `lps_payment_list_free`,
/// which also releases every payment in it. Thread-safety: immutable.
#[repr(C)]
pub struct LpsPaymentList {
    pub payments: *const LpsPayment,
    pub len: usize,
}

/// A standalone payment and the memory its pointers point into.
#[repr(C)]
pub(crate) struct OwnedPayment {
    c: LpsPayment,
    _arena: Arena,
}

impl Castable for LpsPayment {
    type Rust = OwnedPayment;
}

#[repr(C)]
pub(crate) struct OwnedPaymentList {
    c: LpsPaymentList,
    _arena: Arena,
}

impl Castable for LpsPaymentList {
    type Rust = OwnedPaymentList;
}

/// Hands a payment to C as a standalone object.
pub(crate) fn payment_out(payment: Arc<Payment>) -> *mut LpsPayment {
    let mut arena = Arena::default();
    let c = payment_view(&mut arena, payment);
    handle::into_raw(OwnedPayment { c, _arena: arena })
}

/// Hands payments to C as one list object.
pub(crate) fn payment_list_out(payments: Vec<Arc<Payment>>) -> *mut LpsPaymentList {
    let mut arena = Arena::default();
    let views = payments_view(&mut arena, payments);
    let (payments, len) = arena.slice(views);
    handle::into_raw(OwnedPaymentList {
        c: LpsPaymentList { payments, len },
        _arena: arena,
    })
}

pub(crate) fn payments_view(arena: &mut Arena, payments: Vec<Arc<Payment>>) -> Vec<LpsPayment> {
    payments
        .into_iter()
        .map(|p| payment_view(arena, p))
        .collect()
}

/// The C view of a payment; the arena keeps the payment (which the view points into).
pub(crate) fn payment_view(arena: &mut Arena, payment: Arc<Payment>) -> LpsPayment {
    let p: &Payment = &payment;
    let htlcs: Vec<LpsHtlcAttempt> = p.htlcs.iter().map(|h| htlc_view(arena, h)).collect();
    let (htlcs, htlcs_len) = arena.slice(htlcs);
    let (records, records_len) = records_view(arena, &p.info.first_hop_custom_records);
    let view = LpsPayment {
        sequence_num: p.sequence_num,
        payment_hash: p.hash,
        info: LpsCreationInfo {
            payment_identifier: p.info.payment_identifier,
            value_msat: p.info.value_msat,
            creation_time_ns: p.info.creation_time_ns,
            payment_request: arena::bytes(&p.info.payment_request),
            first_hop_custom_records: records,
            first_hop_custom_records_len: records_len,
        },
        htlcs,
        htlcs_len,
        has_failure_reason: p.failure_reason.is_some(),
        failure_reason: p.failure_reason.map_or(0, |r| r as u8),
        status: p.status as u8,
        state: LpsPaymentState {
            num_attempts_in_flight: p.state.num_attempts_in_flight,
            remaining_amt_msat: p.state.remaining_amt_msat,
            fees_paid_msat: p.state.fees_paid_msat,
            has_settled_htlc: p.state.has_settled_htlc,
            payment_failed: p.state.payment_failed,
        },
    };
    arena.keep(payment);
    view
}

fn htlc_view(arena: &mut Arena, h: &HtlcAttempt) -> LpsHtlcAttempt {
    LpsHtlcAttempt {
        info: attempt_view(arena, &h.info),
        settle: h.settle.map_or(ptr::null(), |s| {
            arena.value(LpsSettleInfo {
                preimage: s.preimage,
                settle_time_ns: s.settle_time_ns,
            })
        }),
        failure: h.failure.as_ref().map_or(ptr::null(), |f| {
            arena.value(LpsFailInfo {
                fail_time_ns: f.fail_time_ns,
                message: arena::bytes(&f.message),
                reason: f.reason as u8,
                failure_source_index: f.failure_source_index,
            })
        }),
    }
}

fn attempt_view(arena: &mut Arena, a: &AttemptInfo) -> LpsAttemptInfo {
    LpsAttemptInfo {
        attempt_id: a.attempt_id,
        session_key: a.session_key,
        route: route_view(arena, &a.route),
        attempt_time_ns: a.attempt_time_ns,
        hash: a.hash.as_ref().map_or(ptr::null(), |h| h.as_ptr()),
    }
}

fn route_view(arena: &mut Arena, r: &Route) -> LpsRoute {
    let hops: Vec<LpsHop> = r.hops.iter().map(|h| hop_view(arena, h)).collect();
    let (hops, hops_len) = arena.slice(hops);
    let (records, records_len) = records_view(arena, &r.first_hop_wire_custom_records);
    LpsRoute {
        total_time_lock: r.total_time_lock,
        total_amount_msat: r.total_amount_msat,
        source_pub_key: r.source_pub_key,
        hops,
        hops_len,
        first_hop_amount_msat: r.first_hop_amount_msat,
        first_hop_wire_custom_records: records,
        first_hop_wire_custom_records_len: records_len,
    }
}

fn hop_view(arena: &mut Arena, h: &Hop) -> LpsHop {
    let (custom_records, custom_records_len) = records_view(arena, &h.custom_records);
    LpsHop {
        pub_key: h.pub_key,
        channel_id: h.channel_id,
        outgoing_time_lock: h.outgoing_time_lock,
        amt_to_forward_msat: h.amt_to_forward_msat,
        legacy_payload: h.legacy_payload,
        mpp: h.mpp.map_or(ptr::null(), |m| {
            arena.value(LpsMpp {
                payment_addr: m.payment_addr,
                total_msat: m.total_msat,
            })
        }),
        amp: h.amp.map_or(ptr::null(), |a| {
            arena.value(LpsAmp {
                root_share: a.root_share,
                set_id: a.set_id,
                child_index: a.child_index,
            })
        }),
        encrypted_data: arena::bytes(&h.encrypted_data),
        blinding_point: h
            .blinding_point
            .as_ref()
            .map_or(ptr::null(), |b| b.as_ptr()),
        metadata: arena::bytes(&h.metadata),
        total_amt_msat: h.total_amt_msat,
        custom_records,
        custom_records_len,
    }
}

fn records_view(arena: &mut Arena, records: &CustomRecords) -> (*const LpsRecord, usize) {
    arena.slice(
        records
            .iter()
            .map(|(t, v)| LpsRecord {
                type_: *t,
                value: arena::bytes(v),
            })
            .collect(),
    )
}

/// Releases a payment returned on its own. NULL is ignored. Never pass a payment that
/// is an element of a list or query response.
#[no_mangle]
pub extern "C" fn lps_payment_free(payment: *mut LpsPayment) {
    handle::free("lps_payment_free", payment);
}

/// Releases a payment list and every payment in it. NULL is ignored.
#[no_mangle]
pub extern "C" fn lps_payment_list_free(list: *mut LpsPaymentList) {
    handle::free("lps_payment_list_free", list);
}

/// Status and derived state of any payment the library returned (standalone or in a
/// list); out-of-range status bytes are `INVALID_ARGUMENT`.
fn decision_inputs(payment: *const LpsPayment) -> Result<(PaymentStatus, PaymentState)> {
    let p = handle::input(payment, "payment")?;
    let state = PaymentState {
        num_attempts_in_flight: p.state.num_attempts_in_flight,
        remaining_amt_msat: p.state.remaining_amt_msat,
        fees_paid_msat: p.state.fees_paid_msat,
        has_settled_htlc: p.state.has_settled_htlc,
        payment_failed: p.state.payment_failed,
    };
    Ok((PaymentStatus::try_from(p.status)?, state))
}

/// True when the payment is SUCCEEDED or FAILED. NULL or an invalid status gives false
/// (with `lps_last_error` set). Thread-safe.
#[no_mangle]
pub extern "C" fn lps_payment_terminated(payment: *const LpsPayment) -> bool {
    guard("lps_payment_terminated", || {
        Ok(decision_inputs(payment)?.0.is_terminal())
    })
    .unwrap_or(false)
}

/// Whether the router must wait for in-flight attempts before deciding (lnd's
/// `NeedWaitAttempts`). Inconsistent states give `LPS_STATUS_INTERNAL`.
#[no_mangle]
pub extern "C" fn lps_payment_need_wait_attempts(
    payment: *const LpsPayment,
    out: *mut bool,
) -> LpsStatus {
    status("lps_payment_need_wait_attempts", || {
        let out = Out::new(out, "out")?;
        let (status, state) = decision_inputs(payment)?;
        out.write(state.need_wait_attempts(status)?);
        Ok(())
    })
}

/// Whether the router may register another attempt (lnd's `AllowMoreAttempts`).
/// Inconsistent states give `LPS_STATUS_INTERNAL`.
#[no_mangle]
pub extern "C" fn lps_payment_allow_more_attempts(
    payment: *const LpsPayment,
    out: *mut bool,
) -> LpsStatus {
    status("lps_payment_allow_more_attempts", || {
        let out = Out::new(out, "out")?;
        let (status, state) = decision_inputs(payment)?;
        out.write(state.allow_more_attempts(status)?);
        Ok(())
    })
}

/// The payment hash a preimage proves: SHA-256 of its 32 bytes, written to
/// `out_hash[32]` (an addition to the base contract, docs/c-api.md, so that C hosts need no
/// SHA-256 of their own). Thread-safe.
#[no_mangle]
pub extern "C" fn lps_payment_hash(preimage: *const u8, out_hash: *mut u8) -> LpsStatus {
    status("lps_payment_hash", || {
        let out = Out::new(out_hash.cast::<[u8; 32]>(), "out_hash")?;
        let preimage = handle::fixed_bytes::<32>(preimage, "preimage")?;
        out.write(sha2::Sha256::digest(preimage).into());
        Ok(())
    })
}
