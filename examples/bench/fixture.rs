//! Stores and payments for the scenarios. Large stores are filled through the public
//! Rust API with `no_sync` and many threads (the "fast path" docs/performance.md allows for
//! generation); the measured operations then run on the store reopened durable.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use lnpaystore::*;
use sha2::{Digest, Sha256};

pub const HOPS: u8 = 3;
pub const FEE_PER_HOP: u64 = 10;

/// Payment `n`'s preimage and hash.
pub fn payment(n: u64) -> (Preimage, PaymentHash) {
    let pre: Preimage = Sha256::digest(n.to_be_bytes()).into();
    (pre, Sha256::digest(pre).into())
}

/// A 3-hop route delivering `amt` (final hop carries `mpp` when given).
pub fn route(amt: u64, mpp: Option<Mpp>) -> Route {
    let hops = (0..HOPS)
        .map(|i| Hop {
            pub_key: [i + 2; 33],
            channel_id: 800_000 << 40 | u64::from(i),
            outgoing_time_lock: 850_000 - u32::from(i) * 40,
            amt_to_forward_msat: amt + FEE_PER_HOP * u64::from(HOPS - 1 - i),
            mpp: if i == HOPS - 1 { mpp } else { None },
            ..Hop::default()
        })
        .collect();
    Route {
        total_time_lock: 850_100,
        total_amount_msat: amt + FEE_PER_HOP * u64::from(HOPS),
        source_pub_key: [1; 33],
        hops,
        first_hop_amount_msat: amt + FEE_PER_HOP * u64::from(HOPS - 1),
        first_hop_wire_custom_records: CustomRecords::new(),
    }
}

pub fn creation(value_msat: u64, created_ns: i64) -> CreationInfo {
    CreationInfo {
        payment_identifier: [7; 32],
        value_msat,
        creation_time_ns: created_ns,
        payment_request: b"lnbc100n1pbenchmark".to_vec(),
        first_hop_custom_records: CustomRecords::new(),
    }
}

pub fn attempt(id: u64, amt: u64, mpp: Option<Mpp>) -> AttemptInfo {
    AttemptInfo {
        attempt_id: id,
        session_key: [id as u8; 32],
        route: route(amt, mpp),
        attempt_time_ns: 1_700_000_000_000_000_000,
        hash: None,
    }
}

/// Which backend the scenarios run on now (`--backend`; `both` runs each twice).
static ON_POSTGRES: AtomicBool = AtomicBool::new(false);
/// The PostgreSQL server the stores go to (`--pg-url`, or the cluster the bench started).
static PG_SERVER: OnceLock<String> = OnceLock::new();

pub fn use_postgres(server: Option<&str>) {
    if let Some(url) = server {
        let _ = PG_SERVER.set(url.to_string());
    }
    ON_POSTGRES.store(server.is_some(), Ordering::Relaxed);
}

pub fn on_postgres() -> bool {
    ON_POSTGRES.load(Ordering::Relaxed)
}

/// `redb` or `postgres` target, by the backend the scenario runs on.
pub fn target(redb: f64, postgres: f64) -> f64 {
    if on_postgres() {
        postgres
    } else {
        redb
    }
}

/// An absolute limit set for the store file only: on PostgreSQL (a server round trip per
/// read) the target is independence of the store's size, the ratio beside it.
pub fn file_only(redb: f64) -> f64 {
    if on_postgres() {
        f64::INFINITY
    } else {
        redb
    }
}

/// A store of the scenario's own: a file in a temporary directory, or (on PostgreSQL) a
/// schema of its own in the server's database, dropped with it. `path` is what
/// `Store::open` and `lps_store_open` take: the file's path or the schema's URL.
pub struct TempStore {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    schema: Option<String>,
}

impl TempStore {
    pub fn new() -> TempStore {
        let dir = tempfile::tempdir().expect("temp dir");
        if on_postgres() {
            let (schema, url) = new_schema();
            return TempStore {
                _dir: dir,
                path: PathBuf::from(url),
                schema: Some(schema),
            };
        }
        let path = dir.path().join("bench.db");
        TempStore {
            _dir: dir,
            path,
            schema: None,
        }
    }

    pub fn open(&self, options: Options) -> Store {
        Store::open(&self.path, options).expect("open store")
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema {
            drop_schema(schema);
        }
    }
}

