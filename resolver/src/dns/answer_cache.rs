//! The DNS front's answer cache: for a name that resolved, the answer
//! section as written (NAPTR records whose owner is a pointer to the
//! question at offset 12, so the bytes do not depend on the query's id,
//! case or EDNS), kept with the store's [`ReadStamp`] of the reads it was
//! built from. A hit is one hash lookup and one stamp check
//! ([`Store::stamp_is_current`](idnode_registry::store::Store::stamp_is_current)),
//! instead of the name's grammar, the alias lookup, the record lookup and
//! the NAPTR rendering; an entry whose stamp went stale (a write to the
//! alias, the record or the prefix table) is a miss and is rebuilt by the
//! next query.
//!
//! Well-formed names that resolve to nothing (NXDOMAIN) are kept too, as a
//! key, a stamp and the authority section as written (the zone's SOA, its
//! names compressed against the question: kept for a lower-case QNAME
//! only, see `is_lower` in `mod.rs`), in a set of their own per shard
//! (RFC 2308's negative caching, at the authority): a flood of unknown
//! names churns that set, never the answers.
//!
//! Keys are `[zone index] ++ QNAME in lower-case wire form`; key and answer
//! share one allocation. Both sets are bounded by an entry count per shard
//! like the store's read cache (a full set drops an arbitrary entry per
//! insert).

use std::hash::BuildHasher;
use std::sync::{RwLock, RwLockReadGuard};

use hashbrown::HashTable;

use idnode_registry::store::ReadStamp;

type Fast = foldhash::fast::RandomState;

const SHARDS: usize = 64;

/// Longest key kept (a zone byte and a wire name of at most 255 bytes).
pub(super) const MAX_KEY: usize = 256;

/// `[key length (2 bytes)] [key] [answer]` in one buffer (for a known-absent
/// name, the answer is its authority section, or empty).
struct Packed(Box<[u8]>);

impl Packed {
    fn new(key: &[u8], answer: &[u8]) -> Self {
        let mut b = Vec::with_capacity(2 + key.len() + answer.len());
        b.extend_from_slice(&(key.len() as u16).to_le_bytes());
        b.extend_from_slice(key);
        b.extend_from_slice(answer);
        Packed(b.into_boxed_slice())
    }

    fn key_end(&self) -> usize {
        2 + usize::from(u16::from_le_bytes([self.0[0], self.0[1]]))
    }

    fn key(&self) -> &[u8] {
        &self.0[2..self.key_end()]
    }

    fn answer(&self) -> &[u8] {
        &self.0[self.key_end()..]
    }
}

struct Entry {
    records: u16,
    stamp: ReadStamp,
}

/// Tables probed with the key's hash, computed once per call (it also
/// picks the shard).
#[derive(Default)]
struct Shard {
    answers: HashTable<(Packed, Entry)>,
    nx: HashTable<(Packed, ReadStamp)>,
}

pub(super) struct AnswerCache {
    shards: Box<[RwLock<Shard>]>,
    per_shard: usize,
    hasher: Fast,
}

