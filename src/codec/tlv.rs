//! BigSize integers and TLV streams as BOLT #1 defines them, shared by every TLV user of
//! the crate (payment record tails, custom records, mission-control results).

use super::bytes::Reader;
use crate::error::Result;

pub fn write_bigsize(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0xfc => out.push(v as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(v as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(v as u32).to_be_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

pub fn bigsize_len(v: u64) -> usize {
    match v {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Reads a BigSize, rejecting non-canonical (longer than needed) encodings.
pub fn read_bigsize(r: &mut Reader<'_>) -> Result<u64> {
    let (v, min) = match r.u8()? {
        0xfd => (u64::from(u16::from_be_bytes(r.array()?)), 0xfd),
        0xfe => (u64::from(u32::from_be_bytes(r.array()?)), 0x1_0000),
        0xff => (u64::from_be_bytes(r.array()?), 0x1_0000_0000),
        b => return Ok(u64::from(b)),
    };
    if v < min {
        return Err(r.error("non-canonical BigSize"));
    }
    Ok(v)
}

/// Builds a TLV stream; records must be written in strictly increasing type order.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
    last: Option<u64>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Continues a record whose fixed part is already in `buf`.
    pub fn append_to(buf: Vec<u8>) -> Self {
        Writer { buf, last: None }
    }

    pub fn record(&mut self, ty: u64, value: &[u8]) -> &mut Self {
        debug_assert!(self.last.is_none_or(|l| l < ty), "TLV types out of order");
        self.last = Some(ty);
        write_bigsize(&mut self.buf, ty);
        write_bigsize(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(value);
        self
    }

    /// Writes the record only when `value` is non-empty.
    pub fn non_empty(&mut self, ty: u64, value: &[u8]) -> &mut Self {
        if !value.is_empty() {
            self.record(ty, value);
        }
        self
    }

    /// A zero-length record whose presence means true.
    pub fn flag(&mut self, ty: u64, set: bool) -> &mut Self {
        if set {
            self.record(ty, &[]);
        }
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// One record read from a stream.
pub struct Record<'a> {
    pub ty: u64,
    pub value: &'a [u8],
}

/// Iterates over a TLV stream, checking that types strictly increase.
pub struct Stream<'a> {
    reader: Reader<'a>,
    last: Option<u64>,
}

impl<'a> Stream<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Stream {
            reader: Reader::new(buf, what),
            last: None,
        }
    }

    pub fn next_record(&mut self) -> Result<Option<Record<'a>>> {
        if self.reader.is_empty() {
            return Ok(None);
        }
        let ty = self.reader.bigsize()?;
        if self.last.is_some_and(|l| l >= ty) {
            return Err(self
                .reader
                .error(format!("TLV type {ty} out of order or repeated")));
        }
        self.last = Some(ty);
        let value = self.reader.var_bytes()?;
        Ok(Some(Record { ty, value }))
    }

    /// The error for a type this decoder does not know: even types must be understood.
    pub fn unknown(&self, ty: u64) -> Result<()> {
        if ty % 2 == 0 {
            Err(self.reader.error(format!("unknown even TLV type {ty}")))
        } else {
            Ok(())
        }
    }

    pub fn error(&self, msg: impl std::fmt::Display) -> crate::error::Error {
        self.reader.error(msg)
    }

    /// A fixed-length value.
    pub fn fixed<const N: usize>(&self, rec: &Record<'_>) -> Result<[u8; N]> {
        <[u8; N]>::try_from(rec.value).map_err(|_| {
            self.error(format!(
                "TLV type {} has length {}, expected {N}",
                rec.ty,
                rec.value.len()
            ))
        })
    }

    /// A zero-length flag record.
    pub fn flag(&self, rec: &Record<'_>) -> Result<bool> {
        self.fixed::<0>(rec).map(|_| true)
    }
}

/// Encodes custom records (type → value) as a nested TLV stream.
pub fn encode_custom_records(records: &crate::model::CustomRecords) -> Vec<u8> {
    let mut w = Writer::new();
    for (ty, v) in records {
        w.record(*ty, v);
    }
    w.finish()
}

/// Decodes a nested custom-record stream; every type is data, none is "unknown".
pub fn decode_custom_records(buf: &[u8]) -> Result<crate::model::CustomRecords> {
    let mut s = Stream::new(buf, "custom records");
    let mut out = crate::model::CustomRecords::new();
    while let Some(rec) = s.next_record()? {
        out.insert(rec.ty, rec.value.to_vec());
    }
    Ok(out)
}
