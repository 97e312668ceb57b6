//! The churn load shared by the crash and power-loss tests: how payments are numbered
//! and the mission-control results they flush.

use std::time::Duration;

use lnpaystore::{McHop, McOptions, McResult, McRoute};

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

pub fn mc_result(id: u64) -> McResult {
    McResult {
        id,
        time_forwarded_ns: id as i64,
        time_reply_ns: id as i64 + 1,
        route: McRoute {
            source_pub_key: [2; 33],
            total_amount_msat: 1000,
            hops: vec![McHop {
                channel_id: id,
                pub_key: [3; 33],
                amt_to_forward_msat: 1000,
                has_blinding_point: false,
                has_custom_records: false,
            }],
        },
        failure: None,
    }
}
