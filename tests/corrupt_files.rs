//! Corrupt files (docs/reliability.md, "corrupt"): copies of a populated store with
//! random byte flips and truncations are opened and read in full, through the Rust API
//! and (every third file) through the C ABI. Every step must give valid data or a
//! storage error — `CORRUPT` or `IO`; also `VERSION` from open (a flip in the schema
//! version), `SENT_EXCEEDS_TOTAL` (the corruption guard of docs/behaviour.md, Status) and
//! "not initiated" for a payment whose index entry the damage removed — and never panic,
//! hang or crash.
//!
//! Each file is read by a child process (this test binary re-executed), so that a crash
//! is a finding rather than the end of the run, and a hang is killed after `TIMEOUT`.
//! Mutations come from a fixed-seed xorshift generator and the pristine store is built
//! the same way every run (the same bytes for a given library build), so a failure's
//! file index reproduces it; failing files and the pristine store are also kept under
//! `$CARGO_TARGET_TMPDIR`. `CORRUPT_FILES=N` tries N files (default
//! 240), `CORRUPT_SEED=S` another seed.
//!
//! To read one kept file by hand, with panic backtraces:
//! `LPS_CORRUPT_CHILD=rust:<file>:/dev/stdout LPS_CORRUPT_LOUD=1 RUST_BACKTRACE=1
//! cargo test --test corrupt_files child_reads_one_file -- --exact --nocapture`
//! (`ffi:` instead of `rust:` for the C pass; `LPS_CORRUPT_DURABLE=1` opens with the
//! production defaults instead of `no_sync`).
//!
//! Defects this test found (`DEFECT_*`, reproduced by
//! `every_single_byte_flip_of_a_small_store`) are fixed; seeing one again fails the
//! test (`CORRUPT_LENIENT=1` only reports them). One remains outside our reach: redb
//! aborts the process in a durable commit when a system page it uses there is damaged
//! (the freed-page table, the allocator state stored at a clean close:
//! `DEFECT_COMMIT_ABORT`). The sweep reports these offsets without failing; with quick
//! repair on (`FLIP_QUICK_REPAIR=1`, which the library does not offer) every commit
//! stores the allocator state and such aborts fail the sweep (`DEFECT_ABORT`).

mod common;

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::ptr;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use lnpaystore::backend::{RedbBackend, RedbConfig};
use lnpaystore::ffi::*;
use lnpaystore::*;

/// Longest a file may take to open, read and close.
const TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_FILES: u64 = 240;
const DEFAULT_SEED: u64 = 0x5eed_c0ff_ee00_0001;
/// Every `FFI_EVERY`-th file is also read through the C ABI.
const FFI_EVERY: usize = 3;
const NAMESPACES: [&str; 2] = ["default", "probes"];
/// Tells the re-executed test binary which file to read, how, and where to report.
const CHILD_ENV: &str = "LPS_CORRUPT_CHILD";

/// xorshift64*: small, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

fn scratch_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

// ---- the pristine store ----

/// Payments `1..=PAYMENTS` of `common::payment` are the ones the store ever held.
const PAYMENTS: u64 = 300;

fn known_hashes() -> Vec<PaymentHash> {
    (1..=PAYMENTS).map(|n| payment(n).1).collect()
}

fn mc_result(id: u64, failed: bool) -> McResult {
    McResult {
        id,
        time_forwarded_ns: 1_700_000_000 * SECOND + id as i64 * 1000,
        time_reply_ns: 1_700_000_000 * SECOND + id as i64 * 1000 + 500,
        route: McRoute {
            source_pub_key: [1; 33],
            total_amount_msat: 10_030,
            hops: (0..3u8)
                .map(|i| McHop {
                    channel_id: 700 + id * 3 + u64::from(i),
                    pub_key: [i + 2; 33],
                    amt_to_forward_msat: 10_000 + 10 * u64::from(2 - i),
                    has_blinding_point: i == 2 && id % 5 == 0,
                    has_custom_records: i == 0 && id % 7 == 0,
                })
                .collect(),
        },
        failure: failed.then(|| McFailure {
            source_index: (id % 3 != 0).then_some((id % 3) as u8),
            message: (id % 4 != 0).then(|| vec![0x10, 0x07, (id & 0xff) as u8]),
        }),
    }
}

