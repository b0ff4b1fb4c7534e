//! Authentication and authorisation decisions (handle-protocol.md §6, §8
//! "Authentication"), shared by the Handle binary doors and the HTTP APIs.
//!
//! * [`seckey`] — HS_SECKEY proofs: the plain secret of HTTP Basic, and the
//!   MACs of a challenge answer (SHA-1 / SHA-256 / MD5 `H(secret‖m‖secret)`,
//!   HMAC-SHA1/256, PBKDF2-HMAC-SHA1), where the message `m` is
//!   `nonce ‖ requestDigest` on the binary protocol and `nonce ‖ cnonce` in
//!   the HTTP `Authorization: Handle` scheme (CNRI reuses one verifier).
//! * [`pubkey`] — HS_PUBKEY proofs: RSA PKCS#1 v1.5 signatures (SHA-256,
//!   SHA-1) verified with ring.
//! * [`idis_key`] — HS_PUBKEY data in the IDIS forms (PEM text, binary
//!   `SM2_PUB_KEY` / `SM9_PUB_KEY`, idis-extensions.md §3.2), and
//!   [`sm2`] — SM2/SM3 signatures of IDIS challenge answers (§4).
//! * [`authz`] — who may do what: an identity `index:handle` listed in an
//!   HS_ADMIN value (directly or through HS_VLIST groups) with the needed
//!   permission bit, on the target record or on the prefix handles above it,
//!   plus the server administrators from the configuration.
//!
//! Pure logic: no sockets, no clock, no files. Records are read only through
//! the small [`RecordSource`] trait (implemented for `dyn Store`). Nothing
//! here logs or formats a secret; errors never carry secret bytes.

pub mod authz;
pub mod dh;
pub mod fuzzing;
pub mod idis_key;
pub mod pubkey;
pub mod seckey;
pub mod sign;
pub mod sm2;

use std::fmt;

use idnode_registry::model::Value;
use idnode_registry::store::StoreError;
use thiserror::Error;

pub use authz::{Action, Policy, RecordSource, StoreRecords, authorize, prefix_admin_chain};

/// Value type of secret keys.
pub const HS_SECKEY: &[u8] = b"HS_SECKEY";
/// Value type of public keys.
pub const HS_PUBKEY: &[u8] = b"HS_PUBKEY";
/// Value type of admin records.
pub const HS_ADMIN: &[u8] = b"HS_ADMIN";
/// Value type of admin groups.
pub const HS_VLIST: &[u8] = b"HS_VLIST";

/// Why an authentication input could not be used. None of these carries
/// secret material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The identity is not `index:handle`.
    #[error("malformed identity {0:?}: expected index:handle, e.g. 300:0.NA/88.118.8")]
    BadIdentity(String),
    /// A hash / MAC / signature algorithm we do not implement.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A key type we cannot verify with (DSA, DH, SM2, PEM, ...).
    #[error("unsupported public key type {0}")]
    UnsupportedKey(String),
    /// The proof bytes do not have the expected layout.
    #[error("malformed authentication answer: {0}")]
    Malformed(String),
    /// Reading a record failed (the store's fault, not the client's).
    #[error("reading records for authentication: {0}")]
    Store(#[from] StoreError),
}

impl AuthError {
    /// True when the failure is the caller's (bad input), false when the
    /// server could not read its data.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, AuthError::Store(e) if !e.is_client_error())
    }
}

/// An administrator identity: the value `index` of `handle` holding the key
/// (HS_SECKEY / HS_PUBKEY) or, in HS_ADMIN references, the HS_VLIST group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// 0 = "any key value of the handle".
    pub index: u32,
    pub handle: String,
}

impl Identity {
    pub fn new(index: u32, handle: impl Into<String>) -> Self {
        Identity { index, handle: handle.into() }
    }

    /// Parses `index:handle` (CNRI also accepts a bare handle = index 0).
    pub fn parse(s: &str) -> Result<Identity, AuthError> {
        let bad = || AuthError::BadIdentity(s.chars().take(300).collect());
        let (index, handle) = match s.split_once(':') {
            Some((i, h)) if !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) => {
                (i.parse::<u32>().map_err(|_| bad())?, h)
            }
            _ => (0, s),
        };
        if handle.is_empty() || handle.len() > idnode_registry::ident::MAX_HANDLE_BYTES {
            return Err(bad());
        }
        Ok(Identity { index, handle: handle.to_owned() })
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.index, self.handle)
    }
}

/// Which kind of key a challenge answer uses (`type` in the HTTP scheme,
/// `authType` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    SecretKey,
    PublicKey,
}

