//! A write transaction on the writer's connection, in two round trips: the payment
//! logic's reads (a batch's payments fetched at once by one statement, outside the
//! transaction: only the lease holder writes, so committed state is all there is to
//! see), then the transaction itself as one message: BEGIN, the fence, a few multi-row
//! statements, the epoch, COMMIT.
//!
//! Netting: a batch may create a payment and change it, or delete it, before it commits;
//! the buffer keeps the end result per row, so each row is written once and the
//! statements can run in a fixed order (deletes before inserts: a failed payment that is
//! initiated again frees its hash first).
//!
//! The message carries its values as literals (the simple query protocol takes no
//! parameters): integers in decimal, bytes as hex escapes (`E'\\x…'`), which read the
//! same whatever `standard_conforming_strings` says.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use postgres::error::SqlState;
use postgres::Client;

use super::error::{is_connection_lost, is_retryable, storage};
use super::payments::WriteStatements;
use super::rows::{self, from_sql, to_sql, PaymentRow};
use crate::error::{Error, Result};
use crate::model::{FailureReason, Payment, PaymentHash, PaymentStatus};
use crate::payments::engine::{Mutation, PaymentWriter};

/// Why a write transaction did not commit, as the engine's retry loop needs to know it.
pub enum Failure {
    /// A serialization failure or deadlock: rolled back, may run again.
    Retry(Error),
    /// The connection broke before COMMIT was sent: nothing committed, may run again on
    /// a new connection.
    Lost(Error),
    /// The connection broke during COMMIT: it may have committed. `probe` finds out.
    Unknown(Probe, Error),
    /// The lease is no longer ours in the database: rolled back.
    Fenced,
    /// Anything else: rolled back, the error is the answer.
    Fail(Error),
}

/// How to learn, on a new connection, whether a transaction whose COMMIT went unanswered
/// committed: its batch number reached `meta`, or its first deletion or insertion is
/// visible. Only this writer writes, so either tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Epoch(u64),
    Deleted(u64),
    DeletedAttempt(u64, u64),
    Inserted(u64),
    /// The transaction changed nothing.
    Nothing,
}

impl Probe {
    /// Whether the transaction committed, asked on a fresh connection.
    pub fn committed(self, client: &mut Client) -> Result<bool> {
        let what = "write: find out whether the interrupted commit happened";
        let exists = |client: &mut Client,
                      sql: &str,
                      params: &[&(dyn postgres::types::ToSql + Sync)]|
         -> Result<bool> {
            client
                .query_one(sql, params)
                .map(|r| r.get::<_, bool>(0))
                .map_err(|e| storage(what, &e))
        };
        const PAYMENT: &str = "SELECT EXISTS (SELECT 1 FROM payments WHERE seq = $1)";
        const ATTEMPT: &str =
            "SELECT EXISTS (SELECT 1 FROM attempts WHERE seq = $1 AND attempt_id = $2)";
        match self {
            Probe::Epoch(epoch) => {
                let row = client
                    .query_one("SELECT value FROM meta WHERE key = 'epoch'", &[])
                    .map_err(|e| storage(what, &e))?;
                Ok(from_sql(row.get(0)) >= epoch)
            }
            Probe::Deleted(seq) => Ok(!exists(client, PAYMENT, &[&to_sql(seq)])?),
            Probe::DeletedAttempt(seq, id) => {
                Ok(!exists(client, ATTEMPT, &[&to_sql(seq), &to_sql(id)])?)
            }
            Probe::Inserted(seq) => exists(client, PAYMENT, &[&to_sql(seq)]),
            Probe::Nothing => Ok(true),
        }
    }
}

/// The lease a transaction fences on.
#[derive(Clone, Copy)]
pub struct Fence<'a> {
    pub holder: &'a str,
    pub term: i64,
}

/// The writer's connection with its prepared statements.
pub struct WriterConn {
    pub client: Client,
    pub statements: WriteStatements,
    /// The next sequence number as of the last commit (only this writer changes it).
    pub next_sequence: Option<u64>,
}

