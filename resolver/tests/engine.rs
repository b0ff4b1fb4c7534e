//! The engine against a real sled store, without sockets: referral to an
//! enterprise node for a prefix hosted there, local answers for homed ones.

use std::sync::Arc;

use idnode_registry::ident::CasePolicy;
use idnode_registry::model::prefix::{Prefix, PrefixState};
use idnode_registry::model::{HsSite, Value};
use idnode_registry::seed::init_store;
use idnode_registry::store::{SledStore, Store, StoreExt, WriteCtx};
use idnode_resolver::engine::{Ctx, Engine, EngineConfig, Transport};
use idnode_resolver::wire::{Body, Envelope, Header, Message, OpCode, OpFlags, ProtocolVersion, ResolutionRequest};

fn ask(engine: &Engine, handle: &str, flags: OpFlags) -> Message {
    let req = Message {
        envelope: Envelope::request(ProtocolVersion::OURS, 1),
        header: Header::request(OpCode::RESOLUTION, flags, 0x6b00_0000),
        body: Body::Resolution(ResolutionRequest {
            handle: handle.as_bytes().to_vec(),
            indexes: vec![],
            types: vec![],
            auth_token: None,
        }),
        credential: None,
    }
    .encode();
    let ctx = Ctx { transport: Transport::Tcp, peer: "127.0.0.1:9".parse().unwrap(), now: 1_700_000_000 };
    let mut out = Vec::new();
    engine.handle(&ctx, &req, &mut out);
    Message::decode(&out).unwrap()
}

#[test]
fn non_hosted_enterprise_prefix_is_referred_to_its_node() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open_path(dir.path()).unwrap());
    init_store(store.as_ref(), "88.118.8", CasePolicy::CaseSensitive, 1).unwrap();
    let ctx = WriteCtx::new(1, "t");
    // The enterprise node's site: take any valid HS_SITE record.
    let site = HsSite {
        data_format_version: 1,
        protocol_major: 2,
        protocol_minor: 10,
        serial_number: 3,
        primary_mask: 0x80,
        hash_option: 2,
        hash_filter: vec![],
        attributes: vec![],
        servers: vec![],
    }
    .to_bytes();
    let mut p = Prefix::new("88.118.8.1002", PrefixState::Enabled, 1);
    p.homed = false;
    p.site = Some(site.clone());
    store.put_prefix(&p, &ctx).unwrap();
    store.create_record(b"88.118.8/LOCAL", vec![Value::new(1, "URL", "x")], false, &ctx).unwrap();
    let store: Arc<dyn Store> = store;
    let engine = Engine::new(store, EngineConfig::default());

    let m = ask(&engine, "88.118.8.1002/SN-1", OpFlags::PO);
    assert_eq!(m.header.response_code.0, 302);
    match m.body {
        Body::Referral(r) => {
            assert_eq!(r.handle, b"0.NA/88.118.8.1002");
            let values = r.values.expect("site values");
            assert_eq!(values[0].value_type, b"HS_SITE");
            assert_eq!(values[0].data, site);
        }
        other => panic!("{other:?}"),
    }
    // DNRF: no referral, just "not here".
    assert_eq!(ask(&engine, "88.118.8.1002/SN-1", OpFlags::PO | OpFlags::DNRF).header.response_code.0, 301);
    // Homed prefix: answered here; unknown enterprise prefix under it: 100.
    assert_eq!(ask(&engine, "88.118.8/LOCAL", OpFlags::PO).header.response_code.0, 1);
    assert_eq!(ask(&engine, "88.118.8.1003/SN-1", OpFlags::PO).header.response_code.0, 100);
    assert_eq!(ask(&engine, "99.1/x", OpFlags::PO).header.response_code.0, 301);
    // Prefix handles: under our node prefix but absent -> 100; foreign -> 301.
    assert_eq!(ask(&engine, "0.NA/88.118.8.1003", OpFlags::PO).header.response_code.0, 100);
    assert_eq!(ask(&engine, "0.NA/99.1", OpFlags::PO).header.response_code.0, 301);
}

mod admin_over_the_wire {
    use super::*;
    use idnode_registry::model::{AdminRecord, admin_perm, perm};
    use idnode_resolver::auth::seckey::{self, MacAlg};
    use idnode_resolver::wire::{ChallengeAnswer, HandleValues};

