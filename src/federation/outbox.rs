//! The outbox as a state machine (style.md §12): given the change log, the
//! top node's answers and `now`, decide the next step. No I/O, no clock, no
//! sleeping here — [`super::driver`] reads the store, talks to the top node
//! and waits; every failure case is a unit test below.
//!
//! What it delivers: each change-log entry the driver feeds it names a
//! prefix handle `0.NA/<prefix>` that changed locally. The outbox sends the
//! **current** local state of that handle (read when the delivery starts,
//! re-read after every failure), so replaying the log from any position
//! converges and repeated changes of one handle are coalesced:
//!
//! * the record exists: OC_CREATE_HANDLE; on 101 (already exists)
//!   OC_MODIFY_VALUE with the same values; on 200 (a value missing there)
//!   OC_ADD_VALUE with OVRW; on 100 (gone meanwhile) back to create;
//! * the record is gone: OC_DELETE_HANDLE; 100 counts as done.
//!
//! Deliveries are one at a time, in change-log order, so the states of one
//! prefix reach the top node in order. A failure (peer unreachable, an
//! error answer) keeps the delivery at the head of the queue and retries
//! after a backoff doubling from `retry_min_ms` to `retry_max_ms`; nothing
//! is skipped. An answer to anything but the request in flight is ignored
//! (duplicate or late answers).
//!
//! Position: every change `<= position()` is delivered (or superseded by a
//! later change of the same handle that is still queued). The driver stores
//! it durably when asked ([`Step::Persist`]); after a restart the machine
//! starts from the stored position and re-sends at most what was in flight,
//! which the top node sees as an idempotent update.

use std::collections::{HashMap, VecDeque};

use idnode_registry::model::Value;

/// Handle response codes the machine interprets (handle-protocol.md §5).
pub mod rc {
    pub const SUCCESS: u32 = 1;
    pub const HANDLE_NOT_FOUND: u32 = 100;
    pub const HANDLE_ALREADY_EXISTS: u32 = 101;
    pub const VALUES_NOT_FOUND: u32 = 200;
}

/// Retry and batching settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// First retry delay after a failure (ms).
    pub retry_min_ms: u64,
    /// Largest retry delay (ms).
    pub retry_max_ms: u64,
    /// Ask the driver to store the position after this many deliveries
    /// even while the queue is not empty.
    pub persist_every: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig { retry_min_ms: 500, retry_max_ms: 30_000, persist_every: 64 }
    }
}

/// One request to the top node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// OC_CREATE_HANDLE (no OVRW).
    Create { handle: Vec<u8>, values: Vec<Value> },
    /// OC_MODIFY_VALUE: replace the values at these indexes.
    Modify { handle: Vec<u8>, values: Vec<Value> },
    /// OC_ADD_VALUE with OVRW: add, or replace, the values at these indexes.
    AddOverwrite { handle: Vec<u8>, values: Vec<Value> },
    /// OC_DELETE_HANDLE.
    Delete { handle: Vec<u8> },
}

impl Request {
    pub fn handle(&self) -> &[u8] {
        match self {
            Request::Create { handle, .. }
            | Request::Modify { handle, .. }
            | Request::AddOverwrite { handle, .. }
            | Request::Delete { handle } => handle,
        }
    }

    /// Short name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Create { .. } => "create",
            Request::Modify { .. } => "modify",
            Request::AddOverwrite { .. } => "add",
            Request::Delete { .. } => "delete",
        }
    }
}

/// How an exchange with the top node ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The top node answered with this response code (after any
    /// authentication round trip) and message.
    Rc(u32, String),
    /// No usable answer: connection refused, timeout, garbage.
    Unreachable(String),
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing queued: read the change log after [`Outbox::read_to`] and
    /// [`Outbox::feed`] it, or wait for new changes.
    Idle,
    /// Store this position durably, then call [`Outbox::persisted`].
    Persist { position: u64 },
    /// Read the current local values of `key` (the prefix handle), then
    /// call [`Outbox::loaded`].
    Load { key: Vec<u8> },
    /// Send `request`, then report with [`Outbox::answer`] and `token`.
    Send { token: u64, request: Request },
    /// A request is in flight; wait for its answer.
    Waiting { token: u64 },
    /// Retry not before `until_ms`.
    Backoff { until_ms: u64 },
}

