//! Many threads on one store: no overpayment, every payment persisted, few commits.

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use lnpaystore::*;

#[test]
fn racing_register_attempt_never_overpays() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let (pre, h) = payment(1);
    let value = 10_000;
    store.init_payment(&h, creation(value, 10)).unwrap();
    let threads = 48u64;
    let barrier = Arc::new(Barrier::new(threads as usize));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut ok = 0u64;
                for i in 0..10 {
                    // 1,000 msat shards: at most 10 can be in flight at once.
                    match store.register_attempt(&h, attempt(t * 100 + i, 1000, mpp(value))) {
                        Ok(p) => {
                            assert!(p.sent_amt() <= value);
                            ok += 1;
                            if i % 2 == 0 {
                                store.fail_attempt(&h, t * 100 + i, fail_info()).unwrap();
                            }
                        }
                        Err(Error::ValueExceedsAmt { .. }) => {}
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                ok
            })
        })
        .collect();
    let registered: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let p = store.fetch_payment(&h).unwrap();
    assert_eq!(p.htlcs.len() as u64, registered);
    assert!(p.sent_amt() <= value, "overpaid: {}", p.sent_amt());
    assert!(registered >= 10, "the race registered shards");
    for a in p.htlcs.iter().filter(|a| a.in_flight()) {
        store
            .settle_attempt(&h, a.info.attempt_id, settle(pre))
            .unwrap();
    }
    assert_eq!(
        store.fetch_payment(&h).unwrap().status,
        PaymentStatus::Succeeded
    );
}

#[test]
fn sixty_four_threads_of_full_life_cycles_share_few_durable_commits() {
    let dir = Place::new();
    let path = dir.path();
    // Durable commits: batching is what makes this fast.
    let store = Arc::new(Store::open(&path, Options::default()).unwrap());
    let threads = 64u64;
    let per_thread = 20u64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    pay(&store, t * 1000 + i, 1000 + i, 10);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = store.commit_stats();
    let ops = threads * per_thread * 3;
    assert_eq!(stats.operations, ops);
    assert!(
        stats.commits * 4 < ops,
        "group commit should coalesce: {} commits for {} operations",
        stats.commits,
        ops
    );
    assert!(stats.max_batch > 1);
    store.close().unwrap();

    let store = Store::open(&path, Options::default()).unwrap();
    let counts = store.payment_counts().unwrap();
    assert_eq!(counts.succeeded, threads * per_thread);
    assert_eq!(counts.total, threads * per_thread);
    for t in 0..threads {
        for i in 0..per_thread {
            let p = store.fetch_payment(&payment(t * 1000 + i).1).unwrap();
            assert_eq!(
                (p.status, p.info.value_msat),
                (PaymentStatus::Succeeded, 1000 + i)
            );
        }
    }
    assert_counts_consistent(&store);
}

#[test]
fn unbatched_store_commits_once_per_operation() {
    let dir = Place::new();
    let options = Options {
        max_batch_size: 1,
        ..fast_options()
    };
    let store = Arc::new(Store::open(dir.path(), options).unwrap());
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..5 {
                    pay(&store, t * 100 + i, 1000, 10);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = store.commit_stats();
    assert_eq!(
        (stats.commits, stats.operations, stats.max_batch),
        (120, 120, 1)
    );
}

#[test]
fn domain_errors_in_a_batch_do_not_affect_the_others() {
    let dir = Place::new();
    let options = Options {
        max_batch_delay: std::time::Duration::from_millis(20),
        ..fast_options()
    };
    let store = Arc::new(Store::open(dir.path(), options).unwrap());
    let (_, dup) = payment(1);
    store.init_payment(&dup, creation(1000, 10)).unwrap();
    // Half the threads try an init that must fail, half new payments that must succeed;
    // the linger makes them share batches.
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16u64)
        .map(|t| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                if t % 2 == 0 {
                    store.init_payment(&dup, creation(1000, 10)).map(|_| ())
                } else {
                    store
                        .init_payment(&payment(100 + t).1, creation(1000, 10))
                        .map(|_| ())
                }
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let r = h.join().unwrap();
        if t % 2 == 0 {
            assert_eq!(r, Err(Error::PaymentExists));
        } else {
            assert_eq!(r, Ok(()));
        }
    }
    assert!(
        store.commit_stats().max_batch > 1,
        "operations shared a batch"
    );
    assert_eq!(store.payment_counts().unwrap().initiated, 9);
    assert_counts_consistent(&store);
}

#[test]
fn refused_operations_sharing_a_batch_all_see_the_payment() {
    // Reopened: the payment is not in the writer's cache, so the batch loads it from the
    // store; every refused operation leaves it as it was for the next one.
    let dir = Place::new();
    let (_, h) = payment(1);
    dir.open().init_payment(&h, creation(1000, 10)).unwrap();
    let options = Options {
        max_batch_delay: std::time::Duration::from_millis(50),
        ..fast_options()
    };
    let store = Arc::new(Store::open(dir.path(), options).unwrap());
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                // Twice the payment's value: refused, whatever else the batch holds.
                store.register_attempt(&h, attempt(t, 2000, None))
            })
        })
        .collect();
    for handle in handles {
        let refused = handle.join().unwrap();
        assert!(
            matches!(refused, Err(Error::ValueMismatch { .. })),
            "{refused:?}"
        );
    }
    assert!(
        store.commit_stats().max_batch > 1,
        "refusals shared a batch"
    );
    assert_counts_consistent(&store);
}
