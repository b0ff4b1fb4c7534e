//! Black-box tests of `Authorization: Handle` (handle-protocol.md §8
//! "Authentication"): the 401 challenge, HS_SECKEY proofs (SHA1, HMAC-SHA256,
//! PBKDF2-HMAC-SHA1), HS_PUBKEY RSA signatures, the sessions API, and
//! authorisation through an HS_VLIST admin group.

mod rest_util;

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idnode_conformance::idnode;
use rest_util::{Resp, TestNode, challenge_params, start};
use ring::{digest, hmac, pbkdf2};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::json;

const JSON: (&str, &str) = ("Content-Type", "application/json");
const ADMIN_ID: &str = "300%3A0.NA%2F88.118.8";

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

fn proof_header(session: &str, id: &str, ty: &str, alg: &str, cnonce: &[u8], sig: &[u8], extra: &str) -> String {
    format!(
        "Handle sessionId=\"{session}\", id=\"{id}\", type=\"{ty}\", cnonce=\"{}\", alg=\"{alg}\", signature=\"{}\"{extra}",
        b64(cnonce),
        b64(sig)
    )
}

fn sha1_sandwich(secret: &[u8], nonce: &[u8], cnonce: &[u8]) -> Vec<u8> {
    let mut c = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    for part in [secret, nonce, cnonce, secret] {
        c.update(part);
    }
    c.finish().as_ref().to_vec()
}

fn cat(a: &[u8], b: &[u8]) -> Vec<u8> {
    [a, b].concat()
}

/// The session id and nonce of a 401.
fn challenge(r: &Resp) -> (String, Vec<u8>) {
    assert_eq!(r.status, 401, "{}", r.body);
    let v = r.all("www-authenticate").into_iter().find(|v| v.starts_with("Handle")).expect("Handle challenge");
    let p = challenge_params(v);
    (p["sessionId"].clone(), STANDARD.decode(&p["nonce"]).unwrap())
}

fn put_value(n: &TestNode, auth: &str, path: &str) -> Resp {
    let body = json!([{"index": 1, "type": "URL", "data": "http://example.org/auth"}]).to_string();
    n.https().send("PUT", path, &[JSON, ("Authorization", auth)], Some(&body))
}

#[test]
fn secret_key_challenge_and_sessions() {
    let n = start("");
    let secret = n.secret.as_bytes().to_vec();
    // 1. Unauthenticated write: 401 with a Handle challenge.
    let body = json!([{"index": 1, "type": "URL", "data": "http://x"}]).to_string();
    let r = n.https().send("PUT", "/api/handles/88.118.8/c1?overwrite=false", &[JSON], Some(&body));
    assert_eq!(r.rc(), 402);
    let (sid, nonce) = challenge(&r);
    assert_eq!(nonce.len(), 16);
    // 2. Answer it inline: SHA1(secret ‖ nonce ‖ cnonce ‖ secret).
    let cnonce = b"client-nonce-123";
    let auth = proof_header(&sid, ADMIN_ID, "HS_SECKEY", "SHA1", cnonce, &sha1_sandwich(&secret, &nonce, cnonce), "");
    let r = put_value(&n, &auth, "/api/handles/88.118.8/c1?overwrite=false");
    assert_eq!((r.status, r.rc()), (201, 1), "{}", r.body);
    // 3. The session is now authenticated: sessionId alone suffices.
    let r = put_value(&n, &format!("Handle sessionId=\"{sid}\""), "/api/handles/88.118.8/c2?overwrite=false");
    assert_eq!(r.status, 201, "{}", r.body);
    // A wrong proof fails (401, rc 403) and does not write.
    let bad = proof_header(&sid, ADMIN_ID, "HS_SECKEY", "SHA1", cnonce, &[0u8; 20], "");
    let r = put_value(&n, &bad, "/api/handles/88.118.8/c3?overwrite=false");
    assert_eq!((r.status, r.rc()), (401, 403), "{}", r.body);
    assert_eq!(n.http().get("/api/handles/88.118.8/c3").status, 404);

    // Sessions API: POST -> 201 + nonce; PUT this with a proof; GET; DELETE.
    let r = n.https().send("POST", "/api/sessions", &[], None);
    assert_eq!((r.status, r.header("location")), (201, Some("/api/sessions/this")));
    let j = r.json();
    let sid = j["sessionId"].as_str().unwrap().to_owned();
    let nonce = STANDARD.decode(j["nonce"].as_str().unwrap()).unwrap();
    assert_eq!(j["authenticated"], false);
    // HMAC-SHA256 proof via PUT /api/sessions/this.
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &secret), &cat(&nonce, cnonce));
    let auth = proof_header(&sid, ADMIN_ID, "HS_SECKEY", "HMAC-SHA256", cnonce, mac.as_ref(), "");
    let r = n.https().send("PUT", "/api/sessions/this", &[("Authorization", &auth)], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.json()["authenticated"].as_bool(), r.json()["id"].as_str()), (Some(true), Some("300:0.NA/88.118.8")));
    let only_sid = format!("Handle sessionId=\"{sid}\"");
    let r = n.https().send("GET", "/api/sessions/this", &[("Authorization", &only_sid)], None);
    assert_eq!(r.json()["authenticated"], true);
    assert_eq!(put_value(&n, &only_sid, "/api/handles/88.118.8/c4?overwrite=false").status, 201);
    let r = n.https().send("DELETE", "/api/sessions/this", &[("Authorization", &only_sid)], None);
    assert_eq!(r.status, 204);
    let r = put_value(&n, &only_sid, "/api/handles/88.118.8/c5?overwrite=false");
    assert_eq!((r.status, r.rc()), (401, 402), "{}", r.body);
    assert_eq!(n.https().send("GET", "/api/sessions/this", &[("Authorization", &only_sid)], None).status, 403);

    // PBKDF2-HMAC-SHA1 with salt/iterations/length parameters, via GET this.
    let j = n.https().send("POST", "/api/sessions", &[], None).json();
    let sid = j["sessionId"].as_str().unwrap().to_owned();
    let nonce = STANDARD.decode(j["nonce"].as_str().unwrap()).unwrap();
    let salt = b"0123456789abcdef";
    let mut key = [0u8; 20];
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA1, NonZeroU32::new(10_000).unwrap(), salt, &secret, &mut key);
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key), &cat(&nonce, cnonce));
    let extra = format!(", salt=\"{}\", iterations=\"10000\", length=\"160\"", b64(salt));
    let auth = proof_header(&sid, ADMIN_ID, "HS_SECKEY", "PBKDF2-HMAC-SHA1", cnonce, mac.as_ref(), &extra);
    let r = n.https().send("GET", "/api/sessions/this", &[("Authorization", &auth)], None);
    assert_eq!((r.status, r.json()["authenticated"].as_bool()), (200, Some(true)), "{}", r.body);
    // Sessions need HTTPS; only POST on /api/sessions.
    assert_eq!(n.http().send("POST", "/api/sessions", &[], None).status, 403);
    assert_eq!(n.https().get("/api/sessions").status, 405);
    let r = n.https().send("POST", "/api/sessions", &[("Authorization", &format!("Handle sessionId=\"{sid}\""))], None);
    assert_eq!(r.status, 400);
}

