//! Two processes on one PostgreSQL database: the second writer gets `LOCKED`; when the
//! first stops answering (SIGSTOP, SIGKILL) the second takes over once the lease expired
//! and resumes the in-flight payments; the first, if it comes back, is fenced
//! (`NOT_LEADER`) and changes nothing. The writer processes are this test binary run
//! again with LPS_FAILOVER_ROLE set. Skips without LNPAYSTORE_TEST_PG_URL.
#![cfg(feature = "postgres")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lnpaystore::backend::postgres::DEFAULT_LEASE_DURATION;
use lnpaystore::*;

const IN_FLIGHT: u64 = 20;

/// A writer process: opens the store, leaves IN_FLIGHT payments in flight (numbered from
/// LPS_FAILOVER_BASE), says so, then runs what the parent asks on its stdin.
#[test]
fn failover_child() {
    let Ok(url) = std::env::var("LPS_FAILOVER_URL") else {
        return; // only as a child of the tests below
    };
    let base: u64 = std::env::var("LPS_FAILOVER_BASE").unwrap().parse().unwrap();
    let store = match Store::open(&url, Options::default()) {
        Ok(s) => s,
        Err(e) => {
            println!("OPEN-FAILED {}", e.status().name());
            return;
        }
    };
    for n in base..base + IN_FLIGHT {
        let (_, hash) = payment(n);
        store
            .init_payment(&hash, creation(1_000, n as i64))
            .unwrap();
        store
            .register_attempt(&hash, attempt(1, 1_000, None))
            .unwrap();
    }
    println!("IN-FLIGHT {IN_FLIGHT}");
    for line in std::io::stdin().lock().lines() {
        if line.unwrap().trim() != "write" {
            continue;
        }
        // Back from a pause: try to change what the new writer now owns, and to start a
        // payment of its own.
        let (preimage, hash) = payment(base);
        let settle_status = match store.settle_attempt(&hash, 1, settle(preimage)) {
            Ok(_) => "OK",
            Err(e) => e.status().name(),
        };
        let (_, fresh) = payment(base + 1_000);
        let init_status = match store.init_payment(&fresh, creation(1_000, 1)) {
            Ok(_) => "OK",
            Err(e) => e.status().name(),
        };
        let read_status = match store.fetch_inflight_payments() {
            Ok(_) => "OK",
            Err(e) => e.status().name(),
        };
        println!("WROTE {settle_status} {init_status} {read_status}");
    }
}