/// Runs `f` and commits what it applied in one transaction.
pub fn run(
    conn: &mut WriterConn,
    fence: Fence<'_>,
    f: &mut dyn FnMut(&mut dyn PaymentWriter) -> Result<()>,
) -> std::result::Result<(), Failure> {
    let failure = Cell::new(None);
    let mut w = PgWriter {
        client: &mut conn.client,
        statements: &conn.statements,
        known: HashMap::new(),
        pending: Pending::default(),
        next_sequence: conn.next_sequence,
        epoch: None,
        failure: &failure,
    };
    if let Err(e) = f(&mut w) {
        return Err(match failure.take() {
            Some(kind) => kind.with(e),
            None => Failure::Fail(e),
        });
    }
    // Every insert asked for the next sequence number first, so it is known when needed;
    // 0 leaves the stored one.
    let known = w.next_sequence.map(|n| n.max(w.pending.above));
    let (pending, epoch) = (std::mem::take(&mut w.pending), w.epoch);
    let message = pending.transaction(fence, epoch, known.unwrap_or(0));
    match conn.client.batch_execute(&message) {
        Ok(()) => {
            conn.next_sequence = known;
            Ok(())
        }
        // The connection broke: the COMMIT may or may not have happened.
        Err(e) if is_connection_lost(&e) => Err(Failure::Unknown(
            pending.probe(epoch),
            storage("write: commit", &e),
        )),
        Err(e) => {
            // The transaction is aborted: end it, so the connection serves the next one.
            let ended = conn.client.batch_execute("ROLLBACK");
            if e.code() == Some(&SqlState::DIVISION_BY_ZERO) {
                return Err(Failure::Fenced);
            }
            let error = storage("write: commit", &e);
            match ended {
                Err(lost) if is_connection_lost(&lost) => Err(Failure::Lost(error)),
                _ => Err(classify(&e, error)),
            }
        }
    }
}

/// What kind of failure a PostgreSQL error is.
#[derive(Clone, Copy)]
enum Kind {
    Retry,
    Lost,
}

impl Kind {
    fn with(self, e: Error) -> Failure {
        match self {
            Kind::Retry => Failure::Retry(e),
            Kind::Lost => Failure::Lost(e),
        }
    }
}

fn kind(e: &postgres::Error) -> Option<Kind> {
    if is_retryable(e) {
        Some(Kind::Retry)
    } else if is_connection_lost(e) {
        Some(Kind::Lost)
    } else {
        None
    }
}

fn classify(e: &postgres::Error, error: Error) -> Failure {
    match kind(e) {
        Some(k) => k.with(error),
        None => Failure::Fail(error),
    }
}

/// A payment as the batch's prefetch found it.
struct Known {
    payment: Option<Payment>,
    tombstoned: bool,
}

/// The payment logic's view of the write transaction.
struct PgWriter<'t> {
    client: &'t mut Client,
    statements: &'t WriteStatements,
    known: HashMap<PaymentHash, Known>,
    pending: Pending,
    next_sequence: Option<u64>,
    epoch: Option<u64>,
    /// The kind of the last PostgreSQL error, for the retry loop.
    failure: &'t Cell<Option<Kind>>,
}

impl PgWriter<'_> {
    fn fail(&self, what: &str, e: postgres::Error) -> Error {
        self.failure.set(kind(&e));
        storage(what, &e)
    }

    fn exists(
        &mut self,
        which: Which,
        param: &(dyn postgres::types::ToSql + Sync),
    ) -> Result<bool> {
        let statement = match which {
            Which::Hash => &self.statements.hash_taken,
            Which::Tombstone => &self.statements.tombstoned,
            Which::Sequence => &self.statements.sequence_taken,
        };
        match self.client.query_one(statement, &[param]) {
            Ok(row) => Ok(row.get(0)),
            Err(e) => Err(self.fail("write: look a payment up", e)),
        }
    }

    fn load_by_hash(&mut self, hash: &PaymentHash) -> Result<Option<Payment>> {
        let statement = &self.statements.payment_by_hash;
        let rows = match self.client.query(statement, &[&hash.as_slice()]) {
            Ok(rows) => rows,
            Err(e) => return Err(self.fail("write: load a payment", e)),
        };
        Ok(rows::payments_from_joined(&rows, false)?.pop())
    }
}

enum Which {
    Hash,
    Tombstone,
    Sequence,
}

