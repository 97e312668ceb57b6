//! The pure domain model through the public API: status derivation (docs/behaviour.md,
//! Status), the register rules of `verify_attempt` (docs/behaviour.md, Registering an
//! attempt), shape validation, and the router's decisions (lnd's Registrable /
//! NeedWaitAttempts / AllowMoreAttempts / Terminated).

use lnpaystore::{
    derive_state, validate_attempt_shape, validate_creation_info, verify_attempt, AttemptInfo,
    CreationInfo, CustomRecords, Error, FailInfo, FailureReason, Hop, HtlcAttempt, HtlcFailReason,
    LpsStatus, Mpp, Payment, PaymentState, PaymentStatus, Route, SettleInfo,
    MIN_CUSTOM_RECORD_TYPE,
};

const HASH: [u8; 32] = [0x11; 32];
const ADDR_A: [u8; 32] = [0xaa; 32];
const ADDR_B: [u8; 32] = [0xbb; 32];

// ---------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------

/// A three-hop route delivering `receiver_amt` for `fee` msat of fees. The intermediate
/// hops forward more than the receiver gets, so a fee computed from the wrong hop shows.
fn route(receiver_amt: u64, fee: u64) -> Route {
    let hop = |n: u8, amt: u64| Hop {
        pub_key: [n; 33],
        channel_id: u64::from(n),
        outgoing_time_lock: 100 + u32::from(n),
        amt_to_forward_msat: amt,
        ..Hop::default()
    };
    Route {
        total_time_lock: 200,
        total_amount_msat: receiver_amt + fee,
        source_pub_key: [2; 33],
        hops: vec![
            hop(1, receiver_amt + fee / 2),
            hop(2, receiver_amt + fee / 4),
            hop(3, receiver_amt),
        ],
        ..Route::default()
    }
}

fn final_hop_mut(route: &mut Route) -> &mut Hop {
    route.hops.last_mut().expect("route has hops")
}

/// A non-MPP, non-blinded route.
fn plain(receiver_amt: u64, fee: u64) -> Route {
    route(receiver_amt, fee)
}

/// An MPP shard route.
fn mpp(receiver_amt: u64, fee: u64, addr: [u8; 32], total: u64) -> Route {
    let mut r = route(receiver_amt, fee);
    final_hop_mut(&mut r).mpp = Some(Mpp {
        payment_addr: addr,
        total_msat: total,
    });
    r
}

/// A route into a blinded path (`total` 0 = total amount unset).
fn blinded(receiver_amt: u64, fee: u64, total: u64) -> Route {
    let mut r = route(receiver_amt, fee);
    let last = final_hop_mut(&mut r);
    last.encrypted_data = vec![0xe0, 0xe1, 0xe2];
    last.blinding_point = Some([3; 33]);
    last.total_amt_msat = total;
    r
}

fn attempt(id: u64, route: Route) -> AttemptInfo {
    AttemptInfo {
        attempt_id: id,
        session_key: [id as u8; 32],
        route,
        attempt_time_ns: 1_000 + id as i64,
        hash: None,
    }
}

fn in_flight(id: u64, route: Route) -> HtlcAttempt {
    HtlcAttempt {
        info: attempt(id, route),
        settle: None,
        failure: None,
    }
}

fn settled(id: u64, route: Route) -> HtlcAttempt {
    HtlcAttempt {
        info: attempt(id, route),
        settle: Some(SettleInfo {
            preimage: [0x22; 32],
            settle_time_ns: 5_000,
        }),
        failure: None,
    }
}

fn failed(id: u64, route: Route) -> HtlcAttempt {
    HtlcAttempt {
        info: attempt(id, route),
        settle: None,
        failure: Some(FailInfo {
            fail_time_ns: 6_000,
            message: vec![0x40, 0x0f],
            reason: HtlcFailReason::Message,
            failure_source_index: 1,
        }),
    }
}

fn info(value_msat: u64) -> CreationInfo {
    CreationInfo {
        payment_identifier: HASH,
        value_msat,
        creation_time_ns: 1_700_000_000_000_000_000,
        payment_request: b"lnbc1...".to_vec(),
        first_hop_custom_records: CustomRecords::new(),
    }
}

fn try_payment(
    value_msat: u64,
    htlcs: Vec<HtlcAttempt>,
    reason: Option<FailureReason>,
) -> lnpaystore::Result<Payment> {
    Payment::from_parts(7, HASH, info(value_msat), htlcs, reason)
}

fn payment(value_msat: u64, htlcs: Vec<HtlcAttempt>, reason: Option<FailureReason>) -> Payment {
    try_payment(value_msat, htlcs, reason).expect("consistent payment")
}

// ---------------------------------------------------------------------------------------
// Status table (docs/behaviour.md, Status), one test per row
// ---------------------------------------------------------------------------------------

const VALUE: u64 = 10_000;
// Each kind of attempt gets its own receiver amount and fee so the sums show which
// attempts were counted.
const IN_FLIGHT_AMT: u64 = 2_000;
const IN_FLIGHT_FEE: u64 = 100;
const SETTLED_AMT: u64 = 3_000;
const SETTLED_FEE: u64 = 300;
const FAILED_AMT: u64 = 4_000;
const FAILED_FEE: u64 = 400;

