//! The mission-control store: persistence, eviction, duplicates, the flush interval,
//! the idle flusher, corrupt entries, namespaces.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{fast_options, open, Place};
use lnpaystore::backend::{self, schema::MC_RESULTS, RedbBackend, RedbConfig};
use lnpaystore::*;

/// Result `n`: replied at second `n`, one hop, a failure every third result.
fn mc_result(n: u64) -> McResult {
    McResult {
        id: n,
        time_forwarded_ns: (n as i64) * 1_000_000_000 - 500,
        time_reply_ns: (n as i64) * 1_000_000_000,
        route: McRoute {
            source_pub_key: [0x02; 33],
            total_amount_msat: 1000 + n,
            hops: vec![McHop {
                channel_id: n,
                pub_key: [0x03; 33],
                amt_to_forward_msat: 1000,
                has_blinding_point: n % 2 == 0,
                has_custom_records: false,
            }],
        },
        failure: (n % 3 == 0).then(|| McFailure {
            source_index: Some(1),
            message: Some(vec![0x40, 0x0f, n as u8]),
        }),
    }
}

/// Options whose flusher never fires during a test: flushes are explicit.
fn manual(max_records: u32) -> McOptions {
    McOptions {
        max_records,
        flush_interval: Duration::from_secs(3600),
    }
}

/// Queues results `ns` (see `mc_result`).
fn add_all(mc: &MissionControl, ns: impl IntoIterator<Item = u64>) {
    for n in ns {
        mc.add_result(mc_result(n)).unwrap();
    }
}

fn ids(results: &[McResult]) -> Vec<u64> {
    results.iter().map(|r| r.id).collect()
}

/// A fresh store location of the fixture's backend (a file, or a PostgreSQL schema).
fn temp() -> (Place, std::path::PathBuf) {
    let place = Place::new();
    let path = place.path();
    (place, path)
}

/// A store file, for the tests that tamper with the embedded engine's rows.
fn temp_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mc.db");
    (dir, path)
}

#[test]
fn results_survive_close_and_reopen() {
    let (_dir, path) = temp();
    let written: Vec<McResult> = (1..=20).map(mc_result).collect();
    {
        let store = open(&path);
        let mc = store.open_mission_control("default", manual(0)).unwrap();
        for r in &written {
            mc.add_result(r.clone()).unwrap();
        }
        mc.flush().unwrap();
        store.close().unwrap();
    }
    let store = open(&path);
    let mc = store.open_mission_control("default", manual(0)).unwrap();
    assert_eq!(mc.fetch_all().unwrap(), written);
    assert_eq!(mc.stats().unwrap().stored, 20);
}

#[test]
fn eviction_keeps_the_newest_across_flushes_and_reopen() {
    let (_dir, path) = temp();
    {
        let store = open(&path);
        let mc = store.open_mission_control("default", manual(10)).unwrap();
        // Three flushes of 7; one result arrives late (older than all kept) and is
        // evicted at once.
        for batch in [1..=7u64, 8..=14, 15..=21] {
            add_all(&mc, batch);
            mc.flush().unwrap();
            let kept = ids(&mc.fetch_all().unwrap());
            let newest = *kept.last().unwrap();
            assert_eq!(
                kept,
                (newest.saturating_sub(9).max(1)..=newest).collect::<Vec<_>>()
            );
        }
        mc.add_result(mc_result(2)).unwrap();
        mc.flush().unwrap();
        assert_eq!(ids(&mc.fetch_all().unwrap()), (12..=21).collect::<Vec<_>>());
        let stats = mc.stats().unwrap();
        assert_eq!((stats.stored, stats.evicted), (10, 12));
        store.close().unwrap();
    }
    // After a reopen the limit still holds against the stored keys.
    let store = open(&path);
    let mc = store.open_mission_control("default", manual(10)).unwrap();
    add_all(&mc, 22..=24);
    mc.flush().unwrap();
    assert_eq!(ids(&mc.fetch_all().unwrap()), (15..=24).collect::<Vec<_>>());
}

#[test]
fn duplicates_are_stored_once() {
    let (_dir, path) = temp();
    let store = open(&path);
    let mc = store.open_mission_control("default", manual(0)).unwrap();
    for _ in 0..3 {
        mc.add_result(mc_result(5)).unwrap();
    }
    mc.flush().unwrap();
    mc.add_result(mc_result(5)).unwrap();
    mc.add_result(mc_result(6)).unwrap();
    mc.flush().unwrap();
    assert_eq!(ids(&mc.fetch_all().unwrap()), vec![5, 6]);
    assert_eq!(mc.stats().unwrap().stored, 2);
}

