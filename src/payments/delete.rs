//! Bulk deletion (`Store::delete_payments`) in chunks the life cycle hardly notices.
//!
//! A read snapshot, outside the writer, pages through the payments and picks the ones
//! to delete. Each chunk is then one operation in the writer's batch: it re-checks
//! every candidate (a payment may have moved on since the snapshot) and deletes it. So
//! the deletion shares the life cycle's logged, group-committed transactions instead of
//! taking transactions of its own, and a life-cycle call waits at most for one chunk's
//! deletions, never for a durable commit of a store-wide write (measured at 5,800,000
//! payments: docs/performance.md, `scale`).

use std::sync::{Arc, Mutex};

use super::commit::Op;
use super::engine::Snapshot;
use super::ops;
use crate::error::Result;
use crate::model::{Payment, PaymentHash, PaymentStatus, Query};
use crate::sync::lock;

/// Payments one chunk reads, and so deletes at most.
pub const DELETE_CHUNK: usize = 500;

/// A payment picked in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub hash: PaymentHash,
    pub seq: u64,
}

/// Whether bulk deletion takes this payment: never one in flight.
pub fn wanted(p: &Payment, failed_only: bool) -> bool {
    p.status != PaymentStatus::InFlight && (!failed_only || p.status == PaymentStatus::Failed)
}

/// The candidates among the next `DELETE_CHUNK` payments after sequence number `after`,
/// and the last sequence number read; `None` when no payment follows `after`.
pub fn next_chunk(
    s: &mut dyn Snapshot,
    after: u64,
    failed_only: bool,
) -> Result<Option<(Vec<Candidate>, u64)>> {
    let page = s.query(&Query {
        index_offset: after,
        max_payments: DELETE_CHUNK as u64,
        include_incomplete: true,
        omit_hops: true,
        ..Query::default()
    })?;
    if page.payments.is_empty() {
        return Ok(None);
    }
    let chunk: Vec<Candidate> = page
        .payments
        .iter()
        .filter(|p| wanted(p, failed_only))
        .map(|p| Candidate {
            hash: p.hash,
            seq: p.sequence_num,
        })
        .collect();
    let hashes: Vec<PaymentHash> = chunk.iter().map(|c| c.hash).collect();
    s.warm(&hashes)?;
    Ok(Some((chunk, page.last_index_offset)))
}

/// The writer's operation for one chunk: deletes each candidate that is still the same
/// payment and still wanted, and leaves the hashes of the payments removed in `gone`.
pub fn chunk_op(
    chunk: Vec<Candidate>,
    failed_only: bool,
    failed_attempts_only: bool,
    gone: Arc<Mutex<Vec<PaymentHash>>>,
) -> Op {
    let hashes: Vec<PaymentHash> = chunk.iter().map(|c| c.hash).collect();
    Box::new(move |w, view| {
        // The operation may run again (its batch retried): only this run counts.
        let mut removed = lock(&gone);
        removed.clear();
        w.prefetch(&hashes)?;
        for c in &chunk {
            let Some(p) = view.load(w, &c.hash)? else {
                continue;
            };
            if p.sequence_num != c.seq || !wanted(&p, failed_only) {
                // Taken out of the writer's cache by the load: it goes back unchanged.
                view.stage(Arc::new(p));
                continue;
            }
            if ops::delete_loaded(w, view, p, failed_attempts_only)? {
                removed.push(c.hash);
            }
        }
        Ok(None)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CreationInfo, FailureReason};

    fn payment(seq: u64, reason: Option<FailureReason>) -> Payment {
        let info = CreationInfo {
            value_msat: 1000,
            ..Default::default()
        };
        Payment::from_parts(seq, [seq as u8; 32], info, Vec::new(), reason).unwrap()
    }

    #[test]
    fn only_failed_payments_when_asked_and_never_in_flight_ones() {
        let failed = payment(1, Some(FailureReason::NoRoute));
        let initiated = payment(2, None);
        assert_eq!(initiated.status, PaymentStatus::Initiated);
        assert!(wanted(&failed, true) && wanted(&failed, false));
        assert!(!wanted(&initiated, true) && wanted(&initiated, false));
        let mut in_flight = initiated.clone();
        in_flight.status = PaymentStatus::InFlight;
        assert!(!wanted(&in_flight, false));
    }
}
