//! Reads in one REPEATABLE READ, read-only transaction (a consistent snapshot), through
//! SQL's indexes: the primary key for pages, (created_ns, seq) for date windows, the
//! `unresolved` table for the in-flight fetch, the counters table for counts.

use std::collections::BTreeMap;

use postgres::{Client, IsolationLevel, Transaction};

use super::error::{is_connection_lost, is_retryable, storage};
use super::payments::ReadStatements;
use super::rows::{self, from_sql, status_from_sql, to_sql, PaymentRow};
use crate::error::{Error, Result};
use crate::model::{Payment, PaymentHash, PaymentStatus, Query};
use crate::payments::engine::Snapshot;
use crate::payments::integrity::{check_counters, violation, IntegrityReport};
use crate::payments::query::{has_window, window_ns, Page, PaymentCounts, QueryResponse};

/// Payments decoded per round trip by the integrity check.
const CHECK_CHUNK: i64 = 1000;

/// A reader connection with its prepared statements.
pub struct ReaderConn {
    pub client: Client,
    pub statements: ReadStatements,
}

/// What went wrong with a read, for the engine's retry loop.
pub enum ReadFailure {
    /// Serialization failure, or the connection broke: the read may run again (on a new
    /// connection for the latter).
    Retry(Error, bool),
    Fail(Error),
}

/// Runs `f` over a snapshot.
pub fn run(
    conn: &mut ReaderConn,
    f: &mut dyn FnMut(&mut dyn Snapshot) -> Result<()>,
) -> std::result::Result<(), ReadFailure> {
    let lost = std::cell::Cell::new(None);
    let begin = conn
        .client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start();
    let mut tx = begin.map_err(|e| classify(&e, "read: begin"))?;
    let mut snapshot = PgSnapshot {
        tx: &mut tx,
        statements: &conn.statements,
        failure: &lost,
    };
    if let Err(e) = f(&mut snapshot) {
        return Err(match lost.take() {
            Some(reconnect) => ReadFailure::Retry(e, reconnect),
            None => ReadFailure::Fail(e),
        });
    }
    tx.commit().map_err(|e| classify(&e, "read: end"))
}

fn classify(e: &postgres::Error, what: &str) -> ReadFailure {
    let error = storage(what, e);
    if is_connection_lost(e) {
        ReadFailure::Retry(error, true)
    } else if is_retryable(e) {
        ReadFailure::Retry(error, false)
    } else {
        ReadFailure::Fail(error)
    }
}

struct PgSnapshot<'t, 'c> {
    tx: &'t mut Transaction<'c>,
    statements: &'t ReadStatements,
    /// Set when a statement failed in a way a retry can mend (true: on a new connection).
    failure: &'t std::cell::Cell<Option<bool>>,
}

type Param<'a> = &'a (dyn postgres::types::ToSql + Sync);

impl PgSnapshot<'_, '_> {
    fn query(
        &mut self,
        statement: &postgres::Statement,
        params: &[Param<'_>],
        what: &str,
    ) -> Result<Vec<postgres::Row>> {
        self.tx.query(statement, params).map_err(|e| {
            if is_connection_lost(&e) {
                self.failure.set(Some(true));
            } else if is_retryable(&e) {
                self.failure.set(Some(false));
            }
            storage(what, &e)
        })
    }

    /// Completes payment rows with their attempts, keeping the rows' order.
    fn with_attempts(
        &mut self,
        payments: Vec<PaymentRow>,
        omit_hops: bool,
    ) -> Result<Vec<Payment>> {
        if payments.is_empty() {
            return Ok(Vec::new());
        }
        let seqs: Vec<i64> = payments.iter().map(|p| to_sql(p.seq)).collect();
        let rows = self.query(
            &self.statements.attempts_of,
            &[&seqs],
            "read: load attempts",
        )?;
        let mut by_seq: BTreeMap<u64, PaymentRow> =
            payments.into_iter().map(|p| (p.seq, p)).collect();
        for row in &rows {
            let seq = from_sql(row.get(0));
            if let Some(p) = by_seq.get_mut(&seq) {
                p.add_attempt(row, 0)?;
            }
        }
        seqs.iter()
            .filter_map(|s| by_seq.remove(&from_sql(*s)))
            .map(|p| p.build(omit_hops))
            .collect()
    }
}

impl Snapshot for PgSnapshot<'_, '_> {
    fn epoch(&mut self) -> Result<u64> {
        let rows = self.query(&self.statements.meta, &[&"epoch"], "read: the commit epoch")?;
        Ok(rows.first().map_or(0, |r| from_sql(r.get(0))))
    }

    fn payment(&mut self, hash: &PaymentHash) -> Result<Option<Payment>> {
        let rows = self.query(
            &self.statements.payment_by_hash,
            &[&hash.as_slice()],
            "read: fetch a payment",
        )?;
        Ok(rows::payments_from_joined(&rows, false)?.pop())
    }

    fn inflight(&mut self) -> Result<Vec<Payment>> {
        let rows = self.query(
            &self.statements.inflight,
            &[],
            "read: fetch in-flight payments",
        )?;
        rows::payments_from_joined(&rows, false)
    }

