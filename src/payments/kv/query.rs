//! The embedded engine's reads: pages in sequence order, date windows through the
//! creation-time index, in-flight payments through the non-terminal index, O(1) counts.

use std::ops::Bound;

use super::assemble::{load_by_seq, scan_payments};
use super::keys;
use crate::backend::schema::{get_u64, COUNTERS, CREATION_INDEX, INFLIGHT};
use crate::backend::{Flow, ReadTx};
use crate::error::{Error, Result};
use crate::model::{Payment, PaymentStatus, Query};
use crate::payments::query::{
    beyond_offset, has_window, window_ns, Page, PaymentCounts, QueryResponse,
};

pub fn counts(tx: &dyn ReadTx) -> Result<PaymentCounts> {
    let get = |s| get_u64(tx, COUNTERS, &keys::counter(s)).map(|v| v.unwrap_or(0));
    Ok(PaymentCounts::from_statuses(
        get(PaymentStatus::Initiated)?,
        get(PaymentStatus::InFlight)?,
        get(PaymentStatus::Succeeded)?,
        get(PaymentStatus::Failed)?,
    ))
}

/// Every non-terminal payment, through the index kept for that purpose.
pub fn inflight(tx: &dyn ReadTx) -> Result<Vec<Payment>> {
    let mut seqs = Vec::new();
    tx.scan(
        INFLIGHT,
        (Bound::Unbounded, Bound::Unbounded),
        false,
        &mut |k, _| {
            seqs.push(keys::parse_u64(k, "in-flight index")?);
            Ok(Flow::Continue)
        },
    )?;
    seqs.into_iter()
        .map(|seq| {
            load_by_seq(tx, seq, false)?.ok_or_else(|| {
                Error::corrupt(format!("in-flight index names missing payment {seq}"))
            })
        })
        .collect()
}

/// Reads one page: through the creation-time index when the query has a date window,
/// else straight along the payment records in sequence order.
pub fn query(tx: &dyn ReadTx, q: &Query) -> Result<QueryResponse> {
    let mut page = Page::new(q);
    if has_window(q) {
        page_in_window(tx, q, &mut page)?;
    } else {
        page_by_sequence(tx, q, &mut page)?;
    }
    let total = if q.count_total { counts(tx)?.total } else { 0 };
    Ok(page.finish(total))
}

/// No date window: one range scan of the records from the offset, in the query's
/// direction.
fn page_by_sequence(tx: &dyn ReadTx, q: &Query, page: &mut Page) -> Result<()> {
    let start = keys::seq(q.index_offset.saturating_add(1));
    let end = keys::seq(q.index_offset);
    let range = match (q.reversed, q.index_offset) {
        (false, _) => (Bound::Included(&start[..]), Bound::Unbounded),
        (true, 0) => (Bound::Unbounded, Bound::Unbounded),
        (true, _) => (Bound::Unbounded, Bound::Excluded(&end[..])),
    };
    scan_payments(tx, range, q.reversed, q.omit_hops, &mut |p| {
        Ok(page.offer(p))
    })
}

/// A date window: seek through the creation-time index, so the cost follows the window,
/// not the store.
fn page_in_window(tx: &dyn ReadTx, q: &Query, page: &mut Page) -> Result<()> {
    let mut seqs = window_sequences(tx, q)?;
    seqs.sort_unstable();
    if q.reversed {
        seqs.reverse();
    }
    // Load a page's worth at a time: the status filter may need more.
    for chunk in seqs.chunks(page.max()) {
        for p in load_many(tx, chunk, q.omit_hops)? {
            if page.offer(p) == Flow::Stop {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Sequence numbers of the payments created inside the query's window and on the
/// query's side of its offset, in creation-time order.
fn window_sequences(tx: &dyn ReadTx, q: &Query) -> Result<Vec<u64>> {
    let (start, end) = window_ns(q);
    let mut seqs = Vec::new();
    if start > end {
        return Ok(seqs);
    }
    let (lo, hi) = (keys::creation(start, 0), keys::creation(end, u64::MAX));
    tx.scan(
        CREATION_INDEX,
        (Bound::Included(&lo[..]), Bound::Included(&hi[..])),
        false,
        &mut |k, _| {
            let seq = k
                .get(8..)
                .map(|s| keys::parse_u64(s, "creation index"))
                .transpose()?;
            let seq = seq.ok_or_else(|| Error::corrupt("short creation index key"))?;
            if beyond_offset(q, seq) {
                seqs.push(seq);
            }
            Ok(Flow::Continue)
        },
    )?;
    Ok(seqs)
}

/// Loads the payments `seqs` names, in that order. Payments created close together
/// have close sequence numbers: when the chunk is dense, one range scan of the records
/// replaces a B-tree descent per payment.
fn load_many(tx: &dyn ReadTx, seqs: &[u64], omit_hops: bool) -> Result<Vec<Payment>> {
    let missing = |seq: u64| Error::corrupt(format!("creation index names missing payment {seq}"));
    let (Some(&lo), Some(&hi)) = (seqs.iter().min(), seqs.iter().max()) else {
        return Ok(Vec::new());
    };
    if hi - lo >= 2 * seqs.len() as u64 {
        return seqs
            .iter()
            .map(|&seq| load_by_seq(tx, seq, omit_hops)?.ok_or_else(|| missing(seq)))
            .collect();
    }
    let wanted: std::collections::HashSet<u64> = seqs.iter().copied().collect();
    let mut found = std::collections::HashMap::with_capacity(seqs.len());
    let (start, end) = (keys::seq(lo), keys::seq(hi + 1));
    scan_payments(
        tx,
        (Bound::Included(&start[..]), Bound::Excluded(&end[..])),
        false,
        omit_hops,
        &mut |p| {
            if wanted.contains(&p.sequence_num) {
                found.insert(p.sequence_num, p);
            }
            Ok(Flow::Continue)
        },
    )?;
    seqs.iter()
        .map(|seq| found.remove(seq).ok_or_else(|| missing(*seq)))
        .collect()
}
