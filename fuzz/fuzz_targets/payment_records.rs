//! Every decoder of stored payment records. The first byte picks the record kind, the
//! rest is the stored value. A decoder must return Ok or Err (never panic); whatever
//! decodes must survive encode → decode unchanged, and re-encoding must be stable.
//!
//! Kind 4 assembles a whole payment from several records (creation info, then attempts
//! with optional settle/fail records) and derives its status, as a read of the store
//! does: corrupt combinations must be errors, not panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnpaystore::codec::{
    decode_attempt, decode_creation, decode_fail, decode_settle, encode_attempt, encode_creation,
    encode_fail, encode_settle,
};
use lnpaystore::{FailureReason, HtlcAttempt, Payment};

/// decode → encode → decode gives the same value, and the encoding is a fixed point.
macro_rules! round_trip {
    ($data:expr, $decode:path, $encode:path) => {
        if let Ok(value) = $decode($data) {
            let encoded = $encode(&value);
            let again = $decode(&encoded).expect("an encoding we wrote must decode");
            assert_eq!(again, value, "decode(encode(v)) != v");
            assert_eq!($encode(&again), encoded, "encoding is not stable");
        }
    };
}

/// Splits `data` into records, each prefixed by a two-byte big-endian length (cut
/// short at the end of the input).
fn split(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 2);
        let (record, tail) = data[2..].split_at(len);
        out.push(record);
        data = tail;
    }
    out
}

fn assemble(data: &[u8]) {
    let records = split(data);
    let Some((&creation, rest)) = records.split_first() else {
        return;
    };
    let Ok(info) = decode_creation(creation) else {
        return;
    };
    // Each attempt takes three records: info, settle (empty = none), fail (empty = none).
    let mut htlcs = Vec::new();
    for chunk in rest.chunks(3) {
        let Ok(attempt) = decode_attempt(chunk[0]) else {
            return;
        };
        let outcome = |i: usize| chunk.get(i).copied().filter(|r| !r.is_empty());
        let settle = match outcome(1).map(decode_settle).transpose() {
            Ok(s) => s,
            Err(_) => return,
        };
        let failure = match outcome(2).map(decode_fail).transpose() {
            Ok(f) => f,
            Err(_) => return,
        };
        htlcs.push(HtlcAttempt {
            info: attempt,
            settle,
            failure,
        });
    }
    // The failure reason (or none) comes from the creation record's length.
    let reason = FailureReason::try_from((creation.len() % 8) as u8).ok();
    if let Ok(payment) = Payment::from_parts(1, [7; 32], info, htlcs, reason) {
        assert!(payment.sent_amt() <= payment.info.value_msat);
        // Inconsistent states are errors, never panics.
        let _ = payment.need_wait_attempts();
        let _ = payment.allow_more_attempts();
        let _ = payment.registrable();
        let _ = payment.updatable();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, record)) = data.split_first() else {
        return;
    };
    match kind % 5 {
        0 => round_trip!(record, decode_creation, encode_creation),
        1 => round_trip!(record, decode_attempt, encode_attempt),
        2 => round_trip!(record, decode_settle, encode_settle),
        3 => round_trip!(record, decode_fail, encode_fail),
        _ => assemble(record),
    }
});
