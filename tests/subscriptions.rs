//! Subscriptions: initial state, ordered updates, end of stream, exactness under load.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use lnpaystore::*;

const WAIT: Option<Duration> = Some(Duration::from_secs(10));
const POLL: Option<Duration> = Some(Duration::ZERO);

#[test]
fn unknown_hash_is_not_initiated() {
    let (_dir, store) = temp_store();
    assert!(matches!(
        store.subscribe_payment(&[1; 32]),
        Err(Error::PaymentNotInitiated)
    ));
}

#[test]
fn success_stream_ends_after_the_terminal_event() {
    let (_dir, store) = temp_store();
    let (pre, h) = payment(1);
    store.init_payment(&h, creation(2000, 10)).unwrap();
    let sub = store.subscribe_payment(&h).unwrap();
    store
        .register_attempt(&h, attempt(1, 1000, mpp(2000)))
        .unwrap();
    store
        .register_attempt(&h, attempt(2, 1000, mpp(2000)))
        .unwrap();
    store.settle_attempt(&h, 1, settle(pre)).unwrap();
    store.settle_attempt(&h, 2, settle(pre)).unwrap();
    let statuses: Vec<(PaymentStatus, usize)> = (0..5)
        .map(|_| {
            let p = sub.next(WAIT).unwrap();
            (p.status, p.htlcs.len())
        })
        .collect();
    use PaymentStatus::*;
    assert_eq!(
        statuses,
        vec![
            (Initiated, 0),
            (InFlight, 1),
            (InFlight, 2),
            (InFlight, 2),
            (Succeeded, 2)
        ]
    );
    assert!(matches!(sub.next(POLL), Err(Error::EndOfStream)));
    assert!(matches!(sub.next(WAIT), Err(Error::EndOfStream)));
}

#[test]
fn fail_stream_and_subscribing_to_a_terminal_payment() {
    let (_dir, store) = temp_store();
    let (_, h) = payment(2);
    store.init_payment(&h, creation(1000, 10)).unwrap();
    store.register_attempt(&h, attempt(1, 1000, None)).unwrap();
    let sub = store.subscribe_payment(&h).unwrap();
    store.fail_payment(&h, FailureReason::Timeout).unwrap();
    store.fail_attempt(&h, 1, fail_info()).unwrap();
    assert_eq!(sub.next(WAIT).unwrap().status, PaymentStatus::InFlight);
    let p = sub.next(WAIT).unwrap();
    assert_eq!(
        (p.status, p.state.payment_failed),
        (PaymentStatus::InFlight, true)
    );
    assert_eq!(sub.next(WAIT).unwrap().status, PaymentStatus::Failed);
    assert!(matches!(sub.next(POLL), Err(Error::EndOfStream)));

    // Late subscribers get the terminal state, then the end.
    let late = store.subscribe_payment(&h).unwrap();
    assert_eq!(late.next(POLL).unwrap().status, PaymentStatus::Failed);
    assert!(matches!(late.next(POLL), Err(Error::EndOfStream)));
}

#[test]
fn timeout_and_close_from_another_thread_wake_the_reader() {
    let (_dir, store) = temp_store();
    let (_, h) = payment(3);
    store.init_payment(&h, creation(1000, 10)).unwrap();
    let sub = Arc::new(store.subscribe_payment(&h).unwrap());
    sub.next(POLL).unwrap();
    assert!(matches!(
        sub.next(Some(Duration::from_millis(20))),
        Err(Error::Timeout)
    ));
    let reader = {
        let sub = sub.clone();
        std::thread::spawn(move || sub.next(None))
    };
    std::thread::sleep(Duration::from_millis(50));
    sub.close();
    sub.close(); // idempotent
    assert!(matches!(reader.join().unwrap(), Err(Error::EndOfStream)));
    // Updates after unsubscribing are not delivered and do not block the store.
    store.register_attempt(&h, attempt(1, 1000, None)).unwrap();
    assert!(matches!(sub.next(POLL), Err(Error::EndOfStream)));
}

#[test]
fn subscribe_all_starts_with_in_flight_payments_then_every_change() {
    let (_dir, store) = temp_store();
    pay(&store, 10, 1000, 10); // terminal: not in the initial state
    let (pre, a) = payment(11);
    store.init_payment(&a, creation(1000, 10)).unwrap();
    store.register_attempt(&a, attempt(1, 1000, None)).unwrap();
    let (_, b) = payment(12);
    store.init_payment(&b, creation(1000, 10)).unwrap();

    let sub = store.subscribe_all_payments().unwrap();
    assert_eq!(sub.next(POLL).unwrap().hash, a);
    assert_eq!(sub.next(POLL).unwrap().hash, b);
    assert!(matches!(sub.next(POLL), Err(Error::Timeout)));

    store.settle_attempt(&a, 1, settle(pre)).unwrap();
    let c = pay(&store, 13, 1000, 10);
    let got: Vec<(PaymentHash, PaymentStatus)> = (0..4)
        .map(|_| sub.next(WAIT).map(|p| (p.hash, p.status)).unwrap())
        .collect();
    use PaymentStatus::*;
    assert_eq!(
        got,
        vec![
            (a, Succeeded),
            (c, Initiated),
            (c, InFlight),
            (c, Succeeded)
        ]
    );
    // Unlike single-payment streams, subscribe-all goes on after terminal states.
    assert!(matches!(sub.next(POLL), Err(Error::Timeout)));
    store.close().unwrap();
    assert!(
        matches!(sub.next(WAIT), Err(Error::EndOfStream)),
        "closing the store ends streams"
    );
}

