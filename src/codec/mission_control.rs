//! lnd's encoding of mission-control results (docs/behaviour.md, Mission control): the same
//! result gives the same bytes as lnd's `missioncontrol_store.go`.
//!
//! Value: a TLV stream — 0 time forwarded (u64 BE), 1 time of reply (u64 BE), 2 route
//! (nested: 0 source key, 1 total amount BigSize, 2 hops = BigSize count then each hop
//! as BigSize length + nested TLV: 0 channel id u64 BE, 1 key, 2 amount BigSize,
//! 3 has-blinding-point flag, 4 has-custom-records flag), 3 failure (nested: 0 source
//! index u8, 1 message), present only for failures.

use super::bytes::Reader;
use super::tlv::{write_bigsize, Record, Stream, Writer};
use crate::error::{Error, Result};
use crate::model::{McFailure, McHop, McResult, McRoute, ResultKey, RESULT_KEY_LEN};

fn bigsize_value(v: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    write_bigsize(&mut out, v);
    out
}

fn encode_hop(h: &McHop) -> Vec<u8> {
    let mut w = Writer::new();
    w.record(0, &h.channel_id.to_be_bytes())
        .record(1, &h.pub_key)
        .record(2, &bigsize_value(h.amt_to_forward_msat))
        .flag(3, h.has_blinding_point)
        .flag(4, h.has_custom_records);
    w.finish()
}

fn encode_route(r: &McRoute) -> Vec<u8> {
    let mut hops = Vec::new();
    write_bigsize(&mut hops, r.hops.len() as u64);
    for hop in &r.hops {
        let hop = encode_hop(hop);
        write_bigsize(&mut hops, hop.len() as u64);
        hops.extend_from_slice(&hop);
    }
    let mut w = Writer::new();
    w.record(0, &r.source_pub_key)
        .record(1, &bigsize_value(r.total_amount_msat))
        .record(2, &hops);
    w.finish()
}

fn encode_failure(f: &McFailure) -> Vec<u8> {
    let mut w = Writer::new();
    if let Some(index) = f.source_index {
        w.record(0, &[index]);
    }
    if let Some(message) = &f.message {
        w.record(1, message);
    }
    w.finish()
}

/// The stored value of a result (its key is `McResult::key`).
pub fn encode_mc_result(r: &McResult) -> Vec<u8> {
    let mut w = Writer::new();
    w.record(0, &(r.time_forwarded_ns as u64).to_be_bytes())
        .record(1, &(r.time_reply_ns as u64).to_be_bytes())
        .record(2, &encode_route(&r.route));
    if let Some(failure) = &r.failure {
        w.record(3, &encode_failure(failure));
    }
    w.finish()
}

/// A record whose whole value is one canonical BigSize.
fn bigsize_record(s: &Stream<'_>, rec: &Record<'_>) -> Result<u64> {
    let mut r = Reader::new(rec.value, "mission-control amount");
    let v = r.bigsize()?;
    if !r.is_empty() {
        return Err(s.error(format!("TLV type {} has trailing bytes", rec.ty)));
    }
    Ok(v)
}

fn time(s: &Stream<'_>, rec: &Record<'_>) -> Result<i64> {
    let t = u64::from_be_bytes(s.fixed::<8>(rec)?);
    i64::try_from(t).map_err(|_| s.error(format!("time {t} is out of range")))
}

fn decode_hop(buf: &[u8]) -> Result<McHop> {
    let mut s = Stream::new(buf, "mission-control hop");
    let mut hop = McHop::default();
    while let Some(rec) = s.next_record()? {
        match rec.ty {
            0 => hop.channel_id = u64::from_be_bytes(s.fixed::<8>(&rec)?),
            1 => hop.pub_key = s.fixed::<33>(&rec)?,
            2 => hop.amt_to_forward_msat = bigsize_record(&s, &rec)?,
            3 => hop.has_blinding_point = s.flag(&rec)?,
            4 => hop.has_custom_records = s.flag(&rec)?,
            ty => s.unknown(ty)?,
        }
    }
    Ok(hop)
}

fn decode_hops(buf: &[u8]) -> Result<Vec<McHop>> {
    let mut r = Reader::new(buf, "mission-control hops");
    let count = r.bigsize()?;
    // Each hop takes at least one length byte: a larger count is corrupt, and checking
    // first keeps a corrupt count from reserving memory.
    if count > r.remaining().len() as u64 {
        return Err(r.error(format!("{count} hops cannot fit in the record")));
    }
    let hops = (0..count)
        .map(|_| decode_hop(r.var_bytes()?))
        .collect::<Result<Vec<_>>>()?;
    if !r.is_empty() {
        return Err(r.error("trailing bytes after the last hop"));
    }
    Ok(hops)
}

fn decode_route(buf: &[u8]) -> Result<McRoute> {
    let mut s = Stream::new(buf, "mission-control route");
    let mut route = McRoute::default();
    while let Some(rec) = s.next_record()? {
        match rec.ty {
            0 => route.source_pub_key = s.fixed::<33>(&rec)?,
            1 => route.total_amount_msat = bigsize_record(&s, &rec)?,
            2 => route.hops = decode_hops(rec.value)?,
            ty => s.unknown(ty)?,
        }
    }
    Ok(route)
}

fn decode_failure(buf: &[u8]) -> Result<McFailure> {
    let mut s = Stream::new(buf, "mission-control failure");
    let mut failure = McFailure::default();
    while let Some(rec) = s.next_record()? {
        match rec.ty {
            0 => failure.source_index = Some(s.fixed::<1>(&rec)?[0]),
            1 => failure.message = Some(rec.value.to_vec()),
            ty => s.unknown(ty)?,
        }
    }
    Ok(failure)
}

/// Decodes a stored result; the attempt id comes from the key. Records missing from
/// the value read as zero, as in lnd.
pub fn decode_mc_result(key: &[u8], value: &[u8]) -> Result<McResult> {
    let key: ResultKey = key.try_into().map_err(|_| {
        Error::corrupt(format!(
            "mission-control key has {} bytes, expected {RESULT_KEY_LEN}",
            key.len()
        ))
    })?;
    let mut id = [0u8; 8];
    id.copy_from_slice(&key[8..16]);
    let mut result = McResult {
        id: u64::from_be_bytes(id),
        ..McResult::default()
    };
    let mut s = Stream::new(value, "mission-control result");
    while let Some(rec) = s.next_record()? {
        match rec.ty {
            0 => result.time_forwarded_ns = time(&s, &rec)?,
            1 => result.time_reply_ns = time(&s, &rec)?,
            2 => result.route = decode_route(rec.value)?,
            3 => result.failure = Some(decode_failure(rec.value)?),
            ty => s.unknown(ty)?,
        }
    }
    Ok(result)
}
