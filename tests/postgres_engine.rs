//! The PostgreSQL engine's failure handling: serialization failures and deadlocks are
//! retried with nothing of the failed try left behind; a connection lost during COMMIT
//! is resolved (did it commit?) before anyone is answered, so nothing is applied twice
//! and nothing committed is reported as failed. Runs under ci/with-postgres.sh.
#![cfg(feature = "postgres")]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use lnpaystore::*;

fn sequence_numbers(store: &Store) -> Vec<u64> {
    store
        .query_payments(&Query {
            include_incomplete: true,
            max_payments: 1000,
            ..Default::default()
        })
        .unwrap()
        .payments
        .iter()
        .map(|p| p.sequence_num)
        .collect()
}

/// Makes the first `n` row writes of `table` fail with SQLSTATE `code`.
fn refuse_first(url: &str, table: &str, n: u32, code: &str) {
    pg::client(url)
        .batch_execute(&format!(
            "CREATE SEQUENCE refused_{table};
             CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF nextval('refused_{table}') <= {n} THEN
                     RAISE EXCEPTION 'forced by the test' USING ERRCODE = '{code}';
                 END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON {table}
                 FOR EACH ROW EXECUTE FUNCTION refuse_{table}();"
        ))
        .unwrap();
}

#[test]
fn serialization_failures_and_deadlocks_are_retried_without_a_trace() {
    let Some(url) = pg::fresh_schema_url("retry") else {
        return;
    };
    let store = Arc::new(Store::open(&url, fast_options()).unwrap());
    refuse_first(&url, "payments", 3, "40001");
    refuse_first(&url, "attempts", 3, "40P01");
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..5 {
                    pay(&store, t * 100 + i, 1000, 10);
                }
            });
        }
    });
    let mut client = pg::client(&url);
    for table in ["payments", "attempts"] {
        let tries: i64 = client
            .query_one(&format!("SELECT last_value FROM refused_{table}"), &[])
            .unwrap()
            .get(0);
        assert!(tries > 3, "{table}: the forced failures happened");
    }
    let counts = store.payment_counts().unwrap();
    assert_eq!((counts.total, counts.succeeded), (40, 40));
    // No sequence number was spent by a failed try.
    assert_eq!(sequence_numbers(&store), (1..=40).collect::<Vec<_>>());
    assert_counts_consistent(&store);
}

/// A loopback TCP proxy to the test cluster that, once armed, swallows the server's
/// answer to the next write transaction and cuts the connection: the transaction
/// commits, the client never hears so.
struct Proxy {
    port: u16,
    armed: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(server: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (armed, cuts) = (Arc::new(AtomicBool::new(false)), Arc::default());
        let proxy = Proxy {
            port,
            armed: armed.clone(),
            cuts: Arc::clone(&cuts),
        };
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(&server) else {
                    continue;
                };
                relay(client, server, armed.clone(), cuts.clone());
            }
        });
        proxy
    }

    /// `url` with the proxy in place of the server.
    fn url(&self, url: &str) -> String {
        let server = server_address(url);
        url.replace(&server, &format!("127.0.0.1:{}", self.port))
    }
}

/// host:port of a `postgres://user@host:port/...` URL.
fn server_address(url: &str) -> String {
    let rest = url.split('@').nth(1).unwrap();
    rest.split('/').next().unwrap().to_string()
}

fn relay(client: TcpStream, server: TcpStream, armed: Arc<AtomicBool>, cuts: Arc<AtomicUsize>) {
    let holding = Arc::new(AtomicBool::new(false));
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let hold = holding.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = from_client.read(&mut buf) {
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            // The batch's call: only it carries a new payment's creation record (its
            // payment request is "lnbc1...").
            if chunk.windows(8).any(|w| w == b"lnbc1...") && armed.swap(false, Ordering::SeqCst) {
                hold.store(true, Ordering::SeqCst);
            }
            if to_server.write_all(chunk).is_err() {
                break;
            }
        }
        let _ = to_server.shutdown(Shutdown::Both);
    });
    let (mut from_server, mut to_client) = (server, client);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = from_server.read(&mut buf) {
            if n == 0 {
                break;
            }
            if holding.load(Ordering::SeqCst) {
                // The answer to the armed transaction: never delivered.
                cuts.fetch_add(1, Ordering::SeqCst);
                break;
            }
            if to_client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Both);
        let _ = from_server.shutdown(Shutdown::Both);
    });
}

