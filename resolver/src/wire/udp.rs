//! UDP fragmentation and reassembly (handle-protocol.md §1 "UDP").
//!
//! A message longer than 492 bytes travels as ⌈len/492⌉ datagrams of at
//! most 512 bytes, each with a full envelope carrying the same requestId and
//! the *total* messageLength, sequence numbers 0, 1, 2…; the receiver copies
//! packet *n* to offset *n*·492. CNRI sets TC on multi-packet requests but
//! not on its multi-packet responses, so reassembly relies on messageLength
//! alone.
//!
//! Sans-IO: no sockets, and no clock — [`Reassembler::push`] and
//! [`Reassembler::expire`] take `now`. Memory is bounded: each message is at
//! most 256 KiB, and the number of pending messages and their total size are
//! capped ([`ReassemblyLimits`]); the oldest pending message is evicted to
//! make room.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use super::envelope::{ENVELOPE_LEN, Envelope, envelope_flags};
use super::error::UdpError;

/// Largest datagram (§1).
pub const UDP_MAX_DATAGRAM: usize = 512;
/// Message bytes per datagram: 512 − 20.
pub const UDP_MAX_PAYLOAD: usize = UDP_MAX_DATAGRAM - ENVELOPE_LEN;

/// One datagram of a fragmented message: its envelope and a borrowed slice
/// of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpFragment<'a> {
    pub envelope: [u8; ENVELOPE_LEN],
    pub payload: &'a [u8],
}

impl UdpFragment<'_> {
    /// Datagram length.
    pub fn len(&self) -> usize {
        ENVELOPE_LEN + self.payload.len()
    }

    /// Never true for fragments [`udp_fragments`] yields (the envelope is
    /// always there).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the datagram bytes.
    pub fn write_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.envelope);
        out.extend_from_slice(self.payload);
    }

    /// The datagram as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        self.write_into(&mut v);
        v
    }
}

/// Iterator over the datagrams of one message; see [`udp_fragments`].
#[derive(Debug, Clone)]
pub struct UdpFragments<'a> {
    envelope: [u8; ENVELOPE_LEN],
    chunks: std::slice::Chunks<'a, u8>,
    seq: i32,
    single_empty: bool,
}

/// Splits `message` — one encoded message in TCP form, envelope first (e.g.
/// [`Message::encode`](super::Message::encode)) — into datagrams of at most
/// 512 bytes. Every datagram repeats the envelope with its sequence number;
/// requestId and messageLength stay those of the whole message. A message
/// of ≤ 492 bytes yields exactly one datagram equal to `message`. TC is set
/// on the datagrams of a multi-datagram message only when `mark_truncated`
/// (CNRI: requests yes, responses no). A buffer shorter than an envelope
/// yields nothing.
pub fn udp_fragments(message: &[u8], mark_truncated: bool) -> UdpFragments<'_> {
    let mut envelope = [0u8; ENVELOPE_LEN];
    let payload = match message.split_first_chunk::<ENVELOPE_LEN>() {
        Some((env, payload)) => {
            envelope = *env;
            payload
        }
        None => &[][..],
    };
    if mark_truncated && payload.len() > UDP_MAX_PAYLOAD {
        envelope[2] |= envelope_flags::TC;
    }
    UdpFragments {
        envelope,
        chunks: payload.chunks(UDP_MAX_PAYLOAD),
        seq: 0,
        // An empty message (impossible for a real one) is still one datagram.
        single_empty: message.len() == ENVELOPE_LEN,
    }
}

impl<'a> Iterator for UdpFragments<'a> {
    type Item = UdpFragment<'a>;

    fn next(&mut self) -> Option<UdpFragment<'a>> {
        let payload = match self.chunks.next() {
            Some(p) => p,
            None if self.single_empty => {
                self.single_empty = false;
                &[][..]
            }
            None => return None,
        };
        self.single_empty = false;
        let mut envelope = self.envelope;
        envelope[12..16].copy_from_slice(&self.seq.to_be_bytes());
        self.seq = self.seq.saturating_add(1);
        Some(UdpFragment { envelope, payload })
    }
}

