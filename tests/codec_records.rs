//! Record encodings: round-trips, robustness of the decoders against arbitrary and
//! truncated input, TLV tail rules (unknown odd skipped, unknown even rejected), the
//! version byte, and BigSize as BOLT #1 defines it.

use lnpaystore::codec::tlv::{self, Stream, Writer};
use lnpaystore::codec::{
    decode_attempt, decode_creation, decode_fail, decode_settle, encode_attempt, encode_creation,
    encode_fail, encode_settle, Reader, RECORD_VERSION,
};
use lnpaystore::{
    Amp, AttemptInfo, CreationInfo, CustomRecords, Error, FailInfo, Hop, HtlcFailReason, Mpp,
    Route, SettleInfo, MIN_CUSTOM_RECORD_TYPE,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn custom_records() -> impl Strategy<Value = CustomRecords> {
    btree_map(MIN_CUSTOM_RECORD_TYPE..=u64::MAX, bytes(40), 0..4)
}

fn mpp() -> impl Strategy<Value = Mpp> {
    (any::<[u8; 32]>(), any::<u64>()).prop_map(|(payment_addr, total_msat)| Mpp {
        payment_addr,
        total_msat,
    })
}

fn amp() -> impl Strategy<Value = Amp> {
    (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<u32>()).prop_map(
        |(root_share, set_id, child_index)| Amp {
            root_share,
            set_id,
            child_index,
        },
    )
}

/// Every optional field present or absent, every byte field empty or not.
fn hop() -> impl Strategy<Value = Hop> {
    let fixed = (
        any::<[u8; 33]>(),
        any::<u64>(),
        any::<u32>(),
        any::<u64>(),
        any::<bool>(),
    );
    let tail = (
        proptest::option::of(mpp()),
        proptest::option::of(amp()),
        bytes(80),
        proptest::option::of(any::<[u8; 33]>()),
        bytes(40),
        prop_oneof![Just(0u64), any::<u64>()],
        custom_records(),
    );
    (fixed, tail).prop_map(
        |(
            (pub_key, channel_id, outgoing_time_lock, amt_to_forward_msat, legacy_payload),
            (mpp, amp, encrypted_data, blinding_point, metadata, total_amt_msat, custom_records),
        )| Hop {
            pub_key,
            channel_id,
            outgoing_time_lock,
            amt_to_forward_msat,
            legacy_payload,
            mpp,
            amp,
            encrypted_data,
            blinding_point,
            metadata,
            total_amt_msat,
            custom_records,
        },
    )
}

fn route() -> impl Strategy<Value = Route> {
    (
        any::<u32>(),
        any::<u64>(),
        any::<[u8; 33]>(),
        vec(hop(), 0..6),
        prop_oneof![Just(0u64), any::<u64>()],
        custom_records(),
    )
        .prop_map(
            |(
                total_time_lock,
                total_amount_msat,
                source_pub_key,
                hops,
                first_hop_amount_msat,
                first_hop_wire_custom_records,
            )| Route {
                total_time_lock,
                total_amount_msat,
                source_pub_key,
                hops,
                first_hop_amount_msat,
                first_hop_wire_custom_records,
            },
        )
}

fn attempt_info() -> impl Strategy<Value = AttemptInfo> {
    (
        any::<u64>(),
        any::<[u8; 32]>(),
        route(),
        any::<i64>(),
        proptest::option::of(any::<[u8; 32]>()),
    )
        .prop_map(
            |(attempt_id, session_key, route, attempt_time_ns, hash)| AttemptInfo {
                attempt_id,
                session_key,
                route,
                attempt_time_ns,
                hash,
            },
        )
}

fn creation_info() -> impl Strategy<Value = CreationInfo> {
    (
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<i64>(),
        bytes(300),
        custom_records(),
    )
        .prop_map(
            |(payment_identifier, value_msat, creation_time_ns, payment_request, records)| {
                CreationInfo {
                    payment_identifier,
                    value_msat,
                    creation_time_ns,
                    payment_request,
                    first_hop_custom_records: records,
                }
            },
        )
}

fn settle_info() -> impl Strategy<Value = SettleInfo> {
    (any::<[u8; 32]>(), any::<i64>()).prop_map(|(preimage, settle_time_ns)| SettleInfo {
        preimage,
        settle_time_ns,
    })
}

fn fail_reason() -> impl Strategy<Value = HtlcFailReason> {
    prop_oneof![
        Just(HtlcFailReason::Unknown),
        Just(HtlcFailReason::Unreadable),
        Just(HtlcFailReason::Internal),
        Just(HtlcFailReason::Message),
    ]
}

fn fail_info() -> impl Strategy<Value = FailInfo> {
    (any::<i64>(), bytes(300), fail_reason(), any::<u32>()).prop_map(
        |(fail_time_ns, message, reason, failure_source_index)| FailInfo {
            fail_time_ns,
            message,
            reason,
            failure_source_index,
        },
    )
}

/// Arbitrary bytes, half of them behind a valid version byte so the decoders get past it.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        bytes(600),
        bytes(600).prop_map(|mut v| {
            v.insert(0, RECORD_VERSION);
            v
        }),
    ]
}

