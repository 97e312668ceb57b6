//! Table names, the schema version and the migration runner (engine-independent).

use super::{Backend, WriteTx};
use crate::error::{Error, Result};

/// Store-wide values: schema version, next sequence number, commit epoch.
pub const META: &str = "meta";
/// Per-status payment counters (status byte → u64).
pub const COUNTERS: &str = "counters";
/// Payment hash → sequence number: the one random-key insert per payment.
pub const HASH_INDEX: &str = "hash_index";
/// Every payment record keyed by sequence number first, so a payment is contiguous and a
/// batch of new payments dirties few pages.
pub const RECORDS: &str = "records";
/// Sequence numbers of non-terminal payments (start-up resume).
pub const INFLIGHT: &str = "inflight";
/// (creation time, sequence number) → (): date-window queries seek here.
pub const CREATION_INDEX: &str = "creation_index";
/// Hashes of deleted payments that had settled: `init_payment` stays `ALREADY_PAID`.
pub const TOMBSTONES: &str = "paid_tombstones";

/// Mission-control results of every namespace: (namespace length ‖ namespace ‖ result
/// key) → the result's TLV encoding.
pub const MC_RESULTS: &str = "mc_results";

pub const TABLES: [&str; 8] = [
    META,
    COUNTERS,
    HASH_INDEX,
    RECORDS,
    INFLIGHT,
    CREATION_INDEX,
    TOMBSTONES,
    MC_RESULTS,
];

/// Tables every operation rewrites the same few keys of; a batch keeps them in an
/// `Overlay` and writes them once.
pub const HOT_TABLES: &[&str] = &[META, COUNTERS];

pub const KEY_SCHEMA_VERSION: &[u8] = b"schema_version";
pub const KEY_NEXT_SEQUENCE: &[u8] = b"next_sequence";
pub const KEY_EPOCH: &[u8] = b"epoch";

/// The schema this library writes.
pub const SCHEMA_VERSION: u64 = 1;

/// One migration step: upgrades a store from version `n` to `n + 1`, where `n` is the
/// step's index plus one.
pub type Migration = fn(&mut dyn WriteTx) -> Result<()>;

/// Migrations in order; `MIGRATIONS[i]` upgrades version `i + 1` to `i + 2`.
pub const MIGRATIONS: &[Migration] = &[];

/// Whether a file's metadata makes it a store this library may open, judged before
/// anything is written to it: `version` is its schema version, `tables` every table it
/// holds. A file with no tables at all is a new store.
pub fn recognise(version: Option<u64>, tables: &[String]) -> Result<()> {
    match version {
        Some(0) => Err(Error::corrupt("schema version 0")),
        Some(found) if found > SCHEMA_VERSION => Err(Error::Version {
            found,
            supported: SCHEMA_VERSION,
            file: String::new(),
        }),
        Some(_) => Ok(()),
        None if tables.is_empty() => Ok(()),
        None => Err(Error::corrupt(format!(
            "not an lnpaystore store: it has no store metadata and holds other tables ({})",
            tables.join(", ")
        ))),
    }
}

pub fn get_u64(tx: &dyn super::ReadTx, table: &str, key: &[u8]) -> Result<Option<u64>> {
    match tx.get(table, key)? {
        None => Ok(None),
        Some(v) => <[u8; 8]>::try_from(v.as_slice())
            .map(|b| Some(u64::from_be_bytes(b)))
            .map_err(|_| Error::corrupt(format!("{table} value is not a u64"))),
    }
}

pub fn put_u64(tx: &mut dyn WriteTx, table: &str, key: &[u8], v: u64) -> Result<()> {
    tx.put(table, key, &v.to_be_bytes())
}

/// Creates a new store's tables or brings an older one up to `SCHEMA_VERSION`, in one
/// transaction: a failed migration changes nothing.
pub fn prepare(backend: &dyn Backend) -> Result<()> {
    prepare_with(backend, SCHEMA_VERSION, MIGRATIONS)
}

