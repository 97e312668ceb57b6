//! Race test: many threads racing register / settle / fail on one MPP payment while
//! subscribers watch. Never overpays; every subscriber sees each committed state exactly
//! once, in order; nothing deadlocks (the whole run has a deadline).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::{attempt, creation, fail_info, mpp, payment, settle};
use lnpaystore::*;

const VALUE: u64 = 100_000;
const RACERS: u64 = 16;

/// Each committed change adds exactly one: an attempt, an attempt's outcome, or the
/// payment's failure reason (set once here). Consecutive events must differ by one.
fn progress(p: &Payment) -> usize {
    let resolved = p.htlcs.iter().filter(|h| !h.in_flight()).count();
    p.htlcs.len() + resolved + usize::from(p.failure_reason.is_some())
}

fn sent(p: &Payment) -> u64 {
    p.htlcs
        .iter()
        .filter(|h| h.failure.is_none())
        .map(|h| h.info.route.receiver_amt())
        .sum()
}

/// Collects a subscription's events until it ends (or, for subscribe-all, until `stop`).
fn watch(sub: Subscription, hash: PaymentHash) -> thread::JoinHandle<Vec<Arc<Payment>>> {
    thread::spawn(move || {
        let mut seen = Vec::new();
        loop {
            match sub.next(Some(Duration::from_secs(30))) {
                Ok(p) if p.hash == hash => seen.push(p),
                Ok(_) => {}
                Err(Error::EndOfStream) => return seen,
                Err(e) => panic!("subscription: {e}"),
            }
        }
    })
}

fn check_stream(name: &str, events: &[Arc<Payment>], last: &Payment) {
    assert!(!events.is_empty(), "{name}: no events");
    for pair in events.windows(2) {
        assert_eq!(
            progress(&pair[1]),
            progress(&pair[0]) + 1,
            "{name}: an update was lost or duplicated"
        );
    }
    assert_eq!(
        **events.last().unwrap(),
        *last,
        "{name}: final state differs"
    );
}

fn race() {
    let (dir, store) = common::temp_store();
    let store = Arc::new(store);
    let (pre, hash) = payment(1);
    store
        .init_payment(&hash, creation(VALUE, 1_700_000_000))
        .unwrap();

    let early = store.subscribe_payment(&hash).unwrap();
    let all = store.subscribe_all_payments().unwrap();
    let watchers = vec![("early", watch(early, hash)), ("all", watch(all, hash))];
    let late_watchers: Arc<std::sync::Mutex<Vec<Subscription>>> = Arc::default();

    // Phase 1: racers register shards of random sizes and fail about half of them.
    let next_id = AtomicU64::new(1);
    thread::scope(|s| {
        for t in 0..RACERS {
            let (store, next_id, late) = (&store, &next_id, &late_watchers);
            s.spawn(move || {
                let mut seed = t * 7919 + 1;
                for i in 0..40 {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let amt = 1_000 + (seed >> 33) % 9_000;
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    match store.register_attempt(&hash, attempt(id, amt, mpp(VALUE))) {
                        Ok(p) => {
                            assert!(sent(&p) <= VALUE, "overpaid: {} > {VALUE}", sent(&p));
                            if seed % 2 == 0 {
                                let p = store.fail_attempt(&hash, id, fail_info()).unwrap();
                                assert!(sent(&p) <= VALUE);
                            }
                        }
                        Err(Error::ValueExceedsAmt { .. }) => {}
                        Err(e) => panic!("register: {e}"),
                    }
                    if t == 0 && i == 20 {
                        late.lock()
                            .unwrap()
                            .push(store.subscribe_payment(&hash).unwrap());
                    }
                }
            });
        }
    });

    // Phase 2: settle every in-flight shard from several threads at once, while one
    // thread records the payment's failure reason.
    let p = store.fetch_payment(&hash).unwrap();
    assert!(sent(&p) <= VALUE);
    let mut inflight: Vec<u64> = p
        .htlcs
        .iter()
        .filter(|h| h.in_flight())
        .map(|h| h.info.attempt_id)
        .collect();
    if inflight.is_empty() {
        let amt = VALUE - sent(&p);
        store
            .register_attempt(&hash, attempt(999_999, amt.max(1), mpp(VALUE)))
            .unwrap();
        inflight.push(999_999);
    }
    let late = late_watchers.lock().unwrap().pop().unwrap();
    let late = ("late", watch(late, hash));
    // The last shard settles alone at the end, so its state is the terminal event.
    let final_shard = inflight.pop().unwrap();
    thread::scope(|s| {
        for chunk in inflight.chunks(inflight.len().div_ceil(4).max(1)) {
            let store = &store;
            s.spawn(move || {
                for id in chunk {
                    let p = store.settle_attempt(&hash, *id, settle(pre)).unwrap();
                    assert!(sent(&p) <= VALUE);
                }
            });
        }
        s.spawn(|| {
            store.fail_payment(&hash, FailureReason::Timeout).unwrap();
        });
    });

    let last = store
        .settle_attempt(&hash, final_shard, settle(pre))
        .unwrap();
    assert_eq!(last.status, PaymentStatus::Succeeded);
    assert_eq!(last, store.fetch_payment(&hash).unwrap());
    assert!(sent(&last) <= VALUE);
    assert_eq!(
        store.register_attempt(&hash, attempt(1_000_000, 1, mpp(VALUE))),
        Err(Error::PaymentAlreadySucceeded)
    );
    // Single-payment streams end after the terminal state; the store's close ends the
    // subscribe-all stream.
    let mut watchers: Vec<_> = watchers.into_iter().chain([late]).collect();
    let all = watchers.remove(1);
    for (name, w) in watchers {
        let events = w.join().unwrap();
        check_stream(name, &events, &last);
        if name == "early" {
            assert_eq!(
                progress(&events[0]),
                0,
                "the first event is the initial state"
            );
        }
    }
    store.close().unwrap();
    let events = all.1.join().unwrap();
    check_stream(all.0, &events, &last);
    assert_eq!(
        progress(&events[0]),
        0,
        "subscribe-all starts with the in-flight state"
    );
    drop(dir);
}

#[test]
fn racing_shards_never_overpay_and_subscribers_see_every_update_once() {
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        race();
        done.send(()).unwrap();
    });
    match finished.recv_timeout(Duration::from_secs(120)) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("deadlock: the race did not finish in 120 s")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the race failed (see above)"),
    }
}
