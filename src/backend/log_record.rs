//! The write-ahead log's format: a header, then records, each a batch's changes, framed
//! and checksummed.
//!
//! The log starts with `MAGIC ‖ salt`: 16 random bytes drawn each time the log starts
//! over. A record is `salt ‖ lsn ‖ synced ‖ flags ‖ payload length ‖ payload ‖ checksum`,
//! integers little-endian, the checksum the first 16 bytes of SHA-256 over everything
//! before it. `lsn` numbers records consecutively across the store's life; `synced` is
//! the highest lsn whose fsync had finished when the record was written. The payload is
//! a list of changes (`Change`). Payloads carry bytes that remote parties chose (payment
//! requests, failure messages); without the salt, which never leaves the log, no such
//! bytes can pass for a record, nor can a record of an earlier life of the log.
//!
//! A batch is one record, or several when its changes exceed `MAX_PAYLOAD`: every record
//! of a batch but the last has the `MORE` flag, and a batch is replayed only whole.
//!
//! Recovery reads the longest run of good, consecutive records. A record that is bad
//! (torn by a crash, or damaged) ends the log there, unless a good record after it says
//! the bad one had been synced: then an acknowledged batch is unreadable and the store
//! is `Corrupt`. A torn tail was never acknowledged (a batch is answered only after its
//! records' fsync), so dropping it loses nothing a caller was told.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const MAGIC: [u8; 8] = *b"LPSLOG\x02\x00";
/// The per-log random prefix of every record.
pub type Salt = [u8; 16];
/// `MAGIC ‖ salt`, at the start of the log.
pub const LOG_HEADER: usize = MAGIC.len() + 16;
const HEADER: usize = 16 + 8 + 8 + 1 + 4;
const CHECKSUM: usize = 16;
/// The most one record carries: a larger batch is split. A change is at most an
/// operation's worth (`MAX_OPERATION_BYTES`, 16 times less), so it always fits.
pub const MAX_PAYLOAD: usize = 64 << 20;
/// The record's batch goes on in the next record.
const MORE: u8 = 1;

/// The bytes a log starts with.
pub fn log_header(salt: &Salt) -> Vec<u8> {
    [&MAGIC[..], salt].concat()
}

/// A new salt from the operating system's random source.
pub fn new_salt() -> std::io::Result<Salt> {
    let mut salt = [0; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| std::io::Error::other(format!("no random salt: {e}")))?;
    Ok(salt)
}

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

/// Collects a batch's changes into the payloads of its records.
#[derive(Debug)]
pub struct Recorder {
    payload: Vec<u8>,
    /// Where each record after the first starts in `payload`.
    cuts: Vec<usize>,
    /// The most one record's payload holds (`MAX_PAYLOAD`; smaller in tests).
    limit: usize,
    /// Changes recorded (each dirties at most one leaf page of the store file).
    changes: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::with_limit(MAX_PAYLOAD)
    }
}

impl Recorder {
    pub(crate) fn with_limit(limit: usize) -> Recorder {
        Recorder {
            payload: Vec::new(),
            cuts: Vec::new(),
            limit,
            changes: 0,
        }
    }

    pub fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.start(2 + table.len() + 8 + key.len() + value.len())?;
        self.payload.push(PUT);
        self.name(table);
        self.bytes(key);
        self.bytes(value);
        Ok(())
    }

    pub fn delete(&mut self, table: &str, key: &[u8]) -> Result<()> {
        self.start(2 + table.len() + 4 + key.len())?;
        self.payload.push(DELETE);
        self.name(table);
        self.bytes(key);
        Ok(())
    }

    pub fn clear(&mut self, table: &str) -> Result<()> {
        self.start(2 + table.len())?;
        self.payload.push(CLEAR);
        self.name(table);
        Ok(())
    }

    /// Makes room for a change of `len` bytes: a new record when the current one would
    /// outgrow the limit. A change no record can hold is refused before it is made.
    fn start(&mut self, len: usize) -> Result<()> {
        if len > self.limit {
            return Err(Error::invalid(format!(
                "a change of {len} bytes is larger than a write-ahead log record \
                 ({} bytes)",
                self.limit
            )));
        }
        let current = self.payload.len() - self.cuts.last().copied().unwrap_or(0);
        if current > 0 && current + len > self.limit {
            self.cuts.push(self.payload.len());
        }
        self.changes += 1;
        Ok(())
    }

    /// How many changes the batch recorded.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// How many records the batch takes (at least one, even when it changed nothing).
    pub fn records(&self) -> u64 {
        self.cuts.len() as u64 + 1
    }

    /// The framed records, numbered from `lsn`.
    pub fn frame(&self, salt: &Salt, lsn: u64, synced: u64) -> Vec<Vec<u8>> {
        let mut bounds = vec![0];
        bounds.extend_from_slice(&self.cuts);
        bounds.push(self.payload.len());
        bounds
            .windows(2)
            .zip(lsn..)
            .map(|(b, lsn)| {
                let more = b[1] < self.payload.len();
                frame_one(salt, lsn, synced, more, &self.payload[b[0]..b[1]])
            })
            .collect()
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

fn frame_one(salt: &Salt, lsn: u64, synced: u64, more: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len() + CHECKSUM);
    out.extend_from_slice(salt);
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(&synced.to_le_bytes());
    out.push(if more { MORE } else { 0 });
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    let sum = checksum(&out);
    out.extend_from_slice(&sum);
    out
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
    /// The batch goes on in the next record.
    pub more: bool,
    pub payload: &'a [u8],
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// The good record starting at the beginning of `b`, and its length; `None` when there
/// is none there.
fn decode<'a>(salt: &Salt, b: &'a [u8]) -> Option<(Record<'a>, usize)> {
    if b.len() < HEADER + CHECKSUM || b[..16] != salt[..] {
        return None;
    }
    let len = u32::from_le_bytes([b[33], b[34], b[35], b[36]]) as usize;
    let end = HEADER + len;
    if len > MAX_PAYLOAD || b.len() < end + CHECKSUM {
        return None;
    }
    if checksum(&b[..end]) != b[end..end + CHECKSUM] {
        return None;
    }
    let record = Record {
        lsn: u64_at(b, 16),
        synced: u64_at(b, 24),
        more: b[32] & MORE != 0,
        payload: &b[HEADER..end],
    };
    Some((record, end + CHECKSUM))
}

