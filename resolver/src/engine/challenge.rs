//! Outstanding authentication challenges (handle-protocol.md §6.1).
//!
//! A challenge is not tied to a connection: the answer (OC 200) arrives on a
//! new TCP connection and is matched by the envelope session id — a fresh
//! id for a request outside a session, the session's own id inside one.
//! Entries expire after `max_auth_time` (CNRI: 60 s). The table is bounded
//! by count and by the bytes of the requests it keeps (each entry holds a
//! copy of the original request, at most one message), oldest dropped
//! first, so an unauthenticated flood cannot grow memory without limit.
//! Recently answered ids are remembered (bounded) so a replayed answer is
//! told apart from a late one.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rand::RngCore;

use crate::wire::RequestDigest;

/// What the server remembers about one challenge.
#[derive(Debug, Clone)]
pub struct PendingChallenge {
    /// The original request, envelope + message.
    pub request: Vec<u8>,
    pub digest: RequestDigest,
    pub nonce: [u8; 16],
    /// Unix seconds after which the answer is too late.
    pub expires: u64,
    /// The session the original request came in, if any.
    pub session: Option<i32>,
}

/// Why no challenge could be taken for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeError {
    /// Unknown or expired: RC 405.
    Expired,
    /// Already answered once: a replay (RC 505).
    Answered,
}

/// Limits of the challenge table.
#[derive(Debug, Clone, Copy)]
pub struct ChallengeLimits {
    pub max_entries: usize,
    /// Most bytes of kept requests at once.
    pub max_bytes: usize,
    /// Seconds an answer may take.
    pub lifetime: u64,
}

/// Fixed cost charged per entry besides its request copy.
const ENTRY_OVERHEAD: usize = 128;
/// Answered ids remembered for replay detection.
const ANSWERED_MEMORY: usize = 4096;

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<i32, PendingChallenge>,
    order: VecDeque<(i32, u64)>,
    bytes: usize,
    answered: VecDeque<(i32, u64)>,
}

impl Inner {
    fn remove(&mut self, id: i32) -> Option<PendingChallenge> {
        let c = self.map.remove(&id)?;
        self.bytes -= ENTRY_OVERHEAD + c.request.len();
        Some(c)
    }
}

/// Bounded, expiring table of challenges keyed by session id.
#[derive(Debug)]
pub struct ChallengeTable {
    inner: Mutex<Inner>,
    limits: ChallengeLimits,
}

impl ChallengeTable {
    pub fn new(max: usize, lifetime: u64) -> Self {
        Self::with_limits(ChallengeLimits { max_entries: max, max_bytes: 64 << 20, lifetime })
    }

    pub fn with_limits(limits: ChallengeLimits) -> Self {
        ChallengeTable { inner: Mutex::new(Inner::default()), limits }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a challenge for `request`; returns the new session id and nonce.
    pub fn open(&self, request: &[u8], digest: &RequestDigest, now: u64) -> (i32, [u8; 16]) {
        self.open_in(request, digest, now, None, |_| false)
    }

    /// Registers a challenge under `session` (the request's session) or a
    /// fresh id not `taken` elsewhere.
    pub fn open_in(
        &self,
        request: &[u8],
        digest: &RequestDigest,
        now: u64,
        session: Option<i32>,
        taken: impl Fn(i32) -> bool,
    ) -> (i32, [u8; 16]) {
        let mut rng = rand::rng();
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let cost = ENTRY_OVERHEAD + request.len();
        let mut inner = self.lock();
        Self::expire_locked(&mut inner, now);
        if let Some(id) = session {
            inner.remove(id);
        }
        while inner.map.len() >= self.limits.max_entries.max(1) || inner.bytes + cost > self.limits.max_bytes {
            match inner.order.pop_front() {
                Some((id, exp)) => {
                    if inner.map.get(&id).is_some_and(|c| c.expires == exp) {
                        inner.remove(id);
                    }
                }
                None => break,
            }
        }
        let id = match session {
            Some(id) => id,
            None => loop {
                // Positive, non-zero, unused.
                let id = (rng.next_u32() & 0x7fff_ffff) as i32;
                if id != 0 && !inner.map.contains_key(&id) && !taken(id) {
                    break id;
                }
            },
        };
        let expires = now + self.limits.lifetime;
        inner.map.insert(id, PendingChallenge { request: request.to_vec(), digest: *digest, nonce, expires, session });
        inner.bytes += cost;
        inner.order.push_back((id, expires));
        (id, nonce)
    }

    /// Takes the challenge of `session_id` if it has not expired.
    pub fn take(&self, session_id: i32, now: u64) -> Option<PendingChallenge> {
        self.take_checked(session_id, now).ok()
    }

    /// Takes the challenge of `session_id`, telling a replay from a late
    /// or unknown answer.
    pub fn take_checked(&self, session_id: i32, now: u64) -> Result<PendingChallenge, TakeError> {
        let mut inner = self.lock();
        let Some(c) = inner.remove(session_id) else {
            let replay = inner.answered.iter().any(|&(id, exp)| id == session_id && exp >= now);
            return Err(if replay { TakeError::Answered } else { TakeError::Expired });
        };
        if c.expires < now {
            return Err(TakeError::Expired);
        }
        inner.answered.push_back((session_id, c.expires));
        while inner.answered.len() > ANSWERED_MEMORY {
            inner.answered.pop_front();
        }
        Ok(c)
    }

    /// Whether `id` has an outstanding challenge.
    pub fn contains(&self, id: i32) -> bool {
        self.lock().map.contains_key(&id)
    }

    /// Outstanding challenges.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Bytes held by outstanding challenges.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expire_locked(inner: &mut Inner, now: u64) {
        while let Some(&(id, exp)) = inner.order.front() {
            if exp >= now {
                break;
            }
            inner.order.pop_front();
            if inner.map.get(&id).is_some_and(|c| c.expires == exp) {
                inner.remove(id);
            }
        }
        while inner.answered.front().is_some_and(|&(_, exp)| exp < now) {
            inner.answered.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::DigestAlg;

    #[test]
    fn bounded_by_bytes() {
        let t = ChallengeTable::with_limits(ChallengeLimits { max_entries: 1000, max_bytes: 10_000, lifetime: 60 });
        let d = RequestDigest::compute(DigestAlg::Sha256, b"x");
        for _ in 0..100 {
            t.open(&[0u8; 1000], &d, 1);
        }
        assert!(t.bytes() <= 10_000, "{}", t.bytes());
        assert!(t.len() <= 10);
    }

    #[test]
    fn replay_and_expiry_are_told_apart() {
        let t = ChallengeTable::new(10, 60);
        let d = RequestDigest::compute(DigestAlg::Sha256, b"x");
        let (id, _) = t.open(b"req", &d, 100);
        assert!(t.take_checked(id, 120).is_ok());
        assert_eq!(t.take_checked(id, 121).unwrap_err(), TakeError::Answered);
        let (id2, _) = t.open(b"req", &d, 100);
        assert_eq!(t.take_checked(id2, 161).unwrap_err(), TakeError::Expired);
        // Inside a session: the session's id is the challenge id.
        let (id3, _) = t.open_in(b"req", &d, 100, Some(77), |_| false);
        assert_eq!(id3, 77);
        assert_eq!(t.take(77, 101).unwrap().session, Some(77));
    }
}