impl PaymentWriter for PgWriter<'_> {
    fn load(&mut self, hash: &PaymentHash) -> Result<Option<Payment>> {
        if let Some(known) = self.known.get(hash) {
            // The stored state, as often as asked: an operation that loaded it and was
            // refused left it unchanged for the next one.
            return Ok(known.payment.clone());
        }
        self.load_by_hash(hash)
    }

    fn hash_taken(&mut self, hash: &PaymentHash) -> Result<bool> {
        if let Some(known) = self.known.get(hash) {
            return Ok(known.payment.is_some());
        }
        self.exists(Which::Hash, &hash.as_slice())
    }

    fn tombstoned(&mut self, hash: &PaymentHash) -> Result<bool> {
        if let Some(known) = self.known.get(hash) {
            return Ok(known.tombstoned);
        }
        self.exists(Which::Tombstone, &hash.as_slice())
    }

    fn sequence_taken(&mut self, seq: u64) -> Result<bool> {
        self.exists(Which::Sequence, &to_sql(seq))
    }

    fn next_sequence(&mut self) -> Result<u64> {
        if let Some(next) = self.next_sequence {
            return Ok(next.max(self.pending.above));
        }
        let row = match self
            .client
            .query_one(&self.statements.meta, &[&"next_sequence"])
        {
            Ok(row) => row,
            Err(e) => return Err(self.fail("write: read the next sequence number", e)),
        };
        let next = from_sql(row.get(0));
        self.next_sequence = Some(next);
        Ok(next.max(self.pending.above))
    }

    fn apply(&mut self, mutation: Mutation) -> Result<()> {
        self.pending.apply(mutation);
        Ok(())
    }

    fn set_epoch(&mut self, epoch: u64) -> Result<()> {
        self.epoch = Some(epoch);
        Ok(())
    }

    fn prefetch(&mut self, hashes: &[PaymentHash]) -> Result<()> {
        let params: Vec<&[u8]> = hashes
            .iter()
            .filter(|h| !self.known.contains_key(*h))
            .map(|h| h.as_slice())
            .collect();
        if params.is_empty() {
            return Ok(());
        }
        let rows = match self.client.query(&self.statements.prefetch, &[&params]) {
            Ok(rows) => rows,
            Err(e) => return Err(self.fail("write: load the batch's payments", e)),
        };
        let mut current: Option<(PaymentHash, bool, Option<PaymentRow>)> = None;
        for row in &rows {
            let hash = rows::hash_from_sql(row.get(9))?;
            if current.as_ref().is_none_or(|(h, _, _)| *h != hash) {
                if let Some(done) = current.take() {
                    self.know(done)?;
                }
                let payment = match row.get::<_, Option<i64>>(0) {
                    Some(_) => Some(PaymentRow::read(row, 0)?),
                    None => None,
                };
                current = Some((hash, row.get(10), payment));
            }
            if let Some((_, _, Some(p))) = current.as_mut() {
                if row.get::<_, Option<i64>>(4).is_some() {
                    p.add_attempt(row, 4)?;
                }
            }
        }
        if let Some(done) = current {
            self.know(done)?;
        }
        Ok(())
    }
}

impl PgWriter<'_> {
    fn know(
        &mut self,
        (hash, tombstoned, row): (PaymentHash, bool, Option<PaymentRow>),
    ) -> Result<()> {
        let payment = row.map(|r| r.build(false)).transpose()?;
        self.known.insert(
            hash,
            Known {
                payment,
                tombstoned,
            },
        );
        Ok(())
    }
}

/// A payment row to insert.
struct NewPayment {
    hash: PaymentHash,
    created_ns: i64,
    value_msat: u64,
    status: PaymentStatus,
    reason: Option<FailureReason>,
    creation: Vec<u8>,
}

/// An attempt row to insert.
#[derive(Default)]
struct NewAttempt {
    info: Vec<u8>,
    settle: Option<Vec<u8>>,
    fail: Option<Vec<u8>>,
}

/// Column changes of a stored row (`None` leaves the column).
#[derive(Default)]
struct PaymentUpdate {
    status: Option<PaymentStatus>,
    reason: Option<FailureReason>,
}

