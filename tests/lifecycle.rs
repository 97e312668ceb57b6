//! The payment life cycle through the Rust API, after lnd's payment control tests.

mod common;

use common::*;
use lnpaystore::*;

#[test]
fn double_send_is_refused_in_every_state_and_after_reopen() {
    let (dir, store) = temp_store();
    let (pre, hash) = payment(1);
    store.init_payment(&hash, creation(1000, 10)).unwrap();
    assert_eq!(
        store.init_payment(&hash, creation(1000, 10)),
        Err(Error::PaymentExists)
    );
    store
        .register_attempt(&hash, attempt(1, 1000, None))
        .unwrap();
    assert_eq!(
        store.init_payment(&hash, creation(1000, 10)),
        Err(Error::PaymentInFlight)
    );
    store.settle_attempt(&hash, 1, settle(pre)).unwrap();
    assert_eq!(
        store.init_payment(&hash, creation(1000, 10)),
        Err(Error::AlreadyPaid)
    );
    store.close().unwrap();

    let store = dir.open();
    assert_eq!(
        store.init_payment(&hash, creation(1000, 10)),
        Err(Error::AlreadyPaid)
    );
    // Deleting the history must not reopen the door to paying twice.
    store.delete_payment(&hash, false).unwrap();
    assert_eq!(store.fetch_payment(&hash), Err(Error::PaymentNotInitiated));
    assert_eq!(
        store.init_payment(&hash, creation(1000, 10)),
        Err(Error::AlreadyPaid)
    );
    store.delete_payments(false, false).unwrap();
    assert_eq!(
        store.init_payment(&hash, creation(1000, 10)),
        Err(Error::AlreadyPaid)
    );
    assert_counts_consistent(&store);
}

#[test]
fn single_shard_success_reports_state_at_each_step() {
    let (_dir, store) = temp_store();
    let (pre, hash) = payment(2);
    let p = store.init_payment(&hash, creation(1000, 10)).unwrap();
    assert_eq!(
        (p.status, p.sequence_num, p.htlcs.len()),
        (PaymentStatus::Initiated, 1, 0)
    );
    assert_eq!(p.state.remaining_amt_msat, 1000);

    let p = store
        .register_attempt(&hash, attempt(7, 1000, None))
        .unwrap();
    assert_eq!(p.status, PaymentStatus::InFlight);
    assert_eq!(p.state.num_attempts_in_flight, 1);
    assert_eq!(p.state.remaining_amt_msat, 0);
    assert_eq!(p.state.fees_paid_msat, 30);
    assert!(p.need_wait_attempts().unwrap());
    assert!(!p.allow_more_attempts().unwrap());

    let p = store.settle_attempt(&hash, 7, settle(pre)).unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert!(p.terminated());
    assert_eq!(p.htlcs[0].settle, Some(settle(pre)));
    assert_eq!(store.fetch_payment(&hash).unwrap(), p);
    assert_eq!(p.info, creation(1000, 10));
    assert_eq!(p.htlcs[0].info, attempt(7, 1000, None));
}

#[test]
fn failed_payment_can_be_initiated_again_with_a_fresh_sequence_number() {
    let (_dir, store) = temp_store();
    let hash = fail(&store, 3, 1000, 10);
    let _other = pay(&store, 4, 500, 11);
    let failed = store.fetch_payment(&hash).unwrap();
    assert_eq!(failed.status, PaymentStatus::Failed);
    assert_eq!(failed.failure_reason, Some(FailureReason::NoRoute));
    assert_eq!(failed.sequence_num, 1);

    let p = store.init_payment(&hash, creation(2000, 12)).unwrap();
    assert_eq!(p.status, PaymentStatus::Initiated);
    assert_eq!(p.sequence_num, 3, "fresh sequence number");
    assert!(p.htlcs.is_empty(), "old attempts removed");
    assert_eq!(p.failure_reason, None, "old failure reason removed");
    assert_eq!(p.info.value_msat, 2000);

    let all = store
        .query_payments(&Query {
            include_incomplete: true,
            ..Default::default()
        })
        .unwrap();
    let seqs: Vec<u64> = all.payments.iter().map(|p| p.sequence_num).collect();
    assert_eq!(seqs, vec![2, 3], "old index entry gone");
    assert_counts_consistent(&store);
}

