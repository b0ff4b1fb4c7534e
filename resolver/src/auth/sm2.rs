//! SM2 keys and SM2 signatures of the IDIS SDKs (idis-extensions.md §3,
//! §4), verified with the RustCrypto `sm2` / `sm3` crates (no curve
//! arithmetic of our own). No I/O.
//!
//! What a challenge answer signed with an SM2 key looks like
//! (idis-extensions.md §4.1, NEW SDK with a BouncyCastle/hutool key):
//! 1. `data = nonce ‖ requestDigest` — the 16-byte nonce and the digest
//!    bytes exactly as in the 402 (32 bytes: the digest type byte is always
//!    3 = SHA-256, "there is no SM3 request-digest code", §4.2);
//! 2. `M = SM3(data)` (the SDK hashes once itself);
//! 3. an SM2 signature (GB/T 32918.2) over `M` with the user ID = **the
//!    UTF-8 bytes of the identity handle** of the answer (not the default
//!    `1234567812345678`): `Z_A = SM3(ENTL_A ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖
//!    y_A)`, `e = SM3(Z_A ‖ M)` (the `sm2` crate computes `Z_A` and `e`);
//! 4. the signature DER `SEQUENCE { INTEGER r, INTEGER s }`;
//! 5. `hashAlgId` = the string `"SM3"`;
//! 6. `signedResponse = bytes "SM3" ‖ bytes signature`.
//!
//! §4.3 lists a second combination (a key object named `SM2` in the NEW
//! SDK, JCA `SHA256withSM2`): `hashAlgId` `"SHA-256"`, SHA-256 as the hash
//! of both `Z` and `e`, default ID `1234567812345678`, message
//! `nonce ‖ digest` not pre-hashed. We verify that too, and, as §4.3
//! recommends ("be liberal"), a raw 64-byte `r‖s` signature and the
//! default ID with `"SM3"`.

use sha2::Digest as _;
use sm2::dsa::signature::Verifier as _;
use sm2::dsa::signature::hazmat::PrehashVerifier as _;
use sm2::dsa::{Signature, VerifyingKey};
use sm3::Digest as _;

use super::AuthError;
use super::idis_key::SM2_POINT_LEN;

/// The default SM2 user ID (GB/T 35276; hutool, BouncyCastle), used by
/// `SM2256` JWS signatures (§7.2) and the `SHA256withSM2` answer (§4.3).
pub const DEFAULT_USER_ID: &str = "1234567812345678";

/// GB/T 32918.5 curve parameters as 32-byte big-endian values, hashed into
/// `Z` by the SHA-256 variant (§4.3), which the `sm2` crate does not offer.
/// The SM3 path uses the crate's own `Z`; the unit test
/// `z_of_the_spec_vector` checks these constants against §4.6's `Z_A`.
const CURVE_A: [u8; 32] = hex32("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc");
const CURVE_B: [u8; 32] = hex32("28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93");
const CURVE_GX: [u8; 32] = hex32("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7");
const CURVE_GY: [u8; 32] = hex32("bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0");

const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lowercase hex digit"),
    }
}

/// How the answer says it signed (`hashAlgId`, §4.1, §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sm2Hash {
    /// `"SM3"`: SM2 with SM3 over `SM3(nonce ‖ digest)`, ID = identity handle.
    Sm3,
    /// `"SHA-256"`: SM2 with SHA-256 (Z and e) over `nonce ‖ digest`,
    /// default ID.
    Sha256,
}

impl Sm2Hash {
    pub fn parse(id: &[u8]) -> Result<Sm2Hash, AuthError> {
        let name = String::from_utf8_lossy(id).to_ascii_uppercase();
        match name.as_str() {
            "SM3" | "SM3WITHSM2" | "SM2SM3" | "SM2256" => Ok(Sm2Hash::Sm3),
            "SHA-256" | "SHA256" | "SHA256WITHSM2" => Ok(Sm2Hash::Sha256),
            _ => Err(AuthError::UnsupportedAlgorithm(name.chars().take(40).collect())),
        }
    }
}

/// An SM2 public key (a point on the curve).
#[derive(Debug, Clone)]
pub struct Sm2Key {
    point: [u8; SM2_POINT_LEN],
    key: sm2::PublicKey,
}