/// 300 payments of every status (single-shard and MPP, settled, failed, in flight with
/// and without a failure reason, initiated, re-initiated), deletions (tombstones,
/// failed attempts), and mission-control results in two namespaces (one of them
/// evicting). Compacted, then closed cleanly. Returns what a full read must find.
fn populate(path: &Path) -> (PaymentCounts, [usize; 2]) {
    let store = open(path);
    let mut hashes = Vec::new();
    let created = |i: u64| 1_700_000_000 + i as i64 * 37;
    let mut n = 0u64;
    let mut next = || {
        n += 1;
        n
    };

    for _ in 0..120 {
        let i = next();
        hashes.push(pay(&store, i, 1000 + i, created(i)));
    }
    for _ in 0..60 {
        let i = next();
        hashes.push(fail(&store, i, 2000 + i, created(i)));
    }
    for _ in 0..40 {
        // MPP: three shards, the second fails and is replaced, then all settle.
        let i = next();
        let (pre, hash) = payment(i);
        store
            .init_payment(&hash, creation(3000, created(i)))
            .unwrap();
        for id in 1..=3 {
            store
                .register_attempt(&hash, attempt(id, 1000, mpp(3000)))
                .unwrap();
        }
        store.fail_attempt(&hash, 2, fail_info()).unwrap();
        store
            .register_attempt(&hash, attempt(4, 1000, mpp(3000)))
            .unwrap();
        for id in [1, 3, 4] {
            store.settle_attempt(&hash, id, settle(pre)).unwrap();
        }
        hashes.push(hash);
    }
    for k in 0..50 {
        // In flight; every other one also has a failure reason.
        let i = next();
        let (_, hash) = payment(i);
        store
            .init_payment(&hash, creation(500, created(i)))
            .unwrap();
        store
            .register_attempt(&hash, attempt(1, 200, mpp(500)))
            .unwrap();
        if k % 2 == 0 {
            store.fail_payment(&hash, FailureReason::Timeout).unwrap();
        }
        hashes.push(hash);
    }
    for _ in 0..20 {
        let i = next();
        let (_, hash) = payment(i);
        store
            .init_payment(&hash, creation(700, created(i)))
            .unwrap();
        hashes.push(hash);
    }
    for _ in 0..10 {
        // Failed, then initiated again: a fresh sequence number.
        let i = next();
        let hash = fail(&store, i, 900, created(i));
        store
            .init_payment(&hash, creation(900, created(i)))
            .unwrap();
        hashes.push(hash);
    }
    assert_eq!(hashes, known_hashes());
    // Deletions: settled payments (tombstones), failed ones, failed attempts.
    for &hash in hashes[..20].iter().chain(&hashes[120..135]) {
        store.delete_payment(&hash, false).unwrap();
    }
    for &hash in &hashes[180..190] {
        store.delete_failed_attempts(&hash).unwrap();
    }
    store.delete_payments(true, true).unwrap();

    let mut mc_results = [0; 2];
    for (k, ns) in NAMESPACES.iter().enumerate() {
        let options = McOptions {
            max_records: if k == 0 { 100 } else { 0 },
            flush_interval: Duration::from_secs(3600),
        };
        let mc = store.open_mission_control(ns, options).unwrap();
        for id in 0..(150 - 70 * k as u64) {
            mc.add_result(mc_result(id + 1000 * k as u64, id % 3 == 1))
                .unwrap();
            if id % 40 == 39 {
                mc.flush().unwrap();
            }
        }
        mc.flush().unwrap();
        mc_results[k] = mc.fetch_all().unwrap().len();
        mc.close().unwrap();
    }

    store.compact().unwrap();
    store.check_integrity().unwrap();
    let counts = store.payment_counts().unwrap();
    store.close().unwrap();
    (counts, mc_results)
}

// ---- mutations ----

#[derive(Debug, Clone)]
enum Mutation {
    /// (offset, xor mask) pairs.
    Flips(Vec<(usize, u8)>),
    Truncate(usize),
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutation::Flips(flips) => {
                write!(f, "{} byte flips at", flips.len())?;
                for (offset, mask) in flips {
                    write!(f, " {offset:#x}^{mask:#04x}")?;
                }
                Ok(())
            }
            Mutation::Truncate(len) => write!(f, "truncated to {len} bytes"),
        }
    }
}

impl Mutation {
    fn random(rng: &mut Rng, len: usize) -> Mutation {
        if rng.below(10) < 7 {
            let count = 1 + rng.below(64);
            let flips = (0..count)
                .map(|_| {
                    // A quarter of the flips hit the first pages (file header, region
                    // headers), where one byte matters most.
                    let span = if rng.below(4) == 0 {
                        len.min(8192)
                    } else {
                        len
                    };
                    (rng.below(span), 1 + rng.below(255) as u8)
                })
                .collect();
            Mutation::Flips(flips)
        } else {
            Mutation::Truncate(match rng.below(4) {
                0 => 0,
                1 => rng.below(64),
                2 => len - 1 - rng.below(len.min(16384)),
                _ => rng.below(len),
            })
        }
    }

    fn apply(&self, pristine: &[u8]) -> Vec<u8> {
        match self {
            Mutation::Flips(flips) => {
                let mut bytes = pristine.to_vec();
                for &(offset, mask) in flips {
                    bytes[offset] ^= mask;
                }
                bytes
            }
            Mutation::Truncate(len) => pristine[..*len].to_vec(),
        }
    }
}