#[test]
fn multi_shard_payment_follows_the_status_table() {
    let (_dir, store) = temp_store();
    let (pre, hash) = payment(5);
    store.init_payment(&hash, creation(4000, 10)).unwrap();
    for id in 1..=3 {
        let p = store
            .register_attempt(&hash, attempt(id, 1000, mpp(4000)))
            .unwrap();
        assert_eq!(p.status, PaymentStatus::InFlight);
        assert_eq!(p.state.num_attempts_in_flight as u64, id);
        assert!(p.allow_more_attempts().unwrap());
    }
    // Shard 2 fails: the amount becomes available again.
    let p = store.fail_attempt(&hash, 2, fail_info()).unwrap();
    assert_eq!(p.state.remaining_amt_msat, 2000);
    assert_eq!(p.state.num_attempts_in_flight, 2);
    store
        .register_attempt(&hash, attempt(4, 1000, mpp(4000)))
        .unwrap();
    store
        .register_attempt(&hash, attempt(5, 1000, mpp(4000)))
        .unwrap();
    assert!(matches!(
        store.register_attempt(&hash, attempt(6, 1, mpp(4000))),
        Err(Error::ValueExceedsAmt {
            attempted: 4001,
            value: 4000
        })
    ));

    // First settle: still in flight, no new shards allowed.
    let p = store.settle_attempt(&hash, 1, settle(pre)).unwrap();
    assert_eq!(p.status, PaymentStatus::InFlight);
    assert!(p.state.has_settled_htlc);
    assert!(p.need_wait_attempts().unwrap());
    assert_eq!(
        store.register_attempt(&hash, attempt(9, 1000, mpp(4000))),
        Err(Error::PaymentPendingSettled)
    );
    // The remaining shards can still settle, or fail.
    store.fail_attempt(&hash, 3, fail_info()).unwrap();
    store.settle_attempt(&hash, 4, settle(pre)).unwrap();
    let p = store.settle_attempt(&hash, 5, settle(pre)).unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(
        p.state.remaining_amt_msat, 1000,
        "shard 3 failed after the settle"
    );
    assert_eq!(p.state.fees_paid_msat, 90);
    let ids: Vec<u64> = p.htlcs.iter().map(|h| h.info.attempt_id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);

    // Terminal: no more updates of any kind.
    assert_eq!(
        store.settle_attempt(&hash, 3, settle(pre)),
        Err(Error::PaymentAlreadySucceeded)
    );
    assert_eq!(
        store.register_attempt(&hash, attempt(9, 1000, mpp(4000))),
        Err(Error::PaymentAlreadySucceeded)
    );
    // fail_payment records the reason even now, without changing the outcome.
    let p = store.fail_payment(&hash, FailureReason::Timeout).unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(p.failure_reason, Some(FailureReason::Timeout));
    assert_counts_consistent(&store);
}

#[test]
fn failure_reason_with_shards_in_flight_blocks_new_shards_then_fails() {
    let (_dir, store) = temp_store();
    let (pre, hash) = payment(6);
    store.init_payment(&hash, creation(2000, 10)).unwrap();
    store
        .register_attempt(&hash, attempt(1, 1000, mpp(2000)))
        .unwrap();
    store
        .register_attempt(&hash, attempt(2, 1000, mpp(2000)))
        .unwrap();
    let p = store.fail_payment(&hash, FailureReason::Timeout).unwrap();
    assert_eq!(p.status, PaymentStatus::InFlight);
    assert!(p.state.payment_failed);
    assert_eq!(
        store.register_attempt(&hash, attempt(3, 500, mpp(2000))),
        Err(Error::PaymentPendingFailed)
    );
    store.fail_attempt(&hash, 1, fail_info()).unwrap();
    let p = store.fail_attempt(&hash, 2, fail_info()).unwrap();
    assert_eq!(p.status, PaymentStatus::Failed);
    assert_eq!(
        store.fail_attempt(&hash, 2, fail_info()),
        Err(Error::PaymentAlreadyFailed)
    );
    assert_eq!(
        store.settle_attempt(&hash, 1, settle(pre)),
        Err(Error::PaymentAlreadyFailed)
    );
    assert_eq!(
        store.register_attempt(&hash, attempt(3, 500, mpp(2000))),
        Err(Error::PaymentAlreadyFailed)
    );
    assert_counts_consistent(&store);
}

