//! OID grammar (ISO/IEC 9834-1 dotted form) with the Chinese registry's
//! practice (idis-node.md §7.1): total at most 100 bytes, an arc at most 63
//! bytes, no leading zero, letters case-insensitive, only `A-Z`, `0-9` and `-`
//! in an alphanumeric arc. And the ORS name mapping: arcs reversed under the
//! OID zone (`2.16.156.101818.102.1` -> `1.102.101818.156.16.2.oid-res.org`).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::dnsname::{self, NameError};

/// Largest OID in dotted text, in bytes (registry practice, GB/T 26231).
pub const MAX_OID_BYTES: usize = 100;
/// Largest arc, in bytes.
pub const MAX_ARC_BYTES: usize = 63;
/// The ORS zone (ITU-T X.672).
pub const ORS_ZONE: &str = "oid-res.org";
/// China's arc under iso.member-body (new registrations).
pub const CN_ISO: [&str; 3] = ["1", "2", "156"];
/// China's arc under joint-iso-itu-t.country.
pub const CN_JOINT: [&str; 3] = ["2", "16", "156"];

/// Why a text is not an OID.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OidError {
    #[error("OID is empty")]
    Empty,
    #[error("OID of {len} bytes exceeds the limit of {MAX_OID_BYTES}")]
    TooLong { len: usize },
    #[error("arc {index} is empty")]
    EmptyArc { index: usize },
    #[error("arc {index} has {len} bytes, more than {MAX_ARC_BYTES}")]
    ArcTooLong { index: usize, len: usize },
    #[error("arc {index} ({arc:?}) has a leading zero")]
    LeadingZero { index: usize, arc: String },
    #[error("arc {index} contains {ch:?}; only A-Z, 0-9 and '-' are allowed")]
    BadChar { index: usize, ch: char },
    #[error("arc {index} ({arc:?}) must not start or end with '-'")]
    EdgeHyphen { index: usize, arc: String },
    #[error("the first arc must be 0, 1 or 2, not {arc:?}")]
    BadRoot { arc: String },
    #[error("under root {root} the second arc must be a number below 40, not {arc:?}")]
    BadSecond { root: String, arc: String },
    #[error("an OID needs at least two arcs")]
    TooShort,
}

/// A validated OID. Numeric arcs are kept as digit strings (no size limit);
/// alphanumeric arcs are kept in lower case (they compare case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Oid {
    arcs: Vec<String>,
}

impl Oid {
    /// Parses dotted text such as `1.2.156.3001.1`.
    pub fn parse(text: &str) -> Result<Self, OidError> {
        if text.is_empty() {
            return Err(OidError::Empty);
        }
        if text.len() > MAX_OID_BYTES {
            return Err(OidError::TooLong { len: text.len() });
        }
        let mut arcs = Vec::new();
        for (index, arc) in text.split('.').enumerate() {
            arcs.push(check_arc(index, arc)?);
        }
        Self::from_arcs(arcs)
    }

    fn from_arcs(arcs: Vec<String>) -> Result<Self, OidError> {
        if arcs.len() < 2 {
            return Err(OidError::TooShort);
        }
        let root = &arcs[0];
        if !matches!(root.as_str(), "0" | "1" | "2") {
            return Err(OidError::BadRoot { arc: root.clone() });
        }
        if root != "2" {
            let second = &arcs[1];
            let small = second.len() <= 2
                && second.bytes().all(|b| b.is_ascii_digit())
                && second.parse::<u8>().is_ok_and(|n| n < 40);
            if !small {
                return Err(OidError::BadSecond { root: root.clone(), arc: second.clone() });
            }
        }
        let len = arcs.iter().map(String::len).sum::<usize>() + arcs.len() - 1;
        if len > MAX_OID_BYTES {
            return Err(OidError::TooLong { len });
        }
        Ok(Oid { arcs })
    }

    /// The arcs in order.
    pub fn arcs(&self) -> &[String] {
        &self.arcs
    }

    /// True under `1.2.156` or `2.16.156` (China's arcs).
    pub fn is_chinese(&self) -> bool {
        let starts = |p: &[&str; 3]| self.arcs.len() >= 3 && self.arcs[..3].iter().zip(p).all(|(a, b)| a == b);
        starts(&CN_ISO) || starts(&CN_JOINT)
    }

