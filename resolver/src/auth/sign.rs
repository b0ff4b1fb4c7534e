//! Message credentials made or checked by this server (handle-protocol.md
//! §6.2): the server's public-key signature on certified answers
//! (`HS_SIGNED`, with the key HS_SITE publishes) and the session MAC
//! (`HS_MAC`, HMAC with a session key) on messages inside a session.
//!
//! RSA signing with SHA-256 uses ring (about four times faster than the
//! `rsa` crate's arithmetic; PKCS#1 v1.5 is deterministic, so both give the
//! same bytes); SHA-1, which ring cannot sign with, and keys ring refuses
//! (under 2048 bits) use the `rsa` crate. DSA signing and
//! verification use the RustCrypto `dsa` crate. Which hash a certified answer
//! uses follows the reference server: SHA-256 for peers ≥ 2.7 (≥ 2.11 for
//! DSA keys), SHA-1 otherwise. No I/O.

use hmac::{Hmac, Mac};
use idnode_registry::model::PublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};

use super::AuthError;
use super::pubkey::SigHash;
use crate::wire::ProtocolVersion;

/// The server's private key.
enum Key {
    Rsa(Box<RsaPrivateKey>, Option<Box<ring::signature::RsaKeyPair>>),
    Dsa(Box<dsa::SigningKey>),
}

/// Signs certified answers. Cheap to share (`Arc`).
pub struct ServerSigner {
    key: Key,
    /// HS_PUBKEY encoding of the public half (what HS_SITE publishes).
    public: Vec<u8>,
}

impl std::fmt::Debug for ServerSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.key {
            Key::Rsa(..) => "RSA",
            Key::Dsa(_) => "DSA",
        };
        f.debug_struct("ServerSigner").field("key", &kind).finish_non_exhaustive()
    }
}

/// Java `BigInteger.toByteArray()` of a big-endian magnitude.
fn java_bytes(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len().saturating_sub(1));
    let m = &magnitude[start..];
    let mut v = Vec::with_capacity(m.len() + 1);
    if m.first().is_some_and(|&b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(m);
    v
}