// ---- the child: reads one file and reports each step ----

/// Panics raised in the child, in any thread. The library catches redb's panics on
/// damaged pages (and answers `CORRUPT`); a step that lets one escape is reported as
/// such. The hook is quiet: hundreds of expected panic reports would bury the output.
fn panics() -> &'static Mutex<Vec<String>> {
    static PANICS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    PANICS.get_or_init(Mutex::default)
}

fn take_panics() -> Vec<String> {
    std::mem::take(&mut *panics().lock().unwrap_or_else(|e| e.into_inner()))
}

fn install_quiet_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let line = format!("{at}: {}", what.replace(['\n', '\t'], " "));
        if std::thread::panicking() {
            // A panic while unwinding aborts the process: say where, for `known_crash`.
            let trace = std::backtrace::Backtrace::force_capture().to_string();
            // Any of redb's commit paths: `commit_with` / `commit_inner_helper` (also from
            // its closing commit in `Database::drop`), `durable_commit` where it is not
            // inlined.
            let in_commit = trace.lines().any(|l| {
                l.contains("redb::transactions::WriteTransaction::") && l.contains("commit")
            });
            // Straight to the file: the harness captures `eprintln!`, and the process is
            // about to abort.
            let note =
                format!("panic while unwinding at {line}; in a redb durable commit: {in_commit}\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
        }
        panics()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }));
}

/// The child's report: one line per step, `step \t OK|<status name>|PANIC \t detail`,
/// then the panics the library caught, then `DONE`.
#[derive(Default)]
struct Report(String);

impl Report {
    /// Runs one step of the Rust pass, attributing an escaping panic to it.
    fn step<T>(&mut self, step: &str, f: impl FnOnce() -> Result<T, Error>) -> Option<T> {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(v)) => {
                self.line(step, "OK", "");
                Some(v)
            }
            Ok(Err(e)) => {
                self.line(step, e.status().name(), &e.to_string());
                None
            }
            Err(_) => {
                let escaped = panics()
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop()
                    .unwrap_or_default();
                self.line(step, "PANIC", &escaped);
                None
            }
        }
    }

    /// One call of the C pass: its status and, unless OK, the last error.
    fn status(&mut self, function: &str, status: LpsStatus) -> bool {
        let message = match status {
            LpsStatus::Ok => String::new(),
            // SAFETY: the library returns a valid NUL-terminated string for this thread.
            _ => unsafe { CStr::from_ptr(lps_last_error()) }
                .to_string_lossy()
                .into_owned(),
        };
        let message = if status != LpsStatus::Ok && message.is_empty() {
            "(no lps_last_error message)".to_string()
        } else {
            message
        };
        let outcome = match status {
            LpsStatus::Ok => "OK",
            s => s.name(),
        };
        self.line(function, outcome, &message);
        status == LpsStatus::Ok
    }

    fn line(&mut self, step: &str, outcome: &str, detail: &str) {
        let detail = detail.replace(['\n', '\t'], " ");
        let _ = writeln!(self.0, "{step}\t{outcome}\t{detail}");
    }
}

/// How the child opens a file: `fast_options`, or the production defaults (durable
/// commits) with `LPS_CORRUPT_DURABLE=1`.
fn reader_options() -> Options {
    match std::env::var_os("LPS_CORRUPT_DURABLE") {
        Some(_) => Options::default(),
        None => fast_options(),
    }
}

/// Opens the file and reads everything the Rust API can read, then closes it.
fn read_everything(path: &Path, r: &mut Report) {
    let Some(store) = r.step("open", || Store::open(path, reader_options())) else {
        return;
    };
    r.step("fetch_inflight_payments", || {
        store.fetch_inflight_payments()
    });
    r.step("payment_counts", || store.payment_counts());
    // Page through everything, with a guard against a page that goes nowhere.
    let mut offset = 0;
    for _ in 0..10_000 {
        let query = Query {
            index_offset: offset,
            max_payments: 64,
            include_incomplete: true,
            count_total: true,
            ..Default::default()
        };
        let Some(page) = r.step("query_payments", || store.query_payments(&query)) else {
            break;
        };
        if page.payments.is_empty() {
            break;
        }
        if page.last_index_offset <= offset {
            r.line("query_payments", "STUCK", &format!("offset {offset}"));
            break;
        }
        offset = page.last_index_offset;
    }
    r.step("query_payments", || {
        store.query_payments(&Query {
            reversed: true,
            include_incomplete: true,
            max_payments: 50,
            ..Default::default()
        })
    });
    r.step("query_payments", || {
        store.query_payments(&Query {
            creation_date_start: 1_700_000_000 + 50 * 37,
            creation_date_end: 1_700_000_000 + 150 * 37,
            include_incomplete: true,
            max_payments: 500,
            ..Default::default()
        })
    });
    for hash in known_hashes() {
        r.step("fetch_payment", || store.fetch_payment(&hash));
    }
    r.step("check_integrity", || store.check_integrity());
    for ns in NAMESPACES {
        let options = McOptions {
            max_records: 0,
            flush_interval: Duration::from_secs(3600),
        };
        if let Some(mc) = r.step("mc_open", || store.open_mission_control(ns, options)) {
            r.step("mc_fetch_all", || mc.fetch_all());
            r.step("mc_close", || mc.close());
        }
    }
    r.step("close", || store.close());
    r.step("drop", || {
        drop(store);
        Ok(())
    });
}

