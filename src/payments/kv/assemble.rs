//! Rebuilds payments from the `records` table: one range scan per payment, or one scan
//! for a whole page, since a payment's records are contiguous.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::keys::{self, RecordKey, HTLC_FAIL, HTLC_INFO, HTLC_SETTLE};
use crate::backend::schema::{HASH_INDEX, RECORDS};
use crate::backend::{Flow, ReadTx};
use crate::codec;
use crate::error::{Error, Result};
use crate::model::{FailureReason, HtlcAttempt, Payment, PaymentHash};

/// The raw records of one payment, collected in any order during a scan.
#[derive(Default)]
pub struct PaymentRecords {
    seq: u64,
    creation: Option<Vec<u8>>,
    failure_reason: Option<u8>,
    htlcs: BTreeMap<u64, [Option<Vec<u8>>; 3]>,
}

impl PaymentRecords {
    pub fn new(seq: u64) -> Self {
        PaymentRecords {
            seq,
            ..Default::default()
        }
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn add(&mut self, key: RecordKey, value: &[u8]) -> Result<()> {
        match key {
            RecordKey::Creation(_) => self.creation = Some(value.to_vec()),
            RecordKey::FailureReason(_) => match value {
                [b] => self.failure_reason = Some(*b),
                _ => return Err(Error::corrupt("failure reason record is not one byte")),
            },
            RecordKey::Htlc {
                attempt_id, sub, ..
            } => self.htlcs.entry(attempt_id).or_default()[sub as usize] = Some(value.to_vec()),
        }
        Ok(())
    }

    pub fn build(&self, omit_hops: bool) -> Result<Payment> {
        let seq = self.seq;
        let creation = self.creation.as_deref().ok_or_else(|| {
            Error::corrupt(format!("payment {seq} has records but no creation info"))
        })?;
        if creation.len() < 32 {
            return Err(Error::corrupt(format!(
                "payment {seq}: creation record too short"
            )));
        }
        let (hash, info) = creation.split_at(32);
        let hash: PaymentHash = hash
            .try_into()
            .map_err(|_| Error::corrupt("payment hash"))?;
        let info = codec::decode_creation(info)?;
        let failure_reason = self
            .failure_reason
            .map(|b| {
                FailureReason::try_from(b)
                    .map_err(|_| Error::corrupt(format!("payment {seq}: failure reason {b}")))
            })
            .transpose()?;
        let mut htlcs = Vec::with_capacity(self.htlcs.len());
        for (id, recs) in &self.htlcs {
            let info_bytes = recs[HTLC_INFO as usize].as_deref().ok_or_else(|| {
                Error::corrupt(format!("payment {seq}: attempt {id} has no info"))
            })?;
            let attempt = codec::decode_attempt(info_bytes)?;
            if attempt.attempt_id != *id {
                return Err(Error::corrupt(format!(
                    "payment {seq}: attempt key {id} holds attempt {}",
                    attempt.attempt_id
                )));
            }
            htlcs.push(HtlcAttempt {
                info: attempt,
                settle: recs[HTLC_SETTLE as usize]
                    .as_deref()
                    .map(codec::decode_settle)
                    .transpose()?,
                failure: recs[HTLC_FAIL as usize]
                    .as_deref()
                    .map(codec::decode_fail)
                    .transpose()?,
            });
        }
        let mut payment = Payment::from_parts(seq, hash, info, htlcs, failure_reason)?;
        if omit_hops {
            for h in &mut payment.htlcs {
                h.info.route.hops.clear();
            }
        }
        Ok(payment)
    }
}

/// Loads the payment with sequence number `seq`, if any.
pub fn load_by_seq(tx: &dyn ReadTx, seq: u64, omit_hops: bool) -> Result<Option<Payment>> {
    let start = keys::seq(seq);
    let end = keys::seq(seq + 1);
    let mut parts = PaymentRecords::new(seq);
    let mut found = false;
    tx.scan(
        RECORDS,
        (Bound::Included(&start[..]), Bound::Excluded(&end[..])),
        false,
        &mut |k, v| {
            found = true;
            parts.add(keys::parse_record(k)?, v)?;
            Ok(Flow::Continue)
        },
    )?;
    if !found {
        return Ok(None);
    }
    parts.build(omit_hops).map(Some)
}

pub fn lookup_seq(tx: &dyn ReadTx, hash: &PaymentHash) -> Result<Option<u64>> {
    tx.get(HASH_INDEX, hash)?
        .map(|v| keys::parse_u64(&v, "hash index"))
        .transpose()
}

/// Loads the payment with this hash, if any.
pub fn load(tx: &dyn ReadTx, hash: &PaymentHash) -> Result<Option<Payment>> {
    let Some(seq) = lookup_seq(tx, hash)? else {
        return Ok(None);
    };
    match load_by_seq(tx, seq, false)? {
        Some(p) if p.hash == *hash => Ok(Some(p)),
        Some(_) => Err(Error::corrupt(format!(
            "hash index points at payment {seq} of another hash"
        ))),
        None => Err(Error::corrupt(format!(
            "hash index points at missing payment {seq}"
        ))),
    }
}

/// Streams whole payments out of a `records` scan over `range`, in scan order, until
/// `emit` returns `Stop`.
pub fn scan_payments(
    tx: &dyn ReadTx,
    range: crate::backend::KeyRange<'_>,
    reverse: bool,
    omit_hops: bool,
    emit: &mut dyn FnMut(Payment) -> Result<Flow>,
) -> Result<()> {
    let mut current: Option<PaymentRecords> = None;
    let mut stopped = false;
    tx.scan(RECORDS, range, reverse, &mut |k, v| {
        let key = keys::parse_record(k)?;
        if current.as_ref().is_some_and(|c| c.seq() != key.seq()) {
            let done = current.take().map(|c| c.build(omit_hops)).transpose()?;
            if let Some(p) = done {
                if emit(p)? == Flow::Stop {
                    stopped = true;
                    return Ok(Flow::Stop);
                }
            }
        }
        current
            .get_or_insert_with(|| PaymentRecords::new(key.seq()))
            .add(key, v)?;
        Ok(Flow::Continue)
    })?;
    if !stopped {
        if let Some(c) = current {
            emit(c.build(omit_hops)?)?;
        }
    }
    Ok(())
}
