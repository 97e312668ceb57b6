//! A namespace's handle: `add_result` enqueues; one flusher thread stores the queue once
//! per flush interval and sleeps on a condition variable, without a timer, while the
//! queue is empty.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::namespaces::Namespaces;
use super::persisted::Persisted;
use super::table::{check_namespace, McTable};
use crate::codec;
use crate::error::{Error, Result};
use crate::model::{check_operation_size, McResult};
use crate::sync::lock;

/// Per-namespace options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McOptions {
    /// Most results kept; the oldest (by time of reply) are evicted. 0 = unlimited.
    pub max_records: u32,
    /// How long queued results wait before the flusher stores them in one transaction.
    pub flush_interval: Duration,
}

/// lnd's defaults.
pub const DEFAULT_MC_MAX_RECORDS: u32 = 1000;
pub const DEFAULT_MC_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

impl Default for McOptions {
    fn default() -> Self {
        McOptions {
            max_records: DEFAULT_MC_MAX_RECORDS,
            flush_interval: DEFAULT_MC_FLUSH_INTERVAL,
        }
    }
}

/// Counters for observability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct McStats {
    /// Results waiting for the next flush.
    pub queued: u64,
    /// Results in the store now.
    pub stored: u64,
    /// Transactions committed by flushes (the flusher's, `flush` and `close`).
    pub flushes: u64,
    /// Times the flusher thread woke up.
    pub wakeups: u64,
    /// Results removed to respect `max_records` (including queued ones older than
    /// everything kept, which are never written, and the trim at open).
    pub evicted: u64,
    /// Undecodable entries deleted.
    pub corrupted_removed: u64,
}

#[derive(Default)]
struct Queue {
    results: Vec<McResult>,
    closing: bool,
}

#[derive(Default)]
struct Counters {
    /// A copy of the key set's size, so that `stats` never waits for a flush's commit
    /// (the key set is locked across it).
    stored: AtomicU64,
    flushes: AtomicU64,
    wakeups: AtomicU64,
    evicted: AtomicU64,
    corrupted_removed: AtomicU64,
}

/// State shared by a handle, its flusher thread and the store's namespace registry.
pub(crate) struct Shared {
    name: String,
    options: McOptions,
    table: Arc<dyn McTable>,
    queue: Mutex<Queue>,
    queued: Condvar,
    /// Held by flushes, `fetch_all` and `clear`: the key set has one writer at a time.
    persisted: Mutex<Persisted>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    counters: Counters,
    namespaces: Weak<Namespaces>,
}

impl Shared {
    fn check_open(&self) -> Result<()> {
        match lock(&self.queue).closing {
            true => Err(Error::Closed),
            false => Ok(()),
        }
    }

    /// `what`: the refused call's name, for a read-only store's error.
    fn check_writable(&self, what: &'static str) -> Result<()> {
        self.check_open()?;
        match self.table.read_only() {
            true => Err(Error::ReadOnly(what)),
            false => Ok(()),
        }
    }

