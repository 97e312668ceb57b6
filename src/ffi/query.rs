//! Paged queries and counts.

use std::sync::Arc;

use super::arena::Arena;
use super::boundary::status;
use super::handle::{self, Castable, Out};
use super::payment::{payments_view, LpsPayment};
use super::store::LpsStore;
use crate::error::LpsStatus;
use crate::payments::Query;

/// A page request (SPEC §1.4).
#[repr(C)]
pub struct LpsQuery {
    /// Exclusive: forwards, start after it; reversed, end before it; 0 = from the oldest
    /// (forwards) or the newest (reversed).
    pub index_offset: u64,
    /// 0 = 100.
    pub max_payments: u64,
    pub reversed: bool,
    /// false: only SUCCEEDED payments.
    pub include_incomplete: bool,
    /// Also return the number of payments in the store (O(1)).
    pub count_total: bool,
    /// Unix seconds, inclusive, 0 = unset.
    pub creation_date_start: i64,
    /// Unix seconds, inclusive, 0 = unset.
    pub creation_date_end: i64,
    /// Leave out route hops.
    pub omit_hops: bool,
}

/// One page of payments. Lifetime: released with `lps_query_response_free`, which also
/// releases the payments in it. Thread-safety: immutable.
#[repr(C)]
pub struct LpsQueryResponse {
    /// Ascending sequence number, also for reversed queries.
    pub payments: *const LpsPayment,
    pub payments_len: usize,
    /// Sequence numbers of the page's first and last payment, to resume paging.
    pub first_index_offset: u64,
    pub last_index_offset: u64,
    /// Only when `count_total`.
    pub total_count: u64,
}

#[repr(C)]
pub(crate) struct OwnedQueryResponse {
    c: LpsQueryResponse,
    _arena: Arena,
}

impl Castable for LpsQueryResponse {
    type Rust = OwnedQueryResponse;
}

/// Payments per status and in total.
#[repr(C)]
pub struct LpsPaymentCounts {
    pub total: u64,
    pub initiated: u64,
    pub in_flight: u64,
    pub succeeded: u64,
    pub failed: u64,
}

/// Reads one page; its cost depends on the page size, and a date window seeks an
/// index of creation times. Free the response with `lps_query_response_free`.
#[no_mangle]
pub extern "C" fn lps_query_payments(
    store: *mut LpsStore,
    query: *const LpsQuery,
    out: *mut *mut LpsQueryResponse,
) -> LpsStatus {
    status("lps_query_payments", || {
        let out = Out::new(out, "out")?;
        let store = handle::borrow(store, "store")?;
        let q = handle::input(query, "query")?;
        let response = store.query_payments(&Query {
            index_offset: q.index_offset,
            max_payments: q.max_payments,
            reversed: q.reversed,
            include_incomplete: q.include_incomplete,
            count_total: q.count_total,
            creation_date_start: q.creation_date_start,
            creation_date_end: q.creation_date_end,
            omit_hops: q.omit_hops,
        })?;
        let mut arena = Arena::default();
        let views = payments_view(
            &mut arena,
            response.payments.into_iter().map(Arc::new).collect(),
        );
        let (payments, payments_len) = arena.slice(views);
        out.write(handle::into_raw(OwnedQueryResponse {
            c: LpsQueryResponse {
                payments,
                payments_len,
                first_index_offset: response.first_index_offset,
                last_index_offset: response.last_index_offset,
                total_count: response.total_count,
            },
            _arena: arena,
        }));
        Ok(())
    })
}

/// Releases a query response and its payments. NULL is ignored.
#[no_mangle]
pub extern "C" fn lps_query_response_free(response: *mut LpsQueryResponse) {
    handle::free("lps_query_response_free", response);
}

/// Payments per status and in total, in O(1).
#[no_mangle]
pub extern "C" fn lps_payment_counts(
    store: *mut LpsStore,
    out: *mut LpsPaymentCounts,
) -> LpsStatus {
    status("lps_payment_counts", || {
        let out = Out::new(out, "out")?;
        let c = handle::borrow(store, "store")?.payment_counts()?;
        out.write(LpsPaymentCounts {
            total: c.total,
            initiated: c.initiated,
            in_flight: c.in_flight,
            succeeded: c.succeeded,
            failed: c.failed,
        });
        Ok(())
    })
}
