//! Mission-control result encoding: byte vectors worked out by hand from docs/behaviour.md
//! (Mission control) (lnd's encoding), rejections, and round trips.

use lnpaystore::codec::{decode_mc_result, encode_mc_result};
use lnpaystore::{Error, McFailure, McHop, McResult, McRoute};
use proptest::prelude::*;

fn rep(byte: u8, n: usize) -> Vec<u8> {
    vec![byte; n]
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// time forwarded 1000 ns, time_reply 2000 ns, source key 02…, 1100 msat, the given hops.
fn result(hops: Vec<McHop>, failure: Option<McFailure>) -> McResult {
    McResult {
        id: 7,
        time_forwarded_ns: 1000,
        time_reply_ns: 2000,
        route: McRoute {
            source_pub_key: [0x02; 33],
            total_amount_msat: 1100,
            hops,
        },
        failure,
    }
}

fn hop(flags: bool) -> McHop {
    McHop {
        channel_id: 5,
        pub_key: [0x03; 33],
        amt_to_forward_msat: 1000,
        has_blinding_point: flags,
        has_custom_records: flags,
    }
}

/// Records 0 and 1: 8-byte big-endian times.
fn times() -> Vec<u8> {
    cat(&[
        &[0x00, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0xe8],
        &[0x01, 0x08, 0, 0, 0, 0, 0, 0, 0x07, 0xd0],
    ])
}

/// Hop TLV: 0 channel id (8 bytes), 1 key (33), 2 amount 1000 as BigSize fd 03e8.
fn hop_bytes(flags: bool) -> Vec<u8> {
    let mut h = cat(&[
        &[0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x05],
        &[0x01, 0x21],
        &rep(0x03, 33),
        &[0x02, 0x03, 0xfd, 0x03, 0xe8],
    ]);
    if flags {
        h.extend_from_slice(&[0x03, 0x00, 0x04, 0x00]);
    }
    h
}

/// Route record (type 2): 0 source key, 1 amount 1100 = fd 044c, 2 hops.
fn route_record(hops: &[Vec<u8>]) -> Vec<u8> {
    let mut hops_value = vec![hops.len() as u8];
    for h in hops {
        hops_value.push(h.len() as u8);
        hops_value.extend_from_slice(h);
    }
    let route = cat(&[
        &[0x00, 0x21],
        &rep(0x02, 33),
        &[0x01, 0x03, 0xfd, 0x04, 0x4c],
        &[0x02, hops_value.len() as u8],
        &hops_value,
    ]);
    cat(&[&[0x02, route.len() as u8], &route])
}

#[test]
fn success_with_one_hop() {
    let expected = cat(&[&times(), &route_record(&[hop_bytes(false)])]);
    // Spelled out: the route record is 94 bytes, its hop 50.
    assert_eq!(expected.len(), 10 + 10 + 2 + 94);
    assert_eq!(&expected[20..22], &[0x02, 0x5e]);
    assert_eq!(&expected[62..66], &[0x02, 0x34, 0x01, 0x32]);
    let r = result(vec![hop(false)], None);
    assert_eq!(encode_mc_result(&r), expected);
    assert_eq!(decode_mc_result(&r.key(), &expected).unwrap(), r);
}

#[test]
fn failure_with_source_index_and_message() {
    let failure = [
        0x03, 0x09, 0x00, 0x01, 0x02, 0x01, 0x04, 0xde, 0xad, 0xbe, 0xef,
    ];
    let expected = cat(&[&times(), &route_record(&[hop_bytes(false)]), &failure]);
    let r = result(
        vec![hop(false)],
        Some(McFailure {
            source_index: Some(2),
            message: Some(vec![0xde, 0xad, 0xbe, 0xef]),
        }),
    );
    assert_eq!(encode_mc_result(&r), expected);
    assert_eq!(decode_mc_result(&r.key(), &expected).unwrap(), r);
}

#[test]
fn failure_with_neither_source_nor_message() {
    let expected = cat(&[&times(), &route_record(&[]), &[0x03, 0x00]]);
    // No hops: the hops record is just the count 0.
    assert_eq!(&expected[20..22], &[0x02, 0x2b]);
    let r = result(vec![], Some(McFailure::default()));
    assert_eq!(encode_mc_result(&r), expected);
    assert_eq!(decode_mc_result(&r.key(), &expected).unwrap(), r);
}

#[test]
fn hop_with_blinding_and_custom_record_flags() {
    let expected = cat(&[&times(), &route_record(&[hop_bytes(true)])]);
    let r = result(vec![hop(true)], None);
    assert_eq!(encode_mc_result(&r), expected);
    assert_eq!(decode_mc_result(&r.key(), &expected).unwrap(), r);
}

#[test]
fn the_key_is_reply_time_then_id_then_source() {
    let r = result(vec![], None);
    let key = r.key();
    assert_eq!(&key[..8], &[0, 0, 0, 0, 0, 0, 0x07, 0xd0]);
    assert_eq!(&key[8..16], &[0, 0, 0, 0, 0, 0, 0, 7]);
    assert_eq!(&key[16..], &[0x02; 33]);
}

#[test]
fn unknown_odd_types_are_skipped() {
    let r = result(vec![hop(false)], None);
    let mut bytes = encode_mc_result(&r);
    bytes.extend_from_slice(&[0x05, 0x02, 0xaa, 0xbb]);
    assert_eq!(decode_mc_result(&r.key(), &bytes).unwrap(), r);
}

fn is_corrupt(key: &[u8], bytes: &[u8]) -> bool {
    matches!(decode_mc_result(key, bytes), Err(Error::Corrupt(_)))
}

#[test]
fn unknown_even_types_are_rejected() {
    let r = result(vec![], None);
    let mut bytes = encode_mc_result(&r);
    bytes.extend_from_slice(&[0x04, 0x00]);
    assert!(is_corrupt(&r.key(), &bytes));
}

#[test]
fn truncated_streams_are_rejected() {
    let r = result(vec![hop(true)], Some(McFailure::default()));
    let bytes = encode_mc_result(&r);
    // Top-level records end at 10 (time forwarded), 20 (time of reply), 22 + route
    // length (route) and at the end (failure). A cut there leaves a shorter valid stream
    // (missing records read as zero, as in lnd); every cut inside a record is caught.
    let route_end = 22 + bytes[21] as usize;
    let boundaries = [10, 20, route_end];
    for cut in (1..bytes.len()).filter(|c| !boundaries.contains(c)) {
        assert!(is_corrupt(&r.key(), &bytes[..cut]), "cut at {cut}");
    }
}

#[test]
fn non_canonical_bigsize_is_rejected() {
    // Amount 1100 written as fe 0000044c instead of fd 044c.
    let route = cat(&[
        &[0x00, 0x21],
        &rep(0x02, 33),
        &[0x01, 0x05, 0xfe, 0x00, 0x00, 0x04, 0x4c],
        &[0x02, 0x01, 0x00],
    ]);
    let bytes = cat(&[&times(), &[0x02, route.len() as u8], &route]);
    assert!(is_corrupt(&result(vec![], None).key(), &bytes));
}

#[test]
fn wrong_lengths_are_rejected() {
    let r = result(vec![], None);
    // An 8-byte time given 7 bytes.
    assert!(is_corrupt(&r.key(), &[0x00, 0x07, 0, 0, 0, 0, 0, 0, 0]));
    // A key that is not 49 bytes.
    assert!(is_corrupt(&r.key()[..48], &encode_mc_result(&r)));
    // A hop count larger than the record.
    let route = cat(&[&[0x02, 0x02, 0x05, 0x00]]);
    assert!(is_corrupt(
        &r.key(),
        &cat(&[&times(), &[0x02, 0x04], &route])
    ));
}

fn arb_hop() -> impl Strategy<Value = McHop> {
    (
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(channel_id, k, amt, blinding, custom)| {
            let mut pub_key = [0x02; 33];
            pub_key[1..].copy_from_slice(&k);
            McHop {
                channel_id,
                pub_key,
                amt_to_forward_msat: amt,
                has_blinding_point: blinding,
                has_custom_records: custom,
            }
        })
}

fn arb_result() -> impl Strategy<Value = McResult> {
    let failure = prop::option::of(
        (
            prop::option::of(any::<u8>()),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..300)),
        )
            .prop_map(|(source_index, message)| McFailure {
                source_index,
                message,
            }),
    );
    (
        any::<u64>(),
        0..i64::MAX,
        0..i64::MAX,
        any::<u64>(),
        prop::collection::vec(arb_hop(), 0..25),
        failure,
    )
        .prop_map(|(id, fwd, reply, amount, hops, failure)| McResult {
            id,
            time_forwarded_ns: fwd,
            time_reply_ns: reply,
            route: McRoute {
                source_pub_key: [0x03; 33],
                total_amount_msat: amount,
                hops,
            },
            failure,
        })
}

proptest! {
    #[test]
    fn results_round_trip(r in arb_result()) {
        let bytes = encode_mc_result(&r);
        prop_assert_eq!(decode_mc_result(&r.key(), &bytes).unwrap(), r);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        key in prop::collection::vec(any::<u8>(), 49),
        bytes in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let _ = decode_mc_result(&key, &bytes);
    }

    #[test]
    fn single_byte_flips_never_panic(r in arb_result(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = encode_mc_result(&r);
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let _ = decode_mc_result(&r.key(), &bytes);
    }
}
