//! The PostgreSQL backend's shared parts against a real server: URLs, the schema and
//! its version checks, the writer lease (LOCKED, takeover after expiry, renewal,
//! fencing, NOT_LEADER). Skips without LNPAYSTORE_TEST_PG_URL (ci/with-postgres.sh).
#![cfg(feature = "postgres")]

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::pg;
use lnpaystore::backend::postgres::{schema, Lease, LeaseConfig, PgUrl};
use lnpaystore::{Error, LpsStatus};

/// A fresh schema with the lnpaystore tables in it.
fn prepared(tag: &str) -> Option<(String, PgUrl)> {
    let url = pg::fresh_schema_url(tag)?;
    let parsed = PgUrl::parse(&url).unwrap();
    schema::prepare(&mut parsed.connect().unwrap()).unwrap();
    Some((url, parsed))
}

fn lease(url: &PgUrl, ms: u64) -> lnpaystore::Result<Lease> {
    Lease::acquire(url, LeaseConfig::with_duration(Duration::from_millis(ms)))
}

#[test]
fn the_schema_is_created_once_and_checked_on_every_open() {
    let Some((url, parsed)) = prepared("schema") else {
        return;
    };
    let mut c = pg::client(&url);
    let version: i64 = c
        .query_one("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, schema::SCHEMA_VERSION);
    // A second open finds it and changes nothing.
    c.execute("UPDATE meta SET value = 7 WHERE key = 'epoch'", &[])
        .unwrap();
    schema::prepare(&mut parsed.connect().unwrap()).unwrap();
    schema::check_version(&mut parsed.connect().unwrap()).unwrap();
    let epoch: i64 = c
        .query_one("SELECT value FROM meta WHERE key = 'epoch'", &[])
        .unwrap()
        .get(0);
    assert_eq!(epoch, 7);

    // Newer than this library: VERSION, nothing written.
    c.execute(
        "UPDATE meta SET value = $1 WHERE key = 'schema_version'",
        &[&(schema::SCHEMA_VERSION + 1)],
    )
    .unwrap();
    let err = schema::prepare(&mut parsed.connect().unwrap()).unwrap_err();
    assert_eq!(err.status(), LpsStatus::Version, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("schema version {}", schema::SCHEMA_VERSION + 1)),
        "{err}"
    );

    // A table missing: CORRUPT naming it.
    c.execute(
        "UPDATE meta SET value = 1 WHERE key = 'schema_version'",
        &[],
    )
    .unwrap();
    c.batch_execute("DROP TABLE mc_results").unwrap();
    let err = schema::prepare(&mut parsed.connect().unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("mc_results")),
        "{err}"
    );
}

#[test]
fn foreign_tables_and_a_missing_schema_are_refused() {
    let Some(url) = pg::fresh_schema_url("foreign") else {
        return;
    };
    pg::client(&url)
        .batch_execute("CREATE TABLE payments (id int)")
        .unwrap();
    let parsed = PgUrl::parse(&url).unwrap();
    let err = schema::prepare(&mut parsed.connect().unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("payments") && m.contains("not an lnpaystore schema")),
        "{err}"
    );
    // The refused open created nothing.
    let n: i64 = pg::client(&url)
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    let server = pg::server_url().unwrap();
    let nowhere =
        PgUrl::parse(&format!("{server}?options=-csearch_path%3Dno_such_schema")).unwrap();
    let err = schema::prepare(&mut nowhere.connect().unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("search_path")),
        "{err}"
    );
}

#[test]
fn a_refused_connection_names_the_target_without_the_password() {
    let url = PgUrl::parse("postgres://pay:s3cret@127.0.0.1:1/node?connect_timeout=2").unwrap();
    let err = url.connect().err().expect("nothing listens on port 1");
    assert_eq!(err.status(), LpsStatus::Io);
    let msg = err.to_string();
    assert!(
        msg.contains("postgres://pay@127.0.0.1:1/node") && !msg.contains("s3cret"),
        "{msg}"
    );
}

