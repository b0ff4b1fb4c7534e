//! Moving a registry between backends (`idnode store copy`): entities
//! first (idempotent puts), then records in key order in batches through
//! [`Store::load_records`] (PostgreSQL: `COPY`), each batch committed
//! before the cursor moves on, so an interrupted copy resumes after the
//! last committed key. Verified at the end by record counts and a SHA-256
//! over every (key, stored bytes) pair in key order on both sides.

use sha2::{Digest, Sha256};

use super::{Store, StoreError, WriteCtx};

/// What a copy did and what the verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub records_copied: u64,
    pub source_records: u64,
    pub target_records: u64,
    pub source_sha256: String,
    pub target_sha256: String,
    pub prefixes: u64,
    pub enterprises: u64,
    pub identities: u64,
    pub templates: u64,
}

impl CopyReport {
    /// Counts and checksums agree.
    pub fn verified(&self) -> bool {
        self.source_records == self.target_records && self.source_sha256 == self.target_sha256
    }
}

/// Copies entities (prefixes, enterprises, identities, templates) from
/// `from` to `to`. Aliases are copied per scheme by the caller's list (the
/// store has no "all schemes" listing).
pub fn copy_entities(from: &dyn Store, to: &dyn Store, ctx: &WriteCtx) -> Result<(u64, u64, u64, u64), StoreError> {
    let mut n = (0, 0, 0, 0);
    for p in from.list_prefixes()? {
        to.put_prefix(&p, ctx)?;
        n.0 += 1;
    }
    let mut after = 0;
    loop {
        let page = from.list_enterprises(after, 512)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in &page {
            to.put_enterprise(e)?;
            n.1 += 1;
        }
    }
    let mut after: Option<String> = None;
    loop {
        let page = from.list_identities(after.as_deref(), 512)?;
        let Some(last) = page.last() else { break };
        after = Some(last.username.clone());
        for i in &page {
            to.put_identity(i)?;
            n.2 += 1;
        }
    }
    for t in from.list_templates(None)? {
        to.put_template(&t)?;
        n.3 += 1;
    }
    Ok(n)
}

/// Copies records with keys after `resume_after` in batches of `batch`;
/// calls `progress(last_key, copied_so_far)` after each committed batch
/// (persist `last_key` to resume). Returns the number copied.
pub fn copy_records(
    from: &dyn Store,
    to: &dyn Store,
    resume_after: Option<Vec<u8>>,
    batch: usize,
    ctx: &WriteCtx,
    progress: &mut dyn FnMut(&[u8], u64),
) -> Result<u64, StoreError> {
    let mut after = resume_after;
    let mut copied = 0u64;
    loop {
        let page = from.scan_records(None, after.as_deref(), batch.max(1))?;
        let Some((last, _)) = page.last() else { break };
        let last = last.clone();
        copied += to.load_records(page, ctx)?;
        progress(&last, copied);
        after = Some(last);
    }
    Ok(copied)
}

/// Record count and SHA-256 over (u32 key length, key, u32 value length,
/// stored bytes) of every record in key order.
pub fn checksum(s: &dyn Store) -> Result<(u64, String), StoreError> {
    let mut h = Sha256::new();
    let mut n = 0u64;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = s.scan_records(None, after.as_deref(), 4096)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (k, v) in &page {
            h.update((k.len() as u32).to_be_bytes());
            h.update(k);
            h.update((v.stored().len() as u32).to_be_bytes());
            h.update(v.stored());
            n += 1;
        }
    }
    Ok((n, hex::encode(h.finalize())))
}