impl AnswerCache {
    /// A cache of about `entries` answers (`None` for 0).
    pub(super) fn new(entries: usize) -> Option<Self> {
        if entries == 0 {
            return None;
        }
        let shards = (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect();
        let per_shard = (entries.div_ceil(SHARDS) + entries.div_ceil(SHARDS * 8)).max(1);
        Some(AnswerCache { shards, per_shard, hasher: Fast::default() })
    }

    /// `key`'s hash and its shard.
    fn locate(&self, key: &[u8]) -> (u64, &RwLock<Shard>) {
        let h = self.hasher.hash_one(key);
        (h, &self.shards[shard_of(h)])
    }

    /// `key`'s hash (the same [`AnswerCache::read`] and [`Held`] use).
    pub(super) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// What is kept for `key`, its stamp checked with `current`, handed to
    /// `f` under the shard's read lock (a batch reads through [`Held`]).
    #[inline]
    pub(super) fn read<R>(
        &self,
        key: &[u8],
        current: impl Fn(&ReadStamp) -> bool,
        f: impl FnOnce(Found<'_>) -> R,
    ) -> R {
        let (h, shard) = self.locate(key);
        let s = shard.read().unwrap_or_else(|e| e.into_inner());
        f(find_in(&s, h, key, current))
    }

    /// Read locks on the shards of `hashes`, for a batch of lookups
    /// ([`Held`]). Taken in shard order, so that two batches never wait
    /// on each other's in a cycle.
    pub(super) fn hold(&self, hashes: impl Iterator<Item = u64>) -> Held<'_> {
        let mut wanted = [false; SHARDS];
        for h in hashes {
            wanted[shard_of(h)] = true;
        }
        let guards =
            std::array::from_fn(|i| wanted[i].then(|| self.shards[i].read().unwrap_or_else(|e| e.into_inner())));
        Held { guards }
    }

    /// Drops what is kept for `key` (it went stale).
    pub(super) fn forget(&self, key: &[u8]) {
        let (h, shard) = self.locate(key);
        let mut s = shard.write().unwrap_or_else(|e| e.into_inner());
        remove_answer(&mut s, h, key);
        remove_nx(&mut s, h, key);
    }

    /// Keeps that `key` resolves to nothing, read under `stamp`, with its
    /// authority section (empty: none kept).
    pub(super) fn insert_nx(&self, key: &[u8], authority: &[u8], stamp: ReadStamp) {
        if key.len() > MAX_KEY {
            return;
        }
        let packed = Packed::new(key, authority);
        let (h, shard) = self.locate(key);
        let mut s = shard.write().unwrap_or_else(|e| e.into_inner());
        remove_answer(&mut s, h, key);
        if !remove_nx(&mut s, h, key) && s.nx.len() >= self.per_shard {
            evict_one(&mut s.nx, |(p, _)| self.hasher.hash_one(p.key()));
        }
        s.nx.insert_unique(h, (packed, stamp), |(p, _)| self.hasher.hash_one(p.key()));
    }

    /// Keeps `answer` (`records` records) for `key`, built from reads
    /// stamped `stamp`.
    pub(super) fn insert(&self, key: &[u8], answer: &[u8], records: u16, stamp: ReadStamp) {
        if key.len() > MAX_KEY {
            return;
        }
        let packed = Packed::new(key, answer);
        let (h, shard) = self.locate(key);
        let mut s = shard.write().unwrap_or_else(|e| e.into_inner());
        remove_nx(&mut s, h, key);
        if !remove_answer(&mut s, h, key) && s.answers.len() >= self.per_shard {
            evict_one(&mut s.answers, |(p, _)| self.hasher.hash_one(p.key()));
        }
        s.answers.insert_unique(h, (packed, Entry { records, stamp }), |(p, _)| self.hasher.hash_one(p.key()));
    }

    /// Answers kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().map(|s| s.answers.len() + s.nx.len()).unwrap_or(0)).sum()
    }
}

/// The shard of a key with hash `h`.
fn shard_of(h: u64) -> usize {
    (h >> 32) as usize % SHARDS
}

/// What is kept for a key, as [`find_in`] finds it: the answer section
/// and its record count, that the name resolves to nothing (with its
/// authority section, or empty), or neither (stale: a write may have
/// changed it; absent: nothing kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found<'a> {
    Hit(&'a [u8], u16),
    Nx(&'a [u8]),
    Stale,
    Absent,
}

/// Looks `key` (hash `h`) up in shard `s`, its stamp checked with `current`.
#[inline]
fn find_in<'s>(s: &'s Shard, h: u64, key: &[u8], current: impl Fn(&ReadStamp) -> bool) -> Found<'s> {
    if let Some((packed, e)) = s.answers.find(h, |(p, _)| p.key() == key) {
        return if current(&e.stamp) { Found::Hit(packed.answer(), e.records) } else { Found::Stale };
    }
    match s.nx.find(h, |(p, _)| p.key() == key) {
        Some((p, stamp)) if current(stamp) => Found::Nx(p.answer()),
        Some(_) => Found::Stale,
        None => Found::Absent,
    }
}

