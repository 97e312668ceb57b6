//! The one panic boundary every export goes through, and the thread-local last error.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{self, AssertUnwindSafe};

use crate::error::{Error, LpsStatus, Result};

thread_local! {
    /// The message of this thread's last failed call; "" after a successful one.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Runs an export's body: clears the last error, catches panics (→ `INTERNAL`) and
/// records the message of any failure. Every export calls this exactly once.
pub(crate) fn guard<T>(
    function: &'static str,
    body: impl FnOnce() -> Result<T>,
) -> Result<T, LpsStatus> {
    clear_last_error();
    let outcome = panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::Internal(format!("panic: {what}")))
    });
    outcome.map_err(|e| {
        set_last_error(format!("{function}: {e}"));
        e.status()
    })
}

/// `guard` for exports that return a status.
pub(crate) fn status(function: &'static str, body: impl FnOnce() -> Result<()>) -> LpsStatus {
    match guard(function, body) {
        Ok(()) => LpsStatus::Ok,
        Err(status) => status,
    }
}

/// Clears the last error without allocating (every call does this).
fn clear_last_error() {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        if !e.as_bytes().is_empty() {
            *e = CString::default();
        }
    });
}

fn set_last_error(message: String) {
    // Interior NULs cannot come from our messages, but never let one lose the text.
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// Pointer to this thread's last message; valid until this thread's next call.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}
