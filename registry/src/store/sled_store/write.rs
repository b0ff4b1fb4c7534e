//! The write path of [`SledStore`]: ops computed against an overlay of the
//! batch's own earlier ops, applied in one sled transaction with their
//! change-log group, then acknowledged once durable (group commit).

use super::cas::op_entity;
use super::*;

/// Records written earlier in the same batch (canonical key -> new stored
/// bytes, `None` = deleted). Values are `IVec`s so that handing them to the
/// transaction is a reference-count bump, not a copy.
#[derive(Debug, Default)]
struct Overlay {
    map: std::collections::HashMap<sled::IVec, Option<sled::IVec>>,
    /// Which records existed before the batch, for large batches.
    prefetch: Option<Prefetch>,
}

/// Existing record keys in `lo..=hi`, sorted (see `prefetch_existing`).
#[derive(Debug)]
struct Prefetch {
    lo: Vec<u8>,
    hi: Vec<u8>,
    existing: Vec<sled::IVec>,
}

/// The outcome of computing one op against the current state.
struct Computed {
    new: Option<Vec<u8>>,
    op: ChangeOp,
    created: bool,
}

impl SledStore {
    fn current(&self, overlay: &Overlay, key: &[u8]) -> Result<Option<Vec<Value>>, StoreError> {
        let bytes: Option<sled::IVec> = match overlay.map.get(key) {
            Some(v) => v.clone(),
            None => self.t.handles.get(key).map_err(backend)?,
        };
        match bytes {
            None => Ok(None),
            Some(b) => {
                Ok(Some(crate::model::Record::decode(&b).map_err(|e| StoreError::corrupt("handles", e))?.values))
            }
        }
    }

    fn exists(&self, overlay: &Overlay, key: &[u8]) -> Result<bool, StoreError> {
        match overlay.map.get(key) {
            Some(v) => Ok(v.is_some()),
            None => match &overlay.prefetch {
                Some(p) if p.lo.as_slice() <= key && key <= p.hi.as_slice() => {
                    Ok(p.existing.binary_search_by(|k| k.as_ref().cmp(key)).is_ok())
                }
                _ => self.t.handles.contains_key(key).map_err(backend),
            },
        }
    }

    /// Reads, with one range scan, which records exist between the smallest
    /// and the largest key of a large batch, so that the existence check of
    /// each create is a binary search instead of a tree lookup (an import of
    /// new identifiers finds none). Gives up when the range holds more
    /// records than the batch has ops.
    fn prefetch_existing(&self, ops: &[RecordOp]) -> Result<Option<Prefetch>, StoreError> {
        const MIN_BATCH: usize = 64;
        if ops.len() < MIN_BATCH {
            return Ok(None);
        }
        let (Some(lo), Some(hi)) = (ops.iter().map(RecordOp::key).min(), ops.iter().map(RecordOp::key).max()) else {
            return Ok(None);
        };
        let mut existing = Vec::new();
        for k in self.t.handles.range(lo..=hi).keys() {
            existing.push(k.map_err(backend)?);
            if existing.len() > ops.len() {
                return Ok(None);
            }
        }
        Ok(Some(Prefetch { lo: lo.to_vec(), hi: hi.to_vec(), existing }))
    }

