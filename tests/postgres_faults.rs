//! Connections cut at random moments, during COMMIT among others, while threads pay
//! (`pg_terminate_backend` of the store's server processes): nothing acknowledged is
//! lost, nothing that failed is applied, nothing is applied twice, no caller hangs.
//! A binary of its own: it cuts every lnpaystore connection of its database.
#![cfg(feature = "postgres")]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use lnpaystore::*;

#[test]
fn connections_cut_during_commits_lose_nothing_and_apply_nothing_twice() {
    let Some(url) = pg::fresh_schema_url("cut") else {
        return;
    };
    let store = Arc::new(Store::open(&url, Options::default()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // Connections cut while a write transaction was in flight (one call of the schema's
    // apply_batch, which is the whole transaction), of those while its commit record was being
    // flushed (the moment whose outcome the client cannot know), and at other moments.
    let cuts = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let killer = {
        let (stop, cuts) = (stop.clone(), cuts.clone());
        let mut admin = pg::client(&url);
        std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                // Mostly wait for a write transaction in flight and cut it; now and then
                // cut whatever the store has open.
                let filter = if round % 20 == 0 {
                    ""
                } else {
                    "AND state = 'active' AND query LIKE 'SELECT apply_batch(%'"
                };
                let rows = admin
                    .query(
                        &format!(
                            "SELECT pg_terminate_backend(pid), coalesce(wait_event, '') \
                             FROM pg_stat_activity \
                             WHERE application_name = 'lnpaystore' AND datname = current_database() \
                             AND pid <> pg_backend_pid() {filter}"
                        ),
                        &[],
                    )
                    .unwrap();
                for row in &rows {
                    let wait: String = row.get(1);
                    let kind = match (filter.is_empty(), wait.starts_with("WAL")) {
                        (true, _) => 2,
                        (false, true) => 1,
                        (false, false) => 0,
                    };
                    cuts[kind].fetch_add(1, Ordering::Relaxed);
                }
                let pause = if !rows.is_empty() {
                    50
                } else if filter.is_empty() {
                    20
                } else {
                    1
                };
                std::thread::sleep(Duration::from_millis(pause));
            }
        })
    };
    let outcomes = pg_load::run(
        store.clone(),
        8,
        150,
        0,
        stop.clone(),
        Duration::from_secs(60),
    );
    stop.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    let early = pg_load::check(&store, &outcomes, &[LpsStatus::Io]);
    let [in_tx, in_flush, others] = [0, 1, 2].map(|i| cuts[i].load(Ordering::Relaxed));
    eprintln!(
        "{} payments, {early} ended early by a cut; connections cut: {} during a write \
         transaction ({in_flush} of them while its commit was being flushed), {others} at \
         other moments",
        outcomes.len(),
        in_tx + in_flush
    );
    assert!(
        in_tx + in_flush > 0,
        "no write transaction was cut: the test tested nothing"
    );
    store.close().unwrap();
}