#[cfg(feature = "postgres")]
fn server_client() -> postgres::Client {
    let url = PG_SERVER.get().expect("a PostgreSQL server");
    postgres::Client::connect(url, postgres::NoTls).expect("connect to the PostgreSQL server")
}

/// A new schema on the server and the URL whose tables live in it.
#[cfg(feature = "postgres")]
fn new_schema() -> (String, String) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let schema = format!(
        "bench_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    server_client()
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create a schema for the store");
    let server = PG_SERVER.get().expect("a PostgreSQL server");
    let sep = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{sep}options=-csearch_path%3D{schema}");
    (schema, url)
}

#[cfg(feature = "postgres")]
fn drop_schema(schema: &str) {
    let _ = server_client().batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
}

#[cfg(not(feature = "postgres"))]
fn new_schema() -> (String, String) {
    unreachable!("--backend postgres is refused without the postgres feature")
}

#[cfg(not(feature = "postgres"))]
fn drop_schema(_: &str) {}

/// The disk's rate of 4 KiB write + fdatasync pairs, printed beside the store's own
/// figures (docs/performance.md gives the reference machine's).
pub fn fdatasyncs_per_s() -> f64 {
    use std::io::{Seek, Write};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut file = std::fs::File::create(dir.path().join("probe")).expect("create probe file");
    let page = [7u8; 4096];
    let n = 500;
    let start = Instant::now();
    for _ in 0..n {
        file.rewind().expect("seek");
        file.write_all(&page).expect("write");
        file.sync_data().expect("fdatasync");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

pub fn fast() -> Options {
    Options {
        no_sync: true,
        ..Options::default()
    }
}

/// How the filled payments end.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Settle,
    Fail,
}

/// Fills `path` with `total` payments created `spacing_ms` apart from `start_s`; all
/// settle (or fail) except the last `in_flight`, which keep one attempt in flight.
/// Returns the time it took.
pub fn fill(
    path: &Path,
    total: u64,
    in_flight: u64,
    start_s: i64,
    spacing_ms: i64,
    fate: Fate,
) -> Duration {
    let started = Instant::now();
    let store = Store::open(path, fast()).expect("open");
    let threads = 16;
    std::thread::scope(|s| {
        for t in 0..threads {
            let store = &store;
            s.spawn(move || {
                for n in (t..total).step_by(threads as usize) {
                    let (pre, hash) = payment(n);
                    let created = start_s * 1_000_000_000 + n as i64 * spacing_ms * 1_000_000;
                    store
                        .init_payment(&hash, creation(10_000, created))
                        .expect("init");
                    store
                        .register_attempt(&hash, attempt(1, 10_000, None))
                        .expect("register");
                    if n >= total - in_flight {
                        continue;
                    }
                    if fate == Fate::Settle {
                        let settle = SettleInfo {
                            preimage: pre,
                            settle_time_ns: created + 1,
                        };
                        store.settle_attempt(&hash, 1, settle).expect("settle");
                    } else {
                        let fail = FailInfo {
                            fail_time_ns: created + 1,
                            message: vec![0x10, 0x07],
                            reason: HtlcFailReason::Message,
                            failure_source_index: 1,
                        };
                        store.fail_attempt(&hash, 1, fail).expect("fail");
                        store
                            .fail_payment(&hash, FailureReason::NoRoute)
                            .expect("fail");
                    }
                }
            });
        }
    });
    store.close().expect("close");
    started.elapsed()
}

/// Median of `runs` timings of `f`.
pub fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Medians of `small` and `large` timed in alternation, so that both see the same
/// machine noise (a slow spell of a shared machine otherwise lands on one of them).
pub fn paired_medians(
    runs: usize,
    mut small: impl FnMut(),
    mut large: impl FnMut(),
) -> (Duration, Duration) {
    let mut times = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        let start = Instant::now();
        small();
        times.0.push(start.elapsed());
        let start = Instant::now();
        large();
        times.1.push(start.elapsed());
    }
    let mid = |mut t: Vec<Duration>| {
        t.sort();
        t[t.len() / 2]
    };
    (mid(times.0), mid(times.1))
}

/// Peak resident set size of this process so far (KiB).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
