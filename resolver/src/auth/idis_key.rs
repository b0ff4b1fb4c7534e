//! HS_PUBKEY data in the forms the IDIS SDKs write (idis-extensions.md §3.2),
//! classified into the key a verifier needs. No cryptography here (the
//! verifiers are [`super::pubkey`] for RSA and [`super::sm2`] for SM2), no
//! I/O.
//!
//! Forms (§3.2, "Parser rule for the server"):
//! * **A. IDIS PEM** — the whole value is UTF-8 PEM text,
//!   `-----BEGIN PUBLIC KEY-----` + base64(SubjectPublicKeyInfo DER) in
//!   lines of any length (NEW writes 76-character lines joined by `\r\n`;
//!   OLD copies the user's file verbatim, so any line ending). The SPKI
//!   algorithm decides the key: rsaEncryption (RSA), id-ecPublicKey with the
//!   named curve 1.2.156.10197.1.301 (SM2, §3.1), id-dsa (DSA).
//!   `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1 `RSAPublicKey`) is accepted too.
//! * **B. `SM2_PUB_KEY`** — `bytes "SM2_PUB_KEY"`, `u16 flags` (written as
//!   0, ignored), `bytes inner`, where *inner* is the PEM text of form A
//!   (what NEW writes), or DER SPKI (what NEW reads), or, defensively, a raw
//!   65-byte uncompressed point `04‖x‖y`.
//! * **C. `SM9_PUB_KEY`** — `bytes "SM9_PUB_KEY"`, `u16 flags`, `bytes
//!   userId`: an identity string, not verifiable without a configured SM9
//!   master key (§5: deferred).
//! * **D.** CNRI `RSA_PUB_KEY` / `DSA_PUB_KEY`: not handled here (see
//!   [`idnode_registry::model::PublicKey`]).

use base64::Engine as _;
use idnode_registry::model::pubkey::{PEM_MARKER, key_type};
use idnode_registry::model::wire::Reader;
use spki::der::asn1::ObjectIdentifier;
use spki::der::{Decode, Encode};

use super::AuthError;

/// rsaEncryption.
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey (the SPKI algorithm of SM2 keys, §3.1).
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// The SM2 recommended curve sm2p256v1 (GB/T 32918), the named-curve
/// parameter of SM2 keys (§3.1).
const OID_SM2_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");
/// id-dsa.
const OID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

/// Largest PEM text / inner key blob we look at (an RSA-16384 SPKI is
/// about 2.8 KB of PEM).
pub const MAX_KEY_TEXT: usize = 16 * 1024;

/// The uncompressed SM2 point length: `04 ‖ x(32) ‖ y(32)`.
pub const SM2_POINT_LEN: usize = 65;

/// A key from one of the IDIS forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdisKey {
    /// An RSA key as PKCS#1 `RSAPublicKey` DER (what ring verifies with).
    Rsa(Vec<u8>),
    /// An SM2 key: the uncompressed point `04‖x‖y` (not yet checked to be
    /// on the curve: [`super::sm2::Sm2Key::from_point`] does that).
    Sm2([u8; SM2_POINT_LEN]),
    /// A DSA key: the SPKI DER as found.
    Dsa(Vec<u8>),
    /// An SM9 identity (form C).
    Sm9(Vec<u8>),
}

/// Whether `data` is in one of the IDIS forms (A, B or C), i.e. whether
/// [`parse`] rather than the CNRI binary decoder applies.
pub fn is_idis_form(data: &[u8]) -> bool {
    if data.starts_with(PEM_MARKER) {
        return true;
    }
    let mut r = Reader::new(data);
    matches!(r.bytes_limited("key type", 32), Ok(t) if t == key_type::SM2 || t == key_type::SM9)
}

