//! The mission-control result decoder (lnd's TLV encoding, docs/behaviour.md, Mission
//! control) on arbitrary rows.
//!
//! Input: one byte choosing the key length (even: the real 49 bytes; odd: byte / 2,
//! so wrong lengths are tried too), the key, then the stored value. A decode must
//! return Ok or Err; a decoded result must survive encode → decode under its own key,
//! and its encoding must be stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnpaystore::codec::{decode_mc_result, encode_mc_result};
use lnpaystore::RESULT_KEY_LEN;

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let key_len = match shape % 2 {
        0 => RESULT_KEY_LEN,
        _ => usize::from(shape / 2),
    }
    .min(rest.len());
    let (key, value) = rest.split_at(key_len);
    let Ok(result) = decode_mc_result(key, value) else {
        return;
    };
    assert!(
        result.validate().is_ok(),
        "decoded times must be representable"
    );
    assert_eq!(key.len(), RESULT_KEY_LEN);
    assert_eq!(
        result.id.to_be_bytes(),
        key[8..16],
        "the attempt id comes from the key"
    );

    let encoded = encode_mc_result(&result);
    let again = decode_mc_result(&result.key(), &encoded).expect("our encoding decodes");
    assert_eq!(again, result, "decode(encode(r)) != r");
    assert_eq!(encode_mc_result(&again), encoded, "encoding is not stable");
});
