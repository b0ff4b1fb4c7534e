//! A membership filter of the alias keys (a register-blocked Bloom filter:
//! each key sets 5 bits of one 64-bit word), so a name that resolves to no
//! alias is answered without a backend read: with 10^6 aliases a miss in
//! sled's tree walk cost more than a whole cached hit (docs/performance.md,
//! DNS). Never a false "absent": every alias write sets its key's bits
//! *before* its transaction commits, and the keys already stored are added
//! by a background scan at open; until that scan ends the filter answers
//! "maybe" for every key. Deleted keys keep their bits (a false "maybe",
//! which only costs the read it would have cost anyway). Sized at 16 bits
//! per expected key (the alias cache's capacity): about 0.5% false
//! "maybe" there, degrading gently past it.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

type Fast = foldhash::fast::RandomState;

/// Bits set per key.
const K: u32 = 5;

#[derive(Debug)]
pub(crate) struct KeyFilter {
    words: Box<[AtomicU64]>,
    hasher: Fast,
    ready: AtomicBool,
    /// Asks the open's scan to give up (the store is closing).
    pub(crate) stop: AtomicBool,
}

impl KeyFilter {
    /// A filter for about `keys` keys (`None` for 0).
    pub(crate) fn new(keys: usize) -> Option<Self> {
        if keys == 0 {
            return None;
        }
        let n = (keys.saturating_mul(16) / 64).max(1024).next_power_of_two();
        let words = (0..n).map(|_| AtomicU64::new(0)).collect();
        Some(KeyFilter { words, hasher: Fast::default(), ready: AtomicBool::new(false), stop: AtomicBool::new(false) })
    }

    fn word_and_mask(&self, key: &[u8]) -> (usize, u64) {
        let h = self.hasher.hash_one(key);
        let word = (h as usize) & (self.words.len() - 1);
        let mut mask = 0u64;
        for i in 0..K {
            mask |= 1 << ((h >> (34 + 6 * i)) & 63);
        }
        (word, mask)
    }

    /// Adds `key` (call before the write that stores it commits).
    pub(crate) fn insert(&self, key: &[u8]) {
        let (w, m) = self.word_and_mask(key);
        self.words[w].fetch_or(m, Ordering::Release);
    }

    /// Marks the stored keys as all added (the open's scan ended).
    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// False only when `key` is certainly not stored.
    #[inline]
    pub(crate) fn may_contain(&self, key: &[u8]) -> bool {
        if !self.is_ready() {
            return true;
        }
        let (w, m) = self.word_and_mask(key);
        self.words[w].load(Ordering::Acquire) & m == m
    }

    /// Adds every key of `tree` and then marks the filter ready (the
    /// open's background scan); stops early, not ready, when asked to or
    /// on a read error.
    pub(crate) fn fill_from(&self, tree: &sled::Tree) {
        for (n, k) in tree.iter().keys().enumerate() {
            let Ok(k) = k else { return };
            if n % 4096 == 0 && self.stop.load(Ordering::Relaxed) {
                return;
            }
            self.insert(&k);
        }
        self.set_ready();
    }

    /// Bytes of memory the filter holds.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_absent_few_false_maybe_and_maybe_until_ready() {
        let f = KeyFilter::new(100_000).unwrap();
        assert!(f.may_contain(b"anything"), "not ready: maybe");
        for i in 0..100_000u32 {
            f.insert(format!("gs1\0{i}").as_bytes());
        }
        f.set_ready();
        assert!((0..100_000u32).all(|i| f.may_contain(format!("gs1\0{i}").as_bytes())));
        let false_maybe = (0..100_000u32).filter(|i| f.may_contain(format!("gs1\0x{i}").as_bytes())).count();
        assert!(false_maybe < 2_000, "{false_maybe} of 100000 unknown keys passed");
        assert_eq!(f.bytes(), 262_144);
        assert!(KeyFilter::new(0).is_none());
    }
}