/// Byte positions and XOR masks to corrupt a valid encoding with.
fn flips() -> impl Strategy<Value = Vec<(prop::sample::Index, u8)>> {
    vec((any::<prop::sample::Index>(), 1..=255u8), 1..4)
}

fn corrupt(mut buf: Vec<u8>, flips: &[(prop::sample::Index, u8)]) -> Vec<u8> {
    for (at, mask) in flips {
        let i = at.index(buf.len());
        buf[i] ^= mask;
    }
    buf
}

// ---------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------

/// A decoder's answer to any input: a value that re-encodes to itself, or `Corrupt`
/// (docs/behaviour.md, Errors and bad input: a corrupt record gives CORRUPT). Never a
/// panic.
fn check_decoder<T: PartialEq + std::fmt::Debug>(
    buf: &[u8],
    decode: fn(&[u8]) -> lnpaystore::Result<T>,
    encode: fn(&T) -> Vec<u8>,
) -> Result<(), TestCaseError> {
    match decode(buf) {
        Ok(v) => {
            let again = decode(&encode(&v));
            prop_assert_eq!(again.as_ref(), Ok(&v), "decoded value does not round-trip");
        }
        Err(e) => prop_assert!(matches!(e, Error::Corrupt(_)), "not Corrupt: {:?}", e),
    }
    Ok(())
}

/// Offsets at which a top-level TLV record of `buf` ends, given where its tail starts.
fn tail_boundaries(buf: &[u8], tail_start: usize) -> Vec<usize> {
    let mut at = tail_start;
    let mut out = vec![at];
    let mut s = Stream::new(&buf[tail_start..], "tail");
    while let Some(rec) = s.next_record().expect("valid tail") {
        at += tlv::bigsize_len(rec.ty) + tlv::bigsize_len(rec.value.len() as u64) + rec.value.len();
        out.push(at);
    }
    assert_eq!(at, buf.len(), "tail ends the record");
    out
}

/// Every strict prefix of a valid encoding is rejected as `Corrupt` — except a prefix
/// ending exactly at a boundary between records of the top-level TLV tail: the format has
/// no end marker, so such a prefix may be a valid encoding of the value without its
/// trailing fields. It must never decode to the original value.
fn check_truncations<T: PartialEq + std::fmt::Debug>(
    value: &T,
    buf: &[u8],
    tail_start: usize,
    decode: fn(&[u8]) -> lnpaystore::Result<T>,
) -> Result<(), TestCaseError> {
    let boundaries = tail_boundaries(buf, tail_start);
    for len in 0..buf.len() {
        let res = decode(&buf[..len]);
        match res {
            Ok(v) => {
                prop_assert!(
                    boundaries.contains(&len),
                    "prefix {} of {} decodes: {:?}",
                    len,
                    buf.len(),
                    v
                );
                prop_assert_ne!(&v, value, "prefix {} decodes to the original", len);
            }
            Err(e) => prop_assert!(
                matches!(e, Error::Corrupt(_)),
                "prefix {}: not Corrupt: {:?}",
                len,
                e
            ),
        }
    }
    Ok(())
}

