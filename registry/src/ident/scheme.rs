//! The foreign identifier schemes a VAA identifier can be aliased from
//! (idis-node.md §7.4 "mapping"): one place that turns `(scheme, code)` into
//! the canonical code stored as an alias key, so the HTTP APIs, the DNS
//! front and the store agree on spelling.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::ecode::{Ecode, EcodeError};
use super::gs1::{Gs1Error, Gs1Key};
use super::oid::{Oid, OidError};

/// A foreign scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Oid,
    Ecode,
    Gs1,
}

impl Scheme {
    /// Every scheme, in a fixed order (metrics labels, listings).
    pub const ALL: [Scheme; 3] = [Scheme::Oid, Scheme::Ecode, Scheme::Gs1];

    /// The name used in APIs, alias keys and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Oid => "oid",
            Scheme::Ecode => "ecode",
            Scheme::Gs1 => "gs1",
        }
    }

    /// Validates `code` and returns its canonical text.
    pub fn canonical(self, code: &str) -> Result<String, CodeError> {
        Ok(match self {
            Scheme::Oid => Oid::parse(code)?.to_string(),
            Scheme::Ecode => Ecode::parse(code)?.to_string(),
            Scheme::Gs1 => Gs1Key::parse(code)?.to_string(),
        })
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scheme {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, CodeError> {
        Scheme::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| CodeError::UnknownScheme { scheme: s.to_owned() })
    }
}

/// The alias form a client can ask any door for: `<scheme>:<code>` with no
/// `/` (so it never collides with a `prefix/suffix` handle), e.g.
/// `gs1:06901234567892`. Returns the scheme and the code as written.
pub fn split_alias(text: &str) -> Option<(Scheme, &str)> {
    if text.contains('/') {
        return None;
    }
    let (scheme, code) = text.split_once(':')?;
    let scheme = scheme.parse().ok()?;
    Some((scheme, code))
}

/// Why a `(scheme, code)` pair was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CodeError {
    #[error("unknown scheme {scheme:?}; expected oid, ecode or gs1")]
    UnknownScheme { scheme: String },
    #[error("invalid OID: {0}")]
    Oid(#[from] OidError),
    #[error("invalid Ecode: {0}")]
    Ecode(#[from] EcodeError),
    #[error("invalid GS1 key: {0}")]
    Gs1(#[from] Gs1Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_codes() {
        assert_eq!(Scheme::Gs1.canonical("6901234567892").unwrap(), "06901234567892");
        assert_eq!(Scheme::Oid.canonical("1.2.156.A").unwrap(), "1.2.156.a");
        assert_eq!("OID".parse::<Scheme>().unwrap(), Scheme::Oid);
        assert!(matches!("isbn".parse::<Scheme>(), Err(CodeError::UnknownScheme { .. })));
        assert!(matches!(Scheme::Ecode.canonical("0123"), Err(CodeError::Ecode(EcodeError::ReservedGs1))));
        assert_eq!(split_alias("GS1:6901234567892"), Some((Scheme::Gs1, "6901234567892")));
        assert_eq!(split_alias("88.1/gs1:1"), None);
        assert_eq!(split_alias("isbn:1"), None);
    }
}