    fn compute(
        &self,
        overlay: &Overlay,
        op: RecordOp,
        now: u32,
        keep_timestamps: bool,
    ) -> Result<(Vec<u8>, Computed), StoreError> {
        check_key(op.key())?;
        match op {
            RecordOp::Create { key, mut values, overwrite } => {
                prepare_values(&mut values, now, keep_timestamps)?;
                let existed = self.exists(overlay, &key)?;
                if existed && !overwrite {
                    return Err(StoreError::AlreadyExists);
                }
                let new = encode_checked(&values)?;
                Ok((key, Computed { new: Some(new), op: ChangeOp::Create, created: !existed }))
            }
            RecordOp::Replace { key, mut values } => {
                prepare_values(&mut values, now, keep_timestamps)?;
                if !self.exists(overlay, &key)? {
                    return Err(StoreError::NotFound);
                }
                let new = encode_checked(&values)?;
                Ok((key, Computed { new: Some(new), op: ChangeOp::Replace, created: false }))
            }
            RecordOp::Delete { key } => {
                if !self.exists(overlay, &key)? {
                    return Err(StoreError::NotFound);
                }
                Ok((key, Computed { new: None, op: ChangeOp::Delete, created: false }))
            }
            RecordOp::AddValues { key, mut values, overwrite } => {
                prepare_values(&mut values, now, keep_timestamps)?;
                let mut cur = self.current(overlay, &key)?.ok_or(StoreError::NotFound)?;
                for v in values {
                    match cur.iter_mut().find(|c| c.index == v.index) {
                        Some(_) if !overwrite => return Err(StoreError::ValueExists(v.index)),
                        Some(c) => *c = v,
                        None => cur.push(v),
                    }
                }
                let new = encode_checked(&cur)?;
                Ok((key, Computed { new: Some(new), op: ChangeOp::AddValues, created: false }))
            }
            RecordOp::ModifyValues { key, mut values } => {
                prepare_values(&mut values, now, keep_timestamps)?;
                let mut cur = self.current(overlay, &key)?.ok_or(StoreError::NotFound)?;
                for v in values {
                    match cur.iter_mut().find(|c| c.index == v.index) {
                        Some(c) => *c = v,
                        None => return Err(StoreError::ValueNotFound(v.index)),
                    }
                }
                let new = encode_checked(&cur)?;
                Ok((key, Computed { new: Some(new), op: ChangeOp::ModifyValues, created: false }))
            }
            RecordOp::RemoveValues { key, indexes } => {
                let mut cur = self.current(overlay, &key)?.ok_or(StoreError::NotFound)?;
                for (i, idx) in indexes.iter().enumerate() {
                    if indexes[..i].contains(idx) {
                        return Err(StoreError::DuplicateIndex(*idx));
                    }
                    if !cur.iter().any(|c| c.index == *idx) {
                        return Err(StoreError::ValueNotFound(*idx));
                    }
                }
                cur.retain(|c| !indexes.contains(&c.index));
                let new = encode_checked(&cur)?;
                Ok((key, Computed { new: Some(new), op: ChangeOp::RemoveValues, created: false }))
            }
        }
    }

    /// The shared write path of `write` and `write_batch`.
    pub(super) fn apply(
        &self,
        ops: Vec<RecordOp>,
        ctx: &WriteCtx,
    ) -> Result<Vec<Result<WriteReceipt, StoreError>>, StoreError> {
        self.apply_marked(ops, ctx, None)
    }