#[test]
fn all_shards_failed_without_reason_stays_in_flight_and_retryable() {
    let (_dir, store) = temp_store();
    let (_, hash) = payment(7);
    store.init_payment(&hash, creation(1000, 10)).unwrap();
    store
        .register_attempt(&hash, attempt(1, 1000, None))
        .unwrap();
    let p = store.fail_attempt(&hash, 1, fail_info()).unwrap();
    assert_eq!(p.status, PaymentStatus::InFlight);
    assert_eq!(p.state.num_attempts_in_flight, 0);
    assert!(p.allow_more_attempts().unwrap());
    assert!(!p.need_wait_attempts().unwrap());
    assert_eq!(store.fetch_inflight_payments().unwrap().len(), 1);
    // The retry may reuse nothing of the failed attempt but its amount.
    assert_eq!(
        store.register_attempt(&hash, attempt(1, 1000, None)),
        Err(Error::AttemptExists(1))
    );
    store
        .register_attempt(&hash, attempt(2, 1000, None))
        .unwrap();
}

#[test]
fn attempt_updates_check_the_attempt() {
    let (_dir, store) = temp_store();
    let (pre, hash) = payment(8);
    assert_eq!(
        store.register_attempt(&hash, attempt(1, 1000, None)),
        Err(Error::PaymentNotInitiated)
    );
    assert_eq!(
        store.settle_attempt(&hash, 1, settle(pre)),
        Err(Error::PaymentNotInitiated)
    );
    assert_eq!(
        store.fail_attempt(&hash, 1, fail_info()),
        Err(Error::PaymentNotInitiated)
    );
    assert_eq!(
        store.fail_payment(&hash, FailureReason::Error),
        Err(Error::PaymentNotInitiated)
    );
    store.init_payment(&hash, creation(2000, 10)).unwrap();
    store
        .register_attempt(&hash, attempt(1, 1000, mpp(2000)))
        .unwrap();
    store
        .register_attempt(&hash, attempt(2, 1000, mpp(2000)))
        .unwrap();
    assert_eq!(
        store.settle_attempt(&hash, 9, settle(pre)),
        Err(Error::AttemptNotFound(9))
    );
    assert_eq!(
        store.fail_attempt(&hash, 9, fail_info()),
        Err(Error::AttemptNotFound(9))
    );
    store.fail_attempt(&hash, 1, fail_info()).unwrap();
    assert_eq!(
        store.fail_attempt(&hash, 1, fail_info()),
        Err(Error::AttemptAlreadyFailed(1))
    );
    assert_eq!(
        store.settle_attempt(&hash, 1, settle(pre)),
        Err(Error::AttemptAlreadyFailed(1))
    );
    store
        .register_attempt(&hash, attempt(3, 1000, mpp(2000)))
        .unwrap();
    store.settle_attempt(&hash, 2, settle(pre)).unwrap();
    assert_eq!(
        store.settle_attempt(&hash, 2, settle(pre)),
        Err(Error::AttemptAlreadySettled(2))
    );
    assert_eq!(
        store.fail_attempt(&hash, 2, fail_info()),
        Err(Error::AttemptAlreadySettled(2))
    );
}

#[test]
fn preimage_must_prove_the_attempt_hash() {
    let (_dir, store) = temp_store();
    let (pre, hash) = payment(9);
    store.init_payment(&hash, creation(1000, 10)).unwrap();
    store
        .register_attempt(&hash, attempt(1, 1000, None))
        .unwrap();
    assert_eq!(
        store.settle_attempt(&hash, 1, settle(preimage(99))),
        Err(Error::PreimageMismatch)
    );
    let p = store.fetch_payment(&hash).unwrap();
    assert!(p.htlcs[0].settle.is_none(), "no false proof recorded");
    store.settle_attempt(&hash, 1, settle(pre)).unwrap();

    // AMP shards are checked against their own hash, not the set id.
    let set_id = [0x5e; 32];
    store.init_payment(&set_id, creation(2000, 10)).unwrap();
    let (shard_pre, shard_hash) = payment(100);
    let mut a = attempt(1, 2000, mpp(2000));
    a.hash = Some(shard_hash);
    store.register_attempt(&set_id, a).unwrap();
    assert_eq!(
        store.settle_attempt(&set_id, 1, settle(pre)),
        Err(Error::PreimageMismatch)
    );
    let p = store.settle_attempt(&set_id, 1, settle(shard_pre)).unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
}

