//! The admin protocol as the reference tools speak it (handle-protocol.md
//! §3, §6, §11), against the built binary on loopback:
//!
//! * the request side of `vectors/cnri-9.2.0-admin-batch.json` replayed in
//!   order (its crypto fields — the client's DH key, the session MACs, the
//!   challenge signature — redone with this test's keys, since they depend
//!   on the server's answers), every answer checked for opcode, response
//!   code, op flags, session and body structure against the capture;
//! * the §11 sequences with RSA, DSA and secret-key identities: session
//!   setup over UDP, create over TCP, 402, the OC 200 answer on a new
//!   connection, then add / modify / remove / delete inside the
//!   authenticated session; list handles streamed; home and unhome;
//! * the error cases, each with its own response code and no change to the
//!   store (checked by resolving afterwards);
//! * a certified resolution whose signature is checked with ring against
//!   the key in our GET_SITE_INFO answer (not with the node's signing code).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use idnode_conformance::{Node, Setup, crate_dir, read_message, udp_exchange};
use idnode_registry::model::wire::WriteExt;
use idnode_registry::model::{AdminRecord, PublicKey, admin_perm};
use idnode_resolver::auth::dh;
use idnode_resolver::auth::seckey::{self, MacAlg};
use idnode_resolver::auth::sign::{MacHash, session_mac};
use idnode_resolver::wire::{
    Body, ChallengeAnswer, Credential, CredentialParts, Envelope, HandleBody, HandleValues, Header, Message, OpCode,
    OpFlags, ProtocolVersion, RemoveValues, ResolutionRequest, SessionSetupRequest, credential_type, signed_input,
    udp_fragments,
};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::Digest as _;

const V2_11: ProtocolVersion = ProtocolVersion::new(2, 11);
const EXPIRES: u32 = 0x6b02_4041;

// ------------------------------------------------------------------ keys

/// The identities of `0.NA/TEST`: RSA at 300, DSA at 301, secret key at
/// 302, a limited secret-key admin at 303 (ADD_VALUE only), and an
/// outsider `0.NA/OTHER` (RSA at 300) administering nothing.
struct Keys {
    rsa: RsaPrivateKey,
    dsa: dsa::SigningKey,
    other: RsaPrivateKey,
    stranger: RsaPrivateKey,
}

const SECRET: &[u8] = b"s3cret-test-key";
const LIMITED_SECRET: &[u8] = b"limited-key";

