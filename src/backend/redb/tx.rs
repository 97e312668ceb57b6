//! The backend trait's transactions over redb's: tables by name, opened once per
//! transaction, every call behind the panic guard.

use std::cell::RefCell;

use redb::{
    ReadOnlyTable, ReadableTable, ReadableTableMetadata, Table, TableDefinition, TableError,
};

use super::errors::map_err;
use super::guard::guarded;
use crate::backend::log_record::Recorder;
use crate::backend::{Flow, KeyRange, ReadTx, Visitor, WriteTx};
use crate::error::Result;

type Bytes = &'static [u8];

fn def(name: &str) -> TableDefinition<'_, Bytes, Bytes> {
    TableDefinition::new(name)
}

fn scan_table<T: ReadableTable<Bytes, Bytes>>(
    table: &T,
    range: KeyRange<'_>,
    reverse: bool,
    visit: &mut Visitor<'_>,
) -> Result<()> {
    let mut iter = table.range::<&[u8]>(range).map_err(map_err)?;
    loop {
        let item = if reverse {
            iter.next_back()
        } else {
            iter.next()
        };
        let Some(item) = item else { return Ok(()) };
        let (k, v) = item.map_err(map_err)?;
        if visit(k.value(), v.value())? == Flow::Stop {
            return Ok(());
        }
    }
}

/// The tables a transaction opened, by name. A transaction uses a handful, and every
/// operation looks several up: a short list beats hashing the name.
struct Opened<T>(Vec<(String, T)>);

impl<T> Default for Opened<T> {
    fn default() -> Self {
        Opened(Vec::new())
    }
}

impl<T> Opened<T> {
    fn get_or_open(&mut self, name: &str, open: impl FnOnce() -> Result<T>) -> Result<&mut T> {
        let i = match self.0.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.0.push((name.to_string(), open()?));
                self.0.len() - 1
            }
        };
        Ok(&mut self.0[i].1)
    }
}

pub(super) struct RedbRead {
    txn: redb::ReadTransaction,
    // Tables opened so far; `None` marks a table that does not exist (reads as empty).
    tables: RefCell<Opened<Option<ReadOnlyTable<Bytes, Bytes>>>>,
}

impl RedbRead {
    pub(super) fn new(txn: redb::ReadTransaction) -> RedbRead {
        RedbRead {
            txn,
            tables: RefCell::default(),
        }
    }

    /// The redb transaction underneath (the backup lists its tables).
    pub(super) fn txn(&self) -> &redb::ReadTransaction {
        &self.txn
    }

    fn with_table<T>(
        &self,
        name: &str,
        empty: T,
        f: impl FnOnce(&ReadOnlyTable<Bytes, Bytes>) -> Result<T>,
    ) -> Result<T> {
        guarded("read", || {
            let mut tables = self.tables.borrow_mut();
            let t = tables.get_or_open(name, || match self.txn.open_table(def(name)) {
                Ok(t) => Ok(Some(t)),
                Err(TableError::TableDoesNotExist(_)) => Ok(None),
                Err(e) => Err(map_err(e)),
            })?;
            match t {
                Some(t) => f(t),
                None => Ok(empty),
            }
        })
    }
}

impl ReadTx for RedbRead {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_table(table, None, |t| {
            Ok(t.get(key).map_err(map_err)?.map(|v| v.value().to_vec()))
        })
    }

    fn scan(
        &self,
        table: &str,
        range: KeyRange<'_>,
        reverse: bool,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        self.with_table(table, (), |t| scan_table(t, range, reverse, visit))
    }

    fn count(&self, table: &str) -> Result<u64> {
        self.with_table(table, 0, |t| t.len().map_err(map_err))
    }
}

pub(super) struct RedbWrite<'txn> {
    txn: &'txn redb::WriteTransaction,
    // redb allows one open handle per table; the cache keeps it for the transaction.
    tables: RefCell<Opened<Table<'txn, Bytes, Bytes>>>,
    /// Collects the changes of a logged batch.
    pub(super) recorder: Option<Recorder>,
}

impl<'txn> RedbWrite<'txn> {
    /// A write transaction's adapter; with a `recorder`, every change is also recorded
    /// for the write-ahead log.
    pub(super) fn new(txn: &'txn redb::WriteTransaction, recorder: Option<Recorder>) -> Self {
        RedbWrite {
            txn,
            tables: RefCell::default(),
            recorder,
        }
    }

    fn with_table<T>(
        &self,
        what: &str,
        name: &str,
        f: impl FnOnce(&mut Table<'txn, Bytes, Bytes>) -> Result<T>,
    ) -> Result<T> {
        guarded(what, || {
            let mut tables = self.tables.borrow_mut();
            let t = tables.get_or_open(name, || self.txn.open_table(def(name)).map_err(map_err))?;
            f(t)
        })
    }
}

impl ReadTx for RedbWrite<'_> {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_table("read", table, |t| {
            Ok(t.get(key).map_err(map_err)?.map(|v| v.value().to_vec()))
        })
    }

    fn scan(
        &self,
        table: &str,
        range: KeyRange<'_>,
        reverse: bool,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        self.with_table("scan", table, |t| scan_table(&*t, range, reverse, visit))
    }

    fn count(&self, table: &str) -> Result<u64> {
        self.with_table("count", table, |t| t.len().map_err(map_err))
    }
}

impl WriteTx for RedbWrite<'_> {
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        if let Some(r) = &mut self.recorder {
            r.put(table, key, value)?;
        }
        self.with_table("write", table, |t| {
            t.insert(key, value).map_err(map_err)?;
            Ok(())
        })
    }

    fn delete(&mut self, table: &str, key: &[u8]) -> Result<bool> {
        if let Some(r) = &mut self.recorder {
            r.delete(table, key)?;
        }
        self.with_table("delete", table, |t| {
            Ok(t.remove(key).map_err(map_err)?.is_some())
        })
    }

    fn clear(&mut self, table: &str) -> Result<()> {
        if let Some(r) = &mut self.recorder {
            r.clear(table)?;
        }
        self.with_table("clear", table, |t| t.retain(|_, _| false).map_err(map_err))
    }
}
