//! A namespace's stored results and the in-memory set of their keys.

use std::collections::{BTreeMap, BTreeSet};

use super::table::McTable;
use crate::codec::{decode_mc_result, encode_mc_result};
use crate::error::Result;
use crate::model::{McResult, ResultKey};

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
    namespace: String,
    keys: BTreeSet<ResultKey>,
}

impl Persisted {
    /// Loads the namespace's keys (values are decoded only by `fetch_all`). Rows whose
    /// key has the wrong length are corrupt: they are deleted and counted.
    pub(crate) fn load(table: &dyn McTable, namespace: &str) -> Result<(Persisted, u64)> {
        let (mut keys, mut bad) = (BTreeSet::new(), Vec::new());
        table.scan(namespace, &mut |k, _| match ResultKey::try_from(k) {
            Ok(key) => {
                keys.insert(key);
            }
            Err(_) => bad.push(k.to_vec()),
        })?;
        if !bad.is_empty() {
            let remove: Vec<&[u8]> = bad.iter().map(Vec::as_slice).collect();
            table.write(namespace, &[], &remove)?;
        }
        let namespace = namespace.to_string();
        Ok((Persisted { namespace, keys }, bad.len() as u64))
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
    pub(crate) fn apply(&mut self, table: &dyn McTable, diff: &Diff) -> Result<bool> {
        if diff.add.is_empty() && diff.evict.is_empty() {
            return Ok(false);
        }
        let add: Vec<(&[u8], &[u8])> = diff
            .add
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        let evict: Vec<&[u8]> = diff.evict.iter().map(|k| k.as_slice()).collect();
        table.write(&self.namespace, &add, &evict)?;
        for key in &diff.evict {
            self.keys.remove(key);
        }
        self.keys.extend(diff.add.keys().copied());
        Ok(true)
    }

    /// Every stored result in key order. Rows that fail to decode are deleted (from the
    /// table and the key set) and counted; the others are returned.
    pub(crate) fn fetch_all(&mut self, table: &dyn McTable) -> Result<(Vec<McResult>, u64)> {
        let (mut results, mut corrupt) = (Vec::new(), Vec::new());
        table.scan(&self.namespace, &mut |k, v| match decode_mc_result(k, v) {
            Ok(r) => results.push(r),
            Err(_) => corrupt.push(k.to_vec()),
        })?;
        if !corrupt.is_empty() {
            let remove: Vec<&[u8]> = corrupt.iter().map(Vec::as_slice).collect();
            table.write(&self.namespace, &[], &remove)?;
            for k in &corrupt {
                if let Ok(key) = ResultKey::try_from(k.as_slice()) {
                    self.keys.remove(&key);
                }
            }
        }
        Ok((results, corrupt.len() as u64))
    }

    /// Deletes every row of the namespace.
    pub(crate) fn clear(&mut self, table: &dyn McTable) -> Result<()> {
        table.clear(&self.namespace)?;
        self.keys.clear();
        Ok(())
    }
}
