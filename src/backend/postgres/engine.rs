//! The PostgreSQL payment engine: one writer connection (the group-commit writer's
//! batches, one transaction each), a small pool of reader connections, and the writer
//! lease every call checks and every write transaction fences on.
//!
//! Failures of a write transaction: a serialization failure or deadlock is retried
//! (after the caller's reset hook, so nothing of the failed try survives); a connection
//! lost before COMMIT is retried on a new connection (nothing committed); a connection
//! lost during COMMIT is resolved first: on a new connection the engine finds out whether
//! the transaction committed (its batch number in `meta`), and only then answers (it did)
//! or retries (it did not). An operation is never applied twice, and a committed one is
//! never reported as failed while the database can be reached again within the lease.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::connect::PgUrl;
use super::lease::{Lease, LeaseConfig};
use super::mc::PgMcTable;
use super::payments::{ReadStatements, WriteStatements};
use super::read::{self, ReadFailure, ReaderConn};
use super::schema;
use super::write::{self, Failure, Fence, WriterConn};
use crate::error::{Error, Result};
use crate::missioncontrol::McTable;
use crate::payments::engine::{Engine, PaymentWriter, Snapshot};
use crate::sync::lock;

/// Tries of a transaction that keeps hitting serialization failures or lost connections.
const MAX_TRIES: u32 = 10;
/// Idle reader connections kept.
const MAX_IDLE_READERS: usize = 4;
/// Pause between reconnection attempts.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

/// How an open engine holds the database.
enum Access {
    /// The writer: its lease, shared with mission control, whose writes fence on it too.
    Writer(Arc<Lease>),
    /// A read-only open: no lease, nothing written, every change refused.
    ReadOnly,
}

pub struct PgEngine {
    url: PgUrl,
    /// `None` once closed.
    access: Mutex<Option<Access>>,
    mission_control: Mutex<Option<Arc<PgMcTable>>>,
    holder: String,
    term: i64,
    /// How long the writer keeps trying to learn an interrupted commit's outcome.
    resolve_within: Duration,
    writer: Mutex<Option<WriterConn>>,
    readers: Mutex<Vec<ReaderConn>>,
}

impl PgEngine {
    /// Connects, creates or checks the schema, and takes the writer lease (`LOCKED` while
    /// another writer holds it).
    pub fn open(url: &str) -> Result<PgEngine> {
        let url = PgUrl::parse(url)?;
        let mut client = url.connect()?;
        schema::prepare(&mut client)?;
        let config = LeaseConfig::with_duration(url.lease_duration());
        let lease = Arc::new(Lease::acquire(&url, config)?);
        let statements = WriteStatements::prepare(&mut client)?;
        Ok(PgEngine {
            holder: lease.holder().to_string(),
            term: lease.term(),
            mission_control: Mutex::new(Some(Arc::new(PgMcTable::new(
                url.clone(),
                Some(lease.clone()),
            )))),
            access: Mutex::new(Some(Access::Writer(lease))),
            resolve_within: config.duration,
            writer: Mutex::new(Some(WriterConn {
                client,
                statements,
                next_sequence: None,
                guess_new: true,
                unresolved_shed: 0,
            })),
            readers: Mutex::new(Vec::new()),
            url,
        })
    }

    /// Opens the database for reading only: takes no lease and writes nothing (not even
    /// the schema, which must exist), so it works beside a live writer (a standby or a
    /// tool looking at a node's database). Every change is refused with `READ_ONLY`.
    pub fn open_read_only(url: &str) -> Result<PgEngine> {
        let url = PgUrl::parse(url)?;
        let mut client = url.connect()?;
        schema::check_version(&mut client).map_err(|e| e.at(Path::new(url.target())))?;
        let statements = ReadStatements::prepare(&mut client)?;
        Ok(PgEngine {
            holder: String::new(),
            term: 0,
            mission_control: Mutex::new(Some(Arc::new(PgMcTable::new(url.clone(), None)))),
            access: Mutex::new(Some(Access::ReadOnly)),
            resolve_within: Duration::ZERO,
            writer: Mutex::new(None),
            readers: Mutex::new(vec![ReaderConn { client, statements }]),
            url,
        })
    }

    fn check_lease(&self) -> Result<()> {
        match &*lock(&self.access) {
            Some(Access::Writer(lease)) => lease.check(),
            Some(Access::ReadOnly) => Ok(()),
            None => Err(Error::Closed),
        }
    }

    /// Marks the lease lost and returns the `NOT_LEADER` error every call gets now.
    fn lose_lease(&self, reason: String) -> Error {
        match &*lock(&self.access) {
            Some(Access::Writer(lease)) => {
                lease.mark_lost(reason);
                lease
                    .check()
                    .err()
                    .unwrap_or_else(|| Error::NotLeader("lost".into()))
            }
            Some(Access::ReadOnly) => Error::ReadOnly("write"),
            None => Error::Closed,
        }
    }

