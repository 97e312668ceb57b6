//! Fixtures shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod churn;
#[cfg(feature = "postgres")]
pub mod pg;
#[cfg(feature = "postgres")]
pub mod pg_load;

use lnpaystore::*;
use sha2::{Digest, Sha256};

pub fn open(path: &Path) -> Store {
    Store::open(path, fast_options()).expect("open store")
}

/// Where a test's store lives: a file in a fresh temporary directory, or, when
/// LNPAYSTORE_TEST_BACKEND=postgres (`make unit` runs the suites both ways), a fresh
/// schema of the test cluster. One fixture, so every suite that uses it runs against
/// both engines.
pub struct Place {
    dir: tempfile::TempDir,
    url: Option<String>,
}

impl Place {
    pub fn new() -> Place {
        let dir = tempfile::tempdir().expect("temp dir");
        Place {
            dir,
            url: database_url(),
        }
    }

    /// The store's location: the file path, or the database URL.
    pub fn path(&self) -> std::path::PathBuf {
        match &self.url {
            Some(url) => url.into(),
            None => self.dir.path().join("lps.db"),
        }
    }

    /// Whether the store is a PostgreSQL database.
    pub fn is_database(&self) -> bool {
        self.url.is_some()
    }

    /// A directory for the test's other files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn open(&self) -> Store {
        open(&self.path())
    }
}

/// A fresh schema's URL when the suites run against PostgreSQL.
fn database_url() -> Option<String> {
    match std::env::var("LNPAYSTORE_TEST_BACKEND").as_deref() {
        Ok("postgres") => postgres_url(),
        Ok("") | Ok("redb") | Err(_) => None,
        Ok(other) => panic!("LNPAYSTORE_TEST_BACKEND={other}: expected redb or postgres"),
    }
}

#[cfg(feature = "postgres")]
fn postgres_url() -> Option<String> {
    Some(
        pg::fresh_schema_url("suite")
            .expect("LNPAYSTORE_TEST_BACKEND=postgres needs LNPAYSTORE_TEST_PG_URL"),
    )
}

#[cfg(not(feature = "postgres"))]
fn postgres_url() -> Option<String> {
    panic!("LNPAYSTORE_TEST_BACKEND=postgres needs the tests built with --features postgres")
}

/// A store in a fresh place (kept alive by the returned guard).
pub fn temp_store() -> (Place, Store) {
    let place = Place::new();
    let store = place.open();
    (place, store)
}

/// fsync off: these tests check logic, not the disk (durability has its own tests).
pub fn fast_options() -> Options {
    Options {
        no_sync: true,
        ..Options::default()
    }
}

pub fn preimage(n: u64) -> Preimage {
    let mut p = [0u8; 32];
    p[..8].copy_from_slice(&n.to_be_bytes());
    p[31] = 0xaa;
    p
}

pub fn hash_of(preimage: &Preimage) -> PaymentHash {
    Sha256::digest(preimage).into()
}

/// Payment `n`: its preimage and hash.
pub fn payment(n: u64) -> (Preimage, PaymentHash) {
    let p = preimage(n);
    (p, hash_of(&p))
}

pub const SECOND: i64 = 1_000_000_000;

pub fn creation(value_msat: u64, created_s: i64) -> CreationInfo {
    CreationInfo {
        payment_identifier: [9; 32],
        value_msat,
        creation_time_ns: created_s * SECOND + 123,
        payment_request: b"lnbc1...".to_vec(),
        first_hop_custom_records: [(65537u64, vec![1, 2, 3])].into_iter().collect(),
    }
}

/// A 3-hop route delivering `amt` with 10 msat fees per hop before the last.
pub fn route(amt: u64, mpp: Option<Mpp>) -> Route {
    let hops = (0..3u8)
        .map(|i| Hop {
            pub_key: [i + 2; 33],
            channel_id: 1000 + u64::from(i),
            outgoing_time_lock: 500 - u32::from(i) * 40,
            amt_to_forward_msat: amt + 10 * (2 - u64::from(i)),
            mpp: if i == 2 { mpp } else { None },
            custom_records: if i == 2 {
                [(70000u64, vec![7])].into_iter().collect()
            } else {
                Default::default()
            },
            ..Default::default()
        })
        .collect();
    Route {
        total_time_lock: 600,
        total_amount_msat: amt + 30,
        source_pub_key: [1; 33],
        hops,
        first_hop_amount_msat: amt + 20,
        first_hop_wire_custom_records: Default::default(),
    }
}

