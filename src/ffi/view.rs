//! Caller-owned C inputs read into the Rust model, checking every pointer and length.
//! Inputs are copied, so nothing borrowed from the caller outlives the call.

use std::fmt;
use std::slice;

use super::handle;
use super::types::{
    LpsAttemptInfo, LpsBytes, LpsCreationInfo, LpsFailInfo, LpsHop, LpsRecord, LpsRoute,
    LpsSettleInfo,
};
use crate::error::{Error, Result};
use crate::model::{
    Amp, AttemptInfo, CreationInfo, CustomRecords, FailInfo, Hop, HtlcFailReason, Mpp, Route,
    SettleInfo,
};

/// Longest byte field accepted (payment requests, failure messages, TLV values).
pub const LPS_MAX_BYTES_LEN: usize = 1 << 20;
/// Longest array accepted (hops, custom records).
pub const LPS_MAX_ARRAY_LEN: usize = 65_535;
/// Most bytes one operation may store: a payment's creation info, an attempt with its
/// route, a settle or failure, a mission-control result, one imported payment (as
/// stored). More is `LPS_STATUS_INVALID_ARGUMENT`, and nothing is written.
pub const LPS_MAX_OPERATION_BYTES: usize = 4 << 20;
const _: () = assert!(LPS_MAX_OPERATION_BYTES == crate::model::MAX_OPERATION_BYTES);

/// A field's name for error messages, spelled out only when a message needs it (most
/// calls succeed, and a route has many fields).
#[derive(Clone, Copy)]
pub(crate) enum Field<'a> {
    Name(&'a str),
    Member(&'a Field<'a>, &'static str),
    Item(&'a Field<'a>, usize),
}

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Name(n) => f.write_str(n),
            Field::Member(parent, name) => write!(f, "{parent}.{name}"),
            Field::Item(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// A caller array as a slice: `{NULL, 0}` is empty; NULL with a length, or an absurd
/// length, is `INVALID_ARGUMENT`.
pub(crate) fn caller_slice<'a, T>(
    ptr: *const T,
    len: usize,
    limit: usize,
    field: impl fmt::Display,
) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::invalid(format!(
            "{field}: NULL pointer with length {len}"
        )));
    }
    if len > limit {
        return Err(Error::invalid(format!(
            "{field}: length {len} is above the limit of {limit}"
        )));
    }
    // SAFETY: the caller passes `len` readable, aligned elements at `ptr`.
    Ok(unsafe { slice::from_raw_parts(ptr, len) })
}

pub(crate) fn bytes<'a>(b: &LpsBytes, field: impl fmt::Display) -> Result<&'a [u8]> {
    caller_slice(b.ptr, b.len, LPS_MAX_BYTES_LEN, field)
}

fn records(ptr: *const LpsRecord, len: usize, field: Field) -> Result<CustomRecords> {
    let mut out = CustomRecords::new();
    for (i, r) in caller_slice(ptr, len, LPS_MAX_ARRAY_LEN, field)?
        .iter()
        .enumerate()
    {
        let value = bytes(&r.value, Field::Member(&Field::Item(&field, i), "value"))?;
        if out.insert(r.type_, value.to_vec()).is_some() {
            return Err(Error::invalid(format!(
                "{field}: record type {} appears twice",
                r.type_
            )));
        }
    }
    Ok(out)
}

pub(crate) fn creation_info(c: &LpsCreationInfo) -> Result<CreationInfo> {
    Ok(CreationInfo {
        payment_identifier: c.payment_identifier,
        value_msat: c.value_msat,
        creation_time_ns: c.creation_time_ns,
        payment_request: bytes(&c.payment_request, "info.payment_request")?.to_vec(),
        first_hop_custom_records: records(
            c.first_hop_custom_records,
            c.first_hop_custom_records_len,
            Field::Name("info.first_hop_custom_records"),
        )?,
    })
}

fn hop(c: &LpsHop, field: Field) -> Result<Hop> {
    let blinding_point = match c.blinding_point.is_null() {
        true => None,
        false => Some(handle::fixed_bytes::<33>(
            c.blinding_point,
            "blinding_point",
        )?),
    };
    Ok(Hop {
        pub_key: c.pub_key,
        channel_id: c.channel_id,
        outgoing_time_lock: c.outgoing_time_lock,
        amt_to_forward_msat: c.amt_to_forward_msat,
        legacy_payload: c.legacy_payload,
        mpp: handle::optional_input(c.mpp).map(|m| Mpp {
            payment_addr: m.payment_addr,
            total_msat: m.total_msat,
        }),
        amp: handle::optional_input(c.amp).map(|a| Amp {
            root_share: a.root_share,
            set_id: a.set_id,
            child_index: a.child_index,
        }),
        encrypted_data: bytes(&c.encrypted_data, Field::Member(&field, "encrypted_data"))?.to_vec(),
        blinding_point,
        metadata: bytes(&c.metadata, Field::Member(&field, "metadata"))?.to_vec(),
        total_amt_msat: c.total_amt_msat,
        custom_records: records(
            c.custom_records,
            c.custom_records_len,
            Field::Member(&field, "custom_records"),
        )?,
    })
}

