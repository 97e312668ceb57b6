//! The crate's single error type and its mapping to the stable status numbers of API.md.

/// Stable status numbers shared by the Rust API, the C ABI and the bindings.
///
/// Values never change once published; new codes get new numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LpsStatus {
    Ok = 0,
    NullArgument = 1,
    InvalidArgument = 2,
    Io = 3,
    Corrupt = 4,
    Locked = 5,
    Version = 6,
    Closed = 7,
    Timeout = 8,
    EndOfStream = 9,
    Internal = 10,
    PaymentExists = 100,
    PaymentInFlight = 101,
    AlreadyPaid = 102,
    PaymentNotInitiated = 103,
    PaymentAlreadySucceeded = 104,
    PaymentAlreadyFailed = 105,
    PaymentPendingSettled = 106,
    PaymentPendingFailed = 107,
    AttemptNotFound = 108,
    AttemptExists = 109,
    AttemptAlreadySettled = 110,
    AttemptAlreadyFailed = 111,
    ValueMismatch = 112,
    ValueExceedsAmt = 113,
    NonMpPayment = 114,
    MpPayment = 115,
    MppPaymentAddrMismatch = 116,
    MppTotalAmountMismatch = 117,
    MppRecordInBlindedPayment = 118,
    BlindedTotalAmountMismatch = 119,
    MixedBlindedAndNonBlinded = 120,
    BlindedMissingTotalAmount = 121,
    SentExceedsTotal = 122,
    PreimageMismatch = 123,
}

impl LpsStatus {
    /// Every status, in number order.
    pub(crate) const ALL: [LpsStatus; 35] = [
        LpsStatus::Ok,
        LpsStatus::NullArgument,
        LpsStatus::InvalidArgument,
        LpsStatus::Io,
        LpsStatus::Corrupt,
        LpsStatus::Locked,
        LpsStatus::Version,
        LpsStatus::Closed,
        LpsStatus::Timeout,
        LpsStatus::EndOfStream,
        LpsStatus::Internal,
        LpsStatus::PaymentExists,
        LpsStatus::PaymentInFlight,
        LpsStatus::AlreadyPaid,
        LpsStatus::PaymentNotInitiated,
        LpsStatus::PaymentAlreadySucceeded,
        LpsStatus::PaymentAlreadyFailed,
        LpsStatus::PaymentPendingSettled,
        LpsStatus::PaymentPendingFailed,
        LpsStatus::AttemptNotFound,
        LpsStatus::AttemptExists,
        LpsStatus::AttemptAlreadySettled,
        LpsStatus::AttemptAlreadyFailed,
        LpsStatus::ValueMismatch,
        LpsStatus::ValueExceedsAmt,
        LpsStatus::NonMpPayment,
        LpsStatus::MpPayment,
        LpsStatus::MppPaymentAddrMismatch,
        LpsStatus::MppTotalAmountMismatch,
        LpsStatus::MppRecordInBlindedPayment,
        LpsStatus::BlindedTotalAmountMismatch,
        LpsStatus::MixedBlindedAndNonBlinded,
        LpsStatus::BlindedMissingTotalAmount,
        LpsStatus::SentExceedsTotal,
        LpsStatus::PreimageMismatch,
    ];

    /// The status with this number, if there is one.
    pub fn from_code(code: i64) -> Option<LpsStatus> {
        LpsStatus::ALL.into_iter().find(|s| *s as i64 == code)
    }