    fn query(&mut self, q: &Query) -> Result<QueryResponse> {
        let mut page = Page::new(q);
        let limit = i64::try_from(page.max()).unwrap_or(i64::MAX);
        // Backwards, the statements take the highest sequence number wanted.
        let offset = match (q.reversed, q.index_offset) {
            (true, 0) => i64::MAX,
            (true, off) => to_sql(off) - 1,
            (false, off) => to_sql(off),
        };
        let status = (!q.include_incomplete).then_some(PaymentStatus::Succeeded as i16);
        let rows = if has_window(q) {
            let (start, end) = window_ns(q);
            let st = self.statements;
            let which = if q.reversed {
                &st.window_backward
            } else {
                &st.window_forward
            };
            self.query(
                which,
                &[&offset, &limit, &status, &start, &end],
                "read: a page",
            )?
        } else {
            let st = self.statements;
            let which = if q.reversed {
                &st.page_backward
            } else {
                &st.page_forward
            };
            self.query(which, &[&offset, &limit, &status], "read: a page")?
        };
        let payments = rows
            .iter()
            .map(|r| PaymentRow::read(r, 0))
            .collect::<Result<Vec<_>>>()?;
        for p in self.with_attempts(payments, q.omit_hops)? {
            page.offer(p);
        }
        let total = if q.count_total {
            self.counts()?.total
        } else {
            0
        };
        Ok(page.finish(total))
    }

    fn counts(&mut self) -> Result<PaymentCounts> {
        let rows = self.query(&self.statements.counters, &[], "read: payment counts")?;
        let mut c = [0u64; 5];
        for row in &rows {
            let status = status_from_sql(row.get(0))?;
            c[status as usize] = u64::try_from(row.get::<_, i64>(1))
                .map_err(|_| Error::corrupt(format!("{status:?} counter is negative")))?;
        }
        Ok(PaymentCounts::from_statuses(
            c[PaymentStatus::Initiated as usize],
            c[PaymentStatus::InFlight as usize],
            c[PaymentStatus::Succeeded as usize],
            c[PaymentStatus::Failed as usize],
        ))
    }

    /// Every payment decodes and derives to its status column; the counters equal the
    /// derived statuses; the next sequence number lies above every payment's; no paid,
    /// deleted hash is live; the in-flight index holds the unresolved payments; every
    /// attempt has its payment. (Duplicate hashes are ruled out by the schema's keys.)
    fn check_integrity(&mut self) -> Result<IntegrityReport> {
        let mut derived = PaymentCounts::default();
        let mut after = -1i64;
        let mut last = None;
        loop {
            let rows = self.query(
                &self.statements.check_chunk,
                &[&after, &CHECK_CHUNK],
                "integrity check: read payments",
            )?;
            let Some(tail) = rows.last() else { break };
            after = tail.get(0);
            let mut stored = BTreeMap::new();
            let mut payments = Vec::with_capacity(rows.len());
            for row in &rows {
                let p = PaymentRow::read(row, 0)?;
                stored.insert(p.seq, status_from_sql(row.get(4))?);
                payments.push(p);
            }
            for p in self.with_attempts(payments, false)? {
                let column = stored.get(&p.sequence_num).copied();
                if column != Some(p.status) {
                    return Err(violation(format!(
                        "payment {} is stored as {column:?} but derives to {:?}",
                        p.sequence_num, p.status
                    )));
                }
                derived.add(p.status);
                last = Some(p.sequence_num);
            }
        }
        check_counters(self.counts()?, derived)?;
        let next = self.query(
            &self.statements.meta,
            &[&"next_sequence"],
            "integrity check: meta",
        )?;
        let next = next.first().map_or(1, |r| from_sql(r.get(0)));
        if let Some(last) = last {
            if next <= last {
                return Err(violation(format!(
                    "next sequence {next} is not above {last}"
                )));
            }
        }
        let live = self.query(
            &self.statements.live_tombstones,
            &[],
            "integrity check: tombstones",
        )?;
        if live.first().is_some_and(|r| r.get::<_, bool>(0)) {
            return Err(violation("a paid, deleted hash is live again"));
        }
        let orphans = self.query(
            &self.statements.orphan_attempts,
            &[],
            "integrity check: attempts",
        )?;
        if orphans.first().is_some_and(|r| r.get::<_, bool>(0)) {
            return Err(violation("an attempt's payment is gone"));
        }
        // The in-flight index holds exactly the INITIATED and IN_FLIGHT payments: as
        // many rows as there are, none naming another.
        let unresolved = self.query(
            &self.statements.unresolved_check,
            &[],
            "integrity check: unresolved payments",
        )?;
        let (indexed, stray) = unresolved
            .first()
            .map_or((0, 0), |r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1)));
        let unresolved_payments = derived.initiated + derived.in_flight;
        if stray > 0 || indexed != unresolved_payments {
            return Err(violation(format!(
                "the in-flight index holds {indexed} payments ({stray} not in flight) for \
                 {unresolved_payments} in flight"
            )));
        }
        Ok(IntegrityReport {
            payments: derived.total,
            in_flight_index: indexed,
        })
    }
}