/// The shards a batch of lookups uses, read-locked
/// ([`AnswerCache::hold`]). While it is held the cache does not change:
/// lookups take no lock of their own, and what a lookup would change
/// (a stale entry, a new answer) waits until it is dropped.
///
/// Why a batch: a lookup is a chain of dependent loads (the table's
/// control bytes, the bucket, the kept answer and its stamp's epochs), and
/// at 10^6 names each is likely a cache miss. One request's chain cannot
/// overlap itself, but the chains of a batch's requests do not depend on
/// each other: [`Held::touch_bucket`] and then [`Held::find`], each run
/// over the whole batch in a short loop, let the processor wait on all of
/// them at once. (A lock taken per request would order every load behind
/// it.)
pub(super) struct Held<'a> {
    guards: [Option<RwLockReadGuard<'a, Shard>>; SHARDS],
}

impl Held<'_> {
    fn shard(&self, h: u64) -> Option<&Shard> {
        self.guards[shard_of(h)].as_deref()
    }

    /// Loads the table slot `h` leads to (its control bytes and bucket);
    /// the returned word only keeps the loads from being optimised away.
    #[inline]
    pub(super) fn touch_bucket(&self, h: u64) -> usize {
        let Some(s) = self.shard(h) else { return 0 };
        match s.answers.find(h, |_| true) {
            Some((p, e)) => p.0.as_ptr() as usize ^ usize::from(e.records),
            None => 0,
        }
    }

    /// [`AnswerCache::read`] without a lock of its own (`h`:
    /// `key`'s hash, as [`AnswerCache::hash`] gives it). A hit's answer
    /// has every cache line loaded, so that the copy that follows finds
    /// them; the second value only keeps those loads from being optimised
    /// away. [`Found::Absent`] for a key whose shard is not held.
    #[inline]
    pub(super) fn find(&self, h: u64, key: &[u8], current: impl Fn(&ReadStamp) -> bool) -> (Found<'_>, usize) {
        let Some(s) = self.shard(h) else { return (Found::Absent, 0) };
        let found = find_in(s, h, key, current);
        let touched = match found {
            Found::Hit(bytes, _) | Found::Nx(bytes) => bytes.chunks(64).fold(0, |x, line| x ^ usize::from(line[0])),
            _ => 0,
        };
        (found, touched)
    }
}

/// Drops one arbitrary entry of a full table (`hash` gives an entry's
/// hash): the first in table order, or another filed under its hash (any
/// victim will do), without copying its key.
fn evict_one<T>(t: &mut HashTable<T>, hash: impl Fn(&T) -> u64) {
    if let Some(h) = t.iter().next().map(hash)
        && let Ok(victim) = t.find_entry(h, |_| true)
    {
        victim.remove();
    }
}

/// Removes `key`'s answer (hash `h`) from `s`; whether there was one.
fn remove_answer(s: &mut Shard, h: u64, key: &[u8]) -> bool {
    s.answers.find_entry(h, |(p, _)| p.key() == key).map(|e| e.remove()).is_ok()
}

/// Removes `key`'s known-absent entry (hash `h`) from `s`; whether there was one.
fn remove_nx(s: &mut Shard, h: u64, key: &[u8]) -> bool {
    s.nx.find_entry(h, |(p, _)| p.key() == key).map(|e| e.remove()).is_ok()
}

#[cfg(test)]
mod tests {
    use idnode_registry::model::{Prefix, Value};
    use idnode_registry::store::{Resolution, StoreExt, WriteCtx};

    use super::*;

    /// What a single read gives (the test's view of [`AnswerCache::read`]).
    #[derive(Debug, PartialEq, Eq)]
    enum Lookup {
        Hit(u16),
        Nx { authority: bool },
        Stale,
        Absent,
    }

    impl AnswerCache {
        /// Appends a hit's answer, or a known-absent name's kept authority
        /// when `nx_authority`, to `out`.
        fn answer(
            &self,
            key: &[u8],
            out: &mut Vec<u8>,
            current: impl Fn(&ReadStamp) -> bool,
            nx_authority: bool,
        ) -> Lookup {
            self.read(key, current, |found| match found {
                Found::Hit(answer, n) => {
                    out.extend_from_slice(answer);
                    Lookup::Hit(n)
                }
                Found::Nx(authority) => {
                    let appended = nx_authority && !authority.is_empty();
                    if appended {
                        out.extend_from_slice(authority);
                    }
                    Lookup::Nx { authority: appended }
                }
                Found::Stale => Lookup::Stale,
                Found::Absent => Lookup::Absent,
            })
        }
    }

