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
            entries.push((two_part_key(a.scheme.as_bytes(), a.code.as_bytes()), Some(a.to_stored())));
        }
        let mut w = lock(&self.writer);
        let time = list.iter().map(|a| a.created).max().unwrap_or(0);
        let seq = self.commit_entities(&mut w, &self.t.aliases, &entries, ChangeOp::AliasPut, time)?;
        drop(w);
        self.wait_durable(seq)
    }
}
