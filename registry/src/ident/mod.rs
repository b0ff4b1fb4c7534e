//! Identifier grammar for Handle / VAA identifiers (idis-node.md §2,
//! handle-protocol.md §7 and §9.1). Pure functions over bytes: no I/O, no
//! clock, no allocation on the canonicalisation hot path beyond the buffer
//! the caller hands in.
//!
//! * An identifier is `prefix/suffix`, split at the **first** `/`. A string
//!   without `/` is a prefix and stands for the prefix handle `0.NA/<it>`
//!   ([`Identifier::to_prefix_handle`]).
//! * The prefix is compared ASCII-case-insensitively; the suffix is kept
//!   byte-for-byte unless the prefix's [`CasePolicy`] says otherwise.
//!   Handles in the `0.NA` global namespace are upper-cased whole. There is
//!   no Unicode case folding or normalisation anywhere.
//! * The identifier exactly as asked is kept ([`Identifier::as_str`]) so that
//!   answers can echo it (pyhandle compares with `==`).

pub mod dnsname;
pub mod ecode;
pub mod gs1;
pub mod oid;
pub mod scheme;
pub mod vaa;

use std::fmt;

use thiserror::Error;

/// Largest handle in the binary protocol, in bytes (idis-node.md §2.2).
pub const MAX_HANDLE_BYTES: usize = crate::model::wire::MAX_HANDLE_LEN;
/// Largest `handle` accepted by the HTTP APIs (SNMS / REST), in characters.
pub const MAX_HTTP_HANDLE_CHARS: usize = 255;
/// Largest enterprise prefix accepted by the SNMS API, in characters.
pub const MAX_SNMS_PREFIX_CHARS: usize = 64;
/// The global-namespace prefix (`0.NA/<prefix>` prefix handles).
pub const GLOBAL_NA: &str = "0.NA";

/// Which length limit an identifier broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LengthLimit {
    /// [`MAX_HANDLE_BYTES`] (binary protocol), counted in bytes.
    HandleBytes,
    /// [`MAX_HTTP_HANDLE_CHARS`] (HTTP APIs), counted in characters.
    HttpChars,
    /// [`MAX_SNMS_PREFIX_CHARS`] (SNMS prefix), counted in characters.
    PrefixChars,
}

impl fmt::Display for LengthLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LengthLimit::HandleBytes => "handle bytes",
            LengthLimit::HttpChars => "HTTP handle characters",
            LengthLimit::PrefixChars => "prefix characters",
        })
    }
}

/// Why an identifier was refused. Every variant names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdentError {
    /// Nothing at all.
    #[error("identifier is empty")]
    Empty,
    /// `/suffix`: nothing before the first `/`.
    #[error("identifier has an empty prefix (nothing before the first '/')")]
    EmptyPrefix,
    /// `prefix/`: nothing after the first `/`.
    #[error("identifier has an empty suffix (nothing after the first '/')")]
    EmptySuffix,
    /// Longer than the limit that applies.
    #[error("identifier too long: {len} {limit} exceeds the limit of {max}")]
    TooLong { limit: LengthLimit, len: usize, max: usize },
    /// Not UTF-8; `offset` is the byte offset of the first invalid byte.
    #[error("identifier is not valid UTF-8 at byte offset {offset}")]
    InvalidUtf8 { offset: usize },
    /// A control character (C0, DEL or C1) at byte offset `offset`.
    #[error("identifier contains control character U+{code:04X} at byte offset {offset}")]
    ControlChar { offset: usize, code: u32 },
    /// A prefix segment between dots is empty (`88..1`, `.88`, `88.`).
    #[error("prefix has an empty segment at byte offset {offset}")]
    EmptySegment { offset: usize },
    /// A character a prefix may not contain (whitespace, `/`).
    #[error("prefix contains {ch:?} at byte offset {offset}, which is not allowed in a prefix")]
    InvalidPrefixChar { offset: usize, ch: char },
}

/// How the suffix of identifiers under a prefix is canonicalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub enum CasePolicy {
    /// Suffix kept byte-for-byte (the default; CNRI `case_sensitive = yes`).
    #[default]
    CaseSensitive,
    /// Suffix ASCII-upper-cased (CNRI `case_sensitive = no`).
    CaseInsensitive,
}

