//! HS_PUBKEY proofs (handle-protocol.md §6.1): RSA PKCS#1 v1.5 signatures
//! over `nonce ‖ digest` (binary protocol: the request digest; HTTP
//! `Authorization: Handle` scheme: the client's cnonce), verified with ring.
//!
//! The binary `signedResponse` of a public-key answer is
//! `bytes hashAlgId` + `bytes signature`; the hash is named "SHA-256" /
//! "SHA256" / "SHA2" (SHA256withRSA) or "SHA-1" / "SHA1" / "SHA"
//! (SHA1withRSA), or given as a one-byte code (2 = SHA-1, 3 = SHA-256).
//! DSA keys (`DSA_PUB_KEY`, DER `SEQUENCE{r, s}` signatures, SHA-1 or
//! SHA-256) are verified with the RustCrypto `dsa` crate ([`super::sign`]);
//! MD5 signatures and other key types are reported as
//! [`AuthError::UnsupportedAlgorithm`] / `UnsupportedKey`.
//!
//! No I/O.

use idnode_registry::model::PublicKey;
use idnode_registry::model::wire::{Reader, WriteExt};
use ring::signature::{self, RsaPublicKeyComponents};

use super::AuthError;

/// The hash of a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigHash {
    Sha1,
    Sha256,
}

impl SigHash {
    /// Parses a `hashAlgId` (name or one-byte code) / HTTP `alg` value.
    pub fn parse(id: &[u8]) -> Result<SigHash, AuthError> {
        if let [code] = id {
            return match code {
                2 => Ok(SigHash::Sha1),
                3 => Ok(SigHash::Sha256),
                other => Err(AuthError::UnsupportedAlgorithm(format!("hash code {other}"))),
            };
        }
        let name = String::from_utf8_lossy(id).to_ascii_uppercase();
        match name.as_str() {
            "SHA-1" | "SHA1" | "SHA" | "SHA1WITHRSA" => Ok(SigHash::Sha1),
            "SHA-256" | "SHA256" | "SHA2" | "SHA-2" | "SHA256WITHRSA" => Ok(SigHash::Sha256),
            _ => Err(AuthError::UnsupportedAlgorithm(name.chars().take(40).collect())),
        }
    }

    /// The name CNRI writes as `hashAlgId`.
    pub fn name(self) -> &'static str {
        match self {
            SigHash::Sha1 => "SHA1",
            SigHash::Sha256 => "SHA256",
        }
    }
}

