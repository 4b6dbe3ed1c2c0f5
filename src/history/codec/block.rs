//! Blocks: rows encoded as variable-length integers (the time as an offset from the
//! block's key, then the body), and [`BlockReader`], which decodes them without
//! allocating; the varints and [`DecodeError`] the standalone form shares.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::row::Row;
use crate::history::record::Outcome;

/// The block format this code writes and reads.
const BLOCK_VERSION: u8 = 1;

/// Why a block could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("history block format {0} is not known (expected {BLOCK_VERSION})")]
    Version(u8),
    #[error("history block is truncated")]
    Truncated,
    #[error("history block has an invalid value: {0}")]
    Invalid(&'static str),
}

/// Appends `v` as a LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_list(out: &mut Vec<u8>, ids: &[u32]) {
    put_varint(out, ids.len() as u64);
    for &id in ids {
        put_varint(out, u64::from(id));
    }
}

/// Appends a row's body (everything but its time) to `out`.
pub(crate) fn encode_body(out: &mut Vec<u8>, row: &Row) {
    for id in [row.user, row.service, row.host] {
        put_varint(out, u64::from(id));
    }
    match row.ip {
        Some(IpAddr::V4(v4)) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        Some(IpAddr::V6(v6)) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
        None => out.push(0),
    }
    put_varint(out, row.asn_plus_one);
    for id in [row.as_cc, row.as_desc, row.net_name, row.net_cc, row.geo_cc] {
        put_varint(out, u64::from(id));
    }
    put_list(out, &row.entities);
    put_list(out, &row.cloud);
    out.push(row.outcome().code());
    put_varint(out, u64::from(row.matched));
    put_varint(out, u64::from(row.matched_entry));
    put_list(out, &row.lookup_errors);
}

/// A block from `count` rows already encoded in `rows` (each: its time as an offset from
/// the block's key, then [`encode_body`]).
pub(crate) fn block_from_body(count: u64, rows: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() + 10);
    out.push(BLOCK_VERSION);
    put_varint(&mut out, count);
    out.extend_from_slice(rows);
    out
}

/// Decodes a row body written by [`encode_body`] (the time is left as it is).
pub(crate) fn decode_body(bytes: &[u8], row: &mut Row) -> Result<(), DecodeError> {
    let mut r = BlockReader::bare(bytes);
    r.body_into(row)?;
    if r.pos != bytes.len() {
        return Err(DecodeError::Invalid("trailing bytes after a row"));
    }
    Ok(())
}

/// Reads a block.
pub(crate) struct BlockReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base_us: u64,
    left: u64,
}

impl<'a> BlockReader<'a> {
    pub(crate) fn new(base_us: u64, bytes: &'a [u8]) -> Result<BlockReader<'a>, DecodeError> {
        let mut r = BlockReader {
            bytes,
            pos: 0,
            base_us,
            left: 0,
        };
        let version = r.byte()?;
        if version != BLOCK_VERSION {
            return Err(DecodeError::Version(version));
        }
        r.left = r.varint()?;
        Ok(r)
    }

    /// A reader of bytes that are no block (a standalone record): no header, no rows.
    pub(super) fn bare(bytes: &'a [u8]) -> BlockReader<'a> {
        BlockReader {
            bytes,
            pos: 0,
            base_us: 0,
            left: 0,
        }
    }

    /// How many bytes were read.
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    /// The number of rows not yet read.
    pub(crate) fn remaining(&self) -> u64 {
        self.left
    }

    pub(super) fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    pub(super) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid("varint too long"))
    }

    fn id(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.varint()?).map_err(|_| DecodeError::Invalid("string id"))
    }

    fn list(&mut self, into: &mut Vec<u32>) -> Result<(), DecodeError> {
        self.seq(into, Self::id)
    }

    /// A count, then that many items read by `item` (each at least one byte), into `into`.
    fn seq<T>(
        &mut self,
        into: &mut Vec<T>,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<(), DecodeError> {
        into.clear();
        let n = self.varint()?;
        if n > (self.bytes.len() - self.pos) as u64 {
            return Err(DecodeError::Truncated);
        }
        for _ in 0..n {
            into.push(item(self)?);
        }
        Ok(())
    }

    pub(super) fn str_ref(&mut self) -> Result<&'a str, DecodeError> {
        let n = usize::try_from(self.varint()?).map_err(|_| DecodeError::Truncated)?;
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated)?;
        self.pos = end;
        std::str::from_utf8(slice).map_err(|_| DecodeError::Invalid("string is not UTF-8"))
    }

    pub(super) fn opt_str_ref(&mut self) -> Result<Option<&'a str>, DecodeError> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.str_ref().map(Some),
            _ => Err(DecodeError::Invalid("optional string")),
        }
    }

    pub(super) fn strs_ref(&mut self, into: &mut Vec<&'a str>) -> Result<(), DecodeError> {
        self.seq(into, Self::str_ref)
    }

    pub(super) fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.pos + N;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated)?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn body_into(&mut self, row: &mut Row) -> Result<(), DecodeError> {
        row.user = self.id()?;
        row.service = self.id()?;
        row.host = self.id()?;
        row.ip = match self.byte()? {
            4 => Some(IpAddr::V4(Ipv4Addr::from(self.take::<4>()?))),
            6 => Some(IpAddr::V6(Ipv6Addr::from(self.take::<16>()?))),
            0 => None,
            _ => return Err(DecodeError::Invalid("address family")),
        };
        row.asn_plus_one = self.varint()?;
        row.as_cc = self.id()?;
        row.as_desc = self.id()?;
        row.net_name = self.id()?;
        row.net_cc = self.id()?;
        row.geo_cc = self.id()?;
        self.list(&mut row.entities)?;
        self.list(&mut row.cloud)?;
        row.outcome =
            Some(Outcome::from_code(self.byte()?).ok_or(DecodeError::Invalid("outcome"))?);
        row.matched = self.id()?;
        row.matched_entry = self.id()?;
        self.list(&mut row.lookup_errors)?;
        Ok(())
    }

    /// Reads the next row into `row`; `false` at the end of the block.
    pub(crate) fn next_into(&mut self, row: &mut Row) -> Result<bool, DecodeError> {
        Ok(self.next_with_body(row)?.is_some())
    }

    /// Like [`BlockReader::next_into`], also giving the row's encoded body (for grouping
    /// identical rows without resolving them).
    pub(crate) fn next_with_body(
        &mut self,
        row: &mut Row,
    ) -> Result<Option<&'a [u8]>, DecodeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        row.time_us = self.base_us.saturating_add(self.varint()?);
        let start = self.pos;
        self.body_into(row)?;
        Ok(Some(&self.bytes[start..self.pos]))
    }
}

/// The row count of a block, read from its header.
pub(crate) fn block_len(bytes: &[u8]) -> Result<u64, DecodeError> {
    Ok(BlockReader::new(0, bytes)?.remaining())
}
