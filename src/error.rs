//! The crate's single error type and the stable status numbers it maps to.

/// Stable status numbers shared by the Rust API, the C ABI and the bindings.
///
/// Values never change once published; new codes get new numbers. This enum is the one
/// list of codes: the header, `lps_status_name`, the `Error` mapping and the Go and Python
/// tables are all generated from it (docs/c-api.md, "Adding a status code").
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LpsStatus {
    /// Success.
    Ok = 0,
    /// A required pointer was NULL.
    NullArgument = 1,
    /// Malformed input (bad length, enum value, UTF-8, empty route, ...).
    InvalidArgument = 2,
    /// Operating-system I/O failure.
    Io = 3,
    /// The file or a record is corrupt.
    Corrupt = 4,
    /// The file is open elsewhere, or another writer holds the database's writer lease.
    Locked = 5,
    /// The file has a newer schema version.
    Version = 6,
    /// The handle was closed.
    Closed = 7,
    /// `lps_subscription_next` timed out.
    Timeout = 8,
    /// The subscription has ended or was closed.
    EndOfStream = 9,
    /// A bug or a caught panic.
    Internal = 10,
    /// The handle belongs to the process this one was forked from; nothing was done.
    Forked = 11,
    /// The writer lease of a shared database was lost (or never held): reopen the store.
    NotLeader = 12,
    /// A change to a store opened read-only.
    ReadOnly = 13,
    /// Init: the payment is already initiated.
    PaymentExists = 100,
    /// Init or delete: the payment is in flight.
    PaymentInFlight = 101,
    /// Init: the payment already succeeded (paying its hash again would lose money).
    AlreadyPaid = 102,
    /// No such payment.
    PaymentNotInitiated = 103,
    /// An update of a succeeded payment.
    PaymentAlreadySucceeded = 104,
    /// An update of a failed payment.
    PaymentAlreadyFailed = 105,
    /// Register: an attempt already settled.
    PaymentPendingSettled = 106,
    /// Register: the payment has a failure reason.
    PaymentPendingFailed = 107,
    /// No such attempt id.
    AttemptNotFound = 108,
    /// Register: the attempt id is already used.
    AttemptExists = 109,
    /// Settle or fail: the attempt already settled.
    AttemptAlreadySettled = 110,
    /// Settle or fail: the attempt already failed.
    AttemptAlreadyFailed = 111,
    /// A non-MPP attempt's amount differs from the payment value.
    ValueMismatch = 112,
    /// The attempt would overpay.
    ValueExceedsAmt = 113,
    /// An MPP attempt on a non-MPP payment.
    NonMpPayment = 114,
    /// A non-MPP attempt on an MPP payment.
    MpPayment = 115,
    /// An MPP attempt's payment address differs from the in-flight attempts'.
    MppPaymentAddrMismatch = 116,
    /// An MPP attempt's total differs from the in-flight attempts'.
    MppTotalAmountMismatch = 117,
    /// An MPP record in a blinded payment.
    MppRecordInBlindedPayment = 118,
    /// A blinded attempt's total differs from the in-flight attempts'.
    BlindedTotalAmountMismatch = 119,
    /// Blinded and non-blinded attempts cannot mix.
    MixedBlindedAndNonBlinded = 120,
    /// A blinded final hop without a total amount.
    BlindedMissingTotalAmount = 121,
    /// The stored attempts exceed the payment value (corruption guard).
    SentExceedsTotal = 122,
    /// SHA-256 of the preimage differs from the attempt's hash.
    PreimageMismatch = 123,
    /// Import: the sequence number already belongs to a payment.
    SequenceNumExists = 124,
}

// `ALL`, `from_code`, `c_name` and `Error::status`, derived from the enum above by
// tools/status_table.rs: a new status is one variant there (and its `Error` variant).
include!(concat!(env!("OUT_DIR"), "/status_table.rs"));

impl LpsStatus {
    /// The constant's name in the header (`"LPS_STATUS_ALREADY_PAID"`).
    pub fn name(self) -> &'static str {
        self.c_name().to_str().unwrap_or("LPS_STATUS_UNKNOWN")
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
    /// What holds the store: another handle or process (a file), or another writer's
    /// lease (a database).
    #[error("{0}")]
    Locked(String),
    #[error("{}", newer_schema(file, *found, *supported))]
    Version {
        found: u64,
        supported: u64,
        /// The store's path, once known ("" until then).
        file: String,
    },
    #[error("the handle was closed")]
    Closed,
    #[error("timed out waiting for the next event")]
    Timeout,
    #[error("the subscription has ended or was closed")]
    EndOfStream,
    #[error("internal error: {0}")]
    Internal(String),
    #[error(
        "the handle belongs to the process that opened it, not to this forked child: \
         nothing was done; open the store again in this process"
    )]
    Forked,
    #[error("not the database's writer any more: {0}; reopen the store")]
    NotLeader(String),
    #[error("the store is open read-only: {0} refused")]
    ReadOnly(&'static str),
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
    #[error("import: sequence number {0} already belongs to a payment")]
    SequenceNumExists(u64),
}

impl Error {
    /// Storage errors abort the whole transaction; every other error is a domain answer
    /// given before the operation wrote anything.
    pub fn is_storage(&self) -> bool {
        matches!(
            self,
            Error::Io(_)
                | Error::Corrupt(_)
                | Error::Internal(_)
                | Error::Closed
                | Error::NotLeader(_)
        )
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidArgument(msg.into())
    }

    pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
        Error::Corrupt(msg.into())
    }

    /// The error with the file it concerns named in its message (open errors), unless
    /// the message names it already.
    pub(crate) fn at(self, path: &std::path::Path) -> Error {
        let name = path.display().to_string();
        let locate = |m: String| match m.contains(&name) {
            true => m,
            false => format!("{name}: {m}"),
        };
        match self {
            Error::Io(m) => Error::Io(locate(m)),
            Error::Corrupt(m) => Error::Corrupt(locate(m)),
            Error::Internal(m) => Error::Internal(locate(m)),
            Error::Locked(m) => Error::Locked(locate(m)),
            Error::Version {
                found,
                supported,
                file,
            } if file.is_empty() => Error::Version {
                found,
                supported,
                file: name,
            },
            e => e,
        }
    }
}

fn newer_schema(file: &str, found: u64, supported: u64) -> String {
    let what = format!(
        "the store has schema version {found}, newer than the {supported} this library supports"
    );
    match file {
        "" => what,
        file => format!("{file}: {what}"),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