// Tail starts: the fixed part of each record. Creation: version, identifier, value, time.
const CREATION_TAIL: usize = 1 + 32 + 8 + 8;
// Fail: version, time, reason, source index.
const FAIL_TAIL: usize = 1 + 8 + 1 + 4;
// Settle: version, preimage, time (its tail is empty).
const SETTLE_LEN: usize = 1 + 32 + 8;

/// An attempt's tail starts where the encoding of the same attempt without a hash ends.
fn attempt_tail(a: &AttemptInfo) -> usize {
    encode_attempt(&AttemptInfo {
        hash: None,
        ..a.clone()
    })
    .len()
}

// ---------------------------------------------------------------------------------------
// Round-trips and robustness (proptest)
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn creation_round_trip(info in creation_info()) {
        let buf = encode_creation(&info);
        prop_assert_eq!(buf[0], RECORD_VERSION);
        prop_assert_eq!(decode_creation(&buf), Ok(info));
    }

    #[test]
    fn attempt_round_trip(a in attempt_info()) {
        let buf = encode_attempt(&a);
        prop_assert_eq!(buf[0], RECORD_VERSION);
        prop_assert_eq!(decode_attempt(&buf), Ok(a));
    }

    #[test]
    fn settle_round_trip(s in settle_info()) {
        let buf = encode_settle(&s);
        prop_assert_eq!(buf.len(), SETTLE_LEN);
        prop_assert_eq!(buf[0], RECORD_VERSION);
        prop_assert_eq!(decode_settle(&buf), Ok(s));
    }

    #[test]
    fn fail_round_trip(f in fail_info()) {
        let buf = encode_fail(&f);
        prop_assert_eq!(buf[0], RECORD_VERSION);
        prop_assert_eq!(decode_fail(&buf), Ok(f));
    }

    #[test]
    fn custom_records_round_trip(records in btree_map(any::<u64>(), bytes(40), 0..8)) {
        let buf = tlv::encode_custom_records(&records);
        prop_assert_eq!(tlv::decode_custom_records(&buf), Ok(records));
    }

    #[test]
    fn bigsize_round_trip(v in prop_oneof![
        any::<u64>(),
        0u64..=0x1_0001,
        0xffff_0000u64..=0x1_0000_ffff,
    ]) {
        let mut buf = Vec::new();
        tlv::write_bigsize(&mut buf, v);
        prop_assert_eq!(buf.len(), tlv::bigsize_len(v));
        buf.extend_from_slice(b"rest");
        let mut r = Reader::new(&buf, "bigsize");
        prop_assert_eq!(tlv::read_bigsize(&mut r), Ok(v));
        prop_assert_eq!(r.remaining(), b"rest");
    }

    #[test]
    fn decode_creation_never_panics(buf in garbage()) {
        check_decoder(&buf, decode_creation, encode_creation)?;
    }

    #[test]
    fn decode_attempt_never_panics(buf in garbage()) {
        check_decoder(&buf, decode_attempt, encode_attempt)?;
    }

    #[test]
    fn decode_settle_never_panics(buf in garbage()) {
        check_decoder(&buf, decode_settle, encode_settle)?;
    }

    #[test]
    fn decode_fail_never_panics(buf in garbage()) {
        check_decoder(&buf, decode_fail, encode_fail)?;
    }

    #[test]
    fn tlv_decoders_never_panic(buf in bytes(300)) {
        let mut r = Reader::new(&buf, "bigsize");
        let _ = tlv::read_bigsize(&mut r);
        let _ = tlv::decode_custom_records(&buf);
        let mut s = Stream::new(&buf, "stream");
        let mut last = None;
        // Ends: each call consumes at least one byte or returns None / Err.
        while let Ok(Some(rec)) = s.next_record() {
            prop_assert!(last.is_none_or(|l| l < rec.ty));
            last = Some(rec.ty);
        }
    }

    #[test]
    fn corrupted_creation_never_panics(info in creation_info(), f in flips()) {
        check_decoder(&corrupt(encode_creation(&info), &f), decode_creation, encode_creation)?;
    }

    #[test]
    fn corrupted_attempt_never_panics(a in attempt_info(), f in flips()) {
        check_decoder(&corrupt(encode_attempt(&a), &f), decode_attempt, encode_attempt)?;
    }

    #[test]
    fn corrupted_settle_never_panics(s in settle_info(), f in flips()) {
        check_decoder(&corrupt(encode_settle(&s), &f), decode_settle, encode_settle)?;
    }

    #[test]
    fn corrupted_fail_never_panics(info in fail_info(), f in flips()) {
        check_decoder(&corrupt(encode_fail(&info), &f), decode_fail, encode_fail)?;
    }

    #[test]
    fn creation_truncations(info in creation_info()) {
        let buf = encode_creation(&info);
        check_truncations(&info, &buf, CREATION_TAIL, decode_creation)?;
    }

    #[test]
    fn attempt_truncations(a in attempt_info()) {
        let buf = encode_attempt(&a);
        check_truncations(&a, &buf, attempt_tail(&a), decode_attempt)?;
    }

    #[test]
    fn settle_truncations(s in settle_info()) {
        let buf = encode_settle(&s);
        check_truncations(&s, &buf, SETTLE_LEN, decode_settle)?;
    }

    #[test]
    fn fail_truncations(f in fail_info()) {
        let buf = encode_fail(&f);
        check_truncations(&f, &buf, FAIL_TAIL, decode_fail)?;
    }

    #[test]
    fn unknown_odd_tail_types_are_skipped(
        info in creation_info(),
        a in attempt_info(),
        s in settle_info(),
        f in fail_info(),
        ty in (1u64 << 20..u64::MAX / 2).prop_map(|t| 2 * t + 1),
        value in bytes(40),
    ) {
        // Types above every known one, odd: a newer writer's optional field.
        let record = tlv_record(ty, &value);
        prop_assert_eq!(decode_creation(&[encode_creation(&info), record.clone()].concat()), Ok(info));
        prop_assert_eq!(decode_attempt(&[encode_attempt(&a), record.clone()].concat()), Ok(a));
        prop_assert_eq!(decode_settle(&[encode_settle(&s), record.clone()].concat()), Ok(s));
        prop_assert_eq!(decode_fail(&[encode_fail(&f), record].concat()), Ok(f));
    }

    #[test]
    fn unknown_even_tail_types_are_rejected(
        info in creation_info(),
        a in attempt_info(),
        s in settle_info(),
        f in fail_info(),
        ty in (1u64 << 20..u64::MAX / 2).prop_map(|t| 2 * t),
        value in bytes(40),
    ) {
        let record = tlv_record(ty, &value);
        prop_assert!(is_corrupt(decode_creation(&[encode_creation(&info), record.clone()].concat())));
        prop_assert!(is_corrupt(decode_attempt(&[encode_attempt(&a), record.clone()].concat())));
        prop_assert!(is_corrupt(decode_settle(&[encode_settle(&s), record.clone()].concat())));
        prop_assert!(is_corrupt(decode_fail(&[encode_fail(&f), record].concat())));
    }
}