#[test]
fn register_validation_errors_reach_the_caller_and_change_nothing() {
    let (_dir, store) = temp_store();
    let (_, hash) = payment(10);
    store.init_payment(&hash, creation(3000, 10)).unwrap();
    assert_eq!(
        store.register_attempt(&hash, attempt(1, 2999, None)),
        Err(Error::ValueMismatch {
            amount: 2999,
            value: 3000
        })
    );
    store
        .register_attempt(&hash, attempt(1, 1000, mpp(3000)))
        .unwrap();
    assert_eq!(
        store.register_attempt(&hash, attempt(2, 3000, None)),
        Err(Error::MpPayment)
    );
    let mut other_addr = mpp(3000);
    other_addr.as_mut().unwrap().payment_addr = [6; 32];
    assert_eq!(
        store.register_attempt(&hash, attempt(2, 1000, other_addr)),
        Err(Error::MppPaymentAddrMismatch)
    );
    assert_eq!(
        store.register_attempt(&hash, attempt(2, 1000, mpp(3001))),
        Err(Error::MppTotalAmountMismatch)
    );
    assert_eq!(
        store.register_attempt(&hash, attempt(1, 1000, mpp(3000))),
        Err(Error::AttemptExists(1))
    );
    let mut blinded = attempt(2, 1000, None);
    blinded.route.hops[2].encrypted_data = vec![1, 2, 3];
    blinded.route.hops[2].total_amt_msat = 3000;
    // docs/behaviour.md's order: the in-flight shard's MPP record is checked before
    // blindedness.
    assert_eq!(
        store.register_attempt(&hash, blinded),
        Err(Error::MppRecordInBlindedPayment)
    );
    let mut empty = attempt(2, 1000, None);
    empty.route.hops.clear();
    assert!(matches!(
        store.register_attempt(&hash, empty),
        Err(Error::InvalidArgument(_))
    ));
    let p = store.fetch_payment(&hash).unwrap();
    assert_eq!(p.htlcs.len(), 1, "failed registrations left no trace");

    // A non-MPP payment refuses MPP shards.
    let (_, single) = payment(11);
    store.init_payment(&single, creation(1000, 10)).unwrap();
    store
        .register_attempt(&single, attempt(1, 1000, None))
        .unwrap();
    assert_eq!(
        store.register_attempt(&single, attempt(2, 500, mpp(1000))),
        Err(Error::NonMpPayment)
    );

    // Blinded payments: total required, no MPP record, totals agree.
    let (_, b) = payment(12);
    store.init_payment(&b, creation(2000, 10)).unwrap();
    let blinded = |id, total| {
        let mut a = attempt(id, 1000, None);
        a.route.hops[2].encrypted_data = vec![9; 40];
        a.route.hops[2].total_amt_msat = total;
        a
    };
    assert_eq!(
        store.register_attempt(&b, blinded(1, 0)),
        Err(Error::BlindedMissingTotalAmount)
    );
    let mut with_mpp = blinded(1, 2000);
    with_mpp.route.hops[2].mpp = mpp(2000);
    assert_eq!(
        store.register_attempt(&b, with_mpp),
        Err(Error::MppRecordInBlindedPayment)
    );
    store.register_attempt(&b, blinded(1, 2000)).unwrap();
    assert_eq!(
        store.register_attempt(&b, blinded(2, 2001)),
        Err(Error::BlindedTotalAmountMismatch)
    );
    assert_eq!(
        store.register_attempt(&b, attempt(2, 1000, mpp(2000))),
        Err(Error::MixedBlindedAndNonBlinded)
    );
    store.register_attempt(&b, blinded(2, 2000)).unwrap();
    assert_counts_consistent(&store);
}

