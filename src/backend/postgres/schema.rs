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
pub const TABLES: [&str; 8] = [
    "meta",
    "lease",
    "payments",
    "unresolved",
    "attempts",
    "tombstones",
    "counters",
    "mc_results",
];

/// The function a write batch is (`CREATE` below).
pub const APPLY_BATCH: &str = "apply_batch";

/// The SQLSTATE `apply_batch` raises when the writer lease is not the caller's.
pub const FENCED: &str = "LNPF1";

/// The SQLSTATE `apply_batch` raises when a payment hash the writer took for new (it did
/// not fetch it) has a payment or a tombstone after all.
pub const NOT_NEW: &str = "LNPN1";

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
) WITH (fillfactor = 70);
CREATE INDEX payments_created ON payments (created_ns, seq);
CREATE TABLE unresolved (
    seq BIGINT PRIMARY KEY
);
CREATE TABLE attempts (
    seq        BIGINT NOT NULL,
    attempt_id BIGINT NOT NULL,
    info       BYTEA NOT NULL,
    settle     BYTEA,
    fail       BYTEA,
    PRIMARY KEY (seq, attempt_id)
) WITH (fillfactor = 80);
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
CREATE FUNCTION apply_batch(
    lease_holder TEXT, lease_term BIGINT, batch_epoch BIGINT, next_seq BIGINT,
    gone BIGINT[], gone_att_seq BIGINT[], gone_att_id BIGINT[], tomb BYTEA[],
    ins_seq BIGINT[], ins_hash BYTEA[], ins_created BIGINT[], ins_value BIGINT[],
    ins_status SMALLINT[], ins_reason SMALLINT[], ins_creation BYTEA[],
    att_seq BIGINT[], att_id BIGINT[], att_info BYTEA[], att_settle BYTEA[], att_fail BYTEA[],
    upd_seq BIGINT[], upd_status SMALLINT[], upd_reason SMALLINT[],
    aupd_seq BIGINT[], aupd_id BIGINT[], aupd_settle BYTEA[], aupd_fail BYTEA[],
    unres_add BIGINT[], unres_del BIGINT[], cnt_status SMALLINT[], cnt_delta BIGINT[],
    taken_for_new BYTEA[]
) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM 1 FROM lease WHERE name = 'writer' AND holder = lease_holder AND term = lease_term
        AND expires_at > clock_timestamp() FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the writer lease of term % is not this writer''s', lease_term
            USING ERRCODE = 'LNPF1';
    END IF;
    IF cardinality(taken_for_new) > 0 AND (
        EXISTS (SELECT 1 FROM payments WHERE hash = ANY (taken_for_new))
        OR EXISTS (SELECT 1 FROM tombstones WHERE hash = ANY (taken_for_new))) THEN
        RAISE EXCEPTION 'a payment hash taken for new is known' USING ERRCODE = 'LNPN1';
    END IF;
    IF cardinality(gone) > 0 THEN
        DELETE FROM unresolved WHERE seq = ANY (gone);
        DELETE FROM attempts WHERE seq = ANY (gone);
        DELETE FROM payments WHERE seq = ANY (gone);
    END IF;
    IF cardinality(gone_att_seq) > 0 THEN
        DELETE FROM attempts a USING unnest(gone_att_seq, gone_att_id) AS d (seq, id)
            WHERE a.seq = d.seq AND a.attempt_id = d.id;
    END IF;
    IF cardinality(tomb) > 0 THEN
        INSERT INTO tombstones (hash) SELECT unnest(tomb) ON CONFLICT DO NOTHING;
    END IF;
    IF cardinality(ins_seq) > 0 THEN
        INSERT INTO payments (seq, hash, created_ns, value_msat, status, fail_reason, creation)
            SELECT * FROM unnest(ins_seq, ins_hash, ins_created, ins_value, ins_status,
                                 ins_reason, ins_creation);
    END IF;
    IF cardinality(att_seq) > 0 THEN
        INSERT INTO attempts (seq, attempt_id, info, settle, fail)
            SELECT * FROM unnest(att_seq, att_id, att_info, att_settle, att_fail);
    END IF;
    IF cardinality(upd_seq) > 0 THEN
        UPDATE payments p SET status = COALESCE(u.status, p.status),
                fail_reason = COALESCE(u.reason, p.fail_reason)
            FROM unnest(upd_seq, upd_status, upd_reason) AS u (seq, status, reason)
            WHERE p.seq = u.seq;
    END IF;
    IF cardinality(aupd_seq) > 0 THEN
        UPDATE attempts a SET settle = COALESCE(u.settle, a.settle), fail = COALESCE(u.fail, a.fail)
            FROM unnest(aupd_seq, aupd_id, aupd_settle, aupd_fail) AS u (seq, id, settle, fail)
            WHERE a.seq = u.seq AND a.attempt_id = u.id;
    END IF;
    IF cardinality(unres_del) > 0 THEN
        DELETE FROM unresolved WHERE seq = ANY (unres_del);
    END IF;
    IF cardinality(unres_add) > 0 THEN
        INSERT INTO unresolved (seq) SELECT unnest(unres_add);
    END IF;
    IF cardinality(cnt_status) > 0 THEN
        INSERT INTO counters (status, count) SELECT * FROM unnest(cnt_status, cnt_delta)
            ON CONFLICT (status) DO UPDATE SET count = counters.count + EXCLUDED.count;
    END IF;
    UPDATE meta SET value = CASE key WHEN 'epoch' THEN COALESCE(batch_epoch, value)
            ELSE GREATEST(value, next_seq) END
        WHERE key IN ('epoch', 'next_sequence');
END
$fn$;
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
    let function: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_proc \
             WHERE proname = $1 AND pronamespace = current_schema()::regnamespace)",
            &[&APPLY_BATCH],
        )
        .map_err(|e| storage("open: look for the schema's function", &e))?
        .get(0);
    if !function {
        return Err(Error::corrupt(format!(
            "schema version {found} without its function {APPLY_BATCH}"
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
