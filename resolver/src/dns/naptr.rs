//! NAPTR records from a record's values: every public value whose type is
//! `URL` (any case) or whose data is an `http://` / `https://` URI becomes
//! one terminal rule (`flags "U"`, RFC 3404 §4.3) in index order.

use hickory_proto::rr::rdata::NAPTR;
use hickory_proto::rr::{Name, RData, Record};
use idnode_registry::model::RecordBytes;

/// Delimiters tried for the regexp, first one absent from the URL wins.
const DELIMS: [char; 5] = ['!', '#', '|', '~', '%'];

/// The URL-like public values of `rec`, by index.
pub fn url_values(rec: &RecordBytes) -> Vec<String> {
    let mut out: Vec<(u32, String)> = rec
        .iter()
        .filter(|v| v.is_public_read())
        .filter_map(|v| {
            let data = std::str::from_utf8(v.data).ok()?;
            let lower = data.get(..8).unwrap_or(data).to_ascii_lowercase();
            let urlish = v.value_type.eq_ignore_ascii_case(b"URL")
                || lower.starts_with("http://")
                || lower.starts_with("https://");
            (urlish && !data.is_empty() && data.len() <= 250 && !data.bytes().any(|b| b.is_ascii_control()))
                .then(|| (v.index, data.to_owned()))
        })
        .collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, u)| u).collect()
}

/// One NAPTR record per URL: order 100, preference 10, 20, ...
pub fn records(owner: &Name, ttl: u32, service: &str, urls: &[String]) -> Vec<Record> {
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