/// Builds a payment with (at most) one attempt of each kind and checks every field of the
/// derived state against docs/behaviour.md, Status: failed attempts count for nothing.
fn check_row(
    any_in_flight: bool,
    any_settled: bool,
    any_failed: bool,
    payment_failed: bool,
    expected: PaymentStatus,
) {
    let shard = |amt, fee| mpp(amt, fee, ADDR_A, VALUE);
    let mut htlcs = Vec::new();
    if any_settled {
        htlcs.push(settled(1, shard(SETTLED_AMT, SETTLED_FEE)));
    }
    if any_failed {
        htlcs.push(failed(2, shard(FAILED_AMT, FAILED_FEE)));
    }
    if any_in_flight {
        htlcs.push(in_flight(3, shard(IN_FLIGHT_AMT, IN_FLIGHT_FEE)));
    }
    let reason = payment_failed.then_some(FailureReason::NoRoute);
    let p = payment(VALUE, htlcs.clone(), reason);

    let case = format!(
        "in_flight={any_in_flight} settled={any_settled} failed={any_failed} \
         payment_failed={payment_failed}"
    );
    let mut remaining = VALUE;
    let mut fees = 0;
    if any_in_flight {
        remaining -= IN_FLIGHT_AMT;
        fees += IN_FLIGHT_FEE;
    }
    if any_settled {
        remaining -= SETTLED_AMT;
        fees += SETTLED_FEE;
    }
    assert_eq!(p.status, expected, "{case}");
    assert_eq!(
        p.state,
        PaymentState {
            num_attempts_in_flight: u32::from(any_in_flight),
            remaining_amt_msat: remaining,
            fees_paid_msat: fees,
            has_settled_htlc: any_settled,
            payment_failed: payment_failed && !any_settled,
        },
        "{case}"
    );
    assert_eq!(p.terminated(), expected.is_terminal(), "{case}");
    assert_eq!(p.failure_reason, reason, "{case}");
    assert_eq!(p.htlcs, htlcs, "{case}");
    assert_eq!(p.sequence_num, 7);
    assert_eq!(p.hash, HASH);

    // derive_state is the same rule from_parts uses.
    let derived = derive_state(&info(VALUE), &htlcs, payment_failed).unwrap();
    assert_eq!(derived.status, p.status, "{case}");
    assert_eq!(derived.state, p.state, "{case}");
}

const BOTH: [bool; 2] = [false, true];

/// As lnd's payments database derives it (MPPayment.setState, lnd v0.21.2-beta): a
/// settled attempt makes the outcome a success, so a payment with one is not "failed",
/// whether the router recorded a failure reason or not. Found by the lnd drop-in's
/// differential test (lnd/dropin).
#[test]
fn a_settled_attempt_means_the_payment_has_not_failed() {
    let shard = |amt, fee| mpp(amt, fee, ADDR_A, VALUE);
    for with_in_flight in BOTH {
        let mut htlcs = vec![settled(1, shard(SETTLED_AMT, SETTLED_FEE))];
        if with_in_flight {
            htlcs.push(in_flight(3, shard(IN_FLIGHT_AMT, IN_FLIGHT_FEE)));
        }
        let p = payment(VALUE, htlcs, Some(FailureReason::NoRoute));
        assert!(p.state.has_settled_htlc);
        assert!(
            !p.state.payment_failed,
            "with an attempt in flight: {with_in_flight}"
        );
        assert_eq!(p.failure_reason, Some(FailureReason::NoRoute));
    }
}

#[test]
fn status_row1_any_in_flight_is_in_flight() {
    for settled in BOTH {
        for failed in BOTH {
            for payment_failed in BOTH {
                check_row(
                    true,
                    settled,
                    failed,
                    payment_failed,
                    PaymentStatus::InFlight,
                );
            }
        }
    }
}

#[test]
fn status_row2_settled_without_in_flight_is_succeeded() {
    for failed in BOTH {
        for payment_failed in BOTH {
            check_row(
                false,
                true,
                failed,
                payment_failed,
                PaymentStatus::Succeeded,
            );
        }
    }
}

#[test]
fn status_row3_failure_reason_without_in_flight_or_settled_is_failed() {
    for failed in BOTH {
        check_row(false, false, failed, true, PaymentStatus::Failed);
    }
}

#[test]
fn status_row4_only_failed_attempts_is_in_flight() {
    check_row(false, false, true, false, PaymentStatus::InFlight);
}

#[test]
fn status_row5_nothing_is_initiated() {
    check_row(false, false, false, false, PaymentStatus::Initiated);
}

#[test]
fn status_numbers_match_api() {
    assert_eq!(PaymentStatus::Initiated as u8, 1);
    assert_eq!(PaymentStatus::InFlight as u8, 2);
    assert_eq!(PaymentStatus::Succeeded as u8, 3);
    assert_eq!(PaymentStatus::Failed as u8, 4);
    let terminal: Vec<_> = PaymentStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .collect();
    assert_eq!(
        terminal,
        [&PaymentStatus::Succeeded, &PaymentStatus::Failed]
    );
}

#[test]
fn state_sums_over_several_attempts() {
    // Three in flight, two settled, two failed; fees are route total minus what the
    // final hop forwards, not what the first hop forwards.
    let htlcs = vec![
        in_flight(1, mpp(1_000, 10, ADDR_A, 20_000)),
        failed(2, mpp(5_000, 500, ADDR_A, 20_000)),
        settled(3, mpp(2_000, 21, ADDR_A, 20_000)),
        in_flight(4, mpp(3_000, 33, ADDR_A, 20_000)),
        failed(5, mpp(7_000, 700, ADDR_A, 20_000)),
        settled(6, mpp(4_000, 0, ADDR_A, 20_000)),
        in_flight(7, mpp(500, 7, ADDR_A, 20_000)),
    ];
    let p = payment(20_000, htlcs, None);
    assert_eq!(p.status, PaymentStatus::InFlight);
    assert_eq!(
        p.state,
        PaymentState {
            num_attempts_in_flight: 3,
            remaining_amt_msat: 20_000 - (1_000 + 2_000 + 3_000 + 4_000 + 500),
            fees_paid_msat: 10 + 21 + 33 + 7,
            has_settled_htlc: true,
            payment_failed: false,
        }
    );
    assert_eq!(p.sent_amt(), 10_500);
}

