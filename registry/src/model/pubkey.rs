//! The HS_PUBKEY value data (handle-protocol.md §4.2, idis-extensions.md
//! §3.2): a public key in the Handle binary encoding, or IDIS PEM text.
//!
//! Pure codec over bytes: no I/O and no cryptography (verifying signatures
//! is the auth module's job). Decoding never panics; every length is
//! limit-checked before anything is allocated.

use super::wire::{MAX_ARRAY, Reader, WireError, WriteExt};

/// Key type names of the Handle binary encoding.
pub mod key_type {
    pub const RSA: &[u8] = b"RSA_PUB_KEY";
    pub const DSA: &[u8] = b"DSA_PUB_KEY";
    pub const DH: &[u8] = b"DH_PUB_KEY";
    /// IDIS SM2 key (idis-extensions.md §3.2 form B); kept as
    /// [`PublicKey::Other`](super::PublicKey::Other).
    pub const SM2: &[u8] = b"SM2_PUB_KEY";
    /// IDIS SM9 identity (idis-extensions.md §3.2 form C); kept as
    /// [`PublicKey::Other`](super::PublicKey::Other).
    pub const SM9: &[u8] = b"SM9_PUB_KEY";
}

/// What IDIS PEM keys start with (idis-extensions.md §3.2 form A).
pub const PEM_MARKER: &[u8] = b"-----BEGIN";

/// A public key as stored in HS_PUBKEY values and in HS_SITE server
/// records. Integers are kept exactly as on the wire (two's-complement
/// big-endian as written by Java `BigInteger.toByteArray`, so possibly with
/// a leading 0x00) so that re-encoding is byte-identical.
///
/// `extra` holds whatever follows the last integer: CNRI 9.2 writes a
/// `u32 0` after the RSA modulus (seen in the §12 HS_SITE record), which
/// [`PublicKey::rsa`] reproduces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PublicKey {
    /// `bytes "RSA_PUB_KEY"`, `u16 flags`, `bytes exponent`, `bytes modulus`.
    Rsa { flags: u16, exponent: Vec<u8>, modulus: Vec<u8>, extra: Vec<u8> },
    /// `bytes "DSA_PUB_KEY"`, `u16 flags`, `bytes q`, `bytes p`, `bytes g`,
    /// `bytes y`.
    Dsa { flags: u16, q: Vec<u8>, p: Vec<u8>, g: Vec<u8>, y: Vec<u8>, extra: Vec<u8> },
    /// `bytes "DH_PUB_KEY"`, `u16 flags`, `bytes y`, `bytes p`, `bytes g`
    /// (seen in CNRI session setup, admin-batch vector).
    Dh { flags: u16, y: Vec<u8>, p: Vec<u8>, g: Vec<u8>, extra: Vec<u8> },
    /// IDIS form A: the whole value is PEM text (`-----BEGIN PUBLIC KEY-----`
    /// ...), without the Handle binary wrapper.
    Pem(Vec<u8>),
    /// Any other key type (SM2, SM9, ...): the type name and every byte after
    /// it (flags included), uninterpreted.
    Other { key_type: Vec<u8>, rest: Vec<u8> },
}

impl PublicKey {
    /// An RSA key in the form CNRI 9.2 writes: flags 0, exponent, modulus,
    /// then `u32 0`.
    pub fn rsa(exponent: Vec<u8>, modulus: Vec<u8>) -> Self {
        PublicKey::Rsa { flags: 0, exponent, modulus, extra: vec![0; 4] }
    }

    /// The key type name (`"RSA_PUB_KEY"`, ...; `"PEM"` for IDIS PEM).
    pub fn key_type(&self) -> &[u8] {
        match self {
            PublicKey::Rsa { .. } => key_type::RSA,
            PublicKey::Dsa { .. } => key_type::DSA,
            PublicKey::Dh { .. } => key_type::DH,
            PublicKey::Pem(_) => b"PEM",
            PublicKey::Other { key_type, .. } => key_type,
        }
    }