/// Big-endian magnitude without the leading zero bytes Java writes.
fn magnitude(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

/// Verifies an RSA PKCS#1 v1.5 signature of `message` with `key` (HS_PUBKEY
/// data). Keys of 1024 to 8192 bits are accepted (older CNRI tools made
/// 1024-bit keys).
pub fn verify_signature(key: &[u8], hash: SigHash, message: &[u8], sig: &[u8]) -> Result<bool, AuthError> {
    let key =
        PublicKey::from_bytes(key).map_err(|e| AuthError::UnsupportedKey(format!("undecodable HS_PUBKEY: {e}")))?;
    let (exponent, modulus) = match &key {
        PublicKey::Rsa { exponent, modulus, .. } => (exponent, modulus),
        PublicKey::Dsa { .. } => return super::sign::verify_dsa(&key, hash, message, sig),
        _ => return Err(AuthError::UnsupportedKey(String::from_utf8_lossy(key.key_type()).into_owned())),
    };
    let alg: &signature::RsaParameters = match hash {
        SigHash::Sha1 => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        SigHash::Sha256 => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
    };
    let components = RsaPublicKeyComponents { n: magnitude(modulus), e: magnitude(exponent) };
    Ok(components.verify(alg, message, sig).is_ok())
}

/// Verifies an RSA PKCS#1 v1.5 signature with a key given as PKCS#1
/// `RSAPublicKey` DER (IDIS PEM keys, idis-extensions.md §3.2 form A).
pub fn verify_rsa_der(der: &[u8], hash: SigHash, message: &[u8], sig: &[u8]) -> bool {
    let alg: &signature::RsaParameters = match hash {
        SigHash::Sha1 => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        SigHash::Sha256 => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
    };
    signature::UnparsedPublicKey::new(alg, der).verify(message, sig).is_ok()
}

/// Verifies a public-key `signedResponse` (`bytes hashAlgId`,
/// `bytes signature`) over `nonce ‖ digest` with the HS_PUBKEY data `key`.
pub fn verify_answer(key: &[u8], nonce: &[u8], digest: &[u8], signed: &[u8]) -> Result<bool, AuthError> {
    let (hash, sig) = decode_answer(signed)?;
    let mut message = Vec::with_capacity(nonce.len() + digest.len());
    message.extend_from_slice(nonce);
    message.extend_from_slice(digest);
    verify_signature(key, hash, &message, sig)
}

/// Splits a public-key `signedResponse`.
pub fn decode_answer(signed: &[u8]) -> Result<(SigHash, &[u8]), AuthError> {
    let bad = |e: idnode_registry::model::wire::WireError| AuthError::Malformed(format!("public-key answer: {e}"));
    let mut r = Reader::new(signed);
    let alg = r.bytes_limited("hashAlgId", 64).map_err(bad)?;
    let sig = r.bytes_limited("signature", 4096).map_err(bad)?;
    r.finish("public-key answer").map_err(bad)?;
    Ok((SigHash::parse(alg)?, sig))
}

/// Frames a signature as a public-key `signedResponse`.
pub fn encode_answer(hash: SigHash, sig: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + sig.len());
    out.put_bytes(hash.name().as_bytes());
    out.put_bytes(sig);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

    /// A 2048-bit RSA key for tests only (PKCS#8 DER as hex, made with
    /// `openssl genpkey`; ring cannot generate RSA keys).
    fn test_key() -> RsaKeyPair {
        RsaKeyPair::from_pkcs8(&hex::decode(include_str!("testdata/rsa2048.pk8.hex").trim()).unwrap()).unwrap()
    }

    fn hs_pubkey(kp: &RsaKeyPair) -> Vec<u8> {
        let c: RsaPublicKeyComponents<Vec<u8>> = kp.public().into();
        let java = |m: &[u8]| {
            let mut v = Vec::new();
            if m[0] & 0x80 != 0 {
                v.push(0);
            }
            v.extend_from_slice(m);
            v
        };
        PublicKey::rsa(java(&c.e), java(&c.n)).to_bytes()
    }

    #[test]
    fn rsa_answers() {
        let kp = test_key();
        let key = hs_pubkey(&kp);
        let (nonce, cnonce) = (b"nnnnnnnnnnnnnnnn", b"cccccccccccccccc");
        let mut msg = nonce.to_vec();
        msg.extend_from_slice(cnonce);
        let mut sig = vec![0; kp.public().modulus_len()];
        kp.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), &msg, &mut sig).unwrap();
        let answer = encode_answer(SigHash::Sha256, &sig);
        assert!(verify_answer(&key, nonce, cnonce, &answer).unwrap());
        assert!(!verify_answer(&key, cnonce, nonce, &answer).unwrap());
        // Wrong hash named: not verified.
        assert!(!verify_answer(&key, nonce, cnonce, &encode_answer(SigHash::Sha1, &sig)).unwrap());
        assert!(verify_answer(&key, nonce, cnonce, &answer[..answer.len() - 1]).is_err());
        assert!(SigHash::parse(b"MD5").is_err());
        assert_eq!(SigHash::parse(b"sha-256").unwrap(), SigHash::Sha256);
        assert_eq!(SigHash::parse(&[2]).unwrap(), SigHash::Sha1);
    }

    #[test]
    fn other_keys_are_unsupported() {
        let mut dsa = Vec::new();
        dsa.put_bytes(b"DSA_PUB_KEY");
        dsa.put_u16(0);
        for _ in 0..4 {
            dsa.put_bytes(&[1]);
        }
        // Degenerate DSA parameters are refused, never accepted.
        assert!(!matches!(verify_signature(&dsa, SigHash::Sha1, b"m", b"s"), Ok(true)));
        let mut dh = Vec::new();
        dh.put_bytes(b"DH_PUB_KEY");
        dh.put_u16(0);
        for _ in 0..3 {
            dh.put_bytes(&[1]);
        }
        assert!(matches!(verify_signature(&dh, SigHash::Sha1, b"m", b"s"), Err(AuthError::UnsupportedKey(_))));
        assert!(verify_signature(b"junk", SigHash::Sha1, b"m", b"s").is_err());
    }
}
