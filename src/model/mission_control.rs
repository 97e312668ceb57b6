//! A mission-control result: what path finding learns from one finished attempt.

use super::types::PubKey;
use crate::error::{Error, Result};

/// One hop of the minimal route mission control keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McHop {
    pub channel_id: u64,
    pub pub_key: PubKey,
    pub amt_to_forward_msat: u64,
    pub has_blinding_point: bool,
    pub has_custom_records: bool,
}

impl Default for McHop {
    fn default() -> Self {
        McHop {
            channel_id: 0,
            pub_key: [0; 33],
            amt_to_forward_msat: 0,
            has_blinding_point: false,
            has_custom_records: false,
        }
    }
}

impl Default for McRoute {
    fn default() -> Self {
        McRoute {
            source_pub_key: [0; 33],
            total_amount_msat: 0,
            hops: Vec::new(),
        }
    }
}

/// The route of an attempt, reduced to what mission control needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McRoute {
    pub source_pub_key: PubKey,
    pub total_amount_msat: u64,
    pub hops: Vec<McHop>,
}

/// Details of a failed attempt; both parts are optional (an empty failure means the
/// source could not be identified).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct McFailure {
    pub source_index: Option<u8>,
    /// The encoded wire failure message.
    pub message: Option<Vec<u8>>,
}

/// The outcome of one attempt. A result without failure is a success.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct McResult {
    pub id: u64,
    /// Unix nanoseconds when the HTLC was forwarded.
    pub time_forwarded_ns: i64,
    /// Unix nanoseconds when the reply came; results sort by it.
    pub time_reply_ns: i64,
    pub route: McRoute,
    pub failure: Option<McFailure>,
}

/// Length of a result's key: time of reply ‖ attempt id ‖ source public key.
pub const RESULT_KEY_LEN: usize = 8 + 8 + 33;

/// A result's key; big-endian, so keys sort chronologically.
pub type ResultKey = [u8; RESULT_KEY_LEN];

impl McResult {
    pub fn key(&self) -> ResultKey {
        let mut key = [0u8; RESULT_KEY_LEN];
        key[..8].copy_from_slice(&(self.time_reply_ns as u64).to_be_bytes());
        key[8..16].copy_from_slice(&self.id.to_be_bytes());
        key[16..].copy_from_slice(&self.route.source_pub_key);
        key
    }

    /// Times are stored unsigned (lnd's encoding): negative ones cannot be represented.
    pub fn validate(&self) -> Result<()> {
        if self.time_forwarded_ns < 0 || self.time_reply_ns < 0 {
            return Err(Error::invalid(format!(
                "result {}: negative time (forwarded {}, reply {})",
                self.id, self.time_forwarded_ns, self.time_reply_ns
            )));
        }
        Ok(())
    }
}