pub(crate) fn prepare_with(
    backend: &dyn Backend,
    current: u64,
    migrations: &[Migration],
) -> Result<()> {
    // Look before writing: a store that is current or too new needs no write transaction.
    match super::read(backend, |tx| get_u64(tx, META, KEY_SCHEMA_VERSION))? {
        Some(v) if v == current => return Ok(()),
        Some(found) if found > current => {
            return Err(Error::Version {
                found,
                supported: current,
                file: String::new(),
            })
        }
        _ => {}
    }
    super::update(backend, |tx| {
        let found = get_u64(tx, META, KEY_SCHEMA_VERSION)?;
        let found = match found {
            None if tx.count(RECORDS)? == 0 && tx.count(HASH_INDEX)? == 0 => {
                put_u64(tx, META, KEY_SCHEMA_VERSION, current)?;
                put_u64(tx, META, KEY_NEXT_SEQUENCE, 1)?;
                return Ok(());
            }
            None => return Err(Error::corrupt("store has payments but no schema version")),
            Some(v) => v,
        };
        if found > current {
            return Err(Error::Version {
                found,
                supported: current,
                file: String::new(),
            });
        }
        if found == 0 {
            return Err(Error::corrupt("schema version 0"));
        }
        for version in found..current {
            let step = migrations.get((version - 1) as usize).ok_or_else(|| {
                Error::Internal(format!("no migration from schema version {version}"))
            })?;
            step(tx)?;
        }
        if found != current {
            put_u64(tx, META, KEY_SCHEMA_VERSION, current)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{read, RedbBackend, RedbConfig};

    fn backend() -> (tempfile::TempDir, RedbBackend) {
        let dir = tempfile::tempdir().unwrap();
        let b = RedbBackend::open(&dir.path().join("m.db"), RedbConfig::default()).unwrap();
        prepare_with(&b, 1, &[]).unwrap();
        (dir, b)
    }

    fn version(b: &RedbBackend) -> Option<u64> {
        read(b, |tx| get_u64(tx, META, KEY_SCHEMA_VERSION)).unwrap()
    }

    fn mark(tx: &mut dyn WriteTx, key: &[u8]) -> Result<()> {
        let order = tx.count(COUNTERS)?;
        put_u64(tx, "migration_log", key, order)?;
        tx.put(COUNTERS, key, &[])
    }

    #[test]
    fn migrations_run_in_order_once() {
        let (_dir, b) = backend();
        let steps: &[Migration] = &[|tx| mark(tx, b"to2"), |tx| mark(tx, b"to3")];
        prepare_with(&b, 3, steps).unwrap();
        assert_eq!(version(&b), Some(3));
        let log = |k: &[u8]| read(&b, |tx| get_u64(tx, "migration_log", k)).unwrap();
        assert_eq!((log(b"to2"), log(b"to3")), (Some(0), Some(1)));
        // Already current: nothing runs again.
        let fail: Migration = |_| Err(Error::Internal("ran twice".into()));
        prepare_with(&b, 3, &[fail, fail]).unwrap();
    }

    #[test]
    fn a_failing_migration_changes_nothing() {
        let (_dir, b) = backend();
        let steps: &[Migration] = &[
            |tx| mark(tx, b"to2"),
            |_| Err(Error::Corrupt("cannot upgrade".into())),
        ];
        assert!(matches!(prepare_with(&b, 3, steps), Err(Error::Corrupt(_))));
        assert_eq!(version(&b), Some(1));
        assert_eq!(
            read(&b, |tx| get_u64(tx, "migration_log", b"to2")).unwrap(),
            None
        );
    }

    #[test]
    fn newer_versions_are_refused() {
        let (_dir, b) = backend();
        assert_eq!(
            prepare_with(&b, 0, &[]),
            Err(Error::Version {
                found: 1,
                supported: 0,
                file: String::new(),
            })
        );
    }
}