    /// The constant's name as written in API.md.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().unwrap_or("LPS_STATUS_UNKNOWN")
    }

    /// The constant's name as a static C string.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        use LpsStatus::*;
        match self {
            Ok => c"LPS_STATUS_OK",
            NullArgument => c"LPS_STATUS_NULL_ARGUMENT",
            InvalidArgument => c"LPS_STATUS_INVALID_ARGUMENT",
            Io => c"LPS_STATUS_IO",
            Corrupt => c"LPS_STATUS_CORRUPT",
            Locked => c"LPS_STATUS_LOCKED",
            Version => c"LPS_STATUS_VERSION",
            Closed => c"LPS_STATUS_CLOSED",
            Timeout => c"LPS_STATUS_TIMEOUT",
            EndOfStream => c"LPS_STATUS_END_OF_STREAM",
            Internal => c"LPS_STATUS_INTERNAL",
            PaymentExists => c"LPS_STATUS_PAYMENT_EXISTS",
            PaymentInFlight => c"LPS_STATUS_PAYMENT_IN_FLIGHT",
            AlreadyPaid => c"LPS_STATUS_ALREADY_PAID",
            PaymentNotInitiated => c"LPS_STATUS_PAYMENT_NOT_INITIATED",
            PaymentAlreadySucceeded => c"LPS_STATUS_PAYMENT_ALREADY_SUCCEEDED",
            PaymentAlreadyFailed => c"LPS_STATUS_PAYMENT_ALREADY_FAILED",
            PaymentPendingSettled => c"LPS_STATUS_PAYMENT_PENDING_SETTLED",
            PaymentPendingFailed => c"LPS_STATUS_PAYMENT_PENDING_FAILED",
            AttemptNotFound => c"LPS_STATUS_ATTEMPT_NOT_FOUND",
            AttemptExists => c"LPS_STATUS_ATTEMPT_EXISTS",
            AttemptAlreadySettled => c"LPS_STATUS_ATTEMPT_ALREADY_SETTLED",
            AttemptAlreadyFailed => c"LPS_STATUS_ATTEMPT_ALREADY_FAILED",
            ValueMismatch => c"LPS_STATUS_VALUE_MISMATCH",
            ValueExceedsAmt => c"LPS_STATUS_VALUE_EXCEEDS_AMT",
            NonMpPayment => c"LPS_STATUS_NON_MP_PAYMENT",
            MpPayment => c"LPS_STATUS_MP_PAYMENT",
            MppPaymentAddrMismatch => c"LPS_STATUS_MPP_PAYMENT_ADDR_MISMATCH",
            MppTotalAmountMismatch => c"LPS_STATUS_MPP_TOTAL_AMOUNT_MISMATCH",
            MppRecordInBlindedPayment => c"LPS_STATUS_MPP_RECORD_IN_BLINDED_PAYMENT",
            BlindedTotalAmountMismatch => c"LPS_STATUS_BLINDED_TOTAL_AMOUNT_MISMATCH",
            MixedBlindedAndNonBlinded => c"LPS_STATUS_MIXED_BLINDED_AND_NON_BLINDED",
            BlindedMissingTotalAmount => c"LPS_STATUS_BLINDED_MISSING_TOTAL_AMOUNT",
            SentExceedsTotal => c"LPS_STATUS_SENT_EXCEEDS_TOTAL",
            PreimageMismatch => c"LPS_STATUS_PREIMAGE_MISMATCH",
        }
    }
}

/// Every failure of the library. Domain errors leave the store unchanged; storage errors
/// (`Io`, `Corrupt`, `Internal`) abort the transaction they happened in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("a required pointer was NULL: {0}")]
    NullArgument(&'static str),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("I/O error: {0}")]
    Io(String),
    #[error("corrupt store: {0}")]
    Corrupt(String),
    #[error("the store file is open in another process or handle")]
    Locked,
    #[error(
        "the store has schema version {found}, newer than the {supported} this library supports"
    )]
    Version { found: u64, supported: u64 },
    #[error("the handle was closed")]
    Closed,
    #[error("timed out waiting for the next event")]
    Timeout,
    #[error("the subscription has ended or was closed")]
    EndOfStream,
    #[error("internal error: {0}")]
    Internal(String),
    #[error("payment already initiated")]
    PaymentExists,
    #[error("payment is in flight")]
    PaymentInFlight,
    #[error("payment already succeeded: paying its hash again would lose money")]
    AlreadyPaid,
    #[error("payment not initiated")]
    PaymentNotInitiated,
    #[error("payment already succeeded")]
    PaymentAlreadySucceeded,
    #[error("payment already failed")]
    PaymentAlreadyFailed,
    #[error("payment has a settled attempt: no new attempts")]
    PaymentPendingSettled,
    #[error("payment has a failure reason: no new attempts")]
    PaymentPendingFailed,
    #[error("attempt {0} not found")]
    AttemptNotFound(u64),
    #[error("attempt {0} already exists")]
    AttemptExists(u64),
    #[error("attempt {0} already settled")]
    AttemptAlreadySettled(u64),
    #[error("attempt {0} already failed")]
    AttemptAlreadyFailed(u64),
    #[error("non-MPP attempt amount {amount} differs from payment value {value}")]
    ValueMismatch { amount: u64, value: u64 },
    #[error("attempt would send {attempted} msat in total, more than the payment value {value}")]
    ValueExceedsAmt { attempted: u64, value: u64 },
    #[error("MPP attempt on a non-MPP payment")]
    NonMpPayment,
    #[error("non-MPP attempt on an MPP payment")]
    MpPayment,
    #[error("MPP payment address differs from the in-flight attempts'")]
    MppPaymentAddrMismatch,
    #[error("MPP total amount differs from the in-flight attempts'")]
    MppTotalAmountMismatch,
    #[error("MPP record in a blinded payment")]
    MppRecordInBlindedPayment,
    #[error("blinded total amount differs from the in-flight attempts'")]
    BlindedTotalAmountMismatch,
    #[error("blinded and non-blinded attempts cannot mix")]
    MixedBlindedAndNonBlinded,
    #[error("blinded final hop without total amount")]
    BlindedMissingTotalAmount,
    #[error("stored attempts send {sent} msat, more than the payment value {value}")]
    SentExceedsTotal { sent: u64, value: u64 },
    #[error("SHA-256 of the preimage does not match the attempt's hash")]
    PreimageMismatch,
}

