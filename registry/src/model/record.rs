//! Records: the values of one identifier, stored as one schema-version byte
//! followed by the wire `list<value>` encoding (handle-protocol.md §4.1,
//! [`encode_value_list`]). A resolution answer is built by copying
//! [`RecordBytes::value_list`] or the [`ValueView::raw`] slices; nothing on
//! the read path allocates per value.

use std::fmt;

use super::value::{TtlType, VALUE_MIN_LEN, Value, decode_value_list, encode_value_list};
use super::wire::{MAX_HANDLE_LEN, MAX_MESSAGE, MAX_VALUES, Reader, WireError};

/// Schema-version byte in front of every stored record.
pub const RECORD_SCHEMA: u8 = 1;

/// Largest encoded record we store (the whole answer must fit a message).
pub const MAX_RECORD_BYTES: usize = MAX_MESSAGE;

/// A record as an owned list of values (the write path).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub values: Vec<Value>,
}

impl Record {
    pub fn new(values: Vec<Value>) -> Self {
        Record { values }
    }

    /// The stored form: version byte + `list<value>`.
    pub fn encode(&self) -> Vec<u8> {
        encode_record(&self.values)
    }

    /// Decodes the stored form.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let (&ver, rest) = bytes.split_first().ok_or(WireError::Truncated { offset: 0, needed: 1, available: 0 })?;
        check_schema(ver)?;
        let mut r = Reader::new(rest);
        let values = decode_value_list(&mut r)?;
        r.finish("record")?;
        Ok(Record { values })
    }

    /// The value at `index`.
    pub fn get(&self, index: u32) -> Option<&Value> {
        self.values.iter().find(|v| v.index == index)
    }
}

fn check_schema(ver: u8) -> Result<(), WireError> {
    if ver != RECORD_SCHEMA {
        return Err(WireError::Invalid {
            what: "record schema version",
            detail: format!("{ver} (expected {RECORD_SCHEMA})"),
        });
    }
    Ok(())
}

/// The stored form of `values`: version byte + `list<value>`.
pub fn encode_record(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + values.iter().map(Value::encoded_len).sum::<usize>());
    out.push(RECORD_SCHEMA);
    encode_value_list(values, &mut out);
    out
}

/// A stored record as read from the store: cheap to clone (reference
/// counted [`bytes::Bytes`], so no backend type shows through the store
/// interface; a backend wraps its own buffer with `Bytes::from_owner`
/// without copying), validated once when constructed, iterated without
/// allocating.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordBytes {
    bytes: bytes::Bytes,
    count: u32,
}

impl fmt::Debug for RecordBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordBytes").field("values", &self.count).field("len", &self.bytes.len()).finish()
    }
}

impl RecordBytes {
    /// Wraps stored bytes after checking the version byte and walking every
    /// value's lengths once (no allocation).
    pub fn new(bytes: impl Into<bytes::Bytes>) -> Result<Self, WireError> {
        let bytes = bytes.into();
        let (&ver, rest) = bytes.split_first().ok_or(WireError::Truncated { offset: 0, needed: 1, available: 0 })?;
        check_schema(ver)?;
        let mut r = Reader::new(rest);
        let count = r.count("value list", MAX_VALUES, VALUE_MIN_LEN)?;
        for _ in 0..count {
            skip_value(&mut r)?;
        }
        r.finish("record")?;
        Ok(RecordBytes { bytes, count: count as u32 })
    }

    /// Encodes `values` (for tests and for callers that build answers from
    /// owned values).
    pub fn from_values(values: &[Value]) -> Self {
        let bytes = bytes::Bytes::from(encode_record(values));
        RecordBytes { bytes, count: values.len() as u32 }
    }

    /// The whole stored form (version byte included).
    pub fn stored(&self) -> &[u8] {
        &self.bytes
    }

    /// The underlying reference-counted buffer.
    pub fn bytes(&self) -> &bytes::Bytes {
        &self.bytes
    }

    /// The wire `list<value>` (u32 count + values): copy this into an
    /// answer that returns every value.
    pub fn value_list(&self) -> &[u8] {
        &self.bytes[1..]
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Zero-copy iteration over the values.
    pub fn iter(&self) -> ValueIter<'_> {
        ValueIter { r: Reader::new(&self.bytes[5..]), left: self.count }
    }

    /// The value at `index`, if present.
    pub fn find(&self, index: u32) -> Option<ValueView<'_>> {
        self.iter().find(|v| v.index == index)
    }

    /// Decodes into owned values (the write path).
    pub fn to_record(&self) -> Result<Record, WireError> {
        Record::decode(&self.bytes)
    }

    /// Decodes into owned values.
    pub fn values(&self) -> Result<Vec<Value>, WireError> {
        Ok(self.to_record()?.values)
    }
}

