//! Sessions (handle-protocol.md §6.3, OC 400 / 401 / 402).
//!
//! The reference admin tools set up a session before every admin operation:
//! an unauthenticated, certified OC_SESSION_SETUP over UDP with a
//! Diffie–Hellman key exchange (mode 4), then admin requests over TCP that
//! carry the session id and an HS_MAC credential (HMAC-SHA256 with the
//! session key, a per-message `sessionCounter`). The first admin request of
//! a session is challenged (402, under the session's id); once the answer
//! verifies, the session is *authenticated* as that identity and later
//! requests need only a valid MAC with an unused counter (RC 505 on reuse).
//! A session is not tied to a connection: its id is honoured on any new
//! connection and over UDP.
//!
//! The table is bounded by count and by (approximate) bytes. An entry that
//! has not authenticated can only displace another such entry: when the
//! table is full of authenticated sessions, a new setup is refused (RC 3)
//! rather than evicting one. Entries expire after their timeout (the
//! client's, capped by the configuration) measured from their last use.
//!
//! Per-connection login state (the IDIS dialect) lives beside this in
//! [`ConnState`], owned by the TCP door. No I/O; callers pass `now`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use rand::RngCore;

use crate::auth::Identity;

/// Limits of the session table.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Most sessions at once.
    pub max_sessions: usize,
    /// Most bytes held by sessions at once (approximate accounting).
    pub max_bytes: usize,
    /// Timeout when the client asks for none (CNRI `max_session_time`: 24 h).
    pub default_timeout: u64,
    /// Upper bound on any session's timeout, seconds.
    pub max_timeout: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits { max_sessions: 10_000, max_bytes: 8 << 20, default_timeout: 86_400, max_timeout: 86_400 }
    }
}

/// Fixed cost charged per session besides its identity handle.
const ENTRY_OVERHEAD: usize = 256;
/// Session counters remembered per session for replay defence.
const COUNTER_WINDOW: usize = 1024;

/// Replay defence: counters already seen. Counters below the floor (the
/// window slid past them) count as seen.
#[derive(Debug, Default, Clone)]
struct Counters {
    seen: BTreeSet<u32>,
    floor: u32,
}

impl Counters {
    /// Records `c`; false when it was used before (a replay).
    fn admit(&mut self, c: u32) -> bool {
        if c < self.floor || !self.seen.insert(c) {
            return false;
        }
        while self.seen.len() > COUNTER_WINDOW {
            if let Some(first) = self.seen.pop_first() {
                self.floor = first.saturating_add(1);
            }
        }
        true
    }
}

/// One session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i32,
    /// The MAC key agreed at setup.
    pub key: Vec<u8>,
    /// The identity named in the setup request (may be empty: anonymous).
    pub requested: Option<Identity>,
    /// Set once a challenge inside the session was answered.
    pub authenticated: Option<Identity>,
    /// Seconds of inactivity after which the session ends.
    pub timeout: u64,
    last_used: u64,
    counters: Counters,
    /// Counter of the next MAC'd answer we send.
    next_out_counter: u32,
    bytes: usize,
}

impl Session {
    fn expired(&self, now: u64) -> bool {
        self.last_used.saturating_add(self.timeout) < now
    }
}

/// A live session as a request sees it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub id: i32,
    /// The MAC key agreed at setup.
    pub key: Vec<u8>,
    /// Set once a challenge inside the session was answered.
    pub authenticated: Option<Identity>,
}

/// Why a session message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    /// No such session (never set up, timed out or terminated): RC 500.
    Unknown,
    /// The MAC is missing: RC 404.
    MissingMac,
    /// The MAC does not verify with the session key: RC 502.
    BadMac,
    /// The counter was used before: RC 505.
    Replay,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<i32, Session>,
    bytes: usize,
}

/// The bounded table of sessions, keyed by envelope session id.
#[derive(Debug)]
pub struct SessionTable {
    inner: Mutex<Inner>,
    limits: SessionLimits,
}

