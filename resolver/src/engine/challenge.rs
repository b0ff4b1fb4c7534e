//! Outstanding authentication challenges (handle-protocol.md §6.1).
//!
//! A challenge is not tied to a connection: the answer (OC 200) arrives on a
//! new TCP connection and is matched by the envelope session id. Entries
//! expire after `max_auth_time` (CNRI: 60 s) and the table is bounded, so an
//! unauthenticated flood cannot grow memory without limit.

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
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<i32, PendingChallenge>,
    order: VecDeque<(i32, u64)>,
}

/// Bounded, expiring table of challenges keyed by session id.
#[derive(Debug)]
pub struct ChallengeTable {
    inner: Mutex<Inner>,
    max: usize,
    lifetime: u64,
}

impl ChallengeTable {
    pub fn new(max: usize, lifetime: u64) -> Self {
        ChallengeTable { inner: Mutex::new(Inner::default()), max: max.max(1), lifetime }
    }

    /// Registers a challenge for `request`; returns the new session id and nonce.
    pub fn open(&self, request: &[u8], digest: &RequestDigest, now: u64) -> (i32, [u8; 16]) {
        let mut rng = rand::rng();
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Self::expire_locked(&mut inner, now);
        while inner.map.len() >= self.max {
            match inner.order.pop_front() {
                Some((id, _)) => {
                    inner.map.remove(&id);
                }
                None => break,
            }
        }
        let id = loop {
            // Positive, non-zero, unused.
            let id = (rng.next_u32() & 0x7fff_ffff) as i32;
            if id != 0 && !inner.map.contains_key(&id) {
                break id;
            }
        };
        let expires = now + self.lifetime;
        inner.map.insert(id, PendingChallenge { request: request.to_vec(), digest: *digest, nonce, expires });
        inner.order.push_back((id, expires));
        (id, nonce)
    }

    /// Takes the challenge of `session_id` if it has not expired.
    pub fn take(&self, session_id: i32, now: u64) -> Option<PendingChallenge> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let c = inner.map.remove(&session_id)?;
        (c.expires >= now).then_some(c)
    }

    /// Outstanding challenges.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.map.len()).unwrap_or(0)
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
                inner.map.remove(&id);
            }
        }
    }
}