    fn send(engine: &Engine, msg: &Message) -> Message {
        let ctx = Ctx { transport: Transport::Tcp, peer: "127.0.0.1:9".parse().unwrap(), now: 1_700_000_000 };
        let mut out = Vec::new();
        engine.handle(&ctx, &msg.encode(), &mut out);
        Message::decode(&out).unwrap()
    }

    fn request(op: OpCode, body: Body, id: i32, session: i32) -> Message {
        let mut envelope = Envelope::request(ProtocolVersion::OURS, id);
        envelope.session_id = session;
        Message { envelope, header: Header::request(op, OpFlags::NONE, 0x6b00_0000), body, credential: None }
    }

    /// Create `88.118.8/NEW` as 300:0.NA/88.118.8 with `secret`; returns the final answer.
    fn create_with(engine: &Engine, secret: &[u8]) -> Message {
        create_named(engine, secret, b"88.118.8/NEW")
    }

    fn create_other(engine: &Engine, secret: &[u8]) -> Message {
        create_named(engine, secret, b"88.118.8/OTHER")
    }

    fn create_named(engine: &Engine, secret: &[u8], handle: &[u8]) -> Message {
        let create = request(
            OpCode::CREATE_HANDLE,
            Body::CreateHandle(HandleValues {
                handle: handle.to_vec(),
                values: vec![Value::new(1, "URL", "https://example.org/new")],
            }),
            10,
            0,
        );
        let challenge = send(engine, &create);
        if challenge.header.response_code.0 != 402 {
            // Refused before any challenge (the request alone decides).
            return challenge;
        }
        let Body::Challenge(c) = challenge.body else { panic!("not a challenge") };
        let mut signed = c.nonce.clone();
        signed.extend_from_slice(c.digest.as_bytes());
        let mac = seckey::mac(MacAlg::Sha256, secret, &signed, None).unwrap();
        let answer = request(
            OpCode::RESPONSE_TO_CHALLENGE,
            Body::ChallengeAnswer(ChallengeAnswer {
                auth_type: b"HS_SECKEY".to_vec(),
                identity_handle: b"0.NA/88.118.8".to_vec(),
                identity_index: 300,
                signed_response: seckey::encode_answer(MacAlg::Sha256, &mac, None),
            }),
            11,
            challenge.envelope.session_id,
        );
        send(engine, &answer)
    }