/// Bounds of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Messages being reassembled at once.
    pub max_pending: usize,
    /// Total bytes of their buffers.
    pub max_buffered_bytes: usize,
    /// How long a partial message waits for its other datagrams (CNRI
    /// clients retry after 0.5 s, 1 s, 1.5 s, then switch to TCP).
    pub timeout: Duration,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits { max_pending: 1024, max_buffered_bytes: 16 << 20, timeout: Duration::from_secs(5) }
    }
}

/// What a datagram completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reassembled<'a> {
    /// A single-datagram message: the datagram itself, not copied.
    Complete(&'a [u8]),
    /// The last missing datagram of a multi-datagram message arrived: the
    /// whole message in TCP form (the envelope of the datagrams with
    /// sequence number 0).
    Assembled(Vec<u8>),
    /// More datagrams are needed (or this one was a duplicate).
    Pending,
}

#[derive(Debug)]
struct Partial {
    buf: Vec<u8>,
    /// One bit per datagram.
    received: Vec<u64>,
    missing: usize,
    message_length: u32,
    id: u64,
}

/// Reassembles multi-datagram messages keyed by (peer, requestId).
#[derive(Debug)]
pub struct Reassembler<P> {
    limits: ReassemblyLimits,
    pending: HashMap<(P, i32), Partial>,
    /// Insertion order = expiry order (one timeout for all): key, id, deadline.
    order: VecDeque<((P, i32), u64, Instant)>,
    buffered: usize,
    next_id: u64,
}

