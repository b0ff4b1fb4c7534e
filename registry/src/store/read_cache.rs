//! An in-memory read cache of records in front of sled, for the resolution
//! hot path.
//!
//! Measured (docs/performance.md): with 1,000,000 identifiers read at
//! random, sled's `get` (page-cache lookup, LRU bookkeeping, node binary
//! search) was about 40% of the UDP door's user time. A hash lookup here is
//! a fraction of that.
//!
//! Records are cached as [`RecordBytes`] (a reference-counted buffer), so a
//! hit costs one hash, one shard read lock and a reference increment. The
//! cache is read-through: a miss reads sled and fills the entry. Writes
//! invalidate the keys they touch *after* their transaction committed, under
//! the store's writer lock; a per-shard generation makes a reader that
//! raced with a write drop its fill instead of caching the old bytes.
//! Absent keys are cached only where asking the backend costs a network
//! round trip (PostgreSQL: [`ReadCache::fill_absent`]), in a separate small
//! set per shard (a quarter of its record capacity) that is emptied when
//! full: hostile input churns that set, never the cached records. A write
//! that creates the key invalidates it like any other (on a node that did
//! not write it, when its change-log follower sees the change: the same
//! staleness bound as an update). Bounded by an entry count: a full shard
//! drops an arbitrary entry per fill (clearing it whole made unevenly loaded
//! shards churn).
//!
//! Every invalidation also advances an *epoch* in a table of
//! [`EPOCH_SLOTS`] counters indexed by the key's hash ([`ReadCache::stamp`]):
//! a reader that takes a key's stamp before reading it can later tell, with
//! one load, whether a write may have changed that key since
//! ([`ReadCache::is_current`]). Keys sharing a slot only cost a spurious
//! "changed". This is what lets a front door keep answers built from a
//! record (the DNS answer cache) without a lookup per use.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Seeded foldhash: every resolution hashes its key here once.
type Fast = foldhash::fast::RandomState;

use crate::model::RecordBytes;

const SHARDS: usize = 64;
/// Epoch counters per cache (4 bytes each: 256 KiB).
pub(crate) const EPOCH_SLOTS: usize = 1 << 16;

/// A key's epoch slot and its value when the stamp was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Epoch {
    slot: u32,
    value: u32,
}

#[derive(Debug)]
struct Shard<V> {
    map: HashMap<Box<[u8]>, V, Fast>,
    absent: HashSet<Box<[u8]>, Fast>,
    generation: u64,
}

impl<V> Default for Shard<V> {
    fn default() -> Self {
        Shard { map: HashMap::default(), absent: HashSet::default(), generation: 0 }
    }
}

/// See the module docs. `V` is what a key maps to: a record
/// ([`RecordBytes`], the default) or an alias's target (`Arc<str>`).
#[derive(Debug)]
pub(crate) struct ReadCache<V = RecordBytes> {
    shards: Box<[RwLock<Shard<V>>]>,
    per_shard: usize,
    hasher: Fast,
    epochs: Box<[AtomicU32]>,
}

/// A reader's ticket between a miss and the fill.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    shard: usize,
    generation: u64,
}

impl<V: Clone> ReadCache<V> {
    /// A cache of at most about `entries` records (`None` for 0).
    pub(crate) fn new(entries: usize) -> Option<Self> {
        if entries == 0 {
            return None;
        }
        let shards = (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect();
        // 1/8 slack per shard: keys do not spread perfectly evenly.
        let per_shard = (entries.div_ceil(SHARDS) + entries.div_ceil(SHARDS * 8)).max(1);
        let epochs = (0..EPOCH_SLOTS).map(|_| AtomicU32::new(0)).collect();
        Some(ReadCache { shards, per_shard, hasher: Fast::default(), epochs })
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    fn slot_of(&self, key: &[u8]) -> usize {
        // The high bits: the shard took the low ones.
        (self.hasher.hash_one(key) >> 48) as usize % EPOCH_SLOTS
    }

    /// `key`'s epoch now. Take it *before* reading the key: a write that
    /// commits after the read then always shows in [`is_current`](Self::is_current).
    pub(crate) fn stamp(&self, key: &[u8]) -> Epoch {
        let slot = self.slot_of(key);
        Epoch { slot: slot as u32, value: self.epochs[slot].load(Ordering::Acquire) }
    }

    /// Whether no write invalidated a key of `e`'s slot since `e` was taken.
    #[inline]
    pub(crate) fn is_current(&self, e: Epoch) -> bool {
        self.epochs.get(e.slot as usize).is_some_and(|v| v.load(Ordering::Acquire) == e.value)
    }

    /// A cached record (`Ok(None)`: known absent), or a ticket to fill the
    /// entry after reading the backend.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<V>, Ticket> {
        let shard = self.shard_of(key);
        let s = self.shards[shard].read().unwrap_or_else(|e| e.into_inner());
        match s.map.get(key) {
            Some(r) => Ok(Some(r.clone())),
            None if !s.absent.is_empty() && s.absent.contains(key) => Ok(None),
            None => Err(Ticket { shard, generation: s.generation }),
        }
    }

    /// Records that the backend has no `key` (read under `ticket`), unless a
    /// write touched the shard since.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn fill_absent(&self, key: &[u8], ticket: Ticket) {
        let mut s = self.shards[ticket.shard].write().unwrap_or_else(|e| e.into_inner());
        if s.generation != ticket.generation {
            return;
        }
        if s.absent.len() >= (self.per_shard / 4).max(1) {
            s.absent.clear();
        }
        s.absent.insert(key.into());
    }

