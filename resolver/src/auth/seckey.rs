//! HS_SECKEY proofs (handle-protocol.md §6.1, §8 "Authentication").
//!
//! A challenge answer made with a secret key is `u8 code` followed by a MAC
//! over `m = nonce ‖ digest` (CNRI `Util.doMac`):
//!
//! | code | name | MAC field |
//! |---|---|---|
//! | 0x01 | MD5 | `MD5(secret ‖ m ‖ secret)` |
//! | 0x02 | SHA-1 | `SHA1(secret ‖ m ‖ secret)` |
//! | 0x03 | SHA-256 | `SHA256(secret ‖ m ‖ secret)` |
//! | 0x12 | HMAC-SHA1 | `HMAC-SHA1(secret, m)` |
//! | 0x13 | HMAC-SHA256 | `HMAC-SHA256(secret, m)` |
//! | 0x22 | PBKDF2-HMAC-SHA1 | `bytes salt`, `u32 iterations`, `u32 keyLengthBits`, `bytes HMAC-SHA1(PBKDF2(secret, salt, iterations, keyLength), m)` |
//!
//! On the binary protocol `digest` is the request digest; in the HTTP
//! `Authorization: Handle` scheme it is the client's `cnonce` (CNRI puts the
//! cnonce where the request digest would be and runs the same verifier).
//!
//! PBKDF2 quirk: CNRI turns the secret's bytes into Java chars one byte each
//! (`(char)(b & 0xff)`) and Java's PBKDF2 encodes those chars as UTF-8, so a
//! byte ≥ 0x80 enters PBKDF2 as two bytes. [`pbkdf2_password`] reproduces
//! that (ASCII secrets are unaffected).
//!
//! No I/O; secrets are only compared, never formatted.

use std::num::NonZeroU32;

use idnode_registry::model::wire::{Reader, WriteExt};
use md5::Digest as _;
use ring::{digest, hmac, pbkdf2};

use super::AuthError;

/// Most PBKDF2 iterations accepted in an answer (CNRI clients use 10 000);
/// bounds the CPU an unauthenticated client can make us spend.
pub const MAX_PBKDF2_ITERATIONS: u32 = 100_000;
/// Largest PBKDF2 key length accepted, in bits (CNRI uses 160).
pub const MAX_PBKDF2_KEY_BITS: u32 = 1024;

/// A MAC algorithm of a secret-key answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlg {
    Md5,
    Sha1,
    Sha256,
    HmacSha1,
    HmacSha256,
    Pbkdf2HmacSha1,
}

impl MacAlg {
    /// The one-byte code in front of the MAC.
    pub fn code(self) -> u8 {
        match self {
            MacAlg::Md5 => 0x01,
            MacAlg::Sha1 => 0x02,
            MacAlg::Sha256 => 0x03,
            MacAlg::HmacSha1 => 0x12,
            MacAlg::HmacSha256 => 0x13,
            MacAlg::Pbkdf2HmacSha1 => 0x22,
        }
    }

    pub fn from_code(code: u8) -> Option<MacAlg> {
        Some(match code {
            0x01 => MacAlg::Md5,
            0x02 => MacAlg::Sha1,
            0x03 => MacAlg::Sha256,
            0x12 => MacAlg::HmacSha1,
            0x13 => MacAlg::HmacSha256,
            0x22 => MacAlg::Pbkdf2HmacSha1,
            _ => return None,
        })
    }