#[test]
fn fees_use_route_total_and_final_hop() {
    let mut r = plain(1_000, 0);
    r.total_amount_msat = 1_234;
    r.hops[0].amt_to_forward_msat = 1_200; // not the receiver amount
    let p = payment(1_000, vec![in_flight(0, r)], None);
    assert_eq!(p.state.fees_paid_msat, 234);
    assert_eq!(p.state.remaining_amt_msat, 0);
    assert_eq!(p.state.num_attempts_in_flight, 1);
}

#[test]
fn single_hop_route_state() {
    let r = Route {
        total_amount_msat: 900,
        hops: vec![Hop {
            amt_to_forward_msat: 900,
            ..Hop::default()
        }],
        ..Route::default()
    };
    let p = payment(1_000, vec![settled(0, r)], None);
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(p.state.remaining_amt_msat, 100);
    assert_eq!(p.state.fees_paid_msat, 0);
}

// ---------------------------------------------------------------------------------------
// SENT_EXCEEDS_TOTAL (corruption guard)
// ---------------------------------------------------------------------------------------

#[test]
fn sent_exceeds_total_in_flight() {
    let err = try_payment(
        1_000,
        vec![
            in_flight(1, mpp(600, 5, ADDR_A, 1_000)),
            in_flight(2, mpp(600, 5, ADDR_A, 1_000)),
        ],
        None,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::SentExceedsTotal {
            sent: 1_200,
            value: 1_000
        }
    );
    assert_eq!(err.status(), LpsStatus::SentExceedsTotal);
    assert_eq!(err.status() as i32, 122);
}

#[test]
fn sent_exceeds_total_counts_settled() {
    let err = try_payment(
        1_000,
        vec![
            settled(1, mpp(600, 5, ADDR_A, 1_000)),
            in_flight(2, mpp(401, 5, ADDR_A, 1_000)),
        ],
        Some(FailureReason::Timeout),
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::SentExceedsTotal {
            sent: 1_001,
            value: 1_000
        }
    );
    let err = derive_state(
        &info(1_000),
        &[settled(1, plain(1_000, 0)), settled(2, plain(1_000, 0))],
        false,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::SentExceedsTotal {
            sent: 2_000,
            value: 1_000
        }
    ));
}

#[test]
fn failed_attempts_do_not_count_toward_sent() {
    // Failed attempts far beyond the value are fine; exactly the value is fine.
    let p = payment(
        1_000,
        vec![
            failed(1, plain(1_000, 1)),
            failed(2, plain(1_000, 1)),
            in_flight(3, mpp(400, 4, ADDR_A, 1_000)),
            settled(4, mpp(600, 6, ADDR_A, 1_000)),
        ],
        None,
    );
    assert_eq!(p.state.remaining_amt_msat, 0);
    assert_eq!(p.state.fees_paid_msat, 10);
    assert_eq!(p.sent_amt(), 1_000);
}

#[test]
fn sent_exceeds_total_without_wrapping() {
    // Amounts near u64::MAX must neither wrap into a small sum nor panic.
    let err = try_payment(
        u64::MAX - 1,
        vec![
            in_flight(1, mpp(u64::MAX - 1, 0, ADDR_A, 0)),
            in_flight(2, mpp(u64::MAX - 1, 0, ADDR_A, 0)),
        ],
        None,
    )
    .unwrap_err();
    assert_eq!(err.status(), LpsStatus::SentExceedsTotal);
}

#[test]
fn sent_exceeds_total_at_u64_max_value() {
    let res = try_payment(
        u64::MAX,
        vec![
            in_flight(1, mpp(u64::MAX, 0, ADDR_A, u64::MAX)),
            in_flight(2, mpp(1, 0, ADDR_A, u64::MAX)),
        ],
        None,
    );
    assert!(
        matches!(res, Err(Error::SentExceedsTotal { .. })),
        "attempts sending u64::MAX + 1 on a u64::MAX payment: {:?}",
        res.map(|p| p.state)
    );
}

// ---------------------------------------------------------------------------------------
// verify_attempt: every error
// ---------------------------------------------------------------------------------------

fn verify(p: &Payment, id: u64, route: Route) -> lnpaystore::Result<()> {
    verify_attempt(p, &attempt(id, route))
}

#[test]
fn verify_accepts_valid_attempts() {
    // First attempts of every kind.
    let empty = payment(1_000, vec![], None);
    verify(&empty, 1, plain(1_000, 10)).unwrap();
    verify(&empty, 1, mpp(300, 10, ADDR_A, 1_000)).unwrap();
    verify(&empty, 1, blinded(300, 10, 1_000)).unwrap();
    // Matching shards up to exactly the value.
    let p = payment(1_000, vec![in_flight(1, mpp(600, 1, ADDR_A, 1_000))], None);
    verify(&p, 2, mpp(400, 1, ADDR_A, 1_000)).unwrap();
    let p = payment(1_000, vec![in_flight(1, blinded(600, 1, 1_000))], None);
    verify(&p, 2, blinded(400, 1, 1_000)).unwrap();
}

#[test]
fn verify_mpp_record_in_blinded_new_attempt() {
    let mut r = blinded(500, 1, 1_000);
    final_hop_mut(&mut r).mpp = Some(Mpp {
        payment_addr: ADDR_A,
        total_msat: 1_000,
    });
    let err = verify(&payment(1_000, vec![], None), 1, r).unwrap_err();
    assert_eq!(err, Error::MppRecordInBlindedPayment);
    assert_eq!(err.status() as i32, 118);
}

#[test]
fn verify_mpp_record_in_blinded_in_flight_attempt() {
    // The in-flight attempt is not blinded, so MIXED would apply too: the MPP check
    // comes first.
    let p = payment(1_000, vec![in_flight(1, mpp(300, 1, ADDR_A, 1_000))], None);
    let err = verify(&p, 2, blinded(300, 1, 1_000)).unwrap_err();
    assert_eq!(err, Error::MppRecordInBlindedPayment);
}

