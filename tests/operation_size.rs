//! The size limit per operation: an operation at the limit is taken, one byte over is
//! `InvalidArgument` with nothing written, and a batch of many near-limit operations
//! (more than one write-ahead log record holds) comes back whole after a crash.

mod common;
#[path = "common/power.rs"]
mod power;

use std::sync::Arc;

use common::{attempt, creation, fail_info, payment};
use lnpaystore::backend::RedbConfig;
use lnpaystore::codec::{encode_attempt, encode_creation};
use lnpaystore::*;
use power::{Disk, Loss, Rng};

/// A creation info whose stored form is exactly `bytes` long.
fn creation_of(bytes: usize) -> CreationInfo {
    let mut info = creation(1000, 1_700_000_000);
    info.payment_request = vec![b'x'; bytes - 64];
    let over = encode_creation(&info).len() - (bytes - 64);
    info.payment_request = vec![b'x'; bytes - over];
    assert_eq!(encode_creation(&info).len(), bytes);
    info
}

fn open(disk: &Disk) -> Store {
    let backend = disk.backend(RedbConfig::default()).unwrap();
    Store::with_backend(Arc::new(backend), Options::default()).unwrap()
}

fn invalid<T: std::fmt::Debug>(r: Result<T>) -> String {
    match r {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn an_operation_over_the_limit_is_refused_and_writes_nothing() {
    let disk = Disk::new();
    let store = open(&disk);
    let (_, at_limit) = payment(1);
    store
        .init_payment(&at_limit, creation_of(MAX_OPERATION_BYTES))
        .unwrap();

    // Each refused call leaves the log as it was.
    let log = disk.log_len();
    let (_, over) = payment(2);
    let m = invalid(store.init_payment(&over, creation_of(MAX_OPERATION_BYTES + 1)));
    assert_eq!(disk.log_len(), log);
    assert!(m.contains("creation info") && m.contains("limit"), "{m}");
    assert_eq!(store.fetch_payment(&over), Err(Error::PaymentNotInitiated));

    // An attempt whose route carries too much.
    let mut big = attempt(1, 1000, None);
    big.route.hops[0]
        .custom_records
        .insert(65537, vec![0; MAX_OPERATION_BYTES]);
    assert!(encode_attempt(&big).len() > MAX_OPERATION_BYTES);
    invalid(store.register_attempt(&at_limit, big));
    assert_eq!(disk.log_len(), log);
    store
        .register_attempt(&at_limit, attempt(2, 1000, None))
        .unwrap();
    let mut fail = fail_info();
    fail.message = vec![0; MAX_OPERATION_BYTES + 1];
    let log = disk.log_len();
    invalid(store.fail_attempt(&at_limit, 2, fail));
    assert_eq!(disk.log_len(), log);
    let p = store.fetch_payment(&at_limit).unwrap();
    assert_eq!(p.htlcs.len(), 1);
    assert!(p.htlcs[0].failure.is_none());

    // A mission-control result and an imported payment: the same limit.
    let mc = store
        .open_mission_control("limits", McOptions::default())
        .unwrap();
    let mut result = McResult {
        id: 1,
        time_forwarded_ns: 1,
        time_reply_ns: 2,
        route: McRoute {
            source_pub_key: [2; 33],
            total_amount_msat: 1000,
            hops: Vec::new(),
        },
        failure: Some(McFailure {
            source_index: Some(0),
            message: Some(vec![0; MAX_OPERATION_BYTES + 1]),
        }),
    };
    invalid(mc.add_result(result.clone()));
    result.failure = None;
    mc.add_result(result).unwrap();
    mc.close().unwrap();
    let (_, imported) = payment(3);
    let report = store
        .import_payments(vec![ImportPayment {
            sequence_num: 100,
            hash: imported,
            info: creation_of(MAX_OPERATION_BYTES + 1),
            htlcs: Vec::new(),
            failure_reason: Some(FailureReason::NoRoute),
        }])
        .unwrap();
    assert_eq!(report.imported, 0);
    assert!(matches!(report.refused[0].error, Error::InvalidArgument(_)));
    store.check_integrity().unwrap();
    store.close().unwrap();
}

#[test]
fn a_batch_of_near_limit_operations_survives_a_crash() {
    let disk = Disk::new();
    let store = open(&disk);
    let near = MAX_OPERATION_BYTES - 100;
    // Concurrent callers: batches of several operations at the limit.
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &store;
            s.spawn(move || {
                let (_, hash) = payment(t);
                store.init_payment(&hash, creation_of(near)).unwrap();
            });
        }
    });
    // One import call is one batch: 17 payments of nearly 4 MiB, more than one log
    // record holds.
    let imports: Vec<ImportPayment> = (0..17)
        .map(|i| ImportPayment {
            sequence_num: 1000 + i,
            hash: payment(100 + i).1,
            info: creation_of(near),
            htlcs: Vec::new(),
            failure_reason: Some(FailureReason::Timeout),
        })
        .collect();
    let report = store.import_payments(imports).unwrap();
    assert_eq!(report.imported, 17);
    assert!(
        disk.log_len() > 64 << 20,
        "the batch fits one record: {} bytes",
        disk.log_len()
    );
    // A kill (the kernel keeps every write) and a power loss (only synced data).
    disk.cut();
    drop(store);
    let mut rng = Rng(7);
    for loss in [Loss::Nothing, Loss::Synced] {
        let store = open(&disk.image(loss, &mut rng));
        for n in (0..4).chain(100..117) {
            let p = store.fetch_payment(&payment(n).1).unwrap();
            assert_eq!(p.info, creation_of(near), "payment {n}");
        }
        store.check_integrity().unwrap();
        store.close().unwrap();
    }
}