impl Sm2Key {
    /// From the uncompressed point `04‖x‖y`; fails if it is not on the curve.
    pub fn from_point(point: &[u8; SM2_POINT_LEN]) -> Result<Sm2Key, AuthError> {
        let key = sm2::PublicKey::from_sec1_bytes(point)
            .map_err(|_| AuthError::UnsupportedKey("SM2 point is not on the curve".into()))?;
        Ok(Sm2Key { point: *point, key })
    }

    /// The uncompressed point.
    pub fn point(&self) -> &[u8; SM2_POINT_LEN] {
        &self.point
    }

    fn verifying_key(&self, user_id: &[u8]) -> Option<VerifyingKey> {
        // ENTL is a 16-bit bit length: IDs up to 8191 bytes; UTF-8 because
        // the crate takes `&str` (identity handles are UTF-8).
        let id = std::str::from_utf8(user_id).ok()?;
        VerifyingKey::new(id, self.key).ok()
    }

    /// GB/T 32918.2 verification of `sig` over `message` with `user_id`
    /// (`Z` and `e` with SM3, inside the crate).
    pub fn verify(&self, user_id: &[u8], message: &[u8], sig: &[u8]) -> bool {
        let (Some(vk), Some(sig)) = (self.verifying_key(user_id), parse_signature(sig)) else { return false };
        vk.verify(message, &sig).is_ok()
    }

    /// SM2 with SHA-256 as the hash of `Z` and `e` (JCA `SHA256withSM2`, §4.3).
    pub fn verify_sha256(&self, user_id: &[u8], message: &[u8], sig: &[u8]) -> bool {
        let (Some(vk), Some(sig)) = (self.verifying_key(user_id), parse_signature(sig)) else { return false };
        let z = self.z::<sha2::Sha256>(user_id);
        let e = sha2::Sha256::new().chain_update(z).chain_update(message).finalize();
        vk.verify_prehash(&e, &sig).is_ok()
    }

    /// `Z = H(ENTL ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A)` with a 32-byte hash
    /// of the `digest` 0.10 family (SHA-256).
    fn z<H: sha2::Digest>(&self, user_id: &[u8]) -> Vec<u8> {
        let entl = ((user_id.len() * 8) as u16).to_be_bytes();
        let mut h = H::new();
        for part in
            [&entl[..], user_id, &CURVE_A, &CURVE_B, &CURVE_GX, &CURVE_GY, &self.point[1..33], &self.point[33..]]
        {
            h.update(part);
        }
        h.finalize().to_vec()
    }
}

/// A signature as DER `SEQUENCE { r, s }` (what hutool writes) or raw
/// 64-byte `r‖s`.
fn parse_signature(sig: &[u8]) -> Option<Signature> {
    if sig.len() == 64
        && let Ok(s) = Signature::from_slice(sig)
    {
        return Some(s);
    }
    Signature::from_der(sig).ok()
}

