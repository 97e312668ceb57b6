//! Group commit: concurrent write operations coalesce into few durable commits.
//!
//! One writer thread runs operations in queue order inside one open transaction, so
//! operations on the same payment hash are serialized. The fsync of a commit is left to
//! the engine's sync thread (`Engine::write_deferred`): while the disk works, the
//! writer keeps running newly arrived operations into the next transaction, and commits
//! it once the previous fsync is done (or the batch is full). Batches therefore grow with
//! the disk's latency and the load, and a lone caller never waits for company. (An
//! engine whose commit is durable when it returns, such as a database server, simply
//! lets the batch grow while its commit is in flight.)
//!
//! A caller learns its result only once its batch is durable. Each waits on its own slot
//! and is woken alone (no notify-all). Reads wait the same way (`wait_durable`), so
//! nothing a crash could undo is ever shown.
//!
//! Isolation: an operation that returns a domain error has applied nothing (see `ops`),
//! so it cannot affect its batch. A storage error aborts the transaction; every operation
//! of that batch is then retried alone, so only the culprit fails.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cache::{BatchView, PaymentCache, Staged};
use super::engine::{Engine, PaymentWriter};
use crate::error::{Error, Result};
use crate::model::{Payment, PaymentHash};
use crate::subscriptions::Registry;
use crate::sync::lock;

/// One operation: a re-runnable transaction step returning the payment's new state
/// (the event subscribers receive), or `None` when there is nothing to announce.
/// It reads payments through the writer's cache (`BatchView`), which stages the states it
/// returns.
pub type Op =
    Box<dyn FnMut(&mut dyn PaymentWriter, &mut BatchView) -> Result<Option<Payment>> + Send>;

type Outcome = Result<Option<Arc<Payment>>>;

/// Where the writer leaves one caller's result.
#[derive(Default)]
struct Slot {
    outcome: Mutex<Option<Outcome>>,
    ready: Condvar,
}

impl Slot {
    fn complete(&self, outcome: Outcome) {
        *lock(&self.outcome) = Some(outcome);
        self.ready.notify_one();
    }

    fn wait(&self) -> Outcome {
        let mut guard = lock(&self.outcome);
        loop {
            if let Some(outcome) = guard.take() {
                return outcome;
            }
            guard = self.ready.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
    }
}

struct Job {
    op: Op,
    /// The payment it changes, if one: the engine may fetch a batch's payments at once.
    hash: Option<PaymentHash>,
    slot: Arc<Slot>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// The writer has a batch open (it may be waiting for the previous fsync).
    open: bool,
    shutdown: bool,
}

/// How far commits are durable and answered.
#[derive(Default)]
struct Durable {
    /// Every batch up to this epoch is durable.
    epoch: u64,
    /// Every batch up to this epoch has been answered. Batches are answered in commit
    /// order, so subscribers see each payment's states in order, even when a late
    /// `when_durable` runs its callback on the writer while the sync thread is still
    /// answering an earlier batch.
    answered: u64,
    /// An fsync failed: no later commit can become durable. The error every caller and
    /// reader gets from then on.
    failed: Option<Error>,
}

/// Counters exposed for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitStats {
    /// Durable commits made by the writer.
    pub commits: u64,
    /// Operations committed or answered.
    pub operations: u64,
    /// Largest batch so far.
    pub max_batch: u64,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the writer: an operation arrived, a sync finished, or shutdown.
    arrived: Condvar,
    durable: Mutex<Durable>,
    durable_changed: Condvar,
    /// The last epoch committed (durable or not).
    committed: AtomicU64,
    engine: Arc<dyn Engine>,
    registry: Arc<Registry>,
    max_batch: usize,
    max_delay: Duration,
    commits: AtomicU64,
    operations: AtomicU64,
    max_batch_seen: AtomicU64,
}