#[test]
fn verify_mixed_blinded_and_non_blinded() {
    // New blinded, in-flight plain non-MPP.
    let p = payment(1_000, vec![in_flight(1, plain(1_000, 1))], None);
    let err = verify(&p, 2, blinded(300, 1, 1_000)).unwrap_err();
    assert_eq!(err, Error::MixedBlindedAndNonBlinded);
    assert_eq!(err.status() as i32, 120);

    // New non-blinded (MPP or not), in-flight blinded.
    let p = payment(1_000, vec![in_flight(1, blinded(300, 1, 1_000))], None);
    assert_eq!(
        verify(&p, 2, mpp(300, 1, ADDR_A, 1_000)),
        Err(Error::MixedBlindedAndNonBlinded)
    );
    assert_eq!(
        verify(&p, 2, plain(1_000, 1)),
        Err(Error::MixedBlindedAndNonBlinded)
    );
}

#[test]
fn verify_blinded_total_amount_mismatch() {
    let p = payment(1_000, vec![in_flight(1, blinded(300, 1, 1_000))], None);
    let err = verify(&p, 2, blinded(300, 1, 999)).unwrap_err();
    assert_eq!(err, Error::BlindedTotalAmountMismatch);
    assert_eq!(err.status() as i32, 119);
}

#[test]
fn verify_blinded_missing_total_amount() {
    let err = verify(&payment(1_000, vec![], None), 1, blinded(300, 1, 0)).unwrap_err();
    assert_eq!(err, Error::BlindedMissingTotalAmount);
    assert_eq!(err.status() as i32, 121);
}

#[test]
fn verify_blinded_missing_total_before_mpp_record() {
    let mut r = blinded(300, 1, 0);
    final_hop_mut(&mut r).mpp = Some(Mpp {
        payment_addr: ADDR_A,
        total_msat: 1_000,
    });
    assert_eq!(
        verify(&payment(1_000, vec![], None), 1, r),
        Err(Error::BlindedMissingTotalAmount)
    );
}

#[test]
fn verify_own_blinded_checks_before_in_flight_checks() {
    // In-flight non-blinded MPP attempt: its checks would give MPP_RECORD_IN_BLINDED or
    // MIXED, but the new attempt's own check comes first.
    let p = payment(1_000, vec![in_flight(1, mpp(300, 1, ADDR_A, 1_000))], None);
    assert_eq!(
        verify(&p, 2, blinded(300, 1, 0)),
        Err(Error::BlindedMissingTotalAmount)
    );
}

#[test]
fn verify_blindedness_is_decided_by_final_hop() {
    // Encrypted data on an intermediate hop only (the introduction point side) does not
    // make the route blinded: the final hop decides.
    let mut r = mpp(300, 1, ADDR_A, 1_000);
    r.hops[0].encrypted_data = vec![1, 2, 3];
    assert!(!r.is_blinded());
    verify(&payment(1_000, vec![], None), 1, r).unwrap();
    assert!(blinded(1, 1, 1).is_blinded());
}

#[test]
fn verify_mp_payment() {
    // Non-MPP attempt while MPP attempts are in flight.
    let p = payment(1_000, vec![in_flight(1, mpp(300, 1, ADDR_A, 1_000))], None);
    let err = verify(&p, 2, plain(700, 1)).unwrap_err();
    assert_eq!(err, Error::MpPayment);
    assert_eq!(err.status() as i32, 115);
    // Before the value checks: the amount would also mismatch the value.
    assert_eq!(verify(&p, 2, plain(100, 1)), Err(Error::MpPayment));
}

#[test]
fn verify_non_mp_payment() {
    // MPP attempt while a non-MPP attempt is in flight (before the value check, which
    // would give VALUE_EXCEEDS_AMT).
    let p = payment(1_000, vec![in_flight(1, plain(1_000, 1))], None);
    let err = verify(&p, 2, mpp(300, 1, ADDR_A, 1_000)).unwrap_err();
    assert_eq!(err, Error::NonMpPayment);
    assert_eq!(err.status() as i32, 114);
}

#[test]
fn verify_mpp_payment_addr_mismatch() {
    let p = payment(1_000, vec![in_flight(1, mpp(300, 1, ADDR_A, 1_000))], None);
    let err = verify(&p, 2, mpp(300, 1, ADDR_B, 1_000)).unwrap_err();
    assert_eq!(err, Error::MppPaymentAddrMismatch);
    assert_eq!(err.status() as i32, 116);
    // Address is checked before total.
    assert_eq!(
        verify(&p, 2, mpp(300, 1, ADDR_B, 2_000)),
        Err(Error::MppPaymentAddrMismatch)
    );
}

#[test]
fn verify_mpp_total_amount_mismatch() {
    let p = payment(1_000, vec![in_flight(1, mpp(300, 1, ADDR_A, 1_000))], None);
    let err = verify(&p, 2, mpp(300, 1, ADDR_A, 1_001)).unwrap_err();
    assert_eq!(err, Error::MppTotalAmountMismatch);
    assert_eq!(err.status() as i32, 117);
}

#[test]
fn verify_value_mismatch() {
    let p = payment(1_000, vec![], None);
    let err = verify(&p, 1, plain(999, 1)).unwrap_err();
    assert_eq!(
        err,
        Error::ValueMismatch {
            amount: 999,
            value: 1_000
        }
    );
    assert_eq!(err.status(), LpsStatus::ValueMismatch);
    assert_eq!(err.status() as i32, 112);
    assert!(matches!(
        verify(&p, 1, plain(1_001, 0)),
        Err(Error::ValueMismatch {
            amount: 1_001,
            value: 1_000
        })
    ));
    // MPP and blinded attempts may carry part of the value.
    verify(&p, 1, mpp(999, 1, ADDR_A, 1_000)).unwrap();
    verify(&p, 1, blinded(999, 1, 1_000)).unwrap();
}

