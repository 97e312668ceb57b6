//! The writer's cache of non-terminal payments. Every attempt operation needs the whole
//! payment (validation looks at every attempt, and callers get the new state back), and
//! decoding it from its records was a large share of the writer's time with MPP payments
//! (docs/performance.md).
//!
//! The cache holds payments as committed. Each try of a batch's transaction stages its
//! changes in a fresh `BatchView`; they reach the cache only once the transaction
//! commits. A batch takes the payments it loads out of the cache (no copy when nothing
//! else holds them), so an aborted or retried batch can only leave the cache with fewer
//! payments, never with a change that did not commit. The store stays the truth: a
//! miss loads from the engine.
//! Every change to payments runs in the writer (bulk deletion too, `delete`), so the
//! cache never misses one.
//!
//! The view also answers for everything the transaction itself changed (payments,
//! hashes and sequence numbers taken, tombstones), so an engine's reads need not see
//! the transaction's own, perhaps still buffered, mutations.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::engine::PaymentWriter;
use crate::error::Result;
use crate::model::{Payment, PaymentHash};

/// Most payments kept; a node has far fewer in flight. Past it, payments are loaded.
const CAPACITY: usize = 100_000;

/// A batch's changes by hash; `None`: the payment is gone.
pub type Staged = HashMap<PaymentHash, Option<Arc<Payment>>>;

#[derive(Default)]
pub struct PaymentCache {
    payments: HashMap<PaymentHash, Arc<Payment>>,
}

impl PaymentCache {
    /// A view for one batch's transaction.
    pub fn view(&mut self) -> BatchView<'_> {
        BatchView {
            committed: &mut self.payments,
            staged: HashMap::new(),
            sequences: HashMap::new(),
            tombstones: HashSet::new(),
        }
    }

    /// Applies a committed batch's changes.
    pub fn apply(&mut self, staged: Staged) {
        for (hash, state) in staged {
            match state {
                Some(p) if !p.status.is_terminal() => {
                    if self.payments.len() < CAPACITY || self.payments.contains_key(&hash) {
                        self.payments.insert(hash, p);
                    }
                }
                _ => {
                    self.payments.remove(&hash);
                }
            }
        }
    }
}

/// The cache as a batch sees it: committed payments overlaid with the batch's changes.
pub struct BatchView<'a> {
    committed: &'a mut HashMap<PaymentHash, Arc<Payment>>,
    staged: Staged,
    /// Sequence numbers the batch took (true) or freed (false).
    sequences: HashMap<u64, bool>,
    /// Hashes the batch tombstoned.
    tombstones: HashSet<PaymentHash>,
}

impl BatchView<'_> {
    /// The payment with this hash, from the batch, the cache, or else the engine. A
    /// committed payment leaves the cache: the operation changes it in place unless a
    /// caller or subscriber still holds it (then it is copied). Its new state comes back
    /// with `stage` and reaches the cache on commit.
    pub fn load(
        &mut self,
        w: &mut dyn PaymentWriter,
        hash: &PaymentHash,
    ) -> Result<Option<Payment>> {
        if let Some(staged) = self.staged.get(hash) {
            // The batch's answers share a staged state: always a copy.
            return Ok(staged.as_deref().cloned());
        }
        match self.committed.remove(hash) {
            Some(p) => Ok(Some(
                Arc::try_unwrap(p).unwrap_or_else(|p| Payment::clone(&p)),
            )),
            None => w.load(hash),
        }
    }

    /// Whether the batch or the cache answers for this hash without the engine.
    pub fn knows(&self, hash: &PaymentHash) -> bool {
        self.staged.contains_key(hash) || self.committed.contains_key(hash)
    }

    /// Whether a payment holds this hash, in the batch or in the store.
    pub fn hash_taken(&mut self, w: &mut dyn PaymentWriter, hash: &PaymentHash) -> Result<bool> {
        if let Some(staged) = self.staged.get(hash) {
            return Ok(staged.is_some());
        }
        if self.committed.contains_key(hash) {
            return Ok(true);
        }
        w.hash_taken(hash)
    }

    pub fn tombstoned(&mut self, w: &mut dyn PaymentWriter, hash: &PaymentHash) -> Result<bool> {
        Ok(self.tombstones.contains(hash) || w.tombstoned(hash)?)
    }

    pub fn sequence_taken(&mut self, w: &mut dyn PaymentWriter, seq: u64) -> Result<bool> {
        match self.sequences.get(&seq) {
            Some(&taken) => Ok(taken),
            None => w.sequence_taken(seq),
        }
    }

    /// Records a payment's new state.
    pub fn stage(&mut self, payment: Arc<Payment>) {
        self.sequences.insert(payment.sequence_num, true);
        self.staged.insert(payment.hash, Some(payment));
    }

    /// Records that a payment is gone (a tombstone keeps its hash paid).
    pub fn remove(&mut self, hash: &PaymentHash, seq: u64, tombstone: bool) {
        self.staged.insert(*hash, None);
        self.sequences.insert(seq, false);
        if tombstone {
            self.tombstones.insert(*hash);
        }
    }

    pub fn into_staged(self) -> Staged {
        self.staged
    }
}
