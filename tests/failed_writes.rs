//! One failed write of the log or the store file makes the whole store refuse writes:
//! payment operations, mission-control flushes, bulk deletions, imports, compaction
//! and close alike. Reads go on; a reopen recovers everything acknowledged.

mod common;
#[path = "common/power.rs"]
mod power;

use std::sync::Arc;

use common::{creation, payment};
use lnpaystore::backend::RedbConfig;
use lnpaystore::*;
use power::{Disk, Loss, Rng};

fn mc_result(id: u64) -> McResult {
    McResult {
        id,
        time_forwarded_ns: 1,
        time_reply_ns: 2,
        route: McRoute {
            source_pub_key: [2; 33],
            total_amount_msat: 1000,
            hops: Vec::new(),
        },
        failure: None,
    }
}

fn open(disk: &Disk, checkpoint_bytes: u64) -> Store {
    let config = RedbConfig {
        checkpoint_bytes,
        ..RedbConfig::default()
    };
    let backend = disk.backend(config).unwrap();
    Store::with_backend(Arc::new(backend), Options::default()).unwrap()
}

fn io_error<T: std::fmt::Debug>(what: &str, r: Result<T>) {
    assert!(matches!(r, Err(Error::Io(_))), "{what}: {r:?}");
}

/// Every kind of write is refused, and reads still answer.
fn refuses_every_write(store: &Store, paid: &PaymentHash) {
    io_error(
        "init",
        store.init_payment(&payment(50).1, creation(1000, 1)),
    );
    let mc = store
        .open_mission_control("refused", McOptions::default())
        .unwrap();
    mc.add_result(mc_result(1)).unwrap();
    io_error("mission-control flush", mc.flush());
    io_error("bulk deletion", store.delete_payments(false, false));
    io_error("deletion", store.delete_payment(paid, false));
    io_error("compaction", store.compact());
    let import = ImportPayment {
        sequence_num: 1000,
        hash: payment(51).1,
        info: creation(1000, 1),
        htlcs: Vec::new(),
        failure_reason: Some(FailureReason::NoRoute),
    };
    io_error("import", store.import_payments(vec![import]));
    assert_eq!(store.fetch_payment(paid).unwrap().info, creation(1000, 1));
    let _ = mc.close();
}

/// After the store refused writes and closed without writing, a reopen finds every
/// acknowledged payment.
fn reopen_finds(disk: &Disk, paid: &PaymentHash) {
    disk.cut();
    let store = open(&disk.image(Loss::Synced, &mut Rng(3)), 0);
    assert_eq!(store.fetch_payment(paid).unwrap().info, creation(1000, 1));
    store.check_integrity().unwrap();
    store.close().unwrap();
}

#[test]
fn a_failed_log_truncation_at_a_checkpoint_refuses_every_write() {
    let disk = Disk::new();
    // Every batch checkpoints first (once the log holds anything).
    let store = open(&disk, 1);
    let (_, paid) = payment(1);
    store.init_payment(&paid, creation(1000, 1)).unwrap();
    disk.fail_log_reset();
    io_error(
        "the batch that checkpoints",
        store.init_payment(&payment(2).1, creation(1000, 1)),
    );
    refuses_every_write(&store, &paid);
    io_error("close", store.close());
    reopen_finds(&disk, &paid);
}

#[test]
fn a_failed_store_sync_refuses_every_write() {
    let disk = Disk::new();
    let store = open(&disk, 0);
    let (_, paid) = payment(1);
    store.init_payment(&paid, creation(1000, 1)).unwrap();
    let mc = store
        .open_mission_control("flush", McOptions::default())
        .unwrap();
    mc.add_result(mc_result(1)).unwrap();
    // A mission-control flush is a durable commit of the store file.
    disk.fail_store_sync();
    io_error("the failed flush", mc.flush());
    let _ = mc.close();
    refuses_every_write(&store, &paid);
    io_error("close", store.close());
    reopen_finds(&disk, &paid);
}
