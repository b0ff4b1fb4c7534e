//! The cache of answers from upstream servers (recursion): entries live
//! for their TTL (capped, e.g. at two days), negative answers are entries
//! like any other (the caller gives them a short TTL), and concurrent
//! identical misses are resolved once ("single flight"): the first caller
//! leads, the others wait for its result.
//!
//! A sharded map behind plain mutexes, bounded in entries (a full shard
//! drops expired entries, then an arbitrary one). No clock: every call
//! takes `now` (unix seconds), so expiry is tested without sleeping.

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::hash::BuildHasher;
use std::sync::Mutex;

use tokio::sync::oneshot;

const SHARDS: usize = 16;

struct Entry<V> {
    value: V,
    /// Unix second from which the entry is stale.
    expires: u64,
}

struct Shard<V> {
    map: HashMap<Vec<u8>, Entry<V>>,
    /// Keys being resolved, with the callers waiting for them.
    inflight: HashMap<Vec<u8>, Vec<oneshot::Sender<V>>>,
}

/// What [`Cache::lookup`] found.
#[derive(Debug)]
pub enum Lookup<V> {
    /// A fresh entry.
    Hit(V),
    /// Nobody is resolving this key: the caller must, then call
    /// [`Cache::complete`] with the guard (dropping it without completing
    /// releases the waiters with an error).
    Lead(Flight),
    /// Another caller is resolving this key: await its value (an error
    /// means the leader gave up).
    Wait(oneshot::Receiver<V>),
}

/// The right (and duty) to resolve one key.
#[derive(Debug)]
pub struct Flight {
    key: Vec<u8>,
    shard: usize,
    done: bool,
    /// Set by the cache so that dropping the guard can release waiters.
    release: Option<std::sync::Weak<dyn Release>>,
}

trait Release: Send + Sync {
    fn release(&self, shard: usize, key: &[u8]);
}

impl Drop for Flight {
    fn drop(&mut self) {
        if !self.done
            && let Some(r) = self.release.take().and_then(|w| w.upgrade())
        {
            r.release(self.shard, &self.key);
        }
    }
}

/// A bounded TTL cache with single flight. Share it as `Arc<Cache<V>>`.
pub struct Cache<V> {
    inner: std::sync::Arc<Inner<V>>,
}

struct Inner<V> {
    shards: Vec<Mutex<Shard<V>>>,
    per_shard: usize,
    max_ttl: u32,
    hasher: std::collections::hash_map::RandomState,
}

impl<V: Send + 'static> Release for Inner<V> {
    fn release(&self, shard: usize, key: &[u8]) {
        let mut s = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        // Dropping the senders wakes the waiters with an error.
        s.inflight.remove(key);
    }
}

impl<V> std::fmt::Debug for Cache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("per_shard", &self.inner.per_shard).field("max_ttl", &self.inner.max_ttl).finish()
    }
}

