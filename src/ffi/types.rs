//! The C value types of the payment API. Inputs are borrowed from the caller for the
//! duration of one call; the same types inside outputs point into memory owned by the
//! enclosing output object, valid until that object is freed.

use std::ptr;

/// A byte string: borrowed from the caller in inputs, owned by the enclosing output
/// object in outputs. `{NULL, 0}` is the empty value; NULL with a non-zero length is
/// `LPS_STATUS_INVALID_ARGUMENT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LpsBytes {
    pub ptr: *const u8,
    pub len: usize,
}

impl LpsBytes {
    pub(crate) const EMPTY: LpsBytes = LpsBytes {
        ptr: ptr::null(),
        len: 0,
    };
}

/// One custom TLV record (type ≥ 65536).
/// cbindgen:field-names=[type, value]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LpsRecord {
    pub type_: u64,
    pub value: LpsBytes,
}

// The model's enums are shared with C as they are (carried as `uint8_t` in structs);
// the header names them as below.
pub use crate::model::{
    FailureReason as LpsFailureReason, HtlcFailReason as LpsHtlcFailReason,
    PaymentStatus as LpsPaymentStatus,
};

/// Static information recorded once, by `lps_init_payment`.
#[repr(C)]
pub struct LpsCreationInfo {
    pub payment_identifier: [u8; 32],
    pub value_msat: u64,
    /// Unix nanoseconds (0 = unset).
    pub creation_time_ns: i64,
    /// Opaque payment request (may be empty).
    pub payment_request: LpsBytes,
    pub first_hop_custom_records: *const LpsRecord,
    pub first_hop_custom_records_len: usize,
}

/// Multi-path payment record of a final hop.
#[repr(C)]
pub struct LpsMpp {
    pub payment_addr: [u8; 32],
    pub total_msat: u64,
}

/// Atomic multi-path payment record of a final hop.
#[repr(C)]
pub struct LpsAmp {
    pub root_share: [u8; 32],
    pub set_id: [u8; 32],
    pub child_index: u32,
}

/// One hop of a route.
#[repr(C)]
pub struct LpsHop {
    pub pub_key: [u8; 33],
    pub channel_id: u64,
    pub outgoing_time_lock: u32,
    pub amt_to_forward_msat: u64,
    pub legacy_payload: bool,
    /// NULL = none.
    pub mpp: *const LpsMpp,
    /// NULL = none.
    pub amp: *const LpsAmp,
    /// Blinded paths; len 0 = none.
    pub encrypted_data: LpsBytes,
    /// NULL = none, else 33 bytes.
    pub blinding_point: *const u8,
    /// len 0 = none.
    pub metadata: LpsBytes,
    /// Total amount of a blinded payment (0 = unset).
    pub total_amt_msat: u64,
    pub custom_records: *const LpsRecord,
    pub custom_records_len: usize,
}

/// A route from the sender to the receiver.
#[repr(C)]
pub struct LpsRoute {
    pub total_time_lock: u32,
    pub total_amount_msat: u64,
    pub source_pub_key: [u8; 33],
    pub hops: *const LpsHop,
    pub hops_len: usize,
    /// 0 = unset.
    pub first_hop_amount_msat: u64,
    pub first_hop_wire_custom_records: *const LpsRecord,
    pub first_hop_wire_custom_records_len: usize,
}

/// One HTLC attempt: a route and the session key its onion was built with.
#[repr(C)]
pub struct LpsAttemptInfo {
    pub attempt_id: u64,
    pub session_key: [u8; 32],
    pub route: LpsRoute,
    pub attempt_time_ns: i64,
    /// NULL = the payment hash applies (AMP shards carry their own), else 32 bytes.
    pub hash: *const u8,
}

/// Proof of payment for one attempt.
#[repr(C)]
pub struct LpsSettleInfo {
    pub preimage: [u8; 32],
    pub settle_time_ns: i64,
}

/// Outcome of a failed attempt.
#[repr(C)]
pub struct LpsFailInfo {
    pub fail_time_ns: i64,
    /// Encoded wire failure message; len 0 = none.
    pub message: LpsBytes,
    /// `LpsHtlcFailReason`.
    pub reason: u8,
    pub failure_source_index: u32,
}
