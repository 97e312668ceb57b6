//! TLS to the database with libpq's parameters (docs/postgres.md, TLS), against the test
//! cluster ci/with-postgres.sh starts with a throwaway CA (LNPAYSTORE_TEST_PG_TLS).
//! Skips without it.
#![cfg(feature = "postgres")]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use common::pg;
use lnpaystore::backend::postgres::PgUrl;
use lnpaystore::{LpsStatus, Options, Store};

/// The test cluster's URL (as `host`, with extra parameters) and its certificates.
struct Tls {
    server: String,
    dir: PathBuf,
}

impl Tls {
    fn get() -> Option<Tls> {
        let server = pg::server_url()?;
        let Some(dir) = std::env::var_os("LNPAYSTORE_TEST_PG_TLS") else {
            eprintln!("LNPAYSTORE_TEST_PG_TLS is not set: TLS test skipped");
            return None;
        };
        Some(Tls {
            server,
            dir: dir.into(),
        })
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// The cluster's URL with `params`, its host replaced by `host` (the certificate
    /// names localhost and 127.0.0.1).
    fn url(&self, host: &str, params: &str) -> String {
        let url = self.server.replace("127.0.0.1", host);
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{params}")
    }
}

/// The error connecting to `url` gives.
fn connect_error(url: &str) -> lnpaystore::Error {
    match PgUrl::parse(url).and_then(|u| u.connect()) {
        Ok(_) => panic!("{url} connected"),
        Err(e) => e,
    }
}

/// Whether the connection `url` gives is encrypted, by the server's own account.
fn encrypted(url: &str) -> lnpaystore::Result<bool> {
    let mut client = PgUrl::parse(url)?.connect()?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap();
    Ok(row.get(0))
}

#[test]
fn require_and_prefer_connect_encrypted_and_disable_in_the_clear() {
    let Some(tls) = Tls::get() else { return };
    assert!(encrypted(&tls.url("127.0.0.1", "sslmode=require")).unwrap());
    // libpq's default: TLS when the server offers it.
    assert!(encrypted(&tls.server).unwrap());
    assert!(!encrypted(&tls.url("127.0.0.1", "sslmode=disable")).unwrap());
}

#[test]
fn verify_full_with_the_right_root_connects() {
    let Some(tls) = Tls::get() else { return };
    let root = tls.file("ca.crt");
    for host in ["localhost", "127.0.0.1"] {
        let url = tls.url(host, &format!("sslmode=verify-full&sslrootcert={root}"));
        assert!(encrypted(&url).unwrap(), "{host}");
    }
    // A whole store over it.
    let url = pg::fresh_schema_url("tls")
        .unwrap()
        .replace("127.0.0.1", "localhost");
    let url = format!("{url}&sslmode=verify-full&sslrootcert={root}");
    let store = Store::open(&url, Options::default()).unwrap();
    assert_eq!(store.fetch_inflight_payments().unwrap().len(), 0);
    store.close().unwrap();
}

#[test]
fn a_wrong_root_fails_naming_the_host_and_never_the_password() {
    let Some(tls) = Tls::get() else { return };
    let other = tls.file("other-ca.crt");
    for mode in ["verify-full", "verify-ca", "require"] {
        let url = tls
            .url("localhost", &format!("sslmode={mode}&sslrootcert={other}"))
            .replace("postgres@", "postgres:s3cret@");
        let err = connect_error(&url);
        assert_eq!(err.status(), LpsStatus::Io, "{mode}: {err}");
        let message = err.to_string();
        assert!(message.contains("@localhost:"), "{mode}: {message}");
        assert!(message.contains("certificate"), "{mode}: {message}");
        assert!(!message.contains("s3cret"), "{mode}: {message}");
    }
}

#[test]
fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let Some(tls) = Tls::get() else { return };
    let root = tls.file("ca.crt");
    // The server's certificate names localhost and 127.0.0.1: reach 127.0.0.1 by another
    // name (libpq's hostaddr is the address, host the name checked).
    let params = |mode: &str| format!("sslmode={mode}&sslrootcert={root}&hostaddr=127.0.0.1");
    let err = connect_error(&tls.url("db.example", &params("verify-full")));
    assert_eq!(err.status(), LpsStatus::Io, "{err}");
    assert!(err.to_string().contains("db.example"), "{err}");
    assert!(err.to_string().contains("name"), "{err}");
    assert!(encrypted(&tls.url("db.example", &params("verify-ca"))).unwrap());
}

#[test]
fn a_missing_root_file_is_named() {
    let Some(tls) = Tls::get() else { return };
    let url = tls.url(
        "localhost",
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
    );
    let err = Store::open(&url, Options::default()).err().unwrap();
    assert_eq!(err.status(), LpsStatus::InvalidArgument, "{err}");
    assert!(err.to_string().contains("/nonexistent/ca.crt"), "{err}");
}

#[test]
fn a_client_certificate_logs_in() {
    let Some(tls) = Tls::get() else { return };
    pg::client(&tls.server)
        .batch_execute(
            "DO $$ BEGIN CREATE ROLE lnpaystore_cert LOGIN; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        )
        .unwrap();
    let url = tls
        .url("localhost", "")
        .replace("postgres@", "lnpaystore_cert@");
    let (cert, key, root) = (
        tls.file("client.crt"),
        tls.file("client.key"),
        tls.file("ca.crt"),
    );
    let with = format!("{url}sslmode=verify-full&sslrootcert={root}&sslcert={cert}&sslkey={key}");
    assert!(encrypted(&with).unwrap());
    // Without the certificate the server refuses the role.
    let without = format!("{url}sslmode=verify-full&sslrootcert={root}");
    assert!(PgUrl::parse(&without).unwrap().connect().is_err());
}

#[test]
fn require_fails_clearly_against_a_server_without_tls() {
    // A server without TLS answers the client's TLS request with 'N'.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0u8; 8];
        conn.read_exact(&mut request).unwrap();
        conn.write_all(b"N").unwrap();
        let _ = conn.read(&mut [0u8; 64]);
    });
    let url = format!("postgres://u:s3cret@127.0.0.1:{port}/d?sslmode=require");
    let err = connect_error(&url);
    server.join().unwrap();
    assert_eq!(err.status(), LpsStatus::Io, "{err}");
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("TLS"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}