fn java(b: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    if b.first().is_some_and(|&x| x & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(b);
    v
}

fn rsa_pub(k: &RsaPrivateKey) -> Vec<u8> {
    PublicKey::rsa(java(&k.e().to_bytes_be()), java(&k.n().to_bytes_be())).to_bytes()
}

fn dsa_pub(k: &dsa::SigningKey) -> Vec<u8> {
    let vk = k.verifying_key();
    let c = vk.components();
    PublicKey::Dsa {
        flags: 0,
        q: java(&c.q().to_bytes_be()),
        p: java(&c.p().to_bytes_be()),
        g: java(&c.g().to_bytes_be()),
        y: java(&vk.y().to_bytes_be()),
        extra: Vec::new(),
    }
    .to_bytes()
}

#[allow(deprecated, reason = "1024-bit DSA identities are what older reference tools made; test keys only")]
fn keys() -> Keys {
    let mut rng = rsa::rand_core::OsRng;
    let comps = dsa::Components::generate(&mut rng, dsa::KeySize::DSA_1024_160);
    Keys {
        rsa: RsaPrivateKey::new(&mut rng, 2048).unwrap(),
        dsa: dsa::SigningKey::generate(&mut rng, comps),
        other: RsaPrivateKey::new(&mut rng, 1024).unwrap(),
        stranger: RsaPrivateKey::new(&mut rng, 1024).unwrap(),
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn value_json(index: u32, ty: &str, data: &[u8], perms: u8) -> String {
    format!(
        r#"{{"index": {index}, "type": "{ty}", "data": {{"format": "base64", "value": "{}"}}, "ttl": 86400, "permissions": {perms}, "timestamp": 0, "ttl_type": 0}}"#,
        b64(data)
    )
}

/// The fixture data plus `0.NA/TEST` (with our keys and an HS_SITE, as
/// the reference server held it) and `0.NA/OTHER`.
fn seed_file(dir: &std::path::Path, k: &Keys) -> std::path::PathBuf {
    let site = std::fs::read(crate_dir().join("fixtures/cnri-site.bin")).unwrap();
    let test = [
        value_json(100, "HS_ADMIN", &AdminRecord::new(admin_perm::ALL, "0.NA/TEST", 300).to_bytes(), 14),
        value_json(101, "HS_ADMIN", &AdminRecord::new(admin_perm::ALL, "0.NA/TEST", 301).to_bytes(), 14),
        value_json(102, "HS_ADMIN", &AdminRecord::new(admin_perm::ALL, "0.NA/TEST", 302).to_bytes(), 14),
        value_json(103, "HS_ADMIN", &AdminRecord::new(admin_perm::ADD_VALUE, "0.NA/TEST", 303).to_bytes(), 14),
        value_json(1, "HS_SITE", &site, 14),
        value_json(300, "HS_PUBKEY", &rsa_pub(&k.rsa), 14),
        value_json(301, "HS_PUBKEY", &dsa_pub(&k.dsa), 14),
        value_json(302, "HS_SECKEY", SECRET, 12),
        value_json(303, "HS_SECKEY", LIMITED_SECRET, 12),
    ];
    let other = [value_json(300, "HS_PUBKEY", &rsa_pub(&k.other), 14)];
    let mut text = std::fs::read_to_string(crate_dir().join("fixtures/cnri-seed.jsonl")).unwrap();
    text.push_str(&format!("{{\"handle\": \"0.NA/TEST\", \"values\": [{}]}}\n", test.join(", ")));
    text.push_str(&format!("{{\"handle\": \"0.NA/OTHER\", \"values\": [{}]}}\n", other.join(", ")));
    let path = dir.join("admin-seed.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(k: &Keys, seed_dir: &std::path::Path) -> Node {
    Node::start(&Setup {
        node_prefix: "TEST".into(),
        init: true,
        node_toml: "case_policy = \"insensitive\"".into(),
        imports: vec![seed_file(seed_dir, k)],
        // A short challenge lifetime so the expiry case runs quickly; the
        // RSA identity is a server administrator (home / unhome).
        handle_toml: "admins = [\"300:0.NA/TEST\"]\nchallenge_lifetime_s = 2".into(),
        overwrite_imports: true,
        ..Setup::default()
    })
    .expect("node starts")
}

// --------------------------------------------------------------- messages

fn message(op: OpCode, flags: OpFlags, body: Body, request_id: i32, session: i32) -> Message {
    let mut envelope = Envelope::request(V2_11, request_id);
    envelope.session_id = session;
    Message { envelope, header: Header::request(op, flags, EXPIRES), body, credential: None }
}

/// Encodes `msg` with an HS_MAC credential made with the session key.
fn seal(msg: &mut Message, key: &[u8], counter: u32) -> Vec<u8> {
    msg.credential = None;
    let bytes = msg.encode();
    let body_len = u32::from_be_bytes(bytes[40..44].try_into().unwrap()) as usize;
    let hb = &bytes[20..44 + body_len];
    let env = Envelope::decode(&bytes).unwrap();
    let mut input = Vec::new();
    assert!(signed_input(&env, counter, hb, &mut input));
    let mac = session_mac(MacHash::HmacSha256, key, &input);
    msg.credential =
        Some(Credential::from_parts(CredentialParts::new(credential_type::HS_MAC, counter, b"HMAC-SHA256", &mac)));
    msg.encode()
}

/// One request on a new TCP connection; every answer message up to the one
/// without CN.
fn tcp(server: SocketAddr, request: &[u8]) -> Vec<Message> {
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    read_answers(&mut s)
}

fn read_answers(s: &mut TcpStream) -> Vec<Message> {
    let mut out = Vec::new();
    loop {
        let raw = read_message(s).expect("an answer");
        let m = Message::decode(&raw).unwrap_or_else(|e| panic!("undecodable answer {e}: {}", hex::encode(&raw)));
        let more = m.header.op_flags.contains(OpFlags::CN);
        out.push(m);
        if !more {
            return out;
        }
    }
}

fn tcp1(server: SocketAddr, request: &[u8]) -> Message {
    let mut all = tcp(server, request);
    assert_eq!(all.len(), 1);
    all.remove(0)
}

/// One request over UDP; the answer's datagrams and the reassembled message.
fn udp(server: SocketAddr, request: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let datagrams: Vec<Vec<u8>> = udp_fragments(request, true).map(|f| f.to_vec()).collect();
    let got = udp_exchange(server, &datagrams, Duration::from_secs(5)).unwrap().expect("a UDP answer");
    let mut whole = got[0][..20].to_vec();
    for d in &got {
        whole.extend_from_slice(&d[20..]);
    }
    (got, whole)
}

fn rc(m: &Message) -> u32 {
    m.header.response_code.0
}

fn resolve_rc(node: &Node, handle: &str) -> u32 {
    let req = message(
        OpCode::RESOLUTION,
        OpFlags::PO,
        Body::Resolution(ResolutionRequest {
            handle: handle.as_bytes().to_vec(),
            indexes: vec![],
            types: vec![],
            auth_token: None,
        }),
        77,
        0,
    );
    rc(&tcp1(node.handle_tcp, &req.encode()))
}

fn resolve_values(node: &Node, handle: &str) -> Vec<(u32, String)> {
    let req = message(
        OpCode::RESOLUTION,
        OpFlags::PO,
        Body::Resolution(ResolutionRequest {
            handle: handle.as_bytes().to_vec(),
            indexes: vec![],
            types: vec![],
            auth_token: None,
        }),
        78,
        0,
    );
    match tcp1(node.handle_tcp, &req.encode()).body {
        Body::ResolutionResponse(r) => {
            r.values.iter().map(|v| (v.index, String::from_utf8_lossy(&v.data).into_owned())).collect()
        }
        other => panic!("{handle}: {other:?}"),
    }
}

// ------------------------------------------------------------- identities

#[derive(Clone, Copy, Debug)]
enum Who {
    Rsa,
    Dsa,
    Secret,
    Limited,
    Other,
    /// Claims 300:0.NA/TEST but signs with a key that is not its own.
    Forger,
}

/// The OC 200 body answering `challenge` as `who`.
fn answer_body(k: &Keys, who: Who, challenge: &Message) -> Body {
    let Body::Challenge(c) = &challenge.body else { panic!("not a challenge: {challenge:?}") };
    let mut signed = c.nonce.clone();
    signed.extend_from_slice(c.digest.as_bytes());
    let rsa_answer = |key: &RsaPrivateKey| {
        let sig = key.sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &sha2::Sha256::digest(&signed)).unwrap();
        let mut a = Vec::new();
        a.put_bytes(b"SHA-256");
        a.put_bytes(&sig);
        a
    };
    let (auth, handle, index, signed_response) = match who {
        Who::Rsa => ("HS_PUBKEY", "0.NA/TEST", 300, rsa_answer(&k.rsa)),
        Who::Forger => ("HS_PUBKEY", "0.NA/TEST", 300, rsa_answer(&k.stranger)),
        Who::Other => ("HS_PUBKEY", "0.NA/OTHER", 300, rsa_answer(&k.other)),
        Who::Dsa => {
            use dsa::signature::{DigestSigner, SignatureEncoding};
            let sig: dsa::Signature = k.dsa.sign_digest(sha2::Sha256::new_with_prefix(&signed));
            let mut a = Vec::new();
            a.put_bytes(b"SHA-256");
            a.put_bytes(&sig.to_vec());
            ("HS_PUBKEY", "0.NA/TEST", 301, a)
        }
        Who::Secret | Who::Limited => {
            let (secret, index) = if matches!(who, Who::Secret) { (SECRET, 302) } else { (LIMITED_SECRET, 303) };
            let params = seckey::Pbkdf2Params { salt: vec![7; 16], iterations: 10_000, key_bits: 160 };
            let mac = seckey::mac(MacAlg::Pbkdf2HmacSha1, secret, &signed, Some(&params)).unwrap();
            ("HS_SECKEY", "0.NA/TEST", index, seckey::encode_answer(MacAlg::Pbkdf2HmacSha1, &mac, Some(&params)))
        }
    };
    Body::ChallengeAnswer(ChallengeAnswer {
        auth_type: auth.as_bytes().to_vec(),
        identity_handle: handle.as_bytes().to_vec(),
        identity_index: index,
        signed_response,
    })
}

/// A session set up over UDP the way the reference client does.
struct Session {
    id: i32,
    key: [u8; 32],
    counter: u32,
}

impl Session {
    fn next(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }
}

fn setup_body(y: &rsa::BigUint, identity_index: u32) -> Body {
    let (p, g) = dh::oakley_group2();
    let mut exchange_data = Vec::new();
    exchange_data.put_bytes(&dh::encode_public(y, &p, &g));
    exchange_data.extend_from_slice(&[0, 0]);
    Body::SessionSetup(SessionSetupRequest {
        key_exchange_mode: SessionSetupRequest::KEY_EXCHANGE_DH,
        timeout: 86_400,
        identity_handle: b"0.NA/TEST".to_vec(),
        identity_index,
        exchange_data,
    })
}

/// Reads the server's DH key out of a setup answer and derives the key.
fn session_key_from(answer: &Message, x: &rsa::BigUint) -> [u8; 32] {
    let Body::SessionSetupResponse(r) = &answer.body else { panic!("not a setup answer: {answer:?}") };
    assert_eq!(r.key_exchange_mode, 4);
    let mut rd = idnode_registry::model::wire::Reader::new(&r.exchange_data);
    let data = rd.bytes("data").unwrap();
    assert_eq!(&data[..4], &3u32.to_be_bytes(), "AES cipher code");
    dh::client_key(&data[4..], x).unwrap()
}

fn setup_session(node: &Node) -> Session {
    let (p, g) = dh::oakley_group2();
    let (x, y) = dh::key_pair(&p, &g);
    let mut req = message(OpCode::SESSION_SETUP, OpFlags(0x5980_0000), setup_body(&y, 300), 900, 0);
    req.envelope.version = ProtocolVersion::new(2, 10);
    let (_, whole) = udp(node.handle_udp, &req.encode());
    let answer = Message::decode(&whole).unwrap();
    assert_eq!(rc(&answer), 1, "{answer:?}");
    assert_ne!(answer.envelope.session_id, 0);
    Session { id: answer.envelope.session_id, key: session_key_from(&answer, &x), counter: 0 }
}

/// An admin request inside `s`: returns the final answer(s); answers a 402
/// as `who` on a new connection.
fn admin(node: &Node, k: &Keys, s: &mut Session, who: Who, op: OpCode, body: Body) -> Vec<Message> {
    let c = s.next();
    let mut req = message(op, OpFlags(0x1900_0000), body, 1000 + c as i32, s.id);
    let first = tcp(node.handle_tcp, &seal(&mut req, &s.key, c));
    if rc(&first[0]) != 402 {
        return first;
    }
    assert_eq!(first[0].envelope.session_id, s.id, "challenge under the session's id");
    let answer = message(
        OpCode::RESPONSE_TO_CHALLENGE,
        OpFlags(0x1900_0000),
        answer_body(k, who, &first[0]),
        2000 + c as i32,
        s.id,
    );
    tcp(node.handle_tcp, &answer.encode())
}

fn admin1(node: &Node, k: &Keys, s: &mut Session, who: Who, op: OpCode, body: Body) -> Message {
    let mut all = admin(node, k, s, who, op, body);
    assert_eq!(all.len(), 1);
    all.remove(0)
}

fn url(index: u32, u: &str) -> idnode_registry::model::Value {
    idnode_registry::model::Value::new(index, "URL", u.as_bytes().to_vec())
}

fn hv(handle: &str, values: Vec<idnode_registry::model::Value>) -> HandleValues {
    HandleValues { handle: handle.as_bytes().to_vec(), values }
}

// ------------------------------------------------------------------ tests

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[derive(serde::Deserialize)]
struct Batch {
    messages: Vec<Captured>,
}

#[derive(serde::Deserialize)]
struct Captured {
    direction: String,
    client_port: u16,
    opcode: Option<u32>,
    rc: Option<u32>,
    opflags: Option<u32>,
    hex: String,
}

/// Checks an answer against the captured one: opcode, rc, flags, body kind.
fn same_shape(what: &str, got: &Message, want: &Captured) {
    assert_eq!(got.header.op_code.0, want.opcode.unwrap(), "{what}: opcode");
    assert_eq!(rc(got), want.rc.unwrap(), "{what}: response code ({got:?})");
    assert_eq!(got.header.op_flags.bits(), want.opflags.unwrap(), "{what}: op flags");
    let captured = Message::decode(&unhex(&want.hex));
    if let Ok(c) = captured {
        assert_eq!(std::mem::discriminant(&got.body), std::mem::discriminant(&c.body), "{what}: body kind");
        if let (Some(g), Some(w)) = (got.credential.as_ref(), c.credential.as_ref()) {
            let (gp, wp) = (g.parts().unwrap(), w.parts().unwrap());
            assert_eq!(gp.credential_type, wp.credential_type, "{what}: credential type");
            assert_eq!(gp.signature().unwrap().0, wp.signature().unwrap().0, "{what}: hash algorithm");
        }
        assert_eq!(got.credential.is_some(), c.credential.is_some(), "{what}: signed or not");
    }
}

#[test]
fn reference_admin_batch_replayed() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let node = start(&k, tmp.path());
    let text = std::fs::read_to_string(crate_dir().join("vectors/cnri-9.2.0-admin-batch.json")).unwrap();
    let batch: Batch = serde_json::from_str(&text).unwrap();
    let m = &batch.messages;
    let (p, g) = dh::oakley_group2();
    let (x, y) = dh::key_pair(&p, &g);
    let mut session = Session { id: 0, key: [0; 32], counter: 0 };
    let mut last_challenge: Option<Message> = None;
    let mut i = 0;
    while i < m.len() {
        let c = &m[i];
        if c.direction != "client->server" {
            i += 1;
            continue;
        }
        // The answer: the next server message to the same client port.
        let want =
            m[i + 1..].iter().find(|a| a.direction == "server->client" && a.client_port == c.client_port).unwrap();
        let mut req = Message::decode(&unhex(&c.hex)).unwrap();
        let what = format!("batch message {i} (op {})", c.opcode.unwrap());
        match req.header.op_code {
            OpCode::RESOLUTION => {
                let (_, whole) = udp(node.handle_udp, &unhex(&c.hex));
                let got = Message::decode(&whole).unwrap();
                same_shape(&what, &got, want);
            }
            OpCode::SESSION_SETUP => {
                // Our DH key in place of the reference client's.
                let Body::SessionSetup(b) = &mut req.body else { unreachable!() };
                let Body::SessionSetup(ours) = setup_body(&y, b.identity_index) else { unreachable!() };
                b.exchange_data = ours.exchange_data;
                let (datagrams, whole) = udp(node.handle_udp, &req.encode());
                let got = Message::decode(&whole).unwrap();
                same_shape(&what, &got, want);
                assert_eq!(datagrams.len(), 2, "{what}: the answer comes as two datagrams, as captured");
                session = Session { id: got.envelope.session_id, key: session_key_from(&got, &x), counter: 0 };
                assert_ne!(session.id, 0);
            }
            OpCode::RESPONSE_TO_CHALLENGE => {
                let ch = last_challenge.take().expect("a challenge came first");
                let mut answer = message(
                    req.header.op_code,
                    req.header.op_flags,
                    answer_body(&k, Who::Rsa, &ch),
                    req.envelope.request_id,
                    session.id,
                );
                answer.header.site_info_serial = req.header.site_info_serial;
                let got = tcp1(node.handle_tcp, &answer.encode());
                same_shape(&what, &got, want);
                assert_eq!(got.envelope.session_id, session.id);
                let Body::CreateResponse(cr) = &got.body else { panic!("{got:?}") };
                assert_eq!(cr.handle.as_deref(), Some(&b"TEST/cap1"[..]));
            }
            _ => {
                // Session-bound admin requests: same counter, our session.
                let counter = req.credential.as_ref().and_then(|c| c.parts()).map_or(0, |p| p.session_counter);
                req.envelope.session_id = session.id;
                let got = tcp1(node.handle_tcp, &seal(&mut req, &session.key, counter));
                same_shape(&what, &got, want);
                assert_eq!(got.envelope.session_id, session.id);
                if rc(&got) == 402 {
                    last_challenge = Some(got);
                }
                // The store follows the batch.
                match req.header.op_code {
                    OpCode::ADD_VALUE => {
                        assert!(resolve_values(&node, "TEST/cap1").iter().any(|(i, _)| *i == 2));
                    }
                    OpCode::MODIFY_VALUE => {
                        let v = resolve_values(&node, "TEST/cap1");
                        assert!(v.contains(&(1, "http://example.org/cap1-v2".into())), "{v:?}");
                    }
                    OpCode::REMOVE_VALUE => {
                        assert!(!resolve_values(&node, "TEST/cap1").iter().any(|(i, _)| *i == 2));
                    }
                    _ => {}
                }
            }
        }
        i += 1;
    }
    assert_eq!(resolve_rc(&node, "TEST/cap1"), 100, "the batch ends with the delete");
}

#[test]
fn sequences_with_rsa_dsa_and_secret_key_identities() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let node = start(&k, tmp.path());
    for (who, name) in [(Who::Rsa, "rsa"), (Who::Dsa, "dsa"), (Who::Secret, "seckey")] {
        let h = format!("TEST/{name}-1");
        // Prefix lookup, as the client starts.
        assert_eq!(resolve_rc(&node, "0.NA/TEST"), 1);
        let mut s = setup_session(&node);
        let created = admin1(
            &node,
            &k,
            &mut s,
            who,
            OpCode::CREATE_HANDLE,
            Body::CreateHandle(hv(
                &h,
                vec![
                    idnode_registry::model::Value::new(
                        100,
                        "HS_ADMIN",
                        AdminRecord::new(admin_perm::ALL, "0.NA/TEST", 300).to_bytes(),
                    ),
                    url(1, "http://example.org/one"),
                ],
            )),
        );
        assert_eq!(rc(&created), 1, "{name}: create {created:?}");
        assert_eq!(created.header.op_code, OpCode::CREATE_HANDLE);
        // Later requests in the session: no challenge.
        let c = s.next();
        let mut add = message(
            OpCode::ADD_VALUE,
            OpFlags(0x1900_0000),
            Body::AddValue(hv(&h, vec![url(2, "http://example.org/two")])),
            50,
            s.id,
        );
        let got = tcp1(node.handle_tcp, &seal(&mut add, &s.key, c));
        assert_eq!(rc(&got), 1, "{name}: add without a new challenge {got:?}");
        assert_eq!(resolve_values(&node, &h).len(), 3);
        let got = admin1(
            &node,
            &k,
            &mut s,
            who,
            OpCode::MODIFY_VALUE,
            Body::ModifyValue(hv(&h, vec![url(1, "http://example.org/changed")])),
        );
        assert_eq!(rc(&got), 1);
        assert!(resolve_values(&node, &h).contains(&(1, "http://example.org/changed".into())));
        let got = admin1(
            &node,
            &k,
            &mut s,
            who,
            OpCode::REMOVE_VALUE,
            Body::RemoveValue(RemoveValues { handle: h.as_bytes().to_vec(), indexes: vec![2] }),
        );
        assert_eq!(rc(&got), 1);
        assert_eq!(resolve_values(&node, &h).len(), 2);
        let got = admin1(
            &node,
            &k,
            &mut s,
            who,
            OpCode::DELETE_HANDLE,
            Body::DeleteHandle(HandleBody { handle: h.as_bytes().to_vec() }),
        );
        assert_eq!(rc(&got), 1);
        assert_eq!(resolve_rc(&node, &h), 100);

        // Terminate (401, MAC'd); the session is gone afterwards.
        let c = s.next();
        let mut end = message(
            OpCode::SESSION_TERMINATE,
            OpFlags::NONE,
            Body::SessionTerminate(HandleBody { handle: b"/".to_vec() }),
            60,
            s.id,
        );
        assert_eq!(rc(&tcp1(node.handle_tcp, &seal(&mut end, &s.key, c))), 1);
        let c = s.next();
        let mut again = message(
            OpCode::SESSION_TERMINATE,
            OpFlags::NONE,
            Body::SessionTerminate(HandleBody { handle: b"/".to_vec() }),
            61,
            s.id,
        );
        assert_eq!(rc(&tcp1(node.handle_tcp, &seal(&mut again, &s.key, c))), 500);
        // A request naming the ended session is challenged afresh.
        let mut late = message(
            OpCode::DELETE_HANDLE,
            OpFlags::NONE,
            Body::DeleteHandle(HandleBody { handle: b"TEST/abc".to_vec() }),
            62,
            s.id,
        );
        let got = tcp1(node.handle_tcp, &seal(&mut late, &s.key, 99));
        assert_eq!(rc(&got), 402);
        assert_ne!(got.envelope.session_id, s.id);
    }
}

#[test]
fn list_handles_streams_and_home_unhome() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let node = start(&k, tmp.path());
    let mut s = setup_session(&node);
    // Authenticate the session with the first create, then create enough
    // handles on one kept-open connection for several list messages.
    let got = admin1(
        &node,
        &k,
        &mut s,
        Who::Rsa,
        OpCode::CREATE_HANDLE,
        Body::CreateHandle(hv("TEST/list-0", vec![url(1, "http://example.org/0")])),
    );
    assert_eq!(rc(&got), 1);
    let n = idnode_resolver::engine::LIST_CHUNK + 20;
    let mut conn = TcpStream::connect(node.handle_tcp).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    for i in 1..n {
        let c = s.next();
        let mut req = message(
            OpCode::CREATE_HANDLE,
            OpFlags(0x1900_0000),
            Body::CreateHandle(hv(&format!("TEST/list-{i}"), vec![url(1, "http://example.org/x")])),
            3000 + i as i32,
            s.id,
        );
        conn.write_all(&seal(&mut req, &s.key, c)).unwrap();
        let a = read_answers(&mut conn);
        assert_eq!(rc(&a[0]), 1, "create {i}: {:?}", a[0]);
    }
    let c = s.next();
    let mut list = message(
        OpCode::LIST_HANDLES,
        OpFlags(0x1900_0000),
        Body::ListHandles(HandleBody { handle: b"0.NA/TEST".to_vec() }),
        4000,
        s.id,
    );
    let answers = tcp(node.handle_tcp, &seal(&mut list, &s.key, c));
    assert!(answers.len() > 1, "streamed in several messages, got {}", answers.len());
    let mut names = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(rc(a), 1);
        assert_eq!(a.header.op_code, OpCode::LIST_HANDLES);
        assert_eq!(a.header.op_flags.contains(OpFlags::CN), i + 1 < answers.len(), "CN on all but the last");
        let Body::HandleList(l) = &a.body else { panic!("{a:?}") };
        names.extend(l.handles.iter().map(|h| String::from_utf8_lossy(h).into_owned()));
    }
    for i in 0..n {
        assert!(names.contains(&format!("TEST/LIST-{i}")), "TEST/LIST-{i} listed (stored, upper-cased names)");
    }
    assert!(names.contains(&"TEST/ABC".to_string()));
    // Over UDP a list is refused at once (stream operation).
    let c = s.next();
    let mut list = message(
        OpCode::LIST_HANDLES,
        OpFlags::NONE,
        Body::ListHandles(HandleBody { handle: b"0.NA/TEST".to_vec() }),
        4001,
        s.id,
    );
    let (_, whole) = udp(node.handle_udp, &seal(&mut list, &s.key, c));
    assert_eq!(rc(&Message::decode(&whole).unwrap()), 4);
    // Listing a prefix not homed here: 301 at once.
    let c = s.next();
    let mut list = message(
        OpCode::LIST_HANDLES,
        OpFlags::NONE,
        Body::ListHandles(HandleBody { handle: b"0.NA/99.9".to_vec() }),
        4002,
        s.id,
    );
    assert_eq!(rc(&tcp1(node.handle_tcp, &seal(&mut list, &s.key, c))), 301);

    // Home / list homed / unhome (server admin 300:0.NA/TEST from config).
    assert_eq!(resolve_rc(&node, "99.77/x"), 301);
    let got = admin1(
        &node,
        &k,
        &mut s,
        Who::Rsa,
        OpCode::HOME_NA,
        Body::HomeNa(HandleBody { handle: b"0.NA/99.77".to_vec() }),
    );
    assert_eq!(rc(&got), 1, "{got:?}");
    assert_eq!(resolve_rc(&node, "99.77/x"), 100, "homed now: answered here");
    let homed = admin(
        &node,
        &k,
        &mut s,
        Who::Rsa,
        OpCode::LIST_HOMED_NAS,
        Body::ListHomedNas(HandleBody { handle: b"/".to_vec() }),
    );
    let all: Vec<String> = homed
        .iter()
        .flat_map(|m| match &m.body {
            Body::HandleList(l) => {
                l.handles.iter().map(|h| String::from_utf8_lossy(h).into_owned()).collect::<Vec<String>>()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(all.contains(&"0.NA/99.77".to_string()), "{all:?}");
    let got = admin1(
        &node,
        &k,
        &mut s,
        Who::Rsa,
        OpCode::UNHOME_NA,
        Body::UnhomeNa(HandleBody { handle: b"0.NA/99.77".to_vec() }),
    );
    assert_eq!(rc(&got), 1);
    assert_eq!(resolve_rc(&node, "99.77/x"), 301);
}

/// A plain (sessionless) admin request answered as `who`: (challenge, final answer).
fn plain(node: &Node, k: &Keys, who: Who, op: OpCode, body: Body) -> (Message, Message) {
    let req = message(op, OpFlags::NONE, body, 5000, 0);
    let ch = tcp1(node.handle_tcp, &req.encode());
    assert_eq!(rc(&ch), 402, "{ch:?}");
    let answer =
        message(OpCode::RESPONSE_TO_CHALLENGE, OpFlags::NONE, answer_body(k, who, &ch), 5001, ch.envelope.session_id);
    let got = tcp1(node.handle_tcp, &answer.encode());
    (ch, got)
}

#[test]
fn refusals_each_have_their_code_and_change_nothing() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let node = start(&k, tmp.path());
    let create = |h: &str| Body::CreateHandle(hv(h, vec![url(1, "http://example.org/x")]));

    // Wrong signature: 403.
    let (_, got) = plain(&node, &k, Who::Forger, OpCode::CREATE_HANDLE, create("TEST/e1"));
    assert_eq!(rc(&got), 403);
    assert_eq!(resolve_rc(&node, "TEST/e1"), 100);
    // Wrong identity (authenticates, administers nothing here): 400.
    let (_, got) = plain(&node, &k, Who::Other, OpCode::CREATE_HANDLE, create("TEST/e2"));
    assert_eq!(rc(&got), 400);
    assert_eq!(resolve_rc(&node, "TEST/e2"), 100);
    // Missing permission (an admin with ADD_VALUE only deletes): 401.
    let (_, got) = plain(
        &node,
        &k,
        Who::Limited,
        OpCode::DELETE_HANDLE,
        Body::DeleteHandle(HandleBody { handle: b"TEST/abc".to_vec() }),
    );
    assert_eq!(rc(&got), 401);
    assert_eq!(resolve_rc(&node, "TEST/abc"), 1);
    // Replayed answer: 505, and nothing runs twice.
    let (ch, got) = plain(
        &node,
        &k,
        Who::Secret,
        OpCode::ADD_VALUE,
        Body::AddValue(hv("TEST/abc", vec![url(7, "http://example.org/seven")])),
    );
    assert_eq!(rc(&got), 1);
    let replay = message(
        OpCode::RESPONSE_TO_CHALLENGE,
        OpFlags::NONE,
        answer_body(&k, Who::Secret, &ch),
        5002,
        ch.envelope.session_id,
    );
    assert_eq!(rc(&tcp1(node.handle_tcp, &replay.encode())), 505);
    assert_eq!(resolve_values(&node, "TEST/abc").iter().filter(|(i, _)| *i == 7).count(), 1);
    // Expired challenge: 405 (lifetime 2 s in this node's config).
    let req = message(OpCode::CREATE_HANDLE, OpFlags::NONE, create("TEST/e3"), 5003, 0);
    let ch = tcp1(node.handle_tcp, &req.encode());
    assert_eq!(rc(&ch), 402);
    std::thread::sleep(Duration::from_secs(4));
    let late = message(
        OpCode::RESPONSE_TO_CHALLENGE,
        OpFlags::NONE,
        answer_body(&k, Who::Rsa, &ch),
        5004,
        ch.envelope.session_id,
    );
    assert_eq!(rc(&tcp1(node.handle_tcp, &late.encode())), 405);
    assert_eq!(resolve_rc(&node, "TEST/e3"), 100);
    // Refused before any challenge: prefix not homed (301), missing handle
    // (100), existing handle (101).
    let at_once =
        |body: Body, op: OpCode| rc(&tcp1(node.handle_tcp, &message(op, OpFlags::NONE, body, 5005, 0).encode()));
    assert_eq!(at_once(create("99.9/x"), OpCode::CREATE_HANDLE), 301);
    assert_eq!(at_once(Body::DeleteHandle(HandleBody { handle: b"TEST/none".to_vec() }), OpCode::DELETE_HANDLE), 100);
    assert_eq!(at_once(create("TEST/abc"), OpCode::CREATE_HANDLE), 101);
    // A session message with a bad MAC (502) or a reused counter (505).
    let mut s = setup_session(&node);
    let got = admin1(&node, &k, &mut s, Who::Rsa, OpCode::CREATE_HANDLE, create("TEST/e4"));
    assert_eq!(rc(&got), 1);
    let mut req = message(
        OpCode::DELETE_HANDLE,
        OpFlags::NONE,
        Body::DeleteHandle(HandleBody { handle: b"TEST/e4".to_vec() }),
        5006,
        s.id,
    );
    assert_eq!(rc(&tcp1(node.handle_tcp, &seal(&mut req, &[9; 32], 50))), 502);
    assert_eq!(rc(&tcp1(node.handle_tcp, &seal(&mut req, &s.key, 1))), 505, "counter 1 was used by the create");
    assert_eq!(resolve_rc(&node, "TEST/e4"), 1);
}

#[test]
fn certified_answers_verify_with_the_published_key() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let node = start(&k, tmp.path());
    // The key from our GET_SITE_INFO answer.
    let req =
        message(OpCode::GET_SITE_INFO, OpFlags::NONE, Body::GetSiteInfo(HandleBody { handle: b"/".to_vec() }), 1, 0);
    let (_, whole) = udp(node.handle_udp, &req.encode());
    let Body::SiteInfoResponse(si) = Message::decode(&whole).unwrap().body else { panic!() };
    let site = si.site().unwrap();
    assert_eq!((site.protocol_major, site.protocol_minor), (2, 11));
    for iface in &site.servers[0].interfaces {
        assert!(iface.protocol <= 1, "only UDP / TCP interfaces are published: {iface:?}");
    }
    let PublicKey::Rsa { exponent, modulus, .. } = PublicKey::from_bytes(&site.servers[0].public_key).unwrap() else {
        panic!("RSA server key expected")
    };
    let strip = |b: &[u8]| b.iter().skip_while(|&&x| x == 0).copied().collect::<Vec<u8>>();
    let key = ring::signature::RsaPublicKeyComponents { n: strip(&modulus), e: strip(&exponent) };

    for (version, alg, ring_alg) in [
        (V2_11, &b"SHA-256"[..], &ring::signature::RSA_PKCS1_2048_8192_SHA256),
        // Peers before 2.7 get SHA1withRSA over header + body (§6.2).
        (ProtocolVersion::new(2, 5), &b"SHA1"[..], &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY),
    ] {
        let mut req = message(
            OpCode::RESOLUTION,
            OpFlags::CT | OpFlags::PO,
            Body::Resolution(ResolutionRequest {
                handle: b"TEST/abc".to_vec(),
                indexes: vec![],
                types: vec![],
                auth_token: None,
            }),
            2,
            0,
        );
        req.envelope.version = version;
        req.envelope.suggested = version;
        let (_, raw) = udp(node.handle_udp, &req.encode());
        assert_eq!(u32::from_be_bytes(raw[24..28].try_into().unwrap()), 1, "resolution succeeded");
        // Independent check on the bytes: the §6.2 signed input, by hand.
        let body_len = u32::from_be_bytes(raw[40..44].try_into().unwrap()) as usize;
        let hb = &raw[20..44 + body_len];
        let cred_len = u32::from_be_bytes(raw[44 + body_len..48 + body_len].try_into().unwrap()) as usize;
        assert!(cred_len > 0, "{version}: a certified answer carries a credential");
        let cred = &raw[48 + body_len..48 + body_len + cred_len];
        let mut r = idnode_registry::model::wire::Reader::new(cred);
        r.take(4).unwrap();
        r.bytes("signer").unwrap();
        let counter = r.u32().unwrap();
        assert_eq!(r.bytes("type").unwrap(), b"HS_SIGNED");
        let mut section = idnode_registry::model::wire::Reader::new(r.bytes("section").unwrap());
        assert_eq!(section.bytes("alg").unwrap(), alg);
        let sig = section.bytes("sig").unwrap();
        let mut signed = Vec::new();
        if version >= ProtocolVersion::new(2, 7) {
            signed.extend_from_slice(&raw[0..2]);
            signed.push(raw[2] & 0x03);
            signed.push(raw[3]);
            signed.extend_from_slice(&raw[4..12]);
            signed.extend_from_slice(&counter.to_be_bytes());
        }
        signed.extend_from_slice(hb);
        key.verify(ring_alg, &signed, sig).expect("signature verifies with the HS_SITE key");
        let mut tampered = signed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(key.verify(ring_alg, &tampered, sig).is_err());
    }
}