fn tlv_record(ty: u64, value: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.record(ty, value);
    w.finish()
}

fn is_corrupt<T>(res: lnpaystore::Result<T>) -> bool {
    matches!(res, Err(Error::Corrupt(_)))
}

// ---------------------------------------------------------------------------------------
// TLV tails: fixed examples
// ---------------------------------------------------------------------------------------

fn sample_hop() -> Hop {
    Hop {
        pub_key: [3; 33],
        channel_id: 0x0102_0304_0506_0708,
        outgoing_time_lock: 144,
        amt_to_forward_msat: 1_000,
        ..Hop::default()
    }
}

fn sample_attempt() -> AttemptInfo {
    AttemptInfo {
        attempt_id: 9,
        session_key: [4; 32],
        route: Route {
            total_time_lock: 200,
            total_amount_msat: 1_010,
            source_pub_key: [2; 33],
            hops: vec![sample_hop()],
            ..Route::default()
        },
        attempt_time_ns: 77,
        hash: None,
    }
}

fn sample_creation() -> CreationInfo {
    CreationInfo {
        payment_identifier: [1; 32],
        value_msat: 1_000,
        creation_time_ns: 5,
        payment_request: b"lnbc".to_vec(),
        first_hop_custom_records: [(65_537u64, vec![1, 2])].into_iter().collect(),
    }
}

