//! The engine serving mirrors and being one, against a real sled store
//! without sockets: OC 1000 / 1001 / 1002 only for the identities of
//! `EngineConfig::replicas` after a challenge (401 for another
//! administrator, 403 for a wrong key); a 1001 moves the primary's
//! consumer of that mirror; a read-only engine answers writes RC 7 naming
//! its primary; a node homing `88` is not responsible (301) for
//! identifiers under a prefix registered there as `0.NA/<p>`.

use std::sync::Arc;

use idnode_registry::ident::CasePolicy;
use idnode_registry::model::Value;
use idnode_registry::replica;
use idnode_registry::seed::init_store;
use idnode_registry::store::{SledStore, Store, StoreExt, WriteCtx};
use idnode_resolver::auth::Identity;
use idnode_resolver::auth::seckey::{self, MacAlg};
use idnode_resolver::engine::{Ctx, Engine, EngineConfig, Transport};
use idnode_resolver::wire::{
    Body, ChallengeAnswer, Envelope, HandleValues, Header, Message, OpCode, OpFlags, ProtocolVersion, ResolutionRequest,
};

fn send(engine: &Engine, m: &Message) -> Message {
    let ctx = Ctx { transport: Transport::Tcp, peer: "127.0.0.1:9".parse().unwrap(), now: 1_700_000_000 };
    let mut out = Vec::new();
    engine.handle(&ctx, &m.encode(), &mut out);
    Message::decode(&out).unwrap()
}

fn request(op: OpCode, body: Body) -> Message {
    Message {
        envelope: Envelope::request(ProtocolVersion::OURS, 5),
        header: Header::request(op, OpFlags::NONE, 0x6b00_0000),
        body,
        credential: None,
    }
}

/// Sends `m`, answers the challenge as `index:handle` with `secret`; the final answer.
fn as_identity(engine: &Engine, m: Message, handle: &str, index: u32, secret: &[u8]) -> Message {
    let challenge = send(engine, &m);
    assert_eq!(challenge.header.response_code.0, 402, "{challenge:?}");
    let Body::Challenge(c) = &challenge.body else { panic!("not a challenge") };
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
            identity_handle: handle.as_bytes().to_vec(),
            identity_index: index,
            signed_response: seckey::encode_answer(MacAlg::HmacSha256, &mac, None),
        }),
        credential: None,
    };
    send(engine, &answer)
}

fn store_with_keys(dir: &std::path::Path) -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir).unwrap());
    init_store(store.as_ref(), "88.118.8", CasePolicy::CaseSensitive, 1).unwrap();
    let ctx = WriteCtx::new(1, "t");
    for (h, secret) in [("0.NA/MIRROR", "mirror-secret"), ("0.NA/OTHER", "other-secret")] {
        let v = Value::new(300, "HS_SECKEY", secret).with_permissions(idnode_registry::model::perm::SECRET);
        store.create_record(h.as_bytes(), vec![v], false, &ctx).unwrap();
    }
    store
}

