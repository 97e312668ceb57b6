//! The shared TLV codec: BigSize integers, `Stream` iteration and nested custom records.
//! The first byte picks the entry point, the rest is the encoded input.
//!
//! Properties beyond "never panics": BOLT #1 encodings are canonical (minimal BigSize,
//! strictly increasing types, exact lengths), so anything that decodes re-encodes to
//! exactly the bytes it was read from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lnpaystore::codec::tlv::{
    bigsize_len, decode_custom_records, encode_custom_records, read_bigsize, write_bigsize, Stream,
    Writer,
};
use lnpaystore::codec::Reader;

/// Reads BigSizes until the input ends or one is rejected; each accepted value must be
/// the canonical encoding of the bytes it consumed.
fn bigsizes(data: &[u8]) {
    let mut r = Reader::new(data, "fuzz bigsize");
    while !r.is_empty() {
        let before = r.remaining();
        let Ok(v) = read_bigsize(&mut r) else {
            return;
        };
        let used = before.len() - r.remaining().len();
        assert_eq!(used, bigsize_len(v), "BigSize {v} read from {used} bytes");
        let mut out = Vec::new();
        write_bigsize(&mut out, v);
        assert_eq!(out, before[..used], "BigSize {v} is not canonical");
    }
}

/// Iterates a stream with the reader helpers used by the record decoders; whatever the
/// stream accepts is re-written by `Writer` to the same bytes.
fn stream(data: &[u8]) {
    let mut s = Stream::new(data, "fuzz stream");
    let mut w = Writer::new();
    let mut last = None;
    loop {
        match s.next_record() {
            Ok(Some(rec)) => {
                assert!(last.is_none_or(|l| l < rec.ty), "types must increase");
                last = Some(rec.ty);
                // The typed accessors: each either fits or reports an error.
                let _ = s.fixed::<1>(&rec);
                let _ = s.fixed::<8>(&rec);
                let _ = s.fixed::<33>(&rec);
                if let Ok(set) = s.flag(&rec) {
                    assert!(set && rec.value.is_empty());
                }
                let _ = s.unknown(rec.ty);
                let mut nested = Reader::new(rec.value, "fuzz value");
                let _ = nested.var_bytes();
                let _ = nested.u64();
                w.record(rec.ty, rec.value);
            }
            Ok(None) => {
                assert_eq!(w.finish(), data, "stream did not re-encode to its bytes");
                return;
            }
            Err(_) => return,
        }
    }
}

fn custom_records(data: &[u8]) {
    if let Ok(records) = decode_custom_records(data) {
        assert_eq!(
            encode_custom_records(&records),
            data,
            "custom records round trip"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, input)) = data.split_first() else {
        return;
    };
    match kind % 3 {
        0 => bigsizes(input),
        1 => stream(input),
        _ => custom_records(input),
    }
});
