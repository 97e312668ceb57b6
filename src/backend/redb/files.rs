//! The store's files seen from outside redb: recognising a store before opening it for
//! writing, the lock on its log, and the directory entries of new files.
//!
//! redb writes to a file as soon as it opens it writable, and again when it closes it,
//! so a file that is to be refused (a newer schema, bad metadata, another program's
//! database) is judged through a read-only open first, which cannot write.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, TableHandle};

use super::errors::map_err;
use super::guard::guarded;
use super::tx::RedbRead;
use crate::backend::schema::{self, get_u64, KEY_SCHEMA_VERSION, META};
use crate::error::{Error, Result};

/// The write-ahead log beside a store file: `<store>-log`.
pub(super) fn log_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push("-log");
    PathBuf::from(name)
}

fn io_error(e: io::Error) -> Error {
    Error::Io(e.to_string())
}

/// Takes a `flock` without waiting: `false` when another open file holds one that
/// conflicts (in this process or another). A file system without `flock` counts as
/// unlocked: redb's own lock on the store file still refuses a second opener there.
fn try_flock(file: &File, operation: libc::c_int) -> bool {
    // SAFETY: a plain system call on a descriptor `file` owns.
    match unsafe { libc::flock(file.as_raw_fd(), operation | libc::LOCK_NB) } {
        0 => true,
        _ => io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock,
    }
}

/// Looks at an existing file before it is opened for writing, without writing to it:
/// `Locked` if a store (or a store's log) holds it, `Corrupt` if it is not an
/// lnpaystore store, `Version` if a newer library wrote it. A missing or empty file is
/// a new store. A store that was not closed cleanly cannot be read without the repair
/// a writable open runs; it passes here and is judged after that repair.
pub(super) fn check_store_file(path: &Path) -> Result<()> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(e)),
    };
    // Every open store holds its file and its log with an exclusive lock.
    if !try_flock(&file, libc::LOCK_SH) {
        return Err(Error::Locked(
            "open in another process or handle (as a store or a store's log)".into(),
        ));
    }
    if file.metadata().map_err(io_error)?.len() == 0 {
        return Ok(());
    }
    drop(file); // releases the probe's lock before redb takes its own
    guarded("check", || {
        let db = match redb::Builder::new().open_read_only(path) {
            Ok(db) => db,
            Err(redb::DatabaseError::RepairAborted) => return Ok(()),
            Err(e) => return Err(unreadable(e.into())),
        };
        let txn = db.begin_read().map_err(map_err)?;
        let tables: Vec<String> = txn
            .list_tables()
            .map_err(map_err)?
            .map(|t| t.name().to_string())
            .collect();
        let version = get_u64(&RedbRead::new(txn), META, KEY_SCHEMA_VERSION).map_err(|_| {
            Error::corrupt("not an lnpaystore store: its metadata has another layout")
        })?;
        schema::recognise(version, &tables)
    })
}

/// A file redb cannot even open read-only, in the library's words.
fn unreadable(e: redb::Error) -> Error {
    match e {
        redb::Error::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Error::corrupt("not an lnpaystore store (or its header is damaged)")
        }
        redb::Error::UpgradeRequired(_) => {
            Error::corrupt("not an lnpaystore store: a file format this library does not read")
        }
        e => map_err(e),
    }
}

/// The lock on a store's log, held while the store is open: no second store can open
/// the log as a store file (nor a store whose log some other store holds).
pub(super) struct LogLock(File);

impl LogLock {
    pub(super) fn take(store: &Path) -> Result<LogLock> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(log_path(store))
            .map_err(|e| Error::Io(format!("write-ahead log: cannot open: {e}")))?;
        match try_flock(&file, libc::LOCK_EX) {
            true => Ok(LogLock(file)),
            false => Err(Error::Locked(format!(
                "its write-ahead log {} is open as another store",
                log_path(store).display()
            ))),
        }
    }
}

impl Drop for LogLock {
    fn drop(&mut self) {
        // Released explicitly: a forked child may share the open file, which would keep
        // the lock alive after this descriptor is closed.
        // SAFETY: as in `try_flock`.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Makes new directory entries (a created store file, its log) durable: POSIX asks for
/// an fsync of the directory, not only of the files.
pub(super) fn sync_parent(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| Error::Io(format!("cannot sync directory {}: {e}", parent.display())))?;
    #[cfg(test)]
    SYNCED_DIRS.with(|d| d.borrow_mut().push(parent.to_path_buf()));
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// Directories this thread synced (opens run on the caller's thread).
    static SYNCED_DIRS: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, RedbBackend, RedbConfig};

    #[test]
    fn opening_a_new_store_syncs_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        SYNCED_DIRS.with(|d| d.borrow_mut().clear());
        let b = RedbBackend::open(&dir.path().join("new.db"), RedbConfig::default()).unwrap();
        assert!(log_path(&dir.path().join("new.db")).exists());
        let synced = SYNCED_DIRS.with(|d| d.borrow().clone());
        assert_eq!(synced, [dir.path().to_path_buf()]);
        b.close().unwrap();
    }
}
