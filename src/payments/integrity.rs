//! The store's consistency check, shared by the engines: what a report says and how a
//! violation reads. Each engine cross-checks its own indexes and counters against the
//! payments (the invariants every transition keeps in one transaction). Used by the
//! crash tests after each kill, and available to operators.

use super::query::PaymentCounts;
use crate::error::{Error, Result};

/// What a successful check saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IntegrityReport {
    pub payments: u64,
    pub in_flight_index: u64,
}

pub fn violation(msg: impl std::fmt::Display) -> Error {
    Error::corrupt(format!("integrity check: {msg}"))
}

/// The stored per-status counters equal the statuses derived from the payments.
pub fn check_counters(stored: PaymentCounts, derived: PaymentCounts) -> Result<()> {
    if stored != derived {
        return Err(violation(format!(
            "counters {stored:?} differ from the payments {derived:?}"
        )));
    }
    Ok(())
}