/// What [`Outbox::answer`] made of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The delivery is done; the queue moved on.
    Delivered,
    /// The next phase of the same delivery (modify after "already exists").
    NextPhase,
    /// Failed; retry after a backoff.
    Failed,
    /// Not the answer to the request in flight: ignored.
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Create,
    Modify,
    AddOverwrite,
}

#[derive(Debug)]
struct Current {
    key: Vec<u8>,
    /// `None` = not read yet; `Some(None)` = the record is gone.
    values: Option<Option<Vec<Value>>>,
    phase: Phase,
    /// Phase changes without a failure in this attempt (bounds ping-pong
    /// between create and modify when the top node keeps changing).
    hops: u32,
    in_flight: Option<u64>,
}

/// The outbox state (see the module docs).
#[derive(Debug)]
pub struct Outbox {
    cfg: OutboxConfig,
    /// Last position stored durably.
    stored: u64,
    /// Every change `<= handled` is delivered or superseded.
    handled: u64,
    /// Changes were fed up to here.
    read_to: u64,
    /// (seq, key) in seq order; an entry whose seq is not `latest[key]` is stale.
    queue: VecDeque<(u64, Vec<u8>)>,
    latest: HashMap<Vec<u8>, u64>,
    current: Option<Current>,
    next_token: u64,
    backoff_until: u64,
    failures: u32,
    since_persist: u64,
    delivered: u64,
    last_error: Option<String>,
    reachable: Option<bool>,
}

impl Outbox {
    /// A machine resuming after `position` (0 for a new outbox).
    pub fn new(cfg: OutboxConfig, position: u64) -> Self {
        Outbox {
            cfg,
            stored: position,
            handled: position,
            read_to: position,
            queue: VecDeque::new(),
            latest: HashMap::new(),
            current: None,
            next_token: 1,
            backoff_until: 0,
            failures: 0,
            since_persist: 0,
            delivered: 0,
            last_error: None,
            reachable: None,
        }
    }

    /// Feeds change-log entries `(seq, prefix handle key)` with
    /// `seq > read_to()`, and moves `read_to` to `up_to` (the last seq the
    /// driver read, including entries it filtered out as irrelevant).
    pub fn feed<I>(&mut self, changes: I, up_to: u64)
    where
        I: IntoIterator<Item = (u64, Vec<u8>)>,
    {
        for (seq, key) in changes {
            if seq <= self.read_to {
                continue; // already fed (a re-read after a restart or overlap)
            }
            self.latest.insert(key.clone(), seq);
            self.queue.push_back((seq, key));
            self.read_to = seq;
        }
        self.read_to = self.read_to.max(up_to);
        if self.current.is_none() {
            self.advance_handled();
        }
    }

    /// The next step at time `now_ms`.
    pub fn next(&mut self, now_ms: u64) -> Step {
        if let Some(Current { in_flight: Some(token), .. }) = &self.current {
            return Step::Waiting { token: *token };
        }
        if self.current.is_none() {
            if self.handled > self.stored && (self.queue_is_empty() || self.since_persist >= self.cfg.persist_every) {
                return Step::Persist { position: self.handled };
            }
            let Some((_, key)) = self.pop_live() else { return Step::Idle };
            self.current = Some(Current { key, values: None, phase: Phase::Create, hops: 0, in_flight: None });
        }
        if now_ms < self.backoff_until {
            return Step::Backoff { until_ms: self.backoff_until };
        }
        let token = self.next_token;
        let cur = self.current.as_mut().expect("set above");
        let Some(values) = &cur.values else { return Step::Load { key: cur.key.clone() } };
        let handle = cur.key.clone();
        let request = match (values, cur.phase) {
            (None, _) => Request::Delete { handle },
            (Some(v), Phase::Create) => Request::Create { handle, values: v.clone() },
            (Some(v), Phase::Modify) => Request::Modify { handle, values: v.clone() },
            (Some(v), Phase::AddOverwrite) => Request::AddOverwrite { handle, values: v.clone() },
        };
        cur.in_flight = Some(token);
        self.next_token += 1;
        Step::Send { token, request }
    }

    /// The current local values of the handle asked for by [`Step::Load`]
    /// (`None` = the record does not exist).
    pub fn loaded(&mut self, values: Option<Vec<Value>>) {
        if let Some(cur) = &mut self.current
            && cur.in_flight.is_none()
        {
            cur.values = Some(values);
        }
    }

