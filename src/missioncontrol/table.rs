//! Where a store keeps mission-control results: rows of (namespace, result key) →
//! the result's TLV encoding, the same bytes on every backend. The key-value engines
//! (redb) keep them in one table under a namespace prefix (`KvTable`); PostgreSQL in
//! `mc_results` (src/backend/postgres/mc.rs).

use std::ops::Bound;
use std::sync::Arc;

use crate::backend::schema::MC_RESULTS;
use crate::backend::{self, Backend, Flow};
use crate::error::{Error, Result};

/// Visits one row: its result key (as stored: a malformed one is passed on as it is)
/// and its value.
pub type RowVisitor<'a> = dyn FnMut(&[u8], &[u8]) + 'a;

/// The mission-control rows of a store.
pub trait McTable: Send + Sync {
    /// Every row of `namespace`, in key order, from one consistent snapshot.
    fn scan(&self, namespace: &str, visit: &mut RowVisitor<'_>) -> Result<()>;

    /// Inserts (or replaces) `add` and deletes `remove` in one transaction.
    fn write(&self, namespace: &str, add: &[(&[u8], &[u8])], remove: &[&[u8]]) -> Result<()>;

    /// Deletes every row of `namespace`.
    fn clear(&self, namespace: &str) -> Result<()>;

    /// The store was opened read-only: handles refuse every change with `ReadOnly`.
    fn read_only(&self) -> bool {
        false
    }
}

/// A namespace name: 1 to 255 bytes (the key-value layout stores its length in a byte;
/// every backend takes the same names).
pub(crate) fn check_namespace(namespace: &str) -> Result<()> {
    match namespace.len() {
        1..=255 => Ok(()),
        n => Err(Error::invalid(format!(
            "namespace must have 1 to 255 bytes, not {n}"
        ))),
    }
}

/// Mission control in a key-value engine's `mc_results` table: keys are namespace
/// length ‖ namespace ‖ result key. The length byte keeps one name from being a prefix
/// of another's rows.
pub(crate) struct KvTable {
    backend: Arc<dyn Backend>,
}

impl KvTable {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> KvTable {
        KvTable { backend }
    }
}

fn prefix(namespace: &str) -> Result<Vec<u8>> {
    check_namespace(namespace)?;
    let mut prefix = vec![namespace.len() as u8];
    prefix.extend_from_slice(namespace.as_bytes());
    Ok(prefix)
}

fn row(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    [prefix, key].concat()
}

fn scan_prefix(
    tx: &dyn backend::ReadTx,
    prefix: &[u8],
    visit: &mut dyn FnMut(&[u8], &[u8]),
) -> Result<()> {
    // Every row from the prefix up to its successor (incrementing the last byte cannot
    // overflow: UTF-8 has no 0xff byte).
    let mut end = prefix.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    let range = (Bound::Included(prefix), Bound::Excluded(end.as_slice()));
    tx.scan(MC_RESULTS, range, false, &mut |k, v| {
        visit(&k[prefix.len()..], v);
        Ok(Flow::Continue)
    })
}

impl McTable for KvTable {
    fn scan(&self, namespace: &str, visit: &mut RowVisitor<'_>) -> Result<()> {
        let prefix = prefix(namespace)?;
        // The visitor may not be called twice for a row: collect, then visit, so that
        // a retried read transaction does not repeat rows.
        let rows = backend::read(self.backend.as_ref(), |tx| {
            let mut rows = Vec::new();
            scan_prefix(tx, &prefix, &mut |k, v| rows.push((k.to_vec(), v.to_vec())))?;
            Ok(rows)
        })?;
        rows.iter().for_each(|(k, v)| visit(k, v));
        Ok(())
    }

    fn write(&self, namespace: &str, add: &[(&[u8], &[u8])], remove: &[&[u8]]) -> Result<()> {
        let prefix = prefix(namespace)?;
        backend::update(self.backend.as_ref(), |tx| {
            for (key, value) in add {
                tx.put(MC_RESULTS, &row(&prefix, key), value)?;
            }
            for key in remove {
                tx.delete(MC_RESULTS, &row(&prefix, key))?;
            }
            Ok(())
        })
    }

    fn clear(&self, namespace: &str) -> Result<()> {
        let prefix = prefix(namespace)?;
        backend::update(self.backend.as_ref(), |tx| {
            let mut rows = Vec::new();
            scan_prefix(tx, &prefix, &mut |k, _| rows.push(row(&prefix, k)))?;
            rows.iter()
                .try_for_each(|row| tx.delete(MC_RESULTS, row).map(drop))
        })
    }

    fn read_only(&self) -> bool {
        self.backend.read_only()
    }
}
