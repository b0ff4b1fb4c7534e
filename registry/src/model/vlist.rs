//! The HS_VLIST value data (handle-protocol.md §4.2): an admin group,
//! `list<(bytes handle, u32 index)>`.
//!
//! Pure codec over bytes: no I/O. Counts and lengths are checked against the
//! spec limits and the bytes present before anything is allocated.

use super::value::Reference;
use super::wire::{MAX_ARRAY, MAX_HANDLE_LEN, Reader, WireError, WriteExt};

/// Smallest encoded member: `u32` handle length + `u32` index.
const MEMBER_MIN_LEN: usize = 8;

/// An HS_VLIST value's data: the group's members, each `index:handle`
/// (which may itself name another HS_VLIST, resolved recursively by the
/// permission check, not here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ValueList {
    pub members: Vec<Reference>,
}

impl ValueList {
    pub fn new(members: Vec<Reference>) -> Self {
        ValueList { members }
    }

    /// Length of [`ValueList::to_bytes`]'s output.
    pub fn encoded_len(&self) -> usize {
        4 + self.members.iter().map(|m| MEMBER_MIN_LEN + m.handle.len()).sum::<usize>()
    }

    /// Appends `list<(bytes handle, u32 index)>`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.put_u32(self.members.len() as u32);
        for m in &self.members {
            out.put_bytes(&m.handle);
            out.put_u32(m.index);
        }
    }

    /// The encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    /// Decodes HS_VLIST data that fills `data` exactly.
    pub fn from_bytes(data: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(data);
        let n = r.count("HS_VLIST", MAX_ARRAY, MEMBER_MIN_LEN)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            let handle = r.bytes_limited("HS_VLIST handle", MAX_HANDLE_LEN)?.to_vec();
            let index = r.u32()?;
            members.push(Reference { handle, index });
        }
        r.finish("HS_VLIST")?;
        Ok(ValueList { members })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_vlist() {
        let v = ValueList::new(vec![
            Reference { handle: b"0.NA/TEST".to_vec(), index: 300 },
            Reference { handle: b"88.118.8/admins".to_vec(), index: 200 },
        ]);
        let want = hex::decode(concat!(
            "00000002",
            "00000009302e4e412f54455354",
            "0000012c",
            "0000000f38382e3131382e382f61646d696e73",
            "000000c8"
        ))
        .unwrap();
        assert_eq!(v.to_bytes(), want);
        assert_eq!(ValueList::from_bytes(&want).unwrap(), v);
        assert!(ValueList::from_bytes(&want[..want.len() - 1]).is_err());
        let mut long = want.clone();
        long.push(0);
        assert!(ValueList::from_bytes(&long).is_err());
    }

    #[test]
    fn hostile_count() {
        assert!(ValueList::from_bytes(&[0x7f, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(ValueList::from_bytes(&[0, 0, 0, 0]).unwrap(), ValueList::default());
    }
}
