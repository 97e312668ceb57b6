//! Read-only opens: the store file behind an in-memory scratch layer, so that redb's own
//! writes at open (recovery after a crash, the replayed write-ahead log, its closing
//! commit) land in memory and never reach the file, which may sit on read-only media.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;

use redb::backends::FileBackend;
use redb::StorageBackend;

use crate::backend::wal::LogFile;
use crate::error::{Error, Result};
use crate::sync::lock;

/// The scratch layer's unit: a block is copied from the file on its first write.
const BLOCK: u64 = 4096;

/// A store file opened read-only, with every write kept in memory.
///
/// redb is handed no locks (it then locks nothing itself): the file holds one shared
/// lock over its whole length, taken at open, which excludes a writer and admits other
/// read-only opens.
pub(super) struct ScratchFile {
    file: FileBackend,
    state: Mutex<Scratch>,
}

struct Scratch {
    /// The length redb sees.
    len: u64,
    /// Bytes at and past this offset are never read from the file (redb shrank the
    /// storage once; growing it again must read zeros).
    file_len: u64,
    /// Written blocks, by block number.
    blocks: HashMap<u64, Box<[u8]>>,
}

impl fmt::Debug for ScratchFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScratchFile").finish_non_exhaustive()
    }
}

impl ScratchFile {
    /// Opens `path` for reading and takes the shared lock; `Locked` while a writer has it.
    pub(super) fn open(path: &Path) -> Result<ScratchFile> {
        let file = std::fs::File::open(path)
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
        let len = file
            .metadata()
            .map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))?
            .len();
        if len == 0 {
            // A store file always has redb's header; an empty one never held a store.
            return Err(Error::Corrupt(format!(
                "{} is empty: not an lnpaystore store",
                path.display()
            )));
        }
        let file = FileBackend::new(file).map_err(|e| Error::Io(e.to_string()))?;
        let locked = file
            .try_lock_shared_range(Bound::Unbounded, Bound::Unbounded)
            .map_err(|e| Error::Io(format!("cannot lock {}: {e}", path.display())))?;
        if !locked {
            return Err(Error::Locked(format!(
                "{} is open for writing in another process or handle",
                path.display()
            )));
        }
        Ok(ScratchFile {
            file,
            state: Mutex::new(Scratch {
                len,
                file_len: len,
                blocks: HashMap::new(),
            }),
        })
    }
}

impl Scratch {
    /// The block's current bytes (zeros past the file's visible end).
    fn load(&self, file: &FileBackend, block: u64) -> io::Result<Box<[u8]>> {
        let mut bytes = vec![0u8; BLOCK as usize].into_boxed_slice();
        let start = block * BLOCK;
        let end = (start + BLOCK).min(self.file_len);
        if start < end {
            file.read(start, &mut bytes[..(end - start) as usize])?;
        }
        Ok(bytes)
    }
}

