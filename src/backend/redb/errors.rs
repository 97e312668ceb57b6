//! How redb's errors (and the log's I/O errors) become the crate's.

use crate::error::Error;

/// Maps any redb error (they all convert into `redb::Error`) to ours.
pub(super) fn map_err(e: impl Into<redb::Error>) -> Error {
    match e.into() {
        redb::Error::DatabaseAlreadyOpen => {
            Error::Locked("the store file is open in another process or handle".into())
        }
        redb::Error::Corrupted(m) => Error::Corrupt(m),
        redb::Error::UpgradeRequired(v) => Error::Corrupt(format!(
            "not an lnpaystore store: a file format this library does not read ({v})"
        )),
        // redb reports a foreign or damaged file header as invalid data, and a file cut
        // short as an unexpected end.
        redb::Error::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            match e.to_string() {
                // The file header: no database of the engine's at all.
                m if m.starts_with("Not a redb database") => {
                    Error::corrupt("not an lnpaystore store (or its header is damaged)")
                }
                m => Error::Corrupt(m),
            }
        }
        redb::Error::Io(e) => Error::Io(e.to_string()),
        redb::Error::PreviousIo => Error::Io("an earlier I/O error; reopen the store".into()),
        redb::Error::DatabaseClosed => Error::Closed,
        // Our tables always have one layout: another one was read from damaged pages.
        e @ (redb::Error::TableTypeMismatch { .. }
        | redb::Error::TableIsMultimap(_)
        | redb::Error::TableIsNotMultimap(_)
        | redb::Error::TypeDefinitionChanged { .. }) => Error::Corrupt(e.to_string()),
        // Only an earlier panic (caught, on a damaged file) poisons these.
        e @ (redb::Error::LockPoisoned(_) | redb::Error::TransactionPoisoned) => {
            Error::Corrupt(format!("after an earlier failure on a damaged file: {e}"))
        }
        redb::Error::ValueTooLarge(n) => Error::invalid(format!("value of {n} bytes is too large")),
        e => Error::Internal(e.to_string()),
    }
}

/// A failed operation on the write-ahead log file.
pub(super) fn log_error(what: &str, e: std::io::Error) -> Error {
    Error::Io(format!("write-ahead log: cannot {what}: {e}"))
}
