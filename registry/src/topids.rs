//! The most-resolved identifiers (issue 13: "top identifiers" in the
//! console): a bounded heavy-hitters sketch in memory, fed by every door's
//! successful resolution ([`note`]) and read by the console ([`top`]).
//!
//! The store keeps resolutions per prefix per day; per identifier nothing
//! is kept (a counter per identifier would grow with the identifiers).
//! This sketch is a fixed table of [`SLOTS`] slots, each an identifier's
//! hash and a count, both atomics: no lock and no allocation on the
//! resolution path. An identifier hashes to one slot; a hit adds one, a
//! miss takes one from the occupant and replaces it once its count is gone
//! (the Misra–Gries rule per slot), so an identifier resolved more often
//! than the rest of the traffic landing in its slot stays, and a long tail
//! of one-off identifiers cannot push it out. Counts are estimates (at
//! most the true count since the slot was taken; races between doors may
//! lose a few), and cover the time since the node started.
//!
//! Slots hold hashes; an identifier's text is kept (in a small map behind
//! a mutex, taken with `try_lock` only) once its slot count reaches
//! [`NAME_AT`], so only identifiers resolved repeatedly ever take it, and
//! the map is pruned to the slots' occupants when it grows past twice the
//! table. Memory is bounded: 4,096 slots × 24 bytes plus at most 8,192
//! names of at most [`MAX_LEN`] bytes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Slots of the table (a power of two).
pub const SLOTS: usize = 4096;
/// A slot's count at which its identifier's text is recorded.
pub const NAME_AT: u64 = 3;
/// Longer identifiers are not tracked.
pub const MAX_LEN: usize = 255;

#[derive(Debug)]
struct Slot {
    tag: AtomicU64,
    count: AtomicU64,
    named: AtomicBool,
}

impl Slot {
    const fn new() -> Slot {
        Slot { tag: AtomicU64::new(0), count: AtomicU64::new(0), named: AtomicBool::new(false) }
    }
}

/// The sketch (one per process: [`note`] / [`top`] use [`GLOBAL`]).
#[derive(Debug)]
pub struct TopIds {
    slots: [Slot; SLOTS],
    names: Mutex<BTreeMap<u64, Box<str>>>,
}

/// The node's sketch.
pub static GLOBAL: TopIds = TopIds::new();

/// Counts one resolution of `identifier` (as the client asked for it).
#[inline]
pub fn note(identifier: &[u8]) {
    GLOBAL.note(identifier);
}

/// The `n` most-resolved identifiers, most first.
pub fn top(n: usize) -> Vec<(String, u64)> {
    GLOBAL.top(n)
}

/// 64-bit hash, 8 bytes at a time (never 0: 0 marks an empty slot).
#[inline]
fn hash(b: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    (h ^ (h >> 29)) | 1
}

impl Default for TopIds {
    fn default() -> Self {
        Self::new()
    }
}

impl TopIds {
    /// An empty sketch.
    pub const fn new() -> TopIds {
        TopIds { slots: [const { Slot::new() }; SLOTS], names: Mutex::new(BTreeMap::new()) }
    }

    /// Counts one resolution of `id`: a few relaxed atomic operations.
    #[inline]
    pub fn note(&self, id: &[u8]) {
        if id.is_empty() || id.len() > MAX_LEN {
            return;
        }
        let h = hash(id);
        let s = &self.slots[(h >> 40) as usize & (SLOTS - 1)];
        let tag = s.tag.load(Relaxed);
        if tag == h {
            let c = s.count.fetch_add(1, Relaxed) + 1;
            if c >= NAME_AT && !s.named.load(Relaxed) {
                self.name(s, h, id);
            }
            return;
        }
        // Another identifier (or none) holds the slot: wear it down by one;
        // take the slot when its count is gone.
        if s.count.fetch_update(Relaxed, Relaxed, |c| c.checked_sub(1)).is_err() || s.count.load(Relaxed) == 0 {
            s.named.store(false, Relaxed);
            s.tag.store(h, Relaxed);
            s.count.store(1, Relaxed);
        }
    }

    /// Records the text of the identifier in slot `s` (skipped when another
    /// thread holds the map; retried on its next resolution).
    #[cold]
    fn name(&self, s: &Slot, h: u64, id: &[u8]) {
        let Ok(mut m) = self.names.try_lock() else { return };
        if m.len() >= 2 * SLOTS {
            let live: std::collections::HashSet<u64> = self.slots.iter().map(|s| s.tag.load(Relaxed)).collect();
            m.retain(|k, _| live.contains(k));
        }
        m.insert(h, String::from_utf8_lossy(id).into());
        s.named.store(true, Relaxed);
    }

    /// The `n` identifiers with the highest counts, most first (only those
    /// resolved at least [`NAME_AT`] times are named, so shown).
    pub fn top(&self, n: usize) -> Vec<(String, u64)> {
        let mut hot: Vec<(u64, u64)> = self
            .slots
            .iter()
            .map(|s| (s.tag.load(Relaxed), s.count.load(Relaxed)))
            .filter(|&(t, c)| t != 0 && c >= NAME_AT)
            .collect();
        hot.sort_unstable_by_key(|h| std::cmp::Reverse(h.1));
        let m = self.names.lock().unwrap_or_else(|e| e.into_inner());
        hot.into_iter().filter_map(|(t, c)| m.get(&t).map(|name| (name.to_string(), c))).take(n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_hitters_survive_a_long_tail() {
        let t = TopIds::new();
        for round in 0..200u32 {
            for _ in 0..5 {
                t.note(b"88.1/HOT");
            }
            t.note(b"88.1/WARM");
            // 50 one-off identifiers per round: 10,000 distinct in all.
            for k in 0..50u32 {
                t.note(format!("88.1/tail-{round}-{k}").as_bytes());
            }
        }
        let top = t.top(10);
        assert_eq!(top[0].0, "88.1/HOT", "{top:?}");
        assert!(top[0].1 > 900 && top[0].1 <= 1000, "{top:?}");
        assert!(top.iter().any(|(n, c)| n == "88.1/WARM" && *c > 100 && *c <= 200), "{top:?}");
        assert!(top.iter().all(|(n, _)| !n.contains("tail")), "one-offs never reach the list: {top:?}");
    }

    #[test]
    fn exact_when_alone_and_bounded() {
        let t = TopIds::new();
        for i in 0..40 {
            t.note(b"88.1/A");
            if i % 4 == 0 {
                t.note(b"88.1/B");
            }
        }
        t.note(b"88.1/C");
        t.note(&[b'x'; MAX_LEN + 1]);
        t.note(b"");
        assert_eq!(t.top(5), vec![("88.1/A".to_owned(), 40), ("88.1/B".to_owned(), 10)]);
        assert_eq!(t.top(1).len(), 1);
        // Names stay bounded whatever the traffic.
        for k in 0..50_000u32 {
            let id = format!("88.1/n{k}");
            for _ in 0..NAME_AT {
                t.note(id.as_bytes());
            }
        }
        assert!(t.names.lock().unwrap().len() <= 2 * SLOTS + 1);
    }
}