    /// The ORS name: arcs reversed under `zone` (no final dot).
    pub fn to_dns_name(&self, zone: &str) -> Result<String, NameError> {
        let labels: Vec<String> = self.arcs.iter().rev().cloned().collect();
        dnsname::join(&labels, zone)
    }

    /// The OID an ORS name under `zone` stands for (inverse of [`Oid::to_dns_name`]).
    pub fn from_dns_name(name: &str, zone: &str) -> Result<Self, NameError> {
        let labels = dnsname::labels_under(name, zone)?;
        let text = labels.iter().rev().copied().collect::<Vec<_>>().join(".");
        Oid::parse(&text).map_err(|e| NameError::Shape { scheme: "oid", why: e.to_string() })
    }
}

fn check_arc(index: usize, arc: &str) -> Result<String, OidError> {
    if arc.is_empty() {
        return Err(OidError::EmptyArc { index });
    }
    if arc.len() > MAX_ARC_BYTES {
        return Err(OidError::ArcTooLong { index, len: arc.len() });
    }
    if let Some(ch) = arc.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Err(OidError::BadChar { index, ch });
    }
    if arc.starts_with('-') || arc.ends_with('-') {
        return Err(OidError::EdgeHyphen { index, arc: arc.to_owned() });
    }
    if arc.len() > 1 && arc.starts_with('0') {
        return Err(OidError::LeadingZero { index, arc: arc.to_owned() });
    }
    Ok(arc.to_ascii_lowercase())
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arcs.join("."))
    }
}

impl FromStr for Oid {
    type Err = OidError;
    fn from_str(s: &str) -> Result<Self, OidError> {
        Oid::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spec_example() {
        let oid = Oid::parse("2.16.156.101818.102.1").unwrap();
        assert!(oid.is_chinese());
        assert_eq!(oid.to_dns_name(ORS_ZONE).unwrap(), "1.102.101818.156.16.2.oid-res.org");
        assert_eq!(Oid::from_dns_name("1.102.101818.156.16.2.OID-RES.ORG.", ORS_ZONE).unwrap(), oid);
        assert!(Oid::parse("1.2.156.3001").unwrap().is_chinese());
        assert!(!Oid::parse("1.3.6.1").unwrap().is_chinese());
    }

    #[test]
    fn precise_errors() {
        assert_eq!(Oid::parse(""), Err(OidError::Empty));
        assert_eq!(Oid::parse("1..2"), Err(OidError::EmptyArc { index: 1 }));
        assert_eq!(Oid::parse("1.2.0156"), Err(OidError::LeadingZero { index: 2, arc: "0156".into() }));
        assert_eq!(Oid::parse("1.2.a_b"), Err(OidError::BadChar { index: 2, ch: '_' }));
        assert_eq!(Oid::parse("3.1"), Err(OidError::BadRoot { arc: "3".into() }));
        assert_eq!(Oid::parse("1.40"), Err(OidError::BadSecond { root: "1".into(), arc: "40".into() }));
        assert_eq!(Oid::parse("2"), Err(OidError::TooShort));
        assert!(matches!(Oid::parse(&format!("2.{}", "1.".repeat(60))), Err(OidError::TooLong { .. })));
        assert!(matches!(Oid::parse(&format!("2.{}", "1".repeat(64))), Err(OidError::ArcTooLong { index: 1, .. })));
        assert_eq!(Oid::parse("2.16.156.Shan-Dong").unwrap().to_string(), "2.16.156.shan-dong");
    }

    fn arc() -> impl Strategy<Value = String> {
        prop_oneof!["0|[1-9][0-9]{0,12}", "[a-z]([a-z0-9-]{0,10}[a-z0-9])?"]
    }

    proptest! {
        #[test]
        fn name_and_oid_are_inverse(root in 0u8..3, second in 0u8..40, rest in proptest::collection::vec(arc(), 0..8)) {
            let text = format!("{root}.{second}{}", rest.iter().map(|a| format!(".{a}")).collect::<String>());
            let oid = Oid::parse(&text).unwrap();
            prop_assert_eq!(oid.to_string(), text.clone());
            prop_assert_eq!(Oid::parse(&oid.to_string()).unwrap(), oid.clone());
            let name = oid.to_dns_name(ORS_ZONE).unwrap();
            prop_assert_eq!(Oid::from_dns_name(&name, ORS_ZONE).unwrap(), oid);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,120}") {
            let _ = Oid::parse(&text);
            let _ = Oid::from_dns_name(&text, ORS_ZONE);
        }
    }
}
