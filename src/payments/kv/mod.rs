//! The embedded engine: payments over the ordered byte tables of a `Backend` (redb).
//! Mutations become key writes (`apply`), reads are range scans (`query`, `assemble`).

mod apply;
mod assemble;
mod integrity;
mod keys;
mod query;

use std::path::Path;
use std::sync::Arc;

use super::engine::{Engine, Mutation, PaymentWriter, Snapshot};
use super::integrity::IntegrityReport;
use super::query::{PaymentCounts, QueryResponse};
use crate::backend::schema::{
    self, get_u64, put_u64, HOT_TABLES, KEY_EPOCH, META, RECORDS, TOMBSTONES,
};
use crate::backend::{Backend, DurableCallback, Overlay, ReadTx, WriteTx};
use crate::error::Result;
use crate::missioncontrol::{KvTable, McTable};
use crate::model::{Payment, PaymentHash, Query};

/// Payments kept in a byte-table backend.
pub struct KvEngine {
    backend: Arc<dyn Backend>,
}

impl KvEngine {
    /// Creates or migrates the schema, then serves payments from `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Result<KvEngine> {
        schema::prepare(backend.as_ref())?;
        Ok(KvEngine { backend })
    }

    /// Runs `f` over a write transaction whose hot tables (counters, sequence, epoch)
    /// are kept in memory and written once at the end.
    fn in_tx(
        tx: &mut dyn WriteTx,
        f: &mut dyn FnMut(&mut dyn PaymentWriter) -> Result<()>,
    ) -> Result<()> {
        let mut overlay = Overlay::new(tx, HOT_TABLES);
        f(&mut KvWriter { tx: &mut overlay })?;
        overlay.flush()
    }
}

impl Engine for KvEngine {
    fn read(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn Snapshot) -> Result<()>,
    ) -> Result<()> {
        self.backend
            .read(reset, &mut |tx| f(&mut KvSnapshot { tx }))
    }

    fn write(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn PaymentWriter) -> Result<()>,
    ) -> Result<()> {
        self.backend.update(reset, &mut |tx| Self::in_tx(tx, f))
    }

    fn write_deferred(
        &self,
        reset: &mut dyn FnMut(),
        f: &mut dyn FnMut(&mut dyn PaymentWriter) -> Result<()>,
    ) -> Result<Option<u64>> {
        self.backend
            .update_deferred(reset, &mut |tx| Self::in_tx(tx, f))
    }

    fn when_durable(&self, ticket: Option<u64>, callback: DurableCallback) {
        self.backend.when_durable(ticket, callback)
    }

    fn mission_control(&self) -> Result<Arc<dyn McTable>> {
        Ok(Arc::new(KvTable::new(self.backend.clone())))
    }

    fn compact(&self) -> Result<()> {
        self.backend.compact()
    }

    fn close(&self) -> Result<()> {
        self.backend.close()
    }

    fn read_only(&self) -> bool {
        self.backend.read_only()
    }

    fn backup(
        &self,
        dest: &Path,
        snapshot_taken: &mut dyn FnMut(&mut dyn Snapshot) -> Result<()>,
    ) -> Result<()> {
        self.backend
            .backup(dest, &mut |tx| snapshot_taken(&mut KvSnapshot { tx }))
    }
}

/// A write transaction: reads see its own writes, mutations are key writes.
struct KvWriter<'a, 'b> {
    tx: &'a mut Overlay<'b>,
}

impl PaymentWriter for KvWriter<'_, '_> {
    fn load(&mut self, hash: &PaymentHash) -> Result<Option<Payment>> {
        assemble::load(&*self.tx, hash)
    }

    fn hash_taken(&mut self, hash: &PaymentHash) -> Result<bool> {
        Ok(assemble::lookup_seq(&*self.tx, hash)?.is_some())
    }

    fn tombstoned(&mut self, hash: &PaymentHash) -> Result<bool> {
        Ok(self.tx.get(TOMBSTONES, hash)?.is_some())
    }

    fn sequence_taken(&mut self, seq: u64) -> Result<bool> {
        let key = keys::record(seq, keys::KIND_CREATION);
        Ok(self.tx.get(RECORDS, &key)?.is_some())
    }

    fn next_sequence(&mut self) -> Result<u64> {
        apply::next_sequence(&*self.tx)
    }

    fn apply(&mut self, mutation: Mutation) -> Result<()> {
        apply::apply(self.tx, mutation)
    }

    fn set_epoch(&mut self, epoch: u64) -> Result<()> {
        put_u64(self.tx, META, KEY_EPOCH, epoch)
    }
}

/// A read snapshot over one read transaction.
struct KvSnapshot<'a> {
    tx: &'a dyn ReadTx,
}

impl Snapshot for KvSnapshot<'_> {
    fn epoch(&mut self) -> Result<u64> {
        Ok(get_u64(self.tx, META, KEY_EPOCH)?.unwrap_or(0))
    }

    fn payment(&mut self, hash: &PaymentHash) -> Result<Option<Payment>> {
        assemble::load(self.tx, hash)
    }

    fn inflight(&mut self) -> Result<Vec<Payment>> {
        query::inflight(self.tx)
    }

    fn query(&mut self, q: &Query) -> Result<QueryResponse> {
        query::query(self.tx, q)
    }

    fn counts(&mut self) -> Result<PaymentCounts> {
        query::counts(self.tx)
    }

    fn check_integrity(&mut self) -> Result<IntegrityReport> {
        integrity::check(self.tx)
    }

    fn warm(&mut self, hashes: &[PaymentHash]) -> Result<()> {
        // In a large store each hash's index entry lies on a page of its own, seldom
        // cached: reading it here spares the writer the disk read.
        for hash in hashes {
            assemble::lookup_seq(self.tx, hash)?;
        }
        Ok(())
    }
}