/// The log's salt; `None` for a log whose header was never completely written (nothing
/// in it was synced: every fsync covers the header). `Corrupt` for a header damaged
/// after it was written: the first record repeats the salt.
fn read_header(log: &[u8]) -> Result<Option<Salt>> {
    if log.len() < LOG_HEADER || log[..LOG_HEADER].iter().all(|&b| b == 0) {
        return Ok(None);
    }
    let damaged = || Error::corrupt("write-ahead log: its header is damaged");
    if log[..MAGIC.len()] != MAGIC {
        return Err(damaged());
    }
    let mut salt = [0; 16];
    salt.copy_from_slice(&log[MAGIC.len()..LOG_HEADER]);
    if let Some(first) = log.get(LOG_HEADER..LOG_HEADER + 16) {
        let mut own = [0; 16];
        own.copy_from_slice(first);
        if own != salt && decode(&own, &log[LOG_HEADER..]).is_some() {
            return Err(damaged());
        }
    }
    Ok(Some(salt))
}

/// The records to replay over a store whose last applied lsn is `applied`: the good,
/// consecutive records after it, in order. `Corrupt` when a record that had been synced
/// cannot be read, or when records are missing between `applied` and the log.
pub fn records_to_replay(log: &[u8], applied: u64) -> Result<Vec<Record<'_>>> {
    let Some(salt) = read_header(log)? else {
        return Ok(Vec::new());
    };
    let mut records: Vec<Record<'_>> = Vec::new();
    let mut at = LOG_HEADER;
    while at < log.len() {
        match decode(&salt, &log[at..]) {
            Some((r, len)) if records.last().is_none_or(|last| r.lsn == last.lsn + 1) => {
                records.push(r);
                at += len;
            }
            _ => break,
        }
    }
    // A batch whose last record is missing was never acknowledged: dropped whole.
    while records.last().is_some_and(|r| r.more) {
        records.pop();
    }
    if at < log.len() {
        // The log ends here. The first lsn not read: if a later record (found by the
        // salt) says it was synced, an acknowledged batch is lost.
        let missing = records.last().map_or(applied + 1, |r| r.lsn + 1);
        let mut from = at + 1;
        while let Some(i) = find(&salt, &log[from..]) {
            if let Some((r, _)) = decode(&salt, &log[from + i..]) {
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

fn find(salt: &Salt, b: &[u8]) -> Option<usize> {
    b.windows(salt.len()).position(|w| w == salt)
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

    const SALT: Salt = [5; 16];
    const H: usize = LOG_HEADER;

    fn record_in(salt: &Salt, lsn: u64, synced: u64) -> Vec<u8> {
        let mut r = Recorder::default();
        r.put("t", &lsn.to_be_bytes(), b"value").unwrap();
        r.frame(salt, lsn, synced).concat()
    }

    fn record(lsn: u64, synced: u64) -> Vec<u8> {
        record_in(&SALT, lsn, synced)
    }

    /// A log of these records.
    fn log(records: &[Vec<u8>]) -> Vec<u8> {
        [log_header(&SALT), records.concat()].concat()
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
        r.put("payments", b"k", b"v").unwrap();
        r.delete("index", b"").unwrap();
        r.clear("meta").unwrap();
        r.put("big", &[7; 300], &[]).unwrap();
        assert_eq!(r.records(), 1);
        let framed = log(&r.frame(&SALT, 5, 4));
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
        let log = log(&[record(3, 2), record(4, 3), record(5, 3)]);
        assert_eq!(lsns(&log, 2).unwrap(), [3, 4, 5]);
        assert_eq!(lsns(&log, 4).unwrap(), [5]);
        assert_eq!(lsns(&log, 9).unwrap(), Vec::<u64>::new());
        assert_eq!(lsns(&[], 9).unwrap(), Vec::<u64>::new());
        // Records 1 and 2 are missing.
        assert!(matches!(lsns(&log, 0), Err(Error::Corrupt(_))));
    }

    #[test]
    fn a_log_header_never_completely_written_holds_nothing() {
        let whole = log(&[record(1, 0)]);
        for cut in 0..H {
            assert_eq!(lsns(&whole[..cut], 0).unwrap(), Vec::<u64>::new());
        }
        // Lost while a later sector of the log survived (nothing was synced).
        let mut zeroed = whole.clone();
        zeroed[..H].fill(0);
        assert_eq!(lsns(&zeroed, 0).unwrap(), Vec::<u64>::new());
        // Damaged after it was written: the magic, or the salt the records repeat.
        for at in [0, 7, 8, H - 1] {
            let mut damaged = whole.clone();
            damaged[at] ^= 1;
            assert!(
                matches!(lsns(&damaged, 0), Err(Error::Corrupt(_))),
                "flip at {at}"
            );
        }
    }

    #[test]
    fn a_torn_tail_ends_the_log() {
        let whole = log(&[record(1, 0), record(2, 0), record(3, 1)]);
        let second = H + record(1, 0).len();
        let third = second + record(2, 0).len();
        for cut in second..whole.len() {
            let got = lsns(&whole[..cut], 0).unwrap();
            assert_eq!(got.len(), if cut < third { 1 } else { 2 }, "cut {cut}");
        }
        // Unsynced records after a torn one are dropped with it.
        let mut log = whole.clone();
        log[second + HEADER] ^= 1;
        assert_eq!(lsns(&log, 0).unwrap(), [1]);
    }

    #[test]
    fn an_unreadable_synced_record_is_corrupt() {
        let log = log(&[record(1, 0), record(2, 1), record(3, 2)]);
        let len = record(1, 0).len();
        for at in H + len..H + 2 * len {
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
        bad[H + 2 * len + 3] ^= 1;
        assert_eq!(lsns(&bad, 0).unwrap(), [1, 2]);
    }

    #[test]
    fn records_of_an_earlier_life_of_the_log_are_not_read() {
        // Reset and rewritten from the start over older, longer contents: they carry the
        // old salt.
        let old = [5 ^ 1; 16];
        let log = log(&[record(7, 6), record_in(&old, 8, 8), record_in(&old, 9, 8)]);
        assert_eq!(lsns(&log, 6).unwrap(), [7]);
    }

    #[test]
    fn bytes_inside_a_payload_never_pass_for_a_record() {
        // A payment request built as a whole log by someone who knows the format (but
        // not this log's salt), claiming records 2..=9 were synced.
        let guessed = [0; 16];
        let forged: Vec<u8> = [log_header(&guessed)]
            .into_iter()
            .chain((2..10).map(|lsn| record_in(&guessed, lsn, 9)))
            .collect::<Vec<_>>()
            .concat();
        let mut r = Recorder::default();
        r.put("records", b"k", &forged).unwrap();
        let carrier = r.frame(&SALT, 2, 1).concat();
        let whole = log(&[record(1, 0), carrier]);
        assert_eq!(lsns(&whole, 0).unwrap(), [1, 2]);
        // Torn anywhere (its fsync never finished): record 1 stands, nothing is corrupt.
        let start = H + record(1, 0).len();
        for cut in (start..whole.len()).step_by(7) {
            assert_eq!(lsns(&whole[..cut], 0).unwrap(), [1], "cut {cut}");
        }
    }

    /// A batch of changes `size` bytes each, split at `limit`.
    fn batch(changes: u8, size: usize, limit: usize) -> Recorder {
        let mut r = Recorder::with_limit(limit);
        for i in 0..changes {
            r.put("t", &[i], &vec![i; size]).unwrap();
        }
        r
    }

    #[test]
    fn a_large_batch_is_split_and_replayed_only_whole() {
        // Each change takes 2 + 1 + 8 + 1 + 100 = 112 bytes: three fit in 400.
        let r = batch(7, 100, 400);
        assert_eq!(r.records(), 3);
        let frames = r.frame(&SALT, 5, 4);
        assert_eq!(frames.len(), 3);
        let log = log(&[record(4, 3), frames.concat(), record(8, 7)]);
        let got = records_to_replay(&log, 3).unwrap();
        assert_eq!(
            got.iter().map(|r| r.lsn).collect::<Vec<_>>(),
            [4, 5, 6, 7, 8]
        );
        let keys: Vec<u8> = got[1..4]
            .iter()
            .flat_map(|r| changes(r.payload).unwrap())
            .map(|c| match c {
                Change::Put { key, .. } => key[0],
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(keys, [0, 1, 2, 3, 4, 5, 6]);
        // Cut anywhere inside the batch: none of it is replayed.
        let head = H + record(4, 3).len();
        for cut in head..head + frames.concat().len() {
            assert_eq!(lsns(&log[..cut], 3).unwrap(), [4], "cut {cut}");
        }
        // A record bigger than the limit is never made.
        let mut r = Recorder::with_limit(400);
        assert!(matches!(
            r.put("t", b"k", &[0; 400]),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(r.records(), 1);
    }
}
