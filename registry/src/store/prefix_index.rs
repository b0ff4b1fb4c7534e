//! In-memory snapshot of the known prefixes, looked up on every resolution.
//!
//! Lookups are ASCII-case-insensitive and allocation-free: entries are
//! bucketed by a hash of the upper-cased bytes computed on the fly, and
//! compared with `eq_ignore_ascii_case`. The snapshot is immutable and
//! swapped whole (behind an `RwLock<Arc<_>>`) when a prefix changes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::ident::prefix_chain_bytes;
use crate::model::Prefix;

/// The result of a prefix lookup.
#[derive(Debug, Clone)]
pub struct PrefixMatch {
    /// How many bytes of the looked-up prefix matched (the matched prefix is
    /// `input[..matched]`).
    pub matched: usize,
    pub prefix: Arc<Prefix>,
}

/// FNV-1a over ASCII-upper-cased bytes.
pub(crate) fn ci_hash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= u64::from(c.to_ascii_uppercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

pub(crate) type HashKeyed<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

#[derive(Debug)]
struct Entry {
    key: Box<[u8]>,
    prefix: Arc<Prefix>,
}

/// Immutable snapshot of all prefixes.
#[derive(Debug, Default)]
pub(crate) struct PrefixIndex {
    buckets: HashKeyed<Vec<Entry>>,
    homed: Vec<Arc<Prefix>>,
}

impl PrefixIndex {
    pub(crate) fn build(prefixes: impl IntoIterator<Item = Prefix>) -> Self {
        let mut idx = PrefixIndex::default();
        for p in prefixes {
            let key: Box<[u8]> = p.prefix.to_ascii_uppercase().into_bytes().into_boxed_slice();
            let prefix = Arc::new(p);
            if prefix.homed {
                idx.homed.push(prefix.clone());
            }
            idx.buckets.entry(ci_hash(&key)).or_default().push(Entry { key, prefix });
        }
        idx
    }

    /// Exact, case-insensitive.
    pub(crate) fn get(&self, prefix: &[u8]) -> Option<&Arc<Prefix>> {
        self.buckets.get(&ci_hash(prefix))?.iter().find(|e| e.key.eq_ignore_ascii_case(prefix)).map(|e| &e.prefix)
    }

    /// The canonical (upper-case) key of a known prefix.
    pub(crate) fn key_of(&self, prefix: &[u8]) -> Option<&[u8]> {
        self.buckets.get(&ci_hash(prefix))?.iter().find(|e| e.key.eq_ignore_ascii_case(prefix)).map(|e| &e.key[..])
    }

    pub(crate) fn longest(&self, prefix: &[u8], homed_only: bool) -> Option<PrefixMatch> {
        if self.buckets.is_empty() {
            return None;
        }
        for cand in prefix_chain_bytes(prefix) {
            if let Some(p) = self.get(cand)
                && (!homed_only || p.homed)
            {
                return Some(PrefixMatch { matched: cand.len(), prefix: p.clone() });
            }
        }
        None
    }

    pub(crate) fn homed(&self) -> &[Arc<Prefix>] {
        &self.homed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_match() {
        let mut ent = Prefix::new("88.118.8.1001", crate::model::PrefixState::Enabled, 0);
        ent.homed = false;
        let idx = PrefixIndex::build([Prefix::homed("88.118.8", 0), ent]);
        let m = idx.longest(b"88.118.8.1001.7", true).unwrap();
        assert_eq!(m.matched, 8);
        assert_eq!(m.prefix.prefix, "88.118.8");
        let m = idx.longest(b"88.118.8.1001.7", false).unwrap();
        assert_eq!(m.matched, 13);
        assert!(idx.longest(b"88.118", true).is_none());
        assert!(idx.get(b"88.118.8").unwrap().homed);
        let idx = PrefixIndex::build([Prefix::homed("abc.Def", 0)]);
        assert!(idx.get(b"ABC.dEF").is_some());
        assert_eq!(idx.key_of(b"abc.def").unwrap(), b"ABC.DEF");
    }
}