struct Writer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Writer {
    fn start(url: &str, base: u64) -> Writer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "failover_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("LPS_FAILOVER_URL", url)
            .env("LPS_FAILOVER_BASE", base.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the writer process");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut w = Writer {
            child,
            stdin,
            stdout,
        };
        let line = w.line_starting("IN-FLIGHT");
        assert_eq!(line, format!("IN-FLIGHT {IN_FLIGHT}"));
        w
    }

    /// What the child said from `prefix` to the end of its line (the test harness
    /// prints its own words around it, on the same line too).
    fn line_starting(&mut self, prefix: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "the writer process ended before saying {prefix}");
            if let Some(at) = line.find(prefix) {
                return line[at..].trim().to_string();
            }
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens the store as soon as the lease lets it: returns it and how long that took.
fn take_over(url: &str, since: Instant) -> (Store, Duration) {
    loop {
        match Store::open(url, Options::default()) {
            Ok(store) => return (store, since.elapsed()),
            Err(e) if e.status() == LpsStatus::Locked => {
                assert!(
                    since.elapsed() < DEFAULT_LEASE_DURATION + Duration::from_secs(5),
                    "no takeover after {:?}: {e}",
                    since.elapsed()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("open during takeover: {e}"),
        }
    }
}

/// Resumes what the old writer left in flight: settles half, fails the others.
fn resume(store: &Store, base: u64) {
    let inflight = store.fetch_inflight_payments().unwrap();
    let mut hashes: Vec<PaymentHash> = inflight.iter().map(|p| p.hash).collect();
    hashes.sort();
    let mut expected: Vec<PaymentHash> = (base..base + IN_FLIGHT).map(|n| payment(n).1).collect();
    expected.sort();
    assert_eq!(
        hashes, expected,
        "every in-flight payment is there to resume"
    );
    for n in base..base + IN_FLIGHT {
        let (preimage, hash) = payment(n);
        if n % 2 == 0 {
            store.settle_attempt(&hash, 1, settle(preimage)).unwrap();
        } else {
            store.fail_attempt(&hash, 1, fail_info()).unwrap();
        }
    }
    assert!(store.fetch_inflight_payments().unwrap().len() == (IN_FLIGHT / 2) as usize);
}

#[test]
fn a_paused_writer_is_taken_over_and_fenced_when_it_comes_back() {
    let Some(url) = pg::fresh_schema_url("paused") else {
        return;
    };
    let mut old = Writer::start(&url, 0);

    // A second writer while the first holds the lease: LOCKED, naming the holder.
    let err = Store::open(&url, Options::default())
        .err()
        .expect("second writer refused");
    assert_eq!(err.status(), LpsStatus::Locked, "{err}");
    assert!(
        err.to_string().contains(&format!("/{}/", old.child.id())),
        "{err}"
    );

    old.signal(libc::SIGSTOP);
    let (standby, waited) = take_over(&url, Instant::now());
    assert!(
        waited <= DEFAULT_LEASE_DURATION + Duration::from_secs(1),
        "{waited:?}"
    );
    resume(&standby, 0);
    standby.check_integrity().unwrap();

    // The old writer wakes up: every call fails NOT_LEADER, and nothing it tried landed.
    old.signal(libc::SIGCONT);
    writeln!(old.stdin, "write").unwrap();
    let wrote = old.line_starting("WROTE");
    assert_eq!(
        wrote,
        "WROTE LPS_STATUS_NOT_LEADER LPS_STATUS_NOT_LEADER LPS_STATUS_NOT_LEADER"
    );
    let (_, fresh) = payment(1_000);
    assert_eq!(
        standby.fetch_payment(&fresh).unwrap_err().status(),
        LpsStatus::PaymentNotInitiated
    );
    assert_eq!(
        standby.fetch_payment(&payment(0).1).unwrap().status,
        PaymentStatus::Succeeded
    );
    standby.check_integrity().unwrap();
    standby.close().unwrap();
}

#[test]
fn a_killed_writer_is_taken_over_after_expiry_and_its_payments_resumed() {
    let Some(url) = pg::fresh_schema_url("killed") else {
        return;
    };
    let old = Writer::start(&url, 100);
    old.signal(libc::SIGKILL);
    let (standby, waited) = take_over(&url, Instant::now());
    assert!(
        waited <= DEFAULT_LEASE_DURATION + Duration::from_secs(1),
        "{waited:?}"
    );
    resume(&standby, 100);
    standby.check_integrity().unwrap();

    // Closing ends the lease at once: the next writer need not wait for it to expire.
    standby.close().unwrap();
    let (again, waited) = take_over(&url, Instant::now());
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(
        again.fetch_inflight_payments().unwrap().len(),
        (IN_FLIGHT / 2) as usize
    );
    again.close().unwrap();
}

#[test]
fn a_short_lease_lets_a_standby_take_over_a_killed_writer_sooner() {
    let Some(url) = pg::fresh_schema_url("short") else {
        return;
    };
    // lnpaystore's own parameter: other clients (this test's own) get the URL without it.
    let (plain, url) = (url.clone(), format!("{url}&lease_duration=1"));
    let old = Writer::start(&url, 200);
    // The live writer's lease never has more than its URL's second left (renewals
    // extend it to one second from their time), by the database's clock.
    let left: f64 = pg::client(&plain)
        .query_one(
            "SELECT extract(epoch FROM expires_at - clock_timestamp())::float8 FROM lease",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(left <= 1.05, "{left} s left");
    old.signal(libc::SIGKILL);
    let (standby, waited) = take_over(&url, Instant::now());
    // At most the short lease and a scheduling margin: far below the default's 10 s.
    assert!(waited <= Duration::from_secs(3), "{waited:?}");
    resume(&standby, 200);
    standby.check_integrity().unwrap();
    standby.close().unwrap();
}