pub fn mpp(total: u64) -> Option<Mpp> {
    Some(Mpp {
        payment_addr: [5; 32],
        total_msat: total,
    })
}

pub fn attempt(id: u64, amt: u64, mpp: Option<Mpp>) -> AttemptInfo {
    AttemptInfo {
        attempt_id: id,
        session_key: [id as u8; 32],
        route: route(amt, mpp),
        attempt_time_ns: 1_700_000_000 * SECOND + id as i64,
        hash: None,
    }
}

pub fn settle(preimage: Preimage) -> SettleInfo {
    SettleInfo {
        preimage,
        settle_time_ns: 1_700_000_100 * SECOND,
    }
}

pub fn fail_info() -> FailInfo {
    FailInfo {
        fail_time_ns: 1_700_000_050 * SECOND,
        message: vec![0x40, 0x0f],
        reason: HtlcFailReason::Message,
        failure_source_index: 2,
    }
}

/// Runs one full single-shard payment: init → register → settle.
pub fn pay(store: &Store, n: u64, value: u64, created_s: i64) -> PaymentHash {
    let (pre, hash) = payment(n);
    store
        .init_payment(&hash, creation(value, created_s))
        .unwrap();
    store
        .register_attempt(&hash, attempt(1, value, None))
        .unwrap();
    store.settle_attempt(&hash, 1, settle(pre)).unwrap();
    hash
}

/// A failed payment: init → register → fail attempt → fail payment.
pub fn fail(store: &Store, n: u64, value: u64, created_s: i64) -> PaymentHash {
    let (_, hash) = payment(n);
    store
        .init_payment(&hash, creation(value, created_s))
        .unwrap();
    store
        .register_attempt(&hash, attempt(1, value, None))
        .unwrap();
    store.fail_attempt(&hash, 1, fail_info()).unwrap();
    store.fail_payment(&hash, FailureReason::NoRoute).unwrap();
    hash
}

/// Checks the counters against a full walk of the store.
pub fn assert_counts_consistent(store: &Store) {
    let page = store
        .query_payments(&Query {
            include_incomplete: true,
            max_payments: u64::MAX,
            count_total: true,
            ..Default::default()
        })
        .unwrap();
    let counts = store.payment_counts().unwrap();
    let count = |s| page.payments.iter().filter(|p| p.status == s).count() as u64;
    assert_eq!(counts.total, page.payments.len() as u64, "total");
    assert_eq!(page.total_count, counts.total);
    assert_eq!(
        counts.initiated,
        count(PaymentStatus::Initiated),
        "initiated"
    );
    assert_eq!(
        counts.in_flight,
        count(PaymentStatus::InFlight),
        "in flight"
    );
    assert_eq!(
        counts.succeeded,
        count(PaymentStatus::Succeeded),
        "succeeded"
    );
    assert_eq!(counts.failed, count(PaymentStatus::Failed), "failed");
    let inflight = inflight_sequence_numbers(store);
    let expected: Vec<u64> = page
        .payments
        .iter()
        .filter(|p| !p.status.is_terminal())
        .map(|p| p.sequence_num)
        .collect();
    assert_eq!(inflight, expected, "in-flight index matches derived status");
    store.check_integrity().expect("integrity check");
}

/// Mission-control result `id`: a one-hop success, forwarded at `id` ns, replied 1 ns later.
pub fn mc_result(id: u64) -> McResult {
    McResult {
        id,
        time_forwarded_ns: id as i64,
        time_reply_ns: id as i64 + 1,
        route: McRoute {
            source_pub_key: [2; 33],
            total_amount_msat: 1000,
            hops: vec![McHop {
                channel_id: id,
                pub_key: [3; 33],
                amt_to_forward_msat: 1000,
                has_blinding_point: false,
                has_custom_records: false,
            }],
        },
        failure: None,
    }
}

/// `path` with `suffix` appended to its file name (`db` → `db-log`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The sequence numbers of the payments `fetch_inflight_payments` returns, in its order.
pub fn inflight_sequence_numbers(store: &Store) -> Vec<u64> {
    store
        .fetch_inflight_payments()
        .unwrap()
        .iter()
        .map(|p| p.sequence_num)
        .collect()
}
