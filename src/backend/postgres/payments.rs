//! The payment statements, prepared once per connection (an unprepared statement costs
//! an extra round trip). A batch's payments are fetched by one statement (`unnest` of
//! their hashes); its writes are one call of the schema's `apply_batch` (write.rs).

use postgres::{Client, Statement};

use super::error::storage;
use crate::error::Result;

/// One payment with its attempts, by hash.
const PAYMENT_BY_HASH: &str = "SELECT p.seq, p.hash, p.creation, p.fail_reason, \
     a.seq, a.attempt_id, a.info, a.settle, a.fail \
     FROM payments p LEFT JOIN attempts a ON a.seq = p.seq \
     WHERE p.hash = $1 ORDER BY a.attempt_id";

/// A batch's payments by hash, with whether each hash is tombstoned: one row per
/// (hash, attempt); `p.seq` is NULL for a hash without a payment.
const PREFETCH: &str = "SELECT p.seq, p.hash, p.creation, p.fail_reason, \
     a.seq, a.attempt_id, a.info, a.settle, a.fail, h.hash, \
     EXISTS (SELECT 1 FROM tombstones t WHERE t.hash = h.hash) \
     FROM unnest($1::bytea[]) AS h(hash) \
     LEFT JOIN payments p ON p.hash = h.hash \
     LEFT JOIN attempts a ON a.seq = p.seq \
     ORDER BY h.hash, a.attempt_id";

const HASH_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM payments WHERE hash = $1)";
const TOMBSTONED: &str = "SELECT EXISTS (SELECT 1 FROM tombstones WHERE hash = $1)";
const SEQUENCE_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM payments WHERE seq = $1)";
const META: &str = "SELECT value FROM meta WHERE key = $1";
/// A batch's transaction (schema.rs: the function's parameters, in order).
const APPLY_BATCH: &str = "SELECT apply_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
     $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, \
     $28, $29, $30, $31, $32)";

/// The writer connection's statements.
pub struct WriteStatements {
    pub payment_by_hash: Statement,
    pub prefetch: Statement,
    pub hash_taken: Statement,
    pub tombstoned: Statement,
    pub sequence_taken: Statement,
    pub meta: Statement,
    pub apply_batch: Statement,
}

/// Every connection's session: the payment statements look rows up by key or key range,
/// so their plans must use the keys whatever the statistics say. The tables start
/// empty and grow (and `unresolved` fills with dead rows) faster than autovacuum
/// analyses them, and a plan made for an empty table (a hash join over a sequential
/// scan) would otherwise stay cached while the table grows, scanning it in every call.
const KEY_PLANS: &str =
    "SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off";
/// The writer's plans serve any number of rows, so they are made once per statement (a
/// plan made per call for its arrays' sizes cost more than running a small batch).
const WRITER_PLANS: &str = "SET plan_cache_mode = force_generic_plan";

fn set_session(client: &mut Client, settings: &[&str]) -> Result<()> {
    client
        .batch_execute(&settings.join("; "))
        .map_err(|e| storage("set up the session", &e))
}

impl WriteStatements {
    pub fn prepare(client: &mut Client) -> Result<WriteStatements> {
        set_session(client, &[KEY_PLANS, WRITER_PLANS])?;
        let mut p = |sql: &str| {
            client
                .prepare(sql)
                .map_err(|e| storage("prepare the payment statements", &e))
        };
        Ok(WriteStatements {
            payment_by_hash: p(PAYMENT_BY_HASH)?,
            prefetch: p(PREFETCH)?,
            hash_taken: p(HASH_TAKEN)?,
            tombstoned: p(TOMBSTONED)?,
            sequence_taken: p(SEQUENCE_TAKEN)?,
            meta: p(META)?,
            apply_batch: p(APPLY_BATCH)?,
        })
    }
}

/// A page forwards from an offset (exclusive); `$3` NULL = every status, else only that
/// one. Along the primary key: the cost follows the page, not the store.
const PAGE_FORWARD: &str = "SELECT p.seq, p.hash, p.creation, p.fail_reason FROM payments p \
     WHERE p.seq > $1 AND ($3::smallint IS NULL OR p.status = $3) \
     ORDER BY p.seq LIMIT $2";
/// Backwards from `$1` (inclusive: the offset less one).
const PAGE_BACKWARD: &str = "SELECT p.seq, p.hash, p.creation, p.fail_reason FROM payments p \
     WHERE p.seq <= $1 AND ($3::smallint IS NULL OR p.status = $3) \
     ORDER BY p.seq DESC LIMIT $2";
/// Within a creation-time window (`$4`..=`$5`), through the (created_ns, seq) index: the
/// cost follows the window, not the store.
const WINDOW_FORWARD: &str = "SELECT p.seq, p.hash, p.creation, p.fail_reason FROM payments p \
     WHERE p.created_ns BETWEEN $4 AND $5 AND p.seq > $1 \
     AND ($3::smallint IS NULL OR p.status = $3) ORDER BY p.seq LIMIT $2";
const WINDOW_BACKWARD: &str = "SELECT p.seq, p.hash, p.creation, p.fail_reason FROM payments p \
     WHERE p.created_ns BETWEEN $4 AND $5 AND p.seq <= $1 \
     AND ($3::smallint IS NULL OR p.status = $3) ORDER BY p.seq DESC LIMIT $2";