    /// Stores what is queued now, in one transaction. On failure the results go back
    /// to the front of the queue for the next flush.
    fn flush_queued(&self) -> Result<()> {
        let mut persisted = lock(&self.persisted);
        let batch = std::mem::take(&mut lock(&self.queue).results);
        if batch.is_empty() {
            return Ok(());
        }
        let diff = persisted.diff(&batch, self.options.max_records);
        match persisted.apply(self.table.as_ref(), &diff) {
            Ok(committed) => {
                let c = &self.counters;
                c.flushes.fetch_add(u64::from(committed), Ordering::Relaxed);
                c.evicted
                    .fetch_add(diff.evict.len() as u64 + diff.dropped, Ordering::Relaxed);
                c.stored.store(persisted.len(), Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                let mut queue = lock(&self.queue);
                let later = std::mem::replace(&mut queue.results, batch);
                queue.results.extend(later);
                Err(e)
            }
        }
    }

    /// The flusher: sleeps until something is queued, waits out the interval, stores.
    fn run(&self) {
        let count_wakeup = || self.counters.wakeups.fetch_add(1, Ordering::Relaxed);
        loop {
            let mut queue = lock(&self.queue);
            while queue.results.is_empty() && !queue.closing {
                queue = self.queued.wait(queue).unwrap_or_else(|e| e.into_inner());
                count_wakeup();
            }
            let deadline = Instant::now() + self.options.flush_interval;
            while !queue.closing {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                queue = self
                    .queued
                    .wait_timeout(queue, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                count_wakeup();
            }
            if queue.closing {
                return; // `close` stores the rest after joining this thread
            }
            drop(queue);
            // A failed flush keeps its results queued for the next interval; a panic
            // must not kill the thread that every later result depends on.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| self.flush_queued()));
        }
    }

    /// Stops the flusher, stores what is queued and frees the namespace. Idempotent.
    pub(crate) fn close(&self) -> Result<()> {
        {
            let mut queue = lock(&self.queue);
            if queue.closing {
                return Ok(());
            }
            queue.closing = true;
        }
        self.queued.notify_all();
        if let Some(flusher) = lock(&self.flusher).take() {
            let _ = flusher.join();
        }
        let result = self.flush_queued();
        if let Some(namespaces) = self.namespaces.upgrade() {
            namespaces.release(&self.name);
        }
        result
    }
}

/// A handle on one mission-control namespace. Thread-safe; closing it (or dropping it,
/// or closing its store) stores everything queued.
pub struct MissionControl {
    shared: Arc<Shared>,
}

impl MissionControl {
    /// Opens `name` on a store's results table (called by `Store::open_mission_control`).
    pub(crate) fn open(
        table: Arc<dyn McTable>,
        namespaces: &Arc<Namespaces>,
        name: &str,
        options: McOptions,
    ) -> Result<MissionControl> {
        check_namespace(name)?;
        let shared = namespaces.claim(name, || {
            let (mut persisted, removed) = Persisted::load(table.as_ref(), name)?;
            // A namespace reopened with a lower limit is trimmed now, not at the next flush
            // (a read-only store shows what it holds).
            let trim = match table.read_only() {
                true => Default::default(),
                false => persisted.diff(&[], options.max_records),
            };
            persisted.apply(table.as_ref(), &trim)?;
            let counters = Counters::default();
            counters
                .evicted
                .store(trim.evict.len() as u64, Ordering::Relaxed);
            counters.stored.store(persisted.len(), Ordering::Relaxed);
            counters.corrupted_removed.store(removed, Ordering::Relaxed);
            let shared = Arc::new(Shared {
                name: name.to_string(),
                options,
                table,
                queue: Mutex::default(),
                queued: Condvar::new(),
                persisted: Mutex::new(persisted),
                flusher: Mutex::default(),
                counters,
                namespaces: Arc::downgrade(namespaces),
            });
            let runner = shared.clone();
            let flusher = thread::Builder::new()
                .name(format!("lnpaystore-mc-{name}"))
                .spawn(move || runner.run())
                .map_err(|e| Error::Io(format!("cannot start the flusher thread: {e}")))?;
            *lock(&shared.flusher) = Some(flusher);
            Ok(shared)
        })?;
        Ok(MissionControl { shared })
    }

    pub fn namespace(&self) -> &str {
        &self.shared.name
    }

    /// Queues a result for the next flush; never waits for the disk.
    pub fn add_result(&self, result: McResult) -> Result<()> {
        self.shared.check_writable("add_result")?;
        result.validate()?;
        let stored = codec::encode_mc_result(&result).len();
        check_operation_size(&format!("result {}", result.id), stored)?;
        let mut queue = lock(&self.shared.queue);
        if queue.closing {
            return Err(Error::Closed);
        }
        queue.results.push(result);
        // Only the first result of an interval wakes the flusher: it then waits out the
        // interval without being woken again.
        if queue.results.len() == 1 {
            self.shared.queued.notify_one();
        }
        Ok(())
    }

    /// Stores what is queued now.
    pub fn flush(&self) -> Result<()> {
        self.shared.check_open()?;
        self.shared.flush_queued()
    }

    /// Every stored result in key (time of reply) order; queued results are not included
    /// until flushed. Undecodable entries are deleted and counted.
    pub fn fetch_all(&self) -> Result<Vec<McResult>> {
        self.shared.check_open()?;
        let mut persisted = lock(&self.shared.persisted);
        let (results, removed) = persisted.fetch_all(self.shared.table.as_ref())?;
        let c = &self.shared.counters;
        c.corrupted_removed.fetch_add(removed, Ordering::Relaxed);
        c.stored.store(persisted.len(), Ordering::Relaxed);
        Ok(results)
    }

    /// Removes every stored result of the namespace and drops what is queued.
    pub fn clear(&self) -> Result<()> {
        self.shared.check_writable("clear")?;
        let mut persisted = lock(&self.shared.persisted);
        lock(&self.shared.queue).results.clear();
        persisted.clear(self.shared.table.as_ref())?;
        self.shared.counters.stored.store(0, Ordering::Relaxed);
        Ok(())
    }

    pub fn stats(&self) -> Result<McStats> {
        self.shared.check_open()?;
        let c = &self.shared.counters;
        Ok(McStats {
            queued: lock(&self.shared.queue).results.len() as u64,
            stored: c.stored.load(Ordering::Relaxed),
            flushes: c.flushes.load(Ordering::Relaxed),
            wakeups: c.wakeups.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            corrupted_removed: c.corrupted_removed.load(Ordering::Relaxed),
        })
    }

    /// Stores everything queued and stops the flusher. Idempotent; later calls on the
    /// handle fail with `Closed`.
    pub fn close(&self) -> Result<()> {
        self.shared.close()
    }
}

impl Drop for MissionControl {
    fn drop(&mut self) {
        // An implicit close has no one to report to; `close` returns the error.
        let _ = self.shared.close();
    }
}