#[test]
fn a_commit_whose_answer_is_lost_is_found_committed_and_answered_once() {
    let Some(url) = pg::fresh_schema_url("lost_commit") else {
        return;
    };
    let proxy = Proxy::start(server_address(&url));
    // In the clear: the proxy recognises the batch's statement in the bytes it relays.
    let store = Store::open(
        format!("{}&sslmode=disable", proxy.url(&url)),
        fast_options(),
    )
    .unwrap();
    let (_, first) = payment(1);
    store.init_payment(&first, creation(1000, 10)).unwrap();

    proxy.armed.store(true, Ordering::SeqCst);
    let (pre, second) = payment(2);
    let p = store.init_payment(&second, creation(1000, 10)).unwrap();
    assert_eq!(proxy.cuts.load(Ordering::SeqCst), 1, "the answer was cut");
    assert_eq!(p.sequence_num, 2);

    // Committed once: the writer neither failed the caller nor ran it again.
    let rows: i64 = pg::client(&url)
        .query_one("SELECT count(*) FROM payments", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 2);
    store
        .register_attempt(&second, attempt(1, 1000, None))
        .unwrap();
    store.settle_attempt(&second, 1, settle(pre)).unwrap();
    let (_, third) = payment(3);
    assert_eq!(
        store
            .init_payment(&third, creation(1000, 10))
            .unwrap()
            .sequence_num,
        3
    );
    assert_eq!(sequence_numbers(&store), vec![1, 2, 3]);
    assert_counts_consistent(&store);
}

#[test]
fn a_connection_lost_during_commit_before_it_happened_is_retried_once() {
    let Some(url) = pg::fresh_schema_url("died_commit") else {
        return;
    };
    let store = Store::open(&url, fast_options()).unwrap();
    // The first transaction that writes a payment loses its server process while
    // committing (a deferred trigger runs at COMMIT), before the commit happens.
    pg::client(&url)
        .batch_execute(
            "CREATE SEQUENCE deaths;
             CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF nextval('deaths') = 1 THEN
                     PERFORM pg_terminate_backend(pg_backend_pid());
                 END IF;
                 RETURN NULL;
             END $$;
             CREATE CONSTRAINT TRIGGER die AFTER INSERT ON payments
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die();",
        )
        .unwrap();
    let (_, hash) = payment(1);
    let p = store.init_payment(&hash, creation(1000, 10)).unwrap();
    assert_eq!(p.sequence_num, 1);
    let deaths: i64 = pg::client(&url)
        .query_one("SELECT last_value FROM deaths", &[])
        .unwrap()
        .get(0);
    assert_eq!(deaths, 2, "the first try died, the second committed");
    assert_eq!(sequence_numbers(&store), vec![1]);
    assert_counts_consistent(&store);
}