impl ServerSigner {
    /// An RSA key.
    pub fn rsa(key: RsaPrivateKey) -> ServerSigner {
        use rsa::pkcs8::EncodePrivateKey;
        let public = PublicKey::rsa(java_bytes(&key.e().to_bytes_be()), java_bytes(&key.n().to_bytes_be())).to_bytes();
        let fast = key
            .to_pkcs8_der()
            .ok()
            .and_then(|der| ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes()).ok())
            .map(Box::new);
        ServerSigner { key: Key::Rsa(Box::new(key), fast), public }
    }

    /// An RSA key from PKCS#8 DER.
    pub fn rsa_pkcs8(der: &[u8]) -> Result<ServerSigner, AuthError> {
        use rsa::pkcs8::DecodePrivateKey;
        let key = RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|e| AuthError::UnsupportedKey(format!("RSA server key: {e}")))?;
        Ok(Self::rsa(key))
    }

    /// A DSA key.
    pub fn dsa(key: dsa::SigningKey) -> ServerSigner {
        let vk = key.verifying_key();
        let c = vk.components();
        let public = PublicKey::Dsa {
            flags: 0,
            q: java_bytes(&c.q().to_bytes_be()),
            p: java_bytes(&c.p().to_bytes_be()),
            g: java_bytes(&c.g().to_bytes_be()),
            y: java_bytes(&vk.y().to_bytes_be()),
            extra: Vec::new(),
        }
        .to_bytes();
        ServerSigner { key: Key::Dsa(Box::new(key)), public }
    }

    /// A DSA key from PKCS#8 DER.
    pub fn dsa_pkcs8(der: &[u8]) -> Result<ServerSigner, AuthError> {
        use dsa::pkcs8::DecodePrivateKey;
        let key = dsa::SigningKey::from_pkcs8_der(der)
            .map_err(|e| AuthError::UnsupportedKey(format!("DSA server key: {e}")))?;
        Ok(Self::dsa(key))
    }

    /// A server key from PKCS#8 PEM of either kind.
    pub fn from_pkcs8_pem(pem: &str) -> Result<ServerSigner, AuthError> {
        use dsa::pkcs8::DecodePrivateKey;
        if let Ok(k) = RsaPrivateKey::from_pkcs8_pem(pem) {
            return Ok(Self::rsa(k));
        }
        dsa::SigningKey::from_pkcs8_pem(pem)
            .map(Self::dsa)
            .map_err(|e| AuthError::UnsupportedKey(format!("not a PKCS#8 PEM RSA or DSA private key: {e}")))
    }

    /// A server key from PKCS#8 DER of either kind.
    pub fn from_pkcs8(der: &[u8]) -> Result<ServerSigner, AuthError> {
        Self::rsa_pkcs8(der).or_else(|_| Self::dsa_pkcs8(der))
    }

    /// HS_PUBKEY bytes of the public key.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    pub fn is_dsa(&self) -> bool {
        matches!(self.key, Key::Dsa(_))
    }

    /// The hash a certified answer of `version` is signed with (§1 version
    /// switches; the reference server's rule).
    pub fn hash_for(&self, version: ProtocolVersion) -> SigHash {
        if version >= ProtocolVersion::new(2, 11) || (!self.is_dsa() && version >= ProtocolVersion::V2_7) {
            SigHash::Sha256
        } else {
            SigHash::Sha1
        }
    }

    /// Signs `message`: PKCS#1 v1.5 for RSA, DER `SEQUENCE{r, s}` for DSA.
    pub fn sign(&self, hash: SigHash, message: &[u8]) -> Result<Vec<u8>, AuthError> {
        match &self.key {
            Key::Rsa(_, Some(fast)) if hash == SigHash::Sha256 => {
                let mut sig = vec![0u8; fast.public().modulus_len()];
                fast.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), message, &mut sig)
                    .map_err(|_| AuthError::UnsupportedAlgorithm("RSA signing failed".into()))?;
                Ok(sig)
            }
            Key::Rsa(k, _) => {
                use sha1::Digest as _;
                let r = match hash {
                    SigHash::Sha1 => k.sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1::Sha1::digest(message)),
                    SigHash::Sha256 => k.sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &sha2::Sha256::digest(message)),
                };
                r.map_err(|e| AuthError::UnsupportedAlgorithm(format!("RSA signing failed: {e}")))
            }
            Key::Dsa(k) => {
                use dsa::signature::{DigestSigner, SignatureEncoding};
                use sha1::Digest as _;
                let sig: dsa::Signature = match hash {
                    SigHash::Sha1 => k.try_sign_digest(sha1::Sha1::new_with_prefix(message)),
                    SigHash::Sha256 => k.try_sign_digest(sha2::Sha256::new_with_prefix(message)),
                }
                .map_err(|e| AuthError::UnsupportedAlgorithm(format!("DSA signing failed: {e}")))?;
                Ok(sig.to_vec())
            }
        }
    }
}

/// The `hashAlgId` CNRI writes for a server signature.
pub fn signature_alg_id(hash: SigHash) -> &'static [u8] {
    match hash {
        SigHash::Sha1 => b"SHA1",
        SigHash::Sha256 => b"SHA-256",
    }
}

/// A session MAC algorithm (`hashAlgId` of an HS_MAC credential).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacHash {
    HmacSha256,
    HmacSha1,
}

impl MacHash {
    pub fn parse(id: &[u8]) -> Option<MacHash> {
        let up = id.to_ascii_uppercase();
        match up.as_slice() {
            b"HMAC-SHA256" | b"HMACSHA256" => Some(MacHash::HmacSha256),
            b"HMAC-SHA1" | b"HMACSHA1" => Some(MacHash::HmacSha1),
            _ => None,
        }
    }

    pub fn name(self) -> &'static [u8] {
        match self {
            MacHash::HmacSha256 => b"HMAC-SHA256",
            MacHash::HmacSha1 => b"HMAC-SHA1",
        }
    }
}

