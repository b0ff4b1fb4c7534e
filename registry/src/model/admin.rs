//! The HS_ADMIN value data (handle-protocol.md §4.4): who may administer a
//! record and with which permissions.
//!
//! Pure codec over bytes: no I/O. Decoding never panics and never allocates
//! more than the (limit-checked) admin handle.

use super::wire::{MAX_HANDLE_LEN, Reader, WireError, WriteExt};

/// Permission bits of an HS_ADMIN record (§4.4, bit 0 = LSB).
pub mod admin_perm {
    /// Bit 0: create handles under the prefix.
    pub const ADD_HANDLE: u16 = 0x0001;
    /// Bit 1: delete handles.
    pub const DELETE_HANDLE: u16 = 0x0002;
    /// Bit 2: add derived prefixes (`ADD_NA`).
    pub const ADD_NA: u16 = 0x0004;
    /// Bit 3: delete derived prefixes (`DELETE_NA`).
    pub const DELETE_NA: u16 = 0x0008;
    /// Bit 4: modify values.
    pub const MODIFY_VALUE: u16 = 0x0010;
    /// Bit 5: remove values.
    pub const REMOVE_VALUE: u16 = 0x0020;
    /// Bit 6: add values.
    pub const ADD_VALUE: u16 = 0x0040;
    /// Bit 7: modify HS_ADMIN values.
    pub const MODIFY_ADMIN: u16 = 0x0080;
    /// Bit 8: remove HS_ADMIN values.
    pub const REMOVE_ADMIN: u16 = 0x0100;
    /// Bit 9: add HS_ADMIN values.
    pub const ADD_ADMIN: u16 = 0x0200;
    /// Bit 10: read values without PUBLIC_READ.
    pub const READ_VALUE: u16 = 0x0400;
    /// Bit 11: list handles under a prefix.
    pub const LIST_HANDLES: u16 = 0x0800;
    /// Every permission (`"111111111111"`).
    pub const ALL: u16 = 0x0FFF;
}

/// Bytes of an HS_ADMIN record besides the admin handle:
/// `u16 permissions` + `u32 length` + `u32 adminIndex`.
pub const ADMIN_FIXED_LEN: usize = 2 + 4 + 4;

/// An HS_ADMIN value's data (§4.4): `u16 permissions`, `bytes adminHandle`,
/// `u32 adminIndex`.
///
/// Example from the wire: `0fff 00000009 "0.NA/TEST" 0000012c` = all
/// permissions for `300:0.NA/TEST`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct AdminRecord {
    /// Bits from [`admin_perm`].
    pub permissions: u16,
    /// The administrator's handle (UTF-8 on the wire, kept as bytes).
    pub admin_handle: Vec<u8>,
    /// Index of the administrator's key / HS_VLIST value (0 = any).
    pub admin_index: u32,
    /// The record carried the 2 extra trailing bytes of legacy encoders
    /// (§4.4: "accept a length of exactly 2 more than expected"). Kept so
    /// that re-encoding is byte-identical; new records never set it.
    pub legacy_trailer: bool,
}

impl AdminRecord {
    /// A record in the current encoding.
    pub fn new(permissions: u16, admin_handle: impl Into<Vec<u8>>, admin_index: u32) -> Self {
        AdminRecord { permissions, admin_handle: admin_handle.into(), admin_index, legacy_trailer: false }
    }

    /// True when every bit of `perm` is granted.
    pub fn has(&self, perm: u16) -> bool {
        self.permissions & perm == perm
    }

    /// Length of [`AdminRecord::to_bytes`]'s output.
    pub fn encoded_len(&self) -> usize {
        ADMIN_FIXED_LEN + self.admin_handle.len() + if self.legacy_trailer { 2 } else { 0 }
    }

    /// Appends the §4.4 encoding (with two zero bytes when
    /// [`legacy_trailer`](Self::legacy_trailer) is set).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.put_u16(self.permissions);
        out.put_bytes(&self.admin_handle);
        out.put_u32(self.admin_index);
        if self.legacy_trailer {
            out.put_u16(0);
        }
    }

    /// The §4.4 encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    /// Decodes HS_ADMIN data that fills `data` exactly, or exactly 2 bytes
    /// more (legacy records; the extra bytes are ignored).
    pub fn from_bytes(data: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(data);
        let permissions = r.u16()?;
        let admin_handle = r.bytes_limited("HS_ADMIN handle", MAX_HANDLE_LEN)?.to_vec();
        let admin_index = r.u32()?;
        let legacy_trailer = match r.remaining() {
            0 => false,
            2 => true,
            count => {
                return Err(WireError::Trailing { what: "HS_ADMIN", count });
            }
        };
        Ok(AdminRecord { permissions, admin_handle, admin_index, legacy_trailer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &str = "0fff00000009302e4e412f544553540000012c";

    #[test]
    fn golden_admin() {
        let want = hex::decode(GOLDEN).unwrap();
        let a = AdminRecord::from_bytes(&want).unwrap();
        assert_eq!(a, AdminRecord::new(admin_perm::ALL, "0.NA/TEST", 300));
        assert!(a.has(admin_perm::LIST_HANDLES | admin_perm::ADD_HANDLE));
        assert_eq!(a.to_bytes(), want);
    }

    #[test]
    fn legacy_trailer_accepted_and_kept() {
        let mut b = hex::decode(GOLDEN).unwrap();
        b.extend_from_slice(&[0, 0]);
        let a = AdminRecord::from_bytes(&b).unwrap();
        assert!(a.legacy_trailer);
        assert_eq!(a.to_bytes(), b);
        b.push(0);
        assert!(AdminRecord::from_bytes(&b).is_err());
        b.truncate(b.len() - 4);
        assert!(AdminRecord::from_bytes(&b).is_err());
    }

    #[test]
    fn oversized_handle_rejected() {
        let mut b = vec![0x0f, 0xff];
        b.extend_from_slice(&(MAX_HANDLE_LEN as u32 + 1).to_be_bytes());
        b.extend(std::iter::repeat_n(b'a', MAX_HANDLE_LEN + 1));
        b.extend_from_slice(&[0, 0, 0, 1]);
        assert!(matches!(AdminRecord::from_bytes(&b), Err(WireError::TooLong { .. })));
    }
}
