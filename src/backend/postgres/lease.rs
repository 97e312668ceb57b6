//! The writer lease (docs/postgres.md, Lease protocol): one row naming the writer
//! (`holder`), its `term` and its expiry by the database's clock.
//!
//! - Opening as writer takes the row when it is free or expired (the term grows by one)
//!   or fails with `LOCKED` naming the holder and the time its lease has left.
//! - A thread renews it on a connection of its own every `renew_every`. Renewal that
//!   does not succeed before the local deadline (the last renewal's send time plus the
//!   lease's duration, so never later than the database's expiry) marks the lease lost:
//!   every later call fails with `NOT_LEADER` until the store is reopened. A renewal
//!   that finds another holder or term marks it lost at once.
//! - Every write transaction fences on the lease (`FENCE`): it locks the row for key
//!   share only if holder, term and expiry are still ours, so a standby's takeover (which
//!   locks the row for update) waits for the write to finish, and the old writer's next
//!   transaction finds no row and changes nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use postgres::{Client, GenericClient};

use super::connect::PgUrl;
use super::error::storage;
use crate::error::{Error, Result};

/// How long a lease lasts without renewal: a standby takes over this long after the
/// writer's last renewal (a crashed writer's payments wait that long).
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(10);

/// The shortest lease a URL may ask for (`lease_duration`): renewed every fifth of it,
/// a shorter one would stop a writer for a pause of a few hundred milliseconds.
pub const MIN_LEASE_DURATION: Duration = Duration::from_secs(1);

/// The longest: a crashed writer's payments wait this long for a standby.
pub const MAX_LEASE_DURATION: Duration = Duration::from_secs(600);

/// The name of the writer's lease row.
const WRITER: &str = "writer";

/// The fence every write transaction runs first, with `$1` = holder and `$2` = term: one
/// row while the lease is ours and live, none otherwise (then roll back and answer
/// `NOT_LEADER`). It can be a statement of its own or be folded into a batch's first
/// statement (the payments engine sends the whole batch as one message).
pub const FENCE: &str = "SELECT term FROM lease \
     WHERE name = 'writer' AND holder = $1 AND term = $2 AND expires_at > clock_timestamp() \
     FOR KEY SHARE";

/// Lease timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseConfig {
    /// How long the lease lasts without renewal.
    pub duration: Duration,
    /// How often it is renewed (a fifth of the duration by default, so four renewals in a
    /// row may fail before the writer stops).
    pub renew_every: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig::with_duration(DEFAULT_LEASE_DURATION)
    }
}

impl LeaseConfig {
    pub fn with_duration(duration: Duration) -> LeaseConfig {
        LeaseConfig {
            duration,
            renew_every: duration / 5,
        }
    }
}

/// What the renewal thread and the callers share.
struct State {
    lost: AtomicBool,
    /// Why the lease was lost (for the `NOT_LEADER` message).
    reason: Mutex<String>,
    /// The local deadline: past it the lease may have expired in the database.
    deadline: Mutex<Instant>,
    stop: Mutex<bool>,
    wake: Condvar,
}

impl State {
    fn lose(&self, reason: String) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if !self.lost.swap(true, Ordering::AcqRel) {
            *r = reason;
        }
    }
}

/// A held writer lease, renewed in the background until `release` or drop.
pub struct Lease {
    holder: String,
    term: i64,
    state: Arc<State>,
    renewer: Option<JoinHandle<()>>,
    url: PgUrl,
}

