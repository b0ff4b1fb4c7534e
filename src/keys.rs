//! Key material on disk: the node's RSA server key pair and the admin secret.
//!
//! Owns generating them (RSA 2048 with the `rsa` crate, because ring cannot
//! generate RSA keys), writing them with mode 0600 without ever replacing an
//! existing file, reading them back, and the HS_PUBKEY encoding of a public
//! key (handle-protocol.md §4.2). Never logs or prints a private key or a
//! secret: `Debug` of [`ServerKey`] shows only a fingerprint.

use anyhow::{Context, Result};
use base64::Engine as _;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::config::Secret;

/// Key size of generated server keys.
pub const RSA_BITS: usize = 2048;

/// HS_PUBKEY key type of RSA keys.
const RSA_KEY_TYPE: &[u8] = b"RSA_PUB_KEY";

/// The node's server key pair.
#[derive(Clone)]
pub struct ServerKey {
    private: RsaPrivateKey,
    hs_pubkey: Vec<u8>,
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKey")
            .field("bits", &(self.private.size() * 8))
            .field("sha256", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl ServerKey {
    /// A fresh RSA 2048 key pair from the OS random generator.
    pub fn generate() -> Result<ServerKey> {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS).context("generating an RSA key")?;
        Ok(ServerKey::from_private(private))
    }

    fn from_private(private: RsaPrivateKey) -> ServerKey {
        let hs_pubkey = hs_pubkey_rsa(&RsaPublicKey::from(&private));
        ServerKey { private, hs_pubkey }
    }

    /// Reads a PKCS#8 PEM private key.
    pub fn load(path: &Path) -> Result<ServerKey> {
        let pem = std::fs::read_to_string(path).with_context(|| format!("reading server key {}", path.display()))?;
        let private = RsaPrivateKey::from_pkcs8_pem(&pem)
            .map_err(|e| anyhow::anyhow!("{}: not a PKCS#8 PEM RSA private key: {e}", path.display()))?;
        Ok(ServerKey::from_private(private))
    }

    /// Writes the private key as PKCS#8 PEM, mode 0600. Fails if `path` exists.
    pub fn write_new(&self, path: &Path) -> Result<()> {
        let pem = self.private.to_pkcs8_pem(LineEnding::LF).context("encoding the server key")?;
        write_private_file(path, pem.as_bytes())
    }

    /// The private key, for signing.
    pub fn private(&self) -> &RsaPrivateKey {
        &self.private
    }

    /// The public key in HS_PUBKEY encoding (for HS_SITE and HS_PUBKEY values).
    pub fn hs_pubkey(&self) -> &[u8] {
        &self.hs_pubkey
    }

    /// SHA-256 of the HS_PUBKEY encoding, hex; safe to log.
    pub fn fingerprint(&self) -> String {
        hex::encode(ring::digest::digest(&ring::digest::SHA256, &self.hs_pubkey))
    }

    /// HS_PUBKEY bytes as base64 (the form the Handle JSON API uses).
    pub fn hs_pubkey_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.hs_pubkey)
    }
}

/// The key that signs certified answers: `handle.signing_key_file` (RSA or
/// DSA, PKCS#8 PEM) when set, else the server key.
pub fn signer(
    cfg: &crate::config::Config,
    server_key: &ServerKey,
) -> Result<idnode_resolver::auth::sign::ServerSigner> {
    use idnode_resolver::auth::sign::ServerSigner;
    match &cfg.handle.signing_key_file {
        None => Ok(ServerSigner::rsa(server_key.private().clone())),
        Some(p) => {
            let path = cfg.resolve_path(p);
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("reading handle.signing_key_file {}", path.display()))?;
            ServerSigner::from_pkcs8_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
    }
}

/// HS_PUBKEY data of an RSA key (handle-protocol.md §4.2): `bytes keyType`
/// ("RSA_PUB_KEY"), `u16 flags` (0), `bytes exponent`, `bytes modulus`, the
/// integers big-endian two's complement as Java's `BigInteger.toByteArray`
/// writes them (a leading 0x00 when the top bit is set).
pub fn hs_pubkey_rsa(key: &RsaPublicKey) -> Vec<u8> {
    use idnode_registry::model::wire::WriteExt;
    let mut out = Vec::with_capacity(300);
    out.put_bytes(RSA_KEY_TYPE);
    out.put_u16(0);
    out.put_bytes(&java_unsigned_bytes(&key.e().to_bytes_be()));
    out.put_bytes(&java_unsigned_bytes(&key.n().to_bytes_be()));
    out
}

/// Big-endian magnitude -> two's-complement bytes of a non-negative integer.
fn java_unsigned_bytes(magnitude: &[u8]) -> Vec<u8> {
    let trimmed = match magnitude.iter().position(|b| *b != 0) {
        Some(i) => &magnitude[i..],
        None => return vec![0],
    };
    let mut out = Vec::with_capacity(trimmed.len() + 1);
    if trimmed[0] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
    out
}

/// A new random admin secret: 32 random bytes as unpadded URL-safe base64
/// text (43 characters), so it can be typed, pasted into HTTP Basic auth or
/// a CNRI client's secret-key prompt.
pub fn generate_admin_secret() -> Secret {
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw).into_bytes())
}

/// Writes a secret file (with a trailing newline), mode 0600. Fails if `path` exists.
pub fn write_secret(path: &Path, secret: &Secret) -> Result<()> {
    let mut bytes = secret.expose().to_vec();
    bytes.push(b'\n');
    write_private_file(path, &bytes)
}

/// Creates `path` with mode 0600 (never replacing a file) and syncs it.
fn write_private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    f.sync_all().with_context(|| format!("syncing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use idnode_registry::model::wire::Reader;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn java_integer_bytes() {
        assert_eq!(java_unsigned_bytes(&[0x01, 0x00, 0x01]), vec![0x01, 0x00, 0x01]);
        assert_eq!(java_unsigned_bytes(&[0x00, 0x80]), vec![0x00, 0x80]);
        assert_eq!(java_unsigned_bytes(&[0xff]), vec![0x00, 0xff]);
        assert_eq!(java_unsigned_bytes(&[]), vec![0]);
    }

    #[test]
    fn generate_write_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        let key = ServerKey::generate().unwrap();
        key.write_new(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(key.write_new(&path).is_err(), "must not overwrite");
        let loaded = ServerKey::load(&path).unwrap();
        assert_eq!(loaded.hs_pubkey(), key.hs_pubkey());
        assert!(!format!("{key:?}").contains("BEGIN"));

        // HS_PUBKEY layout: keyType, flags, exponent 65537, 2048-bit modulus.
        let mut r = Reader::new(key.hs_pubkey());
        assert_eq!(r.bytes("type").unwrap(), b"RSA_PUB_KEY");
        assert_eq!(r.u16().unwrap(), 0);
        assert_eq!(r.bytes("e").unwrap(), &[0x01, 0x00, 0x01]);
        let n = r.bytes("n").unwrap();
        assert_eq!(n.len(), 257);
        assert_eq!(n[0], 0);
        r.finish("HS_PUBKEY").unwrap();
    }

    #[test]
    fn admin_secret_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.secret");
        let s = generate_admin_secret();
        assert_eq!(s.expose().len(), 43);
        assert_ne!(generate_admin_secret(), s);
        write_secret(&path, &s).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(Secret::from_file(&path).unwrap(), s);
        assert!(write_secret(&path, &s).is_err());
    }
}
