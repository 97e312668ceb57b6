//! Pure domain rules: the payment's types, status derivation, attempt validation.
//! No I/O lives here, so every backend shares these rules.

mod enums;
mod mission_control;
mod query;
mod status;
mod types;
mod validate;

pub use enums::{FailureReason, HtlcFailReason, PaymentStatus};
pub use mission_control::*;
pub use query::Query;
pub use status::{derive_state, DerivedState};
pub use types::*;
pub use validate::{
    check_operation_size, validate_attempt_shape, validate_creation_info, verify_attempt,
    verify_preimage, MAX_OPERATION_BYTES,
};
