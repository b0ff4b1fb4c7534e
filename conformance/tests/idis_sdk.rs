//! The Teleinfo IDIS SDK (id-pointer-sdk 2.3, "NEW" in
//! `shared/spec/idis-extensions.md`) against the built binary, played as
//! the byte sequences that SDK writes: GET_SITE_INFO and OC 2001 login with
//! its own session id (10001, §2.4) on one kept-open TCP connection (§8.1),
//! 2001 without the credential-length field (§1.3), the 402 challenge
//! checked the way the SDK checks it (RD + SHA-256 digest of what it sent,
//! §2.3), the OC 200 answer signed with SM2/SM3 (ID = identity handle,
//! §4.1) or RSA/SHA-256 (§4.3), then create, resolve (with the §1.2
//! trailer) and delete on the same connection. The SDK treats RC 402 as
//! success, so every write is checked by resolving afterwards on a fresh,
//! anonymous connection. Requests are encoded by hand here; answers are
//! read with the codec.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use idnode_conformance::{Node, Setup, read_message};
use idnode_resolver::wire::{Body, Message};
use ring::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use sha2::Digest as _;
use sm2::dsa::signature::Signer as _;
use sm3::Digest as _;

/// §3.2 test key d = 0123456789abcdef ×4 and its public key in form A.
const SM2_D: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SM2_PEM: &str = "-----BEGIN PUBLIC KEY-----\r\n\
    MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAENECBuAgFVAo41x1yG9By2JV+rhWuuFLnIIarTFli\r\n\
    uJtbuGKLnZxO3TDzQaWiWIbAY8/0bcBMfmjy77O1iDDg8w==\r\n\
    -----END PUBLIC KEY-----\r\n";
/// Another SM2 private key (the "wrong key" of the failure case).
const OTHER_D: &str = "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const PREFIX: &str = "88.888.1024";
const SM2_USER: &str = "88.888.1024/sm2user";
const RSA_USER: &str = "88.888.1024/rsauser";
const OUTSIDER: &str = "88.888.1024/outsider";

/// The op flags NEW sends (§2.2, §1.2 example).
const FLAGS_LOGIN: u32 = 0x1080_0000; // REC | RD
const FLAGS_QUERY: u32 = 0x1900_0000; // REC | CA | PO
const EXPIRATION: u32 = 0x6b01_9987;

fn rsa_key() -> RsaKeyPair {
    let hex_text = include_str!("../../resolver/src/auth/testdata/rsa2048.pk8.hex");
    RsaKeyPair::from_pkcs8(&hex::decode(hex_text.trim()).unwrap()).unwrap()
}

/// DER TLV.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// The RSA public key as NEW writes it (§3.2 form A): SPKI DER, base64 in
/// 76-character lines joined by CRLF.
fn rsa_pem(kp: &RsaKeyPair) -> String {
    // rsaEncryption OID + NULL.
    let alg = tlv(0x30, &[&tlv(0x06, &hex::decode("2a864886f70d010101").unwrap())[..], &[0x05, 0x00]].concat());
    let mut bits = vec![0u8];
    bits.extend_from_slice(kp.public_key().as_ref());
    let spki = tlv(0x30, &[alg, tlv(0x03, &bits)].concat());
    let b64 = base64::engine::general_purpose::STANDARD.encode(spki);
    let lines: Vec<&str> = b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN PUBLIC KEY-----\r\n{}\r\n-----END PUBLIC KEY-----\r\n", lines.join("\r\n"))
}