impl<P: Eq + Hash + Clone> Reassembler<P> {
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembler { limits, pending: HashMap::new(), order: VecDeque::new(), buffered: 0, next_id: 0 }
    }

    /// Messages waiting for more datagrams.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes held by pending messages.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Takes one datagram from `peer` received at `now`.
    pub fn push<'a>(&mut self, peer: P, datagram: &'a [u8], now: Instant) -> Result<Reassembled<'a>, UdpError> {
        if datagram.len() > UDP_MAX_DATAGRAM {
            return Err(UdpError::TooLarge { len: datagram.len() });
        }
        let env = Envelope::decode(datagram)?;
        let payload = &datagram[ENVELOPE_LEN..];
        let total = env.message_length as usize;
        let packets = total.div_ceil(UDP_MAX_PAYLOAD).max(1);
        let seq = env.sequence_number;
        let Some(idx) = usize::try_from(seq).ok().filter(|&i| i < packets) else {
            return Err(UdpError::BadSequence { seq, message_length: env.message_length });
        };
        let offset = idx * UDP_MAX_PAYLOAD;
        let expected = UDP_MAX_PAYLOAD.min(total - offset);
        if payload.len() != expected {
            return Err(UdpError::BadFragmentLength { seq, got: payload.len(), expected });
        }
        if packets == 1 {
            return Ok(Reassembled::Complete(datagram));
        }
        self.expire(now);
        let key = (peer, env.request_id);
        if !self.pending.contains_key(&key) {
            let size = ENVELOPE_LEN + total;
            if !self.make_room(size) {
                return Ok(Reassembled::Pending);
            }
            let id = self.next_id;
            self.next_id += 1;
            let mut buf = vec![0u8; size];
            buf[..ENVELOPE_LEN].copy_from_slice(&env_bytes_seq0(&datagram[..ENVELOPE_LEN]));
            self.pending.insert(
                key.clone(),
                Partial {
                    buf,
                    received: vec![0; packets.div_ceil(64)],
                    missing: packets,
                    message_length: env.message_length,
                    id,
                },
            );
            self.order.push_back((key.clone(), id, now + self.limits.timeout));
            self.buffered += size;
        }
        let Some(p) = self.pending.get_mut(&key) else {
            return Ok(Reassembled::Pending);
        };
        if p.message_length != env.message_length {
            return Err(UdpError::Inconsistent { seq, message_length: env.message_length });
        }
        let (word, bit) = (idx / 64, 1u64 << (idx % 64));
        let Some(w) = p.received.get_mut(word) else {
            return Ok(Reassembled::Pending);
        };
        if *w & bit != 0 {
            return Ok(Reassembled::Pending);
        }
        *w |= bit;
        p.missing -= 1;
        let at = ENVELOPE_LEN + offset;
        if let Some(dst) = p.buf.get_mut(at..at + expected) {
            dst.copy_from_slice(payload);
        }
        if idx == 0 {
            p.buf[..ENVELOPE_LEN].copy_from_slice(&env_bytes_seq0(&datagram[..ENVELOPE_LEN]));
        }
        if p.missing > 0 {
            return Ok(Reassembled::Pending);
        }
        let Some(done) = self.pending.remove(&key) else {
            return Ok(Reassembled::Pending);
        };
        self.buffered -= done.buf.len();
        self.compact_order();
        Ok(Reassembled::Assembled(done.buf))
    }

    /// Drops partial messages whose time ran out; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        while let Some((_, _, deadline)) = self.order.front() {
            if *deadline > now {
                break;
            }
            if self.evict_front() {
                dropped += 1;
            }
        }
        dropped
    }

    /// Pops the oldest order entry; true when it was still pending.
    fn evict_front(&mut self) -> bool {
        let Some((key, id, _)) = self.order.pop_front() else {
            return false;
        };
        if self.pending.get(&key).is_some_and(|p| p.id == id) {
            if let Some(p) = self.pending.remove(&key) {
                self.buffered -= p.buf.len();
            }
            return true;
        }
        false
    }

    /// Evicts the oldest messages until `size` more bytes and one more entry
    /// fit; false when they never can.
    fn make_room(&mut self, size: usize) -> bool {
        if size > self.limits.max_buffered_bytes || self.limits.max_pending == 0 {
            return false;
        }
        while self.pending.len() >= self.limits.max_pending || self.buffered + size > self.limits.max_buffered_bytes {
            if self.order.is_empty() {
                return false;
            }
            self.evict_front();
        }
        true
    }

    /// Drops order entries of completed messages once they dominate.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.pending.len() + 64 {
            let pending = &self.pending;
            self.order.retain(|(k, id, _)| pending.get(k).is_some_and(|p| p.id == *id));
        }
    }
}

