//! Fuzzing entry point for session setup (used by
//! `fuzz/fuzz_targets/session_setup.rs` and a stable test replaying its seed
//! corpus): arbitrary bytes as the body of an OC_SESSION_SETUP request go
//! through the body decoder, the DH key parser and, when they hold a usable
//! group, the server side of the exchange — the path an unauthenticated UDP
//! client reaches. Panics only when an invariant breaks. No I/O.

use idnode_registry::model::wire::Reader;

use crate::auth::dh;
use crate::wire::{Body, Header, OpCode, OpFlags, ProtocolVersion, SessionSetupRequest};

/// See the module docs.
pub fn session_setup(data: &[u8]) {
    let header = Header::request(OpCode::SESSION_SETUP, OpFlags::NONE, 0);
    let Ok(Body::SessionSetup(req)) = Body::decode(&header, ProtocolVersion::OURS, data) else { return };
    // Re-encoding gives the same body back.
    let mut again = Vec::new();
    Body::SessionSetup(req.clone()).encode(&mut again);
    assert_eq!(again, data, "session setup body does not round-trip");
    if req.key_exchange_mode != SessionSetupRequest::KEY_EXCHANGE_DH {
        return;
    }
    let Some(key) = req.exchange_key() else { return };
    if let Ok(ex) = dh::server_exchange(key) {
        // Our own answer key parses back within the same bounds.
        let (y, p, _) = dh::parse_public(&ex.server_public).expect("our DH key parses");
        assert!(y < p);
        let mut r = Reader::new(&ex.server_public);
        assert!(r.bytes("key type").is_ok());
    }
}