#[derive(Default)]
struct AttemptUpdate {
    settle: Option<Vec<u8>>,
    fail: Option<Vec<u8>>,
}

/// A transaction's mutations, netted per row.
#[derive(Default)]
pub struct Pending {
    inserts: BTreeMap<u64, NewPayment>,
    new_attempts: BTreeMap<(u64, u64), NewAttempt>,
    updates: BTreeMap<u64, PaymentUpdate>,
    attempt_updates: BTreeMap<(u64, u64), AttemptUpdate>,
    deletes: BTreeSet<u64>,
    attempt_deletes: BTreeSet<(u64, u64)>,
    tombstones: Vec<PaymentHash>,
    /// Per-status count changes, indexed by status.
    counts: [i64; 5],
    /// Above every sequence number inserted.
    above: u64,
}

/// Every key of one payment's attempts.
fn attempts_of(seq: u64) -> std::ops::RangeInclusive<(u64, u64)> {
    (seq, 0)..=(seq, u64::MAX)
}

fn drop_range<V>(map: &mut BTreeMap<(u64, u64), V>, seq: u64) {
    let keys: Vec<(u64, u64)> = map.range(attempts_of(seq)).map(|(k, _)| *k).collect();
    for k in keys {
        map.remove(&k);
    }
}

impl Pending {
    fn count(&mut self, status: PaymentStatus, delta: i64) {
        self.counts[status as usize] += delta;
    }

    fn apply(&mut self, m: Mutation) {
        match m {
            Mutation::InsertPayment {
                seq,
                hash,
                created_ns,
                value_msat,
                creation,
            } => {
                self.count(PaymentStatus::Initiated, 1);
                self.above = self.above.max(seq + 1);
                self.inserts.insert(
                    seq,
                    NewPayment {
                        hash,
                        created_ns,
                        value_msat,
                        status: PaymentStatus::Initiated,
                        reason: None,
                        creation,
                    },
                );
            }
            Mutation::InsertAttempt {
                seq,
                attempt_id,
                info,
            } => {
                self.new_attempts.insert(
                    (seq, attempt_id),
                    NewAttempt {
                        info,
                        ..Default::default()
                    },
                );
            }
            Mutation::SetSettle {
                seq,
                attempt_id,
                settle,
            } => match self.new_attempts.get_mut(&(seq, attempt_id)) {
                Some(a) => a.settle = Some(settle),
                None => {
                    self.attempt_updates
                        .entry((seq, attempt_id))
                        .or_default()
                        .settle = Some(settle)
                }
            },
            Mutation::SetFail {
                seq,
                attempt_id,
                fail,
            } => match self.new_attempts.get_mut(&(seq, attempt_id)) {
                Some(a) => a.fail = Some(fail),
                None => {
                    self.attempt_updates
                        .entry((seq, attempt_id))
                        .or_default()
                        .fail = Some(fail)
                }
            },
            Mutation::SetReason { seq, reason } => match self.inserts.get_mut(&seq) {
                Some(p) => p.reason = Some(reason),
                None => self.updates.entry(seq).or_default().reason = Some(reason),
            },
            Mutation::Status { seq, from, to } => {
                self.count(from, -1);
                self.count(to, 1);
                match self.inserts.get_mut(&seq) {
                    Some(p) => p.status = to,
                    None => self.updates.entry(seq).or_default().status = Some(to),
                }
            }
            Mutation::Delete(r) => {
                self.count(r.status, -1);
                if r.tombstone {
                    self.tombstones.push(r.hash);
                }
                drop_range(&mut self.new_attempts, r.seq);
                drop_range(&mut self.attempt_updates, r.seq);
                self.updates.remove(&r.seq);
                if self.inserts.remove(&r.seq).is_none() {
                    // Stored: its attempts go with it (ON DELETE CASCADE).
                    let stale: Vec<(u64, u64)> = self
                        .attempt_deletes
                        .range(attempts_of(r.seq))
                        .copied()
                        .collect();
                    for k in stale {
                        self.attempt_deletes.remove(&k);
                    }
                    self.deletes.insert(r.seq);
                }
            }
            Mutation::DeleteAttempts { seq, attempt_ids } => {
                for id in attempt_ids {
                    self.attempt_updates.remove(&(seq, id));
                    if self.new_attempts.remove(&(seq, id)).is_none() {
                        self.attempt_deletes.insert((seq, id));
                    }
                }
            }
            Mutation::Import(p) => {
                self.count(p.status, 1);
                self.above = self.above.max(p.seq + 1);
                for a in &p.attempts {
                    self.new_attempts.insert(
                        (p.seq, a.attempt_id),
                        NewAttempt {
                            info: a.info.clone(),
                            settle: a.settle.clone(),
                            fail: a.fail.clone(),
                        },
                    );
                }
                self.inserts.insert(
                    p.seq,
                    NewPayment {
                        hash: p.hash,
                        created_ns: p.created_ns,
                        value_msat: p.value_msat,
                        status: p.status,
                        reason: p.failure_reason,
                        creation: p.creation.clone(),
                    },
                );
            }
        }
    }

