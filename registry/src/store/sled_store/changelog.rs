//! The change log in sled: groups of changes under their first sequence
//! number (see `CHANGES_PER_GROUP`), reading from a position up to the
//! durable sequence, and retention that never passes a consumer.

use super::{SledStore, backend};
use crate::model::Change;
use crate::store::{PruneReport, Retention, Store, StoreError};

/// Stored form of a change-log group.
pub(super) fn group_bytes(changes: &[Change]) -> Vec<u8> {
    postcard::to_extend(changes, vec![crate::model::stored::ENTITY_SCHEMA]).expect("postcard serialisation into a Vec")
}

pub(super) fn decode_group(b: &[u8]) -> Result<Vec<Change>, StoreError> {
    let (&ver, rest) = b.split_first().ok_or_else(|| StoreError::corrupt("changelog", "empty value"))?;
    if ver != crate::model::stored::ENTITY_SCHEMA {
        return Err(StoreError::corrupt("changelog", format!("schema version {ver}")));
    }
    postcard::from_bytes(rest).map_err(|e| StoreError::corrupt("changelog", e))
}

/// Seq and time of the last change in the log (0, 0 when empty).
pub(super) fn last_change(tree: &sled::Tree) -> Result<(u64, u64), StoreError> {
    match tree.last().map_err(backend)? {
        None => Ok((0, 0)),
        Some((_, v)) => Ok(decode_group(&v)?.last().map(|c| (c.seq, c.time)).unwrap_or((0, 0))),
    }
}

impl SledStore {
    pub(super) fn log_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let mut out = Vec::new();
        let durable = self.durable_seq();
        if limit == 0 || after >= durable {
            return Ok(out);
        }
        let start = (after + 1).to_be_bytes();
        // The group holding `after + 1` may start before it.
        let first = match self.t.changelog.range(..=start).next_back() {
            Some(kv) => kv.map_err(backend)?.0,
            None => sled::IVec::from(&start[..]),
        };
        for kv in self.t.changelog.range(first..) {
            let (_, v) = kv.map_err(backend)?;
            for c in decode_group(&v)? {
                if c.seq > durable {
                    return Ok(out);
                }
                if c.seq > after {
                    out.push(c);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    pub(super) fn log_prune(&self, r: &Retention, now: u64) -> Result<PruneReport, StoreError> {
        // No writer lock: writers only append after the last group, and only
        // groups at the front are removed here. Only the groups that go (and
        // the first that stays) are decoded; the size is summed from lengths.
        let floor = self.consumers()?.iter().map(|c| c.position).min().unwrap_or(u64::MAX).min(self.durable_seq());
        let mut kept_bytes = 0u64;
        for kv in self.t.changelog.iter() {
            let (k, v) = kv.map_err(backend)?;
            kept_bytes += (k.len() + v.len()) as u64;
        }
        let cutoff = r.max_age_secs.map(|a| now.saturating_sub(a));
        let mut report = PruneReport::default();
        let mut batch = sled::Batch::default();
        for kv in self.t.changelog.iter() {
            let (k, v) = kv.map_err(backend)?;
            let g = decode_group(&v)?;
            let (Some(first), Some(last)) = (g.first(), g.last()) else { continue };
            let n = last.seq - first.seq + 1;
            let too_old = cutoff.is_some_and(|c| last.time < c);
            let too_big = r.max_bytes.is_some_and(|m| kept_bytes > m);
            if !(too_old || too_big) {
                break;
            }
            if last.seq > floor {
                report.held_for_consumers += n;
                break;
            }
            batch.remove(k.clone());
            report.removed += n;
            kept_bytes -= (k.len() + v.len()) as u64;
        }
        if report.removed > 0 {
            self.t.changelog.apply_batch(batch).map_err(backend)?;
            self.gc.wait_durable()?;
        }
        let first = self.first_seq()?;
        report.kept = if first == 0 { 0 } else { self.last_seq().saturating_sub(first) + 1 };
        report.kept_bytes = kept_bytes;
        Ok(report)
    }
}