#[test]
fn a_second_writer_is_locked_until_the_first_releases() {
    let Some((_, url)) = prepared("locked") else {
        return;
    };
    let mut first = lease(&url, 10_000).unwrap();
    assert_eq!(first.term(), 1);
    let err = lease(&url, 10_000)
        .err()
        .expect("second writer must be refused");
    assert_eq!(err.status(), LpsStatus::Locked);
    let msg = err.to_string();
    assert!(
        msg.contains(first.holder()) && msg.contains("term 1") && msg.contains(" s"),
        "{msg}"
    );
    first.release().unwrap();
    assert_eq!(first.check().unwrap_err().status(), LpsStatus::NotLeader);
    let second = lease(&url, 10_000).unwrap();
    assert_eq!(second.term(), 2);
    second.check().unwrap();
}

#[test]
fn a_silent_writer_is_taken_over_after_expiry_and_fenced() {
    let Some((_, url)) = prepared("takeover") else {
        return;
    };
    let mut old = lease(&url, 1_000).unwrap();
    old.stop_renewing();
    let start = Instant::now();
    // Refused while the lease lasts, taken within a moment of its expiry.
    let standby = loop {
        match lease(&url, 10_000) {
            Ok(l) => break l,
            Err(e) if e.status() == LpsStatus::Locked => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("{e}"),
        }
    };
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(standby.term(), 2);
    // The old writer: NOT_LEADER locally, and its transactions are fenced in the database.
    let err = old.check().unwrap_err();
    assert_eq!(err.status(), LpsStatus::NotLeader, "{err}");
    let mut c = url.connect().unwrap();
    let held: Option<i64> = c
        .query_opt(
            lnpaystore::backend::postgres::FENCE,
            &[&old.holder(), &old.term()],
        )
        .unwrap()
        .map(|r| r.get(0));
    assert_eq!(held, None, "the old term must be fenced");
    let mut tx = c.transaction().unwrap();
    standby.fence(&mut tx).unwrap();
    tx.commit().unwrap();
}

#[test]
fn renewal_keeps_the_lease_across_a_lost_connection() {
    let Some((url_text, url)) = prepared("renew") else {
        return;
    };
    let held = lease(&url, 600).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    held.check().unwrap();
    // Cut the renewal connection: it reconnects before the deadline.
    pg::client(&url_text)
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND query LIKE 'UPDATE lease%'",
            &[],
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    held.check().unwrap();
    assert_eq!(
        lease(&url, 600).err().map(|e| e.status()),
        Some(LpsStatus::Locked)
    );
}

#[test]
fn a_lease_taken_behind_the_writers_back_stops_it() {
    let Some((url_text, url)) = prepared("stolen") else {
        return;
    };
    let held = lease(&url, 1_000).unwrap();
    pg::client(&url_text)
        .execute(
            "UPDATE lease SET holder = 'someone else', term = term + 1",
            &[],
        )
        .unwrap();
    // The next renewal (a fifth of the duration) notices.
    std::thread::sleep(Duration::from_millis(500));
    let err = held.check().unwrap_err();
    assert!(
        matches!(&err, Error::NotLeader(m) if m.contains("took the lease over")),
        "{err}"
    );
}

#[test]
fn a_takeover_waits_for_the_old_writers_open_transaction() {
    let Some((_, url)) = prepared("inflight") else {
        return;
    };
    let mut old = lease(&url, 800).unwrap();
    let mut c = url.connect().unwrap();
    let mut tx = c.transaction().unwrap();
    old.fence(&mut tx).unwrap();
    old.stop_renewing();
    std::thread::sleep(Duration::from_millis(900));
    // Expired now, but the old writer's transaction still holds the fence: the takeover
    // must wait for it to end, so nothing the old writer commits lands after it.
    let (done_tx, done) = mpsc::channel();
    let standby_url = url.clone();
    let standby = std::thread::spawn(move || {
        let l = lease(&standby_url, 10_000);
        done_tx.send(()).unwrap();
        l
    });
    assert!(
        done.recv_timeout(Duration::from_millis(500)).is_err(),
        "took over under an open fenced transaction"
    );
    tx.execute("UPDATE meta SET value = value + 1 WHERE key = 'epoch'", &[])
        .unwrap();
    tx.commit().unwrap();
    done.recv_timeout(Duration::from_secs(5))
        .expect("takeover after the commit");
    assert_eq!(standby.join().unwrap().unwrap().term(), 2);
}
