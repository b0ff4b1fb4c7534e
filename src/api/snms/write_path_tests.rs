//! One write path (issue 11): the doors of one daemon — SNMS, the Handle
//! REST API, the admin API and the Handle binary protocol (the engine the
//! TCP door drives) — built on ONE `ApiDeps` as `serve` builds them, so they
//! share ONE registry service. Each door's write is refused by the same
//! enterprise quota, counted in the same reservation ledger, and leaves an
//! audit entry with the door's actor and origin.
//!
//! With a service per door (as before), the last SNMS create below would
//! succeed: the SNMS service's cached count would not include the REST
//! create.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use idnode_registry::model::{AdminRecord, AuditEntry, Identity as Account, Role, Value, admin_perm, perm};
use idnode_registry::seed;
use idnode_registry::service::accounts::sha256_hex;
use idnode_registry::store::{SledStore, Store, StoreExt, WriteCtx};
use idnode_resolver::auth::seckey::{self, MacAlg};
use idnode_resolver::engine::{ConnState, Ctx, Engine, EngineConfig, Transport};
use idnode_resolver::wire::{
    Body as HBody, ChallengeAnswer, Envelope, HandleValues, Header, Message, OpCode, OpFlags, ProtocolVersion,
};
use serde_json::{Value as Json, json};
use tower::ServiceExt;

use super::hash_h1;
use crate::api::ApiDeps;
use crate::api::auth::sealed::Sealer;
use crate::config::Config;
use crate::serve::http::PeerInfo;

const T0: u64 = 1_773_806_400;
const SECRET: &str = "seckey-300";

struct Doors {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    snms: Router,
    rest: Router,
    admin: Router,
    engine: Engine,
}

/// The demo data (88.118.8.1001: an enterprise prefix holding 3
/// identifiers), an enterprise quota of 5 registrations, `0.NA/88.118.8`
/// administered by its own secret key at 300, and an SNMS user `ent1`.
fn doors() -> Doors {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.node.data_dir = dir.path().to_owned();
    cfg.snms.enterprise_max_registrations = 5;
    let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("store")).unwrap());
    let report = seed::seed_demo(&*store, "88.118.8", T0).unwrap();
    let admin = AdminRecord::new(admin_perm::ALL, "0.NA/88.118.8", 300).to_bytes();
    let values =
        vec![Value::new(100, "HS_ADMIN", admin), Value::new(300, "HS_SECKEY", SECRET).with_permissions(perm::SECRET)];
    store.create_record(b"0.NA/88.118.8", values, true, &WriteCtx::new(T0, "test")).unwrap();
    let h1 = sha256_hex(b"ent1-pass");
    let mut a = Account::new("ent1", Role::EnterpriseUser, hash_h1(&h1).unwrap(), T0);
    a.enterprise_id = Some(report.enterprise_id);
    a.snms_v1_verifier = Some(Sealer::in_data_dir(dir.path()).seal("ent1", &h1).unwrap());
    store.put_identity(&a).unwrap();
    let deps = ApiDeps::new(store.clone(), Arc::new(cfg));
    let clock: super::Clock = Arc::new(crate::unix_now);
    Doors {
        snms: super::router_with_clock(deps.clone(), clock),
        rest: crate::api::rest::router(deps.clone()),
        admin: crate::api::admin::local_router(deps.clone()),
        // As `serve` does: the Handle engine gets the HTTP doors' service.
        engine: Engine::with_registrar(deps.reg.clone(), EngineConfig::default()),
        store,
        _dir: dir,
    }
}

async fn http(app: &Router, method: &str, uri: &str, auth: Option<String>, body: Option<Json>) -> (StatusCode, Json) {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    if body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let mut req = b.body(body.map_or_else(Body::empty, |j| Body::from(j.to_string()))).unwrap();
    req.extensions_mut().insert(ConnectInfo(PeerInfo { addr: "127.0.0.1:40000".parse().unwrap(), tls: true }));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Json::Null))
}

fn rest_auth() -> Option<String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("300%3A0.NA/88.118.8:{SECRET}"));
    Some(format!("Basic {b64}"))
}

fn url(handle: &str) -> Json {
    json!([{"index": 1, "type": "URL", "data": {"format": "string", "value": format!("https://example.org/{handle}")}}])
}

async fn snms_create(d: &Doors, token: &str, handle: &str) -> Json {
    let item = json!({
        "handle": handle,
        "templateVersion": "1.0.0",
        "value": [{"index": 2000, "type": "model", "auth": "", "data": {"format": "string", "value": "PX-1"}}],
    });
    http(&d.snms, "POST", "/identityv2/data", Some(format!("Bearer {token}")), Some(item)).await.1
}

