//! The relational schema (docs/postgres.md, Schema): created by the first writer that
//! opens an empty database, checked by every open. Records keep the project's own
//! encodings (the same bytes as in a store file); columns exist for what SQL filters,
//! orders or constrains on. Times are unix nanoseconds in BIGINT (a PostgreSQL timestamp
//! has microseconds only); u64 values (sequence numbers, amounts, attempt ids) are stored
//! bit for bit in BIGINT.

use postgres::{Client, GenericClient};

use super::error::storage;
use crate::error::{Error, Result};

/// The relational schema this library writes (its own numbering, independent of the
/// store file's).
pub const SCHEMA_VERSION: i64 = 1;

/// `meta` keys.
pub const KEY_SCHEMA_VERSION: &str = "schema_version";
/// Bumped by every committed write batch: after a connection lost during COMMIT, the
/// writer reads it to learn whether the batch committed.
pub const KEY_EPOCH: &str = "epoch";
/// The sequence number the next new payment gets.
pub const KEY_NEXT_SEQUENCE: &str = "next_sequence";

/// Every table, in creation order (a later one may reference an earlier one).
pub const TABLES: [&str; 7] = [
    "meta",
    "lease",
    "payments",
    "attempts",
    "tombstones",
    "counters",
    "mc_results",
];

/// Version 1, created in one transaction.
const CREATE: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
CREATE TABLE lease (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    term        BIGINT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE payments (
    seq         BIGINT PRIMARY KEY,
    hash        BYTEA NOT NULL UNIQUE,
    created_ns  BIGINT NOT NULL,
    value_msat  BIGINT NOT NULL,
    status      SMALLINT NOT NULL,
    fail_reason SMALLINT,
    creation    BYTEA NOT NULL
);
CREATE INDEX payments_created ON payments (created_ns, seq);
CREATE INDEX payments_unresolved ON payments (seq) WHERE status IN (1, 2);
CREATE TABLE attempts (
    seq        BIGINT NOT NULL REFERENCES payments (seq) ON DELETE CASCADE,
    attempt_id BIGINT NOT NULL,
    info       BYTEA NOT NULL,
    settle     BYTEA,
    fail       BYTEA,
    PRIMARY KEY (seq, attempt_id)
);
CREATE TABLE tombstones (
    hash BYTEA PRIMARY KEY
);
CREATE TABLE counters (
    status SMALLINT PRIMARY KEY,
    count  BIGINT NOT NULL
);
CREATE TABLE mc_results (
    namespace TEXT NOT NULL,
    key       BYTEA NOT NULL,
    value     BYTEA NOT NULL,
    PRIMARY KEY (namespace, key)
);
INSERT INTO meta (key, value) VALUES ('schema_version', 1), ('epoch', 0), ('next_sequence', 1);
";

/// Serialises schema creation between processes opening one empty database at once
/// (an advisory lock of this database; the number is arbitrary but fixed).
const CREATE_LOCK: i64 = 0x6c6e_7061_7973_746f; // "lnpaysto"

/// Creates the schema in an empty database, or checks an existing one: `VERSION` when
/// it is newer than this library's, `CORRUPT` when tables of ours exist without the
/// meta table that says what they are.
pub fn prepare(client: &mut Client) -> Result<()> {
    let what = "open: prepare the schema";
    let mut tx = client.transaction().map_err(|e| storage(what, &e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK])
        .map_err(|e| storage(what, &e))?;
    let present = existing_tables(&mut tx)?;
    if present.is_empty() {
        tx.batch_execute(CREATE).map_err(|e| storage(what, &e))?;
        return tx.commit().map_err(|e| storage(what, &e));
    }
    check(&mut tx, &present)?;
    tx.commit().map_err(|e| storage(what, &e))
}

/// Checks an existing schema without writing (read-only opens, standbys).
pub fn check_version(client: &mut impl GenericClient) -> Result<()> {
    let present = existing_tables(client)?;
    if present.is_empty() {
        // No store here at all: like a missing store file (IO), not a damaged one.
        return Err(Error::Io(
            "the database has no lnpaystore tables (a writable open creates them)".into(),
        ));
    }
    check(client, &present)
}

fn check(client: &mut impl GenericClient, present: &[String]) -> Result<()> {
    if !present.iter().any(|t| t == "meta") {
        return Err(Error::corrupt(format!(
            "the database has table {} but no lnpaystore meta table: not an lnpaystore \
             schema (use an empty database or schema)",
            present[0]
        )));
    }
    let found = read_meta(client, KEY_SCHEMA_VERSION)?.ok_or_else(|| {
        Error::corrupt("the meta table has no schema_version: not an lnpaystore schema")
    })?;
    if found > SCHEMA_VERSION {
        return Err(Error::Version {
            found: found as u64,
            supported: SCHEMA_VERSION as u64,
            file: String::new(),
        });
    }
    if found < 1 {
        return Err(Error::corrupt(format!("schema version {found}")));
    }
    if let Some(missing) = TABLES.iter().find(|t| !present.iter().any(|p| p == *t)) {
        return Err(Error::corrupt(format!(
            "schema version {found} without its table {missing}"
        )));
    }
    Ok(())
}

/// Our tables that exist in the schema new tables go to (the first of `search_path`).
fn existing_tables(client: &mut impl GenericClient) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = ANY($1)
             ORDER BY table_name",
            &[&TABLES.as_slice()],
        )
        .map_err(|e| storage("open: list the tables", &e))?;
    if rows.is_empty() {
        // No current schema at all (search_path names none that exists): say so rather
        // than fail later with "no schema has been selected to create in".
        let schema: Option<String> = client
            .query_one("SELECT current_schema()::text", &[])
            .map_err(|e| storage("open: find the current schema", &e))?
            .get(0);
        if schema.is_none() {
            return Err(Error::invalid(
                "database URL: search_path names no existing schema",
            ));
        }
    }
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// One `meta` value.
pub fn read_meta(client: &mut impl GenericClient, key: &str) -> Result<Option<i64>> {
    client
        .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
        .map(|row| row.map(|r| r.get(0)))
        .map_err(|e| storage(&format!("read meta {key}"), &e))
}