fn sample_fail() -> FailInfo {
    FailInfo {
        fail_time_ns: 8,
        message: vec![0x10, 0x07],
        reason: HtlcFailReason::Message,
        failure_source_index: 2,
    }
}

#[test]
fn unknown_odd_types_skipped_unknown_even_rejected() {
    // Just above the known types of each tail, plus a multi-byte type.
    let info = sample_creation();
    let enc = encode_creation(&info);
    for ty in [3u64, 5, 0xfd, 0x1_0001] {
        let buf = [enc.clone(), tlv_record(ty, b"new")].concat();
        assert_eq!(
            decode_creation(&buf),
            Ok(info.clone()),
            "creation type {ty}"
        );
    }
    for ty in [4u64, 6, 0xfe, 0x1_0000] {
        let buf = [enc.clone(), tlv_record(ty, b"new")].concat();
        assert!(is_corrupt(decode_creation(&buf)), "creation type {ty}");
    }

    let mut a = sample_attempt();
    a.hash = Some([6; 32]);
    let enc = encode_attempt(&a);
    assert_eq!(
        decode_attempt(&[enc.clone(), tlv_record(1, b"")].concat()),
        Ok(a.clone())
    );
    assert!(is_corrupt(decode_attempt(
        &[enc, tlv_record(2, b"")].concat()
    )));

    let s = SettleInfo {
        preimage: [9; 32],
        settle_time_ns: 3,
    };
    let enc = encode_settle(&s);
    assert_eq!(
        decode_settle(&[enc.clone(), tlv_record(1, b"x")].concat()),
        Ok(s)
    );
    assert!(is_corrupt(decode_settle(
        &[enc, tlv_record(0, b"x")].concat()
    )));

    let f = sample_fail();
    let enc = encode_fail(&f);
    assert_eq!(
        decode_fail(&[enc.clone(), tlv_record(1, b"x")].concat()),
        Ok(f.clone())
    );
    assert!(is_corrupt(decode_fail(
        &[enc, tlv_record(2, b"x")].concat()
    )));
}

#[test]
fn unknown_types_between_known_ones() {
    // An odd type between known ones is skipped in place; an even one is rejected.
    let mut info = sample_creation();
    info.first_hop_custom_records.clear();
    let base = encode_creation(&info);
    let odd = [base.clone(), tlv_record(1, b"zz")].concat();
    assert_eq!(decode_creation(&odd), Ok(info.clone()));
    let with_records = {
        let mut w = Writer::append_to(base.clone());
        w.record(1, b"zz");
        w.record(
            2,
            &tlv::encode_custom_records(&[(70_000u64, vec![7])].into_iter().collect()),
        );
        w.finish()
    };
    let mut expected = info.clone();
    expected.first_hop_custom_records = [(70_000u64, vec![7])].into_iter().collect();
    assert_eq!(decode_creation(&with_records), Ok(expected));
}

#[test]
fn tail_types_out_of_order_or_repeated_are_rejected() {
    let mut info = sample_creation();
    info.first_hop_custom_records.clear();
    let enc = encode_creation(&info); // tail: {0: "lnbc"}
    assert!(is_corrupt(decode_creation(
        &[enc.clone(), tlv_record(0, b"again")].concat()
    )));
    let mut f = sample_fail();
    f.message.clear();
    let enc = encode_fail(&f); // empty tail
    let buf = [enc, tlv_record(1, b"x"), tlv_record(0, b"msg")].concat();
    assert!(is_corrupt(decode_fail(&buf)));
}

