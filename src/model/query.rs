//! A page request: the one definition of the query, shared with C (the header calls it
//! `LpsQuery`), so the C ABI passes it through without a conversion.

/// A page request over the payments in sequence order (docs/behaviour.md, "Queries").
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Query {
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