    fn connect_writer(&self) -> Result<WriterConn> {
        let mut client = self.url.connect()?;
        let statements = WriteStatements::prepare(&mut client)?;
        Ok(WriterConn {
            client,
            statements,
            next_sequence: None,
            guess_new: true,
            unresolved_shed: 0,
        })
    }

    fn connect_reader(&self) -> Result<ReaderConn> {
        let mut client = self.url.connect()?;
        let statements = ReadStatements::prepare(&mut client)?;
        Ok(ReaderConn { client, statements })
    }

    /// Learns on new connections whether an interrupted commit happened, for as long as
    /// the lease lasts; past that the store stops (`NOT_LEADER`), since it can no longer
    /// tell its callers the truth.
    fn resolve(&self, probe: write::Probe, error: &Error) -> Result<(bool, WriterConn)> {
        let deadline = Instant::now() + self.resolve_within;
        loop {
            let attempt = self
                .connect_writer()
                .and_then(|mut conn| Ok((probe.committed(&mut conn.client)?, conn)));
            match attempt {
                Ok(found) => return Ok(found),
                Err(_) if Instant::now() < deadline => std::thread::sleep(RECONNECT_PAUSE),
                Err(e) => {
                    return Err(self.lose_lease(format!(
                        "a commit's outcome is unknown ({error}) and the database cannot \
                         be reached to learn it ({e})"
                    )))
                }
            }
        }
    }

    fn fenced(&self) -> Error {
        self.lose_lease(format!(
            "the lease of term {} is no longer ours in the database",
            self.term
        ))
    }
}

impl Engine for PgEngine {
    fn read(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn Snapshot) -> Result<()>,
    ) -> Result<()> {
        self.check_lease()?;
        let mut conn = match lock(&self.readers).pop() {
            Some(conn) => conn,
            None => self.connect_reader()?,
        };
        let mut tries = 0;
        loop {
            tries += 1;
            reset();
            match read::run(&mut conn, f) {
                Ok(()) => break,
                Err(ReadFailure::Retry(e, reconnect)) => {
                    if tries >= MAX_TRIES {
                        return Err(e);
                    }
                    if reconnect {
                        conn = self.connect_reader()?;
                    }
                }
                Err(ReadFailure::Fail(e)) => {
                    lock(&self.readers).push(conn);
                    return Err(e);
                }
            }
        }
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        Ok(())
    }

    fn write(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn PaymentWriter) -> Result<()>,
    ) -> Result<()> {
        if self.read_only() {
            return Err(Error::ReadOnly("write"));
        }
        self.check_lease()?;
        let fence = Fence {
            holder: &self.holder,
            term: self.term,
        };
        let mut slot = lock(&self.writer);
        let mut tries = 0;
        loop {
            tries += 1;
            let mut conn = match slot.take() {
                Some(conn) => conn,
                None => self.connect_writer()?,
            };
            reset();
            match write::run(&mut conn, fence, f) {
                Ok(()) => {
                    *slot = Some(conn);
                    return Ok(());
                }
                Err(Failure::Retry(e)) => {
                    *slot = Some(conn);
                    if tries >= MAX_TRIES {
                        return Err(e);
                    }
                }
                Err(Failure::Lost(e)) => {
                    if tries >= MAX_TRIES {
                        return Err(e);
                    }
                    std::thread::sleep(RECONNECT_PAUSE);
                }
                Err(Failure::Unknown(probe, e)) => {
                    let (committed, conn) = self.resolve(probe, &e)?;
                    *slot = Some(conn);
                    if committed {
                        return Ok(());
                    }
                    if tries >= MAX_TRIES {
                        return Err(e);
                    }
                }
                Err(Failure::Fenced) => {
                    *slot = Some(conn);
                    return Err(self.fenced());
                }
                Err(Failure::Fail(e)) => {
                    *slot = Some(conn);
                    return Err(e);
                }
            }
            // A try failed: the lease may have gone meanwhile.
            self.check_lease()?;
        }
    }

    fn mission_control(&self) -> Result<Arc<dyn McTable>> {
        self.check_lease()?;
        let table = lock(&self.mission_control).clone().ok_or(Error::Closed)?;
        Ok(table)
    }

    /// Space freed by deletions is the server's to reclaim (autovacuum).
    fn compact(&self) -> Result<()> {
        self.check_lease()
    }

    /// Gives the lease up at once, so a standby can take over without waiting for it to
    /// expire (unless mission control still holds it: then when that lets go).
    fn close(&self) -> Result<()> {
        lock(&self.writer).take();
        lock(&self.readers).clear();
        lock(&self.mission_control).take();
        match lock(&self.access).take() {
            Some(Access::Writer(lease)) => match Arc::try_unwrap(lease) {
                Ok(mut lease) => lease.release(),
                Err(_) => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn read_only(&self) -> bool {
        matches!(*lock(&self.access), Some(Access::ReadOnly))
    }
}