    /// The `alg` names of the HTTP scheme, as CNRI reads them: hash names
    /// exactly (any case), HMAC/PBKDF2 names ignoring case and punctuation
    /// (`HMAC-SHA256`, `hmacsha256`, `PBKDF2WithHmacSHA1`).
    pub fn from_name(name: &str) -> Option<MacAlg> {
        let upper = name.to_ascii_uppercase();
        match upper.as_str() {
            "MD5" => return Some(MacAlg::Md5),
            "SHA" | "SHA1" | "SHA-1" => return Some(MacAlg::Sha1),
            "SHA-256" | "SHA256" | "SHA-2" | "SHA2" => return Some(MacAlg::Sha256),
            _ => {}
        }
        let squashed: String = upper.chars().filter(char::is_ascii_alphanumeric).collect();
        match squashed.as_str() {
            "HMACSHA1" => Some(MacAlg::HmacSha1),
            "HMACSHA256" => Some(MacAlg::HmacSha256),
            "PBKDF2HMACSHA1" | "PBKDF2WITHHMACSHA1" => Some(MacAlg::Pbkdf2HmacSha1),
            _ => None,
        }
    }
}

/// PBKDF2 parameters carried in a 0x22 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pbkdf2Params {
    pub salt: Vec<u8>,
    pub iterations: u32,
    /// Derived key length in bits (a multiple of 8).
    pub key_bits: u32,
}

impl Pbkdf2Params {
    fn check(&self) -> Result<(), AuthError> {
        if self.iterations == 0 || self.iterations > MAX_PBKDF2_ITERATIONS {
            return Err(AuthError::Malformed(format!(
                "PBKDF2 iterations {} outside 1..={MAX_PBKDF2_ITERATIONS}",
                self.iterations
            )));
        }
        if self.key_bits == 0 || !self.key_bits.is_multiple_of(8) || self.key_bits > MAX_PBKDF2_KEY_BITS {
            return Err(AuthError::Malformed(format!(
                "PBKDF2 key length {} bits is not a multiple of 8 in 8..={MAX_PBKDF2_KEY_BITS}",
                self.key_bits
            )));
        }
        if self.salt.len() > 1024 {
            return Err(AuthError::Malformed("PBKDF2 salt longer than 1024 bytes".into()));
        }
        Ok(())
    }
}

/// Constant-time equality (the time depends on the lengths only).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HTTP Basic: the presented password equals the stored secret.
pub fn secret_matches(stored: &[u8], presented: &[u8]) -> bool {
    // Compare digests so that the time does not reveal the secret's length
    // either.
    let a = digest::digest(&digest::SHA256, stored);
    let b = digest::digest(&digest::SHA256, presented);
    ct_eq(a.as_ref(), b.as_ref()) && ct_eq(stored, presented)
}

/// The PBKDF2 password bytes CNRI derives from a secret (see module docs).
pub fn pbkdf2_password(secret: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(secret.len());
    for &b in secret {
        if b < 0x80 {
            out.push(b);
        } else {
            // U+0080..U+00FF in UTF-8.
            out.push(0xC0 | (b >> 6));
            out.push(0x80 | (b & 0x3F));
        }
    }
    out
}

/// `H(secret ‖ m ‖ secret)` / HMAC / PBKDF2-HMAC of `message`; `params` is
/// required for [`MacAlg::Pbkdf2HmacSha1`] and ignored otherwise. Returns
/// the bare MAC (without code byte or PBKDF2 framing).
pub fn mac(alg: MacAlg, secret: &[u8], message: &[u8], params: Option<&Pbkdf2Params>) -> Result<Vec<u8>, AuthError> {
    let sandwich = |algo: &'static digest::Algorithm| {
        let mut ctx = digest::Context::new(algo);
        ctx.update(secret);
        ctx.update(message);
        ctx.update(secret);
        ctx.finish().as_ref().to_vec()
    };
    Ok(match alg {
        MacAlg::Md5 => {
            let mut h = md5::Md5::new();
            h.update(secret);
            h.update(message);
            h.update(secret);
            h.finalize().to_vec()
        }
        MacAlg::Sha1 => sandwich(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        MacAlg::Sha256 => sandwich(&digest::SHA256),
        MacAlg::HmacSha1 => {
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret), message).as_ref().to_vec()
        }
        MacAlg::HmacSha256 => hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), message).as_ref().to_vec(),
        MacAlg::Pbkdf2HmacSha1 => {
            let p = params.ok_or_else(|| AuthError::Malformed("PBKDF2 answer without parameters".into()))?;
            p.check()?;
            let mut key = vec![0u8; (p.key_bits / 8) as usize];
            let iterations = NonZeroU32::new(p.iterations).expect("checked above");
            pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA1, iterations, &p.salt, &pbkdf2_password(secret), &mut key);
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key), message).as_ref().to_vec()
        }
    })
}

