//! DNS names for VAA / Handle identifiers (our proposal; no public mapping
//! exists): `prefix/suffix` -> `<suffix label>.<prefix segments reversed>.<zone>`,
//! e.g. `88.100.1/abc` -> `abc.1.100.88.<zone>`. Prefix segments are case-
//! insensitive (lower-cased); the suffix and every segment go through
//! [`super::dnsname::encode_label`], so case-sensitive suffixes survive.

use super::dnsname::{self, NameError};

/// The name of `handle` (which must be `prefix/suffix`) under `zone`.
pub fn to_dns_name(handle: &str, zone: &str) -> Result<String, NameError> {
    let shape = |why: &str| NameError::Shape { scheme: "vaa", why: why.to_owned() };
    let (prefix, suffix) = handle.split_once('/').ok_or_else(|| shape("no '/' between prefix and suffix"))?;
    if prefix.is_empty() || suffix.is_empty() {
        return Err(shape("empty prefix or suffix"));
    }
    let mut labels = vec![dnsname::encode_label(suffix)?];
    for seg in prefix.split('.').rev() {
        if seg.is_empty() {
            return Err(shape("empty prefix segment"));
        }
        labels.push(dnsname::encode_label(&seg.to_ascii_lowercase())?);
    }
    dnsname::join(&labels, zone)
}

/// Inverse of [`to_dns_name`] (the prefix comes back lower-cased).
pub fn from_dns_name(name: &str, zone: &str) -> Result<String, NameError> {
    let labels = dnsname::labels_under(name, zone)?;
    let (first, rest) = labels.split_first().ok_or(NameError::Shape { scheme: "vaa", why: "no labels".into() })?;
    if rest.is_empty() {
        return Err(NameError::Shape { scheme: "vaa", why: "no prefix labels".into() });
    }
    let suffix = dnsname::decode_label(first)?;
    let mut segs = Vec::with_capacity(rest.len());
    for l in rest.iter().rev() {
        segs.push(dnsname::decode_label(l)?);
    }
    Ok(format!("{}/{suffix}", segs.join(".")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn example() {
        assert_eq!(to_dns_name("88.100.1/abc", "vaa.example").unwrap(), "abc.1.100.88.vaa.example");
        assert_eq!(from_dns_name("ABC.1.100.88.vaa.example.", "vaa.example").unwrap(), "88.100.1/abc");
        assert!(from_dns_name("88.vaa.example", "vaa.example").is_err());
    }

    proptest! {
        #[test]
        fn name_and_handle_are_inverse(prefix in "[0-9]{1,4}(\\.[0-9a-z]{1,5}){0,3}", suffix in "[!-~]{1,25}") {
            let handle = format!("{prefix}/{suffix}");
            let name = to_dns_name(&handle, "vaa.example").unwrap();
            prop_assert_eq!(from_dns_name(&name.to_ascii_uppercase(), "vaa.example").unwrap(), handle);
        }
    }
}
