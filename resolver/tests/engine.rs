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
}