/// Layout of `sample_attempt()`'s encoding, to reach its nested hop and route tails.
/// The test checks each assumption so a layout change fails here, clearly.
const HOP_LEN_AT: usize = 1 + 8 + 32 + 8 + 4 + 8 + 33 + 8 + 1;
const HOP_FIXED: usize = 33 + 8 + 4 + 8;

#[test]
fn nested_hop_and_route_tails() {
    let a = sample_attempt();
    let enc = encode_attempt(&a);
    assert_eq!(enc[HOP_LEN_AT - 1], 1, "hop count");
    assert_eq!(usize::from(enc[HOP_LEN_AT]), HOP_FIXED, "hop length");
    let route_tail_at = HOP_LEN_AT + 1 + HOP_FIXED;
    assert_eq!(enc[route_tail_at], 0, "empty route tail");
    assert_eq!(enc.len(), route_tail_at + 1, "empty attempt tail");

    // An extra record in the hop's own tail.
    let with_hop_record = |ty: u64| {
        let rec = tlv_record(ty, b"hop");
        let mut buf = enc.clone();
        buf[HOP_LEN_AT] += rec.len() as u8;
        buf.splice(route_tail_at..route_tail_at, rec);
        buf
    };
    assert_eq!(decode_attempt(&with_hop_record(15)), Ok(a.clone()));
    assert_eq!(decode_attempt(&with_hop_record(0xfd_01)), Ok(a.clone()));
    assert!(is_corrupt(decode_attempt(&with_hop_record(16))));
    assert!(is_corrupt(decode_attempt(&with_hop_record(0xfd_00))));

    // An extra record in the route's tail.
    let with_route_record = |ty: u64| {
        let rec = tlv_record(ty, b"route");
        let mut buf = enc.clone();
        buf[route_tail_at] = rec.len() as u8;
        buf.extend_from_slice(&rec);
        buf
    };
    assert_eq!(decode_attempt(&with_route_record(1)), Ok(a.clone()));
    assert!(is_corrupt(decode_attempt(&with_route_record(2))));

    // A hop count larger than the bytes can hold is corruption, not an allocation.
    let mut buf = enc.clone();
    buf.splice(HOP_LEN_AT - 1..HOP_LEN_AT, [0xff; 9]);
    assert!(is_corrupt(decode_attempt(&buf)));
}

#[test]
fn hop_fields_with_wrong_lengths_are_rejected() {
    let mut hop = sample_hop();
    hop.mpp = Some(Mpp {
        payment_addr: [5; 32],
        total_msat: 1_000,
    });
    hop.legacy_payload = true;
    let mut a = sample_attempt();
    a.route.hops = vec![hop];
    let enc = encode_attempt(&a);
    assert_eq!(decode_attempt(&enc), Ok(a.clone()));
    // Layout: hop tail starts with {0: flag (len 0)}, {2: mpp (len 40)}.
    let hop_tail_at = HOP_LEN_AT + 1 + HOP_FIXED;
    assert_eq!(&enc[hop_tail_at..hop_tail_at + 4], &[0, 0, 2, 40]);
    // A flag with a value.
    let mut buf = enc.clone();
    buf[hop_tail_at + 1] = 1;
    buf.insert(hop_tail_at + 2, 0xaa);
    buf[HOP_LEN_AT] += 1;
    assert!(is_corrupt(decode_attempt(&buf)));
    // An MPP record one byte short.
    let mut buf = enc.clone();
    buf[hop_tail_at + 3] = 39;
    buf.remove(hop_tail_at + 4);
    buf[HOP_LEN_AT] -= 1;
    assert!(is_corrupt(decode_attempt(&buf)));
}

/// Whether a decoder rejects the bytes as corrupt.
type Rejects = fn(&[u8]) -> bool;