/// The same through the C ABI: statuses only (a panic there becomes `INTERNAL`).
fn read_everything_ffi(path: &Path, r: &mut Report) {
    let cpath = CString::new(path.to_str().expect("UTF-8 path")).expect("no NUL");
    let mut opts = std::mem::MaybeUninit::<LpsOptions>::uninit();
    lps_options_default(opts.as_mut_ptr());
    // SAFETY: written by lps_options_default.
    let mut opts = unsafe { opts.assume_init() };
    opts.no_sync = std::env::var_os("LPS_CORRUPT_DURABLE").is_none();
    let mut store = ptr::null_mut();
    if !r.status(
        "lps_store_open",
        lps_store_open(cpath.as_ptr(), &opts, &mut store),
    ) {
        return;
    }
    let mut list = ptr::null_mut();
    if r.status(
        "lps_fetch_inflight_payments",
        lps_fetch_inflight_payments(store, &mut list),
    ) {
        lps_payment_list_free(list);
    }
    let mut counts = std::mem::MaybeUninit::<LpsPaymentCounts>::uninit();
    r.status(
        "lps_payment_counts",
        lps_payment_counts(store, counts.as_mut_ptr()),
    );
    let mut offset = 0;
    for _ in 0..10_000 {
        let query = LpsQuery {
            index_offset: offset,
            max_payments: 64,
            reversed: false,
            include_incomplete: true,
            count_total: true,
            creation_date_start: 0,
            creation_date_end: 0,
            omit_hops: false,
        };
        let mut resp = ptr::null_mut();
        if !r.status(
            "lps_query_payments",
            lps_query_payments(store, &query, &mut resp),
        ) {
            break;
        }
        // SAFETY: a response the library just returned.
        let (len, last) = unsafe { ((*resp).payments_len, (*resp).last_index_offset) };
        lps_query_response_free(resp);
        if len == 0 {
            break;
        }
        if last <= offset {
            r.line("lps_query_payments", "STUCK", &format!("offset {offset}"));
            break;
        }
        offset = last;
    }
    for hash in known_hashes() {
        let mut p = ptr::null_mut();
        if r.status(
            "lps_fetch_payment",
            lps_fetch_payment(store, hash.as_ptr(), &mut p),
        ) {
            lps_payment_free(p);
        }
    }
    for ns in NAMESPACES {
        let ns = CString::new(ns).expect("no NUL");
        let mut mc = ptr::null_mut();
        if !r.status(
            "lps_mc_open",
            lps_mc_open(store, ns.as_ptr(), ptr::null(), &mut mc),
        ) {
            continue;
        }
        let mut results = ptr::null_mut();
        if r.status("lps_mc_fetch_all", lps_mc_fetch_all(mc, &mut results)) {
            lps_mc_result_list_free(results);
        }
        r.status("lps_mc_close", lps_mc_close(mc));
    }
    r.status("lps_store_close", lps_store_close(store));
}

/// The child half: does nothing in a normal test run. With `LPS_CORRUPT_CHILD` set to
/// `rust|ffi:<store>:<report>` it reads the store and writes the report.
#[test]
fn child_reads_one_file() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.splitn(3, ':');
    let (mode, store, report) = (
        parts.next().unwrap().to_string(),
        PathBuf::from(parts.next().unwrap()),
        PathBuf::from(parts.next().unwrap()),
    );
    // LPS_CORRUPT_LOUD=1 keeps the default panic report (with RUST_BACKTRACE=1: where).
    if std::env::var_os("LPS_CORRUPT_LOUD").is_none() {
        install_quiet_panic_hook();
    }
    let mut r = Report::default();
    match mode.as_str() {
        "rust" => read_everything(&store, &mut r),
        "ffi" => read_everything_ffi(&store, &mut r),
        m => panic!("unknown mode {m}"),
    }
    for caught in take_panics() {
        r.line("caught panic", "CAUGHT", &caught);
    }
    r.0.push_str("DONE\n");
    std::fs::write(report, r.0).unwrap();
}

// ---- the parent ----

/// How a child run ended.
enum Ending {
    /// The report, one `(step, outcome, detail)` per line.
    Done(Vec<(String, String, String)>),
    Crashed(ExitStatus, String),
    Hung,
}