/// Classifies HS_PUBKEY data in form A, B or C.
pub fn parse(data: &[u8]) -> Result<IdisKey, AuthError> {
    if data.starts_with(PEM_MARKER) {
        return parse_pem(data);
    }
    let bad =
        |e: idnode_registry::model::wire::WireError| AuthError::UnsupportedKey(format!("undecodable HS_PUBKEY: {e}"));
    let mut r = Reader::new(data);
    let kt = r.bytes_limited("HS_PUBKEY key type", 32).map_err(bad)?;
    let _flags = r.u16().map_err(bad)?;
    let inner = r.bytes_limited("key data", MAX_KEY_TEXT).map_err(bad)?;
    // CNRI-style trailing bytes after the last field are tolerated (the
    // writers put nothing there; readers ignore it).
    match kt {
        key_type::SM2 => {
            if inner.starts_with(PEM_MARKER) {
                return match parse_pem(inner)? {
                    k @ IdisKey::Sm2(_) => Ok(k),
                    _ => Err(AuthError::UnsupportedKey("SM2_PUB_KEY holding a non-SM2 key".into())),
                };
            }
            if inner.len() == SM2_POINT_LEN && inner[0] == 0x04 {
                let mut p = [0u8; SM2_POINT_LEN];
                p.copy_from_slice(inner);
                return Ok(IdisKey::Sm2(p));
            }
            match parse_spki(inner)? {
                k @ IdisKey::Sm2(_) => Ok(k),
                _ => Err(AuthError::UnsupportedKey("SM2_PUB_KEY holding a non-SM2 key".into())),
            }
        }
        key_type::SM9 => Ok(IdisKey::Sm9(inner.to_vec())),
        other => Err(AuthError::UnsupportedKey(String::from_utf8_lossy(other).chars().take(40).collect())),
    }
}

/// Form A: PEM text → DER → key.
fn parse_pem(text: &[u8]) -> Result<IdisKey, AuthError> {
    let (label, der) = pem_decode(text)?;
    match label.as_str() {
        "PUBLIC KEY" => parse_spki(&der),
        "RSA PUBLIC KEY" => Ok(IdisKey::Rsa(der)),
        other => Err(AuthError::UnsupportedKey(format!("PEM {}", other.chars().take(40).collect::<String>()))),
    }
}

/// Decodes the first PEM block of `text`: its label and the base64 content
/// between the BEGIN and END lines (whitespace and line endings of any kind
/// ignored). Headers (`Proc-Type:` ...) are not supported.
pub fn pem_decode(text: &[u8]) -> Result<(String, Vec<u8>), AuthError> {
    let bad = |why: &str| AuthError::UnsupportedKey(format!("PEM key: {why}"));
    if text.len() > MAX_KEY_TEXT {
        return Err(bad("too long"));
    }
    let text = std::str::from_utf8(text).map_err(|_| bad("not UTF-8"))?;
    let rest = text.strip_prefix("-----BEGIN ").ok_or_else(|| bad("no BEGIN line"))?;
    let (label, rest) = rest.split_once("-----").ok_or_else(|| bad("unterminated BEGIN line"))?;
    let end = format!("-----END {label}-----");
    let (content, _) = rest.split_once(end.as_str()).ok_or_else(|| bad("no matching END line"))?;
    let b64: String = content.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()).map_err(|_| bad("invalid base64"))?;
    Ok((label.to_owned(), der))
}

