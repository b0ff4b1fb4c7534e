//! Ecode (GB/T 31866, 物品编码 Ecode): version `V` + numbering-system
//! identifier `NSI` + master code `MD`, written as one run of characters.
//! The per-version field lengths and character sets live in
//! [`ECODE_VERSIONS`], a data table: idis-node.md §7.2 says Table 1 of
//! GB/T 31866-2023 was **not verified** here, so the rows below are the
//! 2015 edition's structure as commonly published and must be checked
//! against the standard before production (change the table, not code).
//! Version 0 is reserved for GS1 compatibility (2023 edition): such codes
//! are refused here with a pointer to the `gs1` scheme.
//!
//! Names (the Ecode zone is configured; no public root is known): our proposal,
//! `<MD>.<NSI>.<V>.<zone>` (most specific first, like ORS).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::dnsname::{self, NameError};

/// Characters a field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `0-9`.
    Digits,
    /// `0-9` and `A-Z` (letters case-insensitive, kept upper-case).
    DigitsUpper,
}

impl Charset {
    fn allows(self, c: char) -> bool {
        match self {
            Charset::Digits => c.is_ascii_digit(),
            Charset::DigitsUpper => c.is_ascii_digit() || c.is_ascii_uppercase(),
        }
    }
}

/// One row of the version table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcodeVersion {
    /// The version digit `V`.
    pub version: u8,
    /// Exact length of `NSI`, in characters (digits).
    pub nsi_len: usize,
    /// Longest `MD`, in characters.
    pub md_max: usize,
    /// Characters of `MD`.
    pub md_charset: Charset,
}

/// Version table (data, see the module docs for its provenance).
pub const ECODE_VERSIONS: &[EcodeVersion] = &[
    EcodeVersion { version: 1, nsi_len: 4, md_max: 20, md_charset: Charset::Digits },
    EcodeVersion { version: 2, nsi_len: 8, md_max: 24, md_charset: Charset::Digits },
    EcodeVersion { version: 3, nsi_len: 5, md_max: 39, md_charset: Charset::DigitsUpper },
    EcodeVersion { version: 4, nsi_len: 5, md_max: 57, md_charset: Charset::DigitsUpper },
];

/// Why a text is not an Ecode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EcodeError {
    #[error("Ecode is empty")]
    Empty,
    #[error("Ecode version {ch:?} is not a digit")]
    BadVersion { ch: char },
    #[error("Ecode version 0 is reserved for GS1 codes; bind the GS1 key under scheme gs1")]
    ReservedGs1,
    #[error("Ecode version {version} is not in the version table")]
    UnknownVersion { version: u8 },
    #[error("NSI of version {version} has {nsi_len} digits; only {found} characters follow the version")]
    ShortNsi { version: u8, nsi_len: usize, found: usize },
    #[error("NSI contains {ch:?} at position {pos}; it is digits only")]
    BadNsi { pos: usize, ch: char },
    #[error("master code is empty")]
    EmptyMd,
    #[error("master code has {len} characters; version {version} allows at most {max}")]
    MdTooLong { version: u8, len: usize, max: usize },
    #[error("master code contains {ch:?} at position {pos}, outside version {version}'s character set")]
    BadMd { version: u8, pos: usize, ch: char },
}

/// A validated Ecode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ecode {
    version: u8,
    nsi: String,
    md: String,
}

impl Ecode {
    /// Parses the text form `V NSI MD` (no separators; letters upper-cased).
    pub fn parse(text: &str) -> Result<Self, EcodeError> {
        let first = text.chars().next().ok_or(EcodeError::Empty)?;
        let version = first.to_digit(10).ok_or(EcodeError::BadVersion { ch: first })? as u8;
        Self::from_parts(version, &text[1..])
    }

