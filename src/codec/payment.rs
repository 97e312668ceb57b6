//! Encodings of the payment's records: creation info, attempt info (with its route),
//! settle info and fail info. Each is written once and never rewritten.

use super::bytes::Reader;
use super::tlv::{self, decode_custom_records, encode_custom_records, Stream, Writer};
use crate::error::Result;
use crate::model::{
    Amp, AttemptInfo, CreationInfo, FailInfo, Hop, HtlcFailReason, Mpp, Route, SettleInfo,
};

/// Version byte leading every payment record. A new version is only needed for changes a
/// TLV tail cannot express.
pub const RECORD_VERSION: u8 = 1;

fn start(capacity: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(capacity);
    buf.push(RECORD_VERSION);
    buf
}

fn check_version(r: &mut Reader<'_>) -> Result<()> {
    match r.u8()? {
        RECORD_VERSION => Ok(()),
        v => Err(r.error(format!("unknown record version {v}"))),
    }
}

/// Creation info: identifier, value, time, then tail {0: payment request, 2: first-hop
/// custom records}.
pub fn encode_creation(info: &CreationInfo) -> Vec<u8> {
    let mut buf = start(64 + info.payment_request.len());
    buf.extend_from_slice(&info.payment_identifier);
    buf.extend_from_slice(&info.value_msat.to_be_bytes());
    buf.extend_from_slice(&info.creation_time_ns.to_be_bytes());
    let mut w = Writer::append_to(buf);
    w.non_empty(0, &info.payment_request);
    if !info.first_hop_custom_records.is_empty() {
        w.record(2, &encode_custom_records(&info.first_hop_custom_records));
    }
    w.finish()
}

pub fn decode_creation(buf: &[u8]) -> Result<CreationInfo> {
    let mut r = Reader::new(buf, "creation info");
    check_version(&mut r)?;
    let mut info = CreationInfo {
        payment_identifier: r.array()?,
        value_msat: r.u64()?,
        creation_time_ns: r.i64()?,
        ..Default::default()
    };
    let mut s = Stream::new(r.remaining(), "creation info tail");
    while let Some(rec) = s.next_record()? {
        match rec.ty {
            0 => info.payment_request = rec.value.to_vec(),
            2 => info.first_hop_custom_records = decode_custom_records(rec.value)?,
            ty => s.unknown(ty)?,
        }
    }
    Ok(info)
}

fn encode_hop(hop: &Hop, out: &mut Vec<u8>) {
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(&hop.pub_key);
    buf.extend_from_slice(&hop.channel_id.to_be_bytes());
    buf.extend_from_slice(&hop.outgoing_time_lock.to_be_bytes());
    buf.extend_from_slice(&hop.amt_to_forward_msat.to_be_bytes());
    let mut w = Writer::append_to(buf);
    w.flag(0, hop.legacy_payload);
    if let Some(mpp) = &hop.mpp {
        let mut v = mpp.payment_addr.to_vec();
        v.extend_from_slice(&mpp.total_msat.to_be_bytes());
        w.record(2, &v);
    }
    if let Some(amp) = &hop.amp {
        let mut v = amp.root_share.to_vec();
        v.extend_from_slice(&amp.set_id);
        v.extend_from_slice(&amp.child_index.to_be_bytes());
        w.record(4, &v);
    }
    w.non_empty(6, &hop.encrypted_data);
    if let Some(bp) = &hop.blinding_point {
        w.record(8, bp);
    }
    w.non_empty(10, &hop.metadata);
    if hop.total_amt_msat != 0 {
        w.record(12, &hop.total_amt_msat.to_be_bytes());
    }
    if !hop.custom_records.is_empty() {
        w.record(14, &encode_custom_records(&hop.custom_records));
    }
    let hop_bytes = w.finish();
    tlv::write_bigsize(out, hop_bytes.len() as u64);
    out.extend_from_slice(&hop_bytes);
}

fn decode_hop(buf: &[u8]) -> Result<Hop> {
    let mut r = Reader::new(buf, "hop");
    let mut hop = Hop {
        pub_key: r.array()?,
        channel_id: r.u64()?,
        outgoing_time_lock: r.u32()?,
        amt_to_forward_msat: r.u64()?,
        ..Default::default()
    };
    let mut s = Stream::new(r.remaining(), "hop tail");
    while let Some(rec) = s.next_record()? {
        match rec.ty {
            0 => hop.legacy_payload = s.flag(&rec)?,
            2 => {
                let v: [u8; 40] = s.fixed(&rec)?;
                let mut r = Reader::new(&v, "mpp record");
                hop.mpp = Some(Mpp {
                    payment_addr: r.array()?,
                    total_msat: r.u64()?,
                });
            }
            4 => {
                let v: [u8; 68] = s.fixed(&rec)?;
                let mut r = Reader::new(&v, "amp record");
                hop.amp = Some(Amp {
                    root_share: r.array()?,
                    set_id: r.array()?,
                    child_index: r.u32()?,
                });
            }
            6 => hop.encrypted_data = rec.value.to_vec(),
            8 => hop.blinding_point = Some(s.fixed(&rec)?),
            10 => hop.metadata = rec.value.to_vec(),
            12 => hop.total_amt_msat = u64::from_be_bytes(s.fixed(&rec)?),
            14 => hop.custom_records = decode_custom_records(rec.value)?,
            ty => s.unknown(ty)?,
        }
    }
    Ok(hop)
}

