//! One handle value and its wire encoding (handle-protocol.md §4.1).
//!
//! | index u32 | timestamp u32 | ttlType u8 | ttl i32 | permissions u8 |
//! | type bytes | data bytes | references list<(bytes handle, u32 index)> |
//!
//! Records are stored in exactly this encoding so a resolution answer is
//! assembled by copying bytes.

use super::wire::{MAX_HANDLE_LEN, MAX_VALUES, Reader, WireError, WriteExt};

/// Permission bits of a value (§4.1).
pub mod perm {
    pub const ADMIN_READ: u8 = 0x08;
    pub const ADMIN_WRITE: u8 = 0x04;
    pub const PUBLIC_READ: u8 = 0x02;
    pub const PUBLIC_WRITE: u8 = 0x01;
    /// The normal default: admin read/write, public read.
    pub const DEFAULT: u8 = 0x0E;
    /// Secret keys: admin read/write only.
    pub const SECRET: u8 = 0x0C;
}

/// Default TTL in seconds (CNRI `HandleValue` default).
pub const DEFAULT_TTL: i32 = 86_400;

/// How [`Value::ttl`] is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TtlType {
    /// Seconds to cache (wire 0).
    Relative,
    /// Unix time the value expires (wire 1).
    Absolute,
}

impl TtlType {
    pub fn to_wire(self) -> u8 {
        match self {
            TtlType::Relative => 0,
            TtlType::Absolute => 1,
        }
    }
    pub fn from_wire(b: u8) -> Result<Self, WireError> {
        match b {
            0 => Ok(TtlType::Relative),
            1 => Ok(TtlType::Absolute),
            other => Err(WireError::Invalid { what: "ttlType", detail: format!("{other} is neither 0 nor 1") }),
        }
    }
}

/// A reference from a value to another handle's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Reference {
    pub handle: Vec<u8>,
    pub index: u32,
}

/// One typed value of a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Value {
    pub index: u32,
    /// Unix seconds of last change.
    pub timestamp: u32,
    pub ttl_type: TtlType,
    pub ttl: i32,
    /// Bits from [`perm`]; only the low 4 bits are meaningful.
    pub permissions: u8,
    /// UTF-8 on the wire, kept as bytes (types are compared after ASCII folding).
    pub value_type: Vec<u8>,
    pub data: Vec<u8>,
    pub references: Vec<Reference>,
}

/// Fixed bytes of an encoded value besides type, data and references
/// (index, timestamp, ttlType, ttl, permissions, 3 length/count words).
pub const VALUE_MIN_LEN: usize = 4 + 4 + 1 + 4 + 1 + 4 + 4 + 4;

impl Value {
    /// A value with the defaults CNRI tools use: TTL 86400 relative,
    /// permissions 0x0E, no references.
    pub fn new(index: u32, value_type: impl Into<Vec<u8>>, data: impl Into<Vec<u8>>) -> Self {
        Value {
            index,
            timestamp: 0,
            ttl_type: TtlType::Relative,
            ttl: DEFAULT_TTL,
            permissions: perm::DEFAULT,
            value_type: value_type.into(),
            data: data.into(),
            references: Vec::new(),
        }
    }

    pub fn with_permissions(mut self, p: u8) -> Self {
        self.permissions = p;
        self
    }

    pub fn with_timestamp(mut self, t: u32) -> Self {
        self.timestamp = t;
        self
    }

    pub fn is_public_read(&self) -> bool {
        self.permissions & perm::PUBLIC_READ != 0
    }

    pub fn is_admin_read(&self) -> bool {
        self.permissions & perm::ADMIN_READ != 0
    }

