//! The resolution reads of the sled store that go beyond a record read:
//! an alias's target (the alias filter, then the alias read cache, then the
//! `aliases` tree) and the stamped resolution read of `stamp.rs`.

use super::*;

impl SledStore {
    /// The target of the alias stored under `key` (`two_part_key`).
    pub(super) fn alias_target_at(&self, key: &[u8]) -> Result<Option<Arc<str>>, StoreError> {
        if self.alias_filter.as_ref().is_some_and(|f| !f.may_contain(key)) {
            return Ok(None);
        }
        let ticket = match &self.alias_cache {
            Some(c) => match c.get(key) {
                Ok(hit) => return Ok(hit),
                Err(ticket) => Some(ticket),
            },
            None => None,
        };
        let target: Option<Arc<str>> =
            self.get_plain::<Alias>(&self.t.aliases, "aliases", key)?.map(|a| a.target.into());
        if let (Some(c), Some(t), Some(target)) = (&self.alias_cache, ticket, &target) {
            c.fill(key, target, t);
        }
        Ok(target)
    }

    /// [`Store::resolve_stamped`]: stamped when both read caches exist.
    pub(super) fn resolve_with_stamp(
        &self,
        via: Resolution<'_>,
    ) -> Result<(Option<RecordBytes>, Option<ReadStamp>), StoreError> {
        let (Some(records), Some(aliases)) = (&self.cache, &self.alias_cache) else {
            return Ok((super::super::resolve_plain(self, via)?, None));
        };
        // Every epoch is taken before what it covers is read (stamp.rs).
        let prefixes = self.prefix_epoch.load(Ordering::Acquire);
        let target;
        let (alias, handle) = match via {
            Resolution::Alias { scheme, code } => {
                let key = two_part_key(scheme.as_bytes(), code.as_bytes());
                let alias = aliases.stamp(&key);
                match self.alias_target_at(&key)? {
                    Some(t) => {
                        target = t;
                        (Some(alias), target.as_bytes())
                    }
                    // Absent, and stays so until a write of this alias.
                    None => return Ok((None, Some(ReadStamp { alias: Some(alias), record: None, prefixes }))),
                }
            }
            Resolution::Handle(h) => (None, h),
        };
        let key = self.canonical_key(handle);
        let record = Some(records.stamp(&key));
        let rec = self.get_record(&key)?;
        Ok((rec, Some(ReadStamp { alias, record, prefixes })))
    }

    /// [`Store::stamp_is_current`]: three loads.
    #[inline]
    pub(super) fn stamp_current(&self, s: &ReadStamp) -> bool {
        self.prefix_epoch.load(Ordering::Acquire) == s.prefixes
            && s.record.is_none_or(|r| self.cache.as_ref().is_some_and(|c| c.is_current(r)))
            && s.alias.is_none_or(|a| self.alias_cache.as_ref().is_some_and(|c| c.is_current(a)))
    }
}
