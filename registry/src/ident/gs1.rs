//! GS1 keys: GTIN-8/12/13/14 with the mod-10 check digit, serial (AI 21) and
//! lot (AI 10) in GS1 character set 82, and the SGTIN (GTIN + serial).
//! Also the ONS 2.0.1 name mapping (idis-node.md §7.3).
//!
//! Public API, shared with GS1 Digital Link (`/01/{gtin}/21/{serial}`):
//! [`Gtin::parse`], [`Serial::parse`], [`Lot::parse`], [`Sgtin::parse`] and
//! [`Gs1Key::parse`] validate with a precise [`Gs1Error`]; `Display` gives the
//! canonical text (a GTIN always as 14 digits; an SGTIN as the element
//! string `(01)<gtin14>(21)<serial>`).
//!
//! Names (GS1 zone, default `gs1.id.onsepc.com`): a GTIN maps as ONS 2.0.1
//! does -- drop the check digit, keep the indicator digit as the first label,
//! reverse the rest -- under `gtin.<zone>`. An SGTIN (our extension; ONS
//! drops the serial) is the serial as one label ([`super::dnsname`]) in
//! front of the same digits under `sgtin.<zone>`.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::dnsname::{self, NameError};

/// Default GS1 zone (ONS 2.0.1's root is `gs1.id.onsepc.com`).
pub const ONS_ZONE: &str = "gs1.id.onsepc.com";
/// Longest serial (AI 21) and lot (AI 10), in characters.
pub const MAX_SERIAL: usize = 20;
/// Longest lot (AI 10).
pub const MAX_LOT: usize = 20;

/// Why a text is not the GS1 key asked for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Gs1Error {
    #[error("GTIN is empty")]
    Empty,
    #[error("GTIN contains {ch:?} at position {pos}; only digits are allowed")]
    NotDigit { pos: usize, ch: char },
    #[error("GTIN has {len} digits; a GTIN has 8, 12, 13 or 14")]
    BadLength { len: usize },
    #[error("GTIN check digit is {found}, expected {expected}")]
    CheckDigit { found: u8, expected: u8 },
    #[error("{field} is empty")]
    EmptyField { field: &'static str },
    #[error("{field} has {len} characters, more than {max}")]
    FieldTooLong { field: &'static str, len: usize, max: usize },
    #[error("{field} contains {ch:?} at position {pos}, outside GS1 character set 82")]
    BadChar { field: &'static str, pos: usize, ch: char },
    #[error("not a GS1 element string: {why}")]
    Syntax { why: &'static str },
}

/// The GS1 mod-10 check digit over `body` (the digits before the check digit).
pub fn check_digit(body: &[u8]) -> u8 {
    // Weights 3,1,3,... from the rightmost body digit.
    let sum: u32 = body.iter().rev().enumerate().map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 3 } else { 1 }).sum();
    ((10 - sum % 10) % 10) as u8
}

/// A GTIN with a correct check digit, held as GTIN-14 (left zero-padded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gtin {
    digits: [u8; 14],
}

