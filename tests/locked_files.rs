//! Locked files (docs/reliability.md, "locked"): a store file is open in one place
//! at a time. A second open — from this process or another, through Rust or the C ABI
//! — fails with `LOCKED` and leaves the holder undisturbed; once the holder closes (or
//! dies), the file opens again.
//!
//! The other process is this test binary re-executed (`child_holds_or_opens_a_store`,
//! driven by `LPS_LOCK_CHILD`): it either holds the store until a release file appears
//! or its stdin closes, or tries one open and reports the outcome in its exit code.

mod common;

use std::ffi::{CStr, CString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use lnpaystore::ffi::*;
use lnpaystore::*;

const CHILD_ENV: &str = "LPS_LOCK_CHILD";
/// Longest the parent waits for a child to get ready or to finish.
const PATIENCE: Duration = Duration::from_secs(20);

/// Exit codes of a child that tries one open.
const OPENED: i32 = 0;
const LOCKED: i32 = 10;
const OTHER_ERROR: i32 = 11;

fn last_error() -> String {
    // SAFETY: the library returns a valid NUL-terminated string for this thread.
    unsafe { CStr::from_ptr(lps_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// `lps_store_open` with `no_sync`; the handle on success, else the status and message.
fn c_open(path: &Path) -> Result<*mut LpsStore, (LpsStatus, String)> {
    let cpath = CString::new(path.to_str().expect("UTF-8 path")).expect("no NUL");
    let mut opts = std::mem::MaybeUninit::<LpsOptions>::uninit();
    lps_options_default(opts.as_mut_ptr());
    // SAFETY: written by lps_options_default.
    let mut opts = unsafe { opts.assume_init() };
    opts.no_sync = true;
    // A sentinel that must survive a failed call: out-parameters are written on success only.
    let sentinel = std::ptr::dangling_mut::<LpsStore>();
    let mut store = sentinel;
    match lps_store_open(cpath.as_ptr(), &opts, &mut store) {
        LpsStatus::Ok => Ok(store),
        status => {
            assert_eq!(store, sentinel, "out-parameter written on failure");
            Err((status, last_error()))
        }
    }
}

fn assert_locked(r: Result<Store, Error>, what: &str) {
    match r {
        Err(e @ Error::Locked(_)) => {
            assert_eq!(e.status(), LpsStatus::Locked);
            assert!(!e.to_string().is_empty());
        }
        Err(e) => panic!("{what}: expected Locked, got {e:?}"),
        Ok(_) => panic!("{what}: opened a store that is already open"),
    }
}

fn assert_c_locked(path: &Path, what: &str) {
    match c_open(path) {
        Err((LpsStatus::Locked, message)) => {
            assert!(!message.is_empty(), "{what}: LOCKED without a message");
            assert!(message.starts_with("lps_store_open"), "{what}: {message}");
        }
        Err((status, message)) => panic!("{what}: expected LOCKED, got {status:?}: {message}"),
        Ok(store) => {
            lps_store_close(store);
            panic!("{what}: lps_store_open opened a store that is already open");
        }
    }
}

// ---- the same process ----

#[test]
fn second_open_in_the_same_process_is_locked_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("same.db");
    let first = open(&path);
    let hash = pay(&first, 1, 1000, 10);

    assert_locked(Store::open(&path, fast_options()), "second Rust open");
    assert_locked(
        Store::open(&path, Options::default()),
        "durable second open",
    );
    assert_c_locked(&path, "C open while Rust holds it");
    // The failed opens disturbed nothing: the holder still reads and writes.
    assert_eq!(
        first.fetch_payment(&hash).unwrap().status,
        PaymentStatus::Succeeded
    );
    pay(&first, 2, 1000, 20);

    // Closing releases the file: the reopened store has both payments.
    first.close().unwrap();
    let again = open(&path);
    assert_eq!(again.payment_counts().unwrap().succeeded, 2);
    // Dropping without close releases it too.
    drop(again);
    let again = open(&path);
    again.close().unwrap();
}

#[test]
fn second_open_through_the_c_abi_is_locked_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let store = c_open(&path).expect("first open");
    assert_c_locked(&path, "second C open");
    assert_locked(
        Store::open(&path, fast_options()),
        "Rust open while C holds it",
    );
    // The status name is the contract's.
    // SAFETY: lps_status_name returns a static NUL-terminated string.
    let name = unsafe { CStr::from_ptr(lps_status_name(LpsStatus::Locked as _)) };
    assert_eq!(name.to_str().unwrap(), "LPS_STATUS_LOCKED");

    assert_eq!(lps_store_close(store), LpsStatus::Ok, "{}", last_error());
    let store = c_open(&path).expect("open after close");
    assert_eq!(lps_store_close(store), LpsStatus::Ok, "{}", last_error());
}

#[test]
fn a_locked_open_does_not_touch_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("untouched.db");
    let holder = open(&path);
    pay(&holder, 1, 1000, 10);
    holder.check_integrity().unwrap();
    let before = std::fs::read(&path).unwrap();
    for _ in 0..20 {
        assert_locked(Store::open(&path, fast_options()), "repeated open");
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a refused open wrote"
    );
    holder.close().unwrap();
}

// ---- another process ----

/// The child half: no-op in a normal run. `LPS_LOCK_CHILD=hold:<store>:<ready file>`
/// opens the store, creates the ready file and holds the store until `<ready file>.release`
/// appears or stdin closes; `open:<store>` tries one open and exits with `OPENED`,
/// `LOCKED` or `OTHER_ERROR`.
#[test]
fn child_holds_or_opens_a_store() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.splitn(3, ':');
    let mode = parts.next().unwrap().to_string();
    let path = PathBuf::from(parts.next().unwrap());
    match mode.as_str() {
        "hold" => {
            let ready = PathBuf::from(parts.next().unwrap());
            let store = open(&path);
            if store.fetch_payment(&payment(7).1).is_err() {
                pay(&store, 7, 700, 70);
            }
            std::fs::write(&ready, b"ready").unwrap();
            let stdin_closed = Arc::new(AtomicBool::new(false));
            let flag = stdin_closed.clone();
            thread::spawn(move || {
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
                flag.store(true, Ordering::Release);
            });
            let release = ready.with_extension("release");
            let start = Instant::now();
            // Bounded, so that a parent that died never leaves a holder behind for long.
            while !stdin_closed.load(Ordering::Acquire)
                && !release.exists()
                && start.elapsed() < Duration::from_secs(120)
            {
                thread::sleep(Duration::from_millis(5));
            }
            store.close().unwrap();
            std::process::exit(0);
        }
        "open" => {
            let code = match Store::open(&path, fast_options()) {
                Ok(store) => {
                    store.close().unwrap();
                    OPENED
                }
                Err(Error::Locked(_)) => LOCKED,
                Err(e) => {
                    eprintln!("open: {e:?}");
                    OTHER_ERROR
                }
            };
            std::process::exit(code);
        }
        m => panic!("unknown child mode {m}"),
    }
}

