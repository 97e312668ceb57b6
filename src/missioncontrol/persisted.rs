//! A namespace's stored results and the in-memory set of their keys.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use crate::backend::schema::MC_RESULTS;
use crate::backend::{self, Backend, Flow};
use crate::codec::{decode_mc_result, encode_mc_result};
use crate::error::{Error, Result};
use crate::model::{McResult, ResultKey, RESULT_KEY_LEN};

/// Row keys of one namespace: namespace length ‖ namespace ‖ result key. The length
/// byte keeps one name from being a prefix of another's rows.
pub(crate) struct RowKeys {
    prefix: Vec<u8>,
}

impl RowKeys {
    pub(crate) fn new(namespace: &str) -> Result<RowKeys> {
        let len = u8::try_from(namespace.len())
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "namespace must have 1 to 255 bytes, not {}",
                    namespace.len()
                ))
            })?;
        let mut prefix = vec![len];
        prefix.extend_from_slice(namespace.as_bytes());
        Ok(RowKeys { prefix })
    }

    /// The table key of a result key (or of a malformed one found in the table).
    fn row(&self, key: &[u8]) -> Vec<u8> {
        let mut row = Vec::with_capacity(self.prefix.len() + RESULT_KEY_LEN);
        row.extend_from_slice(&self.prefix);
        row.extend_from_slice(key);
        row
    }

    /// Every row of the namespace: from the prefix up to its successor (incrementing
    /// the last byte cannot overflow: UTF-8 has no 0xff byte).
    fn range(&self) -> (Vec<u8>, Vec<u8>) {
        let mut end = self.prefix.clone();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        (self.prefix.clone(), end)
    }

    fn scan(&self, tx: &dyn backend::ReadTx, visit: &mut backend::Visitor<'_>) -> Result<()> {
        let (start, end) = self.range();
        let range = (
            Bound::Included(start.as_slice()),
            Bound::Excluded(end.as_slice()),
        );
        tx.scan(MC_RESULTS, range, false, &mut |k, v| {
            visit(&k[self.prefix.len()..], v)
        })
    }
}

/// What one flush writes, decided before its transaction opens.
#[derive(Default)]
pub(crate) struct Diff {
    /// New results (duplicates of stored or queued keys removed), by key.
    pub(crate) add: BTreeMap<ResultKey, Vec<u8>>,
    /// Stored keys to delete to respect `max_records`.
    pub(crate) evict: Vec<ResultKey>,
    /// Queued results older than everything kept, so never written.
    pub(crate) dropped: u64,
}

/// The keys of a namespace's stored results, oldest first (key order is time order).
pub(crate) struct Persisted {
    rows: RowKeys,
    keys: BTreeSet<ResultKey>,
}

impl Persisted {
    /// Loads the namespace's keys (values are decoded only by `fetch_all`). Rows whose
    /// key has the wrong length are corrupt: they are deleted and counted.
    pub(crate) fn load(backend: &dyn Backend, rows: RowKeys) -> Result<(Persisted, u64)> {
        let (keys, bad) = backend::read(backend, |tx| {
            let (mut keys, mut bad) = (BTreeSet::new(), Vec::new());
            rows.scan(tx, &mut |k, _| {
                match ResultKey::try_from(k) {
                    Ok(key) => keys.insert(key),
                    Err(_) => {
                        bad.push(rows.row(k));
                        true
                    }
                };
                Ok(Flow::Continue)
            })?;
            Ok((keys, bad))
        })?;
        if !bad.is_empty() {
            backend::update(backend, |tx| {
                bad.iter()
                    .try_for_each(|row| tx.delete(MC_RESULTS, row).map(drop))
            })?;
        }
        Ok((Persisted { rows, keys }, bad.len() as u64))
    }

    pub(crate) fn len(&self) -> u64 {
        self.keys.len() as u64
    }

