//! Fuzzing entry points for every authentication parser (used by the
//! `auth_keys` and `auth_answers` targets in `fuzz/` and replayed on stable
//! by `resolver/tests/fuzz_corpus.rs`). They feed arbitrary bytes to the
//! parsers and verifiers and **panic when an invariant breaks**; the code
//! under test itself never panics. No I/O.

use idnode_registry::model::PublicKey;
use idnode_registry::model::wire::Reader;

use super::idis_key::{self, IdisKey};
use super::{seckey, sm2, verify_pubkey_answer};
use crate::wire::{Body, Credential, Envelope, Header, Message, OpCode, OpFlags, ProtocolVersion};

/// The §2.6 / §4.6 exchange of idis-extensions.md: identity, nonce, digest
/// and the SM2 answer's `signedResponse`.
const USER: &[u8] = b"88.888.1024/sm2user";
const NONCE: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const DIGEST: &str = "1d518fc1b60abb405c6b2868dbebc4940dd488b1bb1ef3a94e26c20248ef2ec5";
const SM2_SIGNED: &str = concat!(
    "00000003534d33",
    "000000473045022100e68502654d48bfc0da0a7a32f025647773106abe53fd0b470fe569c21f88d74d",
    "0220739c926717c6c507e5e7009fd6e9a35e8be8e39708730b92909aec34bdeeaabf"
);
/// The public key (uncompressed point) that made [`SM2_SIGNED`].
const SM2_POINT: &str = concat!(
    "04344081b80805540a38d71d721bd072d8957eae15aeb852e72086ab4c5962b89b",
    "5bb8628b9d9c4edd30f341a5a25886c063cff46dc04c7e68f2efb3b58830e0f3"
);

fn unhex(s: &str) -> Vec<u8> {
    // Constants above are valid hex.
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0)).collect()
}

/// `data` as HS_PUBKEY / HS_SECKEY value data:
/// * the CNRI binary decoder round-trips what it accepts;
/// * the IDIS forms (PEM, `SM2_PUB_KEY`, `SM9_PUB_KEY`) classify without
///   panicking, and an SM2 point is accepted only if on the curve;
/// * the captured SM2 answer verifies with `data` as the key **only** when
///   `data` holds the key that made it; an RSA/SM2 answer never panics;
/// * `data` as a stored HS_SECKEY compares and MACs without panicking.
pub fn auth_keys(data: &[u8]) {
    if let Ok(k) = PublicKey::from_bytes(data) {
        assert_eq!(k.to_bytes(), data, "HS_PUBKEY round trip");
    }
    if idis_key::is_idis_form(data)
        && let Ok(IdisKey::Sm2(p)) = idis_key::parse(data)
    {
        let _ = sm2::Sm2Key::from_point(&p);
    }
    let digest = unhex(DIGEST);
    let signed = unhex(SM2_SIGNED);
    if let Ok(true) = verify_pubkey_answer(data, USER, &NONCE, &digest, &signed) {
        match idis_key::parse(data) {
            Ok(IdisKey::Sm2(p)) => assert_eq!(p.to_vec(), unhex(SM2_POINT), "a foreign key verified the answer"),
            other => panic!("answer verified with a non-SM2 key: {other:?}"),
        }
    }
    // An RSA-style answer against whatever key `data` is.
    let mut rsa = Vec::new();
    idnode_registry::model::wire::WriteExt::put_bytes(&mut rsa, b"SHA-256");
    idnode_registry::model::wire::WriteExt::put_bytes(&mut rsa, &[0x55; 256]);
    let _ = verify_pubkey_answer(data, USER, &NONCE, &digest, &rsa);

    // HS_SECKEY: `data` as the stored secret.
    let _ = seckey::secret_matches(data, b"s3cret");
    let mac = seckey::mac(seckey::MacAlg::HmacSha256, data, b"m", None).unwrap_or_default();
    let answer = seckey::encode_answer(seckey::MacAlg::HmacSha256, &mac, None);
    assert_eq!(seckey::verify_answer(data, b"m", b"", &answer).ok(), Some(true), "HMAC answer of the right secret");
}

/// `data` as what a client sends during authentication:
/// * a message credential section: parsed parts re-encode to `data`;
/// * an OC 200 (challenge answer) or OC 2001 (IDIS login) request body:
///   what decodes re-encodes to exactly `data`;
/// * an OC 2000 password-login body parses without panicking;
/// * a `signedResponse` checked against an SM2, an HS_SECKEY and a
///   PBKDF2 verifier never panics, and the SM2 one never accepts a
///   signature unless `data` is the captured answer (or the same signature
///   in another encoding).
pub fn auth_answers(data: &[u8]) {
    let c = Credential::from_raw(data.to_vec());
    if let Some(p) = c.parts() {
        assert_eq!(Credential::from_parts(p.clone()).raw(), data, "credential round trip");
        let _ = p.signature();
    }

    for op in [OpCode::RESPONSE_TO_CHALLENGE, OpCode::LOGIN_ID_SYSTEM] {
        let header = Header::request(op, OpFlags::REC | OpFlags::RD, 0);
        if let Ok(body) = Body::decode(&header, ProtocolVersion::OURS, data) {
            if let Body::ChallengeAnswer(a) = &body {
                let _ = a.pubkey_signature();
            }
            let m = Message { envelope: Envelope::request(ProtocolVersion::OURS, 1), header, body, credential: None };
            let bytes = m.encode();
            // Envelope 20 + header 24, then the body, then the 4-byte credential length.
            assert_eq!(&bytes[44..bytes.len() - 4], data, "{op:?} body round trip");
        }
    }
    let _ = crate::engine::parse_password_login(data);

    let digest = unhex(DIGEST);
    let mut r = Reader::new(data);
    if let (Ok(alg), Ok(sig)) = (r.bytes("alg"), r.bytes("sig")) {
        let mut p = [0u8; idis_key::SM2_POINT_LEN];
        p.copy_from_slice(&unhex(SM2_POINT));
        if let Ok(key) = sm2::Sm2Key::from_point(&p)
            && let Ok(true) = sm2::verify_answer(&key, USER, &NONCE, &digest, alg, sig)
        {
            let good = unhex(SM2_SIGNED);
            let mut g = Reader::new(&good);
            let (_, good_sig) = (g.bytes("alg").ok(), g.bytes("sig").ok().unwrap_or_default());
            assert!(sig == good_sig || sig.len() == 64, "a forged SM2 signature verified");
        }
    }
    let _ = seckey::verify_answer(b"s3cret", &NONCE, &digest, data);
}