impl SessionTable {
    pub fn new(limits: SessionLimits) -> Self {
        SessionTable { inner: Mutex::new(Inner::default()), limits }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn limits(&self) -> &SessionLimits {
        &self.limits
    }

    /// Opens an unauthenticated session; `None` when the table is full of
    /// authenticated sessions. `taken` tells ids used elsewhere (challenges).
    pub fn open(
        &self,
        key: Vec<u8>,
        requested: Option<Identity>,
        timeout: u32,
        now: u64,
        taken: impl Fn(i32) -> bool,
    ) -> Option<i32> {
        let timeout = match u64::from(timeout) {
            0 => self.limits.default_timeout,
            t => t,
        }
        .min(self.limits.max_timeout)
        .max(1);
        let bytes = ENTRY_OVERHEAD + key.len() + requested.as_ref().map_or(0, |i| i.handle.len());
        let mut inner = self.lock();
        inner.map.retain(|_, s| !s.expired(now));
        inner.bytes = inner.map.values().map(|s| s.bytes).sum();
        while inner.map.len() >= self.limits.max_sessions.max(1) || inner.bytes + bytes > self.limits.max_bytes {
            // Only unauthenticated sessions may be displaced, oldest use first.
            let victim =
                inner.map.values().filter(|s| s.authenticated.is_none()).min_by_key(|s| s.last_used).map(|s| s.id);
            let v = victim?;
            if let Some(s) = inner.map.remove(&v) {
                inner.bytes -= s.bytes;
            }
        }
        let mut rng = rand::rng();
        let id = loop {
            let id = (rng.next_u32() & 0x7fff_ffff) as i32;
            if id != 0 && !inner.map.contains_key(&id) && !taken(id) {
                break id;
            }
        };
        inner.map.insert(
            id,
            Session {
                id,
                key,
                requested,
                authenticated: None,
                timeout,
                last_used: now,
                counters: Counters::default(),
                next_out_counter: 1,
                bytes,
            },
        );
        inner.bytes += bytes;
        Some(id)
    }

    /// What a request needs of the live session `id` (refreshing its last
    /// use); the replay window stays in the table.
    pub fn get(&self, id: i32, now: u64) -> Option<SessionView> {
        if id == 0 {
            return None;
        }
        let mut inner = self.lock();
        let s = inner.map.get_mut(&id)?;
        if s.expired(now) {
            let b = s.bytes;
            inner.map.remove(&id);
            inner.bytes -= b;
            return None;
        }
        s.last_used = now;
        Some(SessionView { id: s.id, key: s.key.clone(), authenticated: s.authenticated.clone() })
    }

    /// Whether `id` names a live session.
    pub fn contains(&self, id: i32) -> bool {
        self.lock().map.contains_key(&id)
    }

    /// Records a verified message counter; false on replay.
    pub fn admit_counter(&self, id: i32, counter: u32) -> Result<(), SessionRefusal> {
        let mut inner = self.lock();
        let s = inner.map.get_mut(&id).ok_or(SessionRefusal::Unknown)?;
        if s.counters.admit(counter) { Ok(()) } else { Err(SessionRefusal::Replay) }
    }

    /// Marks the session authenticated as `identity`.
    pub fn authenticate(&self, id: i32, identity: Identity) -> bool {
        let mut inner = self.lock();
        match inner.map.get_mut(&id) {
            Some(s) => {
                s.authenticated = Some(identity);
                true
            }
            None => false,
        }
    }

    /// The counter for the next answer this server MACs in the session.
    pub fn next_out_counter(&self, id: i32) -> Option<u32> {
        let mut inner = self.lock();
        let s = inner.map.get_mut(&id)?;
        let c = s.next_out_counter;
        s.next_out_counter = s.next_out_counter.wrapping_add(1);
        Some(c)
    }

    /// Ends a session (OC 401).
    pub fn remove(&self, id: i32) -> bool {
        let mut inner = self.lock();
        match inner.map.remove(&id) {
            Some(s) => {
                inner.bytes -= s.bytes;
                true
            }
            None => false,
        }
    }

    /// Live entries (expired ones may still be counted until the next open).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// State a connection-oriented door keeps for one connection and hands to
/// [`Engine::handle_conn`](super::Engine::handle_conn) with every request.
/// Sessions are deliberately *not* kept here (the reference tools use a new
/// connection per request); connection-bound login state of the IDIS dialect
/// belongs here.
#[derive(Debug, Default, Clone)]
pub struct ConnState {
    /// IDIS login of this connection (OC 2001 / 2000, idis-extensions.md §2.4).
    pub idis: super::login::IdisLogin,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max: usize) -> SessionTable {
        SessionTable::new(SessionLimits {
            max_sessions: max,
            max_bytes: 1 << 20,
            default_timeout: 100,
            max_timeout: 1000,
        })
    }

    #[test]
    fn unauthenticated_never_evict_authenticated() {
        let t = table(2);
        let a = t.open(vec![1; 32], None, 0, 10, |_| false).unwrap();
        let b = t.open(vec![2; 32], None, 0, 11, |_| false).unwrap();
        assert!(t.authenticate(a, Identity::new(300, "0.NA/X")));
        assert!(t.authenticate(b, Identity::new(300, "0.NA/X")));
        assert_eq!(t.open(vec![3; 32], None, 0, 12, |_| false), None);
        assert!(t.get(a, 12).is_some() && t.get(b, 12).is_some());
        // An unauthenticated entry displaces the oldest unauthenticated one.
        assert!(t.remove(b));
        let c = t.open(vec![3; 32], None, 0, 13, |_| false).unwrap();
        let d = t.open(vec![4; 32], None, 0, 14, |_| false).unwrap();
        assert!(t.get(c, 14).is_none());
        assert!(t.get(a, 14).is_some() && t.get(d, 14).is_some());
    }

    #[test]
    fn byte_bound() {
        let t = SessionTable::new(SessionLimits {
            max_sessions: 1000,
            max_bytes: 3 * (ENTRY_OVERHEAD + 32),
            default_timeout: 100,
            max_timeout: 100,
        });
        for i in 0..10 {
            t.open(vec![0; 32], None, 0, i, |_| false).unwrap();
        }
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn expiry_counters_and_terminate() {
        let t = table(10);
        let a = t.open(vec![1; 32], None, 5, 100, |_| false).unwrap();
        assert!(t.get(a, 105).is_some());
        assert!(t.admit_counter(a, 1).is_ok());
        assert_eq!(t.admit_counter(a, 1), Err(SessionRefusal::Replay));
        assert!(t.admit_counter(a, 3).is_ok());
        assert!(t.admit_counter(a, 2).is_ok());
        assert!(t.get(a, 111).is_none(), "idle longer than its timeout");
        let b = t.open(vec![1; 32], None, 0, 100, |_| false).unwrap();
        assert!(t.remove(b));
        assert!(t.get(b, 100).is_none());
        // The configured cap bounds a client's timeout.
        let c = t.open(vec![1; 32], None, 99_999, 100, |_| false).unwrap();
        assert!(t.get(c, 1099).is_some());
        assert!(t.get(c, 2200).is_none());
    }

    #[test]
    fn counter_window_slides() {
        let mut c = Counters::default();
        for i in 0..(COUNTER_WINDOW as u32 + 10) {
            assert!(c.admit(i));
        }
        assert!(!c.admit(0));
        assert!(!c.admit(5));
    }
}
