//! What a query means, for every engine: the page size, the date window, the status
//! filter and the page's shape. Engines find the candidates with their own indexes and
//! fill a `Page`.

use crate::backend::Flow;
use crate::model::{Payment, PaymentStatus, Query};

/// Page size when a query leaves `max_payments` at 0.
pub const DEFAULT_MAX_PAYMENTS: u64 = 100;

/// A page of payments, always in ascending sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryResponse {
    pub payments: Vec<Payment>,
    pub first_index_offset: u64,
    pub last_index_offset: u64,
    /// Payments in the store; only filled when `count_total` was asked.
    pub total_count: u64,
}

/// Per-status payment counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaymentCounts {
    pub total: u64,
    pub initiated: u64,
    pub in_flight: u64,
    pub succeeded: u64,
    pub failed: u64,
}

impl PaymentCounts {
    /// Counts from the per-status figures (the total is their sum).
    pub fn from_statuses(initiated: u64, in_flight: u64, succeeded: u64, failed: u64) -> Self {
        PaymentCounts {
            total: initiated + in_flight + succeeded + failed,
            initiated,
            in_flight,
            succeeded,
            failed,
        }
    }

    /// Adds one payment of this status.
    pub fn add(&mut self, status: PaymentStatus) {
        self.total += 1;
        *match status {
            PaymentStatus::Initiated => &mut self.initiated,
            PaymentStatus::InFlight => &mut self.in_flight,
            PaymentStatus::Succeeded => &mut self.succeeded,
            PaymentStatus::Failed => &mut self.failed,
        } += 1;
    }
}

/// Whether the query has a date window.
pub fn has_window(q: &Query) -> bool {
    q.creation_date_start != 0 || q.creation_date_end != 0
}

/// Converts the inclusive second bounds of a query to an inclusive nanosecond window;
/// `start > end` when no nanosecond can match. A bound past the nanoseconds an `i64`
/// holds is clamped to the last one, so the widest window ends at `i64::MAX` itself.
pub fn window_ns(q: &Query) -> (i64, i64) {
    const NS: i64 = 1_000_000_000;
    // The first nanosecond of second `s`, or where it would be.
    let first_ns = |s: i64| s.checked_mul(NS).ok_or(s > 0);
    let start = match q.creation_date_start {
        0 => i64::MIN,
        s => match first_ns(s) {
            Ok(ns) => ns,
            Err(true) => return (i64::MAX, i64::MIN), // after every nanosecond
            Err(false) => i64::MIN,
        },
    };
    let end = match q.creation_date_end {
        0 => i64::MAX,
        s => match s.checked_add(1).map(first_ns) {
            Some(Ok(ns)) => ns.saturating_sub(1),
            Some(Err(false)) => return (i64::MAX, i64::MIN), // before every nanosecond
            Some(Err(true)) | None => i64::MAX,
        },
    };
    (start, end)
}

/// Whether `seq` lies on the query's side of its offset.
pub fn beyond_offset(q: &Query, seq: u64) -> bool {
    match (q.reversed, q.index_offset) {
        (_, 0) => true,
        (false, off) => seq > off,
        (true, off) => seq < off,
    }
}

/// A page being filled in the query's direction: keeps the payments the status filter
/// lets through, up to the page size.
pub struct Page {
    payments: Vec<Payment>,
    max: usize,
    include_incomplete: bool,
    reversed: bool,
}

impl Page {
    pub fn new(q: &Query) -> Page {
        let max = if q.max_payments == 0 {
            DEFAULT_MAX_PAYMENTS
        } else {
            q.max_payments
        } as usize;
        Page {
            payments: Vec::with_capacity(max.min(1024)),
            max,
            include_incomplete: q.include_incomplete,
            reversed: q.reversed,
        }
    }

    /// The most payments the page takes.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Offers the next payment; `Stop` once the page is full.
    pub fn offer(&mut self, p: Payment) -> Flow {
        if self.include_incomplete || p.status == PaymentStatus::Succeeded {
            self.payments.push(p);
        }
        if self.payments.len() >= self.max {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// The response, in ascending sequence order; `total_count` as given.
    pub fn finish(self, total_count: u64) -> QueryResponse {
        let mut payments = self.payments;
        if self.reversed {
            payments.reverse();
        }
        QueryResponse {
            first_index_offset: payments.first().map_or(0, |p| p.sequence_num),
            last_index_offset: payments.last().map_or(0, |p| p.sequence_num),
            payments,
            total_count,
        }
    }
}