/// Subscribers attached while updates flow see a gap-free, duplicate-free history: every
/// state after the initial one has exactly one more update than the one before.
#[test]
fn no_lost_or_duplicated_events_under_concurrent_updates() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let shards = 40u64;
    let (pre, h) = payment(20);
    store.init_payment(&h, creation(shards * 100, 10)).unwrap();
    // Progress of a state: attempts registered plus outcomes recorded.
    let progress = |p: &Payment| p.htlcs.len() + p.htlcs.iter().filter(|x| !x.in_flight()).count();
    // One pair sees the whole history; the others attach while updates flow.
    let mut subs = vec![(
        store.subscribe_payment(&h).unwrap(),
        store.subscribe_all_payments().unwrap(),
    )];
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for id in 1..=shards {
                store
                    .register_attempt(&h, attempt(id, 100, mpp(shards * 100)))
                    .unwrap();
            }
            for id in 1..=shards {
                if id % 2 == 0 {
                    store.fail_attempt(&h, id, fail_info()).unwrap();
                    store
                        .register_attempt(&h, attempt(id + 1000, 100, mpp(shards * 100)))
                        .unwrap();
                }
            }
            for id in (1..=shards)
                .filter(|i| i % 2 == 1)
                .chain((1..=shards).filter(|i| i % 2 == 0).map(|i| i + 1000))
            {
                store.settle_attempt(&h, id, settle(pre)).unwrap();
            }
        })
    };
    for _ in 0..20 {
        subs.push((
            store.subscribe_payment(&h).unwrap(),
            store.subscribe_all_payments().unwrap(),
        ));
        std::thread::sleep(Duration::from_micros(300));
    }
    writer.join().unwrap();
    let total_updates = shards * 2 + shards / 2 * 2;
    for (single, all) in subs {
        let mut last = None;
        loop {
            match single.next(WAIT) {
                Ok(p) => {
                    let n = progress(&p);
                    if let Some(prev) = last {
                        assert_eq!(n, prev + 1, "single stream: gap or duplicate");
                    }
                    last = Some(n);
                }
                Err(Error::EndOfStream) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(
            last,
            Some(total_updates as usize),
            "single stream reached the end"
        );
        let mut last = None;
        while let Ok(p) = all.next(POLL) {
            let n = progress(&p);
            if let Some(prev) = last {
                assert_eq!(n, prev + 1, "all stream: gap or duplicate");
            }
            last = Some(n);
        }
        // A subscriber that attached after the terminal state has nothing to see.
        if let Some(last) = last {
            assert_eq!(last, total_updates as usize, "all stream reached the end");
        }
    }
}

/// Closing the store ends streams only after the events they already queued: a reader
/// that was behind still learns every committed state.
#[test]
fn closing_the_store_delivers_queued_events_first() {
    let (_dir, store) = temp_store();
    let (pre, h) = payment(1);
    store.init_payment(&h, creation(1000, 1)).unwrap();
    let one = store.subscribe_payment(&h).unwrap();
    let all = store.subscribe_all_payments().unwrap();
    store.register_attempt(&h, attempt(1, 1000, None)).unwrap();
    store.settle_attempt(&h, 1, settle(pre)).unwrap();
    store.close().unwrap();
    for sub in [&one, &all] {
        let statuses: Vec<PaymentStatus> = std::iter::from_fn(|| sub.next(POLL).ok())
            .map(|p| p.status)
            .collect();
        use PaymentStatus::*;
        assert_eq!(statuses, vec![Initiated, InFlight, Succeeded]);
        assert!(matches!(sub.next(WAIT), Err(Error::EndOfStream)));
    }
}

#[test]
fn deleting_a_payment_ends_its_stream_and_a_new_payment_with_its_hash_is_not_streamed() {
    let (_dir, store) = temp_store();
    let (_, h) = payment(1);
    store.init_payment(&h, creation(2000, 10)).unwrap();
    let sub = store.subscribe_payment(&h).unwrap();
    let first = sub.next(WAIT).unwrap();
    assert_eq!(first.status, PaymentStatus::Initiated);
    store.delete_payment(&h, false).unwrap();
    assert!(matches!(sub.next(WAIT), Err(Error::EndOfStream)));
    // The hash initiated again is another payment: not this stream's.
    store.init_payment(&h, creation(3000, 20)).unwrap();
    assert!(matches!(sub.next(POLL), Err(Error::EndOfStream)));
    let again = store.subscribe_payment(&h).unwrap();
    let p = again.next(WAIT).unwrap();
    assert_ne!(p.sequence_num, first.sequence_num);
}

#[test]
fn bulk_deletion_ends_the_streams_of_the_payments_it_deletes() {
    let (_dir, store) = temp_store();
    let (_, kept) = payment(1);
    let (_, gone) = payment(2);
    store.init_payment(&kept, creation(1000, 10)).unwrap();
    store
        .register_attempt(&kept, attempt(1, 1000, None))
        .unwrap(); // in flight: bulk deletion keeps it
    store.init_payment(&gone, creation(1000, 10)).unwrap();
    let kept_sub = store.subscribe_payment(&kept).unwrap();
    let gone_sub = store.subscribe_payment(&gone).unwrap();
    kept_sub.next(WAIT).unwrap();
    gone_sub.next(WAIT).unwrap();
    assert_eq!(store.delete_payments(false, false).unwrap(), 1);
    assert!(matches!(gone_sub.next(WAIT), Err(Error::EndOfStream)));
    assert!(matches!(kept_sub.next(POLL), Err(Error::Timeout)));
}
