//! The payment's records as the router hands them to the store.

use std::collections::BTreeMap;

use super::enums::{FailureReason, HtlcFailReason, PaymentStatus};
use crate::error::{Error, Result};

/// 32-byte payment hash (for AMP payments: the set id).
pub type PaymentHash = [u8; 32];
/// 32-byte preimage; SHA-256 of it is the hash it proves.
pub type Preimage = [u8; 32];
/// 33-byte compressed secp256k1 public key.
pub type PubKey = [u8; 33];
/// Custom TLV records (type → value), ordered by type as on the wire.
pub type CustomRecords = BTreeMap<u64, Vec<u8>>;

/// Smallest type allowed for custom records (BOLT #4 reserves the lower range).
pub const MIN_CUSTOM_RECORD_TYPE: u64 = 65536;

/// Static information recorded once, at `init_payment`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreationInfo {
    pub payment_identifier: [u8; 32],
    pub value_msat: u64,
    pub creation_time_ns: i64,
    pub payment_request: Vec<u8>,
    pub first_hop_custom_records: CustomRecords,
}

/// Multi-path payment record of the final hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mpp {
    pub payment_addr: [u8; 32],
    pub total_msat: u64,
}

/// Atomic multi-path payment record of the final hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amp {
    pub root_share: [u8; 32],
    pub set_id: [u8; 32],
    pub child_index: u32,
}

/// One hop of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub pub_key: PubKey,
    pub channel_id: u64,
    pub outgoing_time_lock: u32,
    pub amt_to_forward_msat: u64,
    pub legacy_payload: bool,
    pub mpp: Option<Mpp>,
    pub amp: Option<Amp>,
    /// Non-empty on hops of a blinded path.
    pub encrypted_data: Vec<u8>,
    pub blinding_point: Option<PubKey>,
    pub metadata: Vec<u8>,
    /// Total amount of a blinded payment (0 = unset).
    pub total_amt_msat: u64,
    pub custom_records: CustomRecords,
}

impl Default for Hop {
    fn default() -> Self {
        Hop {
            pub_key: [0; 33],
            channel_id: 0,
            outgoing_time_lock: 0,
            amt_to_forward_msat: 0,
            legacy_payload: false,
            mpp: None,
            amp: None,
            encrypted_data: Vec::new(),
            blinding_point: None,
            metadata: Vec::new(),
            total_amt_msat: 0,
            custom_records: CustomRecords::new(),
        }
    }
}

/// A route from us to the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub total_time_lock: u32,
    pub total_amount_msat: u64,
    pub source_pub_key: PubKey,
    pub hops: Vec<Hop>,
    /// Amount sent over the first hop's channel (0 = unset).
    pub first_hop_amount_msat: u64,
    pub first_hop_wire_custom_records: CustomRecords,
}

impl Default for Route {
    fn default() -> Self {
        Route {
            total_time_lock: 0,
            total_amount_msat: 0,
            source_pub_key: [0; 33],
            hops: Vec::new(),
            first_hop_amount_msat: 0,
            first_hop_wire_custom_records: CustomRecords::new(),
        }
    }
}

impl Route {
    /// The last hop, which the receiver reads. `None` only for an (invalid) empty route.
    pub fn final_hop(&self) -> Option<&Hop> {
        self.hops.last()
    }

    /// What the receiver gets: the final hop's amount to forward.
    pub fn receiver_amt(&self) -> u64 {
        self.final_hop().map_or(0, |h| h.amt_to_forward_msat)
    }

    /// Fees paid along the route.
    pub fn total_fees(&self) -> u64 {
        self.total_amount_msat.saturating_sub(self.receiver_amt())
    }

    /// A route whose final hop carries encrypted data pays into a blinded path.
    pub fn is_blinded(&self) -> bool {
        self.final_hop()
            .is_some_and(|h| !h.encrypted_data.is_empty())
    }

    pub(crate) fn final_mpp(&self) -> Option<&Mpp> {
        self.final_hop().and_then(|h| h.mpp.as_ref())
    }

    pub(crate) fn final_total_amt(&self) -> u64 {
        self.final_hop().map_or(0, |h| h.total_amt_msat)
    }
}

/// One HTLC attempt: a route and the session key its onion was built with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttemptInfo {
    pub attempt_id: u64,
    pub session_key: [u8; 32],
    pub route: Route,
    pub attempt_time_ns: i64,
    /// AMP shards carry their own hash; `None` means the payment hash applies.
    pub hash: Option<PaymentHash>,
}

/// Proof of payment for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SettleInfo {
    pub preimage: Preimage,
    pub settle_time_ns: i64,
}

/// Outcome of a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailInfo {
    pub fail_time_ns: i64,
    /// Encoded wire failure message (may be empty).
    pub message: Vec<u8>,
    pub reason: HtlcFailReason,
    pub failure_source_index: u32,
}

/// An attempt with its outcome, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtlcAttempt {
    pub info: AttemptInfo,
    pub settle: Option<SettleInfo>,
    pub failure: Option<FailInfo>,
}

impl HtlcAttempt {
    pub fn in_flight(&self) -> bool {
        self.settle.is_none() && self.failure.is_none()
    }
}

/// A payment as read from the store, with its derived status and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub sequence_num: u64,
    pub hash: PaymentHash,
    pub info: CreationInfo,
    /// Ascending attempt id.
    pub htlcs: Vec<HtlcAttempt>,
    pub failure_reason: Option<FailureReason>,
    pub status: PaymentStatus,
    pub state: PaymentState,
}