/// A parsed identifier, kept exactly as asked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    raw: String,
    /// Byte position of the first `/`, if any.
    slash: Option<usize>,
}

impl fmt::Debug for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identifier({:?})", self.raw)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for Identifier {
    type Err = IdentError;
    fn from_str(s: &str) -> Result<Self, IdentError> {
        Identifier::parse(s)
    }
}

impl Identifier {
    /// Parses an identifier from the binary protocol: UTF-8, at most
    /// [`MAX_HANDLE_BYTES`] bytes, no control characters, non-empty prefix
    /// and (when there is a `/`) non-empty suffix.
    pub fn from_bytes(b: &[u8]) -> Result<Self, IdentError> {
        if b.len() > MAX_HANDLE_BYTES {
            return Err(IdentError::TooLong { limit: LengthLimit::HandleBytes, len: b.len(), max: MAX_HANDLE_BYTES });
        }
        let s = std::str::from_utf8(b).map_err(|e| IdentError::InvalidUtf8 { offset: e.valid_up_to() })?;
        Self::validate(s)?;
        Ok(Identifier { raw: s.to_owned(), slash: s.find('/') })
    }

    /// Parses an identifier given as text (same rules as [`from_bytes`](Self::from_bytes)).
    pub fn parse(s: &str) -> Result<Self, IdentError> {
        if s.len() > MAX_HANDLE_BYTES {
            return Err(IdentError::TooLong { limit: LengthLimit::HandleBytes, len: s.len(), max: MAX_HANDLE_BYTES });
        }
        Self::validate(s)?;
        Ok(Identifier { raw: s.to_owned(), slash: s.find('/') })
    }

    /// Parses an identifier received over an HTTP API: also at most
    /// [`MAX_HTTP_HANDLE_CHARS`] characters.
    pub fn parse_http(s: &str) -> Result<Self, IdentError> {
        check_http_len(s)?;
        Self::parse(s)
    }

    fn validate(s: &str) -> Result<(), IdentError> {
        if s.is_empty() {
            return Err(IdentError::Empty);
        }
        check_no_control(s)?;
        match s.find('/') {
            Some(0) => Err(IdentError::EmptyPrefix),
            Some(i) if i + 1 == s.len() => Err(IdentError::EmptySuffix),
            _ => Ok(()),
        }
    }

    /// The identifier exactly as asked (for echoing).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The identifier's bytes exactly as asked.
    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_bytes()
    }

    /// Text before the first `/` (the whole string for a bare prefix).
    pub fn prefix(&self) -> &str {
        match self.slash {
            Some(i) => &self.raw[..i],
            None => &self.raw,
        }
    }

    /// Text after the first `/`; `None` for a bare prefix.
    pub fn suffix(&self) -> Option<&str> {
        self.slash.map(|i| &self.raw[i + 1..])
    }

    /// True for a bare prefix (no `/`), which names the prefix handle.
    pub fn is_bare_prefix(&self) -> bool {
        self.slash.is_none()
    }

    /// True when this is a handle in the `0.NA` global namespace.
    pub fn is_global_na(&self) -> bool {
        self.slash.is_some() && self.prefix().eq_ignore_ascii_case(GLOBAL_NA)
    }

    /// For a bare prefix `p`, the prefix handle `0.NA/P` (upper-cased, as
    /// CNRI builds it); any other identifier is returned unchanged.
    pub fn to_prefix_handle(&self) -> Identifier {
        match self.slash {
            Some(_) => self.clone(),
            None => {
                let raw = prefix_handle(&self.raw);
                Identifier { slash: Some(GLOBAL_NA.len()), raw }
            }
        }
    }

    /// The canonical store key under `policy` (see [`canonical_key_into`]).
    pub fn canonical_key(&self, policy: CasePolicy) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len() + 5);
        canonical_key_into(self.raw.as_bytes(), policy, &mut out);
        out
    }

    /// The canonical (ASCII-upper-cased) prefix.
    pub fn canonical_prefix(&self) -> String {
        self.prefix().to_ascii_uppercase()
    }
}

