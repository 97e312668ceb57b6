//! The embedded engine's consistency check of one snapshot: every index and counter
//! against the payment records.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::assemble::scan_payments;
use super::keys;
use super::query::counts;
use crate::backend::schema::{
    get_u64, CREATION_INDEX, HASH_INDEX, INFLIGHT, KEY_NEXT_SEQUENCE, META, TOMBSTONES,
};
use crate::backend::{Flow, ReadTx};
use crate::error::Result;
use crate::model::{PaymentHash, PaymentStatus};
use crate::payments::integrity::{check_counters as compare_counters, violation, IntegrityReport};
use crate::payments::query::PaymentCounts;

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

/// What the check needs of each payment.
struct Summary {
    hash: PaymentHash,
    status: PaymentStatus,
    creation_time_ns: i64,
}

/// Payments by sequence number.
type Payments = BTreeMap<u64, Summary>;

/// Checks: every payment decodes and derives; hash index ↔ payments; non-terminal
/// index ↔ derived status; creation-time index ↔ creation times; per-status counters;
/// the next sequence number; no tombstoned hash is live.
pub fn check(tx: &dyn ReadTx) -> Result<IntegrityReport> {
    let payments = load_payments(tx)?;
    check_hash_index(tx, &payments)?;
    let in_flight_index = check_inflight_index(tx, &payments)?;
    check_creation_index(tx, &payments)?;
    check_counters(tx, &payments)?;
    check_next_sequence(tx, &payments)?;
    check_tombstones(tx)?;
    Ok(IntegrityReport {
        payments: payments.len() as u64,
        in_flight_index,
    })
}

/// Decodes every payment and derives its status (a failure is the first violation).
fn load_payments(tx: &dyn ReadTx) -> Result<Payments> {
    let mut payments = Payments::new();
    scan_payments(
        tx,
        (Bound::Unbounded, Bound::Unbounded),
        false,
        false,
        &mut |p| {
            let summary = Summary {
                hash: p.hash,
                status: p.status,
                creation_time_ns: p.info.creation_time_ns,
            };
            payments.insert(p.sequence_num, summary);
            Ok(Flow::Continue)
        },
    )?;
    Ok(payments)
}

/// One hash index entry per payment, each naming its payment's sequence number.
fn check_hash_index(tx: &dyn ReadTx, payments: &Payments) -> Result<()> {
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
            Some(p) if p.hash[..] == hash[..] => {}
            _ => {
                return Err(violation(format!(
                    "hash index entry for {seq} matches no payment"
                )))
            }
        }
    }
    Ok(())
}

/// The in-flight index holds exactly the non-terminal payments; returns its size.
fn check_inflight_index(tx: &dyn ReadTx, payments: &Payments) -> Result<u64> {
    let inflight: BTreeSet<u64> = keys_of(tx, INFLIGHT)?
        .iter()
        .map(|(k, _)| keys::parse_u64(k, "in-flight index"))
        .collect::<Result<_>>()?;
    let non_terminal: BTreeSet<u64> = payments
        .iter()
        .filter(|(_, p)| !p.status.is_terminal())
        .map(|(seq, _)| *seq)
        .collect();
    if inflight != non_terminal {
        return Err(violation(format!(
            "in-flight index {inflight:?} differs from the non-terminal payments {non_terminal:?}"
        )));
    }
    Ok(inflight.len() as u64)
}

/// The creation-time index holds exactly (creation time, sequence) of every payment.
fn check_creation_index(tx: &dyn ReadTx, payments: &Payments) -> Result<()> {
    let creation: BTreeSet<Vec<u8>> = keys_of(tx, CREATION_INDEX)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let expected: BTreeSet<Vec<u8>> = payments
        .iter()
        .map(|(seq, p)| keys::creation(p.creation_time_ns, *seq).to_vec())
        .collect();
    if creation != expected {
        return Err(violation("creation-time index differs from the payments"));
    }
    Ok(())
}

/// The stored per-status counters equal the statuses derived from the payments.
fn check_counters(tx: &dyn ReadTx, payments: &Payments) -> Result<()> {
    let mut derived = PaymentCounts::default();
    for p in payments.values() {
        derived.add(p.status);
    }
    compare_counters(counts(tx)?, derived)
}

/// The next sequence number lies above every payment's (numbers are never reused).
fn check_next_sequence(tx: &dyn ReadTx, payments: &Payments) -> Result<()> {
    let next = get_u64(tx, META, KEY_NEXT_SEQUENCE)?.unwrap_or(1);
    match payments.keys().next_back() {
        Some(last) if next <= *last => Err(violation(format!(
            "next sequence {next} is not above {last}"
        ))),
        _ => Ok(()),
    }
}

/// No hash that was paid and then deleted is live again.
fn check_tombstones(tx: &dyn ReadTx) -> Result<()> {
    for (hash, _) in keys_of(tx, TOMBSTONES)? {
        if tx.get(HASH_INDEX, &hash)?.is_some() {
            return Err(violation("a paid, deleted hash is live again"));
        }
    }
    Ok(())
}
