//! The IDIS login against a real sled store, without sockets: the
//! byte-exact exchange of idis-extensions.md §2.6, then the logged-in
//! connection creating, reading and deleting as that identity.

use std::sync::Arc;

use idnode_registry::ident::CasePolicy;
use idnode_registry::model::{AdminRecord, Value, admin_perm, perm};
use idnode_registry::seed::init_store;
use idnode_registry::store::{SledStore, Store, StoreExt, WriteCtx};

use super::*;
use crate::engine::{ConnState, EngineConfig};
use crate::wire::{HandleBody, HandleValues};

/// §2.6 "expiration fixed at 0x6b019987": now + 12 h.
const NOW: u64 = 0x6b01_9987 - 12 * 3600;

const SM2_PEM: &str = "-----BEGIN PUBLIC KEY-----\r\n\
    MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAENECBuAgFVAo41x1yG9By2JV+rhWuuFLnIIarTFli\r\n\
    uJtbuGKLnZxO3TDzQaWiWIbAY8/0bcBMfmjy77O1iDDg8w==\r\n\
    -----END PUBLIC KEY-----\r\n";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

/// A store homing 88.888.1024 whose prefix handle makes
/// `300:88.888.1024/sm2user` (SM2 key of §3.2) an administrator.
fn engine() -> (tempfile::TempDir, Arc<dyn Store>, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open_path(dir.path()).unwrap());
    init_store(store.as_ref(), "88.888.1024", CasePolicy::CaseSensitive, 1).unwrap();
    let ctx = WriteCtx::new(1, "t");
    let admin = AdminRecord::new(admin_perm::ALL, "88.888.1024/sm2user", 300).to_bytes();
    store.create_record(b"0.NA/88.888.1024", vec![Value::new(100, "HS_ADMIN", admin)], false, &ctx).unwrap();
    store
        .create_record(
            b"88.888.1024/sm2user",
            vec![
                Value::new(300, "HS_PUBKEY", SM2_PEM),
                Value::new(301, "HS_SECKEY", "pw").with_permissions(perm::SECRET),
                Value::new(2, "EMAIL", "ops@example.org").with_permissions(perm::ADMIN_READ | perm::ADMIN_WRITE),
            ],
            false,
            &ctx,
        )
        .unwrap();
    let store: Arc<dyn Store> = store;
    let engine = Engine::new(store.clone(), EngineConfig::default());
    (dir, store, engine)
}

fn ctx() -> Ctx {
    Ctx { transport: Transport::Tcp, peer: "127.0.0.1:9".parse().unwrap(), now: NOW }
}

