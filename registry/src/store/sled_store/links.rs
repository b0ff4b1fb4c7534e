//! The link index in sled (issue 12): two trees, written together in one
//! transaction by [`set_links`].
//!
//! * `links_fwd`: source key -> schema byte + postcard `Vec<(relation,
//!   target key)>`: what the source linked to when last indexed, so that a
//!   changed or deleted record's old reverse entries can be removed.
//! * `links_rev`: target key `0x00` source key `0x00` relation -> empty:
//!   who points at the target. Keys never contain `0x00` (identifiers
//!   refuse control characters), so the separator is unambiguous.
//!
//! The trees are opened on use (sled keeps the handles), so the store's
//! fixed tree list stays as it is.

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{backend, txn_err};
use crate::store::StoreError;

const FWD: &str = "links_fwd";
const REV: &str = "links_rev";
const SCHEMA: u8 = 1;

fn rev_key(target: &[u8], source: &[u8], relation: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(target.len() + source.len() + relation.len() + 2);
    k.extend_from_slice(target);
    k.push(0);
    k.extend_from_slice(source);
    k.push(0);
    k.extend_from_slice(relation.as_bytes());
    k
}

fn decode_fwd(b: &[u8]) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    match b.split_first() {
        Some((&SCHEMA, rest)) => postcard::from_bytes(rest).map_err(|e| StoreError::corrupt("links_fwd", e)),
        _ => Err(StoreError::corrupt("links_fwd", "unknown schema version")),
    }
}

pub(super) fn set_links(db: &sled::Db, source: &[u8], links: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
    let fwd = db.open_tree(FWD).map_err(backend)?;
    let rev = db.open_tree(REV).map_err(backend)?;
    let new_fwd = if links.is_empty() {
        None
    } else {
        Some(postcard::to_extend(links, vec![SCHEMA]).map_err(|e| StoreError::corrupt("links_fwd", e))?)
    };
    (&fwd, &rev)
        .transaction(|(f, r)| {
            if let Some(old) = f.get(source)? {
                let old = decode_fwd(&old).map_err(ConflictableTransactionError::Abort)?;
                for (rel, target) in &old {
                    r.remove(rev_key(target, source, rel))?;
                }
            }
            match &new_fwd {
                Some(b) => {
                    f.insert(source, b.as_slice())?;
                }
                None => {
                    f.remove(source)?;
                }
            }
            for (rel, target) in links {
                r.insert(rev_key(target, source, rel), &[][..])?;
            }
            Ok(())
        })
        .map_err(txn_err)
}

pub(super) fn links_to(
    db: &sled::Db,
    target: &[u8],
    after: Option<(&[u8], &str)>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, String)>, StoreError> {
    let rev = db.open_tree(REV).map_err(backend)?;
    let mut head = target.to_vec();
    head.push(0);
    let start = match after {
        // Strictly after: the key itself plus a zero byte sorts right after it.
        Some((src, rel)) => {
            let mut k = rev_key(target, src, rel);
            k.push(0);
            k
        }
        None => head.clone(),
    };
    let mut out = Vec::new();
    for kv in rev.range(start..) {
        if out.len() >= limit {
            break;
        }
        let (k, _) = kv.map_err(backend)?;
        let Some(tail) = k.strip_prefix(head.as_slice()) else { break };
        let Some(sep) = tail.iter().position(|&b| b == 0) else {
            return Err(StoreError::corrupt("links_rev", "key without relation"));
        };
        let rel = String::from_utf8(tail[sep + 1..].to_vec()).map_err(|e| StoreError::corrupt("links_rev", e))?;
        out.push((tail[..sep].to_vec(), rel));
    }
    Ok(out)
}

pub(super) fn clear_links(db: &sled::Db) -> Result<(), StoreError> {
    for name in [FWD, REV] {
        db.open_tree(name).map_err(backend)?.clear().map_err(backend)?;
    }
    Ok(())
}