/// Frames a MAC as the `signedResponse` of a secret-key answer.
pub fn encode_answer(alg: MacAlg, mac: &[u8], params: Option<&Pbkdf2Params>) -> Vec<u8> {
    let mut out = vec![alg.code()];
    match (alg, params) {
        (MacAlg::Pbkdf2HmacSha1, Some(p)) => out.extend_from_slice(&encode_pbkdf2(p, mac)),
        _ => out.extend_from_slice(mac),
    }
    out
}

/// `bytes salt`, `u32 iterations`, `u32 keyLengthBits`, `bytes mac` (CNRI
/// `constructPbkdf2Encoding`).
pub fn encode_pbkdf2(p: &Pbkdf2Params, mac: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + p.salt.len() + mac.len());
    out.put_bytes(&p.salt);
    out.put_u32(p.iterations);
    out.put_u32(p.key_bits);
    out.put_bytes(mac);
    out
}

/// Splits a PBKDF2 MAC field into its parameters and MAC.
pub fn decode_pbkdf2(field: &[u8]) -> Result<(Pbkdf2Params, &[u8]), AuthError> {
    let bad = |e: idnode_registry::model::wire::WireError| AuthError::Malformed(format!("PBKDF2 answer: {e}"));
    let mut r = Reader::new(field);
    let salt = r.bytes_limited("PBKDF2 salt", 1024).map_err(bad)?.to_vec();
    let iterations = r.u32().map_err(bad)?;
    let key_bits = r.u32().map_err(bad)?;
    let mac = r.bytes_limited("PBKDF2 MAC", 1024).map_err(bad)?;
    r.finish("PBKDF2 answer").map_err(bad)?;
    Ok((Pbkdf2Params { salt, iterations, key_bits }, mac))
}