    /// A real stamp (only a store issues them).
    fn stamp() -> (tempfile::TempDir, ReadStamp) {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::tests::cached_store(dir.path());
        let ctx = WriteCtx::new(1, "t");
        store.put_prefix(&Prefix::homed("88.1", 1), &ctx).unwrap();
        store.create_record(b"88.1/a", vec![Value::new(1, "URL", "u")], false, &ctx).unwrap();
        let (_, stamp) = store.resolve_stamped(Resolution::Handle(b"88.1/a")).unwrap();
        (dir, stamp.unwrap())
    }

    #[test]
    fn keeps_replaces_and_stays_bounded() {
        let (_dir, st) = stamp();
        let c = AnswerCache::new(64 * 4).unwrap();
        let mut out = vec![9];
        assert_eq!(c.answer(b"\x00k", &mut out, |_| true, true), Lookup::Absent);
        c.insert(b"\x00k", b"first", 1, st);
        assert_eq!(c.answer(b"\x00k", &mut out, |_| true, true), Lookup::Hit(1));
        assert_eq!(out, b"\x09first");
        // A stale stamp is a miss; a new insert replaces key and answer.
        assert_eq!(c.answer(b"\x00k", &mut Vec::new(), |_| false, true), Lookup::Stale);
        c.insert(b"\x00k", b"second!", 2, st);
        let mut out = Vec::new();
        assert_eq!(c.answer(b"\x00k", &mut out, |_| true, true), Lookup::Hit(2));
        assert_eq!(out, b"second!");
        assert_eq!(c.len(), 1);
        c.forget(b"\x00k");
        assert_eq!(c.answer(b"\x00k", &mut out, |_| true, true), Lookup::Absent);
        // Known absent: kept apart, replaced by an answer and back.
        c.insert_nx(b"\x00k", b"soa", st);
        let mut out = Vec::new();
        assert_eq!(c.answer(b"\x00k", &mut out, |_| true, false), Lookup::Nx { authority: false });
        assert_eq!(out, b"", "not asked for");
        assert_eq!(c.answer(b"\x00k", &mut out, |_| true, true), Lookup::Nx { authority: true });
        assert_eq!(out, b"soa");
        assert_eq!(c.answer(b"\x00k", &mut out, |_| false, true), Lookup::Stale);
        c.insert(b"\x00k", b"third", 1, st);
        assert_eq!(c.answer(b"\x00k", &mut Vec::new(), |_| true, true), Lookup::Hit(1));
        c.insert_nx(b"\x00k", b"", st);
        assert_eq!(c.answer(b"\x00k", &mut Vec::new(), |_| true, true), Lookup::Nx { authority: false });
        assert_eq!(c.len(), 1);
        c.forget(b"\x00k");
        for i in 0..10_000u32 {
            c.insert(&i.to_be_bytes(), b"x", 1, st);
        }
        assert!(c.len() <= 64 * (4 + 1), "{}", c.len());
        // A flood of unknown names stays in its own set: the answers stay.
        let kept = c.len();
        for i in 10_000..20_000u32 {
            c.insert_nx(&i.to_be_bytes(), b"", st);
        }
        assert!(c.len() <= kept + 64 * (4 + 1), "{}", c.len());
        let answers = (0..10_000u32)
            .filter(|i| c.answer(&i.to_be_bytes(), &mut Vec::new(), |_| true, true) != Lookup::Absent)
            .count();
        assert_eq!(answers, kept, "no answer was evicted by the unknown names");
        // Too long a key is not kept.
        c.insert(&[1u8; MAX_KEY + 1], b"x", 1, st);
        assert_eq!(c.answer(&[1u8; MAX_KEY + 1], &mut Vec::new(), |_| true, true), Lookup::Absent);
        assert!(AnswerCache::new(0).is_none());
    }
}