/// Re-executes this test binary to read `store` in `mode`, killing it after TIMEOUT.
fn run_child(mode: &str, store: &Path, scratch: &Path) -> Ending {
    let report = scratch.join("report.txt");
    let stderr = scratch.join("stderr.txt");
    let _ = std::fs::remove_file(&report);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_reads_one_file", "--exact", "--test-threads=1"])
        .env(
            CHILD_ENV,
            format!("{mode}:{}:{}", store.display(), report.display()),
        )
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Ending::Hung;
        }
        thread::sleep(Duration::from_millis(2));
    };
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    if !status.success() || !text.ends_with("DONE\n") {
        return Ending::Crashed(status, std::fs::read_to_string(&stderr).unwrap_or_default());
    }
    Ending::Done(
        text.lines()
            .filter(|l| *l != "DONE")
            .map(|l| {
                let mut f = l.splitn(3, '\t').map(str::to_string);
                let mut next = || f.next().unwrap_or_default();
                (next(), next(), next())
            })
            .collect(),
    )
}

/// Whether an outcome is an acceptable answer of `step` on a damaged file.
fn acceptable(step: &str, outcome: &str) -> bool {
    match outcome {
        "OK" | "LPS_STATUS_CORRUPT" | "LPS_STATUS_IO" | "CAUGHT" => true,
        "LPS_STATUS_VERSION" => step == "open" || step == "lps_store_open",
        "LPS_STATUS_SENT_EXCEEDS_TOTAL" => !step.contains("open") && !step.contains("mc"),
        "LPS_STATUS_PAYMENT_NOT_INITIATED" => step.contains("fetch_payment"),
        _ => false,
    }
}

/// Defects this test found, each reproduced by `every_single_byte_flip_of_a_small_store`.
/// The first two are fixed (`RedbBackend` guards its closing drop and aborts, does not
/// write to a file that showed damage, and maps redb's layout and poisoning errors to
/// `Corrupt`); the third is redb's own (a second panic inside its commit).
const DEFECT_PANIC: &str = "a redb panic escapes the library: the Database is dropped, or a \
    transaction aborted, outside the panic guard (after an earlier caught panic poisoned \
    redb's locks); through the C ABI: INTERNAL";
const DEFECT_INTERNAL: &str = "redb errors on a damaged file (poisoned internal lock after a \
    caught panic, table or key type mismatch) are reported as INTERNAL instead of CORRUPT";
const DEFECT_ABORT: &str = "process abort on close: redb panics in a commit on the damaged \
    allocator state, then again in a destructor while unwinding (\"panic in a destructor \
    during cleanup\"), which no catch_unwind can stop";

/// Not fixed, and outside the library's reach: a durable commit (also the closing one of
/// a read-only session) reclaims the pages listed in redb's freed-page table and
/// allocates from the allocator state stored at the last clean close. When one of those
/// system pages is damaged, redb 4.4 panics inside the commit, and again in a destructor
/// while unwinding (`ExtractIf::drop`, `WritablePage::drop`), which aborts the process.
/// redb does not verify system pages before using them, and the library cannot read
/// them to check first. Reported, not failed, by the sweep.
const DEFECT_COMMIT_ABORT: &str = "process abort in a durable commit: redb panics on a \
    damaged system page (freed-page table, stored allocator state), then again while \
    unwinding (redb defect, not fixed)";

fn known_defect(step: &str, outcome: &str, detail: &str) -> Option<&'static str> {
    let closing = matches!(step, "close" | "drop" | "lps_store_close");
    let poisoned = detail.contains("PoisonError");
    match outcome {
        "PANIC" if detail.contains("/redb-") && (closing || poisoned) => Some(DEFECT_PANIC),
        "LPS_STATUS_INTERNAL" if detail.starts_with("lps_") && detail.contains(": panic: ") => {
            (closing || poisoned).then_some(DEFECT_PANIC)
        }
        "LPS_STATUS_INTERNAL"
            if detail.contains("Poisoned internal lock")
                || detail.contains(" is of type ")
                || detail.contains("does not match stored definition") =>
        {
            Some(DEFECT_INTERNAL)
        }
        _ => None,
    }
}

fn known_crash(stderr: &str) -> Option<&'static str> {
    // The quiet hook swallows "panic in a destructor during cleanup"; the first line is
    // the runtime's own, printed as it aborts, the second the hook's.
    let aborted = stderr.contains("thread caused non-unwinding panic. aborting.");
    let in_commit = stderr.contains("in a redb durable commit: true");
    if aborted && in_commit && !quick_repair() {
        return Some(DEFECT_COMMIT_ABORT);
    }
    aborted.then_some(DEFECT_ABORT)
}

fn quick_repair() -> bool {
    std::env::var_os("FLIP_QUICK_REPAIR").is_some()
}