impl AuthType {
    pub fn parse(s: &[u8]) -> Option<AuthType> {
        if s.eq_ignore_ascii_case(HS_SECKEY) {
            Some(AuthType::SecretKey)
        } else if s.eq_ignore_ascii_case(HS_PUBKEY) {
            Some(AuthType::PublicKey)
        } else {
            None
        }
    }
}

/// Values of `values` of type `ty` at `index` (index 0 = every value of the
/// type), in index order.
fn key_values<'a>(values: &'a [Value], ty: &[u8], index: u32) -> Vec<&'a Value> {
    let mut out: Vec<&Value> =
        values.iter().filter(|v| v.value_type.eq_ignore_ascii_case(ty) && (index == 0 || v.index == index)).collect();
    out.sort_by_key(|v| v.index);
    out
}

/// HTTP Basic: whether `presented` equals the HS_SECKEY of `identity`
/// (any HS_SECKEY when its index is 0). Comparison is constant-time in the
/// secret's content.
pub fn authenticate_password(src: &dyn RecordSource, identity: &Identity, presented: &[u8]) -> Result<bool, AuthError> {
    let Some(values) = src.values(&identity.handle)? else { return Ok(false) };
    Ok(key_values(&values, HS_SECKEY, identity.index).iter().any(|v| seckey::secret_matches(&v.data, presented)))
}

/// Like [`authenticate_password`], but returns the index of the HS_SECKEY
/// value that matched (IDIS password login, idis-extensions.md §2.5).
pub fn password_key_index(
    src: &dyn RecordSource,
    identity: &Identity,
    presented: &[u8],
) -> Result<Option<u32>, AuthError> {
    let Some(values) = src.values(&identity.handle)? else { return Ok(None) };
    Ok(key_values(&values, HS_SECKEY, identity.index)
        .iter()
        .find(|v| seckey::secret_matches(&v.data, presented))
        .map(|v| v.index))
}

/// A challenge answer: verifies `signed` (the binary `signedResponse`:
/// MAC code + MAC for HS_SECKEY, `bytes hashAlgId` + `bytes signature` for
/// HS_PUBKEY) over `nonce ‖ digest` with the key(s) of `identity`. Returns
/// the index of the key that verified, or `None`.
pub fn authenticate_answer(
    src: &dyn RecordSource,
    identity: &Identity,
    auth_type: AuthType,
    nonce: &[u8],
    digest: &[u8],
    signed: &[u8],
) -> Result<Option<u32>, AuthError> {
    let Some(values) = src.values(&identity.handle)? else { return Ok(None) };
    let mut last_err = None;
    match auth_type {
        AuthType::SecretKey => {
            for v in key_values(&values, HS_SECKEY, identity.index) {
                match seckey::verify_answer(&v.data, nonce, digest, signed) {
                    Ok(true) => return Ok(Some(v.index)),
                    Ok(false) => {}
                    Err(e) => last_err = Some(e),
                }
            }
        }
        AuthType::PublicKey => {
            for v in key_values(&values, HS_PUBKEY, identity.index) {
                match verify_pubkey_answer(&v.data, identity.handle.as_bytes(), nonce, digest, signed) {
                    Ok(true) => return Ok(Some(v.index)),
                    Ok(false) => {}
                    Err(e) => last_err = Some(e),
                }
            }
        }
    }
    match last_err {
        // A malformed answer is the client's problem worth telling; an
        // unusable key of the identity just means "not verified".
        Some(e @ (AuthError::Malformed(_) | AuthError::UnsupportedAlgorithm(_))) => Err(e),
        _ => Ok(None),
    }
}

/// One HS_PUBKEY answer against one key value: CNRI binary keys go to
/// [`pubkey`]; the IDIS forms (§3.2) are classified by [`idis_key`] and RSA
/// keys verified as in [`pubkey`], SM2 keys as in [`sm2`] (whose user ID is
/// the identity handle, idis-extensions.md §4.1).
pub fn verify_pubkey_answer(
    key: &[u8],
    identity_handle: &[u8],
    nonce: &[u8],
    digest: &[u8],
    signed: &[u8],
) -> Result<bool, AuthError> {
    if !idis_key::is_idis_form(key) {
        return pubkey::verify_answer(key, nonce, digest, signed);
    }
    match idis_key::parse(key)? {
        idis_key::IdisKey::Sm2(point) => {
            let key = sm2::Sm2Key::from_point(&point)?;
            let (alg, sig) = split_signed_response(signed)?;
            sm2::verify_answer(&key, identity_handle, nonce, digest, alg, sig)
        }
        idis_key::IdisKey::Rsa(der) => {
            let (hash, sig) = pubkey::decode_answer(signed)?;
            let mut message = Vec::with_capacity(nonce.len() + digest.len());
            message.extend_from_slice(nonce);
            message.extend_from_slice(digest);
            Ok(pubkey::verify_rsa_der(&der, hash, &message, sig))
        }
        idis_key::IdisKey::Dsa(_) => Err(AuthError::UnsupportedKey("DSA key in PEM form".into())),
        // §5: SM9 needs a configured master key; we have none.
        idis_key::IdisKey::Sm9(_) => Err(AuthError::UnsupportedKey("SM9_PUB_KEY".into())),
    }
}