/// Derived figures a router decides from (docs/behaviour.md, Status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaymentState {
    pub num_attempts_in_flight: u32,
    pub remaining_amt_msat: u64,
    pub fees_paid_msat: u64,
    pub has_settled_htlc: bool,
    pub payment_failed: bool,
}

/// The router's decisions need only the status and the derived state, so hosts holding
/// a copy of a payment (the C ABI's `LpsPayment`) can ask them too.
impl PaymentState {
    /// lnd's `NeedWaitAttempts`; inconsistent states are an `Internal` error.
    pub fn need_wait_attempts(&self, status: PaymentStatus) -> Result<bool> {
        let inconsistent = |what: &str| {
            Err(Error::Internal(format!(
                "inconsistent payment: {what} (status {status:?}, remaining {} msat)",
                self.remaining_amt_msat
            )))
        };
        if self.remaining_amt_msat != 0 {
            return match status {
                PaymentStatus::Initiated | PaymentStatus::Failed => Ok(false),
                PaymentStatus::InFlight => Ok(self.has_settled_htlc || self.payment_failed),
                PaymentStatus::Succeeded => inconsistent("succeeded with amount left to send"),
            };
        }
        match status {
            PaymentStatus::Initiated => inconsistent("initiated with nothing left to send"),
            PaymentStatus::InFlight => Ok(true),
            PaymentStatus::Succeeded => Ok(false),
            PaymentStatus::Failed => inconsistent("failed with nothing left to send"),
        }
    }

    /// lnd's `AllowMoreAttempts`.
    pub fn allow_more_attempts(&self, status: PaymentStatus) -> Result<bool> {
        if self.remaining_amt_msat == 0 {
            if status == PaymentStatus::Initiated {
                return Err(Error::Internal(
                    "inconsistent payment: initiated with nothing left to send".into(),
                ));
            }
            return Ok(false);
        }
        if status == PaymentStatus::Succeeded {
            return Err(Error::Internal(format!(
                "inconsistent payment: succeeded with {} msat left to send",
                self.remaining_amt_msat
            )));
        }
        Ok(self.registrable(status).is_ok())
    }

    /// Whether a new attempt may be registered, and if not, the error that says why.
    pub fn registrable(&self, status: PaymentStatus) -> Result<()> {
        match status {
            PaymentStatus::Initiated => Ok(()),
            PaymentStatus::InFlight if self.has_settled_htlc => Err(Error::PaymentPendingSettled),
            PaymentStatus::InFlight if self.payment_failed => Err(Error::PaymentPendingFailed),
            PaymentStatus::InFlight => Ok(()),
            PaymentStatus::Succeeded => Err(Error::PaymentAlreadySucceeded),
            PaymentStatus::Failed => Err(Error::PaymentAlreadyFailed),
        }
    }
}

impl Payment {
    /// Builds a payment from its stored parts, deriving status and state.
    /// Fails with `SentExceedsTotal` when the stored attempts overpay (corruption guard).
    pub fn from_parts(
        sequence_num: u64,
        hash: PaymentHash,
        info: CreationInfo,
        htlcs: Vec<HtlcAttempt>,
        failure_reason: Option<FailureReason>,
    ) -> Result<Payment> {
        let mut htlcs = htlcs;
        // Lookups by attempt id binary-search this list.
        if !htlcs.is_sorted_by_key(|h| h.info.attempt_id) {
            htlcs.sort_by_key(|h| h.info.attempt_id);
        }
        let derived = crate::model::derive_state(&info, &htlcs, failure_reason.is_some())?;
        Ok(Payment {
            sequence_num,
            hash,
            info,
            htlcs,
            failure_reason,
            status: derived.status,
            state: derived.state,
        })
    }

    pub fn terminated(&self) -> bool {
        self.status.is_terminal()
    }

    /// Whether the router must wait for in-flight attempts before deciding (lnd's
    /// `NeedWaitAttempts`). Inconsistent states are an `Internal` error.
    pub fn need_wait_attempts(&self) -> Result<bool> {
        self.state.need_wait_attempts(self.status)
    }

    /// Whether the router may register another attempt (lnd's `AllowMoreAttempts`).
    pub fn allow_more_attempts(&self) -> Result<bool> {
        self.state.allow_more_attempts(self.status)
    }

    /// Whether a new attempt may be registered, and if not, the error that says why.
    pub fn registrable(&self) -> Result<()> {
        self.state.registrable(self.status)
    }

    /// Settle and fail updates need a payment that is not terminal.
    pub fn updatable(&self) -> Result<()> {
        match self.status {
            PaymentStatus::Succeeded => Err(Error::PaymentAlreadySucceeded),
            PaymentStatus::Failed => Err(Error::PaymentAlreadyFailed),
            _ => Ok(()),
        }
    }

    /// Receiver amounts of the attempts that have not failed (never above the value for a
    /// payment built by `from_parts`).
    pub fn sent_amt(&self) -> u64 {
        self.htlcs
            .iter()
            .filter(|h| h.failure.is_none())
            .map(|h| h.info.route.receiver_amt())
            .fold(0u64, |a, b| a.saturating_add(b))
    }

    pub fn attempt(&self, attempt_id: u64) -> Option<&HtlcAttempt> {
        self.htlcs
            .binary_search_by_key(&attempt_id, |h| h.info.attempt_id)
            .ok()
            .map(|i| &self.htlcs[i])
    }

    /// The hash a settling preimage must match for this attempt.
    pub fn attempt_hash(&self, attempt: &AttemptInfo) -> PaymentHash {
        attempt.hash.unwrap_or(self.hash)
    }
}
