//! Bulk import of whole payments (`Store::import_payments`): every state arrives as
//! given with its sequence number, indexes and counters stay right, and nothing that
//! exists is ever overwritten.

mod common;

use common::*;
use lnpaystore::*;

fn settled(info: AttemptInfo, pre: Preimage) -> HtlcAttempt {
    HtlcAttempt {
        info,
        settle: Some(settle(pre)),
        failure: None,
    }
}

fn failed(info: AttemptInfo) -> HtlcAttempt {
    HtlcAttempt {
        info,
        settle: None,
        failure: Some(fail_info()),
    }
}

fn in_flight(info: AttemptInfo) -> HtlcAttempt {
    HtlcAttempt {
        info,
        settle: None,
        failure: None,
    }
}

fn whole(
    seq: u64,
    n: u64,
    value: u64,
    htlcs: Vec<HtlcAttempt>,
    reason: Option<FailureReason>,
) -> ImportPayment {
    ImportPayment {
        sequence_num: seq,
        hash: payment(n).1,
        info: creation(value, 1_000 + n as i64),
        htlcs,
        failure_reason: reason,
    }
}

/// One payment in every state, and the shapes the tower produces: MPP with a failed and
/// retried shard, AMP shards with their own hashes, a failed payment without attempts.
fn every_state() -> Vec<ImportPayment> {
    let (pre1, _) = payment(1);
    let (pre5, _) = payment(5);
    let amp_shard = |id: u64, child: u64| {
        let (pre, hash) = payment(100 + child);
        let mut a = attempt(id, 500, mpp(1000));
        a.hash = Some(hash);
        a.route.hops[2].amp = Some(Amp {
            root_share: [3; 32],
            set_id: payment(6).1,
            child_index: child as u32,
        });
        settled(a, pre)
    };
    vec![
        // Out of sequence order and with gaps: numbers are kept as given.
        whole(
            40,
            1,
            1000,
            vec![settled(attempt(1, 1000, None), pre1)],
            None,
        ),
        whole(7, 2, 1000, vec![], None),
        whole(9, 3, 1000, vec![in_flight(attempt(4, 1000, None))], None),
        whole(
            12,
            4,
            1000,
            vec![
                failed(attempt(1, 1000, None)),
                failed(attempt(2, 1000, None)),
            ],
            Some(FailureReason::NoRoute),
        ),
        whole(
            13,
            5,
            1000,
            vec![
                failed(attempt(1, 600, mpp(1000))),
                settled(attempt(2, 400, mpp(1000)), pre5),
                settled(attempt(3, 600, mpp(1000)), pre5),
            ],
            None,
        ),
        whole(14, 6, 1000, vec![amp_shard(1, 0), amp_shard(2, 1)], None),
        whole(15, 7, 1000, vec![], Some(FailureReason::Canceled)),
        // All shards failed, no reason yet: in flight (the router may retry).
        whole(16, 8, 1000, vec![failed(attempt(9, 1000, None))], None),
    ]
}

fn expected(p: &ImportPayment) -> Payment {
    Payment::from_parts(
        p.sequence_num,
        p.hash,
        p.info.clone(),
        p.htlcs.clone(),
        p.failure_reason,
    )
    .unwrap()
}

