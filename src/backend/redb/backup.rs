//! The online backup: one read snapshot copied table by table into a new redb file,
//! while the writer goes on. The copy is written under a temporary name, made durable,
//! and only then linked to its destination, so a partial copy never carries the name.

use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use redb::backends::FileBackend;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, StorageBackend, TableDefinition,
    TableHandle,
};

use super::errors::map_err;
use super::guard::guarded;
use super::tx::RedbRead;
use super::RedbBackend;
use crate::backend::ReadTx;
use crate::error::{Error, Result};

type Bytes = &'static [u8];

/// Bytes of keys and values per transaction of the copy: bounds the copy's memory.
const CHUNK_BYTES: usize = 8 << 20;

/// The copy's page cache: it is written once, never read back.
const COPY_CACHE_BYTES: usize = 16 << 20;

/// Written bytes after which the copy asks the kernel to start writing them out, so
/// the final fsync is short and does not hold up the store's own log fsyncs.
const WRITEBACK_BYTES: u64 = 8 << 20;

impl RedbBackend {
    pub(super) fn backup_to(
        &self,
        dest: &Path,
        snapshot_taken: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
    ) -> Result<()> {
        refuse_existing(dest)?;
        let partial = sibling(dest, ".partial");
        // The read guard keeps compaction and close from dropping the database
        // under the snapshot; the life cycle goes on.
        let guard = self.db()?;
        let db = guard.as_ref().ok_or(Error::Closed)?;
        let snapshot = RedbRead::new(guarded("begin read", || db.begin_read().map_err(map_err))?);
        snapshot_taken(&snapshot)?;
        let file = PartialFile::create(&partial, dest)?;
        let copy = guarded("backup", || {
            redb::Builder::new()
                .set_cache_size(COPY_CACHE_BYTES)
                .create_with_backend(file)
                .map_err(|e| copy_error(&partial, map_err(e)))
        })?;
        let mut copy = copy;
        let copied = self.watch(guarded("backup", || copy_tables(&snapshot, &copy)));
        drop(snapshot);
        drop(guard);
        // Pages written in chunks leave gaps; compaction packs them (the copy is
        // private: nothing waits for it).
        let copied = copied.and_then(|()| {
            guarded("backup", || {
                while copy.compact().map_err(map_err)? {}
                Ok(())
            })
        });
        // redb's closing commit runs on drop; the fsync below covers it.
        drop(copy);
        copied.map_err(|e| copy_error(&partial, e))?;
        publish(&partial, dest)
    }
}

/// Copies every table of the snapshot, in chunks of non-durable transactions, then one
/// durable commit.
fn copy_tables(snapshot: &RedbRead, copy: &Database) -> Result<()> {
    let txn = snapshot.txn();
    for handle in txn.list_tables().map_err(map_err)? {
        let name = handle.name().to_string();
        let def: TableDefinition<Bytes, Bytes> = TableDefinition::new(&name);
        let table = txn.open_table(def).map_err(map_err)?;
        let mut entries = table.iter().map_err(map_err)?;
        let mut done = false;
        while !done {
            let mut chunk = copy.begin_write().map_err(map_err)?;
            chunk.set_durability(Durability::None).map_err(map_err)?;
            {
                let mut out = chunk.open_table(def).map_err(map_err)?;
                let mut bytes = 0;
                while bytes < CHUNK_BYTES {
                    let Some(entry) = entries.next() else {
                        done = true;
                        break;
                    };
                    let (k, v) = entry.map_err(map_err)?;
                    out.insert(k.value(), v.value()).map_err(map_err)?;
                    bytes += k.value().len() + v.value().len();
                }
            }
            chunk.commit().map_err(map_err)?;
        }
    }
    let last = copy.begin_write().map_err(map_err)?;
    last.commit().map_err(map_err)
}

/// A backup never replaces a file: neither the destination nor a log beside it, which
/// the copy's first open would replay.
fn refuse_existing(dest: &Path) -> Result<()> {
    for path in [dest.to_path_buf(), sibling(dest, "-log")] {
        if path.symlink_metadata().is_ok() {
            return Err(Error::invalid(format!(
                "backup destination {} exists; a backup never overwrites a file",
                path.display()
            )));
        }
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn copy_error(partial: &Path, e: Error) -> Error {
    match e {
        Error::Io(m) => Error::Io(format!("backup to {}: {m}", partial.display())),
        e => e,
    }
}

fn io_error(what: &str, path: &Path, e: io::Error) -> Error {
    Error::Io(format!("backup: cannot {what} {}: {e}", path.display()))
}

/// Makes the finished copy durable and gives it its name, which must still be free:
/// a hard link fails rather than replace a file that appeared meanwhile.
fn publish(partial: &Path, dest: &Path) -> Result<()> {
    File::open(partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("sync", partial, e))?;
    match std::fs::hard_link(partial, dest) {
        Ok(()) => std::fs::remove_file(partial).map_err(|e| io_error("remove", partial, e))?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::invalid(format!(
                "backup destination {} appeared during the backup; the copy is left at {}",
                dest.display(),
                partial.display()
            )));
        }
        // A file system without hard links: the name was free a moment ago.
        Err(_) => std::fs::rename(partial, dest).map_err(|e| io_error("rename", partial, e))?,
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync the directory of", dest, e))
}

/// The copy's file, `<dest>.partial`. It holds an exclusive lock of its own for the
/// whole backup (redb is given no locks), so a second backup to the same destination
/// is refused, and a leftover of a killed backup, which nothing locks, is started over.
#[derive(Debug)]
struct PartialFile {
    file: FileBackend,
    raw: File,
    written: std::sync::atomic::AtomicU64,
}

impl PartialFile {
    fn create(partial: &Path, dest: &Path) -> Result<PartialFile> {
        let raw = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(partial)
            .map_err(|e| io_error("create", partial, e))?;
        let file = FileBackend::new(raw.try_clone().map_err(|e| io_error("open", partial, e))?)
            .map_err(|e| Error::Io(e.to_string()))?;
        let locked = file
            .try_lock_range(Bound::Unbounded, Bound::Unbounded)
            .map_err(|e| Error::Io(format!("backup: cannot lock {}: {e}", partial.display())))?;
        if !locked {
            return Err(Error::invalid(format!(
                "a backup to {} is already running ({} is locked)",
                dest.display(),
                partial.display()
            )));
        }
        file.set_len(0)
            .map_err(|e| io_error("truncate", partial, e))?;
        Ok(PartialFile {
            file,
            raw,
            written: Default::default(),
        })
    }
}

impl StorageBackend for PartialFile {
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        use std::sync::atomic::Ordering;
        self.file.write(offset, data)?;
        let before = self.written.fetch_add(data.len() as u64, Ordering::Relaxed);
        if (before + data.len() as u64) / WRITEBACK_BYTES != before / WRITEBACK_BYTES {
            start_writeback(&self.raw);
        }
        Ok(())
    }

    fn close(&self) -> io::Result<()> {
        self.file.close()
    }
}

/// Starts writing the file's dirty pages without waiting (a hint; errors surface in
/// the fsync).
fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain system call on a descriptor the caller owns; offset and
        // length 0 mean the whole file.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}