#[test]
fn wrong_version_byte_is_rejected() {
    let mut a = sample_attempt();
    a.hash = Some([1; 32]);
    let encodings: [(Vec<u8>, Rejects); 4] = [
        (encode_creation(&sample_creation()), |b| {
            is_corrupt(decode_creation(b))
        }),
        (encode_attempt(&a), |b| is_corrupt(decode_attempt(b))),
        (
            encode_settle(&SettleInfo {
                preimage: [2; 32],
                settle_time_ns: 1,
            }),
            |b| is_corrupt(decode_settle(b)),
        ),
        (encode_fail(&sample_fail()), |b| is_corrupt(decode_fail(b))),
    ];
    for (enc, rejected) in encodings {
        assert_eq!(enc[0], RECORD_VERSION);
        assert!(!rejected(&enc));
        for v in [0u8, RECORD_VERSION + 1, 0x7f, 0xff] {
            let mut buf = enc.clone();
            buf[0] = v;
            assert!(rejected(&buf), "version {v}");
        }
    }
    // Empty input is not a record either.
    assert!(is_corrupt(decode_creation(&[])));
    assert!(is_corrupt(decode_attempt(&[])));
    assert!(is_corrupt(decode_settle(&[])));
    assert!(is_corrupt(decode_fail(&[])));
}

#[test]
fn fail_reason_out_of_range_is_corrupt() {
    let enc = encode_fail(&sample_fail());
    for reason in [4u8, 5, 0xff] {
        let mut buf = enc.clone();
        buf[1 + 8] = reason;
        assert!(is_corrupt(decode_fail(&buf)), "reason {reason}");
    }
}

#[test]
fn trailing_garbage_is_rejected() {
    // Bytes after the last record that do not form a TLV record.
    let enc = encode_settle(&SettleInfo::default());
    assert!(is_corrupt(decode_settle(&[enc.clone(), vec![1]].concat())));
    assert!(is_corrupt(decode_settle(&[enc, vec![1, 5, 0]].concat())));
}

// ---------------------------------------------------------------------------------------
// BigSize (BOLT #1)
// ---------------------------------------------------------------------------------------

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn read_all(buf: &[u8]) -> lnpaystore::Result<u64> {
    let mut r = Reader::new(buf, "bigsize");
    let v = tlv::read_bigsize(&mut r)?;
    assert!(r.is_empty(), "read_bigsize left {:?}", r.remaining());
    Ok(v)
}

#[test]
fn bigsize_bolt1_vectors() {
    // BOLT #1, Appendix A: BigSize decoding and encoding tests.
    let vectors: [(u64, &str); 9] = [
        (0, "00"),
        (0xfc, "fc"),
        (0xfd, "fd00fd"),
        (0xffff, "fdffff"),
        (0x1_0000, "fe00010000"),
        (0xffff_ffff, "feffffffff"),
        (0x1_0000_0000, "ff0000000100000000"),
        (u64::MAX, "ffffffffffffffffff"),
        (0x1234, "fd1234"),
    ];
    for (v, bytes) in vectors {
        let expected = hex(bytes);
        let mut buf = Vec::new();
        tlv::write_bigsize(&mut buf, v);
        assert_eq!(buf, expected, "encode {v:#x}");
        assert_eq!(tlv::bigsize_len(v), expected.len(), "len {v:#x}");
        assert_eq!(read_all(&expected), Ok(v), "decode {bytes}");
    }
    // write_bigsize appends.
    let mut buf = vec![0xaa];
    tlv::write_bigsize(&mut buf, 0xfd);
    assert_eq!(buf, [0xaa, 0xfd, 0x00, 0xfd]);
}

#[test]
fn bigsize_non_canonical_rejected() {
    for bytes in [
        "fd00fc",
        "fd0000",
        "fe0000ffff",
        "fe00000000",
        "ff00000000ffffffff",
        "ff0000000000000000",
        "ff00000000000000fc",
    ] {
        let res = read_all(&hex(bytes));
        assert!(is_corrupt(res.clone()), "{bytes}: {res:?}");
    }
}

#[test]
fn bigsize_truncated_rejected() {
    for bytes in [
        "",
        "fd",
        "fd00",
        "fe",
        "feffff",
        "feffffff",
        "ff",
        "ffffffffff",
        "ffffffffffffffff",
    ] {
        let buf = hex(bytes);
        let mut r = Reader::new(&buf, "bigsize");
        let res = tlv::read_bigsize(&mut r);
        assert!(is_corrupt(res.clone()), "{bytes:?}: {res:?}");
    }
}