#[test]
fn public_key_proof_and_admin_group() {
    let n = start("");
    let basic = n.basic();
    // A key pair for a second identity, 300:88.118.8/keyholder.
    let key_path = n.data.join("keyholder.pem");
    let out = idnode(&n.node.config, &["keygen", "--out", key_path.to_str().unwrap()]).unwrap();
    let hex = out.lines().find_map(|l| l.strip_prefix("HS_PUBKEY hex:")).unwrap().trim().to_owned();
    let body = json!([{"index": 300, "type": "HS_PUBKEY", "data": {"format": "hex", "value": hex}}]).to_string();
    let r = n.https().send(
        "PUT",
        "/api/handles/88.118.8/keyholder?overwrite=false",
        &[JSON, ("Authorization", &basic)],
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let got = n.http().get("/api/handles/88.118.8/keyholder").json();
    assert_eq!(got["values"][0]["data"]["format"], "key");
    assert_eq!(got["values"][0]["data"]["value"]["kty"], "RSA");
    // Group 200 of the prefix handle lists the admin and the key holder; HS_ADMIN 101
    // gives the group handle rights (not LIST_HANDLES) on the prefix.
    let group = json!([
        {"index": 200, "type": "HS_VLIST", "data": {"format": "vlist", "value": [{"handle": "0.NA/88.118.8", "index": 300}, {"handle": "88.118.8/keyholder", "index": 300}]}},
        {"index": 101, "type": "HS_ADMIN", "data": {"format": "admin", "value": {"handle": "0.NA/88.118.8", "index": 200, "permissions": "011111110011"}}}
    ])
    .to_string();
    let r = n.https().send(
        "PUT",
        "/api/handles/0.NA/88.118.8?index=200&index=101&overwrite=false",
        &[JSON, ("Authorization", &basic)],
        Some(&group),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    // Challenge, then an RSA SHA-256 signature over nonce ‖ cnonce.
    let body = json!([{"index": 1, "type": "URL", "data": "http://pk"}]).to_string();
    let r = n.https().send("PUT", "/api/handles/88.118.8/pk1?overwrite=false", &[JSON], Some(&body));
    let (sid, nonce) = challenge(&r);
    let PrivateKeyDer::Pkcs8(der) = PrivateKeyDer::from_pem_file(&key_path).unwrap() else { panic!("PKCS#8 expected") };
    let kp = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let cnonce = b"pk-client-nonce!";
    let mut sig = vec![0u8; kp.public().modulus_len()];
    kp.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), &cat(&nonce, cnonce), &mut sig)
        .unwrap();
    let auth = proof_header(&sid, "300%3A88.118.8%2Fkeyholder", "HS_PUBKEY", "SHA256", cnonce, &sig, "");
    let r = n.https().send(
        "PUT",
        "/api/handles/88.118.8/pk1?overwrite=false",
        &[JSON, ("Authorization", &auth)],
        Some(&body),
    );
    assert_eq!((r.status, r.rc()), (201, 1), "{}", r.body);
    // Same session: allowed by the group for writes, not for listing (bit 11 off).
    let only_sid = format!("Handle sessionId=\"{sid}\"");
    let r = n.https().send("DELETE", "/api/handles/88.118.8/pk1", &[("Authorization", &only_sid)], None);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = n.https().send("GET", "/api/handles?prefix=88.118.8", &[("Authorization", &only_sid)], None);
    assert_eq!((r.status, r.rc()), (403, 401), "{}", r.body);
    // A signature by another key does not verify.
    let r = n.https().send("POST", "/api/sessions", &[], None);
    let sid2 = r.json()["sessionId"].as_str().unwrap().to_owned();
    let auth = proof_header(&sid2, "300%3A88.118.8%2Fkeyholder", "HS_PUBKEY", "SHA256", cnonce, &sig, "");
    let r = n.https().send("PUT", "/api/sessions/this", &[("Authorization", &auth)], None);
    assert_eq!((r.status, r.json()["authenticated"].as_bool()), (401, Some(false)), "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("not verified"));
}