    /// The difference a flush of `batch` makes: keys to add and keys to evict so that
    /// at most `max_records` (0 = unlimited) remain, the newest by key. Costs
    /// O(batch + evictions), whatever the number stored.
    pub(crate) fn diff(&self, batch: &[McResult], max_records: u32) -> Diff {
        let mut diff = Diff::default();
        for result in batch {
            let key = result.key();
            if !self.keys.contains(&key) && !diff.add.contains_key(&key) {
                diff.add.insert(key, encode_mc_result(result));
            }
        }
        let total = self.keys.len() + diff.add.len();
        let max = max_records as usize;
        if max == 0 || total <= max {
            return diff;
        }
        // Remove the `total - max` smallest keys of stored ∪ new: a merge of two sorted
        // sequences that stops after the keys it removes.
        let mut stored = self.keys.iter().peekable();
        let mut new: Vec<ResultKey> = Vec::new();
        let mut added = diff.add.keys().peekable();
        for _ in 0..total - max {
            match (stored.peek(), added.peek()) {
                (Some(s), Some(a)) if a < s => new.push(*added.next().expect("peeked")),
                (Some(_), _) => diff.evict.push(*stored.next().expect("peeked")),
                (None, Some(_)) => new.push(*added.next().expect("peeked")),
                (None, None) => break,
            }
        }
        for key in new {
            diff.add.remove(&key);
            diff.dropped += 1;
        }
        diff
    }

    /// Writes the difference in one transaction; the key set changes only after the
    /// commit succeeded.
    pub(crate) fn apply(&mut self, backend: &dyn Backend, diff: &Diff) -> Result<bool> {
        if diff.add.is_empty() && diff.evict.is_empty() {
            return Ok(false);
        }
        backend::update(backend, |tx| {
            for (key, value) in &diff.add {
                tx.put(MC_RESULTS, &self.rows.row(key), value)?;
            }
            for key in &diff.evict {
                tx.delete(MC_RESULTS, &self.rows.row(key))?;
            }
            Ok(())
        })?;
        for key in &diff.evict {
            self.keys.remove(key);
        }
        self.keys.extend(diff.add.keys().copied());
        Ok(true)
    }

    /// Every stored result in key order. Rows that fail to decode are deleted (from the
    /// table and the key set) and counted; the others are returned.
    pub(crate) fn fetch_all(&mut self, backend: &dyn Backend) -> Result<(Vec<McResult>, u64)> {
        let (results, corrupt) = backend::read(backend, |tx| {
            let (mut results, mut corrupt) = (Vec::new(), Vec::new());
            self.rows.scan(tx, &mut |k, v| {
                match decode_mc_result(k, v) {
                    Ok(r) => results.push(r),
                    Err(_) => corrupt.push(k.to_vec()),
                }
                Ok(Flow::Continue)
            })?;
            Ok((results, corrupt))
        })?;
        if !corrupt.is_empty() {
            let rows: Vec<Vec<u8>> = corrupt.iter().map(|k| self.rows.row(k)).collect();
            backend::update(backend, |tx| {
                rows.iter()
                    .try_for_each(|row| tx.delete(MC_RESULTS, row).map(drop))
            })?;
            for k in &corrupt {
                if let Ok(key) = ResultKey::try_from(k.as_slice()) {
                    self.keys.remove(&key);
                }
            }
        }
        Ok((results, corrupt.len() as u64))
    }

    /// Deletes every row of the namespace.
    pub(crate) fn clear(&mut self, backend: &dyn Backend) -> Result<()> {
        backend::update(backend, |tx| {
            let mut rows = Vec::new();
            self.rows.scan(tx, &mut |k, _| {
                rows.push(self.rows.row(k));
                Ok(Flow::Continue)
            })?;
            rows.iter()
                .try_for_each(|row| tx.delete(MC_RESULTS, row).map(drop))
        })?;
        self.keys.clear();
        Ok(())
    }
}