    fn probe(&self, epoch: Option<u64>) -> Probe {
        if let Some(epoch) = epoch {
            return Probe::Epoch(epoch);
        }
        if let Some(&seq) = self.deletes.first() {
            return Probe::Deleted(seq);
        }
        if let Some(&seq) = self.inserts.keys().next() {
            return Probe::Inserted(seq);
        }
        match self.attempt_deletes.first() {
            Some(&(seq, id)) => Probe::DeletedAttempt(seq, id),
            None => Probe::Nothing,
        }
    }

    /// The transaction as one message: the fence first (a division by zero when the
    /// lease is not ours and live; FOR SHARE keeps a taker waiting until COMMIT), the
    /// rows, the counters, the epoch and the next sequence number.
    fn transaction(&self, fence: Fence<'_>, epoch: Option<u64>, next_sequence: u64) -> String {
        let mut sql = String::with_capacity(256 + self.size_hint());
        let _ = write!(
            sql,
            "BEGIN; SELECT 1 / (SELECT count(*)::int FROM (SELECT 1 FROM lease \
             WHERE name = 'writer' AND holder = {} AND term = {} \
             AND expires_at > clock_timestamp() FOR SHARE) AS fence);",
            text(fence.holder),
            fence.term
        );
        if !self.deletes.is_empty() {
            sql.push_str("DELETE FROM payments WHERE seq IN (");
            list(&mut sql, &self.deletes, |sql, &seq| int(sql, seq));
            sql.push_str(");");
        }
        if !self.attempt_deletes.is_empty() {
            sql.push_str("DELETE FROM attempts WHERE (seq, attempt_id) IN (");
            list(&mut sql, &self.attempt_deletes, |sql, &(seq, id)| {
                sql.push('(');
                int(sql, seq);
                sql.push(',');
                int(sql, id);
                sql.push(')');
            });
            sql.push_str(");");
        }
        if !self.tombstones.is_empty() {
            sql.push_str("INSERT INTO tombstones (hash) VALUES ");
            list(&mut sql, &self.tombstones, |sql, hash| {
                sql.push('(');
                bytes(sql, hash);
                sql.push(')');
            });
            sql.push_str(" ON CONFLICT DO NOTHING;");
        }
        if !self.inserts.is_empty() {
            sql.push_str(
                "INSERT INTO payments (seq, hash, created_ns, value_msat, status, fail_reason, \
                 creation) VALUES ",
            );
            list(&mut sql, &self.inserts, |sql, (&seq, p)| {
                let _ = write!(sql, "({},", to_sql(seq));
                bytes(sql, &p.hash);
                let _ = write!(
                    sql,
                    ",{},{},{},{},",
                    p.created_ns,
                    to_sql(p.value_msat),
                    p.status as i16,
                    p.reason.map_or("NULL".into(), |r| (r as i16).to_string())
                );
                bytes(sql, &p.creation);
                sql.push(')');
            });
            sql.push(';');
        }
        if !self.new_attempts.is_empty() {
            sql.push_str("INSERT INTO attempts (seq, attempt_id, info, settle, fail) VALUES ");
            list(&mut sql, &self.new_attempts, |sql, (&(seq, id), a)| {
                let _ = write!(sql, "({},{},", to_sql(seq), to_sql(id));
                bytes(sql, &a.info);
                sql.push(',');
                maybe_bytes(sql, a.settle.as_deref());
                sql.push(',');
                maybe_bytes(sql, a.fail.as_deref());
                sql.push(')');
            });
            sql.push(';');
        }
        if !self.updates.is_empty() {
            sql.push_str(
                "UPDATE payments p SET status = COALESCE(u.status, p.status), \
                 fail_reason = COALESCE(u.reason, p.fail_reason) FROM (VALUES ",
            );
            list(&mut sql, &self.updates, |sql, (&seq, u)| {
                let _ = write!(
                    sql,
                    "({}::bigint,{}::smallint,{}::smallint)",
                    to_sql(seq),
                    u.status.map_or("NULL".into(), |s| (s as i16).to_string()),
                    u.reason.map_or("NULL".into(), |r| (r as i16).to_string())
                );
            });
            sql.push_str(") AS u(seq, status, reason) WHERE p.seq = u.seq;");
        }
        if !self.attempt_updates.is_empty() {
            sql.push_str(
                "UPDATE attempts a SET settle = COALESCE(u.settle, a.settle), \
                 fail = COALESCE(u.fail, a.fail) FROM (VALUES ",
            );
            list(&mut sql, &self.attempt_updates, |sql, (&(seq, id), u)| {
                let _ = write!(sql, "({}::bigint,{}::bigint,", to_sql(seq), to_sql(id));
                maybe_bytes(sql, u.settle.as_deref());
                sql.push_str("::bytea,");
                maybe_bytes(sql, u.fail.as_deref());
                sql.push_str("::bytea)");
            });
            sql.push_str(
                ") AS u(seq, attempt_id, settle, fail) \
                 WHERE a.seq = u.seq AND a.attempt_id = u.attempt_id;",
            );
        }
        let counts: Vec<(i16, i64)> = PaymentStatus::ALL
            .iter()
            .filter(|s| self.counts[**s as usize] != 0)
            .map(|s| (*s as i16, self.counts[*s as usize]))
            .collect();
        if !counts.is_empty() {
            sql.push_str("INSERT INTO counters (status, count) VALUES ");
            list(&mut sql, &counts, |sql, (status, delta)| {
                let _ = write!(sql, "({status},{delta})");
            });
            sql.push_str(
                " ON CONFLICT (status) DO UPDATE SET count = counters.count + EXCLUDED.count;",
            );
        }
        let _ = write!(
            sql,
            "UPDATE meta SET value = CASE key WHEN 'epoch' THEN {} \
             ELSE GREATEST(value, {}) END WHERE key IN ('epoch', 'next_sequence'); COMMIT;",
            epoch.map_or("value".into(), |e| to_sql(e).to_string()),
            to_sql(next_sequence)
        );
        sql
    }