#[test]
fn verify_value_exceeds_amt() {
    let p = payment(1_000, vec![in_flight(1, mpp(600, 1, ADDR_A, 1_000))], None);
    let err = verify(&p, 2, mpp(401, 1, ADDR_A, 1_000)).unwrap_err();
    assert_eq!(
        err,
        Error::ValueExceedsAmt {
            attempted: 1_001,
            value: 1_000
        }
    );
    assert_eq!(err.status() as i32, 113);

    // Blinded shards are bounded by the value too.
    let p = payment(1_000, vec![in_flight(1, blinded(600, 1, 1_000))], None);
    assert_eq!(
        verify(&p, 2, blinded(600, 1, 1_000)),
        Err(Error::ValueExceedsAmt {
            attempted: 1_200,
            value: 1_000
        })
    );

    // A second full non-MPP attempt while the first is in flight.
    let p = payment(1_000, vec![in_flight(1, plain(1_000, 1))], None);
    assert_eq!(
        verify(&p, 2, plain(1_000, 1)),
        Err(Error::ValueExceedsAmt {
            attempted: 2_000,
            value: 1_000
        })
    );
}

#[test]
fn verify_value_exceeds_amt_does_not_wrap() {
    let p = payment(1_000, vec![in_flight(1, mpp(600, 0, ADDR_A, 1_000))], None);
    let err = verify(&p, 2, mpp(u64::MAX, 0, ADDR_A, 1_000)).unwrap_err();
    assert!(matches!(err, Error::ValueExceedsAmt { value: 1_000, .. }));
}

#[test]
fn verify_value_exceeds_amt_at_u64_max_value() {
    let p = payment(
        u64::MAX,
        vec![in_flight(1, mpp(u64::MAX, 0, ADDR_A, u64::MAX))],
        None,
    );
    let res = verify(&p, 2, mpp(1, 0, ADDR_A, u64::MAX));
    assert!(
        matches!(res, Err(Error::ValueExceedsAmt { .. })),
        "second shard of 1 msat on a fully sent u64::MAX payment: {res:?}"
    );
}

#[test]
fn verify_settled_attempts_count_toward_value_exceeds_amt() {
    // Settled attempts are not in flight (no MPP-ness check against them) but what they
    // delivered counts.
    let p = payment(
        1_000,
        vec![
            settled(1, mpp(600, 1, ADDR_A, 1_000)),
            in_flight(2, mpp(300, 1, ADDR_A, 1_000)),
        ],
        None,
    );
    assert_eq!(
        verify(&p, 3, mpp(200, 1, ADDR_A, 1_000)),
        Err(Error::ValueExceedsAmt {
            attempted: 1_100,
            value: 1_000
        })
    );
    verify(&p, 3, mpp(100, 1, ADDR_A, 1_000)).unwrap();

    // Only a settled MPP attempt: a non-MPP attempt passes the MPP checks and the
    // exact-value check, and fails on the sum.
    let p = payment(1_000, vec![settled(1, mpp(600, 1, ADDR_A, 1_000))], None);
    assert_eq!(
        verify(&p, 2, plain(1_000, 1)),
        Err(Error::ValueExceedsAmt {
            attempted: 1_600,
            value: 1_000
        })
    );
}

#[test]
fn verify_attempt_exists() {
    let p = payment(1_000, vec![in_flight(1, mpp(300, 1, ADDR_A, 1_000))], None);
    let err = verify(&p, 1, mpp(300, 1, ADDR_A, 1_000)).unwrap_err();
    assert_eq!(err, Error::AttemptExists(1));
    assert_eq!(err.status(), LpsStatus::AttemptExists);
    assert_eq!(err.status() as i32, 109);

    let p = payment(
        1_000,
        vec![settled(4, mpp(300, 1, ADDR_A, 1_000))],
        Some(FailureReason::Error),
    );
    assert_eq!(
        verify(&p, 4, mpp(300, 1, ADDR_A, 1_000)),
        Err(Error::AttemptExists(4))
    );
}

#[test]
fn verify_value_checks_before_attempt_exists() {
    let p = payment(1_000, vec![in_flight(1, mpp(600, 1, ADDR_A, 1_000))], None);
    assert!(matches!(
        verify(&p, 1, mpp(500, 1, ADDR_A, 1_000)),
        Err(Error::ValueExceedsAmt { .. })
    ));
    let p = payment(1_000, vec![failed(1, plain(1_000, 1))], None);
    assert!(matches!(
        verify(&p, 1, plain(900, 1)),
        Err(Error::ValueMismatch { .. })
    ));
}

#[test]
fn verify_ignores_failed_attempts_in_flight_checks() {
    // Failed attempts of every incompatible kind: none of them is in flight.
    let p = payment(
        1_000,
        vec![
            failed(1, mpp(300, 1, ADDR_B, 5_000)),
            failed(2, blinded(300, 1, 1_000)),
            failed(3, plain(1_000, 1)),
        ],
        None,
    );
    verify(&p, 4, plain(1_000, 1)).unwrap();
    verify(&p, 4, mpp(1_000, 1, ADDR_A, 1_000)).unwrap();
    verify(&p, 4, blinded(1_000, 1, 2_000)).unwrap();
}

#[test]
fn verify_failed_attempt_id_still_exists() {
    let p = payment(1_000, vec![failed(7, plain(1_000, 1))], None);
    let err = verify(&p, 7, plain(1_000, 1)).unwrap_err();
    assert_eq!(err, Error::AttemptExists(7));
    verify(&p, 8, plain(1_000, 1)).unwrap();
}