/// HS_ADMIN data: all permissions for `index:handle`.
fn admin(handle: &str, index: u32) -> String {
    let mut b = vec![0x0f, 0xff];
    put_bytes(&mut b, handle.as_bytes());
    b.extend_from_slice(&index.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("idis-seed.jsonl");
    let v = |index: u32, ty: &str, data: serde_json::Value, perms: u8| serde_json::json!({"index": index, "type": ty, "data": data, "ttl": 86400, "permissions": perms, "timestamp": 0, "ttl_type": 0});
    let b64 = |s: String| serde_json::json!({"format": "base64", "value": s});
    let records = [
        serde_json::json!({"handle": format!("0.NA/{PREFIX}"), "values": [
            v(100, "HS_ADMIN", b64(admin(SM2_USER, 300)), 14),
            v(101, "HS_ADMIN", b64(admin(RSA_USER, 300)), 14),
        ]}),
        // Another prefix whose only administrator is the RSA user.
        serde_json::json!({"handle": "0.NA/88.888.2048", "values": [
            v(100, "HS_ADMIN", b64(admin(RSA_USER, 300)), 14),
        ]}),
        serde_json::json!({"handle": SM2_USER, "values": [v(300, "HS_PUBKEY", SM2_PEM.into(), 14)]}),
        serde_json::json!({"handle": RSA_USER, "values": [v(300, "HS_PUBKEY", rsa_pem(&rsa_key()).into(), 14)]}),
        serde_json::json!({"handle": OUTSIDER, "values": [v(300, "HS_PUBKEY", SM2_PEM.into(), 14)]}),
    ];
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&seed, text).unwrap();
    // The node homes 88.888: both 88.888.1024 and 88.888.2048 live here.
    let node =
        Node::start(&Setup { node_prefix: "88.888".into(), init: true, imports: vec![seed], ..Setup::default() })
            .expect("node starts");
    drop(dir);
    node
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

/// One NEW-SDK connection: its invented session id, its request counter.
struct Sdk {
    stream: TcpStream,
    session: i32,
    next_id: i32,
}

/// What the SDK keeps of a request: the bytes and its header+body.
struct Sent {
    bytes: Vec<u8>,
    header_and_body: Vec<u8>,
    request_id: i32,
}

impl Sdk {
    fn connect(addr: SocketAddr, session: i32) -> Sdk {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        stream.set_nodelay(true).unwrap();
        Sdk { stream, session, next_id: 1 }
    }

    /// Envelope 2.10 suggesting 2.11 (§1.4), header, body, and the
    /// credential-length field unless `no_credential` (2001, §1.3).
    fn encode(&mut self, op: u32, flags: u32, body: &[u8], session: i32, no_credential: bool) -> Sent {
        let request_id = self.next_id;
        self.next_id += 1;
        let mut hb = Vec::new();
        hb.extend_from_slice(&op.to_be_bytes());
        hb.extend_from_slice(&0u32.to_be_bytes());
        hb.extend_from_slice(&flags.to_be_bytes());
        hb.extend_from_slice(&[0xff, 0xff, 0, 0]);
        hb.extend_from_slice(&EXPIRATION.to_be_bytes());
        hb.extend_from_slice(&(body.len() as u32).to_be_bytes());
        hb.extend_from_slice(body);
        let len = hb.len() + if no_credential { 0 } else { 4 };
        let mut bytes = vec![0x02, 0x0a, 0x02, 0x0b];
        bytes.extend_from_slice(&session.to_be_bytes());
        bytes.extend_from_slice(&request_id.to_be_bytes());
        bytes.extend_from_slice(&0u32.to_be_bytes());
        bytes.extend_from_slice(&(len as u32).to_be_bytes());
        bytes.extend_from_slice(&hb);
        if !no_credential {
            bytes.extend_from_slice(&[0; 4]);
        }
        Sent { bytes, header_and_body: hb, request_id }
    }

    fn exchange(&mut self, sent: &Sent) -> Message {
        use std::io::Write;
        self.stream.write_all(&sent.bytes).unwrap();
        let answer = read_message(&mut self.stream).expect("an answer on the kept-open connection");
        let m = Message::decode(&answer).expect("a decodable answer");
        assert_eq!(m.envelope.request_id, sent.request_id, "answers carry the request id");
        assert_eq!(m.envelope.flags & 0x20, 0, "never TC on TCP (§1.5)");
        m
    }

    fn send(&mut self, op: u32, flags: u32, body: &[u8]) -> Message {
        let session = self.session;
        let sent = self.encode(op, flags, body, session, false);
        self.exchange(&sent)
    }

    /// GET_SITE_INFO then OC 2001 (§2.3); returns the 402 and what was sent.
    fn login_challenge(&mut self, user: &str) -> (Message, Sent) {
        let mut body = Vec::new();
        put_bytes(&mut body, b"/");
        let site = self.send(2, FLAGS_QUERY, &body);
        assert_eq!(site.header.op_code.0, 2);
        let mut body = Vec::new();
        put_bytes(&mut body, user.as_bytes());
        body.extend_from_slice(&300u32.to_be_bytes());
        let session = self.session;
        let sent = self.encode(2001, FLAGS_LOGIN, &body, session, true);
        let m = self.exchange(&sent);
        (m, sent)
    }

    /// The SDK's checks of the 402 (§2.3): op 2001, RD set, digest type 3
    /// over the header+body it sent; returns (S, nonce, digest).
    fn check_challenge(m: &Message, sent: &Sent) -> (i32, Vec<u8>, Vec<u8>) {
        assert_eq!((m.header.op_code.0, m.header.response_code.0), (2001, 402), "{m:?}");
        assert_ne!(m.header.op_flags.0 & 0x0080_0000, 0, "RD set on the 402");
        let Body::Challenge(c) = &m.body else { panic!("not a challenge body: {m:?}") };
        assert_eq!(c.digest.alg().type_byte(), 3, "SHA-256 digest type");
        assert_eq!(c.digest.as_bytes(), sha2::Sha256::digest(&sent.header_and_body).as_slice());
        assert_eq!(c.nonce.len(), 16);
        (m.envelope.session_id, c.nonce.clone(), c.digest.as_bytes().to_vec())
    }

    /// OC 200 with session S, flags REC|RD, `signedResponse` =
    /// `bytes alg` + `bytes signature` (§2.3, §2.6).
    fn answer(&mut self, s: i32, user: &str, alg: &[u8], sig: &[u8]) -> Message {
        let mut signed = Vec::new();
        put_bytes(&mut signed, alg);
        put_bytes(&mut signed, sig);
        let mut body = Vec::new();
        put_bytes(&mut body, b"HS_PUBKEY");
        put_bytes(&mut body, user.as_bytes());
        body.extend_from_slice(&300u32.to_be_bytes());
        put_bytes(&mut body, &signed);
        let sent = self.encode(200, FLAGS_LOGIN, &body, s, false);
        let m = self.exchange(&sent);
        assert_eq!(m.header.op_code.0, 2001, "the reply to the answer carries op 2001 (§2.3)");
        m
    }

    fn login_sm2(&mut self, user: &str, d: &str) -> Message {
        let (m, sent) = self.login_challenge(user);
        let (s, nonce, digest) = Self::check_challenge(&m, &sent);
        // §4.1: M = SM3(nonce ‖ digest), SM2 with ID = the handle, DER.
        let msg = sm3::Sm3::digest([&nonce[..], &digest[..]].concat());
        let sk = sm2::dsa::SigningKey::from_slice(user, &hex::decode(d).unwrap()).unwrap();
        let sig: sm2::dsa::Signature = sk.sign(&msg);
        self.answer(s, user, b"SM3", &sig.to_der().to_vec())
    }

    fn login_rsa(&mut self, user: &str) -> Message {
        let (m, sent) = self.login_challenge(user);
        let (s, nonce, digest) = Self::check_challenge(&m, &sent);
        let kp = rsa_key();
        let mut sig = vec![0; kp.public().modulus_len()];
        kp.sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), &[&nonce[..], &digest[..]].concat(), &mut sig)
            .unwrap();
        self.answer(s, user, b"SHA-256", &sig)
    }

    /// OC 100 with one URL value (index 1).
    fn create(&mut self, handle: &str, url: &str) -> Message {
        let mut body = Vec::new();
        put_bytes(&mut body, handle.as_bytes());
        body.extend_from_slice(&1u32.to_be_bytes()); // one value
        body.extend_from_slice(&1u32.to_be_bytes()); // index
        body.extend_from_slice(&0u32.to_be_bytes()); // timestamp
        body.push(0); // ttl type
        body.extend_from_slice(&86400u32.to_be_bytes());
        body.push(0x0e); // admin read/write, public read
        put_bytes(&mut body, b"URL");
        put_bytes(&mut body, url.as_bytes());
        body.extend_from_slice(&0u32.to_be_bytes()); // no references
        self.send(100, 0x1000_0000, &body)
    }

    fn delete(&mut self, handle: &str) -> Message {
        let mut body = Vec::new();
        put_bytes(&mut body, handle.as_bytes());
        self.send(101, 0x1000_0000, &body)
    }

    /// OC 1 with the §1.2 trailer (empty token).
    fn resolve(&mut self, handle: &str) -> Message {
        let mut body = Vec::new();
        put_bytes(&mut body, handle.as_bytes());
        body.extend_from_slice(&[0; 12]); // no indexes, no types, empty token
        self.send(1, FLAGS_QUERY, &body)
    }
}