    /// Bytes the message will carry, roughly (hex doubles them).
    fn size_hint(&self) -> usize {
        let payments: usize = self.inserts.values().map(|p| p.creation.len() + 96).sum();
        let attempts: usize = self
            .new_attempts
            .values()
            .map(|a| a.info.len() + a.settle.as_ref().map_or(0, Vec::len) + 64)
            .sum();
        2 * (payments + attempts) + 64 * (self.updates.len() + self.attempt_updates.len())
    }
}

/// Writes the items separated by commas.
fn list<I: IntoIterator>(sql: &mut String, items: I, mut item: impl FnMut(&mut String, I::Item)) {
    for (i, it) in items.into_iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        item(sql, it);
    }
}

fn int(sql: &mut String, v: u64) {
    let _ = write!(sql, "{}", to_sql(v));
}

/// A bytea literal in hex.
fn bytes(sql: &mut String, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    sql.reserve(6 + 2 * b.len());
    sql.push_str("E'\\\\x");
    for &byte in b {
        sql.push(HEX[usize::from(byte >> 4)] as char);
        sql.push(HEX[usize::from(byte & 15)] as char);
    }
    sql.push('\'');
}

fn maybe_bytes(sql: &mut String, b: Option<&[u8]>) {
    match b {
        Some(b) => bytes(sql, b),
        None => sql.push_str("NULL"),
    }
}

/// A text literal that reads the same whatever `standard_conforming_strings` says.
fn text(s: &str) -> String {
    format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}
