//! Lossless, case-insensitive DNS labels for free-form text (GS1 serials,
//! VAA suffixes): the one place that decides how a byte string becomes a
//! single DNS label and back.
//!
//! * Text made only of `0-9`, `a-z` and `-` that does not start with `x`
//!   is its own label (the common, numeric case reads naturally).
//! * Anything else is `x` followed by the lower-case hex of its bytes.
//!
//! Both forms survive DNS case folding (queries may be 0x20-randomised), so
//! `decode_label(encode_label(t)?) == t` for every accepted `t`.

use thiserror::Error;

/// Largest DNS label, in bytes (RFC 1035 §2.3.4).
pub const MAX_LABEL: usize = 63;
/// Largest DNS name in presentation form without the final dot, in bytes.
pub const MAX_NAME: usize = 253;

/// Why text or a name cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NameError {
    /// The label would be longer than [`MAX_LABEL`] bytes.
    #[error("label of {len} bytes exceeds the DNS limit of {MAX_LABEL}")]
    LabelTooLong { len: usize },
    /// The whole name would be longer than [`MAX_NAME`] bytes.
    #[error("name of {len} bytes exceeds the DNS limit of {MAX_NAME}")]
    NameTooLong { len: usize },
    /// The name is not under the zone this scheme serves.
    #[error("name is not under zone {zone}")]
    OutsideZone { zone: String },
    /// The labels under the zone do not have the scheme's shape.
    #[error("name does not have the {scheme} shape: {why}")]
    Shape { scheme: &'static str, why: String },
    /// A label is neither plain text nor a valid `x`+hex label.
    #[error("label {label:?} is not a valid encoded label")]
    BadLabel { label: String },
}

fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('x')
        && text.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-')
}

/// Encodes `text` as one DNS label (see the module docs).
pub fn encode_label(text: &str) -> Result<String, NameError> {
    let label = if is_plain(text) { text.to_owned() } else { format!("x{}", hex::encode(text.as_bytes())) };
    if label.len() > MAX_LABEL {
        return Err(NameError::LabelTooLong { len: label.len() });
    }
    Ok(label)
}

/// Decodes a label written by [`encode_label`]; the label is case-folded first.
pub fn decode_label(label: &str) -> Result<String, NameError> {
    let lower = label.to_ascii_lowercase();
    let bad = || NameError::BadLabel { label: label.to_owned() };
    if let Some(hexed) = lower.strip_prefix('x') {
        let bytes = hex::decode(hexed).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        // Only one encoding per text: a plain-able text must not come hex-encoded.
        if is_plain(&text) || text.is_empty() {
            return Err(bad());
        }
        Ok(text)
    } else if is_plain(&lower) {
        Ok(lower)
    } else {
        Err(bad())
    }
}

/// Splits a presentation-form name (final dot optional) into labels below
/// `zone`, compared case-insensitively. Returns the labels in name order.
pub fn labels_under<'a>(name: &'a str, zone: &str) -> Result<Vec<&'a str>, NameError> {
    Ok(head_under(name, "", zone)?.split('.').collect())
}

/// The part of `name` (presentation form, final dot optional) in front of
/// `sub.zone` (`zone` alone when `sub` is empty), without its final dot:
/// `head_under("1.2.gtin.z.org.", "gtin", "z.org") == Ok("1.2")`. Compared
/// case-insensitively; allocates only for the error.
pub fn head_under<'a>(name: &'a str, sub: &str, zone: &str) -> Result<&'a str, NameError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let zone = zone.strip_suffix('.').unwrap_or(zone);
    let outside =
        || NameError::OutsideZone { zone: if sub.is_empty() { zone.to_owned() } else { format!("{sub}.{zone}") } };
    let below = |text: &'a str, suffix: &str| -> Option<&'a str> {
        let cut = text.len().checked_sub(suffix.len() + 1).filter(|&c| c > 0)?;
        let (head, tail) = (text.get(..cut)?, text.get(cut..)?);
        (tail.as_bytes()[0] == b'.' && tail[1..].eq_ignore_ascii_case(suffix)).then_some(head)
    };
    let head = below(name, zone).ok_or_else(outside)?;
    if sub.is_empty() { Ok(head) } else { below(head, sub).ok_or_else(outside) }
}

/// Joins labels and a zone into a presentation-form name (no final dot).
pub fn join(labels: &[String], zone: &str) -> Result<String, NameError> {
    let zone = zone.strip_suffix('.').unwrap_or(zone);
    let mut out = String::new();
    for l in labels {
        if l.is_empty() || l.len() > MAX_LABEL {
            return Err(NameError::LabelTooLong { len: l.len() });
        }
        out.push_str(l);
        out.push('.');
    }
    out.push_str(zone);
    if out.len() > MAX_NAME {
        return Err(NameError::NameTooLong { len: out.len() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_and_hex() {
        assert_eq!(encode_label("12345").unwrap(), "12345");
        assert_eq!(encode_label("AB").unwrap(), "x4142");
        assert_eq!(encode_label("x1").unwrap(), "x7831");
        assert_eq!(decode_label("X4142").unwrap(), "AB");
        assert!(decode_label("x31").is_err(), "'1' is plain, hex form is not canonical");
        assert!(decode_label("a_b").is_err());
    }

    #[test]
    fn zone_split() {
        assert_eq!(labels_under("1.2.OID-RES.org.", "oid-res.org").unwrap(), vec!["1", "2"]);
        assert!(labels_under("oid-res.org", "oid-res.org").is_err());
        assert!(labels_under("1.xoid-res.org", "oid-res.org").is_err());
    }

    proptest! {
        #[test]
        fn label_roundtrip(text in "\\PC{1,20}") {
            if let Ok(label) = encode_label(&text) {
                prop_assert_eq!(decode_label(&label.to_ascii_uppercase()).unwrap(), text);
            }
        }
    }
}
