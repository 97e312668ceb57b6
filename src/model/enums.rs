//! The model's enums. Their numbers are stored in records and carried by C as
//! `uint8_t`: this is their one definition, and the header's `LpsPaymentStatus`,
//! `LpsFailureReason` and `LpsHtlcFailReason` are generated from it.

use crate::error::{Error, Result};

/// Payment status, derived from the attempts and the failure reason
/// (docs/behaviour.md, "Status").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PaymentStatus {
    Initiated = 1,
    InFlight = 2,
    Succeeded = 3,
    Failed = 4,
}

impl PaymentStatus {
    /// SUCCEEDED and FAILED payments accept no further attempt updates.
    pub fn is_terminal(self) -> bool {
        matches!(self, PaymentStatus::Succeeded | PaymentStatus::Failed)
    }
}

/// Why the router gave up on a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FailureReason {
    Timeout = 0,
    NoRoute = 1,
    Error = 2,
    IncorrectPaymentDetails = 3,
    InsufficientBalance = 4,
    Canceled = 5,
}

/// Why one HTLC attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HtlcFailReason {
    Unknown = 0,
    Unreadable = 1,
    Internal = 2,
    Message = 3,
}

/// The variant of `all` whose number is `v`; `what` names the field in the error.
fn from_u8<T: Copy + Into<u8>>(all: &[T], v: u8, what: &str) -> Result<T> {
    all.iter()
        .copied()
        .find(|e| (*e).into() == v)
        .ok_or_else(|| {
            let (lo, hi) = (all[0].into(), all[all.len() - 1].into());
            Error::invalid(format!("{what} {v} out of range {lo}..={hi}"))
        })
}

/// Each enum's `ALL` (every variant, in number order) and its conversions from and to
/// `u8`. A macro, so that cbindgen leaves `ALL` out of the header; a test walks every
/// value of each header enum through `try_from`.
macro_rules! stable_enum {
    ($enum:ident, $what:literal, [$($variant:ident),*]) => {
        impl $enum {
            pub const ALL: [$enum; [$($enum::$variant),*].len()] = [$($enum::$variant),*];
        }

        impl From<$enum> for u8 {
            fn from(e: $enum) -> u8 {
                e as u8
            }
        }

        impl TryFrom<u8> for $enum {
            type Error = Error;
            fn try_from(v: u8) -> Result<Self> {
                from_u8(&$enum::ALL, v, $what)
            }
        }
    };
}

stable_enum!(
    PaymentStatus,
    "payment status",
    [Initiated, InFlight, Succeeded, Failed]
);
stable_enum!(
    FailureReason,
    "payment failure reason",
    [
        Timeout,
        NoRoute,
        Error,
        IncorrectPaymentDetails,
        InsufficientBalance,
        Canceled
    ]
);
stable_enum!(
    HtlcFailReason,
    "HTLC fail reason",
    [Unknown, Unreadable, Internal, Message]
);
