//! A write transaction on the writer's connection, in two round trips: the payment
//! logic's reads (a batch's payments fetched at once by one statement, outside the
//! transaction: only the lease holder writes, so committed state is all there is to
//! see), then the transaction itself: one call of the schema's `apply_batch`, which
//! fences on the lease and writes every row from arrays.
//!
//! Netting: a batch may create a payment and change it, or delete it, before it commits;
//! the buffer keeps the end result per row, so each row is written once and the
//! statements can run in a fixed order (deletes before inserts: a failed payment that is
//! initiated again frees its hash first).

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use postgres::error::SqlState;
use postgres::{Client, Statement};

use super::error::{is_connection_lost, is_retryable, storage};
use super::payments::WriteStatements;
use super::rows::{self, from_sql, to_sql, PaymentRow};
use super::schema;
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
    /// Whether a batch takes the hashes it does not know for new instead of fetching
    /// them (`PgWriter::prefetch`): on until a guess proves wrong, then off until a
    /// fetch finds none of its hashes.
    pub guess_new: bool,
    /// Rows the in-flight table has shed (resolved or deleted payments) since the writer
    /// last vacuumed it (`VACUUM_UNRESOLVED_EVERY`).
    pub unresolved_shed: usize,
}

/// Every payment passes through `unresolved` and leaves it when resolved, so the table
/// is mostly dead rows, which the in-flight fetch would walk (138 ms for 100 in flight
/// after 100,000 payments) until autovacuum comes, a minute later at best. The writer
/// vacuums it itself after this many rows left it: a few milliseconds on a small table,
/// and the fetch then walks at most this many dead rows.
pub const VACUUM_UNRESOLVED_EVERY: usize = 2_000;

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
        guess_new: conn.guess_new,
        taken_for_new: Vec::new(),
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
    let (guess_new, taken_for_new) = (w.guess_new, std::mem::take(&mut w.taken_for_new));
    conn.guess_new = guess_new;
    let statement = &conn.statements.apply_batch;
    let batch = Batch {
        fence,
        epoch,
        next_sequence: known.unwrap_or(0),
        taken_for_new: &taken_for_new,
    };
    match pending.execute(&mut conn.client, statement, batch) {
        Ok(_) => {
            conn.next_sequence = known;
            conn.unresolved_shed += pending.resolved.len() + pending.deletes.len();
            if conn.unresolved_shed >= VACUUM_UNRESOLVED_EVERY {
                conn.unresolved_shed = 0;
                // Housekeeping after the commit: a failure here (a role that does not
                // own the table, a lost connection) costs only the fetch's speed, and
                // the next batch finds a lost connection itself.
                let _ = conn.client.batch_execute("VACUUM unresolved");
            }
            Ok(())
        }
        // The connection broke: the commit may or may not have happened.
        Err(e) if is_connection_lost(&e) => Err(Failure::Unknown(
            pending.probe(epoch),
            storage("write: commit", &e),
        )),
        // The call failed and so rolled back (it was its own transaction).
        Err(e) if e.code().map(SqlState::code) == Some(schema::FENCED) => Err(Failure::Fenced),
        // A hash taken for new was not: the batch runs again and fetches its payments.
        Err(e) if e.code().map(SqlState::code) == Some(schema::NOT_NEW) => {
            conn.guess_new = false;
            Err(Failure::Retry(storage("write: commit", &e)))
        }
        Err(e) => {
            let error = storage("write: commit", &e);
            Err(classify(&e, error))
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

/// What a batch's call carries besides its rows.
struct Batch<'a> {
    fence: Fence<'a>,
    epoch: Option<u64>,
    /// 0 leaves the stored one.
    next_sequence: u64,
    taken_for_new: &'a [PaymentHash],
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
    /// Take hashes the batch does not know for new rather than fetch them.
    guess_new: bool,
    /// The hashes taken for new: `apply_batch` checks them before it writes.
    taken_for_new: Vec<PaymentHash>,
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

    /// Hashes the writer's cache does not hold are mostly new payments: while that
    /// guess holds, they are taken for new without a round trip, and the batch's call
    /// checks them before it writes (a wrong guess runs the batch again, fetching).
    fn prefetch(&mut self, hashes: &[PaymentHash]) -> Result<()> {
        if self.guess_new {
            for hash in hashes {
                if !self.known.contains_key(hash) {
                    self.known.insert(
                        *hash,
                        Known {
                            payment: None,
                            tombstoned: false,
                        },
                    );
                    self.taken_for_new.push(*hash);
                }
            }
            return Ok(());
        }
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
        // None of them was stored: the hashes the writer does not know are new again.
        self.guess_new = self
            .known
            .values()
            .all(|k| k.payment.is_none() && !k.tombstoned);
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
    /// Stored payments whose status became terminal (they leave the in-flight index)...
    resolved: BTreeSet<u64>,
    /// ...or stopped being so (they join it).
    reopened: BTreeSet<u64>,
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
                    None => {
                        self.updates.entry(seq).or_default().status = Some(to);
                        self.index_move(seq, from, to);
                    }
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
                self.resolved.remove(&r.seq);
                self.reopened.remove(&r.seq);
                if self.inserts.remove(&r.seq).is_none() {
                    // Stored: its attempts go with it (apply_batch deletes them).
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

    /// A stored payment's status moved from `from` to `to`: whether it leaves or joins
    /// the in-flight index, netted over the batch.
    fn index_move(&mut self, seq: u64, from: PaymentStatus, to: PaymentStatus) {
        let (moves, back) = match (from.is_terminal(), to.is_terminal()) {
            (false, true) => (&mut self.resolved, &mut self.reopened),
            (true, false) => (&mut self.reopened, &mut self.resolved),
            _ => return,
        };
        // A move that undoes one earlier in the batch cancels it.
        if !back.remove(&seq) {
            moves.insert(seq);
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

    /// The transaction: one call of the schema's `apply_batch` (schema.rs), outside any
    /// explicit transaction, so the call is the transaction (one round trip, plans kept
    /// by the server, values sent as binary arrays). It fences on the lease first (a
    /// row lock held until the commit), then writes the rows, the counters, the epoch
    /// and the next sequence number.
    fn execute(
        &self,
        client: &mut Client,
        statement: &Statement,
        batch: Batch<'_>,
    ) -> std::result::Result<u64, postgres::Error> {
        let Batch {
            fence,
            epoch,
            next_sequence,
            taken_for_new,
        } = batch;
        let taken_for_new: Vec<&[u8]> = taken_for_new.iter().map(|h| h.as_slice()).collect();
        let seqs = |it: &mut dyn Iterator<Item = u64>| it.map(to_sql).collect::<Vec<i64>>();
        let gone = seqs(&mut self.deletes.iter().copied());
        let gone_att_seq = seqs(&mut self.attempt_deletes.iter().map(|k| k.0));
        let gone_att_id = seqs(&mut self.attempt_deletes.iter().map(|k| k.1));
        let tomb: Vec<&[u8]> = self.tombstones.iter().map(|h| h.as_slice()).collect();

        let ins = self.inserts.iter();
        let ins_seq = seqs(&mut self.inserts.keys().copied());
        let ins_hash: Vec<&[u8]> = ins.clone().map(|(_, p)| p.hash.as_slice()).collect();
        let ins_created: Vec<i64> = ins.clone().map(|(_, p)| p.created_ns).collect();
        let ins_value = seqs(&mut ins.clone().map(|(_, p)| p.value_msat));
        let ins_status: Vec<i16> = ins.clone().map(|(_, p)| p.status as i16).collect();
        let ins_reason: Vec<Option<i16>> = ins
            .clone()
            .map(|(_, p)| p.reason.map(|r| r as i16))
            .collect();
        let ins_creation: Vec<&[u8]> = ins.map(|(_, p)| p.creation.as_slice()).collect();

        let att = self.new_attempts.iter();
        let att_seq = seqs(&mut self.new_attempts.keys().map(|k| k.0));
        let att_id = seqs(&mut self.new_attempts.keys().map(|k| k.1));
        let att_info: Vec<&[u8]> = att.clone().map(|(_, a)| a.info.as_slice()).collect();
        let att_settle: Vec<Option<&[u8]>> =
            att.clone().map(|(_, a)| a.settle.as_deref()).collect();
        let att_fail: Vec<Option<&[u8]>> = att.map(|(_, a)| a.fail.as_deref()).collect();

        let upd_seq = seqs(&mut self.updates.keys().copied());
        let upd_status: Vec<Option<i16>> = self
            .updates
            .values()
            .map(|u| u.status.map(|s| s as i16))
            .collect();
        let upd_reason: Vec<Option<i16>> = self
            .updates
            .values()
            .map(|u| u.reason.map(|r| r as i16))
            .collect();

        let aupd_seq = seqs(&mut self.attempt_updates.keys().map(|k| k.0));
        let aupd_id = seqs(&mut self.attempt_updates.keys().map(|k| k.1));
        let aupd_settle: Vec<Option<&[u8]>> = self
            .attempt_updates
            .values()
            .map(|u| u.settle.as_deref())
            .collect();
        let aupd_fail: Vec<Option<&[u8]>> = self
            .attempt_updates
            .values()
            .map(|u| u.fail.as_deref())
            .collect();

        // The in-flight index: new payments not yet resolved, and stored ones whose
        // status crossed between unresolved and resolved.
        let unres_add = seqs(
            &mut self
                .inserts
                .iter()
                .filter(|(_, p)| !p.status.is_terminal())
                .map(|(&seq, _)| seq)
                .chain(self.reopened.iter().copied()),
        );
        let unres_del = seqs(&mut self.resolved.iter().copied());

        let (cnt_status, cnt_delta): (Vec<i16>, Vec<i64>) = PaymentStatus::ALL
            .iter()
            .filter(|s| self.counts[**s as usize] != 0)
            .map(|s| (*s as i16, self.counts[*s as usize]))
            .unzip();

        client.execute(
            statement,
            &[
                &fence.holder,
                &fence.term,
                &epoch.map(to_sql),
                &to_sql(next_sequence),
                &gone,
                &gone_att_seq,
                &gone_att_id,
                &tomb,
                &ins_seq,
                &ins_hash,
                &ins_created,
                &ins_value,
                &ins_status,
                &ins_reason,
                &ins_creation,
                &att_seq,
                &att_id,
                &att_info,
                &att_settle,
                &att_fail,
                &upd_seq,
                &upd_status,
                &upd_reason,
                &aupd_seq,
                &aupd_id,
                &aupd_settle,
                &aupd_fail,
                &unres_add,
                &unres_del,
                &cnt_status,
                &cnt_delta,
                &taken_for_new,
            ],
        )
    }
}
