//! `import`: bulk import of whole payments in their final state (`Store::import_payments`)
//! into a durable store, as an importer from another node would load them. The payments
//! are built in memory first (not timed): 3-hop routes, a mix of states (settled single
//! shard, MPP with a failed and retried shard, failed, in flight).

use std::time::Instant;

use lnpaystore::*;

use crate::fixture::{attempt, creation, payment, TempStore};
use crate::report::Figure;
use crate::Args;

const SECOND: i64 = 1_000_000_000;
const VALUE: u64 = 100_000;

pub fn settled(info: AttemptInfo, preimage: Preimage) -> HtlcAttempt {
    HtlcAttempt {
        info,
        settle: Some(SettleInfo {
            preimage,
            settle_time_ns: 1_700_000_001 * SECOND,
        }),
        failure: None,
    }
}

pub fn failed(info: AttemptInfo) -> HtlcAttempt {
    HtlcAttempt {
        info,
        settle: None,
        failure: Some(FailInfo {
            fail_time_ns: 1_700_000_001 * SECOND,
            message: vec![0x10, 0x07, 0, 0],
            reason: HtlcFailReason::Message,
            failure_source_index: 1,
        }),
    }
}

/// Payment `n` in its final state: 7 in 10 settled in one shard, 1 MPP (a failed shard
/// retried, two settled), 1 failed, 1 in flight.
pub fn whole_payment(n: u64) -> ImportPayment {
    let (pre, hash) = payment(n);
    let mpp = Some(Mpp {
        payment_addr: [9; 32],
        total_msat: VALUE,
    });
    let (htlcs, failure_reason) = match n % 10 {
        7 => (
            vec![
                failed(attempt(1, VALUE / 2, mpp)),
                settled(attempt(2, VALUE / 2, mpp), pre),
                settled(attempt(3, VALUE / 2, mpp), pre),
            ],
            None,
        ),
        8 => (
            vec![failed(attempt(1, VALUE, None))],
            Some(FailureReason::NoRoute),
        ),
        9 => (
            vec![HtlcAttempt {
                info: attempt(1, VALUE, None),
                settle: None,
                failure: None,
            }],
            None,
        ),
        _ => (vec![settled(attempt(1, VALUE, None), pre)], None),
    };
    ImportPayment {
        sequence_num: n,
        hash,
        info: creation(VALUE, 1_600_000_000 * SECOND + n as i64 * SECOND),
        htlcs,
        failure_reason,
    }
}

pub fn import(args: &Args) -> Vec<Figure> {
    let n = args.large;
    let payments: Vec<ImportPayment> = (1..=n).map(whole_payment).collect();
    let temp = TempStore::new();
    let store = temp.open(Options::default());
    let start = Instant::now();
    let report = store.import_payments(payments).expect("import");
    let elapsed = start.elapsed();
    assert_eq!(report.imported, n, "refused: {:?}", report.refused.first());
    let commits = store.commit_stats().commits;
    let integrity = store.check_integrity().expect("integrity after the import");
    assert_eq!(integrity.payments, n);
    store.close().expect("close");
    vec![
        Figure::new("payments", n as f64, "payments"),
        Figure::new(
            "import_rate",
            n as f64 / elapsed.as_secs_f64(),
            "payments/s",
        )
        .at_least(50_000.0),
        Figure::new("elapsed_ms", crate::report::ms(elapsed), "ms"),
        Figure::new("commits", commits as f64, "commits"),
    ]
}