/// Fails on control characters (C0, DEL and C1 — `char::is_control`).
pub fn check_no_control(s: &str) -> Result<(), IdentError> {
    // Fast path: printable ASCII only.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(());
    }
    for (offset, ch) in s.char_indices() {
        if ch.is_control() {
            return Err(IdentError::ControlChar { offset, code: ch as u32 });
        }
    }
    Ok(())
}

/// The HTTP API limit: at most [`MAX_HTTP_HANDLE_CHARS`] characters.
pub fn check_http_len(s: &str) -> Result<(), IdentError> {
    // Byte length bounds the char count from above: skip counting when short.
    if s.len() > MAX_HTTP_HANDLE_CHARS {
        let n = s.chars().count();
        if n > MAX_HTTP_HANDLE_CHARS {
            return Err(IdentError::TooLong { limit: LengthLimit::HttpChars, len: n, max: MAX_HTTP_HANDLE_CHARS });
        }
    }
    Ok(())
}

/// The SNMS prefix rules: 1..=[`MAX_SNMS_PREFIX_CHARS`] characters, no
/// control characters, whitespace or `/`, and no empty dot-separated segment.
pub fn check_snms_prefix(p: &str) -> Result<(), IdentError> {
    if p.is_empty() {
        return Err(IdentError::EmptyPrefix);
    }
    let n = p.chars().count();
    if n > MAX_SNMS_PREFIX_CHARS {
        return Err(IdentError::TooLong { limit: LengthLimit::PrefixChars, len: n, max: MAX_SNMS_PREFIX_CHARS });
    }
    check_prefix_chars(p)
}

/// Prefix rules without the SNMS length limit (used when homing a prefix):
/// non-empty, no control characters, whitespace or `/`, no empty segment.
pub fn check_prefix_chars(p: &str) -> Result<(), IdentError> {
    if p.is_empty() {
        return Err(IdentError::EmptyPrefix);
    }
    check_no_control(p)?;
    let mut seg_start = 0usize;
    for (offset, ch) in p.char_indices() {
        if ch == '/' || ch.is_whitespace() {
            return Err(IdentError::InvalidPrefixChar { offset, ch });
        }
        if ch == '.' {
            if offset == seg_start {
                return Err(IdentError::EmptySegment { offset });
            }
            seg_start = offset + 1;
        }
    }
    if seg_start == p.len() {
        return Err(IdentError::EmptySegment { offset: p.len() });
    }
    Ok(())
}

/// Writes the canonical store key of `handle` into `out` (cleared first).
///
/// * `0.NA/...` (any case): the whole handle ASCII-upper-cased.
/// * `prefix/suffix`: ASCII-upper-cased prefix, `/`, suffix as is
///   ([`CasePolicy::CaseSensitive`]) or ASCII-upper-cased
///   ([`CasePolicy::CaseInsensitive`]).
/// * no `/`: the key of the prefix handle `0.NA/<HANDLE>`.
///
/// No validation (parse first); never allocates beyond growing `out`.
pub fn canonical_key_into(handle: &[u8], policy: CasePolicy, out: &mut Vec<u8>) {
    out.clear();
    match memchr_slash(handle) {
        None => {
            out.reserve(handle.len() + 5);
            out.extend_from_slice(b"0.NA/");
            push_upper(out, handle);
        }
        Some(i) => {
            out.reserve(handle.len());
            let (prefix, rest) = handle.split_at(i);
            if prefix.eq_ignore_ascii_case(GLOBAL_NA.as_bytes()) || policy == CasePolicy::CaseInsensitive {
                push_upper(out, handle);
            } else {
                push_upper(out, prefix);
                out.extend_from_slice(rest);
            }
        }
    }
}

#[inline]
fn push_upper(out: &mut Vec<u8>, b: &[u8]) {
    out.extend(b.iter().map(u8::to_ascii_uppercase));
}

#[inline]
fn memchr_slash(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'/')
}

/// The part of `handle` before the first `/` (all of it when there is none).
pub fn prefix_of(handle: &[u8]) -> &[u8] {
    match memchr_slash(handle) {
        Some(i) => &handle[..i],
        None => handle,
    }
}

