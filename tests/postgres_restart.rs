//! The PostgreSQL server crashes and restarts (`pg_ctl stop -m immediate`, then start)
//! while threads pay: every acknowledged operation is there afterwards, integrity holds,
//! callers in flight get `IO` or succeed, none hangs, and the store goes on working.
//! A binary of its own: the restart cuts every connection to the cluster.
#![cfg(feature = "postgres")]

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use lnpaystore::*;

#[test]
fn a_server_restart_under_load_loses_nothing_acknowledged() {
    let Some(url) = pg::fresh_schema_url("restart") else {
        return;
    };
    let store = Arc::new(Store::open(&url, Options::default()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || pg_load::run(store, 8, 200, 0, stop, Duration::from_secs(60)))
    };
    std::thread::sleep(Duration::from_millis(500));
    pg::restart_server_immediately();
    let outcomes = load.join().unwrap();
    let early = pg_load::check(&store, &outcomes, &[LpsStatus::Io]);
    eprintln!(
        "{} payments, {early} ended early by the restart",
        outcomes.len()
    );

    // The store goes on: a payment after the restart runs through.
    let after = pg_load::run(
        store.clone(),
        1,
        5,
        1_000_000,
        Arc::new(AtomicBool::new(false)),
        Duration::from_secs(60),
    );
    assert_eq!(pg_load::check(&store, &after, &[]), 0);
    store.close().unwrap();
}