#[test]
fn only_configured_mirrors_follow_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_keys(dir.path());
    let cfg = EngineConfig { replicas: vec![Identity::new(300, "0.NA/MIRROR")], ..EngineConfig::default() };
    let engine = Engine::new(store.clone(), cfg);
    let ctx = WriteCtx::new(2, "t");
    store.create_record(b"88.118.8/X", vec![Value::new(1, "URL", "u")], false, &ctx).unwrap();

    let log = || request(OpCode::RETRIEVE_TXN_LOG, Body::Replication(replica::encode_log_request(0, 100)));
    // Another identity with a valid key: not a mirror of this node.
    let m = as_identity(&engine, log(), "0.NA/OTHER", 300, b"other-secret");
    assert_eq!(m.header.response_code.0, 401, "{m:?}");
    // The mirror with a wrong key.
    assert_eq!(as_identity(&engine, log(), "0.NA/MIRROR", 300, b"guess").header.response_code.0, 403);
    // The mirror: every durable change with its current state.
    let m = as_identity(&engine, log(), "0.NA/MIRROR", 300, b"mirror-secret");
    assert_eq!(m.header.response_code.0, 1, "{m:?}");
    let Body::Replication(raw) = &m.body else { panic!("{m:?}") };
    let page = replica::decode_log_page(raw).unwrap();
    assert_eq!(page.durable_seq, store.durable_seq());
    assert_eq!(page.entries.len() as u64, store.durable_seq());
    let x = page.entries.iter().find(|e| e.key == b"88.118.8/X").expect("the record's change");
    assert!(x.state.is_some());
    // The primary keeps the mirror as a change-log consumer at its position (0 here).
    assert_eq!(store.consumer_position("mirror:300:0.NA/MIRROR").unwrap(), Some(0));
    let after =
        request(OpCode::RETRIEVE_TXN_LOG, Body::Replication(replica::encode_log_request(store.durable_seq(), 100)));
    let m = as_identity(&engine, after, "0.NA/MIRROR", 300, b"mirror-secret");
    let Body::Replication(raw) = &m.body else { panic!("{m:?}") };
    assert!(replica::decode_log_page(raw).unwrap().entries.is_empty());
    assert_eq!(store.consumer_position("mirror:300:0.NA/MIRROR").unwrap(), Some(store.durable_seq()));

    // 1000 and 1002.
    let m = as_identity(
        &engine,
        request(OpCode::GET_NEXT_TXN_ID, Body::Replication(vec![])),
        "0.NA/MIRROR",
        300,
        b"mirror-secret",
    );
    let Body::Replication(raw) = &m.body else { panic!("{m:?}") };
    assert_eq!(replica::decode_next_txn_id(raw).unwrap(), store.durable_seq() + 1);
    let dump = request(OpCode::DUMP_HANDLES, Body::Replication(replica::encode_dump_request(b"", 1000)));
    let m = as_identity(&engine, dump, "0.NA/MIRROR", 300, b"mirror-secret");
    let Body::Replication(raw) = &m.body else { panic!("{m:?}") };
    let page = replica::decode_dump_page(raw).unwrap();
    assert!(!page.more);
    assert!(page.entries.iter().any(|e| e.key == b"88.118.8/X"));
    // A malformed request body: protocol error, nothing else.
    let bad = request(OpCode::RETRIEVE_TXN_LOG, Body::Replication(vec![1, 2, 3]));
    assert_eq!(as_identity(&engine, bad, "0.NA/MIRROR", 300, b"mirror-secret").header.response_code.0, 4);
}

#[test]
fn a_mirror_refuses_writes_naming_its_primary() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_keys(dir.path());
    let cfg = EngineConfig { read_only: Some("192.0.2.10:2641".into()), ..EngineConfig::default() };
    let engine = Engine::new(store.clone(), cfg);
    let create = request(
        OpCode::CREATE_HANDLE,
        Body::CreateHandle(HandleValues { handle: b"88.118.8/NEW".to_vec(), values: vec![Value::new(1, "URL", "u")] }),
    );
    let m = send(&engine, &create);
    assert_eq!(m.header.response_code.0, 7, "{m:?}");
    let Body::Error(e) = &m.body else { panic!("{m:?}") };
    assert!(String::from_utf8_lossy(&e.message).contains("192.0.2.10:2641"));
    assert!(store.get_record(b"88.118.8/NEW").unwrap().is_none());
}

#[test]
fn identifiers_under_a_delegated_prefix_are_not_this_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path()).unwrap());
    init_store(store.as_ref(), "88", CasePolicy::CaseSensitive, 1).unwrap();
    let ctx = WriteCtx::new(1, "t");
    store.create_record(b"0.NA/88.118.8.1001", vec![Value::new(1, "HS_SITE", "site-of-a")], false, &ctx).unwrap();
    store.create_record(b"88.5/HERE", vec![Value::new(1, "URL", "u")], false, &ctx).unwrap();
    // A sub-prefix handle with administrators only: its identifiers stay here.
    store.create_record(b"0.NA/88.7", vec![Value::new(100, "HS_ADMIN", "adm")], false, &ctx).unwrap();
    store.create_record(b"88.7/HERE", vec![Value::new(1, "URL", "u")], false, &ctx).unwrap();
    let engine = Engine::new(store, EngineConfig::default());
    let ask = |h: &str| {
        let m = request(
            OpCode::RESOLUTION,
            Body::Resolution(ResolutionRequest { handle: h.into(), indexes: vec![], types: vec![], auth_token: None }),
        );
        let mut m = m;
        m.header.op_flags = OpFlags::PO;
        send(&engine, &m).header.response_code.0
    };
    assert_eq!(ask("88.118.8.1001/LOT-1"), 301, "registered elsewhere");
    assert_eq!(ask("88.118.8.1001.7/LOT-1"), 301, "below a registered prefix");
    assert_eq!(ask("88.5/HERE"), 1, "homed here, not delegated");
    assert_eq!(ask("88.6/NOPE"), 100, "homed here, not found");
    assert_eq!(ask("88.7/HERE"), 1, "a prefix handle without a service elsewhere");
}