    /// Appends the encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PublicKey::Rsa { flags, exponent, modulus, extra } => {
                out.put_bytes(key_type::RSA);
                out.put_u16(*flags);
                out.put_bytes(exponent);
                out.put_bytes(modulus);
                out.extend_from_slice(extra);
            }
            PublicKey::Dsa { flags, q, p, g, y, extra } => {
                out.put_bytes(key_type::DSA);
                out.put_u16(*flags);
                for part in [q, p, g, y] {
                    out.put_bytes(part);
                }
                out.extend_from_slice(extra);
            }
            PublicKey::Dh { flags, y, p, g, extra } => {
                out.put_bytes(key_type::DH);
                out.put_u16(*flags);
                for part in [y, p, g] {
                    out.put_bytes(part);
                }
                out.extend_from_slice(extra);
            }
            PublicKey::Pem(text) => out.extend_from_slice(text),
            PublicKey::Other { key_type, rest } => {
                out.put_bytes(key_type);
                out.extend_from_slice(rest);
            }
        }
    }

    /// The encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes key data. RSA, DSA and DH keys must have all their fields
    /// (anything after them is kept in `extra`); other binary key types are
    /// kept raw; data starting with `-----BEGIN` is IDIS PEM.
    pub fn from_bytes(data: &[u8]) -> Result<Self, WireError> {
        if data.starts_with(PEM_MARKER) {
            return Ok(PublicKey::Pem(data.to_vec()));
        }
        let mut r = Reader::new(data);
        let kt = r.bytes("HS_PUBKEY key type")?;
        let key = match kt {
            key_type::RSA => {
                let flags = r.u16()?;
                let exponent = r.bytes_limited("RSA exponent", MAX_ARRAY)?.to_vec();
                let modulus = r.bytes_limited("RSA modulus", MAX_ARRAY)?.to_vec();
                PublicKey::Rsa { flags, exponent, modulus, extra: rest(&mut r)? }
            }
            key_type::DSA => {
                let flags = r.u16()?;
                let q = r.bytes("DSA q")?.to_vec();
                let p = r.bytes("DSA p")?.to_vec();
                let g = r.bytes("DSA g")?.to_vec();
                let y = r.bytes("DSA y")?.to_vec();
                PublicKey::Dsa { flags, q, p, g, y, extra: rest(&mut r)? }
            }
            key_type::DH => {
                let flags = r.u16()?;
                let y = r.bytes("DH y")?.to_vec();
                let p = r.bytes("DH p")?.to_vec();
                let g = r.bytes("DH g")?.to_vec();
                PublicKey::Dh { flags, y, p, g, extra: rest(&mut r)? }
            }
            other => PublicKey::Other { key_type: other.to_vec(), rest: rest(&mut r)? },
        };
        r.finish("HS_PUBKEY")?;
        Ok(key)
    }
}

fn rest(r: &mut Reader<'_>) -> Result<Vec<u8>, WireError> {
    Ok(r.take(r.remaining())?.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_round_trip() {
        let k = PublicKey::rsa(vec![1, 0, 1], vec![0, 0xa0, 0x77]);
        let b = k.to_bytes();
        assert_eq!(hex::encode(&b), "0000000b5253415f5055425f4b45590000000000030100010000000300a07700000000");
        assert_eq!(PublicKey::from_bytes(&b).unwrap(), k);
        // Without CNRI's trailing u32 it is still an RSA key.
        let short = PublicKey::from_bytes(&b[..b.len() - 4]).unwrap();
        assert!(matches!(&short, PublicKey::Rsa { extra, .. } if extra.is_empty()));
        assert_eq!(short.to_bytes(), &b[..b.len() - 4]);
        assert!(PublicKey::from_bytes(&b[..b.len() - 5]).is_err());
    }

    #[test]
    fn pem_and_other() {
        let pem = b"-----BEGIN PUBLIC KEY-----\r\nMFkw\r\n-----END PUBLIC KEY-----\r\n".to_vec();
        assert_eq!(PublicKey::from_bytes(&pem).unwrap(), PublicKey::Pem(pem.clone()));
        let mut sm2 = Vec::new();
        sm2.put_bytes(key_type::SM2);
        sm2.put_u16(0);
        sm2.put_bytes(&pem);
        let k = PublicKey::from_bytes(&sm2).unwrap();
        assert_eq!(k.key_type(), key_type::SM2);
        assert_eq!(k.to_bytes(), sm2);
    }
}
