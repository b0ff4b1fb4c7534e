//! NAPTR records from a record's values: every public value whose type is
//! `URL` (any case) or whose data is an `http://` / `https://` URI becomes
//! one terminal rule (`flags "U"`, RFC 3404 §4.3) in index order.

use hickory_proto::rr::rdata::NAPTR;
use hickory_proto::rr::{Name, RData, Record};
use idnode_registry::model::RecordBytes;

/// Delimiters tried for the regexp, first one absent from the URL wins.
const DELIMS: [char; 5] = ['!', '#', '|', '~', '%'];

/// The URL-like public values of `rec`, by index (borrowed from it).
pub fn url_values(rec: &RecordBytes) -> Vec<&str> {
    let starts = |data: &str, scheme: &str| data.get(..scheme.len()).is_some_and(|h| h.eq_ignore_ascii_case(scheme));
    let mut out: Vec<(u32, &str)> = rec
        .iter()
        .filter(|v| v.is_public_read())
        .filter_map(|v| {
            let data = std::str::from_utf8(v.data).ok()?;
            let urlish =
                v.value_type.eq_ignore_ascii_case(b"URL") || starts(data, "http://") || starts(data, "https://");
            (urlish && !data.is_empty() && data.len() <= 250 && !data.bytes().any(|b| b.is_ascii_control()))
                .then_some((v.index, data))
        })
        .collect();
    if !out.is_sorted_by_key(|(i, _)| *i) {
        out.sort_by_key(|(i, _)| *i);
    }
    out.into_iter().map(|(_, u)| u).collect()
}

/// One NAPTR record per URL: order 100, preference 10, 20, ...
pub fn records(owner: &Name, ttl: u32, service: &str, urls: &[&str]) -> Vec<Record> {
    urls.iter()
        .enumerate()
        .filter_map(|(i, url)| {
            let d = DELIMS.into_iter().find(|d| !url.contains(*d))?;
            let regexp = format!("{d}^.*${d}{url}{d}");
            let pref = u16::try_from(10 * (i + 1)).unwrap_or(u16::MAX);
            let rdata = NAPTR::new(
                100,
                pref,
                b"U".to_vec().into_boxed_slice(),
                service.as_bytes().to_vec().into_boxed_slice(),
                regexp.into_bytes().into_boxed_slice(),
                Name::root(),
            );
            Some(Record::from_rdata(owner.clone(), ttl, RData::NAPTR(rdata)))
        })
        .collect()
}

/// [`records`] written straight into a message (fast path): owner = the
/// question name (a pointer to it), TTL, the same RDATA. Returns the record
/// count, or `None` when a field would exceed 255 bytes (hickory's path
/// then answers, as before).
pub fn write<'a>(
    out: &mut Vec<u8>,
    comp: &mut super::wire::Compressor<'a>,
    owner: &'a [u8],
    ttl: u32,
    service: &str,
    urls: &[&str],
) -> Option<u16> {
    if service.len() > 255 {
        return None;
    }
    let mut n = 0u16;
    for (i, url) in urls.iter().enumerate() {
        let Some(d) = DELIMS.into_iter().find(|d| !url.contains(*d)) else { continue };
        let regexp_len = url.len() + 7;
        if regexp_len > 255 {
            return None;
        }
        let pref = u16::try_from(10 * (i + 1)).unwrap_or(u16::MAX);
        comp.name(out, owner, true);
        let at = super::wire::record_head(out, super::wire::TYPE_NAPTR, ttl);
        out.extend_from_slice(&100u16.to_be_bytes());
        out.extend_from_slice(&pref.to_be_bytes());
        out.extend_from_slice(&[1, b'U', service.len() as u8]);
        out.extend_from_slice(service.as_bytes());
        let d = d as u8;
        out.extend_from_slice(&[regexp_len as u8, d, b'^', b'.', b'*', b'$', d]);
        out.extend_from_slice(url.as_bytes());
        out.extend_from_slice(&[d, 0]);
        super::wire::record_end(out, at);
        n += 1;
    }
    Some(n)
}
