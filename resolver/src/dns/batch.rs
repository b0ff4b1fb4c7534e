//! A batch of requests answered together (the UDP door's `recvmmsg`
//! batches): the same answers as [`DnsFront::answer`] gives one by one,
//! with the answer-cache lookups of the whole batch made under one set of
//! read locks, in two short loops over the batch (the table slots, then
//! the lookups themselves) so that the processor waits on their memory
//! loads together
//! ([`answer_cache::Held`] says why). A request the held cache cannot
//! answer (a name not kept or gone stale, anything off the fast path) is
//! answered after the locks are released, as a single request.

use std::ops::Range;

use super::answer_cache::{self, Found};
use super::{DnsFront, Outcome, Transport, wire};

/// A batch request's zone (as [`DnsFront::zone_of`] finds it) and what
/// the answer cache holds for it, read under the batch's locks:
/// [`DnsFront::answer_fast`] answers from these instead of the cache.
pub(super) struct HeldKey<'h> {
    pub zone: usize,
    pub origin_at: usize,
    pub found: Found<'h>,
}

/// A request of the batch that the answer cache may answer.
struct Prepared<'r, 'h> {
    index: usize,
    q: wire::Question<'r>,
    /// Its zone's index, and where the origin starts in QNAME.
    zone: (usize, usize),
    /// Its key in the batch's key buffer.
    key: Range<usize>,
    hash: u64,
    /// What the cache holds for it (filled in under the batch's locks).
    found: Found<'h>,
}

/// The lists a batch works in, kept by the caller from one batch to the
/// next so that a batch allocates nothing once they have grown to its size.
#[derive(Default)]
pub struct BatchBuffers {
    requests: Vec<&'static [u8]>,
    keys: Vec<u8>,
    prepared: Vec<Prepared<'static, 'static>>,
    later: Vec<usize>,
}

impl BatchBuffers {
    /// An empty list for a batch's requests, with the room the last one
    /// had; give it back with [`BatchBuffers::put_requests`].
    pub fn take_requests<'r>(&mut self) -> Vec<&'r [u8]> {
        reuse(std::mem::take(&mut self.requests))
    }

    /// Keeps `requests`' room for the next batch.
    pub fn put_requests(&mut self, requests: Vec<&[u8]>) {
        self.requests = reuse(requests);
    }
}

/// `v` emptied, as a list of another lifetime's elements with the same
/// allocation (the layouts are equal, so the standard library collects in
/// place).
fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!("emptied")).collect()
}

impl DnsFront {
    /// Answers `requests` in one go, appending the answers to `out`:
    /// `each(index, range, outcome)` once per request, `range` being where
    /// in `out` its answer is, the bytes [`DnsFront::answer`] gives (empty,
    /// and nothing to send, when the outcome's `rcode` is `None`). Requests
    /// answered from the answer cache come first, in order, then the
    /// others, in order. `buffers` lends the batch its lists.
    pub fn answer_batch(
        &self,
        requests: &[&[u8]],
        transport: Transport,
        out: &mut Vec<u8>,
        buffers: &mut BatchBuffers,
        mut each: impl FnMut(usize, Range<usize>, Outcome),
    ) {
        let Some(cache) = &self.answers else {
            for (i, r) in requests.iter().enumerate() {
                let at = out.len();
                let o = self.answer_appended(r, transport, out);
                each(i, at..out.len(), o);
            }
            return;
        };
        let keys = &mut buffers.keys;
        keys.clear();
        let mut prepared: Vec<Prepared<'_, '_>> = reuse(std::mem::take(&mut buffers.prepared));
        let later = &mut buffers.later;
        later.clear();
        for (index, r) in requests.iter().enumerate() {
            match self.prepare(r, keys) {
                Some((q, zone, key)) => {
                    let hash = cache.hash(&keys[key.clone()]);
                    prepared.push(Prepared { index, q, zone, key, hash, found: Found::Absent });
                }
                None => later.push(index),
            }
        }
        {
            // No request to look up: no lock taken.
            let held = cache.hold(prepared.iter().map(|p| p.hash));
            let current = |st: &_| self.store.stamp_is_current(st);
            let mut touched = 0usize;
            for p in &prepared {
                touched ^= held.touch_bucket(p.hash);
            }
            for p in &mut prepared {
                let t;
                (p.found, t) = held.find(p.hash, &keys[p.key.clone()], current);
                touched ^= t;
            }
            std::hint::black_box(touched);
            for p in &prepared {
                let (zone, origin_at) = p.zone;
                let at = out.len();
                match self.answer_fast(&p.q, transport, out, Some(&HeldKey { zone, origin_at, found: p.found })) {
                    Some(o) => each(p.index, at..out.len(), o),
                    None => {
                        out.truncate(at);
                        later.push(p.index);
                    }
                }
            }
            // Given back while the locks are held: its elements borrow them.
            buffers.prepared = reuse(prepared);
        }
        later.sort_unstable();
        for &i in later.iter() {
            let at = out.len();
            let o = self.answer_appended(requests[i], transport, out);
            each(i, at..out.len(), o);
        }
    }

    /// `request`'s question, its zone and its answer-cache key (appended to
    /// `keys`) when the fast path would look it up in the cache; `None`
    /// otherwise.
    fn prepare<'r>(
        &self,
        request: &'r [u8],
        keys: &mut Vec<u8>,
    ) -> Option<(wire::Question<'r>, (usize, usize), Range<usize>)> {
        if request.len() < 12 || request[2] & 0x80 != 0 {
            return None;
        }
        let q = wire::parse(request)?;
        let (zi, _, origin_at @ 1..) = self.zone_of(&q)? else { return None };
        let mut buf = [0u8; answer_cache::MAX_KEY];
        let key = Self::cache_key(zi, &q, &mut buf)?;
        let at = keys.len();
        keys.extend_from_slice(key);
        Some((q, (zi, origin_at), at..keys.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list given back keeps its allocation for the next batch.
    #[test]
    fn buffers_keep_their_room() {
        let mut b = BatchBuffers::default();
        let data = [7u8; 4];
        let mut r = b.take_requests();
        r.extend(std::iter::repeat_n(&data[..], 20));
        let at = r.as_ptr() as usize;
        b.put_requests(r);
        let r = b.take_requests();
        assert!(r.is_empty());
        assert!(r.capacity() >= 20);
        assert_eq!(r.as_ptr() as usize, at, "the same allocation");
        let p: Vec<Prepared<'_, '_>> = Vec::with_capacity(16);
        let at = p.as_ptr() as usize;
        let back: Vec<Prepared<'static, 'static>> = reuse(p);
        assert_eq!((back.as_ptr() as usize, back.capacity()), (at, 16));
    }
}