/// The sequence numbers in the in-flight index (the `unresolved` table).
fn unresolved(url: &str) -> Vec<i64> {
    pg::client(url)
        .query("SELECT seq FROM unresolved ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn the_in_flight_index_follows_every_payment_and_the_check_finds_it_wrong() {
    let Some(url) = pg::fresh_schema_url("unresolved") else {
        return;
    };
    let store = Store::open(&url, fast_options()).unwrap();
    // 1 settled, 2 failed, 3 initiated, 4 in flight, 5 initiated then deleted... by a
    // failure and a new start: its hash gets 6.
    pay(&store, 1, 1000, 10);
    fail(&store, 2, 1000, 10);
    let (_, third) = payment(3);
    store.init_payment(&third, creation(1000, 10)).unwrap();
    let (_, fourth) = payment(4);
    store.init_payment(&fourth, creation(1000, 10)).unwrap();
    store
        .register_attempt(&fourth, attempt(1, 1000, None))
        .unwrap();
    let (_, fifth) = payment(5);
    store.init_payment(&fifth, creation(1000, 10)).unwrap();
    store.fail_payment(&fifth, FailureReason::Timeout).unwrap();
    store.init_payment(&fifth, creation(1000, 10)).unwrap();
    assert_eq!(unresolved(&url), vec![3, 4, 6]);
    let inflight = inflight_sequence_numbers(&store);
    assert_eq!(inflight, vec![3, 4, 6]);
    assert_eq!(store.check_integrity().unwrap().in_flight_index, 3);

    // A resolved payment in the index, then an unresolved one missing from it.
    let mut client = pg::client(&url);
    client
        .batch_execute("INSERT INTO unresolved VALUES (1)")
        .unwrap();
    let err = store.check_integrity().unwrap_err();
    assert_eq!(err.status(), LpsStatus::Corrupt, "{err}");
    assert!(err.to_string().contains("in-flight index"), "{err}");
    client
        .batch_execute("DELETE FROM unresolved WHERE seq IN (1, 3)")
        .unwrap();
    let err = store.check_integrity().unwrap_err();
    assert!(err.to_string().contains("in-flight index"), "{err}");
    store.close().unwrap();
}

#[test]
fn a_deleted_payment_takes_its_attempts_and_the_check_finds_a_stray_one() {
    let Some(url) = pg::fresh_schema_url("orphans") else {
        return;
    };
    let store = Store::open(&url, fast_options()).unwrap();
    let paid = pay(&store, 1, 1000, 10);
    pay(&store, 2, 1000, 10);
    fail(&store, 3, 1000, 10);
    let attempts = |url: &str| -> i64 {
        pg::client(url)
            .query_one("SELECT count(*) FROM attempts", &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(attempts(&url), 3);
    store.delete_payment(&paid, false).unwrap();
    assert_eq!(attempts(&url), 2);
    assert_eq!(store.delete_payments(true, false).unwrap(), 1);
    assert_eq!(attempts(&url), 1);
    store.check_integrity().unwrap();

    pg::client(&url)
        .batch_execute("INSERT INTO attempts (seq, attempt_id, info) VALUES (99, 1, '\\x00')")
        .unwrap();
    let err = store.check_integrity().unwrap_err();
    assert_eq!(err.status(), LpsStatus::Corrupt, "{err}");
    assert!(
        err.to_string().contains("attempt's payment is gone"),
        "{err}"
    );
    store.close().unwrap();
}

/// The writer takes hashes it does not hold for new payments without fetching them;
/// `apply_batch` checks that guess before it writes, and a wrong one runs the batch
/// again with the payments fetched: a paid and deleted hash stays paid, a failed one
/// starts again, an unknown one is not initiated.
#[test]
fn hashes_taken_for_new_are_checked_before_anything_is_written() {
    let Some(url) = pg::fresh_schema_url("guess") else {
        return;
    };
    let store = Store::open(&url, fast_options()).unwrap();
    let paid = pay(&store, 1, 1000, 10);
    store.delete_payment(&paid, false).unwrap();
    let failed = fail(&store, 2, 1000, 10);
    pay(&store, 3, 1000, 10);

    let err = store.init_payment(&paid, creation(1000, 10)).unwrap_err();
    assert_eq!(err.status(), LpsStatus::AlreadyPaid, "{err}");
    let again = store.init_payment(&failed, creation(1000, 10)).unwrap();
    assert_eq!(again.sequence_num, 4);
    let (_, settled) = payment(3);
    let err = store
        .init_payment(&settled, creation(1000, 10))
        .unwrap_err();
    assert_eq!(err.status(), LpsStatus::AlreadyPaid, "{err}");
    let (_, unknown) = payment(9);
    let err = store
        .register_attempt(&unknown, attempt(1, 1000, None))
        .unwrap_err();
    assert_eq!(err.status(), LpsStatus::PaymentNotInitiated, "{err}");
    assert_eq!(sequence_numbers(&store), vec![3, 4]);
    store.check_integrity().unwrap();
    store.close().unwrap();
}

/// Every payment passes through the in-flight table and leaves it when resolved; the
/// writer vacuums the table as rows leave it, so the in-flight fetch does not walk the
/// store's history of dead rows until autovacuum comes by.
#[test]
fn the_writer_vacuums_the_in_flight_table_as_payments_leave_it() {
    let Some(url) = pg::fresh_schema_url("vacuum") else {
        return;
    };
    let store = Arc::new(Store::open(&url, fast_options()).unwrap());
    let vacuums = || -> i64 {
        pg::client(&url)
            .query_one(
                "SELECT vacuum_count FROM pg_stat_user_tables \
                 WHERE relid = 'unresolved'::regclass",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(vacuums(), 0);
    // Each payment is started and failed by one thread, so it enters the table in one
    // batch and leaves it in a later one.
    let per_thread = lnpaystore::backend::postgres::VACUUM_UNRESOLVED_EVERY as u64 / 4 + 10;
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..per_thread {
                    fail(&store, 1 + t * 100_000 + i, 1000, 10);
                }
            });
        }
    });
    assert!(vacuums() >= 1, "the in-flight table was never vacuumed");
    assert!(unresolved(&url).is_empty());
    assert!(store.fetch_inflight_payments().unwrap().is_empty());
    assert_eq!(store.check_integrity().unwrap().in_flight_index, 0);
}