#[test]
fn imports_every_state_with_its_sequence_number() {
    let (dir, store) = temp_store();
    let input = every_state();
    let report = store.import_payments(input.clone()).unwrap();
    assert_eq!(report.imported, input.len() as u64);
    assert!(report.refused.is_empty(), "{:?}", report.refused);

    let statuses: Vec<PaymentStatus> = input
        .iter()
        .map(|p| store.fetch_payment(&p.hash).unwrap().status)
        .collect();
    use PaymentStatus::*;
    assert_eq!(
        statuses,
        [Succeeded, Initiated, InFlight, Failed, Succeeded, Succeeded, Failed, InFlight]
    );
    for p in &input {
        assert_eq!(store.fetch_payment(&p.hash).unwrap(), expected(p));
    }
    let counts = store.payment_counts().unwrap();
    assert_eq!(
        (
            counts.total,
            counts.initiated,
            counts.in_flight,
            counts.succeeded,
            counts.failed
        ),
        (8, 1, 2, 3, 2)
    );
    let inflight = inflight_sequence_numbers(&store);
    assert_eq!(inflight, [7, 9, 16]);
    // Pages follow the kept numbers.
    let page = store
        .query_payments(&Query {
            include_incomplete: true,
            index_offset: 9,
            max_payments: 3,
            ..Default::default()
        })
        .unwrap();
    let seqs: Vec<u64> = page.payments.iter().map(|p| p.sequence_num).collect();
    assert_eq!(seqs, [12, 13, 14]);
    // The creation-time index finds imported payments.
    let window = store
        .query_payments(&Query {
            include_incomplete: true,
            creation_date_start: 1_003,
            creation_date_end: 1_004,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(window.payments.len(), 2);
    store.check_integrity().unwrap();

    // New payments number above every imported one, and an imported in-flight payment
    // goes on with its life.
    let p = store.init_payment(&payment(50).1, creation(10, 5)).unwrap();
    assert_eq!(p.sequence_num, 41);
    let (pre3, hash3) = payment(3);
    let p = store.settle_attempt(&hash3, 4, settle(pre3)).unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    store.check_integrity().unwrap();
    store.close().unwrap();

    let store = dir.open();
    store.check_integrity().unwrap();
    assert_eq!(
        store.fetch_payment(&input[4].hash).unwrap(),
        expected(&input[4])
    );
    assert_eq!(
        store
            .init_payment(&payment(51).1, creation(10, 5))
            .unwrap()
            .sequence_num,
        42
    );
}

#[test]
fn taken_hashes_and_numbers_are_refused_per_payment_and_never_overwritten() {
    let (_dir, store) = temp_store();
    // Live payments 1 (seq 1, succeeded) and 2 (seq 2, failed), and 3 paid then deleted.
    let h1 = pay(&store, 1, 1000, 10);
    let h2 = fail(&store, 2, 1000, 10);
    let h3 = pay(&store, 3, 1000, 10);
    store.delete_payment(&h3, false).unwrap();
    let before1 = store.fetch_payment(&h1).unwrap();
    let before2 = store.fetch_payment(&h2).unwrap();

    let (pre1, _) = payment(1);
    let (pre9, _) = payment(9);
    let input = vec![
        whole(
            100,
            1,
            1000,
            vec![settled(attempt(1, 1000, None), pre1)],
            None,
        ),
        whole(101, 2, 1000, vec![], None),
        whole(102, 3, 1000, vec![], None),
        whole(2, 4, 1000, vec![], None),
        whole(103, 5, 1000, vec![], None),
        // The same number or hash twice in one call: the first wins.
        whole(103, 6, 1000, vec![], None),
        whole(104, 5, 1000, vec![], None),
        // Broken payments, refused by the model's rules.
        whole(0, 7, 1000, vec![], None),
        whole(
            105,
            8,
            1000,
            vec![settled(attempt(1, 1000, None), pre9)],
            None,
        ),
        whole(
            106,
            10,
            1000,
            vec![
                in_flight(attempt(1, 1000, None)),
                in_flight(attempt(2, 1000, None)),
            ],
            None,
        ),
        whole(
            107,
            11,
            1000,
            vec![HtlcAttempt {
                info: attempt(1, 1000, None),
                settle: Some(settle(payment(11).0)),
                failure: Some(fail_info()),
            }],
            None,
        ),
        whole(
            108,
            12,
            1000,
            vec![
                failed(attempt(3, 1000, None)),
                failed(attempt(3, 1000, None)),
            ],
            None,
        ),
        whole(109, 13, 0, vec![], None),
        whole(110, 14, 1000, vec![in_flight(attempt(1, 1000, None))], None),
    ];
    let report = store.import_payments(input).unwrap();
    let refused: Vec<(usize, u64, LpsStatus)> = report
        .refused
        .iter()
        .map(|r| (r.index, r.sequence_num, r.error.status()))
        .collect();
    use LpsStatus as S;
    assert_eq!(
        refused,
        [
            (0, 100, S::PaymentExists),
            (1, 101, S::PaymentExists),
            (2, 102, S::AlreadyPaid),
            (3, 2, S::SequenceNumExists),
            (5, 103, S::SequenceNumExists),
            (6, 104, S::PaymentExists),
            (7, 0, S::InvalidArgument),
            (8, 105, S::PreimageMismatch),
            (9, 106, S::SentExceedsTotal),
            (10, 107, S::InvalidArgument),
            (11, 108, S::AttemptExists),
            (12, 109, S::InvalidArgument),
        ]
    );
    assert_eq!(report.imported, 2);
    assert_eq!(report.refused[0].hash, h1);
    let message = report.refused[9].error.to_string();
    assert!(
        message.contains("htlcs[0]") && message.contains("both"),
        "{message}"
    );

    assert_eq!(store.fetch_payment(&h1).unwrap(), before1);
    assert_eq!(store.fetch_payment(&h2).unwrap(), before2);
    assert_eq!(store.fetch_payment(&h3), Err(Error::PaymentNotInitiated));
    assert_eq!(
        store.fetch_payment(&payment(5).1).unwrap().sequence_num,
        103
    );
    assert_eq!(store.payment_counts().unwrap().total, 4);
    store.check_integrity().unwrap();
    // The paid hash stays paid.
    assert_eq!(
        store.init_payment(&h3, creation(1000, 10)),
        Err(Error::AlreadyPaid)
    );
}

#[test]
fn a_large_import_spans_chunks_and_survives_a_reopen() {
    let (dir, store) = temp_store();
    let n = 2 * IMPORT_CHUNK as u64 + 500;
    let input: Vec<ImportPayment> = (1..=n)
        .map(|i| {
            let (pre, _) = payment(i);
            let htlcs = match i % 4 {
                0 => vec![settled(attempt(1, 1000, None), pre)],
                1 => vec![failed(attempt(1, 1000, None))],
                2 => vec![in_flight(attempt(1, 1000, None))],
                _ => vec![],
            };
            let reason = (i % 4 == 1).then_some(FailureReason::Timeout);
            // Numbers from a node that had deleted every other payment.
            whole(2 * i, i, 1000, htlcs, reason)
        })
        .collect();
    let report = store.import_payments(input).unwrap();
    assert_eq!((report.imported, report.refused.len()), (n, 0));
    // Importing the same again refuses every payment and changes nothing.
    let again: Vec<ImportPayment> = (1..=n)
        .map(|i| whole(2 * i, i, 1000, vec![], None))
        .collect();
    let report = store.import_payments(again).unwrap();
    assert_eq!(report.imported, 0);
    assert!(report
        .refused
        .iter()
        .all(|r| r.error == Error::PaymentExists));
    store.close().unwrap();

    let store = dir.open();
    let integrity = store.check_integrity().unwrap();
    assert_eq!((integrity.payments, integrity.in_flight_index), (n, n / 2));
    let counts = store.payment_counts().unwrap();
    assert_eq!(
        (
            counts.succeeded,
            counts.failed,
            counts.in_flight,
            counts.initiated
        ),
        (n / 4, n / 4, n / 4, n / 4)
    );
    assert_eq!(
        store
            .init_payment(&payment(n + 1).1, creation(10, 5))
            .unwrap()
            .sequence_num,
        2 * n + 1
    );
}

#[test]
fn an_import_into_gaps_below_the_next_number_is_allowed() {
    let (_dir, store) = temp_store();
    for i in 1..=3 {
        pay(&store, i, 1000, 10);
    }
    // Numbers 1..3 are taken, 50 is free and below nothing; 2 is not.
    let report = store
        .import_payments(vec![
            whole(50, 10, 1000, vec![], None),
            whole(2, 11, 1000, vec![], None),
        ])
        .unwrap();
    assert_eq!(report.imported, 1);
    assert_eq!(report.refused[0].error, Error::SequenceNumExists(2));
    // A gap below the next number (left by a deletion) can be filled by an import.
    store.delete_payment(&payment(2).1, false).unwrap();
    let report = store
        .import_payments(vec![whole(2, 11, 1000, vec![], None)])
        .unwrap();
    assert_eq!(report.imported, 1);
    assert_eq!(
        store
            .init_payment(&payment(12).1, creation(10, 5))
            .unwrap()
            .sequence_num,
        51
    );
    store.check_integrity().unwrap();
}

mod encoded_mission_control {
    //! `lps_mc_add_encoded_result`: a result in its stored form is queued only when it
    //! would be stored byte for byte as given.

    use super::*;
    use lnpaystore::codec::encode_mc_result;
    use lnpaystore::ffi::*;
    use std::ffi::CString;
    use std::ptr;

    fn bytes(b: &[u8]) -> LpsBytes {
        LpsBytes {
            ptr: b.as_ptr(),
            len: b.len(),
        }
    }

    fn sample(id: u64) -> McResult {
        McResult {
            id,
            time_forwarded_ns: 1_700_000_000_000_000_000,
            time_reply_ns: 1_700_000_000_500_000_000 + id as i64,
            route: McRoute {
                source_pub_key: [3; 33],
                total_amount_msat: 10_030,
                hops: vec![McHop {
                    channel_id: 5,
                    pub_key: [2; 33],
                    amt_to_forward_msat: 10_000,
                    has_blinding_point: true,
                    has_custom_records: false,
                }],
            },
            failure: Some(McFailure {
                source_index: Some(1),
                message: Some(vec![0x40, 0x0f]),
            }),
        }
    }

    #[test]
    fn only_byte_identical_results_are_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = CString::new(dir.path().join("mc.db").to_str().unwrap()).unwrap();
        let mut store = ptr::null_mut();
        assert_eq!(
            lps_store_open(path.as_ptr(), ptr::null(), &mut store),
            LpsStatus::Ok
        );
        let mut mc = ptr::null_mut();
        assert_eq!(
            lps_mc_open(store, ptr::null(), ptr::null(), &mut mc),
            LpsStatus::Ok
        );

        let r = sample(7);
        let (key, value) = (r.key(), encode_mc_result(&r));
        assert_eq!(
            lps_mc_add_encoded_result(mc, bytes(&key), bytes(&value)),
            LpsStatus::Ok
        );
        // An unknown odd record decodes but would be dropped: not byte-identical.
        let mut padded = value.clone();
        padded.extend_from_slice(&[0x05, 0x01, 0xff]);
        assert_eq!(
            lps_mc_add_encoded_result(mc, bytes(&key), bytes(&padded)),
            LpsStatus::InvalidArgument
        );
        // A key whose reply time is not the value's (the attempt id lives in the key only).
        let mut other_key = key;
        other_key[2] ^= 1;
        assert_eq!(
            lps_mc_add_encoded_result(mc, bytes(&other_key), bytes(&value)),
            LpsStatus::InvalidArgument
        );
        // Bytes that do not decode.
        assert_eq!(
            lps_mc_add_encoded_result(mc, bytes(&key), bytes(&value[..value.len() - 1])),
            LpsStatus::InvalidArgument
        );

        assert_eq!(lps_mc_flush(mc), LpsStatus::Ok);
        let mut list = ptr::null_mut();
        assert_eq!(lps_mc_fetch_all(mc, &mut list), LpsStatus::Ok);
        // SAFETY: the library handed out a valid list.
        let n = unsafe { (*list).len };
        lps_mc_result_list_free(list);
        assert_eq!(n, 1);
        assert_eq!(lps_mc_close(mc), LpsStatus::Ok);
        assert_eq!(lps_store_close(store), LpsStatus::Ok);
    }
}

/// Sequence numbers are kept up to 2^62 and no further, so that every number the store
/// hands out sorts right on both backends (PostgreSQL's column is signed).
#[test]
fn sequence_numbers_are_kept_up_to_two_to_the_62() {
    let (_dir, store) = temp_store();
    let report = store
        .import_payments(vec![
            whole(MAX_IMPORT_SEQUENCE_NUM + 1, 1, 1000, vec![], None),
            whole(MAX_IMPORT_SEQUENCE_NUM, 2, 1000, vec![], None),
            whole(5, 3, 1000, vec![], None),
        ])
        .unwrap();
    assert_eq!(report.imported, 2);
    let refusal = &report.refused[0];
    assert_eq!(refusal.error.status(), LpsStatus::InvalidArgument);
    assert!(
        refusal.error.to_string().contains("4611686018427387905"),
        "{}",
        refusal.error
    );
    // The next payment numbers above the highest, and pages of two find the right ends
    // (a reversed page holds the newest, in ascending order).
    let next = store.init_payment(&payment(4).1, creation(10, 5)).unwrap();
    assert_eq!(next.sequence_num, MAX_IMPORT_SEQUENCE_NUM + 1);
    let page = |reversed| -> Vec<u64> {
        let q = Query {
            include_incomplete: true,
            reversed,
            max_payments: 2,
            ..Default::default()
        };
        let page = store.query_payments(&q).unwrap();
        page.payments.iter().map(|p| p.sequence_num).collect()
    };
    assert_eq!(page(false), [5, MAX_IMPORT_SEQUENCE_NUM]);
    assert_eq!(
        page(true),
        [MAX_IMPORT_SEQUENCE_NUM, MAX_IMPORT_SEQUENCE_NUM + 1]
    );
    store.check_integrity().unwrap();
}