/// HMAC of `data` under a session key.
pub fn session_mac(hash: MacHash, key: &[u8], data: &[u8]) -> Vec<u8> {
    match hash {
        MacHash::HmacSha256 => {
            let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        MacHash::HmacSha1 => {
            let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }
}

/// Constant-time check of a session MAC.
pub fn verify_session_mac(hash: MacHash, key: &[u8], data: &[u8], mac: &[u8]) -> bool {
    super::seckey::ct_eq(&session_mac(hash, key, data), mac)
}

/// Verifies a DSA signature (DER `SEQUENCE{r, s}`) of `message` with the
/// HS_PUBKEY `DSA_PUB_KEY` components.
pub fn verify_dsa(key: &PublicKey, hash: SigHash, message: &[u8], sig: &[u8]) -> Result<bool, AuthError> {
    use dsa::signature::DigestVerifier;
    use sha1::Digest as _;
    let PublicKey::Dsa { q, p, g, y, .. } = key else {
        return Err(AuthError::UnsupportedKey(String::from_utf8_lossy(key.key_type()).into_owned()));
    };
    if p.len() > 4096 / 8 + 1 || q.len() > 64 + 1 || g.len() > p.len() || y.len() > p.len() {
        return Err(AuthError::UnsupportedKey("DSA key larger than 4096 bits".into()));
    }
    let n = |b: &[u8]| dsa::BigUint::from_bytes_be(b);
    let bad = |e: &dyn std::fmt::Display| AuthError::UnsupportedKey(format!("DSA key: {e}"));
    let comps = dsa::Components::from_components(n(p), n(q), n(g)).map_err(|e| bad(&e))?;
    let vk = dsa::VerifyingKey::from_components(comps, n(y)).map_err(|e| bad(&e))?;
    let Ok(sig) = dsa::Signature::try_from(sig) else { return Ok(false) };
    Ok(match hash {
        SigHash::Sha1 => vk.verify_digest(sha1::Sha1::new_with_prefix(message), &sig).is_ok(),
        SigHash::Sha256 => vk.verify_digest(sha2::Sha256::new_with_prefix(message), &sig).is_ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::pubkey::verify_signature;

    #[test]
    fn rsa_and_dsa_signatures_verify_both_hashes() {
        let mut rng = rand08();
        let rsa = ServerSigner::rsa(RsaPrivateKey::new(&mut rng, 1024).unwrap());
        let comps = dsa::Components::generate(&mut rng, dsa::KeySize::DSA_2048_256);
        let dsa = ServerSigner::dsa(dsa::SigningKey::generate(&mut rng, comps));
        for signer in [&rsa, &dsa] {
            for hash in [SigHash::Sha1, SigHash::Sha256] {
                let sig = signer.sign(hash, b"message").unwrap();
                assert!(verify_signature(signer.public_key(), hash, b"message", &sig).unwrap());
                assert!(!verify_signature(signer.public_key(), hash, b"messagf", &sig).unwrap());
            }
        }
        assert_eq!(dsa.hash_for(ProtocolVersion::new(2, 10)), SigHash::Sha1);
        assert_eq!(dsa.hash_for(ProtocolVersion::new(2, 11)), SigHash::Sha256);
        assert_eq!(rsa.hash_for(ProtocolVersion::new(2, 10)), SigHash::Sha256);
        assert_eq!(rsa.hash_for(ProtocolVersion::new(2, 6)), SigHash::Sha1);
    }

    #[test]
    fn ring_and_rsa_crate_sign_the_same_bytes() {
        // PKCS#1 v1.5 is deterministic: the fast path must not change a
        // certified answer's bytes (the golden vectors are signed this way).
        let key = RsaPrivateKey::new(&mut rand08(), 2048).unwrap();
        let signer = ServerSigner::rsa(key.clone());
        assert!(matches!(signer.key, Key::Rsa(_, Some(_))), "ring takes a 2048-bit key");
        use sha1::Digest as _;
        let msg = b"88.118.8.1001/LOT2026-000451\0values";
        let slow = key.sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &sha2::Sha256::digest(msg)).unwrap();
        assert_eq!(signer.sign(SigHash::Sha256, msg).unwrap(), slow);
        // 1024-bit keys (ring refuses them) still sign, through the rsa crate.
        let small = ServerSigner::rsa(RsaPrivateKey::new(&mut rand08(), 1024).unwrap());
        assert!(matches!(small.key, Key::Rsa(_, None)));
        let sig = small.sign(SigHash::Sha256, msg).unwrap();
        assert!(verify_signature(small.public_key(), SigHash::Sha256, msg, &sig).unwrap());
    }

    /// The RNG the RustCrypto key generators take (rand_core 0.6).
    fn rand08() -> rsa::rand_core::OsRng {
        rsa::rand_core::OsRng
    }

    #[test]
    fn session_macs() {
        let key = [7u8; 32];
        let mac = session_mac(MacHash::HmacSha256, &key, b"data");
        assert!(verify_session_mac(MacHash::HmacSha256, &key, b"data", &mac));
        assert!(!verify_session_mac(MacHash::HmacSha256, &key, b"datb", &mac));
        assert_eq!(MacHash::parse(b"hmac-sha256"), Some(MacHash::HmacSha256));
        assert_eq!(MacHash::parse(b"MD5"), None);
    }
}