/// A public-key `signedResponse`: `bytes hashAlgId`, `bytes signature`.
fn split_signed_response(signed: &[u8]) -> Result<(&[u8], &[u8]), AuthError> {
    let bad = |e: idnode_registry::model::wire::WireError| AuthError::Malformed(format!("public-key answer: {e}"));
    let mut r = idnode_registry::model::wire::Reader::new(signed);
    let alg = r.bytes_limited("hashAlgId", 64).map_err(bad)?;
    let sig = r.bytes_limited("signature", 4096).map_err(bad)?;
    r.finish("public-key answer").map_err(bad)?;
    Ok((alg, sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        assert_eq!(Identity::parse("300:0.NA/88.118.8").unwrap(), Identity::new(300, "0.NA/88.118.8"));
        assert_eq!(Identity::parse("0.NA/X").unwrap(), Identity::new(0, "0.NA/X"));
        // A handle with a colon and an index.
        assert_eq!(Identity::parse("1:a/b:c").unwrap(), Identity::new(1, "a/b:c"));
        assert!(Identity::parse("300:").is_err());
        assert!(Identity::parse("").is_err());
        assert!(Identity::parse("99999999999:a/b").is_err());
        assert_eq!(Identity::new(300, "0.NA/X").to_string(), "300:0.NA/X");
    }

    /// An RSA key published as IDIS PEM text (idis-extensions.md §3.2 form
    /// A, 76-character lines joined by CRLF as NEW writes them) verifies a
    /// SHA-256 answer; a wrong message does not.
    #[test]
    fn rsa_key_in_idis_pem_form() {
        use base64::Engine as _;
        use ring::rand::SystemRandom;
        use ring::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
        use spki::der::Encode;
        use spki::der::asn1::BitString;

        let kp =
            RsaKeyPair::from_pkcs8(&hex::decode(include_str!("testdata/rsa2048.pk8.hex").trim()).unwrap()).unwrap();
        let spki = spki::SubjectPublicKeyInfoOwned {
            algorithm: spki::AlgorithmIdentifierOwned {
                oid: spki::der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
                parameters: Some(spki::der::asn1::Null.into()),
            },
            subject_public_key: BitString::from_bytes(kp.public_key().as_ref()).unwrap(),
        }
        .to_der()
        .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
        let lines: Vec<&str> = b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let pem = format!("-----BEGIN PUBLIC KEY-----\r\n{}\r\n-----END PUBLIC KEY-----\r\n", lines.join("\r\n"));
        assert!(matches!(idis_key::parse(pem.as_bytes()).unwrap(), idis_key::IdisKey::Rsa(_)));

        let (nonce, digest) = ([7u8; 16], [9u8; 32]);
        let mut msg = nonce.to_vec();
        msg.extend_from_slice(&digest);
        let mut sig = vec![0; kp.public().modulus_len()];
        kp.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), &msg, &mut sig).unwrap();
        // NEW sends the literal "SHA-256" (§4.3).
        let mut signed = Vec::new();
        idnode_registry::model::wire::WriteExt::put_bytes(&mut signed, b"SHA-256");
        idnode_registry::model::wire::WriteExt::put_bytes(&mut signed, &sig);
        assert!(verify_pubkey_answer(pem.as_bytes(), b"88.888.1024/rsauser", &nonce, &digest, &signed).unwrap());
        assert!(
            !verify_pubkey_answer(pem.as_bytes(), b"88.888.1024/rsauser", &digest[..16], &digest, &signed).unwrap()
        );
        // SM3 is not an RSA hash.
        let mut sm3 = Vec::new();
        idnode_registry::model::wire::WriteExt::put_bytes(&mut sm3, b"SM3");
        idnode_registry::model::wire::WriteExt::put_bytes(&mut sm3, &sig);
        assert!(verify_pubkey_answer(pem.as_bytes(), b"x/y", &nonce, &digest, &sm3).is_err());
    }
}