// ---------------------------------------------------------------------------------------
// TLV streams
// ---------------------------------------------------------------------------------------

fn types_of(buf: &[u8]) -> lnpaystore::Result<Vec<(u64, Vec<u8>)>> {
    let mut s = Stream::new(buf, "stream");
    let mut out = Vec::new();
    while let Some(rec) = s.next_record()? {
        out.push((rec.ty, rec.value.to_vec()));
    }
    Ok(out)
}

#[test]
fn stream_reads_increasing_types() {
    let mut w = Writer::new();
    w.record(0, b"a")
        .flag(1, true)
        .flag(2, false)
        .non_empty(3, b"")
        .non_empty(4, b"bb")
        .record(0xfd, b"")
        .record(u64::MAX, b"z");
    let buf = w.finish();
    assert_eq!(
        types_of(&buf),
        Ok(vec![
            (0, b"a".to_vec()),
            (1, vec![]),
            (4, b"bb".to_vec()),
            (0xfd, vec![]),
            (u64::MAX, b"z".to_vec()),
        ])
    );
    assert_eq!(types_of(&[]), Ok(vec![]));
}

#[test]
fn stream_rejects_out_of_order_types() {
    // {2: ""} then {1: ""}.
    assert!(is_corrupt(types_of(&hex("02000100"))));
    // {0xfd: ""} then {0xfc: ""}.
    assert!(is_corrupt(types_of(&hex("fd00fd00fc00"))));
    // The first record is returned, the second is the error.
    let buf = hex("0201aa0100");
    let mut s = Stream::new(&buf, "stream");
    let first = s.next_record().unwrap().unwrap();
    assert_eq!((first.ty, first.value), (2, &[0xaa][..]));
    assert!(is_corrupt(s.next_record()));
}

#[test]
fn stream_rejects_repeated_types() {
    assert!(is_corrupt(types_of(&hex("01000100"))));
    // {0: ""} then {0: 01}.
    assert!(is_corrupt(types_of(&hex("0000000101"))));
    // A repeated custom record type is corruption, not "last one wins".
    assert!(is_corrupt(tlv::decode_custom_records(&hex(
        "fe000100000101fe000100000102"
    ))));
}

#[test]
fn stream_rejects_bad_lengths_and_types() {
    // Length past the end.
    assert!(is_corrupt(types_of(&hex("0105aabb"))));
    // Type or length cut short, or non-canonical.
    assert!(is_corrupt(types_of(&hex("fd00"))));
    assert!(is_corrupt(types_of(&hex("01"))));
    assert!(is_corrupt(types_of(&hex("fd00fc00"))));
    assert!(is_corrupt(types_of(&hex("01fd0001aa"))));
    // A huge length must not allocate or panic.
    assert!(is_corrupt(types_of(&hex("01ffffffffffffffffff"))));
}

#[test]
fn stream_unknown_and_fixed_helpers() {
    let buf = hex("0100");
    let mut s = Stream::new(&buf, "stream");
    let rec = s.next_record().unwrap().unwrap();
    assert_eq!(s.unknown(1), Ok(()));
    assert_eq!(s.unknown(u64::MAX), Ok(()));
    assert!(is_corrupt(s.unknown(0)));
    assert!(is_corrupt(s.unknown(u64::MAX - 1)));
    assert_eq!(s.flag(&rec), Ok(true));
    assert_eq!(s.fixed::<0>(&rec), Ok([]));
    assert!(is_corrupt(s.fixed::<1>(&rec)));
    assert!(matches!(s.next_record(), Ok(None)));
}

#[test]
fn custom_records_encoding_is_bolt_tlv() {
    let records: CustomRecords = [(65_536u64, vec![1, 2]), (u64::MAX, vec![])]
        .into_iter()
        .collect();
    assert_eq!(
        tlv::encode_custom_records(&records),
        hex("fe00010000020102ffffffffffffffffff00")
    );
    assert_eq!(tlv::encode_custom_records(&CustomRecords::new()), vec![]);
}
