//! PostgreSQL failures in the crate's terms: which status an error gets, and which
//! errors a transaction may simply retry.

use postgres::error::SqlState;

use crate::error::Error;

/// Serialization failures and deadlocks: the transaction changed nothing and may run
/// again (after the caller's reset hook).
pub fn is_retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// The connection is gone (closed, reset, server shut down or the backend terminated):
/// whatever was in flight on it has an unknown outcome.
pub fn is_connection_lost(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // No server answer at all: an I/O error on the socket.
        None => e.as_db_error().is_none(),
        Some(c) => {
            let code = c.code();
            // Class 08 (connection exception), 57P01-57P03 (admin shutdown, crash
            // shutdown, cannot connect now).
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
        }
    }
}

/// The crate's error for a failed PostgreSQL call; `context` says what was being done
/// ("open: create the schema", "lease renewal"). Server errors keep their SQLSTATE so a
/// log line can be looked up.
pub fn storage(context: &str, e: &postgres::Error) -> Error {
    let message = match e.as_db_error() {
        Some(db) => format!(
            "{context}: {} (SQLSTATE {})",
            db.message(),
            db.code().code()
        ),
        // The crate's own message is short ("error serializing parameter 2"); its
        // source says what went wrong.
        None => match std::error::Error::source(e) {
            Some(why) => format!("{context}: {e}: {why}"),
            None => format!("{context}: {e}"),
        },
    };
    match e.code().map(|c| c.code()) {
        // Undefined table or column, wrong datatype: not the schema this library wrote.
        Some(c) if c.starts_with("42") && c != "42501" => Error::Corrupt(message),
        _ => Error::Io(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_is_io_and_lost() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let e = postgres::Config::new()
            .host("127.0.0.1")
            .port(1)
            .user("nobody")
            .connect(postgres::NoTls)
            .err()
            .expect("nothing listens on port 1");
        assert!(is_connection_lost(&e));
        assert!(!is_retryable(&e));
        assert!(
            matches!(storage("open", &e), Error::Io(m) if m.starts_with("open: ")),
            "{e}"
        );
    }
}