/// The URL of `handle` as stored, read on a new anonymous connection (not
/// the SDK's: its "success" proves nothing); `None` when not found.
fn stored_url(addr: SocketAddr, handle: &str) -> Option<Vec<u8>> {
    let m = Sdk::connect(addr, 0).resolve(handle);
    match (m.header.response_code.0, m.body) {
        (1, Body::ResolutionResponse(r)) => {
            Some(r.values.into_iter().find(|v| v.value_type == b"URL").expect("URL value").data)
        }
        (100, _) => None,
        (rc, body) => panic!("unexpected answer {rc}: {body:?}"),
    }
}

fn rc(m: &Message) -> u32 {
    m.header.response_code.0
}

#[test]
fn sm2_and_rsa_logins_then_create_resolve_delete_on_the_same_connection() {
    let node = node();
    let addr = node.handle_tcp;
    for (user, session, handle) in
        [(SM2_USER, 10_001, "88.888.1024/sdk-sm2-1"), (RSA_USER, 10_002, "88.888.1024/sdk-rsa-1")]
    {
        let mut sdk = Sdk::connect(addr, session);
        let done = if user == SM2_USER { sdk.login_sm2(user, SM2_D) } else { sdk.login_rsa(user) };
        assert_eq!(rc(&done), 1, "{user}: {done:?}");

        // Writes on the same connection, with the SDK's own session id:
        // no second challenge (§2.4).
        let url = format!("https://example.org/{handle}");
        let created = sdk.create(handle, &url);
        assert_eq!((created.header.op_code.0, rc(&created)), (100, 1), "{user}: {created:?}");
        assert_eq!(created.envelope.session_id, session);
        assert_eq!(stored_url(addr, handle).as_deref(), Some(url.as_bytes()), "{user}: stored");

        let resolved = sdk.resolve(handle);
        assert_eq!(rc(&resolved), 1);
        let Body::ResolutionResponse(r) = &resolved.body else { panic!("{resolved:?}") };
        assert_eq!(r.handle, handle.as_bytes());
        assert_eq!(r.values[0].data, url.as_bytes());

        // With a token in the trailer and RECU_AUTH (0x4) set, as
        // `resolveHandle(handle, types, indexes, authString)` sends it (§1.2),
        // over TCP and over UDP.
        let mut body = Vec::new();
        put_bytes(&mut body, handle.as_bytes());
        body.extend_from_slice(&[0; 8]);
        put_bytes(&mut body, b"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln");
        let with_token = sdk.send(1, FLAGS_QUERY | 0x4, &body);
        assert_eq!(rc(&with_token), 1, "{with_token:?}");
        let mut udp = Sdk::connect(addr, 0);
        let sent = udp.encode(1, FLAGS_QUERY | 0x4, &body, 0, false);
        let answers = idnode_conformance::udp_exchange(node.handle_udp, &[sent.bytes], Duration::from_secs(5))
            .unwrap()
            .expect("a UDP answer");
        assert_eq!(rc(&Message::decode(&answers[0]).unwrap()), 1);

        // Already exists: 101, decodable by both SDKs.
        assert_eq!(rc(&sdk.create(handle, &url)), 101);

        let deleted = sdk.delete(handle);
        assert_eq!((deleted.header.op_code.0, rc(&deleted)), (101, 1), "{user}: {deleted:?}");
        assert_eq!(stored_url(addr, handle), None, "{user}: deleted");
        assert_eq!(rc(&sdk.resolve(handle)), 100);

        // Many more requests on the same connection (§8.1).
        for i in 0..20 {
            let h = format!("{handle}-{i}");
            assert_eq!(rc(&sdk.create(&h, "https://example.org/n")), 1, "{user} create {i}");
        }
        assert!(stored_url(addr, &format!("{handle}-19")).is_some());
    }
}

