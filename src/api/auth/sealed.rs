//! The SNMS hashed-login verifier at rest, sealed.
//!
//! `/identity/token/v1` (snms-api.md §2.2) checks `SHA-256(h1 + date)`, so
//! the node must be able to recompute it from `h1 = SHA-256(password)`: an
//! Argon2 hash of `h1` (which the plain login uses) cannot serve that login.
//! Keeping `h1` itself in the store would make every store copy, export or
//! backup a list of password-equivalents. So the store keeps `h1` only
//! sealed with ChaCha20-Poly1305 (ring) under a 256-bit key held in a file
//! of the data directory (`credentials.key`, mode 0600, created on first
//! use) and never in the store: the store alone yields neither the
//! password nor anything that logs in. Reading both the key file and the
//! store is the same access as running the node.
//!
//! Stored form: `sealed1:` + base64(12-byte nonce ‖ ciphertext ‖ tag), the
//! account name bound as associated data so a sealed value cannot be moved
//! to another account. [`Sealer::migrate`] seals a plain `h1` left by older
//! versions (on every daemon start).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

/// Prefix of a sealed verifier.
pub const SEALED_TAG: &str = "sealed1:";
/// Key file name in the data directory.
pub const KEY_FILE: &str = "credentials.key";

/// Seals and opens `h1` verifiers; the key is loaded (or created) on first
/// use.
#[derive(Debug)]
pub struct Sealer {
    path: PathBuf,
    key: OnceLock<Result<Key, String>>,
}

struct Key(LessSafeKey);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Sealer {
    /// A sealer whose key lives in `<data_dir>/credentials.key`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Sealer { path: data_dir.join(KEY_FILE), key: OnceLock::new() }
    }

    fn key(&self) -> Result<&LessSafeKey, String> {
        match self.key.get_or_init(|| load_or_create(&self.path)) {
            Ok(k) => Ok(&k.0),
            Err(e) => Err(e.clone()),
        }
    }

    /// The stored form of `h1` for `account`.
    pub fn seal(&self, account: &str, h1: &str) -> Result<String, String> {
        let key = self.key()?;
        let mut nonce = [0u8; 12];
        rand::fill(&mut nonce);
        let mut buf = h1.as_bytes().to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(account.as_bytes()), &mut buf)
            .map_err(|_| "sealing failed".to_owned())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{SEALED_TAG}{}", STANDARD.encode(out)))
    }

    /// `h1` back from its stored form; `None` when it is not a sealed value
    /// of this node for `account`.
    pub fn open(&self, account: &str, stored: &str) -> Option<String> {
        let raw = STANDARD.decode(stored.strip_prefix(SEALED_TAG)?).ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let key = self.key().ok()?;
        let (nonce, sealed) = raw.split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = sealed.to_vec();
        let plain = key.open_in_place(nonce, Aad::from(account.as_bytes()), &mut buf).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// What to store instead of a verifier found in the store: a plain
    /// `h1` is sealed (or dropped when hashed login is off); a sealed one
    /// stays (or is dropped when hashed login is off). `None` = unchanged.
    pub fn migrate(&self, account: &str, stored: &str, hashed_login: bool) -> Option<Option<String>> {
        if !hashed_login {
            return Some(None);
        }
        if stored.starts_with(SEALED_TAG) {
            return None;
        }
        match self.seal(account, &stored.trim().to_ascii_lowercase()) {
            Ok(s) => Some(Some(s)),
            Err(e) => {
                tracing::error!(error = %e, "cannot seal a stored hashed-login verifier");
                None
            }
        }
    }
}

fn load_or_create(path: &Path) -> Result<Key, String> {
    let bytes = match std::fs::read_to_string(path) {
        Ok(text) => hex::decode(text.trim()).map_err(|_| format!("{} is not 64 hex digits", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut k = [0u8; 32];
            rand::fill(&mut k);
            write_new(path, format!("{}\n", hex::encode(k)).as_bytes())
                .map_err(|e| format!("creating {}: {e}", path.display()))?;
            k.to_vec()
        }
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    let unbound =
        UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| format!("{} is not a 256-bit key", path.display()))?;
    Ok(Key(LessSafeKey::new(unbound)))
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_binds_the_account() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sealer::in_data_dir(dir.path());
        let h1 = "fef430cebfc2f01606cc7b4f96d4ba0147b6f6c69c3ebe05a3b90f1fdd7537d1";
        let sealed = s.seal("demo", h1).unwrap();
        assert!(sealed.starts_with(SEALED_TAG) && !sealed.contains(h1));
        assert_eq!(s.open("demo", &sealed).as_deref(), Some(h1));
        assert_eq!(s.open("other", &sealed), None, "bound to its account");
        assert_eq!(s.open("demo", h1), None, "a plain value is not a sealed one");
        // Another node's key cannot open it; the same key file can.
        let other = tempfile::tempdir().unwrap();
        assert_eq!(Sealer::in_data_dir(other.path()).open("demo", &sealed), None);
        assert_eq!(Sealer::in_data_dir(dir.path()).open("demo", &sealed).as_deref(), Some(h1));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Migration.
        assert!(s.migrate("demo", &sealed, true).is_none());
        let m = s.migrate("demo", h1, true).unwrap().unwrap();
        assert_eq!(s.open("demo", &m).as_deref(), Some(h1));
        assert_eq!(s.migrate("demo", h1, false), Some(None));
    }
}
