//! Key layout of the payment tables.
//!
//! `records` keys start with the big-endian sequence number, so one payment's records are
//! contiguous (one range scan loads it) and new payments append at the end of the tree:
//!
//! ```text
//! seq ‖ 0x00                      creation record: payment hash ‖ encoded creation info
//! seq ‖ 0x01                      payment failure reason (1 byte)
//! seq ‖ 0x02 ‖ attempt_id ‖ 0x00  attempt info
//! seq ‖ 0x02 ‖ attempt_id ‖ 0x01  settle info
//! seq ‖ 0x02 ‖ attempt_id ‖ 0x02  fail info
//! ```

use crate::error::{Error, Result};
use crate::model::PaymentStatus;

pub const KIND_CREATION: u8 = 0;
pub const KIND_FAILURE_REASON: u8 = 1;
pub const KIND_HTLC: u8 = 2;

pub const HTLC_INFO: u8 = 0;
pub const HTLC_SETTLE: u8 = 1;
pub const HTLC_FAIL: u8 = 2;

pub fn seq(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub fn record(seq: u64, kind: u8) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[..8].copy_from_slice(&seq.to_be_bytes());
    k[8] = kind;
    k
}

pub fn htlc(seq: u64, attempt_id: u64, sub: u8) -> [u8; 18] {
    let mut k = [0u8; 18];
    k[..8].copy_from_slice(&seq.to_be_bytes());
    k[8] = KIND_HTLC;
    k[9..17].copy_from_slice(&attempt_id.to_be_bytes());
    k[17] = sub;
    k
}

/// A decoded `records` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKey {
    Creation(u64),
    FailureReason(u64),
    Htlc { seq: u64, attempt_id: u64, sub: u8 },
}

impl RecordKey {
    pub fn seq(&self) -> u64 {
        match *self {
            RecordKey::Creation(s) | RecordKey::FailureReason(s) => s,
            RecordKey::Htlc { seq, .. } => seq,
        }
    }
}

pub fn parse_record(key: &[u8]) -> Result<RecordKey> {
    let bad = || {
        Error::corrupt(format!(
            "malformed payment record key of {} bytes",
            key.len()
        ))
    };
    let seq = u64::from_be_bytes(
        key.get(..8)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    );
    match (key.len(), key[8..].first()) {
        (9, Some(&KIND_CREATION)) => Ok(RecordKey::Creation(seq)),
        (9, Some(&KIND_FAILURE_REASON)) => Ok(RecordKey::FailureReason(seq)),
        (18, Some(&KIND_HTLC)) if key[17] <= HTLC_FAIL => Ok(RecordKey::Htlc {
            seq,
            attempt_id: u64::from_be_bytes(key[9..17].try_into().map_err(|_| bad())?),
            sub: key[17],
        }),
        _ => Err(bad()),
    }
}

/// Creation times sort as unsigned big-endian once the sign bit is flipped.
pub fn creation(time_ns: i64, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&((time_ns as u64) ^ (1 << 63)).to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub fn counter(status: PaymentStatus) -> [u8; 1] {
    [status as u8]
}

pub fn parse_u64(bytes: &[u8], what: &str) -> Result<u64> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| Error::corrupt(format!("{what}: expected 8 bytes, found {}", bytes.len())))
}
