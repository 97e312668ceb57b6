//! The churn load shared by the crash and power-loss tests: how payments are numbered
//! and the mission-control results they flush.

use std::time::Duration;

use lnpaystore::McOptions;

/// Payment numbers: run ‖ worker ‖ index. Even indexes succeed (two MPP shards), odd
/// ones fail; only failed payments are bulk-deleted, so what disappears is known.
pub fn number(run: u64, worker: u64, i: u64) -> u64 {
    run * 10_000_000 + worker * 1_000_000 + i
}

pub fn mc_options() -> McOptions {
    McOptions {
        max_records: 0,
        flush_interval: Duration::from_secs(3600),
    }
}