impl Gtin {
    /// Parses 8, 12, 13 or 14 digits and checks the check digit.
    pub fn parse(text: &str) -> Result<Self, Gs1Error> {
        if text.is_empty() {
            return Err(Gs1Error::Empty);
        }
        if let Some((pos, ch)) = text.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(Gs1Error::NotDigit { pos, ch });
        }
        let len = text.len();
        if !matches!(len, 8 | 12 | 13 | 14) {
            return Err(Gs1Error::BadLength { len });
        }
        let mut digits = [0u8; 14];
        for (slot, b) in digits[14 - len..].iter_mut().zip(text.bytes()) {
            *slot = b - b'0';
        }
        let expected = check_digit(&digits[..13]);
        if digits[13] != expected {
            return Err(Gs1Error::CheckDigit { found: digits[13], expected });
        }
        Ok(Gtin { digits })
    }

    /// Builds the GTIN whose first 13 digits (indicator + body) are given.
    pub fn from_body(body: [u8; 13]) -> Self {
        let mut digits = [0u8; 14];
        digits[..13].copy_from_slice(&body);
        digits[13] = check_digit(&body);
        Gtin { digits }
    }

    /// The GTIN numbered `n` (`n` < 10^10) in the benchmark and test data
    /// sets: indicator 0, GS1 China's `69`, then `n` as the remaining body
    /// digits; check digit computed.
    pub fn numbered(n: u64) -> Self {
        let mut body = [0u8; 13];
        let mut x = n;
        for d in body.iter_mut().rev() {
            *d = (x % 10) as u8;
            x /= 10;
        }
        body[1] = 6;
        body[2] = 9;
        Gtin::from_body(body)
    }

    /// The 14 digits as numbers.
    pub fn digits(&self) -> &[u8; 14] {
        &self.digits
    }

    /// The canonical 14-digit text.
    pub fn to_gtin14(&self) -> String {
        self.gtin14_ascii().iter().map(|b| char::from(*b)).collect()
    }

    /// The canonical 14 digits as ASCII, without allocating.
    pub fn gtin14_ascii(&self) -> [u8; 14] {
        self.digits.map(|d| b'0' + d)
    }

    /// True when the GS1 prefix is China's (690-699), read after the
    /// indicator digit and any GTIN-12/13 padding.
    pub fn is_chinese(&self) -> bool {
        self.digits[1] == 6 && self.digits[2] == 9
    }

    /// The ONS labels: indicator digit first, then the body reversed
    /// (check digit dropped).
    fn labels(&self) -> Vec<String> {
        let mut out = vec![self.digits[0].to_string()];
        out.extend(self.digits[1..13].iter().rev().map(u8::to_string));
        out
    }

    fn from_labels<'a>(labels: impl Iterator<Item = &'a str>) -> Result<Self, String> {
        let mut body = [0u8; 13];
        let mut n = 0;
        for l in labels {
            let d = match l.as_bytes() {
                [b] if b.is_ascii_digit() => b - b'0',
                _ => return Err(format!("label {l:?} is not one digit")),
            };
            if n < 13 {
                body[if n == 0 { 0 } else { 13 - n }] = d;
            }
            n += 1;
        }
        if n != 13 {
            return Err(format!("{n} digit labels, expected 13"));
        }
        Ok(Gtin::from_body(body))
    }

    /// The ONS name `<indicator>.<body reversed>.gtin.<zone>`.
    pub fn to_dns_name(&self, zone: &str) -> Result<String, NameError> {
        dnsname::join(&self.labels(), &format!("gtin.{}", zone.trim_end_matches('.')))
    }

    /// Inverse of [`Gtin::to_dns_name`].
    pub fn from_dns_name(name: &str, zone: &str) -> Result<Self, NameError> {
        let head = dnsname::head_under(name, "gtin", zone)?;
        Gtin::from_labels(head.split('.')).map_err(|why| NameError::Shape { scheme: "gtin", why })
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.gtin14_ascii();
        f.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for Gtin {
    type Err = Gs1Error;
    fn from_str(s: &str) -> Result<Self, Gs1Error> {
        Gtin::parse(s)
    }
}

/// GS1 AI encodable character set 82.
pub fn is_cset82(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

fn check_field(field: &'static str, text: &str, max: usize) -> Result<(), Gs1Error> {
    if text.is_empty() {
        return Err(Gs1Error::EmptyField { field });
    }
    let len = text.chars().count();
    if len > max {
        return Err(Gs1Error::FieldTooLong { field, len, max });
    }
    if let Some((pos, ch)) = text.chars().enumerate().find(|(_, c)| !is_cset82(*c)) {
        return Err(Gs1Error::BadChar { field, pos, ch });
    }
    Ok(())
}

macro_rules! cset82_field {
    ($name:ident, $field:literal, $max:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates 1 to the maximum characters of GS1 character set 82.
            pub fn parse(text: &str) -> Result<Self, Gs1Error> {
                check_field($field, text, $max)?;
                Ok($name(text.to_owned()))
            }
            /// The text as given (case-sensitive).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

cset82_field!(Serial, "serial", MAX_SERIAL, "A serial number (AI 21).");
cset82_field!(Lot, "lot", MAX_LOT, "A batch or lot number (AI 10).");

/// A serialised GTIN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sgtin {
    pub gtin: Gtin,
    pub serial: Serial,
}

impl Sgtin {
    /// Parses the element string `(01)<gtin>(21)<serial>`.
    pub fn parse(text: &str) -> Result<Self, Gs1Error> {
        let rest = text.strip_prefix("(01)").ok_or(Gs1Error::Syntax { why: "an SGTIN starts with (01)" })?;
        let gtin_len = rest.find('(').ok_or(Gs1Error::Syntax { why: "an SGTIN needs (21) after the GTIN" })?;
        let gtin = Gtin::parse(&rest[..gtin_len])?;
        let serial =
            rest[gtin_len..].strip_prefix("(21)").ok_or(Gs1Error::Syntax { why: "expected (21) after the GTIN" })?;
        Ok(Sgtin { gtin, serial: Serial::parse(serial)? })
    }

    /// `<serial label>.<indicator>.<body reversed>.sgtin.<zone>`.
    pub fn to_dns_name(&self, zone: &str) -> Result<String, NameError> {
        let mut labels = vec![dnsname::encode_label(self.serial.as_str())?];
        labels.extend(self.gtin.labels());
        dnsname::join(&labels, &format!("sgtin.{}", zone.trim_end_matches('.')))
    }

    /// Inverse of [`Sgtin::to_dns_name`].
    pub fn from_dns_name(name: &str, zone: &str) -> Result<Self, NameError> {
        let mut labels = dnsname::head_under(name, "sgtin", zone)?.split('.');
        let shape = |why: String| NameError::Shape { scheme: "sgtin", why };
        let first = labels.next().ok_or_else(|| shape("no labels".into()))?;
        let serial = dnsname::decode_label(first)?;
        let serial = Serial::parse(&serial).map_err(|e| shape(e.to_string()))?;
        let gtin = Gtin::from_labels(labels).map_err(shape)?;
        Ok(Sgtin { gtin, serial })
    }
}

impl fmt::Display for Sgtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(01){}(21){}", self.gtin, self.serial)
    }
}

/// Any GS1 key this node accepts as an alias code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Gs1Key {
    Gtin(Gtin),
    Sgtin(Sgtin),
}

