//! Record encodings. Pure and fuzzable: decoders return errors, never panic.
//!
//! Every stored payment record starts with a version byte, then fixed-width fields, then a
//! TLV tail, so fields can be added without a migration (unknown odd types are skipped,
//! unknown even types are rejected).

mod bytes;
mod mission_control;
mod payment;
pub mod tlv;

pub use bytes::Reader;
pub use mission_control::{decode_mc_result, encode_mc_result};
pub use payment::{
    decode_attempt, decode_creation, decode_fail, decode_settle, encode_attempt, encode_creation,
    encode_fail, encode_settle, RECORD_VERSION,
};