#[test]
fn invalid_input_is_refused_before_touching_the_store() {
    let (_dir, store) = temp_store();
    let (_, hash) = payment(13);
    let mut info = creation(1000, 10);
    info.first_hop_custom_records.insert(5, vec![1]);
    assert!(matches!(
        store.init_payment(&hash, info),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(store.fetch_payment(&hash), Err(Error::PaymentNotInitiated));
    store.init_payment(&hash, creation(1000, 10)).unwrap();
    let mut a = attempt(1, 1000, None);
    a.route.hops[0].custom_records.insert(100, vec![]);
    assert!(matches!(
        store.register_attempt(&hash, a),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn delete_single_payments_and_failed_attempts() {
    let (_dir, store) = temp_store();
    let (pre, hash) = payment(20);
    store.init_payment(&hash, creation(2000, 10)).unwrap();
    store
        .register_attempt(&hash, attempt(1, 1000, mpp(2000)))
        .unwrap();
    assert_eq!(
        store.delete_payment(&hash, false),
        Err(Error::PaymentInFlight)
    );
    assert_eq!(
        store.delete_failed_attempts(&hash),
        Err(Error::PaymentInFlight)
    );
    store.fail_attempt(&hash, 1, fail_info()).unwrap();
    store
        .register_attempt(&hash, attempt(2, 2000, mpp(2000)))
        .unwrap();
    store.settle_attempt(&hash, 2, settle(pre)).unwrap();
    store.delete_failed_attempts(&hash).unwrap();
    let p = store.fetch_payment(&hash).unwrap();
    assert_eq!(p.htlcs.len(), 1);
    assert_eq!(p.htlcs[0].info.attempt_id, 2);
    assert_eq!(p.status, PaymentStatus::Succeeded);

    let failed = fail(&store, 21, 1000, 10);
    store.delete_payment(&failed, false).unwrap();
    assert_eq!(
        store.fetch_payment(&failed),
        Err(Error::PaymentNotInitiated)
    );
    assert_eq!(
        store.delete_payment(&failed, false),
        Err(Error::PaymentNotInitiated)
    );
    // A deleted failed payment may be paid again: only settled hashes are tombstoned.
    store.init_payment(&failed, creation(1000, 10)).unwrap();
    assert_counts_consistent(&store);
}

#[test]
fn bulk_delete_variants_keep_indexes_and_counters_consistent() {
    let (_dir, store) = temp_store();
    let mut succeeded = Vec::new();
    let mut failed = Vec::new();
    for n in 0..30 {
        match n % 3 {
            0 => succeeded.push(pay(&store, n, 1000, 10 + n as i64)),
            1 => failed.push(fail(&store, n, 1000, 10 + n as i64)),
            _ => {
                let (_, h) = payment(n);
                store.init_payment(&h, creation(1000, 10)).unwrap();
                store.register_attempt(&h, attempt(1, 1000, None)).unwrap();
            }
        }
    }
    // Failed attempts only: nothing is deleted as a payment, failed attempts go.
    assert_eq!(store.delete_payments(false, true).unwrap(), 0);
    for h in &failed {
        assert!(store.fetch_payment(h).unwrap().htlcs.is_empty());
        assert_eq!(
            store.fetch_payment(h).unwrap().status,
            PaymentStatus::Failed
        );
    }
    assert_counts_consistent(&store);
    // Failed only.
    assert_eq!(store.delete_payments(true, false).unwrap(), 10);
    assert_eq!(store.payment_counts().unwrap().failed, 0);
    assert_counts_consistent(&store);
    // Everything that is not in flight.
    assert_eq!(store.delete_payments(false, false).unwrap(), 10);
    let counts = store.payment_counts().unwrap();
    assert_eq!(
        (counts.total, counts.in_flight, counts.succeeded),
        (10, 10, 0)
    );
    assert_eq!(store.fetch_inflight_payments().unwrap().len(), 10);
    assert_counts_consistent(&store);
    for h in &succeeded {
        assert_eq!(
            store.init_payment(h, creation(1000, 10)),
            Err(Error::AlreadyPaid)
        );
    }
}

#[test]
fn bulk_delete_spans_several_bounded_transactions() {
    let (_dir, store) = temp_store();
    let n = DELETE_CHUNK as u64 * 2 + 17;
    for i in 0..n {
        let (_, h) = payment(i);
        store.init_payment(&h, creation(1000, 10)).unwrap();
        store.fail_payment(&h, FailureReason::Canceled).unwrap();
    }
    assert_eq!(store.payment_counts().unwrap().failed, n);
    assert_eq!(store.delete_payments(true, false).unwrap(), n);
    assert_eq!(store.payment_counts().unwrap(), PaymentCounts::default());
    assert_counts_consistent(&store);
    store.compact().unwrap();
    assert_eq!(store.payment_counts().unwrap(), PaymentCounts::default());
}

#[test]
fn bulk_delete_is_one_writer_operation_per_chunk() {
    // Each chunk shares a batch of the writer's with the life cycle, instead of a
    // durable transaction of its own that stalled the writer for up to a second at
    // 5,800,000 payments.
    let (_dir, store) = temp_store();
    let n = DELETE_CHUNK as u64 * 2 + 17;
    for i in 0..n {
        let (_, h) = payment(i);
        store.init_payment(&h, creation(1000, 10)).unwrap();
        store.fail_payment(&h, FailureReason::Canceled).unwrap();
    }
    let before = store.commit_stats().operations;
    assert_eq!(store.delete_payments(true, false).unwrap(), n);
    assert_eq!(store.commit_stats().operations - before, 3);
}

#[test]
fn fetch_inflight_includes_initiated_and_retryable_excludes_terminal() {
    let (_dir, store) = temp_store();
    let (_, initiated) = payment(30);
    store.init_payment(&initiated, creation(1000, 10)).unwrap();
    let (_, retryable) = payment(31);
    store.init_payment(&retryable, creation(1000, 10)).unwrap();
    store
        .register_attempt(&retryable, attempt(1, 1000, None))
        .unwrap();
    store.fail_attempt(&retryable, 1, fail_info()).unwrap();
    let (_, inflight) = payment(32);
    store.init_payment(&inflight, creation(1000, 10)).unwrap();
    store
        .register_attempt(&inflight, attempt(1, 1000, None))
        .unwrap();
    pay(&store, 33, 1000, 10);
    fail(&store, 34, 1000, 10);
    let hashes: Vec<PaymentHash> = store
        .fetch_inflight_payments()
        .unwrap()
        .into_iter()
        .map(|p| p.hash)
        .collect();
    assert_eq!(hashes, vec![initiated, retryable, inflight]);
}

#[test]
fn everything_survives_close_and_reopen_identically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lps.db");
    let store = Store::open(&path, Options::default()).unwrap(); // durable commits
    pay(&store, 40, 1000, 10);
    fail(&store, 41, 1000, 11);
    let (pre, h) = payment(42);
    store.init_payment(&h, creation(3000, 12)).unwrap();
    store
        .register_attempt(&h, attempt(1, 1000, mpp(3000)))
        .unwrap();
    store
        .register_attempt(&h, attempt(2, 1000, mpp(3000)))
        .unwrap();
    store.settle_attempt(&h, 1, settle(pre)).unwrap();
    let q = Query {
        include_incomplete: true,
        count_total: true,
        ..Default::default()
    };
    let before = store.query_payments(&q).unwrap();
    let counts = store.payment_counts().unwrap();
    store.close().unwrap();
    assert_eq!(store.fetch_payment(&h), Err(Error::Closed));

    let store = Store::open(&path, Options::default()).unwrap();
    assert_eq!(store.query_payments(&q).unwrap(), before);
    assert_eq!(store.payment_counts().unwrap(), counts);
    // The sequence keeps increasing across restarts.
    let (_, next) = payment(43);
    assert_eq!(
        store
            .init_payment(&next, creation(1, 13))
            .unwrap()
            .sequence_num,
        4
    );
    // Resume the in-flight payment.
    let inflight = store.fetch_inflight_payments().unwrap();
    assert_eq!(inflight.len(), 2);
    assert_eq!(inflight[0].hash, h);
    let p = store.settle_attempt(&h, 2, settle(pre)).unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
}