/// Verifies a secret-key `signedResponse` (code byte + MAC field) over
/// `nonce ‖ digest` with `secret`. `Err` only for answers that cannot be
/// read (unknown code, bad PBKDF2 framing or parameters).
pub fn verify_answer(secret: &[u8], nonce: &[u8], digest: &[u8], signed: &[u8]) -> Result<bool, AuthError> {
    let (&code, field) = signed.split_first().ok_or_else(|| AuthError::Malformed("empty secret-key answer".into()))?;
    let alg = MacAlg::from_code(code)
        .ok_or_else(|| AuthError::UnsupportedAlgorithm(format!("secret-key code {code:#04x}")))?;
    let mut message = Vec::with_capacity(nonce.len() + digest.len());
    message.extend_from_slice(nonce);
    message.extend_from_slice(digest);
    if alg == MacAlg::Pbkdf2HmacSha1 {
        let (params, presented) = decode_pbkdf2(field)?;
        let expected = mac(alg, secret, &message, Some(&params))?;
        return Ok(ct_eq(&expected, presented));
    }
    let expected = mac(alg, secret, &message, None)?;
    Ok(ct_eq(&expected, field))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"pw";
    const NONCE: &[u8] = b"0123456789abcdef";
    const CNONCE: &[u8] = b"fedcba9876543210";

    #[test]
    fn names_and_codes() {
        for alg in
            [MacAlg::Md5, MacAlg::Sha1, MacAlg::Sha256, MacAlg::HmacSha1, MacAlg::HmacSha256, MacAlg::Pbkdf2HmacSha1]
        {
            assert_eq!(MacAlg::from_code(alg.code()), Some(alg));
        }
        assert_eq!(MacAlg::from_name("sha-1"), Some(MacAlg::Sha1));
        assert_eq!(MacAlg::from_name("SHA256"), Some(MacAlg::Sha256));
        assert_eq!(MacAlg::from_name("hmac_sha256"), Some(MacAlg::HmacSha256));
        assert_eq!(MacAlg::from_name("PBKDF2-HMAC-SHA1"), Some(MacAlg::Pbkdf2HmacSha1));
        assert_eq!(MacAlg::from_name("PBKDF2WithHmacSHA1"), Some(MacAlg::Pbkdf2HmacSha1));
        assert_eq!(MacAlg::from_name("ROT13"), None);
    }

    #[test]
    fn sha1_sandwich_known_answer() {
        // SHA1("pw" ‖ nonce ‖ cnonce ‖ "pw") computed independently.
        let mut m = NONCE.to_vec();
        m.extend_from_slice(CNONCE);
        let got = mac(MacAlg::Sha1, SECRET, &m, None).unwrap();
        let mut h = sha1::Sha1::new();
        sha1::Digest::update(&mut h, b"pw0123456789abcdeffedcba9876543210pw");
        assert_eq!(got, sha1::Digest::finalize(h).to_vec());
    }

    #[test]
    fn pbkdf2_rfc6070_vector() {
        // RFC 6070 test 2: P="password", S="salt", c=2, dkLen=20.
        let mut key = [0u8; 20];
        pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA1, NonZeroU32::new(2).unwrap(), b"salt", b"password", &mut key);
        assert_eq!(hex::encode(key), "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
        assert_eq!(pbkdf2_password(b"a\xe9"), b"a\xc3\xa9");
    }

    #[test]
    fn every_alg_round_trips_and_rejects_wrong_secret() {
        let params = Pbkdf2Params { salt: vec![7; 16], iterations: 1000, key_bits: 160 };
        for alg in
            [MacAlg::Md5, MacAlg::Sha1, MacAlg::Sha256, MacAlg::HmacSha1, MacAlg::HmacSha256, MacAlg::Pbkdf2HmacSha1]
        {
            let mut m = NONCE.to_vec();
            m.extend_from_slice(CNONCE);
            let p = (alg == MacAlg::Pbkdf2HmacSha1).then_some(&params);
            let answer = encode_answer(alg, &mac(alg, SECRET, &m, p).unwrap(), p);
            assert!(verify_answer(SECRET, NONCE, CNONCE, &answer).unwrap(), "{alg:?}");
            assert!(!verify_answer(b"other", NONCE, CNONCE, &answer).unwrap(), "{alg:?}");
            assert!(!verify_answer(SECRET, CNONCE, NONCE, &answer).unwrap(), "{alg:?}");
        }
    }

    #[test]
    fn hostile_answers() {
        assert!(verify_answer(SECRET, NONCE, CNONCE, &[]).is_err());
        assert!(verify_answer(SECRET, NONCE, CNONCE, &[0x99, 1, 2]).is_err());
        let too_many = Pbkdf2Params { salt: vec![1; 16], iterations: u32::MAX, key_bits: 160 };
        let mut answer = vec![0x22];
        answer.extend(encode_pbkdf2(&too_many, &[0; 20]));
        assert!(verify_answer(SECRET, NONCE, CNONCE, &answer).is_err());
        assert!(verify_answer(SECRET, NONCE, CNONCE, &answer[..answer.len() - 1]).is_err());
    }

    #[test]
    fn basic_password_compare() {
        assert!(secret_matches(b"hunter2", b"hunter2"));
        assert!(!secret_matches(b"hunter2", b"hunter3"));
        assert!(!secret_matches(b"hunter2", b"hunter22"));
        assert!(!secret_matches(b"", b"x"));
    }
}
