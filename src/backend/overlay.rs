//! A write-back overlay for small, hot tables. A batch of operations reads and rewrites
//! the same few values (counters, the next sequence number) once per operation; the
//! overlay keeps them in memory and writes each changed key once, at `flush`.

use std::cell::RefCell;

use super::{KeyRange, ReadTx, Visitor, WriteTx};
use crate::error::Result;

/// A pending change: table index, key, value (`None` for a delete).
type Change = (usize, Vec<u8>, Option<Vec<u8>>);

/// Pending changes, one per key. A batch touches a handful of keys and reads them on
/// every operation: a short list, searched without allocating, beats a map.
#[derive(Default)]
struct Pending(Vec<Change>);

impl Pending {
    fn find(&self, t: usize, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.0
            .iter()
            .find(|(pt, k, _)| *pt == t && k == key)
            .map(|(_, _, v)| v)
    }

    fn set(&mut self, t: usize, key: &[u8], value: Option<Vec<u8>>) {
        match self.0.iter_mut().find(|(pt, k, _)| *pt == t && k == key) {
            Some(change) => change.2 = value,
            None => self.0.push((t, key.to_vec(), value)),
        }
    }

    /// Takes the changes of table `t` (all with `None`), sorted by key.
    fn take(&mut self, t: Option<usize>) -> Vec<Change> {
        let (mut taken, kept) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(pt, _, _)| t.is_none_or(|t| *pt == t));
        self.0 = kept;
        // Sorted, as a B-tree would write them.
        taken.sort_by(|a: &Change, b: &Change| (a.0, &a.1).cmp(&(b.0, &b.1)));
        taken
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Wraps a write transaction; reads see the pending values first. A scan, count or
/// clear of an overlaid table writes that table's pending values through first, so every
/// read stays exact.
pub struct Overlay<'a> {
    // Reads take `&self` but may have to write pending values through.
    inner: RefCell<&'a mut dyn WriteTx>,
    tables: &'static [&'static str],
    pending: RefCell<Pending>,
}

impl<'a> Overlay<'a> {
    pub fn new(inner: &'a mut dyn WriteTx, tables: &'static [&'static str]) -> Self {
        Overlay {
            inner: RefCell::new(inner),
            tables,
            pending: RefCell::default(),
        }
    }

    fn overlaid(&self, table: &str) -> Option<usize> {
        self.tables.iter().position(|t| *t == table)
    }

    /// Writes every pending change to the transaction.
    pub fn flush(&self) -> Result<()> {
        let changes = self.pending.borrow_mut().take(None);
        self.write_through(changes)
    }

    /// Writes the pending changes of `table`, if it is overlaid.
    fn flush_table(&self, table: &str) -> Result<()> {
        let Some(t) = self.overlaid(table) else {
            return Ok(());
        };
        let changes = self.pending.borrow_mut().take(Some(t));
        self.write_through(changes)
    }

    fn write_through(&self, changes: Vec<Change>) -> Result<()> {
        let mut inner = self.inner.borrow_mut();
        for (t, key, value) in changes {
            match value {
                Some(v) => inner.put(self.tables[t], &key, &v)?,
                None => {
                    inner.delete(self.tables[t], &key)?;
                }
            }
        }
        Ok(())
    }
}

impl ReadTx for Overlay<'_> {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(t) = self.overlaid(table) {
            if let Some(v) = self.pending.borrow().find(t, key) {
                return Ok(v.clone());
            }
        }
        self.inner.borrow().get(table, key)
    }

    fn scan(
        &self,
        table: &str,
        range: KeyRange<'_>,
        reverse: bool,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        self.flush_table(table)?;
        self.inner.borrow().scan(table, range, reverse, visit)
    }

    fn count(&self, table: &str) -> Result<u64> {
        self.flush_table(table)?;
        self.inner.borrow().count(table)
    }
}

impl WriteTx for Overlay<'_> {
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        match self.overlaid(table) {
            Some(t) => {
                self.pending.get_mut().set(t, key, Some(value.to_vec()));
                Ok(())
            }
            None => self.inner.get_mut().put(table, key, value),
        }
    }

    fn delete(&mut self, table: &str, key: &[u8]) -> Result<bool> {
        match self.overlaid(table) {
            Some(t) => {
                let present = self.get(table, key)?.is_some();
                self.pending.get_mut().set(t, key, None);
                Ok(present)
            }
            None => self.inner.get_mut().delete(table, key),
        }
    }

    fn clear(&mut self, table: &str) -> Result<()> {
        self.flush_table(table)?;
        self.inner.get_mut().clear(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{read, update, RedbBackend, RedbConfig};
    use std::ops::Bound::Unbounded;

    const HOT: &[&str] = &["hot"];

    fn backend() -> (tempfile::TempDir, RedbBackend) {
        let dir = tempfile::tempdir().unwrap();
        let b = RedbBackend::open(&dir.path().join("o.db"), RedbConfig::default()).unwrap();
        (dir, b)
    }

    fn keys(tx: &dyn ReadTx, table: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        tx.scan(table, (Unbounded, Unbounded), false, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(crate::backend::Flow::Continue)
        })
        .unwrap();
        out
    }

    #[test]
    fn pending_values_are_read_back_and_written_once_at_flush() {
        let (_dir, b) = backend();
        update(&b, |tx| tx.put("hot", b"gone", b"x")).unwrap();
        update(&b, |tx| {
            let mut o = Overlay::new(tx, HOT);
            o.put("hot", b"a", b"1")?;
            o.put("hot", b"a", b"2")?;
            assert!(o.delete("hot", b"gone")?);
            assert!(!o.delete("hot", b"never")?);
            o.put("cold", b"c", b"3")?;
            assert_eq!(o.get("hot", b"a")?, Some(b"2".to_vec()));
            assert_eq!(o.get("hot", b"gone")?, None);
            // Not written yet; the cold table is written straight away.
            assert_eq!(o.inner.borrow().get("hot", b"a")?, None);
            assert_eq!(o.inner.borrow().get("cold", b"c")?, Some(b"3".to_vec()));
            o.flush()
        })
        .unwrap();
        read(&b, |tx| {
            assert_eq!(keys(tx, "hot"), vec![(b"a".to_vec(), b"2".to_vec())]);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn scans_and_counts_see_pending_changes() {
        let (_dir, b) = backend();
        update(&b, |tx| {
            let mut o = Overlay::new(tx, &["hot", "warm"]);
            o.put("hot", b"k", b"v")?;
            o.put("warm", b"w", b"v")?;
            assert_eq!(o.count("hot")?, 1);
            assert_eq!(keys(&o, "hot"), vec![(b"k".to_vec(), b"v".to_vec())]);
            // Only the scanned table was written through.
            assert_eq!(o.pending.borrow().len(), 1);
            o.clear("warm")?;
            assert_eq!(o.count("warm")?, 0);
            o.flush()
        })
        .unwrap();
        read(&b, |tx| {
            assert_eq!((tx.count("hot")?, tx.count("warm")?), (1, 0));
            Ok(())
        })
        .unwrap();
    }
}
