//! Little-endian reading and writing of the snapshot formats.
//!
//! The Python code packs with `struct` (`<` layouts: no padding) and `array`
//! columns; both are plain little-endian fields in sequence, which is all the
//! writer has to produce. The reader fails with `ValueError` on truncation,
//! never panics.

use crate::error::{Error, Result};

/// Appends little-endian fields to a byte vector.
pub trait Put {
    /// One byte.
    fn put_u8(&mut self, v: u8);
    /// A uint32.
    fn put_u32(&mut self, v: u32);
    /// An int64.
    fn put_i64(&mut self, v: i64);
    /// A float64, every bit (NaN payloads included).
    fn put_f64(&mut self, v: f64);
}

impl Put for Vec<u8> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    #[inline]
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    #[inline]
    fn put_f64(&mut self, v: f64) {
        self.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

/// A cursor over a record.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader of `data` starting at `pos`.
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        Reader { data, pos }
    }

    /// The offset of the next field.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Whether the whole record has been read.
    pub fn at_end(&self) -> bool {
        self.pos == self.data.len()
    }

    /// The next `n` bytes, or the truncation error.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(Error::truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or_else(Error::truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    /// Checks that `n` more bytes exist without reading them (one check for
    /// several columns: Python checks each, with the same message).
    pub fn ensure(&self, n: u64) -> Result<()> {
        let left = self.data.len().saturating_sub(self.pos) as u64;
        if n > left {
            Err(Error::truncated())
        } else {
            Ok(())
        }
    }

    /// Up to `n` bytes, fewer at the end of the data (a Python slice), and the
    /// position moved by `n` regardless (as `_read_tail` moves its offset).
    pub fn slice_past(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = self.pos.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A uint32.
    pub fn u32(&mut self) -> Result<u32> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }

    /// An int64.
    pub fn i64(&mut self) -> Result<i64> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(b))
    }

    /// A float64.
    pub fn f64(&mut self) -> Result<f64> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(f64::from_bits(u64::from_le_bytes(b)))
    }
}