impl StorageBackend for ScratchFile {
    fn len(&self) -> io::Result<u64> {
        Ok(lock(&self.state).len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let state = lock(&self.state);
        let end = offset + out.len() as u64;
        if end > state.len {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        // Block by block: from the scratch layer if written, else from the file (zeros
        // past what the file may show).
        let mut at = offset;
        while at < end {
            let block = at / BLOCK;
            let next = ((block + 1) * BLOCK).min(end);
            let dst = &mut out[(at - offset) as usize..(next - offset) as usize];
            match state.blocks.get(&block) {
                Some(bytes) => {
                    let from = (at - block * BLOCK) as usize;
                    dst.copy_from_slice(&bytes[from..from + dst.len()]);
                }
                None => {
                    let visible = next.min(state.file_len).max(at);
                    let (file_part, zeros) = dst.split_at_mut((visible - at) as usize);
                    if !file_part.is_empty() {
                        self.file.read(at, file_part)?;
                    }
                    zeros.fill(0);
                }
            }
            at = next;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut state = lock(&self.state);
        if len < state.len {
            state.file_len = state.file_len.min(len);
            let first_gone = len.div_ceil(BLOCK);
            state.blocks.retain(|&b, _| b < first_gone);
            // The kept tail of a partial last block must read as zeros if regrown.
            if len % BLOCK != 0 {
                let block = len / BLOCK;
                if let Some(bytes) = state.blocks.get_mut(&block) {
                    bytes[(len % BLOCK) as usize..].fill(0);
                }
            }
        }
        state.len = len;
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut state = lock(&self.state);
        let end = offset + data.len() as u64;
        let mut at = offset;
        while at < end {
            let block = at / BLOCK;
            let next = ((block + 1) * BLOCK).min(end);
            if !state.blocks.contains_key(&block) {
                let bytes = state.load(&self.file, block)?;
                state.blocks.insert(block, bytes);
            }
            let from = (at - block * BLOCK) as usize;
            let src = &data[(at - offset) as usize..(next - offset) as usize];
            if let Some(bytes) = state.blocks.get_mut(&block) {
                bytes[from..from + src.len()].copy_from_slice(src);
            }
            at = next;
        }
        state.len = state.len.max(end);
        Ok(())
    }

    fn close(&self) -> io::Result<()> {
        // Releases the shared lock.
        self.file.close()
    }
}

/// The write-ahead log of a read-only open: read once, never written. Replay applies
/// it to the scratch layer; the file stays as it is for the next writable open.
#[derive(Debug)]
pub(super) struct ReadOnlyLog {
    bytes: Vec<u8>,
}

impl ReadOnlyLog {
    /// Reads `<store>-log` if there is one.
    pub(super) fn read(store: &Path) -> Result<ReadOnlyLog> {
        let mut name = store.as_os_str().to_owned();
        name.push("-log");
        let path = std::path::PathBuf::from(name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::Io(format!("cannot read {}: {e}", path.display()))),
        };
        Ok(ReadOnlyLog { bytes })
    }
}

impl LogFile for ReadOnlyLog {
    fn append(&self, _: &[u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the store is open read-only",
        ))
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    /// Replay's "start over": the records stay in the file, applied in memory only.
    fn reset(&self) -> io::Result<()> {
        Ok(())
    }

    fn read_all(&self) -> io::Result<Vec<u8>> {
        Ok(self.bytes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_over(content: &[u8]) -> (tempfile::TempDir, ScratchFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, content).unwrap();
        let scratch = ScratchFile::open(&path).unwrap();
        (dir, scratch)
    }

    fn read(s: &ScratchFile, offset: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0xAA; len];
        s.read(offset, &mut out).unwrap();
        out
    }

    #[test]
    fn writes_stay_in_memory_and_read_back_across_blocks() {
        let content: Vec<u8> = (0..3 * BLOCK).map(|i| i as u8).collect();
        let (dir, s) = scratch_over(&content);
        s.write(BLOCK - 2, &[1, 2, 3, 4]).unwrap();
        let mut expected = content.clone();
        expected[BLOCK as usize - 2..BLOCK as usize + 2].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(read(&s, 0, 3 * BLOCK as usize), expected);
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), content);
    }

    #[test]
    fn shrinking_then_growing_reads_zeros_not_the_file() {
        let content = vec![7u8; 2 * BLOCK as usize];
        let (_dir, s) = scratch_over(&content);
        s.write(10, &[9]).unwrap();
        s.set_len(100).unwrap();
        s.set_len(2 * BLOCK).unwrap();
        let got = read(&s, 0, 2 * BLOCK as usize);
        assert_eq!(&got[..10], &[7u8; 10]);
        assert_eq!(got[10], 9);
        assert!(got[100..].iter().all(|&b| b == 0));
        // Past the end is an error, as for a file backend.
        let mut out = [0u8; 1];
        assert!(s.read(2 * BLOCK, &mut out).is_err());
    }

    #[test]
    fn a_second_read_only_open_shares_the_lock() {
        let (dir, _s) = scratch_over(&[1; 10]);
        assert!(ScratchFile::open(&dir.path().join("f")).is_ok());
    }

    #[test]
    fn an_empty_file_is_not_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(ScratchFile::open(&path), Err(Error::Corrupt(_))));
    }
}
