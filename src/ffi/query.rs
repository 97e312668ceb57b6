//! Paged queries and counts.

use std::sync::Arc;

use super::arena::Arena;
use super::boundary::status;
use super::handle::{self, Castable, Out};
use super::payment::{payments_view, LpsPayment};
use super::store::LpsStore;
use crate::error::LpsStatus;
use crate::model::Query;

/// The C name of the one query definition; `Query` appears as `LpsQuery` in the header.
pub use crate::model::Query as LpsQuery;

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
    query: *const Query,
    out: *mut *mut LpsQueryResponse,
) -> LpsStatus {
    status("lps_query_payments", || {
        let out = Out::new(out, "out")?;
        let store = handle::resource(store, "store")?;
        let response = store.query_payments(handle::input(query, "query")?)?;
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
        let c = handle::resource(store, "store")?.payment_counts()?;
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
