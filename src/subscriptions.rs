//! Pull-based subscriptions to payment state changes: each subscriber's queue, and the
//! registry the writer publishes committed states to.
//!
//! Exactness without a lock around operations: every batch commit carries an *epoch*
//! (stored in the same transaction). A new subscriber registers first, then reads its
//! snapshot and the snapshot's epoch in one read transaction; events with an epoch at or
//! below it are already in the snapshot and are dropped, later ones are delivered. So no
//! update is lost or duplicated, and the writer never waits for a subscriber.
//!
//! Each subscriber has its own unbounded queue: a slow or abandoned reader costs memory,
//! never store throughput.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::model::{Payment, PaymentHash};
use crate::sync::lock;

#[derive(Default)]
struct QueueState {
    /// Events with the epoch of the commit that produced them.
    events: VecDeque<(u64, Arc<Payment>)>,
    /// Events up to this epoch are part of the initial snapshot.
    snapshot_epoch: u64,
    /// The initial snapshot is in place; until then `next` waits.
    primed: bool,
    /// A single-payment stream delivered its terminal event, or its payment was deleted.
    ended: bool,
    /// A single-payment stream's payment, once primed: a state of another payment with
    /// the same hash (deleted, then initiated again) ends the stream instead.
    sequence_num: Option<u64>,
    closed: bool,
}

struct Queue {
    /// `Some` for a single-payment subscription.
    hash: Option<PaymentHash>,
    state: Mutex<QueueState>,
    ready: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        lock(&self.state)
    }

    fn push(&self, epoch: u64, payment: &Arc<Payment>) {
        let mut s = self.lock();
        if s.closed || s.ended || (s.primed && epoch <= s.snapshot_epoch) {
            return;
        }
        if s.sequence_num.is_some_and(|n| n != payment.sequence_num) {
            s.ended = true;
            drop(s);
            self.ready.notify_all();
            return;
        }
        s.events.push_back((epoch, payment.clone()));
        drop(s);
        self.ready.notify_one();
    }

    /// Puts the snapshot in front of the events buffered since registration, dropping
    /// those the snapshot already contains.
    fn prime(&self, epoch: u64, initial: Vec<Payment>) {
        let mut s = self.lock();
        s.snapshot_epoch = epoch;
        s.events.retain(|(e, _)| *e > epoch);
        if self.hash.is_some() {
            let followed = initial.first().map(|p| p.sequence_num);
            s.sequence_num = followed;
            // Buffered states of a later payment with this hash end the stream there.
            if let Some(other) = s
                .events
                .iter()
                .position(|(_, p)| Some(p.sequence_num) != followed)
            {
                s.events.truncate(other);
                s.ended = true;
            }
        }
        for p in initial.into_iter().rev() {
            s.events.push_front((epoch, Arc::new(p)));
        }
        s.primed = true;
        drop(s);
        self.ready.notify_all();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// The store is closing: events already queued are still delivered, then the
    /// stream ends.
    fn finish(&self) {
        let mut s = self.lock();
        s.ended = true;
        s.primed = true;
        drop(s);
        self.ready.notify_all();
    }
}

#[derive(Default)]
struct Subscribers {
    next_id: u64,
    by_hash: HashMap<PaymentHash, Vec<(u64, Arc<Queue>)>>,
    all: Vec<(u64, Arc<Queue>)>,
}

/// The store's subscribers; the writer publishes every committed state here.
#[derive(Default)]
pub struct Registry {
    subscribers: Mutex<Subscribers>,
    // Lets the writer skip the lock entirely when nobody listens.
    count: AtomicUsize,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Subscribers> {
        lock(&self.subscribers)
    }

    /// Delivers the states committed in batch `epoch`, in commit order.
    pub fn publish(&self, epoch: u64, events: &[Arc<Payment>]) {
        if events.is_empty() || self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut subs = self.lock();
        for p in events {
            for (_, q) in &subs.all {
                q.push(epoch, p);
            }
            if let Some(list) = subs.by_hash.get(&p.hash) {
                for (_, q) in list {
                    q.push(epoch, p);
                }
            }
        }
        // Single-payment streams end with their terminal event; forget them.
        for p in events.iter().filter(|p| p.terminated()) {
            if let Some(list) = subs.by_hash.remove(&p.hash) {
                self.count.fetch_sub(list.len(), Ordering::AcqRel);
            }
        }
    }

