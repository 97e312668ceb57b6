//! The write-ahead log's record format: what a batch changed, framed and checksummed.
//!
//! A record is `MAGIC ‖ lsn ‖ synced ‖ payload length ‖ payload ‖ checksum`, integers
//! little-endian, the checksum the first 16 bytes of SHA-256 over everything before it.
//! `lsn` numbers records consecutively across the store's life; `synced` is the highest
//! lsn whose fsync had finished when the record was written. The payload is a list of
//! changes (`Change`).
//!
//! Recovery reads the longest run of good, consecutive records. A record that is bad
//! (torn by a crash, or damaged) ends the log there, unless a good record after it says
//! the bad one had been synced: then an acknowledged batch is unreadable and the store
//! is `Corrupt`. A torn tail was never acknowledged (a batch is answered only after its
//! record's fsync), so dropping it loses nothing a caller was told.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const MAGIC: [u8; 8] = *b"LPSLOG\x01\x00";
const HEADER: usize = 8 + 8 + 8 + 4;
const CHECKSUM: usize = 16;
/// A record's payload is one batch; anything larger is a damaged length.
const MAX_PAYLOAD: usize = 1 << 30;

const PUT: u8 = 1;
const DELETE: u8 = 2;
const CLEAR: u8 = 3;

/// One change a batch made, as replay applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'a> {
    Put {
        table: &'a str,
        key: &'a [u8],
        value: &'a [u8],
    },
    Delete {
        table: &'a str,
        key: &'a [u8],
    },
    Clear {
        table: &'a str,
    },
}

/// Collects a batch's changes into a payload.
#[derive(Debug, Default)]
pub struct Recorder {
    payload: Vec<u8>,
}

impl Recorder {
    pub fn put(&mut self, table: &str, key: &[u8], value: &[u8]) {
        self.payload.push(PUT);
        self.name(table);
        self.bytes(key);
        self.bytes(value);
    }

    pub fn delete(&mut self, table: &str, key: &[u8]) {
        self.payload.push(DELETE);
        self.name(table);
        self.bytes(key);
    }

    pub fn clear(&mut self, table: &str) {
        self.payload.push(CLEAR);
        self.name(table);
    }

    /// The framed record.
    pub fn frame(&self, lsn: u64, synced: u64) -> Vec<u8> {
        let payload = &self.payload;
        let mut out = Vec::with_capacity(HEADER + payload.len() + CHECKSUM);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&lsn.to_le_bytes());
        out.extend_from_slice(&synced.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(payload);
        let sum = checksum(&out);
        out.extend_from_slice(&sum);
        out
    }

    fn name(&mut self, table: &str) {
        // Table names are short constants of this crate.
        let name = &table.as_bytes()[..table.len().min(255)];
        self.payload.push(name.len() as u8);
        self.payload.extend_from_slice(name);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.payload
            .extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.payload.extend_from_slice(b);
    }
}

fn checksum(covered: &[u8]) -> [u8; CHECKSUM] {
    let digest = Sha256::digest(covered);
    let mut out = [0; CHECKSUM];
    out.copy_from_slice(&digest[..CHECKSUM]);
    out
}

/// A good record read back.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub lsn: u64,
    pub synced: u64,
    pub payload: &'a [u8],
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// The good record starting at the beginning of `b`, and its length; `None` when there
/// is none there.
fn decode(b: &[u8]) -> Option<(Record<'_>, usize)> {
    if b.len() < HEADER + CHECKSUM || b[..8] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes([b[24], b[25], b[26], b[27]]) as usize;
    let end = HEADER + len;
    if len > MAX_PAYLOAD || b.len() < end + CHECKSUM {
        return None;
    }
    if checksum(&b[..end]) != b[end..end + CHECKSUM] {
        return None;
    }
    let record = Record {
        lsn: u64_at(b, 8),
        synced: u64_at(b, 16),
        payload: &b[HEADER..end],
    };
    Some((record, end + CHECKSUM))
}

/// The records to replay over a store whose last applied lsn is `applied`: the good,
/// consecutive records after it, in order. `Corrupt` when a record that had been synced
/// cannot be read, or when records are missing between `applied` and the log.
pub fn records_to_replay(log: &[u8], applied: u64) -> Result<Vec<Record<'_>>> {
    let mut records: Vec<Record<'_>> = Vec::new();
    let mut at = 0;
    while at < log.len() {
        match decode(&log[at..]) {
            Some((r, len)) if records.last().is_none_or(|last| r.lsn == last.lsn + 1) => {
                records.push(r);
                at += len;
            }
            _ => break,
        }
    }
    if at < log.len() {
        // The log ends here. The first lsn not read: if a later record (found by its
        // magic) says it was synced, an acknowledged batch is lost.
        let missing = records.last().map_or(applied + 1, |r| r.lsn + 1);
        let mut from = at + 1;
        while let Some(i) = find_magic(&log[from..]) {
            if let Some((r, _)) = decode(&log[from + i..]) {
                if r.lsn > missing && r.synced >= missing {
                    return Err(Error::corrupt(format!(
                        "write-ahead log: record {missing} had been synced but is unreadable \
                         (at byte {at})"
                    )));
                }
            }
            from += i + 1;
        }
    }
    records.retain(|r| r.lsn > applied);
    match records.first() {
        Some(first) if first.lsn != applied + 1 => Err(Error::corrupt(format!(
            "write-ahead log starts at record {} but the store has only {applied}",
            first.lsn
        ))),
        _ => Ok(records),
    }
}

