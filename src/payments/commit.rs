//! Group commit: concurrent write operations coalesce into few durable commits.
//!
//! One writer thread drains a queue. While it commits one batch, new operations queue up
//! and form the next, so batches grow with load and a lone caller never waits for
//! company. Each caller waits on its own slot and is woken only when its batch has
//! committed (no notify-all). Operations run in queue order inside the batch's
//! transaction, so operations on the same payment hash are serialized.
//!
//! Isolation: an operation that returns a domain error has written nothing (see `ops`),
//! so it cannot affect its batch. A storage error aborts the transaction; every operation
//! of that batch is then retried alone, so only the culprit fails.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::backend::schema::{put_u64, KEY_EPOCH, META};
use crate::backend::{Backend, WriteTx};
use crate::error::{Error, Result};
use crate::model::Payment;
use crate::sync::lock;
use crate::tower::Registry;

/// One operation: a re-runnable transaction step returning the payment's new state
/// (the event subscribers receive), or `None` when there is nothing to announce.
pub type Op = Box<dyn FnMut(&mut dyn WriteTx) -> Result<Option<Payment>> + Send>;

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
    slot: Arc<Slot>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    shutdown: bool,
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
    arrived: Condvar,
    backend: Arc<dyn Backend>,
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
    /// store; each batch writes the next one so subscribers can place a snapshot exactly.
    pub fn start(
        backend: Arc<dyn Backend>,
        registry: Arc<Registry>,
        max_batch: usize,
        max_delay: Duration,
        epoch: u64,
    ) -> Result<Committer> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            arrived: Condvar::new(),
            backend,
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
            .spawn(move || writer_shared.run(epoch))
            .map_err(|e| Error::Io(format!("cannot start the writer thread: {e}")))?;
        Ok(Committer {
            shared,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues `op` and waits until its batch committed (or it failed).
    pub fn submit(&self, op: Op) -> Result<Option<Arc<Payment>>> {
        let slot = Arc::new(Slot::default());
        {
            let mut q = lock(&self.shared.queue);
            if q.shutdown {
                return Err(Error::Closed);
            }
            q.jobs.push(Job {
                op,
                slot: slot.clone(),
            });
            // The writer waits for the first job, or for a full batch while it lingers.
            if q.jobs.len() == 1 || q.jobs.len() >= self.shared.max_batch {
                self.shared.arrived.notify_one();
            }
        }
        slot.wait()
    }

    pub fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.shared.commits.load(Ordering::Relaxed),
            operations: self.shared.operations.load(Ordering::Relaxed),
            max_batch: self.shared.max_batch_seen.load(Ordering::Relaxed),
        }
    }

    /// Finishes the queued operations, then stops the writer. Later submits get `Closed`.
    pub fn shutdown(&self) {
        lock(&self.shared.queue).shutdown = true;
        self.shared.arrived.notify_one();
        if let Some(handle) = lock(&self.writer).take() {
            // A writer that panicked has nothing left to clean up.
            let _ = handle.join();
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    fn next_batch(&self) -> Option<Vec<Job>> {
        let mut q = lock(&self.queue);
        while q.jobs.is_empty() {
            if q.shutdown {
                return None;
            }
            q = self.arrived.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        if !self.max_delay.is_zero() {
            // Linger for company, but never past the delay or a full batch.
            let deadline = Instant::now() + self.max_delay;
            while q.jobs.len() < self.max_batch && !q.shutdown {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                q = self
                    .arrived
                    .wait_timeout(q, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        let n = q.jobs.len().min(self.max_batch);
        Some(q.jobs.drain(..n).collect())
    }

    fn run(&self, mut epoch: u64) {
        while let Some(batch) = self.next_batch() {
            self.max_batch_seen
                .fetch_max(batch.len() as u64, Ordering::Relaxed);
            self.commit(batch, &mut epoch);
        }
    }

    /// Runs a batch in one transaction; on a storage error, retries each job alone.
    fn commit(&self, mut batch: Vec<Job>, epoch: &mut u64) {
        let next_epoch = *epoch + 1;
        let n = batch.len();
        let outcomes: RefCell<Vec<Option<Result<Option<Payment>>>>> = RefCell::new(Vec::new());
        let result = self.backend.update(
            &mut || {
                let mut o = outcomes.borrow_mut();
                o.clear();
                o.resize_with(n, || None);
            },
            &mut |tx| {
                for (i, job) in batch.iter_mut().enumerate() {
                    // A panicking operation must not take the writer (and every waiting
                    // caller) down: it becomes an error that aborts and splits the batch.
                    let run = catch_unwind(AssertUnwindSafe(|| (job.op)(tx)));
                    let run =
                        run.unwrap_or_else(|_| Err(Error::Internal("operation panicked".into())));
                    match run {
                        Err(e) if e.is_storage() => return Err(e),
                        outcome => outcomes.borrow_mut()[i] = Some(outcome),
                    }
                }
                put_u64(tx, META, KEY_EPOCH, next_epoch)
            },
        );
        let outcomes = outcomes.into_inner();
        match result {
            Ok(()) => {
                *epoch = next_epoch;
                self.commits.fetch_add(1, Ordering::Relaxed);
                self.operations
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                let outcomes: Vec<Outcome> = outcomes
                    .into_iter()
                    .map(|o| {
                        o.unwrap_or_else(|| Err(Error::Internal("operation did not run".into())))
                            .map(|p| p.map(Arc::new))
                    })
                    .collect();
                // Subscribers hear of the commit before any caller returns.
                let events: Vec<Arc<Payment>> = outcomes
                    .iter()
                    .filter_map(|o| o.as_ref().ok().and_then(|p| p.clone()))
                    .collect();
                self.registry.publish(next_epoch, &events);
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    job.slot.complete(outcome);
                }
            }
            Err(e) if batch.len() == 1 => {
                self.operations.fetch_add(1, Ordering::Relaxed);
                if let Some(job) = batch.pop() {
                    job.slot.complete(Err(e));
                }
            }
            Err(_) => {
                for job in batch {
                    self.commit(vec![job], epoch);
                }
            }
        }
    }
}
