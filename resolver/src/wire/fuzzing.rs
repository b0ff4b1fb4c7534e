//! Fuzzing entry points (used by `fuzz/` and by a stable-toolchain test that
//! replays the seed corpus plus mutations). They feed arbitrary bytes to
//! every decoder of the codec and **panic when an invariant breaks** — that
//! is their purpose; the decoders themselves never panic. No I/O.

use std::time::Instant;

use idnode_registry::model::{AdminRecord, HsSite, PublicKey, Value, ValueList};

use super::{Body, Frame, Message, Reassembler, ReassemblyLimits, ResolutionRequestRef};

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