    /// The type as text (lossy for non-UTF-8, which the codec rejects anyway).
    pub fn type_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.value_type)
    }

    /// Length of [`Value::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        VALUE_MIN_LEN
            + self.value_type.len()
            + self.data.len()
            + self.references.iter().map(|r| 8 + r.handle.len()).sum::<usize>()
    }

    /// Appends the §4.1 encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.put_u32(self.index);
        out.put_u32(self.timestamp);
        out.put_u8(self.ttl_type.to_wire());
        out.put_i32(self.ttl);
        out.put_u8(self.permissions);
        out.put_bytes(&self.value_type);
        out.put_bytes(&self.data);
        out.put_u32(self.references.len() as u32);
        for r in &self.references {
            out.put_bytes(&r.handle);
            out.put_u32(r.index);
        }
    }

    /// Reads one value. Types must be UTF-8.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let index = r.u32()?;
        let timestamp = r.u32()?;
        let ttl_type = TtlType::from_wire(r.u8()?)?;
        let ttl = r.i32()?;
        let permissions = r.u8()?;
        let value_type = r.bytes("value type")?;
        if std::str::from_utf8(value_type).is_err() {
            return Err(WireError::Utf8 { what: "value type" });
        }
        let data = r.bytes("value data")?.to_vec();
        let n = r.count("value references", MAX_VALUES, 8)?;
        let mut references = Vec::with_capacity(n);
        for _ in 0..n {
            let handle = r.bytes_limited("reference handle", MAX_HANDLE_LEN)?.to_vec();
            let index = r.u32()?;
            references.push(Reference { handle, index });
        }
        Ok(Value { index, timestamp, ttl_type, ttl, permissions, value_type: value_type.to_vec(), data, references })
    }

    /// Decodes a single value that must fill `bytes` exactly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let v = Value::decode(&mut r)?;
        r.finish("value")?;
        Ok(v)
    }

    /// The §4.1 encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// Encodes `list<value>`: u32 count + values.
pub fn encode_value_list(values: &[Value], out: &mut Vec<u8>) {
    out.put_u32(values.len() as u32);
    for v in values {
        v.encode(out);
    }
}

/// Decodes `list<value>` (at most [`MAX_VALUES`]).
pub fn decode_value_list(r: &mut Reader<'_>) -> Result<Vec<Value>, WireError> {
    let n = r.count("value list", MAX_VALUES, VALUE_MIN_LEN)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(Value::decode(r)?);
    }
    Ok(out)
}

/// ASCII-case-insensitive type match with the trailing-dot rule (§3):
/// a requested type ending in "." matches that type without the dot and
/// every dotted sub-type (`HS_SITE.` matches `HS_SITE`, `HS_SITE.6`,
/// `HS_SITE.PREFIX`).
pub fn type_matches(requested: &[u8], actual: &[u8]) -> bool {
    if let Some(stem) = requested.strip_suffix(b".") {
        if actual.len() == stem.len() {
            return actual.eq_ignore_ascii_case(stem);
        }
        return actual.len() > stem.len()
            && actual[..stem.len()].eq_ignore_ascii_case(stem)
            && actual[stem.len()] == b'.';
    }
    actual.eq_ignore_ascii_case(requested)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_url_value() {
        // From spec §12: index 1, ts 0, ttl 86400 relative, perms 0e, URL.
        let v = Value::new(1, "URL", "http://example.org/abc");
        let hex = "00000001000000000000015180 0e 00000003 55524c 00000016 687474703a2f2f6578616d706c652e6f72672f616263 00000000";
        let want: Vec<u8> = hex::decode(hex.replace(' ', "")).unwrap();
        assert_eq!(v.to_bytes(), want);
        assert_eq!(Value::from_bytes(&want).unwrap(), v);
    }

    #[test]
    fn subtype_match() {
        assert!(type_matches(b"HS_SITE.", b"HS_SITE"));
        assert!(type_matches(b"hs_site.", b"HS_SITE.6"));
        assert!(type_matches(b"HS_SITE.", b"HS_SITE.PREFIX"));
        assert!(!type_matches(b"HS_SITE.", b"HS_SITEX"));
        assert!(!type_matches(b"HS_SITE", b"HS_SITE.6"));
        assert!(type_matches(b"url", b"URL"));
    }

    #[test]
    fn hostile_counts_do_not_allocate() {
        let mut b = Value::new(1, "URL", "x").to_bytes();
        let n = b.len();
        b[n - 4..].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
        assert!(Value::from_bytes(&b).is_err());
    }
}