/// The envelope bytes with sequence number 0.
fn env_bytes_seq0(env: &[u8]) -> [u8; ENVELOPE_LEN] {
    let mut b = [0u8; ENVELOPE_LEN];
    b.copy_from_slice(&env[..ENVELOPE_LEN]);
    b[12..16].fill(0);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: usize, request_id: i32) -> Vec<u8> {
        let mut env = Envelope::request(super::super::ProtocolVersion::OURS, request_id);
        env.message_length = len as u32;
        let mut m = env.to_bytes().to_vec();
        m.extend((0..len).map(|i| (i % 251) as u8));
        m
    }

    #[test]
    fn split_sizes() {
        let m = message(523 - 20 + 20, 1);
        let d: Vec<Vec<u8>> = udp_fragments(&m, false).map(|f| f.to_vec()).collect();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].len(), 512);
        assert_eq!(d[1].len(), 20 + 523 - 492);
        assert_eq!(&d[1][12..16], &[0, 0, 0, 1]);
        assert_eq!(d[0][2] & envelope_flags::TC, 0);
        let t: Vec<Vec<u8>> = udp_fragments(&m, true).map(|f| f.to_vec()).collect();
        assert!(t.iter().all(|d| d[2] & envelope_flags::TC != 0));
        let small = message(100, 1);
        let one: Vec<Vec<u8>> = udp_fragments(&small, true).map(|f| f.to_vec()).collect();
        assert_eq!(one, vec![small]);
        assert_eq!(udp_fragments(&[1, 2], false).count(), 0);
    }

    #[test]
    fn reassemble_any_order_with_duplicates() {
        let now = Instant::now();
        let m = message(1200, 7);
        let d: Vec<Vec<u8>> = udp_fragments(&m, true).map(|f| f.to_vec()).collect();
        assert_eq!(d.len(), 3);
        let mut r = Reassembler::new(ReassemblyLimits::default());
        assert_eq!(r.push(1u8, &d[2], now).unwrap(), Reassembled::Pending);
        assert_eq!(r.push(1u8, &d[2], now).unwrap(), Reassembled::Pending);
        // Another peer with the same request id is a different message.
        assert_eq!(r.push(2u8, &d[0], now).unwrap(), Reassembled::Pending);
        assert_eq!(r.push(1u8, &d[0], now).unwrap(), Reassembled::Pending);
        let Reassembled::Assembled(out) = r.push(1u8, &d[1], now).unwrap() else {
            panic!("not assembled");
        };
        let mut want = m.clone();
        want[2] |= envelope_flags::TC;
        assert_eq!(out, want);
        assert_eq!(r.pending(), 1);
        assert_eq!(r.expire(now + Duration::from_secs(6)), 1);
        assert_eq!(r.pending(), 0);
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn bad_fragments_rejected() {
        let now = Instant::now();
        let m = message(600, 1);
        let d: Vec<Vec<u8>> = udp_fragments(&m, false).map(|f| f.to_vec()).collect();
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let mut bad = d[1].clone();
        bad.push(0);
        assert!(matches!(r.push(0u8, &bad, now), Err(UdpError::BadFragmentLength { .. })));
        let mut bad = d[1].clone();
        bad[15] = 2;
        assert!(matches!(r.push(0u8, &bad, now), Err(UdpError::BadSequence { .. })));
        assert!(matches!(r.push(0u8, &[0; 513], now), Err(UdpError::TooLarge { .. })));
        assert!(r.push(0u8, &[0; 10], now).is_err());
        r.push(0u8, &d[0], now).unwrap();
        let mut other = d[1].clone();
        other[19] = 0xff; // different messageLength, same request id
        assert!(r.push(0u8, &other, now).is_err());
    }

    #[test]
    fn bounded_memory_evicts_oldest() {
        let now = Instant::now();
        let limits = ReassemblyLimits { max_pending: 3, max_buffered_bytes: 1 << 20, timeout: Duration::from_secs(5) };
        let mut r = Reassembler::new(limits);
        for id in 0..10 {
            let m = message(1000, id);
            let first = udp_fragments(&m, true).next().unwrap().to_vec();
            assert_eq!(r.push(0u8, &first, now).unwrap(), Reassembled::Pending);
            assert!(r.pending() <= 3);
        }
        assert_eq!(r.buffered_bytes(), 3 * 1020);
        // The newest ones survived.
        let m = message(1000, 9);
        let rest: Vec<Vec<u8>> = udp_fragments(&m, true).skip(1).map(|f| f.to_vec()).collect();
        let mut last = Reassembled::Pending;
        for d in &rest {
            last = r.push(0u8, d, now).unwrap();
        }
        assert!(matches!(last, Reassembled::Assembled(_)));
        let tiny = ReassemblyLimits { max_pending: 10, max_buffered_bytes: 100, timeout: Duration::from_secs(1) };
        let mut r = Reassembler::new(tiny);
        let m = message(1000, 1);
        let first = udp_fragments(&m, true).next().unwrap().to_vec();
        assert_eq!(r.push(0u8, &first, now).unwrap(), Reassembled::Pending);
        assert_eq!(r.pending(), 0);
    }
}