impl Gs1Key {
    /// Plain digits are a GTIN; `(01)...(21)...` is an SGTIN; `(01)<gtin>` alone a GTIN.
    pub fn parse(text: &str) -> Result<Self, Gs1Error> {
        if text.contains("(21)") {
            return Sgtin::parse(text).map(Gs1Key::Sgtin);
        }
        let digits = text.strip_prefix("(01)").unwrap_or(text);
        Gtin::parse(digits).map(Gs1Key::Gtin)
    }

    /// The name in the GS1 zone.
    pub fn to_dns_name(&self, zone: &str) -> Result<String, NameError> {
        match self {
            Gs1Key::Gtin(g) => g.to_dns_name(zone),
            Gs1Key::Sgtin(s) => s.to_dns_name(zone),
        }
    }

    /// Inverse of [`Gs1Key::to_dns_name`].
    pub fn from_dns_name(name: &str, zone: &str) -> Result<Self, NameError> {
        match Gtin::from_dns_name(name, zone) {
            Ok(g) => Ok(Gs1Key::Gtin(g)),
            Err(NameError::OutsideZone { .. }) => Sgtin::from_dns_name(name, zone).map(Gs1Key::Sgtin),
            Err(e) => Err(e),
        }
    }
}

impl fmt::Display for Gs1Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gs1Key::Gtin(g) => g.fmt(f),
            Gs1Key::Sgtin(s) => s.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn check_digits_and_lengths() {
        assert_eq!(Gtin::parse("00614141322602").unwrap().to_string(), "00614141322602");
        assert_eq!(Gtin::parse("614141322602").unwrap().to_string(), "00614141322602"); // GTIN-12
        assert_eq!(Gtin::parse("6901234567892").unwrap().to_string(), "06901234567892"); // GTIN-13
        assert!(Gtin::parse("6901234567892").unwrap().is_chinese());
        assert_eq!(Gtin::parse("96385074").unwrap().to_string(), "00000096385074"); // GTIN-8
        assert_eq!(Gtin::parse("6901234567891"), Err(Gs1Error::CheckDigit { found: 1, expected: 2 }));
        assert_eq!(Gtin::parse("123"), Err(Gs1Error::BadLength { len: 3 }));
        assert_eq!(Gtin::parse("12a"), Err(Gs1Error::NotDigit { pos: 2, ch: 'a' }));
        assert_eq!(Gtin::parse(""), Err(Gs1Error::Empty));
    }

    #[test]
    fn ons_example() {
        // idis-node.md §7.3: ONS 2.0.1's own example.
        let g = Gtin::parse("00614141322602").unwrap();
        assert_eq!(g.to_dns_name(ONS_ZONE).unwrap(), "0.0.6.2.2.3.1.4.1.4.1.6.0.gtin.gs1.id.onsepc.com");
        assert_eq!(Gtin::from_dns_name("0.0.6.2.2.3.1.4.1.4.1.6.0.gtin.gs1.id.onsepc.com.", ONS_ZONE).unwrap(), g);
    }

    #[test]
    fn sgtin_and_fields() {
        let s = Sgtin::parse("(01)06901234567892(21)A1b/2").unwrap();
        assert_eq!(s.to_string(), "(01)06901234567892(21)A1b/2");
        let name = s.to_dns_name(ONS_ZONE).unwrap();
        assert!(name.ends_with(".sgtin.gs1.id.onsepc.com"), "{name}");
        assert_eq!(Sgtin::from_dns_name(&name.to_ascii_uppercase(), ONS_ZONE).unwrap(), s);
        assert_eq!(Serial::parse("a b"), Err(Gs1Error::BadChar { field: "serial", pos: 1, ch: ' ' }));
        assert!(matches!(Lot::parse(&"1".repeat(21)), Err(Gs1Error::FieldTooLong { field: "lot", len: 21, max: 20 })));
        assert_eq!(Gs1Key::parse("(01)06901234567892").unwrap(), Gs1Key::Gtin(Gtin::parse("6901234567892").unwrap()));
    }

    fn serial() -> impl Strategy<Value = String> {
        "[0-9A-Za-z!%&()*+,./:;<=>?_-]{1,20}"
    }

    proptest! {
        #[test]
        fn gtin_name_inverse(body in proptest::array::uniform13(0u8..10)) {
            let g = Gtin::from_body(body);
            prop_assert_eq!(Gtin::parse(&g.to_string()).unwrap(), g);
            let name = g.to_dns_name(ONS_ZONE).unwrap();
            prop_assert_eq!(Gs1Key::from_dns_name(&name, ONS_ZONE).unwrap(), Gs1Key::Gtin(g));
        }

        #[test]
        fn sgtin_name_inverse(body in proptest::array::uniform13(0u8..10), serial in serial()) {
            let s = Sgtin { gtin: Gtin::from_body(body), serial: Serial::parse(&serial).unwrap() };
            prop_assert_eq!(Sgtin::parse(&s.to_string()).unwrap(), s.clone());
            // 20 characters hex-encode to 41 bytes: every serial fits one label.
            let name = s.to_dns_name(ONS_ZONE).unwrap();
            prop_assert_eq!(Gs1Key::from_dns_name(&name, ONS_ZONE).unwrap(), Gs1Key::Sgtin(s));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = Gs1Key::parse(&text);
            let _ = Gs1Key::from_dns_name(&text, ONS_ZONE);
        }
    }
}