    fn from_parts(version: u8, rest: &str) -> Result<Self, EcodeError> {
        if version == 0 {
            return Err(EcodeError::ReservedGs1);
        }
        let row = ECODE_VERSIONS.iter().find(|r| r.version == version).ok_or(EcodeError::UnknownVersion { version })?;
        let found = rest.chars().count();
        if found < row.nsi_len || !rest.is_char_boundary(row.nsi_len) {
            return Err(EcodeError::ShortNsi { version, nsi_len: row.nsi_len, found });
        }
        let (nsi, md) = rest.split_at(row.nsi_len);
        if let Some((pos, ch)) = nsi.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(EcodeError::BadNsi { pos, ch });
        }
        let md = md.to_ascii_uppercase();
        if md.is_empty() {
            return Err(EcodeError::EmptyMd);
        }
        let len = md.chars().count();
        if len > row.md_max {
            return Err(EcodeError::MdTooLong { version, len, max: row.md_max });
        }
        if let Some((pos, ch)) = md.chars().enumerate().find(|(_, c)| !row.md_charset.allows(*c)) {
            return Err(EcodeError::BadMd { version, pos, ch });
        }
        Ok(Ecode { version, nsi: nsi.to_owned(), md })
    }

    pub fn version(&self) -> u8 {
        self.version
    }
    pub fn nsi(&self) -> &str {
        &self.nsi
    }
    pub fn master_code(&self) -> &str {
        &self.md
    }

    /// `<MD>.<NSI>.<V>.<zone>`.
    pub fn to_dns_name(&self, zone: &str) -> Result<String, NameError> {
        dnsname::join(&[self.md.to_ascii_lowercase(), self.nsi.clone(), self.version.to_string()], zone)
    }

    /// Inverse of [`Ecode::to_dns_name`].
    pub fn from_dns_name(name: &str, zone: &str) -> Result<Self, NameError> {
        let shape = |why: String| NameError::Shape { scheme: "ecode", why };
        let labels = dnsname::labels_under(name, zone)?;
        let [md, nsi, v] = labels.as_slice() else {
            return Err(shape(format!("{} labels, expected 3 (MD.NSI.V)", labels.len())));
        };
        let version = match v.as_bytes() {
            [b] if b.is_ascii_digit() => b - b'0',
            _ => return Err(shape(format!("version label {v:?} is not one digit"))),
        };
        let row = ECODE_VERSIONS.iter().find(|r| r.version == version);
        if row.is_some_and(|r| r.nsi_len != nsi.len()) {
            return Err(shape(format!("NSI label {nsi:?} has the wrong length")));
        }
        Ecode::from_parts(version, &format!("{nsi}{md}")).map_err(|e| shape(e.to_string()))
    }
}

impl fmt::Display for Ecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.version, self.nsi, self.md)
    }
}

impl FromStr for Ecode {
    type Err = EcodeError;
    fn from_str(s: &str) -> Result<Self, EcodeError> {
        Ecode::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ZONE: &str = "ecode.example";

    #[test]
    fn fields_and_errors() {
        let e = Ecode::parse("1000100000000000012345").unwrap();
        assert_eq!((e.version(), e.nsi(), e.master_code()), (1, "0001", "00000000000012345"));
        assert_eq!(e.to_dns_name(ZONE).unwrap(), "00000000000012345.0001.1.ecode.example");
        assert_eq!(Ecode::parse("3123456ab9").unwrap().to_string(), "3123456AB9");
        assert_eq!(Ecode::parse(""), Err(EcodeError::Empty));
        assert_eq!(Ecode::parse("0690"), Err(EcodeError::ReservedGs1));
        assert_eq!(Ecode::parse("9123"), Err(EcodeError::UnknownVersion { version: 9 }));
        assert_eq!(Ecode::parse("X1"), Err(EcodeError::BadVersion { ch: 'X' }));
        assert_eq!(Ecode::parse("1001"), Err(EcodeError::ShortNsi { version: 1, nsi_len: 4, found: 3 }));
        assert_eq!(Ecode::parse("10a011"), Err(EcodeError::BadNsi { pos: 1, ch: 'a' }));
        assert_eq!(Ecode::parse("10001"), Err(EcodeError::EmptyMd));
        assert_eq!(Ecode::parse("10001A"), Err(EcodeError::BadMd { version: 1, pos: 0, ch: 'A' }));
        assert!(matches!(Ecode::parse(&format!("10001{}", "1".repeat(21))), Err(EcodeError::MdTooLong { .. })));
        assert!(Ecode::from_dns_name("1.0001.1.other", ZONE).is_err());
    }

    fn ecode() -> impl Strategy<Value = String> {
        (0..ECODE_VERSIONS.len()).prop_flat_map(|i| {
            let row = ECODE_VERSIONS[i];
            let md = match row.md_charset {
                Charset::Digits => format!("[0-9]{{1,{}}}", row.md_max),
                Charset::DigitsUpper => format!("[0-9A-Z]{{1,{}}}", row.md_max),
            };
            (
                Just(row.version),
                proptest::string::string_regex(&format!("[0-9]{{{}}}", row.nsi_len)).unwrap(),
                proptest::string::string_regex(&md).unwrap(),
            )
                .prop_map(|(v, nsi, md)| format!("{v}{nsi}{md}"))
        })
    }

    proptest! {
        #[test]
        fn name_and_ecode_are_inverse(text in ecode()) {
            let e = Ecode::parse(&text).unwrap();
            prop_assert_eq!(e.to_string(), text);
            let name = e.to_dns_name(ZONE).unwrap();
            prop_assert_eq!(Ecode::from_dns_name(&name.to_ascii_uppercase(), ZONE).unwrap(), e);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,70}") {
            let _ = Ecode::parse(&text);
            let _ = Ecode::from_dns_name(&text, ZONE);
        }
    }
}