    /// The answer to request `token`, at `now_ms`.
    pub fn answer(&mut self, token: u64, answer: Answer, now_ms: u64) -> Handled {
        let Some(cur) = &mut self.current else { return Handled::Ignored };
        if cur.in_flight != Some(token) {
            return Handled::Ignored;
        }
        cur.in_flight = None;
        let deleting = matches!(cur.values, Some(None));
        let (code, msg) = match answer {
            Answer::Unreachable(why) => {
                self.reachable = Some(false);
                return self.fail(format!("top node unreachable: {why}"), now_ms);
            }
            Answer::Rc(code, msg) => (code, msg),
        };
        self.reachable = Some(true);
        let next_phase = match (deleting, cur.phase, code) {
            (_, _, rc::SUCCESS) | (true, _, rc::HANDLE_NOT_FOUND) => return self.delivered(),
            (false, Phase::Create, rc::HANDLE_ALREADY_EXISTS) => Phase::Modify,
            (false, Phase::Modify, rc::VALUES_NOT_FOUND) => Phase::AddOverwrite,
            (false, Phase::Modify | Phase::AddOverwrite, rc::HANDLE_NOT_FOUND) => Phase::Create,
            _ => {
                let what = if deleting { "delete" } else { phase_name(cur.phase) };
                return self.fail(format!("{what} answered {code}: {msg}"), now_ms);
            }
        };
        cur.hops += 1;
        if cur.hops > 4 {
            return self.fail(format!("no progress: last answer {code}: {msg}"), now_ms);
        }
        cur.phase = next_phase;
        Handled::NextPhase
    }

    /// The driver stored `position` durably.
    pub fn persisted(&mut self, position: u64) {
        self.stored = self.stored.max(position);
        self.since_persist = 0;
    }

    /// Every change `<= position()` is delivered or superseded.
    pub fn position(&self) -> u64 {
        self.handled
    }

    /// The last position stored durably.
    pub fn stored_position(&self) -> u64 {
        self.stored
    }

    /// Changes were fed up to here; read the log after it.
    pub fn read_to(&self) -> u64 {
        self.read_to
    }

    /// Prefix handles waiting for delivery (the one in flight included).
    pub fn depth(&self) -> usize {
        self.latest.len() + usize::from(self.current.is_some())
    }

    /// Deliveries completed since start.
    pub fn delivered_count(&self) -> u64 {
        self.delivered
    }

    /// Failures in a row of the delivery at the head.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The last failure, if any (kept after later successes: operators want
    /// to see what went wrong last).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Whether the top node answered the last exchange (`None` before any).
    pub fn reachable(&self) -> Option<bool> {
        self.reachable
    }

    fn queue_is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// The first queue entry that is not superseded by a later one.
    fn pop_live(&mut self) -> Option<(u64, Vec<u8>)> {
        while let Some((seq, key)) = self.queue.pop_front() {
            if self.latest.get(&key) == Some(&seq) {
                self.latest.remove(&key);
                return Some((seq, key));
            }
        }
        None
    }

    /// `handled` = just before the oldest live queued change (or `read_to`).
    fn advance_handled(&mut self) {
        while let Some((seq, key)) = self.queue.front() {
            if self.latest.get(key) == Some(seq) {
                break;
            }
            self.queue.pop_front();
        }
        let next = match self.queue.front() {
            Some((seq, _)) => seq - 1,
            None => self.read_to,
        };
        self.handled = self.handled.max(next);
    }

    fn delivered(&mut self) -> Handled {
        self.current = None;
        self.failures = 0;
        self.backoff_until = 0;
        self.delivered += 1;
        self.since_persist += 1;
        self.advance_handled();
        Handled::Delivered
    }

    fn fail(&mut self, why: String, now_ms: u64) -> Handled {
        self.failures = self.failures.saturating_add(1);
        let shift = (self.failures - 1).min(32);
        let delay = self.cfg.retry_min_ms.saturating_mul(1u64 << shift).min(self.cfg.retry_max_ms);
        self.backoff_until = now_ms.saturating_add(delay);
        self.last_error = Some(why);
        if let Some(cur) = &mut self.current {
            // Re-read the local state before the retry: it may have changed.
            cur.values = None;
            cur.phase = Phase::Create;
            cur.hops = 0;
        }
        Handled::Failed
    }
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Create => "create",
        Phase::Modify => "modify",
        Phase::AddOverwrite => "add",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = b"0.NA/88.118.8.1001";
    const B: &[u8] = b"0.NA/88.118.8.1002";