impl<'a> IntoIterator for &'a RecordBytes {
    type Item = ValueView<'a>;
    type IntoIter = ValueIter<'a>;
    fn into_iter(self) -> ValueIter<'a> {
        self.iter()
    }
}

/// Skips one encoded value, checking every length.
fn skip_value(r: &mut Reader<'_>) -> Result<(), WireError> {
    r.take(13)?; // index, timestamp, ttlType, ttl
    r.u8()?; // permissions
    let t = r.bytes("value type")?;
    if std::str::from_utf8(t).is_err() {
        return Err(WireError::Utf8 { what: "value type" });
    }
    r.bytes("value data")?;
    let n = r.count("value references", MAX_VALUES, 8)?;
    for _ in 0..n {
        r.bytes_limited("reference handle", MAX_HANDLE_LEN)?;
        r.u32()?;
    }
    Ok(())
}

/// A borrowed view of one encoded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueView<'a> {
    pub index: u32,
    pub timestamp: u32,
    /// Wire ttlType (0 relative, 1 absolute).
    pub ttl_type: u8,
    pub ttl: i32,
    pub permissions: u8,
    /// The value type (UTF-8, checked when the record was loaded).
    pub value_type: &'a [u8],
    pub data: &'a [u8],
    /// The complete §4.1 encoding of this value (copy it into an answer).
    pub raw: &'a [u8],
}

impl ValueView<'_> {
    pub fn is_public_read(&self) -> bool {
        self.permissions & super::value::perm::PUBLIC_READ != 0
    }

    pub fn is_admin_read(&self) -> bool {
        self.permissions & super::value::perm::ADMIN_READ != 0
    }

    /// Decodes into an owned [`Value`].
    pub fn to_value(&self) -> Result<Value, WireError> {
        Value::from_bytes(self.raw)
    }

    /// The TTL type, if the wire byte is valid.
    pub fn ttl_kind(&self) -> Option<TtlType> {
        TtlType::from_wire(self.ttl_type).ok()
    }
}

/// Iterator over the values of a [`RecordBytes`].
#[derive(Debug, Clone)]
pub struct ValueIter<'a> {
    r: Reader<'a>,
    left: u32,
}

impl<'a> ValueIter<'a> {
    fn next_value(&mut self) -> Result<ValueView<'a>, WireError> {
        let start = self.r.rest();
        let before = self.r.position();
        let index = self.r.u32()?;
        let timestamp = self.r.u32()?;
        let ttl_type = self.r.u8()?;
        let ttl = self.r.i32()?;
        let permissions = self.r.u8()?;
        let value_type = self.r.bytes("value type")?;
        let data = self.r.bytes("value data")?;
        let n = self.r.u32()? as usize;
        for _ in 0..n {
            self.r.bytes("reference handle")?;
            self.r.u32()?;
        }
        let raw = &start[..self.r.position() - before];
        Ok(ValueView { index, timestamp, ttl_type, ttl, permissions, value_type, data, raw })
    }
}

impl<'a> Iterator for ValueIter<'a> {
    type Item = ValueView<'a>;

    fn next(&mut self) -> Option<ValueView<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Validated in RecordBytes::new, so an error cannot happen; stop
        // quietly rather than panic if it somehow does.
        match self.next_value() {
            Ok(v) => Some(v),
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::Reference;

    #[test]
    fn views_match_values() {
        let mut v2 = Value::new(2, "EMAIL", "a@b.c").with_timestamp(7);
        v2.references.push(Reference { handle: b"0.NA/X".to_vec(), index: 300 });
        let values = vec![Value::new(1, "URL", "http://x"), v2, Value::new(2000, "model", "")];
        let rb = RecordBytes::new(encode_record(&values)).unwrap();
        assert_eq!(rb.len(), 3);
        for (view, v) in rb.iter().zip(&values) {
            assert_eq!(view.index, v.index);
            assert_eq!(view.value_type, &v.value_type[..]);
            assert_eq!(view.data, &v.data[..]);
            assert_eq!(view.raw, &v.to_bytes()[..]);
            assert_eq!(&view.to_value().unwrap(), v);
        }
        assert_eq!(rb.values().unwrap(), values);
        assert_eq!(rb.find(2).unwrap().timestamp, 7);
    }

    #[test]
    fn corrupt_rejected() {
        let mut b = encode_record(&[Value::new(1, "URL", "http://x")]);
        assert!(RecordBytes::new(b[..b.len() - 1].to_vec()).is_err());
        b[0] = 9;
        assert!(RecordBytes::new(b).is_err());
        assert!(RecordBytes::new(Vec::new()).is_err());
    }
}