impl Lease {
    /// Takes the writer lease of the database at `url`, or fails with `LOCKED` while
    /// another holder's lease is live. The schema must exist.
    pub fn acquire(url: &PgUrl, config: LeaseConfig) -> Result<Lease> {
        if config.duration < Duration::from_millis(100) || config.renew_every.is_zero() {
            return Err(Error::invalid("lease duration below 100 ms"));
        }
        let holder = holder_id();
        let mut client = url.connect()?;
        let sent = Instant::now();
        let term = take(&mut client, &holder, config.duration)?;
        let state = Arc::new(State {
            lost: AtomicBool::new(false),
            reason: Mutex::new(String::new()),
            deadline: Mutex::new(sent + config.duration),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let renewer = {
            let (state, url, holder) = (state.clone(), url.clone(), holder.clone());
            std::thread::Builder::new()
                .name("lnpaystore-lease".into())
                .spawn(move || renew_loop(client, &url, &holder, term, config, &state))
                .map_err(|e| Error::Io(format!("start the lease renewal thread: {e}")))?
        };
        Ok(Lease {
            holder,
            term,
            state,
            renewer: Some(renewer),
            url: url.clone(),
        })
    }

    /// This writer's holder id (host, process id and a start time: unique per open).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The term this writer holds (grows by one with every takeover).
    pub fn term(&self) -> i64 {
        self.term
    }

    /// `Ok` while the lease is held; `NOT_LEADER` once it was lost or its local deadline
    /// passed (then for good: the store must be reopened).
    pub fn check(&self) -> Result<()> {
        if !self.state.lost.load(Ordering::Acquire) {
            let deadline = *self
                .state
                .deadline
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if Instant::now() < deadline {
                return Ok(());
            }
            self.state
                .lose("the lease was not renewed before its deadline".into());
        }
        let reason = self
            .state
            .reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Err(Error::NotLeader(reason))
    }

    /// Runs the fence inside a write transaction: `NOT_LEADER` (and the caller rolls
    /// back) unless the lease is still ours in the database.
    pub fn fence(&self, tx: &mut impl GenericClient) -> Result<()> {
        self.check()?;
        let held = tx
            .query_opt(FENCE, &[&self.holder, &self.term])
            .map_err(|e| storage("write: check the lease", &e))?;
        if held.is_none() {
            self.state.lose(format!(
                "the lease of term {} is no longer ours in the database",
                self.term
            ));
            return self.check();
        }
        Ok(())
    }

    /// Marks the lease lost (a write transaction found it taken) without waiting for the
    /// renewal thread to notice.
    pub fn mark_lost(&self, reason: impl Into<String>) {
        self.state.lose(reason.into());
    }

    /// Stops renewing without giving the lease up: what a crashed or paused writer looks
    /// like to the database (for failover tests).
    #[doc(hidden)]
    pub fn stop_renewing(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            *self.state.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
            self.state.wake.notify_all();
            let _ = renewer.join();
        }
    }

    /// Stops renewing and, if the lease is still ours, ends it now so that a standby can
    /// take over at once.
    pub fn release(&mut self) -> Result<()> {
        let Some(renewer) = self.renewer.take() else {
            return Ok(());
        };
        *self.state.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.state.wake.notify_all();
        let _ = renewer.join();
        self.state.lose("the store was closed".into());
        let mut client = self.url.connect_within(Duration::from_secs(2))?;
        client
            .execute(
                "UPDATE lease SET expires_at = clock_timestamp() \
                 WHERE name = $1 AND holder = $2 AND term = $3",
                &[&WRITER, &self.holder, &self.term],
            )
            .map_err(|e| storage("close: release the lease", &e))?;
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

/// Takes the lease row when it is free or expired; `LOCKED` with the holder otherwise.
/// The row lock (`FOR UPDATE`) waits for the old holder's write transactions that hold
/// the fence, so none of them commits after the takeover.
fn take(client: &mut Client, holder: &str, duration: Duration) -> Result<i64> {
    let what = "open: take the writer lease";
    let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    let mut tx = client.transaction().map_err(|e| storage(what, &e))?;
    let current = tx
        .query_opt(
            "SELECT holder, term, \
             (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint \
             FROM lease WHERE name = $1 FOR UPDATE",
            &[&WRITER],
        )
        .map_err(|e| storage(what, &e))?;
    let term = match current {
        None => {
            tx.execute(
                "INSERT INTO lease (name, holder, term, acquired_at, expires_at) \
                 VALUES ($1, $2, 1, clock_timestamp(), \
                         clock_timestamp() + $3::bigint * interval '1 millisecond')",
                &[&WRITER, &holder, &ms],
            )
            .map_err(|e| storage(what, &e))?;
            1
        }
        Some(row) => {
            let (owner, term, left_ms): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
            if left_ms > 0 {
                return Err(Error::Locked(format!(
                    "the database's writer lease is held by {owner} (term {term}) for \
                     another {:.1} s",
                    left_ms as f64 / 1000.0
                )));
            }
            tx.execute(
                "UPDATE lease SET holder = $2, term = $3, acquired_at = clock_timestamp(), \
                 expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond' \
                 WHERE name = $1",
                &[&WRITER, &holder, &(term + 1), &ms],
            )
            .map_err(|e| storage(what, &e))?;
            term + 1
        }
    };
    tx.commit().map_err(|e| storage(what, &e))?;
    Ok(term)
}

/// Extends the lease if holder and term are still ours; `false` when they are not.
fn renew(client: &mut Client, holder: &str, term: i64, duration: Duration) -> Result<bool> {
    let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    let n = client
        .execute(
            "UPDATE lease SET expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond' \
             WHERE name = $1 AND holder = $2 AND term = $3",
            &[&WRITER, &holder, &term, &ms],
        )
        .map_err(|e| storage("lease renewal", &e))?;
    Ok(n == 1)
}

fn renew_loop(
    client: Client,
    url: &PgUrl,
    holder: &str,
    term: i64,
    config: LeaseConfig,
    state: &State,
) {
    let mut client = Some(client);
    let mut wait = config.renew_every;
    loop {
        {
            let stop = state.stop.lock().unwrap_or_else(|p| p.into_inner());
            let (stop, _) = state
                .wake
                .wait_timeout_while(stop, wait, |stop| !*stop)
                .unwrap_or_else(|p| p.into_inner());
            if *stop {
                return;
            }
        }
        if state.lost.load(Ordering::Acquire) {
            return;
        }
        let deadline = *state.deadline.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if now >= deadline {
            state.lose("the lease was not renewed before its deadline".into());
            return;
        }
        let sent = now;
        let attempt = match client.as_mut() {
            Some(c) => renew(c, holder, term, config.duration),
            None => url.connect_within(deadline - now).and_then(|mut c| {
                // A short statement timeout: a renewal that waits past the deadline
                // is no use.
                let _ = c.batch_execute("SET statement_timeout = '2s'");
                let r = renew(&mut c, holder, term, config.duration);
                client = Some(c);
                r
            }),
        };
        match attempt {
            Ok(true) => {
                *state.deadline.lock().unwrap_or_else(|p| p.into_inner()) = sent + config.duration;
                wait = config.renew_every;
            }
            Ok(false) => {
                state.lose(format!(
                    "another writer took the lease over (our term {term} ended)"
                ));
                return;
            }
            Err(_) => {
                // Try again soon on a new connection, until the deadline.
                client = None;
                wait = (config.renew_every / 4).max(Duration::from_millis(50));
            }
        }
    }
}

/// host/pid/start time in nanoseconds: unique per open, and says where the writer is.
fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let started = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{host}/{}/{started:x}", std::process::id())
}