    fn cfg() -> OutboxConfig {
        OutboxConfig { retry_min_ms: 100, retry_max_ms: 1_000, persist_every: 64 }
    }

    fn site(tag: &str) -> Vec<Value> {
        vec![Value::new(1, "HS_SITE", tag)]
    }

    fn ok() -> Answer {
        Answer::Rc(rc::SUCCESS, String::new())
    }

    /// Drives `next` through Load until a Send; returns (token, request).
    fn send(ob: &mut Outbox, now: u64, values: Option<Vec<Value>>) -> (u64, Request) {
        match ob.next(now) {
            Step::Load { .. } => ob.loaded(values),
            Step::Send { token, request } => return (token, request),
            other => panic!("expected Load or Send, got {other:?}"),
        }
        match ob.next(now) {
            Step::Send { token, request } => (token, request),
            other => panic!("expected Send, got {other:?}"),
        }
    }

    #[test]
    fn delivers_then_persists_then_idles() {
        let mut ob = Outbox::new(cfg(), 0);
        assert_eq!(ob.next(0), Step::Idle);
        ob.feed([(3, A.to_vec())], 5);
        assert_eq!(ob.depth(), 1);
        assert_eq!(ob.position(), 2, "changes 1, 2 were not ours: handled");
        assert_eq!(ob.next(0), Step::Load { key: A.to_vec() });
        ob.loaded(Some(site("a1")));
        let Step::Send { token, request } = ob.next(0) else { panic!() };
        assert_eq!(request, Request::Create { handle: A.to_vec(), values: site("a1") });
        assert_eq!(ob.next(0), Step::Waiting { token });
        assert_eq!(ob.answer(token, ok(), 1), Handled::Delivered);
        assert_eq!((ob.depth(), ob.position(), ob.delivered_count()), (0, 5, 1));
        assert_eq!(ob.next(1), Step::Persist { position: 5 });
        ob.persisted(5);
        assert_eq!(ob.next(1), Step::Idle);
        assert_eq!(ob.reachable(), Some(true));
    }