fn find_magic(b: &[u8]) -> Option<usize> {
    b.windows(MAGIC.len()).position(|w| w == MAGIC)
}

/// Reads a payload's changes, in order.
pub fn changes(payload: &[u8]) -> Result<Vec<Change<'_>>> {
    let mut r = Reader(payload);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let tag = r.take(1)?[0];
        let table = r.name()?;
        out.push(match tag {
            PUT => Change::Put {
                table,
                key: r.bytes()?,
                value: r.bytes()?,
            },
            DELETE => Change::Delete {
                table,
                key: r.bytes()?,
            },
            CLEAR => Change::Clear { table },
            t => return Err(Error::corrupt(format!("write-ahead log: change type {t}"))),
        });
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::corrupt("write-ahead log: change cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn name(&mut self) -> Result<&'a str> {
        let n = self.take(1)?[0] as usize;
        std::str::from_utf8(self.take(n)?)
            .map_err(|_| Error::corrupt("write-ahead log: table name is not UTF-8"))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let b = self.take(4)?;
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(lsn: u64, synced: u64) -> Vec<u8> {
        let mut r = Recorder::default();
        r.put("t", &lsn.to_be_bytes(), b"value");
        r.frame(lsn, synced)
    }

    fn lsns(log: &[u8], applied: u64) -> Result<Vec<u64>> {
        Ok(records_to_replay(log, applied)?
            .iter()
            .map(|r| r.lsn)
            .collect())
    }

    #[test]
    fn changes_round_trip() {
        let mut r = Recorder::default();
        r.put("payments", b"k", b"v");
        r.delete("index", b"");
        r.clear("meta");
        r.put("big", &[7; 300], &[]);
        let framed = r.frame(5, 4);
        let got = records_to_replay(&framed, 4).unwrap();
        assert_eq!((got[0].lsn, got[0].synced), (5, 4));
        assert_eq!(
            changes(got[0].payload).unwrap(),
            vec![
                Change::Put {
                    table: "payments",
                    key: b"k",
                    value: b"v"
                },
                Change::Delete {
                    table: "index",
                    key: b""
                },
                Change::Clear { table: "meta" },
                Change::Put {
                    table: "big",
                    key: &[7; 300],
                    value: &[]
                },
            ]
        );
        assert!(changes(&got[0].payload[..3]).is_err());
    }

    #[test]
    fn replays_only_records_after_the_applied_one() {
        let log = [record(3, 2), record(4, 3), record(5, 3)].concat();
        assert_eq!(lsns(&log, 2).unwrap(), [3, 4, 5]);
        assert_eq!(lsns(&log, 4).unwrap(), [5]);
        assert_eq!(lsns(&log, 9).unwrap(), Vec::<u64>::new());
        assert_eq!(lsns(&[], 9).unwrap(), Vec::<u64>::new());
        // Records 1 and 2 are missing.
        assert!(matches!(lsns(&log, 0), Err(Error::Corrupt(_))));
    }

    #[test]
    fn a_torn_tail_ends_the_log() {
        let whole = [record(1, 0), record(2, 0), record(3, 1)].concat();
        let second = record(1, 0).len();
        for cut in second..whole.len() {
            let got = lsns(&whole[..cut], 0).unwrap();
            assert_eq!(got.len(), if cut < 2 * second { 1 } else { 2 }, "cut {cut}");
        }
        // Unsynced records after a torn one are dropped with it.
        let mut log = whole.clone();
        log[second + HEADER] ^= 1;
        assert_eq!(lsns(&log, 0).unwrap(), [1]);
    }

    #[test]
    fn an_unreadable_synced_record_is_corrupt() {
        let log = [record(1, 0), record(2, 1), record(3, 2)].concat();
        let len = record(1, 0).len();
        for at in len..2 * len {
            let mut bad = log.clone();
            bad[at] ^= 0x40;
            // Record 3 says record 2 was synced.
            assert!(
                matches!(lsns(&bad, 0), Err(Error::Corrupt(_))),
                "flip at {at}"
            );
        }
        // A flip in the last record cannot be told from a torn write.
        let mut bad = log.clone();
        bad[2 * len + 3] ^= 1;
        assert_eq!(lsns(&bad, 0).unwrap(), [1, 2]);
    }

    #[test]
    fn stale_records_after_the_end_are_not_corruption() {
        // A log reset and rewritten from the start over older, longer contents.
        let log = [record(7, 6), record(3, 2), record(4, 3)].concat();
        assert_eq!(lsns(&log, 6).unwrap(), [7]);
    }
}