/// The prefix handle of `prefix`: `0.NA/` + the ASCII-upper-cased prefix.
pub fn prefix_handle(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 5);
    s.push_str("0.NA/");
    s.push_str(&prefix.to_ascii_uppercase());
    s
}

/// The canonical form of a prefix (ASCII upper case).
pub fn canonical_prefix(prefix: &str) -> String {
    prefix.to_ascii_uppercase()
}

/// The parent of a dotted prefix: `88.118.8.1001` -> `88.118.8`; `None`
/// for a single segment.
pub fn parent_prefix(prefix: &str) -> Option<&str> {
    prefix.rfind('.').map(|i| &prefix[..i])
}

/// `prefix` itself, then each parent: `88.118.8.1001`, `88.118.8`, `88.118`, `88`.
pub fn prefix_chain(prefix: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(if prefix.is_empty() { None } else { Some(prefix) }, |p| parent_prefix(p))
}

/// Byte version of [`prefix_chain`] (for the hot path on raw handles).
pub fn prefix_chain_bytes(prefix: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::successors(if prefix.is_empty() { None } else { Some(prefix) }, |p| {
        p.iter().rposition(|&c| c == b'.').map(|i| &p[..i])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str, p: CasePolicy) -> String {
        String::from_utf8(Identifier::parse(s).unwrap().canonical_key(p)).unwrap()
    }

    #[test]
    fn prefix_folded_suffix_kept() {
        let id = Identifier::parse("88.118.8.1001/Lot-a").unwrap();
        assert_eq!(id.prefix(), "88.118.8.1001");
        assert_eq!(id.suffix(), Some("Lot-a"));
        assert_eq!(key("abc.Def/Lot-a", CasePolicy::CaseSensitive), "ABC.DEF/Lot-a");
        assert_eq!(key("abc.Def/Lot-a", CasePolicy::CaseInsensitive), "ABC.DEF/LOT-A");
        // Suffix split at the first slash; later slashes belong to the suffix.
        assert_eq!(key("a/b/c", CasePolicy::CaseSensitive), "A/b/c");
        // No Unicode folding.
        assert_eq!(key("x.ä/ä", CasePolicy::CaseInsensitive), "X.ä/ä");
    }

    #[test]
    fn global_namespace() {
        assert_eq!(key("0.na/88.118.8.abc", CasePolicy::CaseSensitive), "0.NA/88.118.8.ABC");
        let bare = Identifier::parse("88.118.8.abc").unwrap();
        assert!(bare.is_bare_prefix());
        assert_eq!(bare.to_prefix_handle().as_str(), "0.NA/88.118.8.ABC");
        assert_eq!(bare.canonical_key(CasePolicy::CaseSensitive), b"0.NA/88.118.8.ABC");
        assert!(bare.to_prefix_handle().is_global_na());
        assert_eq!(bare.as_str(), "88.118.8.abc");
    }

    #[test]
    fn errors_are_precise() {
        assert_eq!(Identifier::parse(""), Err(IdentError::Empty));
        assert_eq!(Identifier::parse("/x"), Err(IdentError::EmptyPrefix));
        assert_eq!(Identifier::parse("88/"), Err(IdentError::EmptySuffix));
        assert_eq!(Identifier::from_bytes(b"88/a\xffb"), Err(IdentError::InvalidUtf8 { offset: 4 }));
        assert_eq!(Identifier::parse("88/a\nb"), Err(IdentError::ControlChar { offset: 4, code: 10 }));
        assert_eq!(check_snms_prefix("88..1"), Err(IdentError::EmptySegment { offset: 3 }));
        assert_eq!(check_snms_prefix("88.1."), Err(IdentError::EmptySegment { offset: 5 }));
        assert_eq!(check_snms_prefix("88 1"), Err(IdentError::InvalidPrefixChar { offset: 2, ch: ' ' }));
    }

    #[test]
    fn chain() {
        let v: Vec<&str> = prefix_chain("88.118.8.1001").collect();
        assert_eq!(v, ["88.118.8.1001", "88.118.8", "88.118", "88"]);
        let v: Vec<&[u8]> = prefix_chain_bytes(b"88.118").collect();
        assert_eq!(v, [&b"88.118"[..], b"88"]);
        assert_eq!(prefix_chain("").count(), 0);
    }
}
