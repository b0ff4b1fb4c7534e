//! [`Secret`]: bytes read from a secret file, redacted in `Debug`.

use std::fmt;
use std::path::Path;

/// A secret read from a file (admin secret, later TLS private keys).
/// `Debug` prints `Secret(<redacted>)`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// Reads a secret file; one trailing newline is not part of the secret.
    /// Warns (without the secret) when the file is readable by others.
    pub fn from_file(path: &Path) -> std::io::Result<Secret> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)?;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "secret file is accessible by group or others; chmod 600 it");
        }
        let mut bytes = std::fs::read(path)?;
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        if bytes.is_empty() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "secret file is empty"));
        }
        Ok(Secret(bytes))
    }

    /// The secret bytes. Never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}