    #[test]
    fn an_authenticated_admin_creates_a_handle_and_a_wrong_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open_path(dir.path()).unwrap());
        init_store(store.as_ref(), "88.118.8", CasePolicy::CaseSensitive, 1).unwrap();
        let ctx = WriteCtx::new(1, "t");
        let admin = AdminRecord::new(admin_perm::ALL, "0.NA/88.118.8", 300).to_bytes();
        store
            .create_record(
                b"0.NA/88.118.8",
                vec![
                    Value::new(100, "HS_ADMIN", admin),
                    Value::new(300, "HS_SECKEY", "s3cret").with_permissions(perm::SECRET),
                ],
                false,
                &ctx,
            )
            .unwrap();
        let store: Arc<dyn Store> = store;
        let engine = Engine::new(store.clone(), EngineConfig::default());

        let refused = create_with(&engine, b"wrong");
        assert_eq!(refused.header.response_code.0, 403);
        assert_eq!(refused.header.op_code, OpCode::CREATE_HANDLE);
        assert!(store.get_record(b"88.118.8/NEW").unwrap().is_none());

        let done = create_with(&engine, b"s3cret");
        assert_eq!(done.header.response_code.0, 1, "{done:?}");
        assert_eq!(done.header.op_code, OpCode::CREATE_HANDLE);
        assert_eq!(done.envelope.request_id, 11);
        assert_eq!(ask(&engine, "88.118.8/NEW", OpFlags::PO).header.response_code.0, 1);

        // The same create again: already exists (no OVRW), refused at once
        // without a challenge.
        let again = create_with(&engine, b"s3cret");
        assert_eq!(again.header.response_code.0, 101);
        assert_eq!(again.envelope.request_id, 10, "answered to the create itself");

        // A registration quota of 1 record under 88.118.8, which already
        // holds 88.118.8/NEW: the next create is refused with IDIS RC 604.
        let mut p = store.get_prefix("88.118.8").unwrap().unwrap();
        p.quota.max_registrations = Some(1);
        store.put_prefix(&p, &ctx).unwrap();
        let engine = Engine::new(store.clone(), EngineConfig::default());
        let over = create_other(&engine, b"s3cret");
        assert_eq!(over.header.response_code.0, 604, "{over:?}");
        assert!(store.get_record(b"88.118.8/OTHER").unwrap().is_none());

        // A challenge answer without a challenge.
        let stray = request(
            OpCode::RESPONSE_TO_CHALLENGE,
            Body::ChallengeAnswer(ChallengeAnswer {
                auth_type: b"HS_SECKEY".to_vec(),
                identity_handle: b"0.NA/88.118.8".to_vec(),
                identity_index: 300,
                signed_response: vec![0x13, 0, 0, 0, 0],
            }),
            12,
            424242,
        );
        assert_eq!(send(&engine, &stray).header.response_code.0, 405);
    }
    #[test]
    fn a_list_nobody_may_make_is_refused_before_any_challenge() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open_path(dir.path()).unwrap());
        init_store(store.as_ref(), "88.118.8", CasePolicy::CaseSensitive, 1).unwrap();
        let ctx = WriteCtx::new(1, "t");
        // Every permission but LIST_HANDLES.
        let admin = AdminRecord::new(admin_perm::ALL & !admin_perm::LIST_HANDLES, "0.NA/88.118.8", 300).to_bytes();
        store.create_record(b"0.NA/88.118.8", vec![Value::new(100, "HS_ADMIN", admin)], true, &ctx).unwrap();
        let store: Arc<dyn Store> = store;
        let list = request(
            OpCode::LIST_HANDLES,
            Body::ListHandles(idnode_resolver::wire::HandleBody { handle: b"0.NA/88.118.8".to_vec() }),
            20,
            0,
        );
        let engine = Engine::new(store.clone(), EngineConfig::default());
        assert_eq!(send(&engine, &list).header.response_code.0, 401);
        // Not homed here: 301 at once.
        let foreign = request(
            OpCode::LIST_HANDLES,
            Body::ListHandles(idnode_resolver::wire::HandleBody { handle: b"0.NA/99.1".to_vec() }),
            21,
            0,
        );
        assert_eq!(send(&engine, &foreign).header.response_code.0, 301);
        // A server administrator could: challenged.
        let cfg = EngineConfig {
            server_admins: vec![idnode_resolver::auth::Identity::new(300, "0.NA/88.118.8")],
            ..EngineConfig::default()
        };
        let engine = Engine::new(store, cfg);
        assert_eq!(send(&engine, &list).header.response_code.0, 402);
    }
}

#[test]
fn alias_form_answers_with_the_bound_record_over_the_handle_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open_path(dir.path()).unwrap());
    init_store(store.as_ref(), "88.118.8", CasePolicy::CaseSensitive, 1).unwrap();
    let ctx = WriteCtx::new(1, "t");
    store.create_record(b"88.118.8/BOUND", vec![Value::new(1, "URL", "https://example.org/b")], false, &ctx).unwrap();
    let alias = idnode_registry::model::Alias {
        scheme: "gs1".into(),
        code: "06901234567892".into(),
        target: "88.118.8/BOUND".into(),
        created: 1,
    };
    store.put_alias(&alias).unwrap();
    let store: Arc<dyn Store> = store;
    let engine = Engine::new(store, EngineConfig::default());
    // Any spelling of the GTIN (GTIN-13 here) finds the canonical alias.
    let m = ask(&engine, "gs1:6901234567892", OpFlags::PO);
    assert_eq!(m.header.response_code.0, 1);
    match m.body {
        Body::ResolutionResponse(r) => {
            assert_eq!(r.handle, b"gs1:6901234567892", "the answer names the handle as asked");
            assert_eq!(r.values[0].data, b"https://example.org/b");
        }
        other => panic!("{other:?}"),
    }
    // Unbound, malformed (bad check digit) and unknown-scheme codes: not found here.
    assert_ne!(ask(&engine, "gs1:6901234567885", OpFlags::PO).header.response_code.0, 1);
    assert_ne!(ask(&engine, "gs1:6901234567891", OpFlags::PO).header.response_code.0, 1);
    assert_ne!(ask(&engine, "isbn:6901234567892", OpFlags::PO).header.response_code.0, 1);
}
