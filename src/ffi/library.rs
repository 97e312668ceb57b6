//! Library-wide exports: versions, status names, the last error.

use std::ffi::{c_char, c_int};

use super::boundary;
use crate::error::LpsStatus;

/// Version of this C ABI. Bindings compare it with `lps_abi_version()` at load time; it
/// changes whenever a published function, struct or status number would change meaning.
pub const LPS_ABI_VERSION: u32 = 1;

/// The ABI version of the loaded library; equals `LPS_ABI_VERSION` of the header it was
/// built with. Thread-safe.
#[no_mangle]
pub extern "C" fn lps_abi_version() -> u32 {
    LPS_ABI_VERSION
}

/// The crate version, as a static NUL-terminated string. Thread-safe.
#[no_mangle]
pub extern "C" fn lps_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The status constant's name (e.g. "LPS_STATUS_ALREADY_PAID") as a static string;
/// "LPS_STATUS_UNKNOWN" for a value that is not a status. Thread-safe.
#[no_mangle]
pub extern "C" fn lps_status_name(status: c_int) -> *const c_char {
    // Taken as an int: a C caller may pass any value, and an out-of-range Rust enum
    // would be undefined behaviour. The header spells the parameter `LpsStatus`.
    LpsStatus::from_code(i64::from(status))
        .map_or(c"LPS_STATUS_UNKNOWN", LpsStatus::c_name)
        .as_ptr()
}

/// Message of the last failed call on this OS thread ("" when that call succeeded).
/// The pointer stays valid until this thread's next call into the library (other than
/// `lps_last_error` itself).
#[no_mangle]
pub extern "C" fn lps_last_error() -> *const c_char {
    boundary::last_error_ptr()
}