#[test]
fn verify_attempt_exists_among_many() {
    // Attempt lookup over a longer, ascending list of ids.
    let htlcs = (0..20u64)
        .map(|id| failed(id * 3, plain(1_000, 1)))
        .collect::<Vec<_>>();
    let p = payment(1_000, htlcs, None);
    for id in 0..60u64 {
        let res = verify(&p, id, plain(1_000, 1));
        if id % 3 == 0 {
            assert_eq!(res, Err(Error::AttemptExists(id)), "id {id}");
        } else {
            assert_eq!(res, Ok(()), "id {id}");
        }
    }
}

#[test]
fn verify_first_in_flight_attempt_decides() {
    // docs/behaviour.md, Registering an attempt: the checks run per in-flight attempt, in
    // order; the first failing check names the error. Attempt 1 has a different address,
    // attempt 3 is non-MPP (inconsistent, but the guard must still answer
    // deterministically).
    let p = payment(
        1_000,
        vec![
            in_flight(1, mpp(100, 1, ADDR_B, 1_000)),
            failed(2, mpp(100, 1, ADDR_A, 1_000)),
            in_flight(3, plain(100, 1)),
        ],
        None,
    );
    assert_eq!(
        verify(&p, 4, mpp(100, 1, ADDR_A, 1_000)),
        Err(Error::MppPaymentAddrMismatch)
    );
}

// ---------------------------------------------------------------------------------------
// Shape validation
// ---------------------------------------------------------------------------------------

fn assert_invalid(res: lnpaystore::Result<()>, what: &str) {
    match res {
        Err(e @ Error::InvalidArgument(_)) => {
            assert_eq!(e.status(), LpsStatus::InvalidArgument, "{what}");
            assert_eq!(e.status() as i32, 2, "{what}");
            assert!(!e.is_storage(), "{what}");
        }
        other => panic!("{what}: expected InvalidArgument, got {other:?}"),
    }
}

fn records(types: &[u64]) -> CustomRecords {
    types.iter().map(|&t| (t, vec![t as u8])).collect()
}

#[test]
fn shape_empty_route_is_invalid() {
    assert_invalid(
        validate_attempt_shape(&attempt(1, Route::default())),
        "empty route",
    );
    validate_attempt_shape(&attempt(1, plain(1_000, 1))).unwrap();
    validate_attempt_shape(&attempt(1, plain(1_000, 0))).unwrap();
    validate_attempt_shape(&attempt(1, blinded(1_000, 1, 1_000))).unwrap();
    // Delivering more than the route sends would mean negative fees.
    let mut r = plain(1_000, 1);
    r.total_amount_msat = 999;
    assert_invalid(
        validate_attempt_shape(&attempt(1, r)),
        "total below receiver amount",
    );
}

#[test]
fn shape_custom_record_types() {
    let low = MIN_CUSTOM_RECORD_TYPE - 1;
    assert_eq!(MIN_CUSTOM_RECORD_TYPE, 65_536);

    for hop_index in 0..3 {
        for types in [&[low][..], &[0], &[1, 70_000], &[65_535, 65_536, u64::MAX]] {
            let mut r = plain(1_000, 1);
            r.hops[hop_index].custom_records = records(types);
            assert_invalid(
                validate_attempt_shape(&attempt(1, r)),
                &format!("hop {hop_index} types {types:?}"),
            );
        }
        let mut r = plain(1_000, 1);
        r.hops[hop_index].custom_records = records(&[65_536, 1 << 40, u64::MAX]);
        validate_attempt_shape(&attempt(1, r)).unwrap();
    }

    let mut r = plain(1_000, 1);
    r.first_hop_wire_custom_records = records(&[low]);
    assert_invalid(
        validate_attempt_shape(&attempt(1, r)),
        "first-hop wire records",
    );
    let mut r = plain(1_000, 1);
    r.first_hop_wire_custom_records = records(&[65_536, 65_537]);
    validate_attempt_shape(&attempt(1, r)).unwrap();
}

#[test]
fn creation_info_custom_record_types() {
    validate_creation_info(&info(1_000)).unwrap();
    validate_creation_info(&info(1)).unwrap();
    assert_invalid(validate_creation_info(&info(0)), "zero value");
    assert_invalid(
        validate_creation_info(&CreationInfo::default()),
        "default (zero) value",
    );
    for types in [&[0u64][..], &[65_535], &[5, 65_536], &[65_535, u64::MAX]] {
        let mut ci = info(1_000);
        ci.first_hop_custom_records = records(types);
        assert_invalid(validate_creation_info(&ci), &format!("types {types:?}"));
    }
    let mut ci = info(1_000);
    ci.first_hop_custom_records = records(&[65_536, u64::MAX]);
    validate_creation_info(&ci).unwrap();
}

// ---------------------------------------------------------------------------------------
// Router decisions per status
// ---------------------------------------------------------------------------------------

fn is_internal(res: lnpaystore::Result<bool>) -> bool {
    match res {
        Err(e @ Error::Internal(_)) => {
            assert_eq!(e.status() as i32, 10);
            true
        }
        _ => false,
    }
}

/// Expected answers for one payment.
struct Decisions {
    status: PaymentStatus,
    registrable: Result<(), Error>,
    updatable: Result<(), Error>,
    need_wait: Option<bool>, // None: Internal error
    allow_more: Option<bool>,
}