fn route(c: &LpsRoute) -> Result<Route> {
    let field = Field::Name("attempt.route.hops");
    let hops = caller_slice(c.hops, c.hops_len, LPS_MAX_ARRAY_LEN, field)?
        .iter()
        .enumerate()
        .map(|(i, h)| hop(h, Field::Item(&field, i)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Route {
        total_time_lock: c.total_time_lock,
        total_amount_msat: c.total_amount_msat,
        source_pub_key: c.source_pub_key,
        hops,
        first_hop_amount_msat: c.first_hop_amount_msat,
        first_hop_wire_custom_records: records(
            c.first_hop_wire_custom_records,
            c.first_hop_wire_custom_records_len,
            Field::Name("attempt.route.first_hop_wire_custom_records"),
        )?,
    })
}

pub(crate) fn attempt_info(c: &LpsAttemptInfo) -> Result<AttemptInfo> {
    let hash = match c.hash.is_null() {
        true => None,
        false => Some(handle::fixed_bytes::<32>(c.hash, "attempt.hash")?),
    };
    Ok(AttemptInfo {
        attempt_id: c.attempt_id,
        session_key: c.session_key,
        route: route(&c.route)?,
        attempt_time_ns: c.attempt_time_ns,
        hash,
    })
}

pub(crate) fn settle_info(c: &LpsSettleInfo) -> SettleInfo {
    SettleInfo {
        preimage: c.preimage,
        settle_time_ns: c.settle_time_ns,
    }
}

pub(crate) fn fail_info(c: &LpsFailInfo) -> Result<FailInfo> {
    Ok(FailInfo {
        fail_time_ns: c.fail_time_ns,
        message: bytes(&c.message, "fail.message")?.to_vec(),
        reason: HtlcFailReason::try_from(c.reason)?,
        failure_source_index: c.failure_source_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    fn hop_with(metadata: LpsBytes, records: &[LpsRecord]) -> LpsHop {
        LpsHop {
            pub_key: [2; 33],
            channel_id: 1,
            outgoing_time_lock: 100,
            amt_to_forward_msat: 1_000,
            legacy_payload: false,
            mpp: ptr::null(),
            amp: ptr::null(),
            encrypted_data: LpsBytes::EMPTY,
            blinding_point: ptr::null(),
            metadata,
            total_amt_msat: 0,
            custom_records: records.as_ptr(),
            custom_records_len: records.len(),
        }
    }

    fn attempt(hops: &[LpsHop]) -> LpsAttemptInfo {
        LpsAttemptInfo {
            attempt_id: 1,
            session_key: [1; 32],
            route: LpsRoute {
                total_time_lock: 100,
                total_amount_msat: 1_000,
                source_pub_key: [1; 33],
                hops: hops.as_ptr(),
                hops_len: hops.len(),
                first_hop_amount_msat: 0,
                first_hop_wire_custom_records: ptr::null(),
                first_hop_wire_custom_records_len: 0,
            },
            attempt_time_ns: 1,
            hash: ptr::null(),
        }
    }

    fn message(c: &LpsAttemptInfo) -> String {
        attempt_info(c).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_nested_field() {
        let bad = LpsBytes {
            ptr: ptr::null(),
            len: 3,
        };
        let hops = [hop_with(LpsBytes::EMPTY, &[]), hop_with(bad, &[])];
        let m = message(&attempt(&hops));
        assert!(
            m.contains("attempt.route.hops[1].metadata: NULL pointer with length 3"),
            "{m}"
        );
        let records = [
            LpsRecord {
                type_: 65_536,
                value: LpsBytes::EMPTY,
            },
            LpsRecord {
                type_: 65_537,
                value: bad,
            },
        ];
        let hops = [hop_with(LpsBytes::EMPTY, &records)];
        let m = message(&attempt(&hops));
        assert!(
            m.contains("attempt.route.hops[0].custom_records[1].value"),
            "{m}"
        );
        // A good attempt reads without error.
        assert!(attempt_info(&attempt(&[hop_with(LpsBytes::EMPTY, &[])])).is_ok());
    }
}