    /// Caches `record` read from sled under `ticket`, unless a write touched
    /// the shard since the ticket was taken.
    pub(crate) fn fill(&self, key: &[u8], record: &V, ticket: Ticket) {
        let mut s = self.shards[ticket.shard].write().unwrap_or_else(|e| e.into_inner());
        if s.generation != ticket.generation {
            return;
        }
        if s.map.len() >= self.per_shard {
            // Full: drop one entry (the first the table yields — effectively
            // arbitrary, and cheap in a full table).
            if let Some(victim) = s.map.keys().next().cloned() {
                s.map.remove(&victim);
            }
        }
        s.map.insert(key.into(), record.clone());
    }

    /// Forgets `key` (call after the write that changed it committed).
    pub(crate) fn invalidate(&self, key: &[u8]) {
        let shard = self.shard_of(key);
        let mut s = self.shards[shard].write().unwrap_or_else(|e| e.into_inner());
        s.generation = s.generation.wrapping_add(1);
        s.map.remove(key);
        s.absent.remove(key);
        drop(s);
        // After the entry is gone: a reader that sees the new epoch misses.
        self.epochs[self.slot_of(key)].fetch_add(1, Ordering::Release);
    }

    /// Forgets every entry (a follower that lost track of the log).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn clear(&self) {
        for sh in self.shards.iter() {
            let mut s = sh.write().unwrap_or_else(|e| e.into_inner());
            s.generation = s.generation.wrapping_add(1);
            s.map.clear();
            s.absent.clear();
        }
        for e in self.epochs.iter() {
            e.fetch_add(1, Ordering::Release);
        }
    }

    /// Cached records.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().map(|s| s.map.len()).unwrap_or(0)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    fn rec(s: &str) -> RecordBytes {
        RecordBytes::from_values(&[Value::new(1, "URL", s)])
    }

    #[test]
    fn fill_get_invalidate() {
        let c = ReadCache::new(1000).unwrap();
        let t = c.get(b"A/1").unwrap_err();
        c.fill(b"A/1", &rec("x"), t);
        assert_eq!(c.get(b"A/1").unwrap().unwrap().stored(), rec("x").stored());
        c.invalidate(b"A/1");
        assert!(c.get(b"A/1").is_err());
    }

    #[test]
    fn absent_keys_are_remembered_bounded_and_forgotten_on_write() {
        let c = ReadCache::new(64 * 8).unwrap();
        let t = c.get(b"A/none").unwrap_err();
        c.fill_absent(b"A/none", t);
        assert!(matches!(c.get(b"A/none"), Ok(None)), "known absent");
        // A create of the key (its invalidation) forgets the absence.
        c.invalidate(b"A/none");
        assert!(c.get(b"A/none").is_err());
        // A flood of absent keys never evicts a cached record and stays
        // within a quarter of each shard's record capacity.
        let t = c.get(b"A/1").unwrap_err();
        c.fill(b"A/1", &rec("x"), t);
        for i in 0..100_000 {
            let k = format!("A/x{i}");
            if let Err(t) = c.get(k.as_bytes()) {
                c.fill_absent(k.as_bytes(), t);
            }
        }
        assert!(matches!(c.get(b"A/1"), Ok(Some(_))));
        let absent: usize = c.shards.iter().map(|s| s.read().unwrap().absent.len()).sum();
        assert!(absent <= SHARDS * (c.per_shard / 4).max(1), "{absent}");
    }

    #[test]
    fn a_fill_that_raced_with_a_write_is_dropped() {
        let c = ReadCache::new(1000).unwrap();
        let t = c.get(b"A/1").unwrap_err();
        // A writer commits and invalidates between the reader's miss and fill.
        c.invalidate(b"A/1");
        c.fill(b"A/1", &rec("old"), t);
        assert!(c.get(b"A/1").is_err());
    }

    #[test]
    fn a_stamp_goes_stale_when_its_key_is_invalidated_or_the_cache_cleared() {
        let c: ReadCache = ReadCache::new(1000).unwrap();
        let a = c.stamp(b"A/1");
        assert!(c.is_current(a));
        c.invalidate(b"A/2");
        // Another key moves only its own slot (a shared slot would be a
        // spurious change, never a missed one).
        if c.slot_of(b"A/2") != c.slot_of(b"A/1") {
            assert!(c.is_current(a));
        }
        c.invalidate(b"A/1");
        assert!(!c.is_current(a));
        let b = c.stamp(b"A/1");
        assert!(c.is_current(b));
        c.clear();
        assert!(!c.is_current(b));
    }

    #[test]
    fn bounded() {
        let c = ReadCache::new(64).unwrap();
        for i in 0..10_000 {
            let k = format!("A/{i}");
            if let Err(t) = c.get(k.as_bytes()) {
                c.fill(k.as_bytes(), &rec("x"), t);
            }
        }
        assert!(c.len() <= 2 * 64 + SHARDS);
        assert!(ReadCache::<RecordBytes>::new(0).is_none());
    }

    #[test]
    fn the_store_never_serves_a_stale_record_from_its_cache() {
        use crate::store::{SledOptions, SledStore, Store, StoreExt, WriteCtx};
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(SledOptions::new(dir.path()).read_cache_entries(100)).unwrap();
        let ctx = WriteCtx::new(1, "t");
        store.create_record(b"A/1", vec![Value::new(1, "URL", "one")], false, &ctx).unwrap();
        let url = |s: &SledStore| s.get_record(b"A/1").unwrap().map(|r| r.values().unwrap()[0].data.clone());
        assert_eq!(url(&store), Some(b"one".to_vec()));
        assert_eq!(url(&store), Some(b"one".to_vec())); // served from the cache
        store.replace_record(b"A/1", vec![Value::new(1, "URL", "two")], &ctx).unwrap();
        assert_eq!(url(&store), Some(b"two".to_vec()));
        store.delete_record(b"A/1", &ctx).unwrap();
        assert_eq!(url(&store), None);
    }
}
