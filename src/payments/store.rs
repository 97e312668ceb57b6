//! The payment store's Rust API: the control tower's operations, reads and maintenance.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::commit::{CommitStats, Committer, Op};
use super::delete;
use super::engine::{self, Engine, Snapshot};
use super::import::{self, ImportPayment, ImportReport};
use super::integrity::IntegrityReport;
use super::kv::KvEngine;
use super::ops;
use crate::backend::{self, Backend, RedbBackend, RedbConfig};
use crate::codec;
use crate::error::{Error, Result};
use crate::missioncontrol::{McOptions, MissionControl, Namespaces};
use crate::model::{
    check_operation_size, validate_attempt_shape, validate_creation_info, AttemptInfo,
    CreationInfo, FailInfo, FailureReason, Payment, PaymentHash, Query, SettleInfo,
};
use crate::subscriptions::{Registry, Subscription};
use crate::sync::lock;

pub use super::query::{PaymentCounts, QueryResponse};

#[cfg(feature = "postgres")]
use crate::backend::postgres::is_database_url;

/// Whether `location` is a database URL rather than a file path.
#[cfg(not(feature = "postgres"))]
fn is_database_url(location: &str) -> bool {
    let lower = location.get(..13).unwrap_or(location).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Default most operations coalesced into one commit.
pub const DEFAULT_MAX_BATCH_SIZE: u32 = 1000;

/// One control-tower change to a payment (docs/behaviour.md, Life cycle).
pub(crate) enum Change {
    Init(CreationInfo),
    Register(AttemptInfo),
    Settle(u64, SettleInfo),
    FailAttempt(u64, FailInfo),
    FailPayment(FailureReason),
}

/// Store options; `Options::default()` is what production nodes should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Most operations coalesced into one commit (0 = default 1000; 1 = no batching).
    pub max_batch_size: u32,
    /// How long a batch stays open at least, for more operations, unless full. Zero (the
    /// default) closes it as soon as the previous commit's fsync is done: batches then
    /// hold what arrives while the disk works, which gives large batches under load and
    /// no added latency for a lone caller.
    pub max_batch_delay: Duration,
    /// Page cache (0 = default 32 MiB).
    pub cache_size_bytes: u64,
    /// Skip fsync on commit (tests and benchmarks only: a crash may lose recent commits).
    pub no_sync: bool,
    /// Write-ahead log size that makes the next batch checkpoint the store file first, at
    /// most (0 = default 16 MiB): when checkpoints take long (a large store), the log is
    /// checkpointed sooner. Smaller means less to replay after a crash and more
    /// checkpoints under load.
    pub checkpoint_bytes: u64,
    /// Opens an existing store without ever writing a byte to it or its log (backups,
    /// snapshots, read-only media): a pending log is replayed in memory only, and every
    /// change is refused with `ReadOnly`. Other read-only opens may share the file; a
    /// writer and a read-only open exclude each other (`Locked`). A database opened
    /// read-only takes no lease and writes nothing, beside a live writer too.
    pub read_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            max_batch_delay: Duration::ZERO,
            cache_size_bytes: backend::DEFAULT_CACHE_BYTES as u64,
            no_sync: false,
            checkpoint_bytes: backend::DEFAULT_CHECKPOINT_BYTES,
            read_only: false,
        }
    }
}

/// A payment store: thread-safe, share it by reference or `Arc`.
pub struct Store {
    engine: Arc<dyn Engine>,
    committer: Committer,
    registry: Arc<Registry>,
    namespaces: Arc<Namespaces>,
    closed: AtomicBool,
}

impl Store {
    /// Opens (creating if missing) the store at `path`, or the PostgreSQL database a
    /// `postgres://` or `postgresql://` URL names (docs/postgres.md).
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Store> {
        if let Some(url) = path.as_ref().to_str().filter(|s| is_database_url(s)) {
            return Self::open_database(url, options);
        }
        let config = RedbConfig {
            cache_size_bytes: match options.cache_size_bytes {
                0 => backend::DEFAULT_CACHE_BYTES,
                n => usize::try_from(n).map_err(|_| Error::invalid("cache size too large"))?,
            },
            durable: !options.no_sync,
            checkpoint_bytes: match options.checkpoint_bytes {
                0 => backend::DEFAULT_CHECKPOINT_BYTES,
                n => n,
            },
            ..RedbConfig::default()
        };
        let path = path.as_ref();
        let backend: Arc<dyn Backend> = match options.read_only {
            true => Arc::new(RedbBackend::open_read_only(path, config).map_err(|e| e.at(path))?),
            false => {
                // A file to refuse is refused before anything is written to it.
                RedbBackend::check_file(path)?;
                Arc::new(RedbBackend::open(path, config)?)
            }
        };
        Self::with_backend(backend, options).map_err(|e| e.at(path))
    }