#[test]
fn damaged_copies_give_corrupt_or_valid_data_never_a_panic_hang_or_crash() {
    let files = env_number("CORRUPT_FILES", DEFAULT_FILES) as usize;
    let seed = env_number("CORRUPT_SEED", DEFAULT_SEED);
    // The defects below are fixed: seeing one again fails the test (CORRUPT_LENIENT=1
    // only reports them, to look for other problems past a regression).
    let strict = std::env::var_os("CORRUPT_LENIENT").is_none();
    let dir = tempfile::tempdir().unwrap();
    let pristine_path = dir.path().join("pristine.db");
    let (counts, mc_results) = populate(&pristine_path);
    let pristine = std::fs::read(&pristine_path).unwrap();
    // Kept for reproducing a failure from its mutation.
    std::fs::write(scratch_dir().join("corrupt_files-pristine.db"), &pristine).unwrap();

    // The pristine store reads back in full: only the deleted payments are missing.
    let Ending::Done(clean) = run_child("rust", &pristine_path, dir.path()) else {
        panic!("the pristine store does not read back");
    };
    let pristine_outcomes = clean.clone();
    let missing = clean
        .iter()
        .filter(|(_, outcome, _)| outcome != "OK")
        .inspect(|line| assert_eq!(line.1, "LPS_STATUS_PAYMENT_NOT_INITIATED", "{line:?}"))
        .count() as u64;
    assert_eq!(missing, PAYMENTS - counts.total);
    assert_eq!(mc_results, [100, 80]);

    let started = Instant::now();
    let mut rng = Rng(seed | 1);
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    let mut caught: BTreeMap<String, u64> = BTreeMap::new();
    let mut known: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    let (mut opened, mut clean_reads, mut ffi_files) = (0u64, 0u64, 0u64);
    for i in 0..files {
        let mutation = Mutation::random(&mut rng, pristine.len());
        let about = format!("file {i} (seed {seed:#x}): {mutation}");
        let path = dir.path().join("damaged.db");
        let modes: &[&str] = if i % FFI_EVERY == 0 {
            &["rust", "ffi"]
        } else {
            &["rust"]
        };
        let mut problems = Vec::new();
        for &mode in modes {
            // A fresh copy for each pass: the first may have repaired or cleaned it.
            std::fs::write(&path, mutation.apply(&pristine)).unwrap();
            ffi_files += u64::from(mode == "ffi");
            let lines = match run_child(mode, &path, dir.path()) {
                Ending::Done(lines) => lines,
                Ending::Hung => {
                    problems.push((None, format!("{mode}: hung for {TIMEOUT:?}")));
                    continue;
                }
                Ending::Crashed(status, stderr) => {
                    let tail: String = stderr.lines().rev().take(6).collect::<Vec<_>>().join(" | ");
                    problems.push((known_crash(&stderr), format!("{mode}: {status}: {tail}")));
                    continue;
                }
            };
            if mode == "rust" {
                opened += u64::from(lines.iter().any(|l| l.0 == "open" && l.1 == "OK"));
                // Read back exactly as the pristine store: the damage hit unused space.
                let seen = lines.iter().filter(|l| l.1 != "CAUGHT");
                clean_reads += u64::from(
                    seen.map(|l| (&l.0, &l.1))
                        .eq(pristine_outcomes.iter().map(|l| (&l.0, &l.1))),
                );
            }
            for (step, outcome, detail) in &lines {
                if outcome == "CAUGHT" {
                    *caught.entry(detail.clone()).or_default() += 1;
                    continue;
                }
                let label = if mode == "ffi" {
                    format!("C ABI {step}: {outcome}")
                } else {
                    format!("{step}: {outcome}")
                };
                *tally.entry(label).or_default() += 1;
                if !acceptable(step, outcome) {
                    let defect = known_defect(step, outcome, detail);
                    problems.push((defect, format!("{mode}: {step} gave {outcome}: {detail}")));
                }
            }
        }
        let (known_here, new_here): (Vec<_>, Vec<_>) = problems
            .into_iter()
            .partition(|(defect, _)| defect.is_some() && !strict);
        for (defect, why) in known_here {
            let defect = defect.expect("partitioned on it");
            known
                .entry(defect)
                .or_default()
                .push(format!("file {i}: {why}"));
        }
        if let Some((_, why)) = new_here.first() {
            let kept = scratch_dir().join(format!("corrupt_files-{i}.db"));
            std::fs::write(&kept, mutation.apply(&pristine)).unwrap();
            failures.push(format!(
                "{about}\n    {why} (and {} more)\n    kept: {}",
                new_here.len() - 1,
                kept.display()
            ));
        }
    }

    eprintln!(
        "corrupt files: {files} tried in {:.1?} ({} bytes before damage, seed {seed:#x}); \
         {opened} opened, {clean_reads} read back exactly like the pristine store, {ffi_files} also through \
         the C ABI",
        started.elapsed(),
        pristine.len()
    );
    for (label, n) in &tally {
        eprintln!("  {label:<48} {n:>6}");
    }
    eprintln!(
        "  panics caught inside the library and answered CORRUPT: {}",
        caught.values().sum::<u64>()
    );
    let mut by_site: BTreeMap<String, u64> = BTreeMap::new();
    for (p, n) in &caught {
        let site = p.split(": ").next().unwrap_or_default();
        let site = site.rsplit("/src/").next().unwrap_or(site).to_string();
        *by_site.entry(site).or_default() += n;
    }
    for (site, n) in &by_site {
        eprintln!("    {n:>5} at {site}");
    }
    for (defect, cases) in &known {
        eprintln!(
            "  KNOWN DEFECT ({} files; fails without CORRUPT_LENIENT=1): {defect}",
            cases.len()
        );
        for c in cases.iter().take(3) {
            eprintln!("    {c}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems in {files} damaged files:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- single-byte flips of a small store: the regression test of the known defects ----

/// The sweep's store options: `fast_options`, with redb's quick repair (allocator state
/// saved in every commit) when `FLIP_QUICK_REPAIR=1`.
/// Opens the small store as the library does, or (`FLIP_QUICK_REPAIR=1`) with redb's
/// quick repair, which the library does not offer because of DEFECT_ABORT.
fn open_small(path: &Path) -> lnpaystore::Result<Store> {
    let config = RedbConfig {
        durable: false,
        quick_repair: quick_repair(),
        ..RedbConfig::default()
    };
    let backend = RedbBackend::open(path, config)?;
    Store::with_backend(std::sync::Arc::new(backend), fast_options())
}

/// A small store: a settled, a failed, an in-flight and an MPP payment, and a few
/// mission-control results, closed cleanly.
fn populate_small(path: &Path) {
    let store = open_small(path).unwrap();
    pay(&store, 1, 1000, 10);
    fail(&store, 2, 1000, 20);
    let (_, hash) = payment(3);
    store.init_payment(&hash, creation(500, 30)).unwrap();
    store
        .register_attempt(&hash, attempt(1, 500, None))
        .unwrap();
    let (pre, hash) = payment(4);
    store.init_payment(&hash, creation(2000, 40)).unwrap();
    for id in 1..=2 {
        store
            .register_attempt(&hash, attempt(id, 1000, mpp(2000)))
            .unwrap();
    }
    for id in 1..=2 {
        store.settle_attempt(&hash, id, settle(pre)).unwrap();
    }
    let mc = store
        .open_mission_control(NAMESPACES[0], McOptions::default())
        .unwrap();
    for id in 0..4 {
        mc.add_result(mc_result(id, id % 2 == 1)).unwrap();
    }
    mc.close().unwrap();
    store.close().unwrap();
}

/// What the sweep reads after each flip: everything, briefly.
fn read_small(path: &Path, r: &mut Report) {
    let Some(store) = r.step("open", || open_small(path)) else {
        return;
    };
    r.step("fetch_inflight_payments", || {
        store.fetch_inflight_payments()
    });
    r.step("payment_counts", || store.payment_counts());
    r.step("query_payments", || {
        store.query_payments(&Query {
            include_incomplete: true,
            count_total: true,
            ..Default::default()
        })
    });
    for n in 1..=4 {
        r.step("fetch_payment", || store.fetch_payment(&payment(n).1));
    }
    r.step("check_integrity", || store.check_integrity());
    let options = McOptions::default();
    if let Some(mc) = r.step("mc_open", || store.open_mission_control("default", options)) {
        r.step("mc_fetch_all", || mc.fetch_all());
        r.step("mc_close", || mc.close());
    }
    r.step("close", || store.close());
    r.step("drop", || {
        drop(store);
        Ok(())
    });
}

/// The flip tried at `offset`: a mask that varies with the offset.
fn sweep_mask(offset: usize) -> u8 {
    (offset.wrapping_mul(0x9e37) % 255 + 1) as u8
}

/// The offsets the sweep tries: `FLIP_OFFSETS=0x5035,0x10d4` (a reproducer), or every
/// `FLIP_STRIDE`-th (default 8) of the non-zero bytes and every 61st zero byte.
fn sweep_offsets(store: &[u8]) -> Vec<usize> {
    if let Ok(list) = std::env::var("FLIP_OFFSETS") {
        return list
            .split(',')
            .map(|o| usize::from_str_radix(o.trim().trim_start_matches("0x"), 16).unwrap())
            .collect();
    }
    let stride = env_number("FLIP_STRIDE", 8) as usize;
    (0..store.len())
        .filter(|&i| store[i] != 0 || i % 61 == 0)
        .step_by(stride)
        .collect()
}

const SWEEP_ENV: &str = "LPS_FLIP_SWEEP";

/// The child half of the sweep: no-op unless `LPS_FLIP_SWEEP=<store>:<first offset>:<dir>`.
/// Writes the offset it is on to `<dir>/at` before each flip (a crash names it) and one
/// line per problem to `<dir>/problems`.
#[test]
fn child_sweeps_single_flips() {
    let Ok(spec) = std::env::var(SWEEP_ENV) else {
        return;
    };
    let mut parts = spec.splitn(3, ':');
    let (store, first, dir) = (
        PathBuf::from(parts.next().unwrap()),
        parts.next().unwrap().parse::<usize>().unwrap(),
        PathBuf::from(parts.next().unwrap()),
    );
    install_quiet_panic_hook();
    let pristine = std::fs::read(&store).unwrap();
    let copy = dir.join("flipped.db");
    let mut problems = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("problems"))
        .unwrap();
    for offset in sweep_offsets(&pristine).into_iter().filter(|&o| o >= first) {
        std::fs::write(dir.join("at"), offset.to_string()).unwrap();
        let mut bytes = pristine.clone();
        bytes[offset] ^= sweep_mask(offset);
        std::fs::write(&copy, &bytes).unwrap();
        let mut r = Report::default();
        read_small(&copy, &mut r);
        take_panics();
        for line in r.0.lines() {
            let f: Vec<&str> = line.splitn(3, '\t').collect();
            if !acceptable(f[0], f[1]) {
                use std::io::Write as _;
                writeln!(problems, "{offset:#x}\t{line}").unwrap();
            }
        }
    }
    std::fs::write(dir.join("at"), "done").unwrap();
}

/// Single-byte flips of a small store, each read in full: the regression test of the
/// defects above (with `FLIP_QUICK_REPAIR=1`, redb itself can still abort: DEFECT_ABORT). The offsets that trigger them depend on the store's layout, so the
/// test sweeps (every 8th candidate offset by default, `FLIP_STRIDE=1` for all, about
/// 6 min) and names the offsets it found; `FLIP_OFFSETS=<hex,...>` replays some, and
/// `FLIP_QUICK_REPAIR=1` sweeps a store kept with quick repair (`Options`). The
/// unflipped store is kept as `$CARGO_TARGET_TMPDIR/corrupt_files-small.db`. A crash
/// restarts the sweep after the offset that crashed.
#[test]
fn every_single_byte_flip_of_a_small_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("small.db");
    populate_small(&store);
    let pristine = std::fs::read(&store).unwrap();
    std::fs::write(scratch_dir().join("corrupt_files-small.db"), &pristine).unwrap();
    let tried = sweep_offsets(&pristine).len();
    let started = Instant::now();
    let mut crashes = Vec::new();
    let mut unfixed = Vec::new();
    let mut first = 0;
    loop {
        let stderr = dir.path().join("stderr");
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["child_sweeps_single_flips", "--exact", "--test-threads=1"])
            .env(
                SWEEP_ENV,
                format!("{}:{first}:{}", store.display(), dir.path().display()),
            )
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .status()
            .unwrap();
        let at = std::fs::read_to_string(dir.path().join("at")).unwrap();
        if at == "done" && status.success() {
            break;
        }
        let offset: usize = at.parse().unwrap();
        let stderr = std::fs::read_to_string(&stderr).unwrap_or_default();
        let why = known_crash(&stderr).unwrap_or("crash");
        let mut line = format!("{offset:#x}^{:#04x}: {status}: {why}", sweep_mask(offset));
        // The child's last words say where it aborted.
        for l in stderr.lines().filter(|l| l.contains("panic")).take(4) {
            line.push_str("\n      ");
            line.push_str(l);
        }
        if why == DEFECT_COMMIT_ABORT {
            unfixed.push(line);
        } else {
            crashes.push(line);
        }
        first = offset + 1;
    }
    let problems = std::fs::read_to_string(dir.path().join("problems")).unwrap_or_default();
    let mut by_kind: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in problems.lines() {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        let offset = usize::from_str_radix(f[0].trim_start_matches("0x"), 16).unwrap();
        let kind = known_defect(f[1], f[2], f[3]).unwrap_or("new problem");
        by_kind
            .entry(format!("{kind} [{} {}]", f[1], f[2]))
            .or_default()
            .push(format!("{offset:#x}^{:#04x}: {}", sweep_mask(offset), f[3]));
    }
    eprintln!(
        "{tried} single-byte flips of a {}-byte store in {:.1?}: {} crashes, {} problems",
        pristine.len(),
        started.elapsed(),
        crashes.len(),
        problems.lines().count()
    );
    for c in &crashes {
        eprintln!("  CRASH {c}");
    }
    for c in &unfixed {
        eprintln!("  known, not fixed: {c}");
    }
    for (kind, cases) in &by_kind {
        eprintln!("  {} x {kind}, e.g. {}", cases.len(), cases[0]);
    }
    assert!(
        crashes.is_empty() && by_kind.is_empty(),
        "see the report above"
    );
}