fn child(spec: String, stdin: Stdio) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_holds_or_opens_a_store",
            "--exact",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, spec)
        .stdin(stdin)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait(mut child: Child, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the child did not finish within {PATIENCE:?}");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// A child that holds the store at `path` until released.
struct Holder {
    child: Child,
    ready: PathBuf,
}

impl Holder {
    fn start(path: &Path, dir: &Path, name: &str) -> Holder {
        let ready = dir.join(format!("{name}.ready"));
        let child = child(
            format!("hold:{}:{}", path.display(), ready.display()),
            Stdio::piped(),
        );
        let mut child = child;
        let start = Instant::now();
        while !ready.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the holder exited before it was ready: {status:?}");
            }
            assert!(start.elapsed() < PATIENCE, "the holder never got ready");
            thread::sleep(Duration::from_millis(5));
        }
        Holder { child, ready }
    }
}

/// A child's attempt to open `path`: its exit code.
fn open_in_child(path: &Path) -> i32 {
    let status = wait(
        child(format!("open:{}", path.display()), Stdio::null()),
        "open",
    );
    status
        .code()
        .unwrap_or_else(|| panic!("the opening child died: {status:?}"))
}

#[test]
fn a_store_held_by_another_process_is_locked_here() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("held.db");
    let mut holder = Holder::start(&path, dir.path(), "stdin");
    assert_locked(
        Store::open(&path, fast_options()),
        "open while a child holds it",
    );
    assert_c_locked(&path, "C open while a child holds it");
    // Released by closing its stdin: the child closes the store and exits.
    drop(holder.child.stdin.take());
    assert!(wait(holder.child, "holder").success());
    let store = open(&path);
    assert_eq!(
        store.fetch_payment(&payment(7).1).unwrap().status,
        PaymentStatus::Succeeded,
        "the holder's payment is there"
    );
    store.close().unwrap();

    // Released by the release file this time.
    let holder = Holder::start(&path, dir.path(), "file");
    assert_locked(Store::open(&path, fast_options()), "open while held again");
    std::fs::write(holder.ready.with_extension("release"), b"").unwrap();
    assert!(wait(holder.child, "holder").success());
    open(&path).close().unwrap();
}

#[test]
fn a_store_held_here_is_locked_in_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.db");
    let store = open(&path);
    pay(&store, 1, 1000, 10);
    assert_eq!(open_in_child(&path), LOCKED, "child open while held here");
    // Also when the holder went through the C ABI.
    store.close().unwrap();
    let c_store = c_open(&path).expect("C open");
    assert_eq!(open_in_child(&path), LOCKED, "child open while C holds it");
    assert_eq!(lps_store_close(c_store), LpsStatus::Ok, "{}", last_error());
    // Released: the child opens it.
    assert_eq!(open_in_child(&path), OPENED, "child open after close");
}

#[test]
fn a_killed_holder_leaves_no_lock_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.db");
    let mut holder = Holder::start(&path, dir.path(), "killed");
    assert_locked(Store::open(&path, fast_options()), "open while held");
    holder.child.kill().unwrap(); // SIGKILL: no close, no unlock
    let status = holder.child.wait().unwrap();
    assert!(
        status.code().is_none(),
        "the holder exited by itself: {status:?}"
    );
    let store = Store::open(&path, fast_options()).expect("open after the holder died");
    store.check_integrity().unwrap();
    store.close().unwrap();
}