    /// `apply`, plus a consumer position stored in the same transaction.
    pub(super) fn apply_marked(
        &self,
        ops: Vec<RecordOp>,
        ctx: &WriteCtx,
        mark: Option<ConsumerPosition>,
    ) -> Result<Vec<Result<WriteReceipt, StoreError>>, StoreError> {
        let now32 = u32::try_from(ctx.now).unwrap_or(u32::MAX);
        let day = day_of(ctx.now);
        let mut results = Vec::with_capacity(ops.len());
        let mut overlay = Overlay::default();
        overlay.map.reserve(ops.len());
        let mut changes: Vec<Change> = Vec::with_capacity(ops.len());
        let mut created: Vec<Vec<u8>> = Vec::new();
        let mut w = lock(&self.writer);
        let mut seq = w.seq;
        overlay.prefetch = self.prefetch_existing(&ops)?;
        for op in ops {
            match self.compute(&overlay, op, now32, ctx.keep_timestamps) {
                Ok((key, c)) => {
                    seq += 1;
                    changes.push(Change { seq, time: ctx.now, op: c.op, key: key.clone(), actor: ctx.actor.clone() });
                    if c.created {
                        created.push(prefix_of(&key).to_vec());
                    }
                    overlay.map.insert(sled::IVec::from(key), c.new.map(sled::IVec::from));
                    results.push(Ok(WriteReceipt { seq }));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if changes.is_empty() {
            if let Some(m) = mark {
                self.t.consumers.insert(m.name.as_bytes(), m.to_stored()).map_err(backend)?;
                drop(w);
                self.wait_durable(self.last_seq.load(Ordering::Acquire))?;
            }
            return Ok(results);
        }
        let groups: Vec<(u64, Vec<u8>)> =
            changes.chunks(CHANGES_PER_GROUP).map(|g| (g[0].seq, group_bytes(g))).collect();
        drop(changes);
        let mark = mark.map(|m| (m.name.clone(), m.to_stored()));
        if let Some(rs) = &self.snap {
            // Before the commit: from now on these keys are read from sled.
            rs.mark_dirty(overlay.map.keys().map(|k| k.as_ref()));
        }
        (&self.t.handles, &self.t.changelog, &self.t.consumers)
            .transaction(|(h, c, k_tree)| {
                if let Some((name, bytes)) = &mark {
                    k_tree.insert(name.as_bytes(), bytes.as_slice())?;
                }
                for (k, v) in &overlay.map {
                    match v {
                        Some(b) => {
                            h.insert(k.clone(), b.clone())?;
                        }
                        None => {
                            h.remove(k.clone())?;
                        }
                    }
                }
                for (s, b) in &groups {
                    c.insert(&s.to_be_bytes(), b.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(txn_err)?;
        if let Some(c) = &self.cache {
            for k in overlay.map.keys() {
                c.invalidate(k);
            }
        }
        w.seq = seq;
        w.last_time = w.last_time.max(ctx.now);
        self.last_seq.store(seq, Ordering::Release);
        drop(w);
        for p in created {
            self.counters.add(&p, day, DayCounters { registrations: 1, resolutions: 0 });
        }
        self.wait_durable(seq)?;
        Ok(results)
    }

    /// Waits for a flush, unless in bulk mode.
    pub(super) fn sync_unless_deferred(&self) -> Result<(), StoreError> {
        if self.deferred.load(Ordering::Acquire) { Ok(()) } else { self.gc.wait_durable() }
    }

    /// Bulk mode for an offline import that owns the store: while on, a
    /// write (records, change log, audit) returns once committed, without
    /// waiting for its flush, and is not yet published as durable; the
    /// importer calls [`make_durable`](Self::make_durable) before it records
    /// a resume point and at its end. A crash loses at most the writes
    /// since the last `make_durable` (sled recovers a prefix of the
    /// commits, each transaction whole). Off again: every write waits.
    pub fn set_deferred_durability(&self, on: bool) {
        self.deferred.store(on, Ordering::Release);
    }

    /// Flushes everything committed so far and publishes it as durable;
    /// returns the change seq it covers.
    pub fn make_durable(&self) -> Result<u64, StoreError> {
        let seq = self.last_seq.load(Ordering::Acquire);
        self.gc.wait_durable()?;
        self.durable_seq.fetch_max(seq, Ordering::AcqRel);
        Ok(seq)
    }

    /// Writes one prefix change (put or delete) with its change-log entry.
    pub(super) fn write_prefix(
        &self,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
        ctx: &WriteCtx,
        expected: Option<Version>,
    ) -> Result<WriteReceipt, StoreError> {
        let mut w = lock(&self.writer);
        if let Some(exp) = expected {
            self.check_version(&self.t.prefixes, &key, exp, "prefix")?;
        }
        let seq = w.seq + 1;
        let op = if value.is_some() { ChangeOp::PrefixPut } else { ChangeOp::PrefixDelete };
        let change = group_bytes(&[Change { seq, time: ctx.now, op, key: key.clone(), actor: ctx.actor.clone() }]);
        (&self.t.prefixes, &self.t.changelog)
            .transaction(|(p, c)| {
                match &value {
                    Some(v) => p.insert(key.as_slice(), v.as_slice())?,
                    None => p.remove(key.as_slice())?,
                };
                c.insert(&seq.to_be_bytes(), change.as_slice())?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(txn_err)?;
        w.seq = seq;
        w.last_time = w.last_time.max(ctx.now);
        self.last_seq.store(seq, Ordering::Release);
        // Rebuild the snapshot while still serialised with other prefix writes.
        let r = self.reload_index();
        drop(w);
        r?;
        self.wait_durable(seq)?;
        Ok(WriteReceipt { seq })
    }

    /// Waits for the group-commit flush covering change `seq`, then
    /// publishes it (and everything before it, committed earlier under the
    /// writer lock) as durable.
    pub(super) fn wait_durable(&self, seq: u64) -> Result<(), StoreError> {
        if self.deferred.load(Ordering::Acquire) {
            return Ok(());
        }
        self.gc.wait_durable()?;
        self.durable_seq.fetch_max(seq, Ordering::AcqRel);
        Ok(())
    }

    /// Writes (`Some`) or removes (`None`) one entity with its change-log
    /// entry in one transaction; durable on return. `time_hint` is the
    /// entity's own time (0 for deletes).
    pub(super) fn write_entity(
        &self,
        tree: &sled::Tree,
        key: &[u8],
        value: Option<Vec<u8>>,
        op: ChangeOp,
        time_hint: u64,
        missing: impl FnOnce() -> StoreError,
    ) -> Result<(), StoreError> {
        self.write_entity_if(tree, key, value, op, time_hint, missing, None)
    }

    /// [`write_entity`](Self::write_entity) with an optional
    /// compare-and-swap check under the writer lock.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_entity_if(
        &self,
        tree: &sled::Tree,
        key: &[u8],
        value: Option<Vec<u8>>,
        op: ChangeOp,
        time_hint: u64,
        missing: impl FnOnce() -> StoreError,
        expected: Option<Version>,
    ) -> Result<(), StoreError> {
        let mut w = lock(&self.writer);
        if let Some(exp) = expected {
            self.check_version(tree, key, exp, op_entity(op))?;
        }
        if value.is_none() && !tree.contains_key(key).map_err(backend)? {
            return Err(missing());
        }
        let seq = self.commit_entities(&mut w, tree, &[(key.to_vec(), value)], op, time_hint)?;
        drop(w);
        self.wait_durable(seq)
    }

    /// Writes entity entries (`None` removes) of `tree` with one `op`
    /// change each (in change-log groups) in one transaction, under the
    /// writer lock the caller holds; returns the last seq (not yet durable).
    pub(super) fn commit_entities(
        &self,
        w: &mut WriterState,
        tree: &sled::Tree,
        entries: &[(Vec<u8>, Option<Vec<u8>>)],
        op: ChangeOp,
        time_hint: u64,
    ) -> Result<u64, StoreError> {
        let first = w.seq + 1;
        let time = w.last_time.max(time_hint);
        let changes: Vec<Change> = entries
            .iter()
            .zip(first..)
            .map(|((key, _), seq)| Change { seq, time, op, key: key.clone(), actor: String::new() })
            .collect();
        let groups: Vec<(u64, Vec<u8>)> =
            changes.chunks(CHANGES_PER_GROUP).map(|g| (g[0].seq, group_bytes(g))).collect();
        let seq = first + entries.len() as u64 - 1;
        let aliases = tree.name() == self.t.aliases.name();
        if let Some(f) = self.alias_filter.as_ref().filter(|_| aliases) {
            // Before the commit: the filter never says "absent" of a stored alias.
            for (k, _) in entries.iter().filter(|(_, v)| v.is_some()) {
                f.insert(k);
            }
        }
        (tree, &self.t.changelog)
            .transaction(|(t, c)| {
                for (k, v) in entries {
                    match v {
                        Some(v) => t.insert(k.as_slice(), v.as_slice())?,
                        None => t.remove(k.as_slice())?,
                    };
                }
                for (s, b) in &groups {
                    c.insert(&s.to_be_bytes(), b.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(txn_err)?;
        if let Some(c) = self.alias_cache.as_ref().filter(|_| aliases) {
            for (k, _) in entries {
                c.invalidate(k);
            }
        }
        w.seq = seq;
        w.last_time = time;
        self.last_seq.store(seq, Ordering::Release);
        Ok(seq)
    }
}