#[test]
fn failed_logins_and_missing_permission_change_nothing() {
    let node = node();
    let addr = node.handle_tcp;

    // Wrong SM2 signature: 403 with op 2001; the connection stays usable but
    // not logged in: a create is challenged (402, which the SDK would take
    // for success) and nothing is stored.
    let mut sdk = Sdk::connect(addr, 10_001);
    let refused = sdk.login_sm2(SM2_USER, OTHER_D);
    assert_eq!(rc(&refused), 403, "{refused:?}");
    let Body::Error(e) = &refused.body else { panic!("error body: {refused:?}") };
    assert!(!e.message.is_empty());
    let h = "88.888.1024/sdk-wrong-sig";
    assert_eq!(rc(&sdk.create(h, "https://example.org/x")), 402);
    assert_eq!(stored_url(addr, h), None);

    // Unknown identity: 100 with op 2001, no challenge.
    let mut sdk = Sdk::connect(addr, 10_002);
    let (m, _) = sdk.login_challenge("88.888.1024/nobody");
    assert_eq!((m.header.op_code.0, rc(&m)), (2001, 100), "{m:?}");

    // A valid login of an identity that is nobody's administrator: 400
    // INVALID_ADMIN on the write, nothing stored.
    let mut sdk = Sdk::connect(addr, 10_003);
    assert_eq!(rc(&sdk.login_sm2(OUTSIDER, SM2_D)), 1);
    let h = "88.888.1024/sdk-outsider";
    let m = sdk.create(h, "https://example.org/x");
    assert_eq!((m.header.op_code.0, rc(&m)), (100, 400), "{m:?}");
    assert_eq!(stored_url(addr, h), None);

    // The SM2 user logged in, writing under a prefix whose HS_ADMIN lists
    // only the RSA user: 400, nothing stored; its own prefix still works.
    let mut sdk = Sdk::connect(addr, 10_004);
    assert_eq!(rc(&sdk.login_sm2(SM2_USER, SM2_D)), 1);
    let m = sdk.create("88.888.2048/x", "https://example.org/x");
    assert_eq!(rc(&m), 400, "{m:?}");
    assert_eq!(stored_url(addr, "88.888.2048/x"), None);
    let h = "88.888.1024/sdk-after-refusal";
    assert_eq!(rc(&sdk.create(h, "https://example.org/ok")), 1);
    assert_eq!(stored_url(addr, h).as_deref(), Some(&b"https://example.org/ok"[..]));
}