    #[test]
    fn peer_down_backs_off_and_loses_nothing() {
        let mut ob = Outbox::new(cfg(), 0);
        ob.feed([(1, A.to_vec())], 1);
        let mut now = 0;
        let mut delays = Vec::new();
        for _ in 0..6 {
            let (token, _) = send(&mut ob, now, Some(site("a")));
            assert_eq!(ob.answer(token, Answer::Unreachable("connection refused".into()), now), Handled::Failed);
            let Step::Backoff { until_ms } = ob.next(now) else { panic!("no backoff") };
            delays.push(until_ms - now);
            assert_eq!(ob.next(until_ms - 1), Step::Backoff { until_ms }, "not before the deadline");
            now = until_ms;
        }
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000], "doubling, capped");
        assert_eq!(ob.reachable(), Some(false));
        assert!(ob.last_error().unwrap().contains("connection refused"));
        assert_eq!((ob.depth(), ob.position(), ob.failures()), (1, 0, 6), "still queued, position kept");
        // The peer comes back: the same delivery, the local state re-read.
        let (token, req) = send(&mut ob, now, Some(site("a-newer")));
        assert_eq!(req, Request::Create { handle: A.to_vec(), values: site("a-newer") });
        assert_eq!(ob.answer(token, ok(), now), Handled::Delivered);
        assert_eq!((ob.depth(), ob.position(), ob.failures()), (0, 1, 0));
    }

    #[test]
    fn peer_answers_an_error() {
        let mut ob = Outbox::new(cfg(), 0);
        ob.feed([(1, A.to_vec())], 1);
        let (token, _) = send(&mut ob, 0, Some(site("a")));
        let h = ob.answer(token, Answer::Rc(400, "Identity is not an administrator".into()), 0);
        assert_eq!(h, Handled::Failed);
        assert_eq!(ob.reachable(), Some(true), "it answered");
        assert!(ob.last_error().unwrap().contains("400"), "{:?}", ob.last_error());
        assert_eq!(ob.next(50), Step::Backoff { until_ms: 100 });
        let (token, _) = send(&mut ob, 100, Some(site("a")));
        assert_eq!(ob.answer(token, ok(), 100), Handled::Delivered);
        assert_eq!(ob.position(), 1);
    }

    #[test]
    fn already_exists_then_modify_then_add() {
        let mut ob = Outbox::new(cfg(), 0);
        ob.feed([(1, A.to_vec())], 1);
        let (t1, r1) = send(&mut ob, 0, Some(site("a")));
        assert!(matches!(r1, Request::Create { .. }));
        assert_eq!(ob.answer(t1, Answer::Rc(rc::HANDLE_ALREADY_EXISTS, String::new()), 0), Handled::NextPhase);
        let Step::Send { token: t2, request: r2 } = ob.next(0) else { panic!() };
        assert_eq!(r2, Request::Modify { handle: A.to_vec(), values: site("a") }, "no backoff, same values");
        assert_eq!(ob.answer(t2, Answer::Rc(rc::VALUES_NOT_FOUND, String::new()), 0), Handled::NextPhase);
        let Step::Send { token: t3, request: r3 } = ob.next(0) else { panic!() };
        assert!(matches!(r3, Request::AddOverwrite { .. }));
        assert_eq!(ob.answer(t3, ok(), 0), Handled::Delivered);
        assert_eq!(ob.failures(), 0);
    }

    #[test]
    fn deletes_when_the_local_record_is_gone() {
        let mut ob = Outbox::new(cfg(), 0);
        ob.feed([(1, A.to_vec())], 1);
        let (t, r) = send(&mut ob, 0, None);
        assert_eq!(r, Request::Delete { handle: A.to_vec() });
        assert_eq!(ob.answer(t, Answer::Rc(rc::HANDLE_NOT_FOUND, String::new()), 0), Handled::Delivered);
    }

    #[test]
    fn duplicate_and_late_answers_are_ignored() {
        let mut ob = Outbox::new(cfg(), 0);
        ob.feed([(1, A.to_vec()), (2, B.to_vec())], 2);
        let (t1, _) = send(&mut ob, 0, Some(site("a")));
        assert_eq!(ob.answer(t1, ok(), 0), Handled::Delivered);
        assert_eq!(ob.answer(t1, ok(), 0), Handled::Ignored, "a duplicate of the same answer");
        let (t2, r2) = send(&mut ob, 0, Some(site("b")));
        assert_eq!(r2.handle(), B);
        assert_eq!(ob.answer(t1, Answer::Rc(500, "late".into()), 0), Handled::Ignored, "an answer to the old request");
        assert_eq!(ob.answer(t2 + 7, ok(), 0), Handled::Ignored, "an unknown token");
        // A timed-out request answered after the retry was sent.
        assert_eq!(ob.answer(t2, Answer::Unreachable("timeout".into()), 0), Handled::Failed);
        let (t3, _) = send(&mut ob, 100, Some(site("b")));
        assert_eq!(ob.answer(t2, ok(), 100), Handled::Ignored);
        assert_eq!(ob.depth(), 1);
        assert_eq!(ob.answer(t3, ok(), 100), Handled::Delivered);
        assert_eq!((ob.depth(), ob.position(), ob.delivered_count()), (0, 2, 2));
    }

    #[test]
    fn restart_mid_way_resumes_from_the_stored_position() {
        let changes = || vec![(1, A.to_vec()), (2, B.to_vec()), (4, b"0.NA/88.118.8.1003".to_vec())];
        let mut ob = Outbox::new(OutboxConfig { persist_every: 1, ..cfg() }, 0);
        ob.feed(changes(), 4);
        let (t, _) = send(&mut ob, 0, Some(site("a")));
        assert_eq!(ob.answer(t, ok(), 0), Handled::Delivered);
        assert_eq!(ob.next(0), Step::Persist { position: 1 }, "persist_every = 1");
        ob.persisted(1);
        // B goes out, then the process dies before the answer.
        let (_, r) = send(&mut ob, 0, Some(site("b")));
        assert_eq!(r.handle(), B);
        let stored = ob.stored_position();
        assert_eq!(stored, 1);
        drop(ob);

        // Restart: the driver reads the log after the stored position.
        let mut ob = Outbox::new(cfg(), stored);
        ob.feed(changes().into_iter().filter(|(s, _)| *s > stored), 4);
        assert_eq!(ob.depth(), 2, "B and 1003; A is not sent again");
        let mut sent = Vec::new();
        for _ in 0..2 {
            let (t, r) = send(&mut ob, 0, Some(site("x")));
            sent.push(r.handle().to_vec());
            // B arrived before the crash: the top node says so, we modify.
            if r.handle() == B {
                assert_eq!(ob.answer(t, Answer::Rc(rc::HANDLE_ALREADY_EXISTS, String::new()), 0), Handled::NextPhase);
                let Step::Send { token, request } = ob.next(0) else { panic!() };
                assert!(matches!(request, Request::Modify { .. }));
                assert_eq!(ob.answer(token, ok(), 0), Handled::Delivered);
            } else {
                assert_eq!(ob.answer(t, ok(), 0), Handled::Delivered);
            }
        }
        assert_eq!(sent, [B.to_vec(), b"0.NA/88.118.8.1003".to_vec()]);
        assert_eq!(ob.next(0), Step::Persist { position: 4 });
        // Feeding entries at or before read_to again (an overlapping read) changes nothing.
        ob.persisted(4);
        ob.feed(changes(), 4);
        assert_eq!((ob.depth(), ob.next(0)), (0, Step::Idle));
    }

    #[test]
    fn order_per_prefix_and_coalescing() {
        let mut ob = Outbox::new(cfg(), 0);
        // A changes twice around B: one delivery of A, after B, with A's latest state.
        ob.feed([(1, A.to_vec()), (2, B.to_vec()), (3, A.to_vec())], 3);
        assert_eq!(ob.depth(), 2);
        assert_eq!(ob.position(), 1, "A@1 is superseded by A@3");
        let (t, r) = send(&mut ob, 0, Some(site("b")));
        assert_eq!(r.handle(), B);
        assert_eq!(ob.answer(t, ok(), 0), Handled::Delivered);
        assert_eq!(ob.position(), 2);
        let (t, r) = send(&mut ob, 0, Some(site("a2")));
        assert_eq!(r, Request::Create { handle: A.to_vec(), values: site("a2") });
        // A changes again while its delivery is in flight: it is sent again
        // afterwards, never reordered before the one in flight.
        ob.feed([(4, A.to_vec())], 4);
        assert_eq!(ob.depth(), 2);
        assert_eq!(ob.answer(t, ok(), 0), Handled::Delivered);
        assert_eq!(ob.position(), 3, "A@4 still queued");
        let (t, r) = send(&mut ob, 0, Some(site("a3")));
        assert_eq!(r, Request::Create { handle: A.to_vec(), values: site("a3") });
        assert_eq!(ob.answer(t, Answer::Rc(rc::HANDLE_ALREADY_EXISTS, String::new()), 0), Handled::NextPhase);
        let Step::Send { token, request } = ob.next(0) else { panic!() };
        assert_eq!(request, Request::Modify { handle: A.to_vec(), values: site("a3") });
        assert_eq!(ob.answer(token, ok(), 0), Handled::Delivered);
        assert_eq!((ob.position(), ob.depth()), (4, 0));
    }

    #[test]
    fn ping_pong_is_bounded() {
        let mut ob = Outbox::new(cfg(), 0);
        ob.feed([(1, A.to_vec())], 1);
        let (mut t, _) = send(&mut ob, 0, Some(site("a")));
        let mut outcomes = Vec::new();
        for _ in 0..5 {
            let code = match ob.next(0) {
                Step::Waiting { .. } => rc::HANDLE_ALREADY_EXISTS,
                other => panic!("{other:?}"),
            };
            // The top node alternates "exists" and "not found" forever.
            let code = if outcomes.len() % 2 == 0 { code } else { rc::HANDLE_NOT_FOUND };
            let h = ob.answer(t, Answer::Rc(code, String::new()), 0);
            outcomes.push(h);
            if h == Handled::Failed {
                break;
            }
            let Step::Send { token, .. } = ob.next(0) else { panic!() };
            t = token;
        }
        assert_eq!(outcomes.last(), Some(&Handled::Failed));
        assert!(ob.last_error().unwrap().contains("no progress"));
    }
}
