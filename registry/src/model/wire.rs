//! Big-endian primitives of the Handle wire format (spec §"notation"):
//! `u8/u16/u32/i32`, `bytes` = u32 length + bytes, `list<T>` = u32 count + T*.
//!
//! Readers never panic: every read is bounds-checked and returns
//! [`WireError`]. Length fields are checked against the spec's limits before
//! anything is allocated.

use thiserror::Error;

/// Largest array / byte string a CNRI decoder accepts (spec §"Limits").
pub const MAX_ARRAY: usize = 1_048_576;
/// Largest handle, in bytes.
pub const MAX_HANDLE_LEN: usize = 2048;
/// Most values in one message / record.
pub const MAX_VALUES: usize = 2048;
/// Largest whole message.
pub const MAX_MESSAGE: usize = 262_144;

/// Why some bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("truncated: needed {needed} bytes at offset {offset}, {available} available")]
    Truncated { offset: usize, needed: usize, available: usize },
    #[error("{what} length {len} exceeds the limit {limit}")]
    TooLong { what: &'static str, len: usize, limit: usize },
    #[error("{what}: invalid UTF-8")]
    Utf8 { what: &'static str },
    #[error("{what}: {detail}")]
    Invalid { what: &'static str, detail: String },
    #[error("{count} trailing bytes after {what}")]
    Trailing { what: &'static str, count: usize },
}

/// A cursor over borrowed bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    /// The unread rest.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.remaining() < n {
            return Err(WireError::Truncated { offset: self.pos, needed: n, available: self.remaining() });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn i32(&mut self) -> Result<i32, WireError> {
        Ok(self.u32()? as i32)
    }
    /// `bytes`: u32 length + that many bytes, length checked against `limit`.
    pub fn bytes_limited(&mut self, what: &'static str, limit: usize) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        if len > limit {
            return Err(WireError::TooLong { what, len, limit });
        }
        self.take(len)
    }
    /// `bytes` with the generic array limit.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        self.bytes_limited(what, MAX_ARRAY)
    }
    /// `bytes` that must be UTF-8.
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|_| WireError::Utf8 { what })
    }
    /// A u32 count, checked against `limit` and against the bytes left
    /// (each element needs at least `min_elem` bytes), so a hostile count
    /// cannot make us allocate.
    pub fn count(&mut self, what: &'static str, limit: usize, min_elem: usize) -> Result<usize, WireError> {
        let n = self.u32()? as usize;
        if n > limit {
            return Err(WireError::TooLong { what, len: n, limit });
        }
        if min_elem > 0 && n > self.remaining() / min_elem {
            return Err(WireError::Truncated {
                offset: self.pos,
                needed: n.saturating_mul(min_elem),
                available: self.remaining(),
            });
        }
        Ok(n)
    }
    /// Fails unless everything was read.
    pub fn finish(&self, what: &'static str) -> Result<(), WireError> {
        if self.remaining() != 0 {
            return Err(WireError::Trailing { what, count: self.remaining() });
        }
        Ok(())
    }
}

/// Writers append to a `Vec<u8>`.
pub trait WriteExt {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_i32(&mut self, v: i32);
    /// `bytes`: u32 length + the bytes.
    fn put_bytes(&mut self, b: &[u8]);
}

impl WriteExt for Vec<u8> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    #[inline]
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    #[inline]
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    #[inline]
    fn put_bytes(&mut self, b: &[u8]) {
        self.put_u32(b.len() as u32);
        self.extend_from_slice(b);
    }
}
