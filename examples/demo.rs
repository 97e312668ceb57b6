//! The full payment life cycle on the embedded store, including a restart.
//!
//! `cargo run --example demo [PATH]` (default `./demo.db`). Runs again on the same file
//! add new payments: payment hashes are derived from the clock.

use std::time::{SystemTime, UNIX_EPOCH};

use lnpaystore::*;
use sha2::{Digest, Sha256};

fn hop(i: u8, amt: u64, mpp: Option<Mpp>) -> Hop {
    Hop {
        pub_key: [0x02 + i; 33],
        channel_id: 800_000 << 40 | u64::from(i),
        outgoing_time_lock: 850_000 - 40 * u32::from(i),
        amt_to_forward_msat: amt,
        mpp,
        ..Default::default()
    }
}

/// A 3-hop route paying `amt` to the receiver, 1 sat fee per forwarding hop.
fn route(amt: u64, mpp: Option<Mpp>) -> Route {
    Route {
        total_time_lock: 850_100,
        total_amount_msat: amt + 2000,
        source_pub_key: [0x03; 33],
        hops: vec![
            hop(0, amt + 1000, None),
            hop(1, amt, None),
            hop(2, amt, mpp),
        ],
        ..Default::default()
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

fn main() -> Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "demo.db".into());
    let seed = now_ns();
    let preimage =
        |n: u8| -> Preimage { Sha256::digest([&seed.to_be_bytes()[..], &[n]].concat()).into() };
    let hash_of = |p: &Preimage| -> PaymentHash { Sha256::digest(p).into() };

    let store = Store::open(&path, Options::default())?;
    println!("opened {path}");

    // Payment 1: 300,000 msat in three shards; one fails and is retried.
    let (pre1, value1) = (preimage(1), 300_000);
    let hash1 = hash_of(&pre1);
    let mpp = Some(Mpp {
        payment_addr: preimage(9),
        total_msat: value1,
    });
    store.init_payment(
        &hash1,
        CreationInfo {
            value_msat: value1,
            creation_time_ns: now_ns(),
            ..Default::default()
        },
    )?;
    for id in 1..=3 {
        store.register_attempt(
            &hash1,
            AttemptInfo {
                attempt_id: id,
                route: route(100_000, mpp),
                attempt_time_ns: now_ns(),
                ..Default::default()
            },
        )?;
    }
    let fail = FailInfo {
        fail_time_ns: now_ns(),
        message: vec![0x10, 0x07],
        reason: HtlcFailReason::Message,
        failure_source_index: 1,
    };
    let p = store.fail_attempt(&hash1, 2, fail)?;
    println!(
        "shard 2 failed: {} msat left to send",
        p.state.remaining_amt_msat
    );
    store.register_attempt(
        &hash1,
        AttemptInfo {
            attempt_id: 4,
            route: route(100_000, mpp),
            attempt_time_ns: now_ns(),
            ..Default::default()
        },
    )?;
    for id in [1, 3, 4] {
        store.settle_attempt(
            &hash1,
            id,
            SettleInfo {
                preimage: pre1,
                settle_time_ns: now_ns(),
            },
        )?;
    }
    println!("payment 1: {:?}", store.fetch_payment(&hash1)?.status);

    // Payment 2: left in flight across a restart.
    let pre2 = preimage(2);
    let hash2 = hash_of(&pre2);
    store.init_payment(
        &hash2,
        CreationInfo {
            value_msat: 50_000,
            creation_time_ns: now_ns(),
            ..Default::default()
        },
    )?;
    store.register_attempt(
        &hash2,
        AttemptInfo {
            attempt_id: 1,
            route: route(50_000, None),
            attempt_time_ns: now_ns(),
            ..Default::default()
        },
    )?;
    store.close()?;
    println!("closed with payment 2 in flight; reopening");

    let store = Store::open(&path, Options::default())?;
    for p in store.fetch_inflight_payments()? {
        println!("resuming payment seq {} ({:?})", p.sequence_num, p.status);
        if p.hash == hash2 {
            for h in p.htlcs.iter().filter(|h| h.in_flight()) {
                store.settle_attempt(
                    &p.hash,
                    h.info.attempt_id,
                    SettleInfo {
                        preimage: pre2,
                        settle_time_ns: now_ns(),
                    },
                )?;
            }
        }
    }

    let page = store.query_payments(&Query {
        include_incomplete: true,
        reversed: true,
        max_payments: 20,
        count_total: true,
        ..Default::default()
    })?;
    println!(
        "\n{:>5}  {:<16}  {:<10}  {:>10}  {:>7}  {:>6}",
        "seq", "hash", "status", "value", "fees", "shards"
    );
    for p in &page.payments {
        let hash: String = p.hash[..8].iter().map(|b| format!("{b:02x}")).collect();
        println!(
            "{:>5}  {:<16}  {:<10}  {:>10}  {:>7}  {:>6}",
            p.sequence_num,
            hash,
            format!("{:?}", p.status),
            p.info.value_msat,
            p.state.fees_paid_msat,
            p.htlcs.len()
        );
    }
    let c = store.payment_counts()?;
    println!(
        "\ncounts: total {} | initiated {} | in flight {} | succeeded {} | failed {}",
        c.total, c.initiated, c.in_flight, c.succeeded, c.failed
    );
    println!("commits: {:?}", store.commit_stats());
    store.close()
}