/// SubjectPublicKeyInfo DER → key.
pub fn parse_spki(der: &[u8]) -> Result<IdisKey, AuthError> {
    let bad = |why: String| AuthError::UnsupportedKey(format!("SubjectPublicKeyInfo: {why}"));
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| bad(e.to_string()))?;
    let key = spki.subject_public_key.as_bytes().ok_or_else(|| bad("key bits not whole bytes".into()))?;
    let oid = spki.algorithm.oid;
    if oid == OID_RSA {
        return Ok(IdisKey::Rsa(key.to_vec()));
    }
    if oid == OID_DSA {
        return Ok(IdisKey::Dsa(der.to_vec()));
    }
    // SM2: id-ecPublicKey with the SM2 curve (§3.1); some tools put the
    // curve OID itself in the algorithm field.
    let curve = if oid == OID_EC_PUBLIC_KEY {
        let params = spki.algorithm.parameters.ok_or_else(|| bad("EC key without a named curve".into()))?;
        let mut buf = Vec::new();
        params.encode_to_vec(&mut buf).map_err(|e| bad(e.to_string()))?;
        ObjectIdentifier::from_der(&buf).map_err(|_| bad("EC parameters are not a named curve".into()))?
    } else {
        oid
    };
    if curve != OID_SM2_CURVE {
        return Err(bad(format!("algorithm {oid} / {curve} is not RSA, DSA or SM2")));
    }
    if key.len() != SM2_POINT_LEN || key[0] != 0x04 {
        return Err(bad("SM2 point is not uncompressed 04||x||y".into()));
    }
    let mut p = [0u8; SM2_POINT_LEN];
    p.copy_from_slice(key);
    Ok(IdisKey::Sm2(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use idnode_registry::model::wire::WriteExt;

    /// idis-extensions.md §3.2, form A of the test key (182 bytes).
    pub(crate) const SM2_PEM: &str = "-----BEGIN PUBLIC KEY-----\r\n\
        MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAENECBuAgFVAo41x1yG9By2JV+rhWuuFLnIIarTFli\r\n\
        uJtbuGKLnZxO3TDzQaWiWIbAY8/0bcBMfmjy77O1iDDg8w==\r\n\
        -----END PUBLIC KEY-----\r\n";
    const X: &str = "344081b80805540a38d71d721bd072d8957eae15aeb852e72086ab4c5962b89b";
    const Y: &str = "5bb8628b9d9c4edd30f341a5a25886c063cff46dc04c7e68f2efb3b58830e0f3";

    fn point() -> [u8; 65] {
        let mut p = [0u8; 65];
        p[0] = 4;
        p[1..33].copy_from_slice(&hex::decode(X).unwrap());
        p[33..].copy_from_slice(&hex::decode(Y).unwrap());
        p
    }

    fn form_b(inner: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_bytes(key_type::SM2);
        b.put_u16(0);
        b.put_bytes(inner);
        b
    }

    #[test]
    fn sm2_pem_form_a() {
        assert_eq!(SM2_PEM.len(), 182);
        assert!(is_idis_form(SM2_PEM.as_bytes()));
        assert_eq!(parse(SM2_PEM.as_bytes()).unwrap(), IdisKey::Sm2(point()));
        // DER is the 91 bytes of §3.1.
        let (label, der) = pem_decode(SM2_PEM.as_bytes()).unwrap();
        assert_eq!(label, "PUBLIC KEY");
        assert_eq!(der.len(), 91);
        assert_eq!(hex::encode(&der[..27]), "3059301306072a8648ce3d020106082a811ccf5501822d03420004");
        // Other line endings and widths.
        let lf = SM2_PEM.replace("\r\n", "\n");
        assert_eq!(parse(lf.as_bytes()).unwrap(), IdisKey::Sm2(point()));
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let one_line = format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----");
        assert_eq!(parse(one_line.as_bytes()).unwrap(), IdisKey::Sm2(point()));
    }

    #[test]
    fn sm2_binary_form_b() {
        let b = form_b(SM2_PEM.as_bytes());
        // §3.2: "form B begins 0000000b 534d325f5055425f4b4559 0000 000000b6 2d2d2d2d2d…
        // (203 bytes)".
        assert_eq!(b.len(), 203);
        assert!(hex::encode(&b).starts_with("0000000b534d325f5055425f4b45590000000000b62d2d2d2d2d"));
        assert!(is_idis_form(&b));
        assert_eq!(parse(&b).unwrap(), IdisKey::Sm2(point()));
        let (_, der) = pem_decode(SM2_PEM.as_bytes()).unwrap();
        assert_eq!(parse(&form_b(&der)).unwrap(), IdisKey::Sm2(point()));
        assert_eq!(parse(&form_b(&point())).unwrap(), IdisKey::Sm2(point()));
        // Compressed or short points are refused.
        assert!(parse(&form_b(&point()[..33])).is_err());
    }

    #[test]
    fn sm9_and_junk() {
        let mut c = Vec::new();
        c.put_bytes(key_type::SM9);
        c.put_u16(0);
        c.put_bytes(b"Alice");
        assert_eq!(parse(&c).unwrap(), IdisKey::Sm9(b"Alice".to_vec()));
        assert!(!is_idis_form(b"\0\0\0\x0bRSA_PUB_KEY"));
        for junk in [
            &b"-----BEGIN PUBLIC KEY-----\r\n!!!\r\n-----END PUBLIC KEY-----"[..],
            b"-----BEGIN PUBLIC KEY-----\r\nMFkw\r\n",
            b"-----BEGIN CERTIFICATE-----\nMFkw\n-----END CERTIFICATE-----",
            b"-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----",
            b"",
        ] {
            assert!(parse(junk).is_err(), "{}", String::from_utf8_lossy(junk));
        }
    }
}
