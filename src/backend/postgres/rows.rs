//! Payments out of rows: a payment row and its attempt rows, decoded with the project's
//! codec and derived by the model (the same records a store file holds). u64 values
//! (sequence numbers, attempt ids, amounts) are stored bit for bit in BIGINT.

use postgres::Row;

use crate::codec;
use crate::error::{Error, Result};
use crate::model::{FailureReason, HtlcAttempt, Payment, PaymentHash, PaymentStatus};

// A payment read selects `p.seq, p.hash, p.creation, p.fail_reason` and an attempt read
// `a.seq, a.attempt_id, a.info, a.settle, a.fail`, in this order (payments.rs).

pub fn to_sql(v: u64) -> i64 {
    v as i64
}

pub fn from_sql(v: i64) -> u64 {
    v as u64
}

pub fn status_from_sql(v: i16) -> Result<PaymentStatus> {
    u8::try_from(v)
        .ok()
        .and_then(|b| PaymentStatus::try_from(b).ok())
        .ok_or_else(|| Error::corrupt(format!("payment status {v}")))
}

pub fn hash_from_sql(bytes: &[u8]) -> Result<PaymentHash> {
    bytes
        .try_into()
        .map_err(|_| Error::corrupt(format!("payment hash of {} bytes", bytes.len())))
}

/// A payment row being completed with its attempts.
pub struct PaymentRow {
    pub seq: u64,
    hash: PaymentHash,
    creation: Vec<u8>,
    fail_reason: Option<i16>,
    attempts: Vec<HtlcAttempt>,
}

impl PaymentRow {
    /// Reads the payment columns starting at column `at`.
    pub fn read(row: &Row, at: usize) -> Result<PaymentRow> {
        Ok(PaymentRow {
            seq: from_sql(row.try_get(at).map_err(column)?),
            hash: hash_from_sql(row.try_get(at + 1).map_err(column)?)?,
            creation: row.try_get(at + 2).map_err(column)?,
            fail_reason: row.try_get(at + 3).map_err(column)?,
            attempts: Vec::new(),
        })
    }

    /// Adds the attempt of the attempt columns starting at column `at` (attempts come in
    /// attempt id order).
    pub fn add_attempt(&mut self, row: &Row, at: usize) -> Result<()> {
        let id = from_sql(row.try_get(at + 1).map_err(column)?);
        let info = codec::decode_attempt(row.try_get(at + 2).map_err(column)?)?;
        if info.attempt_id != id {
            return Err(Error::corrupt(format!(
                "payment {}: attempt row {id} holds attempt {}",
                self.seq, info.attempt_id
            )));
        }
        let settle: Option<&[u8]> = row.try_get(at + 3).map_err(column)?;
        let fail: Option<&[u8]> = row.try_get(at + 4).map_err(column)?;
        self.attempts.push(HtlcAttempt {
            info,
            settle: settle.map(codec::decode_settle).transpose()?,
            failure: fail.map(codec::decode_fail).transpose()?,
        });
        Ok(())
    }

    pub fn build(self, omit_hops: bool) -> Result<Payment> {
        let seq = self.seq;
        let info = codec::decode_creation(&self.creation)?;
        let reason = self
            .fail_reason
            .map(|r| {
                u8::try_from(r)
                    .ok()
                    .and_then(|b| FailureReason::try_from(b).ok())
                    .ok_or_else(|| Error::corrupt(format!("payment {seq}: failure reason {r}")))
            })
            .transpose()?;
        let mut payment = Payment::from_parts(seq, self.hash, info, self.attempts, reason)?;
        if omit_hops {
            for h in &mut payment.htlcs {
                h.info.route.hops.clear();
            }
        }
        Ok(payment)
    }
}

/// Payments from rows that join each payment with its attempts
/// (the payment then the attempt columns, from `payments p LEFT JOIN attempts a`), ordered by
/// payment, then attempt id. Payments come out in row order.
pub fn payments_from_joined(rows: &[Row], omit_hops: bool) -> Result<Vec<Payment>> {
    let mut out = Vec::new();
    let mut current: Option<PaymentRow> = None;
    for row in rows {
        let seq = from_sql(row.try_get(0).map_err(column)?);
        if current.as_ref().is_none_or(|c| c.seq != seq) {
            if let Some(done) = current.take() {
                out.push(done.build(omit_hops)?);
            }
            current = Some(PaymentRow::read(row, 0)?);
        }
        let has_attempt: Option<i64> = row.try_get(4).map_err(column)?;
        if has_attempt.is_some() {
            if let Some(c) = current.as_mut() {
                c.add_attempt(row, 4)?;
            }
        }
    }
    if let Some(done) = current {
        out.push(done.build(omit_hops)?);
    }
    Ok(out)
}

/// A column that does not have the type this library wrote: not our schema.
fn column(e: postgres::Error) -> Error {
    Error::corrupt(format!("unexpected column in a payment row: {e}"))
}