impl Error {
    /// The stable status number of this error (the one place this mapping lives).
    pub fn status(&self) -> LpsStatus {
        use LpsStatus as S;
        match self {
            Error::NullArgument(_) => S::NullArgument,
            Error::InvalidArgument(_) => S::InvalidArgument,
            Error::Io(_) => S::Io,
            Error::Corrupt(_) => S::Corrupt,
            Error::Locked => S::Locked,
            Error::Version { .. } => S::Version,
            Error::Closed => S::Closed,
            Error::Timeout => S::Timeout,
            Error::EndOfStream => S::EndOfStream,
            Error::Internal(_) => S::Internal,
            Error::PaymentExists => S::PaymentExists,
            Error::PaymentInFlight => S::PaymentInFlight,
            Error::AlreadyPaid => S::AlreadyPaid,
            Error::PaymentNotInitiated => S::PaymentNotInitiated,
            Error::PaymentAlreadySucceeded => S::PaymentAlreadySucceeded,
            Error::PaymentAlreadyFailed => S::PaymentAlreadyFailed,
            Error::PaymentPendingSettled => S::PaymentPendingSettled,
            Error::PaymentPendingFailed => S::PaymentPendingFailed,
            Error::AttemptNotFound(_) => S::AttemptNotFound,
            Error::AttemptExists(_) => S::AttemptExists,
            Error::AttemptAlreadySettled(_) => S::AttemptAlreadySettled,
            Error::AttemptAlreadyFailed(_) => S::AttemptAlreadyFailed,
            Error::ValueMismatch { .. } => S::ValueMismatch,
            Error::ValueExceedsAmt { .. } => S::ValueExceedsAmt,
            Error::NonMpPayment => S::NonMpPayment,
            Error::MpPayment => S::MpPayment,
            Error::MppPaymentAddrMismatch => S::MppPaymentAddrMismatch,
            Error::MppTotalAmountMismatch => S::MppTotalAmountMismatch,
            Error::MppRecordInBlindedPayment => S::MppRecordInBlindedPayment,
            Error::BlindedTotalAmountMismatch => S::BlindedTotalAmountMismatch,
            Error::MixedBlindedAndNonBlinded => S::MixedBlindedAndNonBlinded,
            Error::BlindedMissingTotalAmount => S::BlindedMissingTotalAmount,
            Error::SentExceedsTotal { .. } => S::SentExceedsTotal,
            Error::PreimageMismatch => S::PreimageMismatch,
        }
    }

    /// Storage errors abort the whole transaction; every other error is a domain answer
    /// given before the operation wrote anything.
    pub fn is_storage(&self) -> bool {
        matches!(
            self,
            Error::Io(_) | Error::Corrupt(_) | Error::Internal(_) | Error::Closed
        )
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidArgument(msg.into())
    }

    pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
        Error::Corrupt(msg.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