fn encode_route(route: &Route, out: &mut Vec<u8>) {
    out.extend_from_slice(&route.total_time_lock.to_be_bytes());
    out.extend_from_slice(&route.total_amount_msat.to_be_bytes());
    out.extend_from_slice(&route.source_pub_key);
    out.extend_from_slice(&route.first_hop_amount_msat.to_be_bytes());
    tlv::write_bigsize(out, route.hops.len() as u64);
    for hop in &route.hops {
        encode_hop(hop, out);
    }
    let mut w = Writer::new();
    if !route.first_hop_wire_custom_records.is_empty() {
        w.record(
            0,
            &encode_custom_records(&route.first_hop_wire_custom_records),
        );
    }
    let tail = w.finish();
    tlv::write_bigsize(out, tail.len() as u64);
    out.extend_from_slice(&tail);
}

fn decode_route(r: &mut Reader<'_>) -> Result<Route> {
    let mut route = Route {
        total_time_lock: r.u32()?,
        total_amount_msat: r.u64()?,
        source_pub_key: r.array()?,
        first_hop_amount_msat: r.u64()?,
        ..Default::default()
    };
    let count = r.bigsize()?;
    // Each hop takes at least 53 bytes: a bigger count can only be corruption, and must
    // not make us reserve absurd memory.
    if count > (r.remaining().len() / 53) as u64 {
        return Err(r.error(format!("route claims {count} hops")));
    }
    route.hops.reserve(count as usize);
    for _ in 0..count {
        route.hops.push(decode_hop(r.var_bytes()?)?);
    }
    let mut s = Stream::new(r.var_bytes()?, "route tail");
    while let Some(rec) = s.next_record()? {
        match rec.ty {
            0 => route.first_hop_wire_custom_records = decode_custom_records(rec.value)?,
            ty => s.unknown(ty)?,
        }
    }
    Ok(route)
}

/// Attempt info: id, session key, time, route, then tail {0: attempt hash}.
pub fn encode_attempt(a: &AttemptInfo) -> Vec<u8> {
    let mut buf = start(128 + a.route.hops.len() * 80);
    buf.extend_from_slice(&a.attempt_id.to_be_bytes());
    buf.extend_from_slice(&a.session_key);
    buf.extend_from_slice(&a.attempt_time_ns.to_be_bytes());
    encode_route(&a.route, &mut buf);
    let mut w = Writer::append_to(buf);
    if let Some(h) = &a.hash {
        w.record(0, h);
    }
    w.finish()
}

pub fn decode_attempt(buf: &[u8]) -> Result<AttemptInfo> {
    let mut r = Reader::new(buf, "attempt info");
    check_version(&mut r)?;
    let mut a = AttemptInfo {
        attempt_id: r.u64()?,
        session_key: r.array()?,
        attempt_time_ns: r.i64()?,
        route: Route::default(),
        hash: None,
    };
    a.route = decode_route(&mut r)?;
    let mut s = Stream::new(r.remaining(), "attempt info tail");
    while let Some(rec) = s.next_record()? {
        match rec.ty {
            0 => a.hash = Some(s.fixed(&rec)?),
            ty => s.unknown(ty)?,
        }
    }
    Ok(a)
}

/// Settle info: preimage, time, empty tail.
pub fn encode_settle(s: &SettleInfo) -> Vec<u8> {
    let mut buf = start(41);
    buf.extend_from_slice(&s.preimage);
    buf.extend_from_slice(&s.settle_time_ns.to_be_bytes());
    buf
}

pub fn decode_settle(buf: &[u8]) -> Result<SettleInfo> {
    let mut r = Reader::new(buf, "settle info");
    check_version(&mut r)?;
    let info = SettleInfo {
        preimage: r.array()?,
        settle_time_ns: r.i64()?,
    };
    let mut s = Stream::new(r.remaining(), "settle info tail");
    while let Some(rec) = s.next_record()? {
        s.unknown(rec.ty)?;
    }
    Ok(info)
}

/// Fail info: time, reason, source index, then tail {0: failure message}.
pub fn encode_fail(f: &FailInfo) -> Vec<u8> {
    let mut buf = start(16 + f.message.len());
    buf.extend_from_slice(&f.fail_time_ns.to_be_bytes());
    buf.push(f.reason as u8);
    buf.extend_from_slice(&f.failure_source_index.to_be_bytes());
    let mut w = Writer::append_to(buf);
    w.non_empty(0, &f.message);
    w.finish()
}

pub fn decode_fail(buf: &[u8]) -> Result<FailInfo> {
    let mut r = Reader::new(buf, "fail info");
    check_version(&mut r)?;
    let fail_time_ns = r.i64()?;
    let reason = HtlcFailReason::try_from(r.u8()?).map_err(|e| r.error(e))?;
    let mut info = FailInfo {
        fail_time_ns,
        message: Vec::new(),
        reason,
        failure_source_index: r.u32()?,
    };
    let mut s = Stream::new(r.remaining(), "fail info tail");
    while let Some(rec) = s.next_record()? {
        match rec.ty {
            0 => info.message = rec.value.to_vec(),
            ty => s.unknown(ty)?,
        }
    }
    Ok(info)
}