pub struct Committer {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    /// Starts the writer thread. `epoch` is the last committed batch number read from the
    /// store; each batch writes the next one so subscribers and readers can place a
    /// snapshot exactly.
    pub fn start(
        engine: Arc<dyn Engine>,
        registry: Arc<Registry>,
        max_batch: usize,
        max_delay: Duration,
        epoch: u64,
    ) -> Result<Committer> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            arrived: Condvar::new(),
            durable: Mutex::new(Durable {
                epoch,
                answered: epoch,
                failed: None,
            }),
            durable_changed: Condvar::new(),
            committed: AtomicU64::new(epoch),
            engine,
            registry,
            max_batch: max_batch.max(1),
            max_delay,
            commits: AtomicU64::new(0),
            operations: AtomicU64::new(0),
            max_batch_seen: AtomicU64::new(0),
        });
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("lnpaystore-writer".into())
            .spawn(move || writer_shared.run())
            .map_err(|e| Error::Io(format!("cannot start the writer thread: {e}")))?;
        Ok(Committer {
            shared,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues `op` (which changes the payment `hash`, if given) and waits until its batch
    /// is durable (or it failed).
    pub fn submit(&self, hash: Option<PaymentHash>, op: Op) -> Result<Option<Arc<Payment>>> {
        let slot = Arc::new(Slot::default());
        {
            let mut q = lock(&self.shared.queue);
            if q.shutdown {
                return Err(Error::Closed);
            }
            q.jobs.push(Job {
                op,
                hash,
                slot: slot.clone(),
            });
            // The writer waits for the first job, or for a full batch while it lingers.
            if q.jobs.len() == 1 || q.jobs.len() >= self.shared.max_batch {
                self.shared.arrived.notify_one();
            }
        }
        slot.wait()
    }

    /// Waits until the batch with this epoch is durable. A read whose snapshot shows
    /// `epoch` calls this before answering.
    pub fn wait_durable(&self, epoch: u64) -> Result<()> {
        let mut d = lock(&self.shared.durable);
        loop {
            if epoch <= d.epoch {
                return Ok(());
            }
            if let Some(e) = &d.failed {
                return Err(e.clone());
            }
            d = self
                .shared
                .durable_changed
                .wait(d)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    pub fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.shared.commits.load(Ordering::Relaxed),
            operations: self.shared.operations.load(Ordering::Relaxed),
            max_batch: self.shared.max_batch_seen.load(Ordering::Relaxed),
        }
    }

    /// Finishes the queued operations, stops the writer and waits until every commit is
    /// durable and answered. Later submits get `Closed`.
    pub fn shutdown(&self) {
        lock(&self.shared.queue).shutdown = true;
        self.shared.arrived.notify_one();
        if let Some(handle) = lock(&self.writer).take() {
            // A writer that panicked has nothing left to clean up.
            let _ = handle.join();
        }
        // An error here was already given to the callers of the failed batch.
        let _ = self.wait_durable(self.shared.committed.load(Ordering::Acquire));
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    /// Waits for the first job of a batch; `None` at shutdown with nothing queued.
    fn first_jobs(&self) -> Option<Vec<Job>> {
        let mut q = lock(&self.queue);
        while q.jobs.is_empty() {
            if q.shutdown {
                return None;
            }
            q = self.arrived.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        let n = q.jobs.len().min(self.max_batch);
        q.open = true;
        Some(q.jobs.drain(..n).collect())
    }

    /// Whether the previous commit's fsync is still running.
    fn sync_pending(&self) -> bool {
        let d = lock(&self.durable);
        d.failed.is_none() && d.epoch < self.committed.load(Ordering::Acquire)
    }

    /// Adds newly arrived jobs to the open batch while it may stay open: until the
    /// previous fsync is done and the linger delay has passed, and short of a full batch
    /// (a full batch still waits for that fsync). Returns false when the batch should be
    /// committed now.
    fn absorb(&self, batch: &mut Vec<Job>, linger_until: Instant) -> bool {
        let mut q = lock(&self.queue);
        loop {
            let room = self.max_batch.saturating_sub(batch.len());
            if room == 0 {
                // Full, but it still waits for the previous fsync: each commit has an
                // fsync of its own (with `max_batch_size = 1`, one per operation), so
                // the batch size bounds how many operations share one.
                if q.shutdown || !self.sync_pending() {
                    q.open = false;
                    return false;
                }
                q = self.arrived.wait(q).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            if !q.jobs.is_empty() {
                let n = q.jobs.len().min(room);
                batch.extend(q.jobs.drain(..n));
                return true;
            }
            let now = Instant::now();
            if q.shutdown || (now >= linger_until && !self.sync_pending()) {
                q.open = false;
                return false;
            }
            q = if now < linger_until {
                self.arrived
                    .wait_timeout(q, linger_until - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            } else {
                self.arrived.wait(q).unwrap_or_else(|e| e.into_inner())
            };
        }
    }

    fn run(self: Arc<Self>) {
        let mut cache = PaymentCache::default();
        while let Some(batch) = self.first_jobs() {
            self.commit(batch, &mut cache, true);
        }
    }

    /// Runs a batch in one transaction, absorbing newly arrived jobs when `grow`; on a
    /// storage error, retries each job alone.
    fn commit(self: &Arc<Self>, mut batch: Vec<Job>, cache: &mut PaymentCache, grow: bool) {
        // Only this thread commits: the last committed epoch cannot move meanwhile.
        let epoch = self.committed.load(Ordering::Acquire) + 1;
        let written = self.write_batch(&mut batch, cache, grow, epoch);
        self.max_batch_seen
            .fetch_max(batch.len() as u64, Ordering::Relaxed);
        match written {
            Ok(written) => self.answer_when_durable(epoch, batch, written, cache),
            Err(e) => self.retry_alone(batch, cache, e),
        }
    }

    /// Writes the batch, and the jobs it absorbs while it may stay open, in one
    /// transaction whose fsync the engine's sync thread does later.
    fn write_batch(
        &self,
        batch: &mut Vec<Job>,
        cache: &mut PaymentCache,
        grow: bool,
        epoch: u64,
    ) -> Result<Written> {
        let linger_until = Instant::now() + self.max_delay;
        let outcomes: RefCell<Vec<Outcome>> = RefCell::new(Vec::new());
        let staged = RefCell::new(None);
        let ticket = self.engine.write_deferred(
            &mut || {
                outcomes.borrow_mut().clear();
                staged.borrow_mut().take();
            },
            &mut |w| {
                let mut view = cache.view();
                loop {
                    run_jobs(batch, &mut outcomes.borrow_mut(), w, &mut view)?;
                    if !grow || !self.absorb(batch, linger_until) {
                        break;
                    }
                }
                w.set_epoch(epoch)?;
                *staged.borrow_mut() = Some(view.into_staged());
                Ok(())
            },
        )?;
        Ok(Written {
            ticket,
            outcomes: outcomes.into_inner(),
            staged: staged.into_inner(),
        })
    }

    /// The batch is committed (visible, perhaps not yet durable): the writer's cache
    /// takes its states, and its callers are answered once the engine reports the
    /// commit durable.
    fn answer_when_durable(
        self: &Arc<Self>,
        epoch: u64,
        batch: Vec<Job>,
        written: Written,
        cache: &mut PaymentCache,
    ) {
        if let Some(staged) = written.staged {
            cache.apply(staged);
        }
        self.committed.store(epoch, Ordering::Release);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.operations
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let done = Delivery {
            epoch,
            slots: batch.into_iter().map(|job| job.slot).collect(),
            outcomes: written.outcomes,
        };
        // Weak: a callback the sync thread still holds must not keep the writer's state
        // alive.
        let shared = Arc::downgrade(self);
        self.engine.when_durable(
            written.ticket,
            Box::new(move |synced| {
                if let Some(shared) = shared.upgrade() {
                    shared.deliver(done, synced);
                }
            }),
        );
    }

    /// A storage error aborted the batch's transaction: each job runs again alone, so
    /// only the culprit fails; a job that was alone gets the error.
    fn retry_alone(self: &Arc<Self>, mut batch: Vec<Job>, cache: &mut PaymentCache, error: Error) {
        if batch.len() == 1 {
            self.operations.fetch_add(1, Ordering::Relaxed);
            if let Some(job) = batch.pop() {
                job.slot.complete(Err(error));
            }
            return;
        }
        for job in batch {
            self.commit(vec![job], cache, false);
        }
    }

    /// Runs once a batch's commit is durable (or failed to become so): records it, tells
    /// subscribers, then wakes each caller.
    fn deliver(&self, done: Delivery, synced: std::result::Result<(), String>) {
        let synced =
            synced.map_err(|e| Error::Io(format!("a commit failed to reach the disk: {e}")));
        {
            let mut d = lock(&self.durable);
            match &synced {
                Ok(()) => d.epoch = d.epoch.max(done.epoch),
                Err(e) => {
                    d.failed.get_or_insert_with(|| e.clone());
                }
            }
        }
        self.durable_changed.notify_all();
        // The writer may be holding the next batch open for this sync: let it commit
        // before the callers are woken, which takes a while. An idle writer sleeps on
        // (a wake-up per sync costs a lone caller's CPU).
        if lock(&self.queue).open {
            self.arrived.notify_one();
        }
        let mut d = lock(&self.durable);
        while d.answered + 1 < done.epoch {
            d = self
                .durable_changed
                .wait(d)
                .unwrap_or_else(|e| e.into_inner());
        }
        drop(d);
        let outcomes: Vec<Outcome> = match synced {
            Ok(()) => {
                let events: Vec<Arc<Payment>> = done
                    .outcomes
                    .iter()
                    .filter_map(|o| o.as_ref().ok().and_then(|p| p.clone()))
                    .collect();
                // Subscribers hear of the commit before any caller returns.
                self.registry.publish(done.epoch, &events);
                done.outcomes
            }
            Err(e) => done.slots.iter().map(|_| Err(e.clone())).collect(),
        };
        lock(&self.durable).answered = done.epoch;
        self.durable_changed.notify_all();
        for (slot, outcome) in done.slots.into_iter().zip(outcomes) {
            slot.complete(outcome);
        }
    }
}

/// A committed batch waiting to be durable.
struct Delivery {
    epoch: u64,
    slots: Vec<Arc<Slot>>,
    outcomes: Vec<Outcome>,
}

/// What a batch's transaction produced.
struct Written {
    /// The engine's handle on the commit's fsync (`None`: durable already).
    ticket: Option<u64>,
    /// One per job, in queue order.
    outcomes: Vec<Outcome>,
    /// The payment states the batch wrote, for the writer's cache.
    staged: Option<Staged>,
}

/// Runs the jobs that have no outcome yet, in order. A domain error is that job's
/// answer; a storage error aborts the transaction.
fn run_jobs(
    jobs: &mut [Job],
    outcomes: &mut Vec<Outcome>,
    w: &mut dyn PaymentWriter,
    view: &mut BatchView<'_>,
) -> Result<()> {
    let done = outcomes.len();
    let unknown: Vec<PaymentHash> = jobs[done..]
        .iter()
        .filter_map(|job| job.hash)
        .filter(|hash| !view.knows(hash))
        .collect();
    if !unknown.is_empty() {
        w.prefetch(&unknown)?;
    }
    for job in &mut jobs[done..] {
        // A panicking operation must not take the writer (and every waiting caller)
        // down: it becomes an error that aborts and splits the batch.
        let run = catch_unwind(AssertUnwindSafe(|| (job.op)(w, view)))
            .unwrap_or_else(|_| Err(Error::Internal("operation panicked".into())));
        match run {
            Err(e) if e.is_storage() => return Err(e),
            Ok(Some(p)) => {
                let p = Arc::new(p);
                view.stage(p.clone());
                outcomes.push(Ok(Some(p)));
            }
            outcome => outcomes.push(outcome.map(|_| None)),
        }
    }
    Ok(())
}
