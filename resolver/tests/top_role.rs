//! The engine as a top node sees it (handle-protocol.md §7), against a real
//! sled store without sockets: a derived-prefix marker `0.NA/0.NA/88` makes
//! it authoritative for `0.NA/88.*` (100 for an unregistered one, not 301),
//! stored prefix handles are answered, and deeper ones under an ancestor
//! with HS_SITE.PREFIX are referred with 303 to clients suggesting 2.10+.

use std::sync::Arc;

use idnode_registry::ident::CasePolicy;
use idnode_registry::model::Value;
use idnode_registry::seed::init_store;
use idnode_registry::service::{Limits, Registrar};
use idnode_registry::store::{SledStore, Store, StoreExt, WriteCtx};
use idnode_resolver::engine::{Ctx, Engine, EngineConfig, Transport};
use idnode_resolver::wire::{Body, Envelope, Header, Message, OpCode, OpFlags, ProtocolVersion, ResolutionRequest};

fn ask(engine: &Engine, handle: &str, version: ProtocolVersion) -> Message {
    let mut envelope = Envelope::request(version, 1);
    envelope.suggested = version;
    let req = Message {
        envelope,
        header: Header::request(OpCode::RESOLUTION, OpFlags::PO, 0x6b00_0000),
        body: Body::Resolution(ResolutionRequest {
            handle: handle.as_bytes().to_vec(),
            indexes: vec![],
            types: vec![],
            auth_token: None,
        }),
        credential: None,
    }
    .encode();
    let ctx = Ctx { transport: Transport::Udp, peer: "127.0.0.1:9".parse().unwrap(), now: 1_700_000_000 };
    let mut out = Vec::new();
    engine.handle(&ctx, &req, &mut out);
    Message::decode(&out).unwrap()
}

#[test]
fn markers_records_and_prefix_referrals() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path()).unwrap());
    init_store(store.as_ref(), "86", CasePolicy::CaseSensitive, 1).unwrap();
    let v210 = ProtocolVersion { major: 2, minor: 10 };
    let v27 = ProtocolVersion { major: 2, minor: 7 };

    // Without the marker, 0.NA/88.* is not this node's: 301.
    let engine = Engine::new(store.clone(), EngineConfig::default());
    assert_eq!(ask(&engine, "0.NA/88.118.8.9999", v210).header.response_code.0, 301);

    let reg = Registrar::new(store.clone(), Limits::default());
    reg.home_derived_prefix("88", "0.NA/86", 300, 1).unwrap();
    let ctx = WriteCtx::new(1, "t");
    store.create_record(b"0.NA/88.118.8.1001", vec![Value::new(1, "HS_SITE", "site-of-a")], false, &ctx).unwrap();
    // A deeper delegation: 88.200's prefix handles live on another node.
    store.create_record(b"0.NA/88.200", vec![Value::new(1, "HS_SITE.PREFIX", "site-of-b")], false, &ctx).unwrap();
    let engine = Engine::new(store.clone(), EngineConfig::default());

    let m = ask(&engine, "0.NA/88.118.8.1001", v210);
    assert_eq!(m.header.response_code.0, 1);
    let Body::ResolutionResponse(r) = &m.body else { panic!("{m:?}") };
    assert_eq!(r.values[0].data, b"site-of-a");
    // Authoritative for the derived prefix: not there = 100.
    assert_eq!(ask(&engine, "0.NA/88.118.8.9999", v210).header.response_code.0, 100);
    assert_eq!(ask(&engine, "0.NA/88", v210).header.response_code.0, 100);
    // Deeper than a delegation: 303 with the HS_SITE.PREFIX values.
    let m = ask(&engine, "0.NA/88.200.5", v210);
    assert_eq!(m.header.response_code.0, 303, "{m:?}");
    let Body::Referral(r) = &m.body else { panic!("{m:?}") };
    assert_eq!(r.values.as_ref().unwrap()[0].data, b"site-of-b");
    // A client older than 2.10 gets no 303 (CNRI's RC 2).
    assert_eq!(ask(&engine, "0.NA/88.200.5", v27).header.response_code.0, 2);
    // Outside the marker: still not this node's.
    assert_eq!(ask(&engine, "0.NA/99.1", v210).header.response_code.0, 301);
}