    #[cfg(feature = "postgres")]
    fn open_database(url: &str, options: Options) -> Result<Store> {
        use crate::backend::postgres::PgEngine;
        let engine = match options.read_only {
            true => PgEngine::open_read_only(url)?,
            false => PgEngine::open(url)?,
        };
        Self::with_engine(Arc::new(engine), options)
    }

    #[cfg(not(feature = "postgres"))]
    fn open_database(_url: &str, _options: Options) -> Result<Store> {
        Err(Error::invalid(
            "a database URL needs the library built with PostgreSQL support (feature postgres)",
        ))
    }

    /// Opens a store over any byte-table backend (the schema is created or migrated
    /// first).
    pub fn with_backend(backend: Arc<dyn Backend>, options: Options) -> Result<Store> {
        Self::with_engine(Arc::new(KvEngine::new(backend)?), options)
    }

    /// Opens a store over a payment engine.
    pub(crate) fn with_engine(engine: Arc<dyn Engine>, options: Options) -> Result<Store> {
        let epoch = engine::read(engine.as_ref(), |s| s.epoch())?;
        let registry = Arc::new(Registry::default());
        let max_batch = match options.max_batch_size {
            0 => DEFAULT_MAX_BATCH_SIZE,
            n => n,
        } as usize;
        let committer = Committer::start(
            engine.clone(),
            registry.clone(),
            max_batch,
            options.max_batch_delay,
            epoch,
        )?;
        Ok(Store {
            engine,
            committer,
            registry,
            namespaces: Arc::default(),
            closed: AtomicBool::new(false),
        })
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// `what`: the refused call's name, for a read-only store's error.
    fn check_writable(&self, what: &'static str) -> Result<()> {
        self.check_open()?;
        match self.engine.read_only() {
            true => Err(Error::ReadOnly(what)),
            false => Ok(()),
        }
    }

    /// Has the writer run `op` (for the call `what`), which changes the payment `hash`
    /// if one is given.
    fn write(
        &self,
        what: &'static str,
        hash: Option<PaymentHash>,
        op: Op,
    ) -> Result<Option<Arc<Payment>>> {
        self.check_writable(what)?;
        self.committer.submit(hash, op)
    }

    /// A read snapshot; it answers only once everything it shows is durable (a commit
    /// becomes visible a moment before its fsync is done).
    fn read<T>(&self, mut f: impl FnMut(&mut dyn Snapshot) -> Result<T>) -> Result<T> {
        self.check_open()?;
        let (epoch, value) = engine::read(self.engine.as_ref(), |s| Ok((s.epoch()?, f(s)?)))?;
        // A read-only store commits nothing; what it reads was made durable by a writer
        // (a database's writer elsewhere may be far ahead of this store's own epoch).
        if !self.engine.read_only() {
            self.committer.wait_durable(epoch)?;
        }
        Ok(value)
    }

    /// Applies one control-tower change and returns the payment's new state, shared with
    /// the writer's cache and subscribers (the C ABI converts it without a copy).
    pub(crate) fn change(&self, hash: &PaymentHash, change: Change) -> Result<Arc<Payment>> {
        let hash = *hash;
        let what = match change {
            Change::Init(_) => "init_payment",
            Change::Register(_) => "register_attempt",
            Change::Settle(..) => "settle_attempt",
            Change::FailAttempt(..) => "fail_attempt",
            Change::FailPayment(_) => "fail_payment",
        };
        // Inputs are checked and encoded here, on the caller's thread.
        let op: Op = match change {
            Change::Init(info) => {
                validate_creation_info(&info)?;
                let encoded = codec::encode_creation(&info);
                check_operation_size("creation info", encoded.len())?;
                Box::new(move |w, view| ops::init(w, view, &hash, &info, &encoded).map(Some))
            }
            Change::Register(attempt) => {
                validate_attempt_shape(&attempt)?;
                let encoded = codec::encode_attempt(&attempt);
                check_operation_size("attempt", encoded.len())?;
                Box::new(move |w, view| ops::register(w, view, &hash, &attempt, &encoded).map(Some))
            }
            Change::Settle(id, settle) => {
                let encoded = codec::encode_settle(&settle);
                check_operation_size("settle info", encoded.len())?;
                Box::new(move |w, view| {
                    ops::settle(w, view, &hash, id, &settle, &encoded).map(Some)
                })
            }
            Change::FailAttempt(id, fail) => {
                let encoded = codec::encode_fail(&fail);
                check_operation_size("failure info", encoded.len())?;
                Box::new(move |w, view| {
                    ops::fail_attempt(w, view, &hash, id, &fail, &encoded).map(Some)
                })
            }
            Change::FailPayment(reason) => {
                Box::new(move |w, view| ops::fail_payment(w, view, &hash, reason).map(Some))
            }
        };
        self.write(what, Some(hash), op)?
            .ok_or_else(|| Error::Internal("operation returned no payment".into()))
    }

    fn change_owned(&self, hash: &PaymentHash, change: Change) -> Result<Payment> {
        let p = self.change(hash, change)?;
        // Shared with the cache or subscribers: copy only when one holds it.
        Ok(Arc::try_unwrap(p).unwrap_or_else(|p| (*p).clone()))
    }

    /// Records a new payment (or restarts a failed one) and returns its state.
    pub fn init_payment(&self, hash: &PaymentHash, info: CreationInfo) -> Result<Payment> {
        self.change_owned(hash, Change::Init(info))
    }

    /// Records a new HTLC attempt.
    pub fn register_attempt(&self, hash: &PaymentHash, attempt: AttemptInfo) -> Result<Payment> {
        self.change_owned(hash, Change::Register(attempt))
    }

    /// Records an attempt's success; the preimage must hash to the attempt's hash.
    pub fn settle_attempt(
        &self,
        hash: &PaymentHash,
        attempt_id: u64,
        settle: SettleInfo,
    ) -> Result<Payment> {
        self.change_owned(hash, Change::Settle(attempt_id, settle))
    }

    /// Records an attempt's failure.
    pub fn fail_attempt(
        &self,
        hash: &PaymentHash,
        attempt_id: u64,
        fail: FailInfo,
    ) -> Result<Payment> {
        self.change_owned(hash, Change::FailAttempt(attempt_id, fail))
    }

    /// Records (or overwrites) the payment's failure reason.
    pub fn fail_payment(&self, hash: &PaymentHash, reason: FailureReason) -> Result<Payment> {
        self.change_owned(hash, Change::FailPayment(reason))
    }

    pub fn fetch_payment(&self, hash: &PaymentHash) -> Result<Payment> {
        self.read(|s| s.payment(hash)?.ok_or(Error::PaymentNotInitiated))
    }

    /// Every INITIATED or IN_FLIGHT payment, in sequence order (start-up resume).
    pub fn fetch_inflight_payments(&self) -> Result<Vec<Payment>> {
        self.read(|s| s.inflight())
    }

    /// Imports whole payments in their final state, keeping their sequence numbers, in
    /// durable chunks of `IMPORT_CHUNK`. Never overwrites: a payment whose hash or
    /// sequence number is taken, or that breaks the model's rules, is refused and listed
    /// in the report with its error; the others are imported. Later payments get sequence
    /// numbers above every imported one. A storage error fails the call; the chunks
    /// committed before it stay.
    pub fn import_payments(&self, payments: Vec<ImportPayment>) -> Result<ImportReport> {
        self.check_writable("import_payments")?;
        import::import(payments, |op| {
            self.write("import_payments", None, op).map(|_| ())
        })
    }

    /// Removes the failed attempts of a payment that is not in flight.
    pub fn delete_failed_attempts(&self, hash: &PaymentHash) -> Result<()> {
        self.delete_payment(hash, true)
    }

    /// Removes a payment (or only its failed attempts); in-flight payments are refused.
    pub fn delete_payment(&self, hash: &PaymentHash, failed_attempts_only: bool) -> Result<()> {
        let hash = *hash;
        self.write(
            "delete_payment",
            Some(hash),
            Box::new(move |w, view| {
                ops::delete_by_hash(w, view, &hash, failed_attempts_only).map(|()| None)
            }),
        )?;
        if !failed_attempts_only {
            self.registry.deleted(&hash);
        }
        Ok(())
    }

    /// Applies `delete_payment` to every payment that is not in flight (only FAILED ones
    /// with `failed_only`), in chunks of at most `DELETE_CHUNK` payments that each are one
    /// operation of the writer's batch; returns how many payments it removed. A crash
    /// midway leaves a consistent store; calling again finishes the job.
    pub fn delete_payments(&self, failed_only: bool, failed_attempts_only: bool) -> Result<u64> {
        self.check_writable("delete_payments")?;
        let mut deleted = 0u64;
        let mut cursor = 0u64;
        while let Some((chunk, last)) = self.read(|s| delete::next_chunk(s, cursor, failed_only))? {
            cursor = last;
            if chunk.is_empty() {
                continue;
            }
            let gone = Arc::new(Mutex::new(Vec::new()));
            let op = delete::chunk_op(chunk, failed_only, failed_attempts_only, gone.clone());
            self.write("delete_payments", None, op)?;
            for hash in lock(&gone).iter() {
                deleted += 1;
                self.registry.deleted(hash);
            }
        }
        Ok(deleted)
    }

    pub fn query_payments(&self, query: &Query) -> Result<QueryResponse> {
        self.read(|s| s.query(query))
    }

    /// Payments per status, from counters kept in the same transactions as the changes.
    pub fn payment_counts(&self) -> Result<PaymentCounts> {
        self.read(|s| s.counts())
    }

    /// Reclaims file space freed by deletions; other calls wait meanwhile.
    pub fn compact(&self) -> Result<()> {
        self.check_writable("compact")?;
        self.engine.compact()
    }

    /// Writes a consistent, compact copy of the store to `dest`, a path that must not
    /// exist, while the life cycle goes on. The copy holds every operation acknowledged
    /// before the call (mission-control results still queued are not); it is fsynced,
    /// file and directory, and takes its name only when complete: until then it is
    /// `<dest>.partial`, which a later backup to `dest` starts over. Open the copy like
    /// any store.
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<()> {
        self.check_open()?;
        self.engine.backup(dest.as_ref(), &mut |snapshot| {
            // Only durable operations are acknowledged; the snapshot may show a batch
            // a moment before its fsync ends.
            self.committer.wait_durable(snapshot.epoch()?)
        })
    }

    /// Streams this payment's states: the current one first, then one per change, ending
    /// after the terminal state.
    pub fn subscribe_payment(&self, hash: &PaymentHash) -> Result<Subscription> {
        self.check_open()?;
        let sub = self.registry.register(Some(*hash));
        let (epoch, payment) = self.read(|s| Ok((s.epoch()?, s.payment(hash)?)))?;
        let payment = payment.ok_or(Error::PaymentNotInitiated)?;
        sub.prime(epoch, vec![payment]);
        Ok(sub)
    }

    /// Streams the state of every non-terminal payment, then every change of every
    /// payment, until closed.
    pub fn subscribe_all_payments(&self) -> Result<Subscription> {
        self.check_open()?;
        let sub = self.registry.register(None);
        let (epoch, inflight) = self.read(|s| Ok((s.epoch()?, s.inflight()?)))?;
        sub.prime(epoch, inflight);
        Ok(sub)
    }

    /// Opens a mission-control namespace (docs/behaviour.md, Mission control) in this
    /// store's file; `Locked` if it is already open on this store.
    pub fn open_mission_control(
        &self,
        namespace: &str,
        options: McOptions,
    ) -> Result<MissionControl> {
        self.check_open()?;
        MissionControl::open(
            self.engine.mission_control()?,
            &self.namespaces,
            namespace,
            options,
        )
    }

    /// Cross-checks every index and counter against the payment records in one snapshot;
    /// `Corrupt` names the first violation. Reads the whole store.
    pub fn check_integrity(&self) -> Result<IntegrityReport> {
        self.read(|s| s.check_integrity())
    }

    /// Commit counters: how well group commit coalesces.
    pub fn commit_stats(&self) -> CommitStats {
        self.committer.stats()
    }

    /// Closes every mission-control handle (each stores what it queued), finishes
    /// queued writes, ends subscriptions and releases the file. Idempotent; later calls
    /// on this store fail with `Closed`.
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mission_control = self.namespaces.close_all();
        self.committer.shutdown();
        self.registry.close_all();
        let engine = self.engine.close();
        mission_control.and(engine)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Errors on an implicit close have no one to go to; explicit `close` reports them.
        let _ = self.close();
    }
}