impl<V: Clone + Send + 'static> Cache<V> {
    /// A cache of about `capacity` entries whose TTLs are capped at
    /// `max_ttl` seconds. Capacity 0 keeps nothing (single flight still
    /// works).
    pub fn new(capacity: usize, max_ttl: u32) -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard { map: HashMap::new(), inflight: HashMap::new() })).collect();
        Cache {
            inner: std::sync::Arc::new(Inner {
                shards,
                per_shard: capacity.div_ceil(SHARDS),
                max_ttl,
                hasher: Default::default(),
            }),
        }
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        (self.inner.hasher.hash_one(key) as usize) % SHARDS
    }

    fn lock(&self, i: usize) -> std::sync::MutexGuard<'_, Shard<V>> {
        self.inner.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh entry, or `None`.
    pub fn get(&self, key: &[u8], now: u64) -> Option<V> {
        let s = self.lock(self.shard_of(key));
        s.map.get(key).filter(|e| now < e.expires).map(|e| e.value.clone())
    }

    /// Stores `value` for `ttl` seconds (capped at the cache's maximum; 0
    /// stores nothing).
    pub fn insert(&self, key: &[u8], value: V, ttl: u32, now: u64) {
        let i = self.shard_of(key);
        let mut s = self.lock(i);
        self.insert_locked(&mut s, key, value, ttl, now);
    }

    fn insert_locked(&self, s: &mut Shard<V>, key: &[u8], value: V, ttl: u32, now: u64) {
        let ttl = ttl.min(self.inner.max_ttl);
        if ttl == 0 || self.inner.per_shard == 0 {
            return;
        }
        if s.map.len() >= self.inner.per_shard && !s.map.contains_key(key) {
            s.map.retain(|_, e| now < e.expires);
            if s.map.len() >= self.inner.per_shard
                && let Some(k) = s.map.keys().next().cloned()
            {
                s.map.remove(&k);
            }
        }
        s.map.insert(key.to_vec(), Entry { value, expires: now + u64::from(ttl) });
    }

    /// A fresh entry, or the lead of a new flight, or a place in the queue
    /// of the flight under way.
    pub fn lookup(&self, key: &[u8], now: u64) -> Lookup<V> {
        let i = self.shard_of(key);
        let mut s = self.lock(i);
        if let Some(e) = s.map.get(key) {
            if now < e.expires {
                return Lookup::Hit(e.value.clone());
            }
            s.map.remove(key);
        }
        match s.inflight.entry(key.to_vec()) {
            MapEntry::Occupied(mut o) => {
                let (tx, rx) = oneshot::channel();
                o.get_mut().push(tx);
                Lookup::Wait(rx)
            }
            MapEntry::Vacant(v) => {
                v.insert(Vec::new());
                let weak: std::sync::Weak<dyn Release> =
                    std::sync::Arc::downgrade(&self.inner) as std::sync::Weak<dyn Release>;
                Lookup::Lead(Flight { key: key.to_vec(), shard: i, done: false, release: Some(weak) })
            }
        }
    }

    /// Ends a flight: stores `value` for `ttl` seconds (0 = do not keep it,
    /// e.g. an error) and hands it to every waiter.
    pub fn complete(&self, mut flight: Flight, value: V, ttl: u32, now: u64) {
        flight.done = true;
        let mut s = self.lock(flight.shard);
        let waiters = s.inflight.remove(&flight.key).unwrap_or_default();
        self.insert_locked(&mut s, &flight.key, value.clone(), ttl, now);
        drop(s);
        for w in waiters {
            let _ = w.send(value.clone());
        }
    }

    /// Entries held (fresh or not yet evicted).
    pub fn len(&self) -> usize {
        (0..SHARDS).map(|i| self.lock(i).map.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn lead<V: std::fmt::Debug>(l: Lookup<V>) -> Flight {
        match l {
            Lookup::Lead(f) => f,
            other => panic!("expected to lead, got {other:?}"),
        }
    }

    #[test]
    fn entries_live_for_their_ttl_capped_at_the_maximum() {
        let c: Cache<u32> = Cache::new(100, 2 * 86_400);
        let f = lead(c.lookup(b"a", NOW));
        c.complete(f, 7, 300, NOW);
        assert!(matches!(c.lookup(b"a", NOW + 299), Lookup::Hit(7)));
        // Expired at exactly ttl: the next caller leads a new flight.
        let f = lead(c.lookup(b"a", NOW + 300));
        // A TTL of ten days is kept two days only.
        c.complete(f, 8, 10 * 86_400, NOW + 300);
        assert_eq!(c.get(b"a", NOW + 300 + 2 * 86_400 - 1), Some(8));
        assert_eq!(c.get(b"a", NOW + 300 + 2 * 86_400), None);
    }

    #[test]
    fn negative_entries_are_cached_and_errors_are_not() {
        #[derive(Debug, Clone, PartialEq)]
        enum R {
            NotFound,
            Failed,
        }
        let c: Cache<R> = Cache::new(100, 86_400);
        let f = lead(c.lookup(b"missing", NOW));
        c.complete(f, R::NotFound, 60, NOW);
        assert!(matches!(c.lookup(b"missing", NOW + 59), Lookup::Hit(R::NotFound)));
        assert!(matches!(c.lookup(b"missing", NOW + 60), Lookup::Lead(_)));
        let f = lead(c.lookup(b"down", NOW));
        c.complete(f, R::Failed, 0, NOW);
        assert!(matches!(c.lookup(b"down", NOW), Lookup::Lead(_)));
    }

    #[test]
    fn concurrent_identical_misses_share_one_flight() {
        let c: Cache<&'static str> = Cache::new(100, 86_400);
        let f = lead(c.lookup(b"k", NOW));
        let mut waiters = Vec::new();
        for _ in 0..5 {
            match c.lookup(b"k", NOW) {
                Lookup::Wait(rx) => waiters.push(rx),
                other => panic!("expected to wait, got {other:?}"),
            }
        }
        // A different key is its own flight.
        let other = lead(c.lookup(b"other", NOW));
        c.complete(f, "answer", 100, NOW);
        for mut rx in waiters {
            assert_eq!(rx.try_recv().unwrap(), "answer");
        }
        assert!(matches!(c.lookup(b"k", NOW + 1), Lookup::Hit("answer")));
        drop(other);
    }

    #[test]
    fn a_leader_that_gives_up_releases_its_waiters() {
        let c: Cache<u8> = Cache::new(10, 100);
        let f = lead(c.lookup(b"k", NOW));
        let Lookup::Wait(mut rx) = c.lookup(b"k", NOW) else { panic!("should wait") };
        drop(f);
        assert!(rx.try_recv().is_err());
        // The key can be led again.
        assert!(matches!(c.lookup(b"k", NOW), Lookup::Lead(_)));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let c: Cache<u32> = Cache::new(32, 100);
        for i in 0..1000u32 {
            c.insert(&i.to_be_bytes(), i, 50, NOW);
        }
        assert!(c.len() <= 32 + SHARDS, "{} entries", c.len());
        let none: Cache<u32> = Cache::new(0, 100);
        none.insert(b"x", 1, 50, NOW);
        assert!(none.is_empty());
    }
}