/// An SM2 identity on the per-request path (the reference tools' sequence of
/// handle-protocol.md §11, and the older SDK path the issue names): create →
/// 402 → OC 200 signed with SM3/SM2 (§4.1: M = SM3(nonce ‖ digest), ID = the
/// identity handle) → success; the same for delete; both checked in the store.
#[test]
fn sm2_identity_on_the_per_request_challenge_path() {
    let node = node();
    let addr = node.handle_tcp;
    let handle = "88.888.1024/sdk-sm2-per-request";
    let url = "https://example.org/sdk-sm2-per-request";
    let sk = sm2::dsa::SigningKey::from_slice(SM2_USER, &hex::decode(SM2_D).unwrap()).unwrap();
    for op in ["create", "delete"] {
        let mut sdk = Sdk::connect(addr, 0);
        let challenge = if op == "create" { sdk.create(handle, url) } else { sdk.delete(handle) };
        assert_eq!(rc(&challenge), 402, "{op}: {challenge:?}");
        let Body::Challenge(c) = &challenge.body else { panic!("{op}: not a challenge: {challenge:?}") };
        let msg = sm3::Sm3::digest([&c.nonce[..], c.digest.as_bytes()].concat());
        let sig: sm2::dsa::Signature = sk.sign(&msg);
        let mut signed = Vec::new();
        put_bytes(&mut signed, b"SM3");
        put_bytes(&mut signed, &sig.to_der().to_vec());
        let mut body = Vec::new();
        put_bytes(&mut body, b"HS_PUBKEY");
        put_bytes(&mut body, SM2_USER.as_bytes());
        body.extend_from_slice(&300u32.to_be_bytes());
        put_bytes(&mut body, &signed);
        // A new connection, as the reference client answers (§11).
        let mut answerer = Sdk::connect(addr, 0);
        let sent = answerer.encode(200, 0, &body, challenge.envelope.session_id, false);
        let done = answerer.exchange(&sent);
        assert_eq!(rc(&done), 1, "{op}: {done:?}");
        let stored = stored_url(addr, handle);
        if op == "create" {
            assert_eq!(stored.as_deref(), Some(url.as_bytes()), "created and stored");
        } else {
            assert_eq!(stored, None, "deleted");
        }
    }
}
