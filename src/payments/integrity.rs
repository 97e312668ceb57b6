//! A consistency check of one snapshot: every index and counter against the payment
//! records (the invariants that every transition keeps in one transaction). Used by the
//! crash test after each kill, and available to operators.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::assemble::scan_payments;
use super::keys;
use super::query::{counts, PaymentCounts};
use crate::backend::schema::{
    get_u64, CREATION_INDEX, HASH_INDEX, INFLIGHT, KEY_NEXT_SEQUENCE, META, TOMBSTONES,
};
use crate::backend::{Flow, ReadTx};
use crate::error::{Error, Result};
use crate::model::{PaymentHash, PaymentStatus};

/// What a successful check saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IntegrityReport {
    pub payments: u64,
    pub in_flight_index: u64,
}

fn violation(msg: impl std::fmt::Display) -> Error {
    Error::corrupt(format!("integrity check: {msg}"))
}

fn keys_of(tx: &dyn ReadTx, table: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    tx.scan(
        table,
        (Bound::Unbounded, Bound::Unbounded),
        false,
        &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(Flow::Continue)
        },
    )?;
    Ok(out)
}

/// Checks: every payment decodes and derives; hash index ↔ payments; non-terminal
/// index ↔ derived status; creation-time index ↔ creation times; per-status counters;
/// the next sequence number; no tombstoned hash is live.
pub fn check(tx: &dyn ReadTx) -> Result<IntegrityReport> {
    let mut payments: BTreeMap<u64, (PaymentHash, PaymentStatus, i64)> = BTreeMap::new();
    scan_payments(
        tx,
        (Bound::Unbounded, Bound::Unbounded),
        false,
        false,
        &mut |p| {
            payments.insert(p.sequence_num, (p.hash, p.status, p.info.creation_time_ns));
            Ok(Flow::Continue)
        },
    )?;

    let hash_index = keys_of(tx, HASH_INDEX)?;
    if hash_index.len() != payments.len() {
        return Err(violation(format!(
            "{} hash index entries for {} payments",
            hash_index.len(),
            payments.len()
        )));
    }
    for (hash, seq) in &hash_index {
        let seq = keys::parse_u64(seq, "hash index")?;
        match payments.get(&seq) {
            Some((h, _, _)) if h[..] == hash[..] => {}
            _ => {
                return Err(violation(format!(
                    "hash index entry for {seq} matches no payment"
                )))
            }
        }
    }

    let inflight: BTreeSet<u64> = keys_of(tx, INFLIGHT)?
        .iter()
        .map(|(k, _)| keys::parse_u64(k, "in-flight index"))
        .collect::<Result<_>>()?;
    let non_terminal: BTreeSet<u64> = payments
        .iter()
        .filter(|(_, (_, s, _))| !s.is_terminal())
        .map(|(seq, _)| *seq)
        .collect();
    if inflight != non_terminal {
        return Err(violation(format!(
            "in-flight index {inflight:?} differs from the non-terminal payments {non_terminal:?}"
        )));
    }

    let creation: BTreeSet<Vec<u8>> = keys_of(tx, CREATION_INDEX)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let expected: BTreeSet<Vec<u8>> = payments
        .iter()
        .map(|(seq, (_, _, t))| keys::creation(*t, *seq).to_vec())
        .collect();
    if creation != expected {
        return Err(violation("creation-time index differs from the payments"));
    }

    let mut derived = PaymentCounts::default();
    for (_, status, _) in payments.values() {
        derived.total += 1;
        *match status {
            PaymentStatus::Initiated => &mut derived.initiated,
            PaymentStatus::InFlight => &mut derived.in_flight,
            PaymentStatus::Succeeded => &mut derived.succeeded,
            PaymentStatus::Failed => &mut derived.failed,
        } += 1;
    }
    let stored = counts(tx)?;
    if stored != derived {
        return Err(violation(format!(
            "counters {stored:?} differ from the payments {derived:?}"
        )));
    }

    let next = get_u64(tx, META, KEY_NEXT_SEQUENCE)?.unwrap_or(1);
    if let Some(last) = payments.keys().next_back() {
        if next <= *last {
            return Err(violation(format!(
                "next sequence {next} is not above {last}"
            )));
        }
    }

    for (hash, _) in keys_of(tx, TOMBSTONES)? {
        if tx.get(HASH_INDEX, &hash)?.is_some() {
            return Err(violation("a paid, deleted hash is live again"));
        }
    }

    Ok(IntegrityReport {
        payments: payments.len() as u64,
        in_flight_index: inflight.len() as u64,
    })
}