/// The attempts of a page's payments.
const ATTEMPTS_OF: &str = "SELECT a.seq, a.attempt_id, a.info, a.settle, a.fail FROM attempts a \
     WHERE a.seq = ANY($1::bigint[]) ORDER BY a.seq, a.attempt_id";
/// Every non-terminal payment (the `unresolved` table) with its attempts.
const INFLIGHT: &str = "SELECT p.seq, p.hash, p.creation, p.fail_reason, \
     a.seq, a.attempt_id, a.info, a.settle, a.fail \
     FROM unresolved u JOIN payments p ON p.seq = u.seq \
     LEFT JOIN attempts a ON a.seq = p.seq ORDER BY p.seq, a.attempt_id";
const COUNTERS: &str = "SELECT status, count FROM counters";
/// The integrity check's walk: payments with their status column, in chunks.
const CHECK_CHUNK: &str = "SELECT p.seq, p.hash, p.creation, p.fail_reason, p.status \
     FROM payments p WHERE p.seq > $1 ORDER BY p.seq LIMIT $2";
const LIVE_TOMBSTONES: &str =
    "SELECT EXISTS (SELECT 1 FROM tombstones t JOIN payments p ON p.hash = t.hash)";
/// The `unresolved` rows, and those of them not naming an INITIATED or IN_FLIGHT payment.
const UNRESOLVED_CHECK: &str = "SELECT count(*), \
     count(*) FILTER (WHERE p.seq IS NULL OR p.status NOT IN (1, 2)) \
     FROM unresolved u LEFT JOIN payments p ON p.seq = u.seq";
/// Attempts whose payment is gone (the schema has no foreign key: `apply_batch` deletes
/// a payment's attempts with it).
const ORPHAN_ATTEMPTS: &str = "SELECT EXISTS (SELECT 1 FROM attempts a \
     WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.seq = a.seq))";

/// A reader connection's statements.
pub struct ReadStatements {
    pub payment_by_hash: Statement,
    pub page_forward: Statement,
    pub page_backward: Statement,
    pub window_forward: Statement,
    pub window_backward: Statement,
    pub attempts_of: Statement,
    pub inflight: Statement,
    pub counters: Statement,
    pub meta: Statement,
    pub check_chunk: Statement,
    pub live_tombstones: Statement,
    pub unresolved_check: Statement,
    pub orphan_attempts: Statement,
}

impl ReadStatements {
    pub fn prepare(client: &mut Client) -> Result<ReadStatements> {
        set_session(client, &[KEY_PLANS])?;
        let mut p = |sql: &str| {
            client
                .prepare(sql)
                .map_err(|e| storage("prepare the query statements", &e))
        };
        Ok(ReadStatements {
            payment_by_hash: p(PAYMENT_BY_HASH)?,
            page_forward: p(PAGE_FORWARD)?,
            page_backward: p(PAGE_BACKWARD)?,
            window_forward: p(WINDOW_FORWARD)?,
            window_backward: p(WINDOW_BACKWARD)?,
            attempts_of: p(ATTEMPTS_OF)?,
            inflight: p(INFLIGHT)?,
            counters: p(COUNTERS)?,
            meta: p(META)?,
            check_chunk: p(CHECK_CHUNK)?,
            live_tombstones: p(LIVE_TOMBSTONES)?,
            unresolved_check: p(UNRESOLVED_CHECK)?,
            orphan_attempts: p(ORPHAN_ATTEMPTS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::postgres::test_support::database;

    /// The plan a statement keeps once cached (a generic plan), made while its tables
    /// are empty.
    fn cached_plan(client: &mut Client, sql: &str, args: &str) -> String {
        client
            .batch_execute(&format!(
                "SET plan_cache_mode = force_generic_plan; PREPARE probe AS {sql}"
            ))
            .unwrap();
        let args = if args.is_empty() {
            String::new()
        } else {
            format!("({args})")
        };
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN EXECUTE probe{args}"), &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        client
            .batch_execute("DEALLOCATE probe; RESET plan_cache_mode")
            .unwrap();
        plan.join("\n")
    }

    #[test]
    fn the_writer_finds_a_batchs_payments_by_key_whatever_the_statistics() {
        let Some(url) = database("writer_plans") else {
            return;
        };
        let mut client = url.connect().unwrap();
        WriteStatements::prepare(&mut client).unwrap();
        for (sql, args) in [(PREFETCH, "'{}'"), (PAYMENT_BY_HASH, "'\\x00'")] {
            let plan = cached_plan(&mut client, sql, args);
            assert!(!plan.contains("Seq Scan"), "{sql}:\n{plan}");
        }
    }

    #[test]
    fn the_in_flight_fetch_reads_its_index_whatever_the_statistics() {
        let Some(url) = database("reader_plans") else {
            return;
        };
        let mut client = url.connect().unwrap();
        ReadStatements::prepare(&mut client).unwrap();
        for (sql, args) in [(INFLIGHT, ""), (ATTEMPTS_OF, "'{}'")] {
            let plan = cached_plan(&mut client, sql, args);
            assert!(!plan.contains("Seq Scan"), "{sql}:\n{plan}");
        }
    }
}