/// SM3 of the concatenation of `parts`.
pub fn sm3(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = sm3::Sm3::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Verifies the signature of a challenge answer (§4.1, §4.3) made with the
/// SM2 key `key` by `identity_handle`, over `nonce ‖ digest`.
pub fn verify_answer(
    key: &Sm2Key,
    identity_handle: &[u8],
    nonce: &[u8],
    digest: &[u8],
    hash_alg_id: &[u8],
    sig: &[u8],
) -> Result<bool, AuthError> {
    Ok(match Sm2Hash::parse(hash_alg_id)? {
        Sm2Hash::Sm3 => {
            // §4.1 step 2: M = SM3(nonce ‖ digest); step 3: ID = the handle.
            let m = sm3(&[nonce, digest]);
            key.verify(identity_handle, &m, sig) || key.verify(DEFAULT_USER_ID.as_bytes(), &m, sig)
        }
        Sm2Hash::Sha256 => {
            let mut data = Vec::with_capacity(nonce.len() + digest.len());
            data.extend_from_slice(nonce);
            data.extend_from_slice(digest);
            key.verify_sha256(DEFAULT_USER_ID.as_bytes(), &data, sig) || key.verify_sha256(identity_handle, &data, sig)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::idis_key::{self, IdisKey};
    use super::*;
    use base64::Engine as _;

    /// idis-extensions.md §3.2 / §4.6.
    const PEM: &str = "-----BEGIN PUBLIC KEY-----\r\n\
        MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAENECBuAgFVAo41x1yG9By2JV+rhWuuFLnIIarTFli\r\n\
        uJtbuGKLnZxO3TDzQaWiWIbAY8/0bcBMfmjy77O1iDDg8w==\r\n\
        -----END PUBLIC KEY-----\r\n";
    const NONCE: &str = "000102030405060708090a0b0c0d0e0f";
    const DIGEST: &str = "1d518fc1b60abb405c6b2868dbebc4940dd488b1bb1ef3a94e26c20248ef2ec5";
    const SIG: &str = concat!(
        "3045022100e68502654d48bfc0da0a7a32f025647773106abe53fd0b470fe569c21f88d74d",
        "0220739c926717c6c507e5e7009fd6e9a35e8be8e39708730b92909aec34bdeeaabf"
    );
    const USER: &[u8] = b"88.888.1024/sm2user";

    fn key() -> Sm2Key {
        let IdisKey::Sm2(p) = idis_key::parse(PEM.as_bytes()).unwrap() else { panic!("not SM2") };
        Sm2Key::from_point(&p).unwrap()
    }

    #[test]
    fn sm3_sanity() {
        // §4.6: SM3("abc").
        assert_eq!(hex::encode(sm3(&[b"abc"])), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    }

    /// §4.6: M, Z_A and e of the test vector (checks our curve constants
    /// and the ENTL/ID handling: ENTL = 0x0098 for the 19-byte handle).
    #[test]
    fn z_of_the_spec_vector() {
        let k = key();
        let (nonce, digest) = (hex::decode(NONCE).unwrap(), hex::decode(DIGEST).unwrap());
        let m = sm3(&[&nonce, &digest]);
        assert_eq!(hex::encode(m), "90c6b34fb39e23930fdcf598fd3015e85233bd40e3522b05a86e92902d122196");
        assert_eq!(((USER.len() * 8) as u16).to_be_bytes(), [0x00, 0x98]);
        let entl = ((USER.len() * 8) as u16).to_be_bytes();
        let z = sm3(&[&entl, USER, &CURVE_A, &CURVE_B, &CURVE_GX, &CURVE_GY, &k.point()[1..33], &k.point()[33..]]);
        assert_eq!(hex::encode(z), "95131eb6ff3081244977e827d4562cf51003d9e1549f57e08746ec287d4c45bb");
        let e = sm3(&[&z, &m]);
        assert_eq!(hex::encode(e), "ce2f5639c952b86833b85189d5fc332b84c7e0436d00e0204705521e837de515");
        // The crate's e (prehash path) agrees: the signature verifies over e.
        let vk = VerifyingKey::new(std::str::from_utf8(USER).unwrap(), k.key).unwrap();
        let sig = Signature::from_der(&hex::decode(SIG).unwrap()).unwrap();
        assert!(vk.verify_prehash(&e, &sig).is_ok());
    }

    /// §4.6: the captured signature verifies with ID = the identity handle,
    /// and not with the default ID ("checked" in the spec).
    #[test]
    fn spec_challenge_vector_verifies() {
        let k = key();
        let (nonce, digest, sig) =
            (hex::decode(NONCE).unwrap(), hex::decode(DIGEST).unwrap(), hex::decode(SIG).unwrap());
        assert!(verify_answer(&k, USER, &nonce, &digest, b"SM3", &sig).unwrap());
        let m = sm3(&[&nonce, &digest]);
        assert!(k.verify(USER, &m, &sig));
        assert!(!k.verify(DEFAULT_USER_ID.as_bytes(), &m, &sig));
        // Another identity, another nonce, a flipped bit: refused.
        assert!(!verify_answer(&k, b"88.888.1024/other", &nonce, &digest, b"SM3", &sig).unwrap());
        let mut n2 = nonce.clone();
        n2[0] ^= 1;
        assert!(!verify_answer(&k, USER, &n2, &digest, b"SM3", &sig).unwrap());
        let mut s2 = sig.clone();
        let last = s2.len() - 1;
        s2[last] ^= 1;
        assert!(!verify_answer(&k, USER, &nonce, &digest, b"SM3", &s2).unwrap());
        // Raw r‖s form of the same signature.
        let raw = Signature::from_der(&sig).unwrap().to_bytes();
        assert!(verify_answer(&k, USER, &nonce, &digest, b"sm3", &raw).unwrap());
        // Unknown algorithm names are errors, not "false".
        assert!(verify_answer(&k, USER, &nonce, &digest, b"MD5", &sig).is_err());
        // Garbage signatures are just "not verified".
        assert!(!verify_answer(&k, USER, &nonce, &digest, b"SM3", b"\x30\x02\x01\x01").unwrap());
    }

    /// §7.4: the SM2256 JWS (default ID, DER signature over the ASCII
    /// `header.payload`) verifies with the §3.2 key.
    #[test]
    fn spec_jws_vector_verifies() {
        let jws = concat!(
            "eyJhbGciOiJTTTIyNTYifQ.",
            "eyJpc3MiOiIzMDA6ODguODg4LjEwMjQvYWRtaW4iLCJzdWIiOiI4OC44ODguMTAyNC9zbTJ1c2VyIiwiaWF0IjoxNzAwMDAwMDAwfQ.",
            "MEUCIQCIetovmtGRn-wNrzp1DRQtiyhQVrZa-CEfokszaMFLowIgGd_toGGORqIETNbrszj9HbBJlwUFhkcPuqm3QM9B7ns"
        );
        let (signed, sig_b64) = jws.rsplit_once('.').unwrap();
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig_b64).unwrap();
        let k = key();
        assert!(k.verify(DEFAULT_USER_ID.as_bytes(), signed.as_bytes(), &sig));
        assert!(!k.verify(USER, signed.as_bytes(), &sig));
        assert!(!k.verify(DEFAULT_USER_ID.as_bytes(), &signed.as_bytes()[1..], &sig));
        // The JWK `d` member of §7.4 is the SPKI DER of the same key.
        let d = "MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAENECBuAgFVAo41x1yG9By2JV-rhWuuFLnIIarTFliuJtbuGKLnZxO3TDzQaWiWIbAY8_0bcBMfmjy77O1iDDg8w";
        let der = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(d).unwrap();
        assert_eq!(idis_key::parse_spki(&der).unwrap(), IdisKey::Sm2(*k.point()));
    }

    /// Round trip with the crate's signer: the §4.1 (SM3) and §4.3
    /// (SHA-256) answers both verify; the private key d = 0123…ef ×4 is the
    /// one of §3.2.
    #[test]
    fn signed_answers_of_both_variants() {
        use sm2::dsa::SigningKey;
        use sm2::dsa::signature::Signer as _;
        use sm2::dsa::signature::hazmat::PrehashSigner as _;
        let d = hex::decode("0123456789abcdef".repeat(4)).unwrap();
        let k = key();
        let sk = SigningKey::from_slice(std::str::from_utf8(USER).unwrap(), &d).unwrap();
        assert_eq!(&sk.verifying_key().to_sec1_bytes()[..], &k.point()[..]);
        let (nonce, digest) = (hex::decode(NONCE).unwrap(), hex::decode(DIGEST).unwrap());
        let m = sm3(&[&nonce, &digest]);
        let sig: Signature = sk.sign(&m);
        assert!(verify_answer(&k, USER, &nonce, &digest, b"SM3", &sig.to_der().to_vec()).unwrap());

        // SHA256withSM2: e = SHA256(Z_sha256(default ID) ‖ nonce ‖ digest).
        let sk = SigningKey::from_slice(DEFAULT_USER_ID, &d).unwrap();
        let mut data = nonce.clone();
        data.extend_from_slice(&digest);
        let z = k.z::<sha2::Sha256>(DEFAULT_USER_ID.as_bytes());
        let e = sha2::Sha256::new().chain_update(&z).chain_update(&data).finalize();
        let sig: Signature = sk.sign_prehash(&e).unwrap();
        assert!(verify_answer(&k, USER, &nonce, &digest, b"SHA-256", &sig.to_der().to_vec()).unwrap());
        // ... but not as an SM3 answer.
        assert!(!verify_answer(&k, USER, &nonce, &digest, b"SM3", &sig.to_der().to_vec()).unwrap());
    }
}
