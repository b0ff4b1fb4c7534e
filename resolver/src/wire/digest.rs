//! The request digest that starts a response body (handle-protocol.md §2
//! "Request digest"): `u8 hashType` + the digest of the request's 24-byte
//! header and body (not the envelope, not the credential). Pure functions;
//! no I/O.

use std::fmt;

use idnode_registry::model::wire::{Reader, WriteExt};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use super::envelope::ProtocolVersion;
use super::error::DecodeError;
use idnode_registry::model::wire::WireError;

/// The hash of a request digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    /// Before 2.1: `bytes` (u32 length + 16-byte MD5), no type byte.
    LegacyMd5,
    /// Type 1, 16 bytes.
    Md5,
    /// Type 2, 20 bytes (2.1 – 2.6).
    Sha1,
    /// Type 3, 32 bytes (≥ 2.7).
    Sha256,
}

impl DigestAlg {
    /// The algorithm a response of version `v` uses: SHA-256 for ≥ 2.7,
    /// SHA-1 for 2.1–2.6, the old MD5 format below 2.1.
    pub fn for_version(v: ProtocolVersion) -> DigestAlg {
        if v.uses_sha256() {
            DigestAlg::Sha256
        } else if v.has_typed_digest() {
            DigestAlg::Sha1
        } else {
            DigestAlg::LegacyMd5
        }
    }

    /// The hash-type byte (0 for the legacy format, which has none).
    pub fn type_byte(self) -> u8 {
        match self {
            DigestAlg::LegacyMd5 => 0,
            DigestAlg::Md5 => 1,
            DigestAlg::Sha1 => 2,
            DigestAlg::Sha256 => 3,
        }
    }

    /// The typed algorithm for a hash-type byte (1, 2, 3).
    pub fn from_type_byte(b: u8) -> Option<DigestAlg> {
        match b {
            1 => Some(DigestAlg::Md5),
            2 => Some(DigestAlg::Sha1),
            3 => Some(DigestAlg::Sha256),
            _ => None,
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            DigestAlg::LegacyMd5 | DigestAlg::Md5 => 16,
            DigestAlg::Sha1 => 20,
            DigestAlg::Sha256 => 32,
        }
    }
}

/// A request digest: algorithm + digest bytes, stored inline (no
/// allocation, `Copy`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestDigest {
    alg: DigestAlg,
    bytes: [u8; 32],
}

impl fmt::Debug for RequestDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestDigest({:?}, {})", self.alg, hex::encode(self.as_bytes()))
    }
}

impl RequestDigest {
    /// Hashes `header_and_body` (the request's 24-byte header and body,
    /// e.g. [`Frame::header_and_body`](super::Frame::header_and_body)).
    pub fn compute(alg: DigestAlg, header_and_body: &[u8]) -> RequestDigest {
        let mut bytes = [0u8; 32];
        match alg {
            DigestAlg::LegacyMd5 | DigestAlg::Md5 => {
                bytes[..16].copy_from_slice(&Md5::digest(header_and_body));
            }
            DigestAlg::Sha1 => bytes[..20].copy_from_slice(&Sha1::digest(header_and_body)),
            DigestAlg::Sha256 => bytes.copy_from_slice(&Sha256::digest(header_and_body)),
        }
        RequestDigest { alg, bytes }
    }

    /// Wraps digest bytes; `None` unless `digest` has the algorithm's length.
    pub fn new(alg: DigestAlg, digest: &[u8]) -> Option<RequestDigest> {
        if digest.len() != alg.digest_len() {
            return None;
        }
        let mut bytes = [0u8; 32];
        bytes[..digest.len()].copy_from_slice(digest);
        Some(RequestDigest { alg, bytes })
    }

    pub fn alg(&self) -> DigestAlg {
        self.alg
    }

    /// The digest bytes (16, 20 or 32).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.alg.digest_len()]
    }

    /// True when this is the digest of `header_and_body`.
    pub fn matches(&self, header_and_body: &[u8]) -> bool {
        RequestDigest::compute(self.alg, header_and_body) == *self
    }

    /// Bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        match self.alg {
            DigestAlg::LegacyMd5 => 4 + 16,
            alg => 1 + alg.digest_len(),
        }
    }

    /// Appends the wire form: type byte + digest, or `bytes` MD5 (legacy).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self.alg {
            DigestAlg::LegacyMd5 => out.put_bytes(self.as_bytes()),
            alg => {
                out.put_u8(alg.type_byte());
                out.extend_from_slice(self.as_bytes());
            }
        }
    }

    /// Reads a digest in the format of a message of version `version`.
    pub fn decode(r: &mut Reader<'_>, version: ProtocolVersion) -> Result<Self, DecodeError> {
        if !version.has_typed_digest() {
            let b = r.bytes_limited("legacy request digest", 16)?;
            return RequestDigest::new(DigestAlg::LegacyMd5, b).ok_or(DecodeError::Wire(WireError::Invalid {
                what: "legacy request digest",
                detail: format!("{} bytes, expected 16", b.len()),
            }));
        }
        let t = r.u8()?;
        let alg = DigestAlg::from_type_byte(t).ok_or(DecodeError::UnknownDigestType(t))?;
        let b = r.take(alg.digest_len())?;
        let mut bytes = [0u8; 32];
        bytes[..b.len()].copy_from_slice(b);
        Ok(RequestDigest { alg, bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_by_version() {
        assert_eq!(DigestAlg::for_version(ProtocolVersion::OURS), DigestAlg::Sha256);
        assert_eq!(DigestAlg::for_version(ProtocolVersion::new(2, 7)), DigestAlg::Sha256);
        assert_eq!(DigestAlg::for_version(ProtocolVersion::new(2, 6)), DigestAlg::Sha1);
        assert_eq!(DigestAlg::for_version(ProtocolVersion::new(2, 1)), DigestAlg::Sha1);
        assert_eq!(DigestAlg::for_version(ProtocolVersion::new(2, 0)), DigestAlg::LegacyMd5);
    }

    #[test]
    fn encode_decode_each() {
        for alg in [DigestAlg::LegacyMd5, DigestAlg::Md5, DigestAlg::Sha1, DigestAlg::Sha256] {
            let d = RequestDigest::compute(alg, b"abc");
            let mut out = Vec::new();
            d.encode(&mut out);
            assert_eq!(out.len(), d.encoded_len());
            let v = if alg == DigestAlg::LegacyMd5 { ProtocolVersion::new(2, 0) } else { ProtocolVersion::OURS };
            let mut r = Reader::new(&out);
            assert_eq!(RequestDigest::decode(&mut r, v).unwrap(), d);
            assert!(r.is_empty());
            assert!(d.matches(b"abc"));
        }
        let d = RequestDigest::compute(DigestAlg::Sha256, b"abc");
        assert_eq!(hex::encode(d.as_bytes()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let mut r = Reader::new(&[9, 0, 0]);
        assert_eq!(RequestDigest::decode(&mut r, ProtocolVersion::OURS), Err(DecodeError::UnknownDigestType(9)));
    }
}
