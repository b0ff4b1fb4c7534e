//! Fuzzing entry points (used by `fuzz/` and by a stable-toolchain test that
//! replays the seed corpus plus mutations). They feed arbitrary bytes to
//! every decoder of the codec and **panic when an invariant breaks** — that
//! is their purpose; the decoders themselves never panic. No I/O.

use std::time::Instant;

use idnode_registry::model::{AdminRecord, HsSite, PublicKey, Value, ValueList};

use super::framing::{self, Framing};
use super::{
    Body, ENVELOPE_LEN, Frame, MAX_MESSAGE, Message, Reassembled, Reassembler, ReassemblyLimits, ResolutionRequestRef,
    UDP_MAX_DATAGRAM,
};

/// Decodes `data` as a message every way the server can and checks:
/// * decoding never panics;
/// * a decoded message re-encodes to bytes that decode to the same message
///   (up to `messageLength`, which grows by 4 when the input had no
///   credential section), and those bytes are stable (encode ∘ decode is
///   idempotent);
/// * the zero-copy resolution decoder accepts exactly the resolution
///   requests the general decoder accepts, with the same content;
/// * UDP reassembly of `data` as a datagram never panics;
/// * the HS_SITE, HS_ADMIN, HS_PUBKEY, HS_VLIST and value decoders round-trip
///   whatever they accept.
pub fn decode_message(data: &[u8]) {
    let full = Message::decode(data);
    if let Ok(m) = &full {
        let bytes = m.encode();
        let mut again = Message::decode(&bytes).expect("re-encoded message must decode");
        assert_eq!(again.envelope.message_length as usize, bytes.len() - 20);
        again.envelope.message_length = m.envelope.message_length;
        assert_eq!(&again, m, "decode(encode(m)) != m");
        assert_eq!(again.encode(), bytes, "encoding is not stable");
    }

    if let Ok(frame) = Frame::parse(data) {
        let fast = ResolutionRequestRef::from_frame(&frame);
        match (&full, fast) {
            (Ok(Message { body: Body::Resolution(req), .. }), Ok(f)) => {
                assert_eq!(&f.to_request(), req, "fast and full resolution decoders disagree");
                assert_eq!(f.indexes().len(), req.indexes.len());
                assert_eq!(f.types().count(), req.types.len());
            }
            (Ok(Message { body: Body::Resolution(_), .. }), Err(e)) => {
                panic!("fast decoder rejected a resolution request: {e}")
            }
            (_, Ok(_)) => panic!("fast decoder accepted what the full decoder did not"),
            _ => {}
        }
    }

    let mut r = Reassembler::new(ReassemblyLimits::default());
    let _ = r.push((), data, Instant::now());

    if let Ok(site) = HsSite::from_bytes(data) {
        assert_eq!(site.to_bytes(), data, "HS_SITE round trip");
        for s in &site.servers {
            let _ = s.public_key();
        }
    }
    if let Ok(a) = AdminRecord::from_bytes(data) {
        assert_eq!(AdminRecord::from_bytes(&a.to_bytes()).as_ref(), Ok(&a), "HS_ADMIN round trip");
    }
    if let Ok(k) = PublicKey::from_bytes(data) {
        assert_eq!(k.to_bytes(), data, "HS_PUBKEY round trip");
    }
    if let Ok(v) = ValueList::from_bytes(data) {
        assert_eq!(v.to_bytes(), data, "HS_VLIST round trip");
    }
    if let Ok(v) = Value::from_bytes(data) {
        assert_eq!(v.to_bytes(), data, "value round trip");
    }
}

/// Feeds `data` to the two stream-level parsers of the Handle doors and
/// checks their invariants:
/// * TCP framing: `data` arrives in chunks of sizes drawn from its own
///   bytes; a reader that follows [`framing::frame`] and [`framing::grow`]
///   (as the TCP door does) cuts out exactly the declared messages, in
///   order, and its buffer never exceeds twice the bytes it holds (or the
///   initial size);
/// * UDP reassembly: `data` cut into datagrams from four peers, with tight
///   limits, never holds more than its limits, and every assembled message
///   is as long as its envelope declares.
pub fn tcp_framing_and_udp_reassembly(data: &[u8]) {
    const INITIAL: usize = 64;
    // --- TCP: a reader over a chunked stream.
    let mut seed = data.iter().take(8).fold(0x9e37_79b9_u64, |h, &b| h.rotate_left(7) ^ u64::from(b));
    let mut next_chunk = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        1 + (seed >> 33) as usize % 700
    };
    let mut buf = vec![0u8; INITIAL];
    let (mut filled, mut consumed) = (0usize, 0usize);
    let mut fed = 0usize;
    loop {
        match framing::frame(&buf[..filled], MAX_MESSAGE) {
            Framing::Ready { total } => {
                assert_eq!(&buf[..total], &data[consumed..consumed + total], "framed bytes differ from the stream");
                consumed += total;
                buf.copy_within(total..filled, 0);
                filled -= total;
                continue;
            }
            Framing::TooLong { declared } => {
                assert!(declared > MAX_MESSAGE);
                break;
            }
            Framing::NeedEnvelope => {}
            Framing::NeedMore { total } => {
                let cap = framing::grow(buf.len(), filled, total, INITIAL);
                assert!(cap <= total.max(buf.len()), "buffer grew past the message");
                assert!(cap <= (2 * filled).max(INITIAL).max(buf.len()), "buffer grew ahead of the bytes received");
                buf.resize(cap, 0);
            }
        }
        if fed == data.len() {
            break;
        }
        if filled == buf.len() {
            // Waiting for an envelope with a full buffer cannot happen: the
            // buffer is at least INITIAL > ENVELOPE_LEN.
            assert!(filled >= ENVELOPE_LEN);
        }
        let n = next_chunk().min(data.len() - fed).min(buf.len() - filled);
        buf[filled..filled + n].copy_from_slice(&data[fed..fed + n]);
        filled += n;
        fed += n;
    }

    // --- UDP: datagrams cut from the input, from four peers.
    let limits =
        ReassemblyLimits { max_pending: 4, max_buffered_bytes: 4096, timeout: std::time::Duration::from_secs(5) };
    let mut r = Reassembler::new(limits);
    let now = Instant::now();
    let mut rest = data;
    while rest.len() >= 2 {
        let peer = rest[0] % 4;
        let len = (usize::from(rest[1]) * 3).min(rest.len() - 2).min(UDP_MAX_DATAGRAM + 8);
        let datagram = &rest[2..2 + len];
        rest = &rest[2 + len..];
        if let Ok(Reassembled::Assembled(m)) = r.push(peer, datagram, now) {
            let declared = u32::from_be_bytes([m[16], m[17], m[18], m[19]]) as usize;
            assert_eq!(m.len(), ENVELOPE_LEN + declared, "assembled message length");
        }
        assert!(r.pending() <= limits.max_pending, "too many partial messages");
        assert!(r.buffered_bytes() <= limits.max_buffered_bytes, "reassembly holds too many bytes");
    }
}