fn check_decisions(p: &Payment, d: Decisions, what: &str) {
    assert_eq!(p.status, d.status, "{what}: status");
    assert_eq!(p.registrable(), d.registrable, "{what}: registrable");
    assert_eq!(p.updatable(), d.updatable, "{what}: updatable");
    assert_eq!(p.terminated(), d.status.is_terminal(), "{what}: terminated");
    match d.need_wait {
        Some(b) => assert_eq!(p.need_wait_attempts(), Ok(b), "{what}: need_wait"),
        None => assert!(
            is_internal(p.need_wait_attempts()),
            "{what}: need_wait: {:?}",
            p.need_wait_attempts()
        ),
    }
    match d.allow_more {
        Some(b) => assert_eq!(p.allow_more_attempts(), Ok(b), "{what}: allow_more"),
        None => assert!(
            is_internal(p.allow_more_attempts()),
            "{what}: allow_more: {:?}",
            p.allow_more_attempts()
        ),
    }
}

#[test]
fn decisions_initiated() {
    check_decisions(
        &payment(1_000, vec![], None),
        Decisions {
            status: PaymentStatus::Initiated,
            registrable: Ok(()),
            updatable: Ok(()),
            need_wait: Some(false),
            allow_more: Some(true),
        },
        "initiated",
    );
}

#[test]
fn decisions_initiated_with_nothing_to_send_is_internal() {
    check_decisions(
        &payment(0, vec![], None),
        Decisions {
            status: PaymentStatus::Initiated,
            registrable: Ok(()),
            updatable: Ok(()),
            need_wait: None,
            allow_more: None,
        },
        "initiated, value 0",
    );
}

#[test]
fn decisions_in_flight() {
    // Part sent, more to send: keep sending.
    check_decisions(
        &payment(1_000, vec![in_flight(1, mpp(400, 1, ADDR_A, 1_000))], None),
        Decisions {
            status: PaymentStatus::InFlight,
            registrable: Ok(()),
            updatable: Ok(()),
            need_wait: Some(false),
            allow_more: Some(true),
        },
        "in flight, remaining",
    );
    // Everything sent: wait.
    check_decisions(
        &payment(1_000, vec![in_flight(1, plain(1_000, 1))], None),
        Decisions {
            status: PaymentStatus::InFlight,
            registrable: Ok(()),
            updatable: Ok(()),
            need_wait: Some(true),
            allow_more: Some(false),
        },
        "in flight, nothing remaining",
    );
    // All shards failed, router may retry.
    check_decisions(
        &payment(1_000, vec![failed(1, plain(1_000, 1))], None),
        Decisions {
            status: PaymentStatus::InFlight,
            registrable: Ok(()),
            updatable: Ok(()),
            need_wait: Some(false),
            allow_more: Some(true),
        },
        "in flight, all shards failed",
    );
}

#[test]
fn decisions_in_flight_with_settled_attempt() {
    for (inflight_amt, what) in [(300, "remaining"), (400, "nothing remaining")] {
        check_decisions(
            &payment(
                1_000,
                vec![
                    settled(1, mpp(600, 1, ADDR_A, 1_000)),
                    in_flight(2, mpp(inflight_amt, 1, ADDR_A, 1_000)),
                ],
                None,
            ),
            Decisions {
                status: PaymentStatus::InFlight,
                registrable: Err(Error::PaymentPendingSettled),
                updatable: Ok(()),
                need_wait: Some(true),
                allow_more: Some(false),
            },
            &format!("in flight with settled, {what}"),
        );
    }
    assert_eq!(Error::PaymentPendingSettled.status() as i32, 106);
}

#[test]
fn decisions_in_flight_with_failure_reason() {
    for (inflight_amt, what) in [(300, "remaining"), (1_000, "nothing remaining")] {
        check_decisions(
            &payment(
                1_000,
                vec![in_flight(1, mpp(inflight_amt, 1, ADDR_A, 1_000))],
                Some(FailureReason::InsufficientBalance),
            ),
            Decisions {
                status: PaymentStatus::InFlight,
                registrable: Err(Error::PaymentPendingFailed),
                updatable: Ok(()),
                need_wait: Some(true),
                allow_more: Some(false),
            },
            &format!("in flight with failure reason, {what}"),
        );
    }
    assert_eq!(Error::PaymentPendingFailed.status() as i32, 107);
}

#[test]
fn decisions_in_flight_settled_takes_precedence_over_failed() {
    let p = payment(
        1_000,
        vec![
            settled(1, mpp(300, 1, ADDR_A, 1_000)),
            in_flight(2, mpp(300, 1, ADDR_A, 1_000)),
        ],
        Some(FailureReason::Canceled),
    );
    assert_eq!(p.status, PaymentStatus::InFlight);
    assert_eq!(p.registrable(), Err(Error::PaymentPendingSettled));
}

#[test]
fn decisions_succeeded() {
    check_decisions(
        &payment(
            1_000,
            vec![failed(1, plain(1_000, 1)), settled(2, plain(1_000, 1))],
            None,
        ),
        Decisions {
            status: PaymentStatus::Succeeded,
            registrable: Err(Error::PaymentAlreadySucceeded),
            updatable: Err(Error::PaymentAlreadySucceeded),
            need_wait: Some(false),
            allow_more: Some(false),
        },
        "succeeded",
    );
    assert_eq!(Error::PaymentAlreadySucceeded.status() as i32, 104);
}

#[test]
fn decisions_succeeded_with_amount_left_is_internal() {
    // The receiver settled a shard although the payment is incomplete.
    check_decisions(
        &payment(
            1_000,
            vec![settled(1, mpp(600, 1, ADDR_A, 1_000))],
            Some(FailureReason::Timeout),
        ),
        Decisions {
            status: PaymentStatus::Succeeded,
            registrable: Err(Error::PaymentAlreadySucceeded),
            updatable: Err(Error::PaymentAlreadySucceeded),
            need_wait: None,
            allow_more: None,
        },
        "succeeded with remaining",
    );
}

