//! Many aliases in one sled transaction with their change-log groups and
//! one durable wait: the bulk path behind [`Store::put_aliases`] (binding
//! 10^6 aliases one `put_alias` at a time costs 10^6 flushes).

use super::*;

impl SledStore {
    pub(super) fn put_alias_batch(&self, list: &[Alias]) -> Result<(), StoreError> {
        if list.is_empty() {
            return Ok(());
        }
        let mut entries = Vec::with_capacity(list.len());
        for a in list {
            if a.scheme.is_empty() || a.code.is_empty() || a.scheme.contains('\0') {
                return Err(StoreError::Invalid("alias needs a scheme (without NUL) and a code".into()));
            }
            entries.push((two_part_key(a.scheme.as_bytes(), a.code.as_bytes()), a.to_stored()));
        }
        let mut w = lock(&self.writer);
        let first = w.seq + 1;
        let time = list.iter().map(|a| a.created).max().unwrap_or(0).max(w.last_time);
        let changes: Vec<Change> = entries
            .iter()
            .zip(first..)
            .map(|((key, _), seq)| Change { seq, time, op: ChangeOp::AliasPut, key: key.clone(), actor: String::new() })
            .collect();
        let groups: Vec<(u64, Vec<u8>)> =
            changes.chunks(CHANGES_PER_GROUP).map(|g| (g[0].seq, group_bytes(g))).collect();
        let seq = first + list.len() as u64 - 1;
        (&self.t.aliases, &self.t.changelog)
            .transaction(|(t, c)| {
                for (k, v) in &entries {
                    t.insert(k.as_slice(), v.as_slice())?;
                }
                for (s, b) in &groups {
                    c.insert(&s.to_be_bytes(), b.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(txn_err)?;
        w.seq = seq;
        w.last_time = time;
        self.last_seq.store(seq, Ordering::Release);
        drop(w);
        self.wait_durable(seq)
    }
}