/// idis-extensions.md §2.6, message by message: the 2001 request (no
/// credential field), our 402 (S = 7, nonce 00…0f fixed here), the
/// captured SM2 answer (signature of §4.6) and our success reply.
#[test]
fn byte_exact_login_of_the_spec() {
    let (_dir, store, engine) = engine();
    let mut conn = ConnState::default();

    let site_info = h("020a020b 00002711 00000001 00000000 00000021
        00000002 00000000 19000000 ffff 00 00 6b019987 00000005 00000001 2f 00000000");
    let mut out = Vec::new();
    // No HS_SITE configured in this engine: any decodable answer (§9).
    let o = engine.handle_conn(&ctx(), &mut conn, &site_info, &mut out);
    assert_eq!(o.opcode, 2);
    Message::decode(&out).unwrap();

    let login = h("020a020b 00002711 00000002 00000000 00000033
        000007d1 00000000 10800000 ffff 00 00 6b019987 0000001b
        00000013 38382e3838382e313032342f736d3275736572 0000012c");
    assert_eq!(login.len(), 71);
    let frame = Frame::parse(&login).unwrap();
    assert_eq!(
        hex::encode(RequestDigest::compute(DigestAlg::Sha256, frame.header_and_body).as_bytes()),
        "1d518fc1b60abb405c6b2868dbebc4940dd488b1bb1ef3a94e26c20248ef2ec5"
    );
    let mut out = Vec::new();
    let nonce: [u8; 16] = std::array::from_fn(|i| i as u8);
    let identity = Identity::new(300, "88.888.1024/sm2user");
    engine.login_challenge(&mut conn.idis, &frame, identity, 7, nonce, NOW, &mut out);
    let challenge = h("020b020b 00000007 00000002 00000000 00000051
        000007d1 00000192 90800000 0001 00 00 6b019987 00000035
        03 1d518fc1b60abb405c6b2868dbebc4940dd488b1bb1ef3a94e26c20248ef2ec5
        00000010 000102030405060708090a0b0c0d0e0f 00000000");
    assert_eq!(challenge.len(), 101);
    assert_eq!(hex::encode(&out), hex::encode(&challenge));

    let answer = h("020a020b 00000007 00000003 00000000 0000009a
        000000c8 00000000 10800000 ffff 00 00 6b019987 0000007e
        00000009 48535f5055424b4559
        00000013 38382e3838382e313032342f736d3275736572
        0000012c
        00000052 00000003 534d33
        00000047 3045022100e68502654d48bfc0da0a7a32f025647773106abe53fd0b470fe569c21f88d74d
                 0220739c926717c6c507e5e7009fd6e9a35e8be8e39708730b92909aec34bdeeaabf
        00000000");
    assert_eq!(answer.len(), 174);
    let mut out = Vec::new();
    let o = engine.handle_conn(&ctx(), &mut conn, &answer, &mut out);
    let success = h("020b020b 00000007 00000003 00000000 0000003d
        000007d1 00000001 90800000 0001 00 00 6b019987 00000021
        03 1d518fc1b60abb405c6b2868dbebc4940dd488b1bb1ef3a94e26c20248ef2ec5 00000000");
    assert_eq!(success.len(), 81);
    assert_eq!(hex::encode(&out), hex::encode(&success));
    assert_eq!((o.opcode, o.rc), (2001, 1));
    assert_eq!(conn.idis.login(), Some(&Identity::new(300, "88.888.1024/sm2user")));

    // The same answer again: the challenge was used up. It is handled as
    // an ordinary OC 200 without a challenge (405), the login stays.
    let mut out = Vec::new();
    assert_eq!(engine.handle_conn(&ctx(), &mut conn, &answer, &mut out).rc, 405);
    assert!(conn.idis.login().is_some());

    // "Later requests on this connection: envelope sessionId 00002711,
    // authenticated": a create with the client's own session id.
    let create = Message {
        envelope: {
            let mut e = Envelope::request(ProtocolVersion::new(2, 10), 4);
            e.session_id = 0x2711;
            e
        },
        header: Header::request(OpCode::CREATE_HANDLE, OpFlags::REC | OpFlags::RD, 0x6b01_9987),
        body: Body::CreateHandle(HandleValues {
            handle: b"88.888.1024/item-1".to_vec(),
            values: vec![Value::new(1, "URL", "https://example.org/1")],
        }),
        credential: None,
    };
    let mut out = Vec::new();
    let o = engine.handle_conn(&ctx(), &mut conn, &create.encode(), &mut out);
    assert_eq!((o.opcode, o.rc), (100, 1), "{:?}", Message::decode(&out));
    let reply = Message::decode(&out).unwrap();
    assert_eq!(reply.envelope.session_id, 0x2711);
    assert_eq!(reply.envelope.request_id, 4);
    assert!(store.get_record(b"88.888.1024/item-1").unwrap().is_some());

    // A create on a connection that has not logged in: challenged.
    let mut other = create.clone();
    let Body::CreateHandle(b) = &mut other.body else { unreachable!() };
    b.handle = b"88.888.1024/item-2".to_vec();
    let mut fresh = ConnState::default();
    let mut out = Vec::new();
    assert_eq!(engine.handle_conn(&ctx(), &mut fresh, &other.encode(), &mut out).rc, 402);
    assert!(store.get_record(b"88.888.1024/item-2").unwrap().is_none());
}

fn login_request(handle: &str, index: u32, id: i32) -> Vec<u8> {
    Message {
        envelope: {
            let mut e = Envelope::request(ProtocolVersion::new(2, 10), id);
            e.session_id = 10_002;
            e
        },
        header: Header::request(OpCode::LOGIN_ID_SYSTEM, OpFlags::REC | OpFlags::RD, 0x6b01_9987),
        body: Body::LoginIdSystem(crate::wire::LoginRequest {
            identity_handle: handle.as_bytes().to_vec(),
            identity_index: index,
        }),
        credential: None,
    }
    .encode()
}

fn sm2_answer(challenge: &Message, handle: &str, d_hex: &str, id: i32) -> Vec<u8> {
    use sm2::dsa::SigningKey;
    use sm2::dsa::signature::Signer as _;
    let Body::Challenge(c) = &challenge.body else { panic!("not a challenge: {challenge:?}") };
    let m = crate::auth::sm2::sm3(&[&c.nonce, c.digest.as_bytes()]);
    let sk = SigningKey::from_slice(handle, &hex::decode(d_hex).unwrap()).unwrap();
    let sig: sm2::dsa::Signature = sk.sign(&m);
    let mut signed = Vec::new();
    signed.put_bytes(b"SM3");
    signed.put_bytes(&sig.to_der().to_vec());
    let mut env = Envelope::request(ProtocolVersion::new(2, 10), id);
    env.session_id = challenge.envelope.session_id;
    Message {
        envelope: env,
        header: Header::request(OpCode::RESPONSE_TO_CHALLENGE, OpFlags::REC | OpFlags::RD, 0x6b01_9987),
        body: Body::ChallengeAnswer(crate::wire::ChallengeAnswer {
            auth_type: b"HS_PUBKEY".to_vec(),
            identity_handle: handle.as_bytes().to_vec(),
            identity_index: 300,
            signed_response: signed,
        }),
        credential: None,
    }
    .encode()
}

fn send(engine: &Engine, conn: &mut ConnState, req: &[u8]) -> Message {
    let mut out = Vec::new();
    engine.handle_conn(&ctx(), conn, req, &mut out);
    Message::decode(&out).unwrap()
}

#[test]
fn failures_and_logged_in_reads() {
    let (_dir, store, engine) = engine();
    let user = "88.888.1024/sm2user";
    let good_d = "0123456789abcdef".repeat(4);
    let wrong_d = "1123456789abcdef".repeat(4);

    // Unknown identity handle: 100; unknown key index: 200; no challenge.
    let mut conn = ConnState::default();
    assert_eq!(send(&engine, &mut conn, &login_request("88.888.1024/nobody", 300, 1)).header.response_code.0, 100);
    assert_eq!(send(&engine, &mut conn, &login_request(user, 299, 2)).header.response_code.0, 200);

    // Wrong key: 403 with op code 2001 and the answer's request id.
    let ch = send(&engine, &mut conn, &login_request(user, 300, 3));
    assert_eq!((ch.header.op_code.0, ch.header.response_code.0), (2001, 402));
    let r = send(&engine, &mut conn, &sm2_answer(&ch, user, &wrong_d, 4));
    assert_eq!((r.header.op_code.0, r.header.response_code.0, r.envelope.request_id), (2001, 403, 4));
    assert!(conn.idis.login().is_none());

    // An admin-read value needs authentication: without login a 402...
    let read = Message {
        envelope: Envelope::request(ProtocolVersion::new(2, 10), 5),
        header: Header::request(OpCode::RESOLUTION, OpFlags::REC, 0x6b01_9987),
        body: Body::Resolution(crate::wire::ResolutionRequest {
            handle: user.as_bytes().to_vec(),
            indexes: vec![2],
            types: vec![],
            auth_token: Some(Vec::new()),
        }),
        credential: None,
    }
    .encode();
    assert_eq!(send(&engine, &mut conn, &read).header.response_code.0, 402);

    // Right key: logged in; the read answers directly.
    let ch = send(&engine, &mut conn, &login_request(user, 300, 6));
    let r = send(&engine, &mut conn, &sm2_answer(&ch, user, &good_d, 7));
    assert_eq!((r.header.op_code.0, r.header.response_code.0, r.envelope.request_id), (2001, 1, 7));
    let got = send(&engine, &mut conn, &read);
    let Body::ResolutionResponse(res) = got.body else { panic!("{got:?}") };
    assert_eq!(res.values.len(), 1);
    assert_eq!(res.values[0].data, b"ops@example.org");

    // A late answer: 405.
    let ch = send(&engine, &mut conn, &login_request(user, 300, 8));
    let late = sm2_answer(&ch, user, &good_d, 9);
    let mut out = Vec::new();
    let mut later = ctx();
    later.now += 61;
    assert_eq!(engine.handle_conn(&later, &mut conn, &late, &mut out).rc, 405);
    assert!(conn.idis.login().is_none(), "a failed re-login ends the login");

    // Writes under a prefix not homed here: 301 before anything else,
    // nothing stored (the conformance test covers a homed prefix whose
    // HS_ADMIN does not list the identity: 400).
    let ch = send(&engine, &mut conn, &login_request(user, 300, 10));
    assert_eq!(send(&engine, &mut conn, &sm2_answer(&ch, user, &good_d, 11)).header.response_code.0, 1);
    let create = Message {
        envelope: Envelope::request(ProtocolVersion::new(2, 10), 12),
        header: Header::request(OpCode::CREATE_HANDLE, OpFlags::REC, 0x6b01_9987),
        body: Body::CreateHandle(HandleValues {
            handle: b"88.999/x".to_vec(),
            values: vec![Value::new(1, "URL", "https://example.org/x")],
        }),
        credential: None,
    }
    .encode();
    let r = send(&engine, &mut conn, &create);
    assert_eq!(r.header.response_code.0, 301, "{r:?}");
    assert!(store.get_record(b"88.999/x").unwrap().is_none());

    // Delete as the logged-in identity.
    let del = |handle: &[u8], id| {
        Message {
            envelope: Envelope::request(ProtocolVersion::new(2, 10), id),
            header: Header::request(OpCode::DELETE_HANDLE, OpFlags::REC, 0x6b01_9987),
            body: Body::DeleteHandle(HandleBody { handle: handle.to_vec() }),
            credential: None,
        }
        .encode()
    };
    assert_eq!(send(&engine, &mut conn, &del(b"88.888.1024/missing", 13)).header.response_code.0, 100);

    // Login over UDP (no connection): RC 5.
    let mut out = Vec::new();
    let udp = Ctx { transport: Transport::Udp, ..ctx() };
    assert_eq!(engine.handle(&udp, &login_request(user, 300, 14), &mut out).rc, 5);
}

#[test]
fn password_login_of_the_old_sdk() {
    let (_dir, _store, engine) = engine();
    let body = |user: &str, pw: &str| {
        let mut b = Vec::new();
        b.put_bytes(user.as_bytes());
        b.put_u32(0);
        b.put_u32(1);
        b.put_bytes(pw.as_bytes());
        Message {
            // OLD: message 2.3, suggesting 2.10, flags 0 (§1.4, §2.5).
            envelope: {
                let mut e = Envelope::request(ProtocolVersion::COMPAT, 1);
                e.suggested = ProtocolVersion::new(2, 10);
                e
            },
            header: Header::request(OpCode::LOGIN, OpFlags::NONE, 0x6b01_9987),
            body: Body::Unknown(b),
            credential: None,
        }
        .encode()
    };
    let mut conn = ConnState::default();
    let r = send(&engine, &mut conn, &body("301:88.888.1024/sm2user", "wrong"));
    assert_eq!((r.header.op_code.0, r.header.response_code.0), (2000, 403));
    assert!(conn.idis.login().is_none());
    let r = send(&engine, &mut conn, &body("88.888.1024/nobody", "pw"));
    assert_eq!(r.header.response_code.0, 100);
    let r = send(&engine, &mut conn, &body("88.888.1024/sm2user", "pw"));
    assert_eq!(r.header.response_code.0, 1, "{r:?}");
    // `bytes handle` + `u32 valueCount`.
    let Body::Unknown(b) = r.body else { panic!("{r:?}") };
    let mut rd = Reader::new(&b);
    assert_eq!(rd.bytes("h").unwrap(), b"88.888.1024/sm2user");
    assert_eq!(rd.u32().unwrap(), 0);
    assert_eq!(conn.idis.login(), Some(&Identity::new(301, "88.888.1024/sm2user")));
}

/// An old-SDK resolution of a handle under a prefix not homed here: CNRI
/// would answer 301, which OLD cannot decode (§6.2): it gets 100.
#[test]
fn old_sdk_never_gets_301() {
    let (_dir, _store, engine) = engine();
    let ask = |version: ProtocolVersion, suggested: ProtocolVersion| {
        let mut env = Envelope::request(version, 1);
        env.suggested = suggested;
        let m = Message {
            envelope: env,
            header: Header::request(OpCode::RESOLUTION, OpFlags::NONE, 0x6b01_9987),
            body: Body::Resolution(crate::wire::ResolutionRequest {
                handle: b"77.1/elsewhere".to_vec(),
                indexes: vec![],
                types: vec![],
                auth_token: None,
            }),
            credential: None,
        };
        let mut out = Vec::new();
        let o = engine.handle(&ctx(), &m.encode(), &mut out);
        let a = Message::decode(&out).unwrap();
        assert_eq!(a.header.response_code.0, o.rc);
        o.rc
    };
    assert_eq!(ask(ProtocolVersion::COMPAT, ProtocolVersion::new(2, 10)), 100);
    assert_eq!(ask(ProtocolVersion::new(2, 10), ProtocolVersion::OURS), 301);
}

#[test]
fn response_codes_old_sdks_cannot_decode_are_mapped() {
    let mut old = Envelope::request(ProtocolVersion::COMPAT, 1);
    old.suggested = ProtocolVersion::new(2, 10);
    let new = Envelope::request(ProtocolVersion::new(2, 10), 1);
    for (rc, mapped) in [(301, 100), (604, 2), (603, 2), (500, 2), (6, 2), (403, 403), (1, 1), (402, 402)] {
        assert_eq!(decodable_rc(ResponseCode(rc), &old).0, mapped, "{rc}");
        assert_eq!(decodable_rc(ResponseCode(rc), &new).0, rc, "{rc}");
    }
}