#[test]
fn decisions_failed() {
    for htlcs in [vec![], vec![failed(1, plain(1_000, 1))]] {
        check_decisions(
            &payment(1_000, htlcs, Some(FailureReason::NoRoute)),
            Decisions {
                status: PaymentStatus::Failed,
                registrable: Err(Error::PaymentAlreadyFailed),
                updatable: Err(Error::PaymentAlreadyFailed),
                need_wait: Some(false),
                allow_more: Some(false),
            },
            "failed",
        );
    }
    assert_eq!(Error::PaymentAlreadyFailed.status() as i32, 105);
}

#[test]
fn decisions_failed_with_nothing_to_send_is_internal() {
    // NeedWaitAttempts errs; AllowMoreAttempts answers false for any status but
    // INITIATED when nothing remains (lnd).
    check_decisions(
        &payment(0, vec![], Some(FailureReason::Error)),
        Decisions {
            status: PaymentStatus::Failed,
            registrable: Err(Error::PaymentAlreadyFailed),
            updatable: Err(Error::PaymentAlreadyFailed),
            need_wait: None,
            allow_more: Some(false),
        },
        "failed, value 0",
    );
}

/// (status, remaining, has settled, payment failed, need wait, allow more); None = Internal.
type DecisionRow = (PaymentStatus, u64, bool, bool, Option<bool>, Option<bool>);

#[test]
fn decisions_on_hand_built_states() {
    // The decisions read only status and state, so every combination can be checked
    // directly, including ones no attempt list produces.
    let base = payment(1_000, vec![], None);
    let with = |status, remaining, settled, failed| Payment {
        status,
        state: PaymentState {
            num_attempts_in_flight: 0,
            remaining_amt_msat: remaining,
            fees_paid_msat: 0,
            has_settled_htlc: settled,
            payment_failed: failed,
        },
        ..base.clone()
    };
    use PaymentStatus::*;
    let table: &[DecisionRow] = &[
        (Initiated, 5, false, false, Some(false), Some(true)),
        (Initiated, 0, false, false, None, None),
        (InFlight, 5, false, false, Some(false), Some(true)),
        (InFlight, 5, true, false, Some(true), Some(false)),
        (InFlight, 5, false, true, Some(true), Some(false)),
        (InFlight, 5, true, true, Some(true), Some(false)),
        (InFlight, 0, false, false, Some(true), Some(false)),
        (InFlight, 0, true, true, Some(true), Some(false)),
        (Succeeded, 5, true, false, None, None),
        (Succeeded, 0, true, false, Some(false), Some(false)),
        (Failed, 5, false, true, Some(false), Some(false)),
        (Failed, 0, false, true, None, Some(false)),
    ];
    for &(status, remaining, settled, failed, need_wait, allow_more) in table {
        let p = with(status, remaining, settled, failed);
        let what = format!("{status:?} remaining={remaining} settled={settled} failed={failed}");
        match need_wait {
            Some(b) => assert_eq!(p.need_wait_attempts(), Ok(b), "{what}"),
            None => assert!(is_internal(p.need_wait_attempts()), "{what}"),
        }
        match allow_more {
            Some(b) => assert_eq!(p.allow_more_attempts(), Ok(b), "{what}"),
            None => assert!(is_internal(p.allow_more_attempts()), "{what}"),
        }
        assert_eq!(
            p.terminated(),
            matches!(status, Succeeded | Failed),
            "{what}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers of the model
// ---------------------------------------------------------------------------------------

#[test]
fn attempt_lookup_and_hash() {
    let mut amp_shard = attempt(5, mpp(300, 1, ADDR_A, 1_000));
    amp_shard.hash = Some([0x55; 32]);
    let p = payment(
        1_000,
        vec![
            in_flight(2, mpp(300, 1, ADDR_A, 1_000)),
            HtlcAttempt {
                info: amp_shard.clone(),
                settle: None,
                failure: None,
            },
        ],
        None,
    );
    assert_eq!(p.attempt(2).map(|h| h.info.attempt_id), Some(2));
    assert_eq!(p.attempt(5).map(|h| h.info.attempt_id), Some(5));
    assert!(p.attempt(3).is_none());
    assert_eq!(p.attempt_hash(&amp_shard), [0x55; 32]);
    assert_eq!(p.attempt_hash(&attempt(2, plain(1, 0))), HASH);
}

#[test]
fn route_helpers() {
    let r = plain(1_000, 50);
    assert_eq!(r.receiver_amt(), 1_000);
    assert_eq!(r.total_fees(), 50);
    assert_eq!(r.final_hop().map(|h| h.channel_id), Some(3));
    let empty = Route::default();
    assert_eq!(empty.final_hop(), None);
    assert_eq!(empty.receiver_amt(), 0);
    assert!(!empty.is_blinded());
}

#[test]
fn enum_conversions_match_api() {
    for (v, r) in [
        (0u8, FailureReason::Timeout),
        (1, FailureReason::NoRoute),
        (2, FailureReason::Error),
        (3, FailureReason::IncorrectPaymentDetails),
        (4, FailureReason::InsufficientBalance),
        (5, FailureReason::Canceled),
    ] {
        assert_eq!(FailureReason::try_from(v), Ok(r));
        assert_eq!(r as u8, v);
    }
    for (v, r) in [
        (0u8, HtlcFailReason::Unknown),
        (1, HtlcFailReason::Unreadable),
        (2, HtlcFailReason::Internal),
        (3, HtlcFailReason::Message),
    ] {
        assert_eq!(HtlcFailReason::try_from(v), Ok(r));
        assert_eq!(r as u8, v);
    }
    for v in [6u8, 7, 200, 255] {
        assert!(matches!(
            FailureReason::try_from(v),
            Err(Error::InvalidArgument(_))
        ));
    }
    for v in [4u8, 5, 255] {
        assert!(matches!(
            HtlcFailReason::try_from(v),
            Err(Error::InvalidArgument(_))
        ));
    }
}