/// CREATE_HANDLE over the Handle protocol as the TCP door runs it: the
/// request, the server's challenge, the HS_SECKEY answer (each on a new
/// connection state, as a client on new connections); the final RC.
fn handle_create(engine: &Engine, handle: &str) -> u32 {
    let ctx = Ctx { transport: Transport::Tcp, peer: "127.0.0.1:9".parse().unwrap(), now: crate::unix_now() };
    let msg = |op, body, id, session| {
        let mut envelope = Envelope::request(ProtocolVersion::new(2, 11), id);
        envelope.session_id = session;
        Message { envelope, header: Header::request(op, OpFlags::NONE, 0x6b00_0000), body, credential: None }
    };
    let values = vec![Value::new(1, "URL", "https://example.org/h")];
    let req = msg(OpCode::CREATE_HANDLE, HBody::CreateHandle(HandleValues { handle: handle.into(), values }), 7, 0);
    let mut out = Vec::new();
    engine.handle_conn(&ctx, &mut ConnState::default(), &req.encode(), &mut out);
    let challenge = Message::decode(&out).unwrap();
    let HBody::Challenge(c) = &challenge.body else { panic!("not a challenge: {challenge:?}") };
    let mut signed = c.nonce.clone();
    signed.extend_from_slice(c.digest.as_bytes());
    let mac = seckey::mac(MacAlg::HmacSha256, SECRET.as_bytes(), &signed, None).unwrap();
    let answer = HBody::ChallengeAnswer(ChallengeAnswer {
        auth_type: b"HS_SECKEY".to_vec(),
        identity_handle: b"0.NA/88.118.8".to_vec(),
        identity_index: 300,
        signed_response: seckey::encode_answer(MacAlg::HmacSha256, &mac, None),
    });
    let answer = msg(OpCode::RESPONSE_TO_CHALLENGE, answer, 8, challenge.envelope.session_id);
    let mut out = Vec::new();
    engine.handle_conn(&ctx, &mut ConnState::default(), &answer.encode(), &mut out).rc
}

fn audit(store: &dyn Store) -> Vec<AuditEntry> {
    store.read_audit(0, 10_000).unwrap()
}

fn has(entries: &[AuditEntry], actor: &str, action: &str, target: &str, outcome: &str, origin: &str) -> bool {
    entries.iter().any(|e| {
        e.actor == actor
            && e.action == action
            && e.target == target
            && e.outcome.starts_with(outcome)
            && e.detail.starts_with(origin)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_shares_one_quota_ledger_and_audits() {
    let d = doors();
    let v = http(&d.snms, "POST", "/identity/token", None, Some(json!({"username": "ent1", "password": "ent1-pass"})))
        .await
        .1;
    let token = v["data"]["token"].as_str().unwrap().to_owned();
    let count = || d.store.count_records(Some("88.118.8.1001")).unwrap();
    assert_eq!(count(), 3, "the demo prefix's identifiers");

    // 4 of 5: SNMS (its count of the enterprise is now cached in the service).
    let v = snms_create(&d, &token, "88.118.8.1001/snms-1").await;
    assert_eq!(v["status"], 1, "{v}");
    // 5 of 5: Handle REST.
    let (st, v) =
        http(&d.rest, "PUT", "/api/handles/88.118.8.1001/rest-1?overwrite=false", rest_auth(), Some(url("r"))).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // Full: every door refuses the 6th, each in its protocol's terms.
    let v = snms_create(&d, &token, "88.118.8.1001/snms-2").await;
    assert_ne!(v["status"], 1, "SNMS must see the REST create: {v}");
    let (st, v) =
        http(&d.rest, "PUT", "/api/handles/88.118.8.1001/rest-2?overwrite=false", rest_auth(), Some(url("r"))).await;
    assert_eq!((st, v["responseCode"].as_u64()), (StatusCode::TOO_MANY_REQUESTS, Some(604)), "{v}");
    assert_eq!(handle_create(&d.engine, "88.118.8.1001/tcp-1"), 604);
    let put = json!({"values": [{"index": 1, "type": "URL", "data": "https://example.org/a"}]});
    let (st, v) = http(&d.admin, "PUT", "/admin/v1/records/88.118.8.1001/admin-1", None, Some(put.clone())).await;
    assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("quota")), "{v}");
    assert_eq!(count(), 5, "nothing written past the quota");

    // A delete through REST frees a slot for the Handle protocol, then the
    // ledger is full again for the admin API.
    let (st, v) = http(&d.rest, "DELETE", "/api/handles/88.118.8.1001/rest-1", rest_auth(), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(handle_create(&d.engine, "88.118.8.1001/tcp-1"), 1);
    let (st, _) = http(&d.admin, "PUT", "/admin/v1/records/88.118.8.1001/admin-1", None, Some(put)).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(count(), 5);

    // One audit entry per write at every door: actor, action, origin, outcome.
    let a = audit(&*d.store);
    let adm = "300:0.NA/88.118.8";
    assert!(has(&a, "ent1", "identifier.create", "88.118.8.1001/snms-1", "ok", ""), "{a:#?}");
    assert!(has(&a, "ent1", "identifier.create", "88.118.8.1001/snms-2", "", ""), "{a:#?}");
    assert!(has(&a, adm, "record.create", "88.118.8.1001/rest-1", "ok", "rest:127.0.0.1"), "{a:#?}");
    assert!(has(&a, adm, "record.create", "88.118.8.1001/rest-2", "quota:", "rest:127.0.0.1"), "{a:#?}");
    assert!(has(&a, adm, "record.delete", "88.118.8.1001/rest-1", "ok", "rest:"), "{a:#?}");
    assert!(has(&a, adm, "record.create", "88.118.8.1001/tcp-1", "quota:", "handle"), "{a:#?}");
    assert!(has(&a, adm, "record.create", "88.118.8.1001/tcp-1", "ok", "handle"), "{a:#?}");
    assert!(has(&a, "cli", "record.create", "88.118.8.1001/admin-1", "quota:", "cli"), "{a:#?}");
    // The change log has every write that happened (and none refused).
    let changes = d.store.changes_since(0, 100_000).unwrap();
    let keys: Vec<String> = changes.iter().map(|c| String::from_utf8_lossy(&c.key).into_owned()).collect();
    for written in ["88.118.8.1001/snms-1", "88.118.8.1001/rest-1", "88.118.8.1001/tcp-1"] {
        assert!(keys.iter().any(|k| k == written), "{written} not in the change log");
    }
    assert!(!keys.iter().any(|k| k.ends_with("/admin-1") || k.ends_with("/rest-2")), "{keys:?}");
}