#[test]
fn the_flusher_stores_once_the_interval_has_passed() {
    let (_dir, path) = temp();
    let store = open(&path);
    let interval = Duration::from_millis(1500);
    let mc = store
        .open_mission_control(
            "default",
            McOptions {
                max_records: 0,
                flush_interval: interval,
            },
        )
        .unwrap();
    let start = Instant::now();
    add_all(&mc, 1..=5);
    // Well inside the interval: nothing is stored yet.
    let stats = mc.stats().unwrap();
    if start.elapsed() < interval / 2 {
        assert_eq!((stats.queued, stats.stored, stats.flushes), (5, 0, 0));
        assert!(mc.fetch_all().unwrap().is_empty());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while mc.stats().unwrap().stored < 5 {
        assert!(
            Instant::now() < deadline,
            "the flusher never stored the results"
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert!(
        start.elapsed() >= interval,
        "stored before the interval elapsed"
    );
    let stats = mc.stats().unwrap();
    assert_eq!((stats.queued, stats.flushes), (0, 1));
    assert_eq!(ids(&mc.fetch_all().unwrap()), vec![1, 2, 3, 4, 5]);
}

#[test]
fn flush_stores_at_once() {
    let (_dir, path) = temp();
    let store = open(&path);
    let mc = store.open_mission_control("default", manual(0)).unwrap();
    mc.add_result(mc_result(1)).unwrap();
    assert!(mc.fetch_all().unwrap().is_empty());
    mc.flush().unwrap();
    assert_eq!(ids(&mc.fetch_all().unwrap()), vec![1]);
    // Nothing queued: no transaction.
    mc.flush().unwrap();
    assert_eq!(mc.stats().unwrap().flushes, 1);
}

#[test]
fn closing_stores_everything_queued() {
    let (_dir, path) = temp();
    {
        let store = open(&path);
        let mc = store.open_mission_control("default", manual(0)).unwrap();
        add_all(&mc, 1..=50);
        mc.close().unwrap();
        assert_eq!(mc.add_result(mc_result(51)), Err(Error::Closed));
        assert_eq!(mc.flush(), Err(Error::Closed));
        mc.close().unwrap(); // idempotent
                             // The store's close stores what its handles queued too.
        let other = store.open_mission_control("other", manual(0)).unwrap();
        other.add_result(mc_result(1)).unwrap();
        store.close().unwrap();
        assert_eq!(other.fetch_all(), Err(Error::Closed));
    }
    let store = open(&path);
    let mc = store.open_mission_control("default", manual(0)).unwrap();
    assert_eq!(mc.fetch_all().unwrap().len(), 50);
    let other = store.open_mission_control("other", manual(0)).unwrap();
    assert_eq!(ids(&other.fetch_all().unwrap()), vec![1]);
}

#[test]
fn an_idle_flusher_never_wakes_up() {
    let (_dir, path) = temp();
    let store = open(&path);
    let mc = store
        .open_mission_control(
            "default",
            McOptions {
                max_records: 0,
                flush_interval: Duration::from_millis(100),
            },
        )
        .unwrap();
    thread::sleep(Duration::from_secs(2));
    assert_eq!(mc.stats().unwrap().wakeups, 0);
    // One burst: the flusher wakes, waits out one interval, stores, and sleeps again.
    add_all(&mc, 1..=100);
    let deadline = Instant::now() + Duration::from_secs(10);
    while mc.stats().unwrap().stored < 100 {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(10));
    }
    let after_burst = mc.stats().unwrap();
    assert_eq!(after_burst.flushes, 1);
    assert!(after_burst.wakeups <= 3, "{} wake-ups", after_burst.wakeups);
    thread::sleep(Duration::from_secs(2));
    assert_eq!(mc.stats().unwrap().wakeups, after_burst.wakeups);
}

#[test]
fn corrupt_entries_are_removed_by_fetch_all() {
    let (_dir, path) = temp_file();
    let engine = Arc::new(RedbBackend::open(&path, RedbConfig::default()).unwrap());
    let store = Store::with_backend(engine.clone(), fast_options()).unwrap();
    let mc = store.open_mission_control("ns", manual(0)).unwrap();
    add_all(&mc, 1..=3);
    mc.flush().unwrap();
    // Overwrite result 2's value with an unknown even type.
    let mut row = vec![2u8];
    row.extend_from_slice(b"ns");
    row.extend_from_slice(&mc_result(2).key());
    backend::update(engine.as_ref(), |tx| {
        tx.put(MC_RESULTS, &row, &[0x04, 0x00])
    })
    .unwrap();
    assert_eq!(ids(&mc.fetch_all().unwrap()), vec![1, 3]);
    let stats = mc.stats().unwrap();
    assert_eq!((stats.stored, stats.corrupted_removed), (2, 1));
    let left = backend::read(engine.as_ref(), |tx| tx.get(MC_RESULTS, &row)).unwrap();
    assert_eq!(left, None);
    // The freed key can be stored again.
    mc.add_result(mc_result(2)).unwrap();
    mc.flush().unwrap();
    assert_eq!(ids(&mc.fetch_all().unwrap()), vec![1, 2, 3]);
}

#[test]
fn namespaces_are_independent_and_clear_empties_one() {
    let (_dir, path) = temp();
    let store = open(&path);
    let a = store.open_mission_control("a", manual(3)).unwrap();
    let ab = store.open_mission_control("ab", manual(0)).unwrap();
    for n in 1..=5 {
        a.add_result(mc_result(n)).unwrap();
        ab.add_result(mc_result(n + 100)).unwrap();
    }
    a.flush().unwrap();
    ab.flush().unwrap();
    assert_eq!(ids(&a.fetch_all().unwrap()), vec![3, 4, 5]);
    assert_eq!(ab.fetch_all().unwrap().len(), 5);
    ab.add_result(mc_result(200)).unwrap();
    ab.clear().unwrap();
    ab.flush().unwrap();
    assert!(ab.fetch_all().unwrap().is_empty());
    assert_eq!(ab.stats().unwrap().stored, 0);
    assert_eq!(ids(&a.fetch_all().unwrap()), vec![3, 4, 5]);
}

#[test]
fn a_namespace_opens_once_per_store() {
    let (_dir, path) = temp();
    let store = open(&path);
    let mc = store.open_mission_control("default", manual(0)).unwrap();
    assert!(matches!(
        store.open_mission_control("default", manual(0)),
        Err(Error::Locked(_))
    ));
    mc.close().unwrap();
    store.open_mission_control("default", manual(0)).unwrap();
    assert!(matches!(
        store.open_mission_control("", manual(0)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        store.open_mission_control(&"x".repeat(256), manual(0)),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn negative_times_are_invalid() {
    let (_dir, path) = temp();
    let store = open(&path);
    let mc = store.open_mission_control("default", manual(0)).unwrap();
    let mut r = mc_result(1);
    r.time_reply_ns = -1;
    assert!(matches!(mc.add_result(r), Err(Error::InvalidArgument(_))));
    assert_eq!(mc.stats().unwrap().queued, 0);
}

#[test]
fn rows_with_malformed_keys_are_removed_at_open() {
    let (_dir, path) = temp_file();
    let engine = Arc::new(RedbBackend::open(&path, RedbConfig::default()).unwrap());
    let store = Store::with_backend(engine.clone(), fast_options()).unwrap();
    let short_row = [&[7u8][..], b"default", &[1, 2, 3]].concat();
    backend::update(engine.as_ref(), |tx| tx.put(MC_RESULTS, &short_row, &[])).unwrap();
    let mc = store.open_mission_control("default", manual(0)).unwrap();
    let stats = mc.stats().unwrap();
    assert_eq!((stats.stored, stats.corrupted_removed), (0, 1));
    let left = backend::read(engine.as_ref(), |tx| tx.get(MC_RESULTS, &short_row)).unwrap();
    assert_eq!(left, None);
}

#[test]
fn concurrent_producers_lose_nothing() {
    let (_dir, path) = temp();
    let store = open(&path);
    let mc = store
        .open_mission_control(
            "default",
            McOptions {
                max_records: 0,
                flush_interval: Duration::from_millis(5),
            },
        )
        .unwrap();
    thread::scope(|s| {
        for t in 0..8u64 {
            let mc = &mc;
            s.spawn(move || {
                for n in 0..250 {
                    mc.add_result(mc_result(1 + t * 1000 + n)).unwrap();
                    if n % 50 == 0 {
                        mc.flush().unwrap();
                    }
                }
            });
        }
    });
    mc.flush().unwrap();
    assert_eq!(mc.fetch_all().unwrap().len(), 2000);
    assert_eq!(mc.stats().unwrap().stored, 2000);
}

#[test]
fn reopening_with_a_lower_limit_trims_at_once() {
    let (_dir, path) = temp();
    let store = open(&path);
    let mc = store.open_mission_control("default", manual(0)).unwrap();
    add_all(&mc, 1..=10);
    mc.close().unwrap();
    let mc = store.open_mission_control("default", manual(3)).unwrap();
    assert_eq!(ids(&mc.fetch_all().unwrap()), vec![8, 9, 10]);
    let stats = mc.stats().unwrap();
    assert_eq!((stats.stored, stats.evicted), (3, 7));
}