    /// Ends the single-payment streams of a deleted payment, after the states they have
    /// queued.
    pub fn deleted(&self, hash: &PaymentHash) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut subs = self.lock();
        if let Some(list) = subs.by_hash.remove(hash) {
            self.count.fetch_sub(list.len(), Ordering::AcqRel);
            for (_, q) in list {
                q.finish();
            }
        }
    }

    /// Registers a queue; events reach it from now on, held until `prime`.
    pub fn register(self: &Arc<Self>, hash: Option<PaymentHash>) -> Subscription {
        let queue = Arc::new(Queue {
            hash,
            state: Mutex::new(QueueState::default()),
            ready: Condvar::new(),
        });
        let mut subs = self.lock();
        subs.next_id += 1;
        let id = subs.next_id;
        match hash {
            Some(h) => subs.by_hash.entry(h).or_default().push((id, queue.clone())),
            None => subs.all.push((id, queue.clone())),
        }
        self.count.fetch_add(1, Ordering::AcqRel);
        Subscription {
            queue,
            registry: Arc::downgrade(self),
            id,
        }
    }

    fn unregister(&self, id: u64, hash: Option<PaymentHash>) {
        let mut subs = self.lock();
        let removed = match hash {
            Some(h) => {
                let Some(list) = subs.by_hash.get_mut(&h) else {
                    return;
                };
                let before = list.len();
                list.retain(|(i, _)| *i != id);
                let removed = before - list.len();
                if list.is_empty() {
                    subs.by_hash.remove(&h);
                }
                removed
            }
            None => {
                let before = subs.all.len();
                subs.all.retain(|(i, _)| *i != id);
                before - subs.all.len()
            }
        };
        self.count.fetch_sub(removed, Ordering::AcqRel);
    }

    /// Ends every subscription after the events it has queued (the store is closing).
    pub fn close_all(&self) {
        let mut subs = self.lock();
        for (_, q) in subs.all.drain(..) {
            q.finish();
        }
        for (_, list) in subs.by_hash.drain() {
            for (_, q) in list {
                q.finish();
            }
        }
        self.count.store(0, Ordering::Release);
    }
}

/// A stream of payment states. `next` may be called from one thread while `close` is
/// called from another.
pub struct Subscription {
    queue: Arc<Queue>,
    registry: Weak<Registry>,
    id: u64,
}

impl Subscription {
    /// Installs the snapshot read at `epoch` (see the module comment).
    pub(crate) fn prime(&self, epoch: u64, initial: Vec<Payment>) {
        self.queue.prime(epoch, initial);
    }

    /// Waits for the next state: `None` waits forever, `Some(0)` polls.
    /// `Timeout` when none came in time; `EndOfStream` after the terminal state of a
    /// single-payment stream, or once closed.
    pub fn next(&self, timeout: Option<Duration>) -> Result<Arc<Payment>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut s = self.queue.lock();
        loop {
            if s.closed {
                return Err(Error::EndOfStream);
            }
            if s.primed {
                if let Some((_, p)) = s.events.pop_front() {
                    if self.queue.hash.is_some() && p.terminated() {
                        s.ended = true;
                        s.events.clear();
                    }
                    return Ok(p);
                }
                if s.ended {
                    return Err(Error::EndOfStream);
                }
            }
            s = match deadline {
                None => self.queue.ready.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(Error::Timeout);
                    }
                    self.queue
                        .ready
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// Unsubscribes and wakes a reader waiting in `next`. Idempotent.
    pub fn close(&self) {
        self.queue.close();
        if let Some(registry) = self.registry.upgrade() {
            registry.unregister(self.id, self.queue.hash);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.close();
    }
}
