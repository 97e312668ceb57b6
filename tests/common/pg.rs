//! PostgreSQL for the tests: the cluster ci/with-postgres.sh starts (make test, make
//! unit) is named by LNPAYSTORE_TEST_PG_URL; each test gets a schema of its own in it.

use std::sync::atomic::{AtomicU32, Ordering};

/// The superuser URL of the test cluster, or `None` (the test then skips, saying so)
/// when the tests run outside ci/with-postgres.sh.
pub fn server_url() -> Option<String> {
    match std::env::var("LNPAYSTORE_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("LNPAYSTORE_TEST_PG_URL is not set: PostgreSQL test skipped (run it under ci/with-postgres.sh)");
            None
        }
    }
}

/// A URL whose tables live in a new, empty schema (its `search_path`): tests share the
/// cluster but never each other's tables.
pub fn fresh_schema_url(tag: &str) -> Option<String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let server = server_url()?;
    let schema = format!(
        "t_{tag}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut client =
        postgres::Client::connect(&server, postgres::NoTls).expect("connect to the test cluster");
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .expect("create the test schema");
    let sep = if server.contains('?') { '&' } else { '?' };
    Some(format!("{server}{sep}options=-csearch_path%3D{schema}"))
}

/// A plain connection to the database behind `url` (its search_path included), for
/// looking at or tampering with rows.
pub fn client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect to the test schema")
}

/// Stops the test cluster the hard way (`pg_ctl stop -m immediate`: no shutdown
/// checkpoint, clients cut off, as in a crash) and starts it again with the same options.
/// Only for a test binary of its own: every test of the binary loses its connections.
pub fn restart_server_immediately() {
    let var =
        |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} (ci/with-postgres.sh)"));
    let (bin, data, opts) = (
        var("LNPAYSTORE_TEST_PG_BIN"),
        var("LNPAYSTORE_TEST_PG_DATA"),
        var("LNPAYSTORE_TEST_PG_OPTS"),
    );
    let prefix: Vec<String> = std::env::var("LNPAYSTORE_TEST_PG_AS")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let pg_ctl = |args: &[&str]| {
        let mut argv: Vec<String> = prefix.clone();
        argv.push(format!("{bin}/pg_ctl"));
        argv.extend(args.iter().map(|a| a.to_string()));
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .expect("run pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    pg_ctl(&["-D", &data, "-m", "immediate", "-w", "stop"]);
    let log = format!("{data}/../server.log");
    pg_ctl(&[
        "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &opts, "start",
    ]);
}