/// Creates `handle` on the engine as `index:identity` with `secret`
/// (challenge-response, HMAC-SHA256 as the outbox does); the final answer's RC.
fn create_as(engine: &Engine, identity: &str, index: u32, secret: &[u8], handle: &str) -> u32 {
    use idnode_resolver::auth::seckey::{self, MacAlg};
    use idnode_resolver::wire::{ChallengeAnswer, HandleValues};
    let ctx = Ctx { transport: Transport::Tcp, peer: "127.0.0.1:9".parse().unwrap(), now: 1_700_000_000 };
    let send = |m: Message| {
        let mut out = Vec::new();
        engine.handle(&ctx, &m.encode(), &mut out);
        Message::decode(&out).unwrap()
    };
    let create = Message {
        envelope: Envelope::request(ProtocolVersion::OURS, 5),
        header: Header::request(OpCode::CREATE_HANDLE, OpFlags::NONE, 0x6b00_0000),
        body: Body::CreateHandle(HandleValues {
            handle: handle.as_bytes().to_vec(),
            values: vec![Value::new(1, "HS_SITE", "site")],
        }),
        credential: None,
    };
    let challenge = send(create);
    if challenge.header.response_code.0 != 402 {
        // Refused before any challenge (e.g. 101: the handle exists; the
        // request alone shows it must fail).
        return challenge.header.response_code.0;
    }
    let Body::Challenge(c) = challenge.body else { panic!("not a challenge") };
    let mut signed = c.nonce.clone();
    signed.extend_from_slice(c.digest.as_bytes());
    let mac = seckey::mac(MacAlg::HmacSha256, secret, &signed, None).unwrap();
    let mut envelope = Envelope::request(ProtocolVersion::OURS, 6);
    envelope.session_id = challenge.envelope.session_id;
    let answer = Message {
        envelope,
        header: Header::request(OpCode::RESPONSE_TO_CHALLENGE, OpFlags::NONE, 0x6b00_0000),
        body: Body::ChallengeAnswer(ChallengeAnswer {
            auth_type: b"HS_SECKEY".to_vec(),
            identity_handle: identity.as_bytes().to_vec(),
            identity_index: index,
            signed_response: seckey::encode_answer(MacAlg::HmacSha256, &mac, None),
        }),
        credential: None,
    };
    send(answer).header.response_code.0
}

#[test]
fn admitted_secondaries_register_only_under_their_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path()).unwrap());
    init_store(store.as_ref(), "86", CasePolicy::CaseSensitive, 1).unwrap();
    let reg = Registrar::new(store.clone(), Limits::default());
    reg.home_derived_prefix("88", "0.NA/86", 300, 1).unwrap();
    reg.admit_secondary("0.NA/88.118.8", 300, b"secret-a", &["88.118.8".into()], 1).unwrap();
    reg.admit_secondary("0.NA/88.119", 300, b"secret-b", &["88.119".into()], 1).unwrap();
    let engine = Engine::new(store.clone(), EngineConfig::default());

    assert_eq!(create_as(&engine, "0.NA/88.118.8", 300, b"secret-a", "0.NA/88.118.8.1001"), 1);
    assert!(store.get_record(b"0.NA/88.118.8.1001").unwrap().is_some());
    // Again: already exists (the outbox then modifies).
    assert_eq!(create_as(&engine, "0.NA/88.118.8", 300, b"secret-a", "0.NA/88.118.8.1001"), 101);
    // Not under its prefixes: refused (RC 400 INVALID_ADMIN), nothing written.
    assert_eq!(create_as(&engine, "0.NA/88.118.8", 300, b"secret-a", "0.NA/88.119.5"), 400);
    assert!(store.get_record(b"0.NA/88.119.5").unwrap().is_none());
    // The other secondary may, under its own prefix only.
    assert_eq!(create_as(&engine, "0.NA/88.119", 300, b"secret-b", "0.NA/88.119.5"), 1);
    assert_eq!(create_as(&engine, "0.NA/88.119", 300, b"secret-b", "0.NA/88.118.8.2001"), 400);
    // A wrong secret: authentication fails.
    assert_eq!(create_as(&engine, "0.NA/88.118.8", 300, b"guess", "0.NA/88.118.8.2002"), 403);
}
