//! `impl Store for PgStore`: reads as SQL (records through the read cache),
//! writes through [`super::records`], memory-only methods on the prefix
//! index and counters kept in this process.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio_postgres::types::ToSql;

use super::records::{self, EntityWrite};
use super::{PgStore, kind, pg_err};
use crate::ident::check_prefix_chars;
use crate::model::{
    Alias, AuditEntry, Change, ChangeOp, DayCounters, Enterprise, Identity, Prefix, RecordBytes, Stored, Template,
    day_of,
};
use crate::store::prefix_index::PrefixMatch;
use crate::store::sled_store::{two_part_key, upper};
use crate::store::{
    ABSENT, ConsumerPosition, FollowStatus, PruneReport, RecordOp, Retention, Store, StoreError, StoreMeta, Version,
    WriteCtx, WriteReceipt,
};

/// The smallest key greater than every key starting with `start` (`None`:
/// no upper bound).
fn prefix_end(start: &[u8]) -> Option<Vec<u8>> {
    let mut e = start.to_vec();
    while let Some(last) = e.pop() {
        if last < 0xff {
            e.push(last + 1);
            return Some(e);
        }
    }
    None
}

fn record_bounds(prefix: Option<&str>, after: Option<&[u8]>) -> (Vec<u8>, bool, Option<Vec<u8>>) {
    let start = match prefix {
        Some(p) => {
            let mut s = upper(p);
            s.push(b'/');
            s
        }
        None => Vec::new(),
    };
    let end = if start.is_empty() { None } else { prefix_end(&start) };
    match after {
        Some(a) if a >= start.as_slice() => (a.to_vec(), true, end),
        _ => (start, false, end),
    }
}

/// `lo` (exclusive when `excl`) .. `hi` (exclusive) over column `k`, as SQL.
fn range_sql(excl: bool, hi: bool) -> String {
    let mut s = String::from(if excl { "k > $1" } else { "k >= $1" });
    if hi {
        s.push_str(" AND k < $2");
    }
    s
}

fn decode<T: Stored>(what: &'static str, b: &[u8]) -> Result<T, StoreError> {
    T::from_stored(b).map_err(|e| StoreError::decode(what, e))
}

impl PgStore {
    fn query_rows(
        &self,
        sql: String,
        lo: Vec<u8>,
        hi: Option<Vec<u8>>,
        limit: Option<i64>,
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        self.s.with_client(move |c| {
            let (sql, lo, hi) = (sql.clone(), lo.clone(), hi.clone());
            async move {
                let mut params: Vec<&(dyn ToSql + Sync)> = vec![&lo];
                if let Some(h) = &hi {
                    params.push(h);
                }
                if let Some(l) = &limit {
                    params.push(l);
                }
                c.query(&sql, &params).await.map_err(pg_err)
            }
        })
    }

    fn entity_range(
        &self,
        k: i16,
        lo: Vec<u8>,
        excl: bool,
        hi: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        self.s.with_client(move |c| {
            let (lo, hi) = (lo.clone(), hi.clone());
            async move {
                let cmp = if excl { ">" } else { ">=" };
                let rows = match &hi {
                    Some(h) => {
                        c.query(
                            &format!(
                                "SELECT v FROM entities WHERE kind = $1 AND k {cmp} $2 AND k < $3 ORDER BY k LIMIT $4"
                            ),
                            &[&k, &lo, h, &limit],
                        )
                        .await
                    }
                    None => {
                        c.query(
                            &format!("SELECT v FROM entities WHERE kind = $1 AND k {cmp} $2 ORDER BY k LIMIT $3"),
                            &[&k, &lo, &limit],
                        )
                        .await
                    }
                }
                .map_err(pg_err)?;
                Ok(rows.into_iter().map(|r| r.get(0)).collect())
            }
        })
    }

    fn get_entity<T: Stored>(
        &self,
        k: i16,
        what: &'static str,
        key: Vec<u8>,
    ) -> Result<Option<(T, Version)>, StoreError> {
        match self.s.with_client(move |c| {
            let key = key.clone();
            async move { records::get_entity(&**c, k, key).await }
        })? {
            None => Ok(None),
            Some((v, ver)) => Ok(Some((decode(what, &v)?, ver))),
        }
    }

    fn write_entity(&self, w: EntityWrite) -> Result<Change, StoreError> {
        let reload = w.kind == kind::PREFIX;
        let change = self.s.with_client(move |mut c| {
            let w = w.clone();
            async move { records::write_entity(&mut c, w).await }
        })?;
        self.s.last.fetch_max(change.seq, Ordering::AcqRel);
        if reload {
            self.s.reload_index()?;
        }
        Ok(change)
    }

    #[allow(clippy::too_many_arguments)]
    fn entity_write(
        &self,
        k: i16,
        what: &'static str,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
        expected: Option<Version>,
        op: ChangeOp,
        time_hint: u64,
        missing_key: String,
    ) -> Result<(), StoreError> {
        self.write_entity(EntityWrite {
            kind: k,
            what,
            key,
            value,
            expected,
            op,
            time_hint,
            actor: String::new(),
            missing_key,
        })
        .map(|_| ())
    }

    fn put_prefix_impl(
        &self,
        p: &Prefix,
        expected: Option<Version>,
        ctx: &WriteCtx,
    ) -> Result<WriteReceipt, StoreError> {
        check_prefix_chars(&p.prefix).map_err(|e| StoreError::Invalid(format!("prefix {:?}: {e}", p.prefix)))?;
        let c = self.write_entity(EntityWrite {
            kind: kind::PREFIX,
            what: "prefix",
            key: upper(&p.prefix),
            value: Some(p.to_stored()),
            expected,
            op: ChangeOp::PrefixPut,
            time_hint: ctx.now,
            actor: ctx.actor.clone(),
            missing_key: p.prefix.clone(),
        })?;
        Ok(WriteReceipt { seq: c.seq })
    }

    fn apply_ops(
        &self,
        ops: Vec<RecordOp>,
        ctx: &WriteCtx,
        mark: Option<ConsumerPosition>,
    ) -> Result<Vec<Result<WriteReceipt, StoreError>>, StoreError> {
        let ctx2 = ctx.clone();
        let applied = self.s.with_client(move |mut c| {
            let (ops, ctx2, mark) = (ops.clone(), ctx2.clone(), mark.clone());
            async move { records::apply(&mut c, ops, ctx2, mark).await }
        })?;
        if let Some(cache) = &self.s.cache {
            for ch in &applied.changes {
                cache.invalidate(&ch.key);
            }
        }
        if let Some(last) = applied.changes.last() {
            self.s.last.fetch_max(last.seq, Ordering::AcqRel);
        }
        let day = day_of(ctx.now);
        for p in &applied.created {
            self.s.counters.add(p, day, DayCounters { registrations: 1, resolutions: 0 });
        }
        Ok(applied.results)
    }
}

impl Store for PgStore {
    fn get_record(&self, key: &[u8]) -> Result<Option<RecordBytes>, StoreError> {
        let ticket = match &self.s.cache {
            Some(c) => match c.get(key) {
                Ok(hit) => return Ok(hit),
                Err(t) => Some(t),
            },
            None => None,
        };
        let k = key.to_vec();
        let row = self.s.with_client(move |c| {
            let k = k.clone();
            async move { c.query_opt("SELECT v FROM handles WHERE k = $1", &[&k]).await.map_err(pg_err) }
        })?;
        match row {
            None => {
                // Absent: remembered, so a flood of unknown identifiers
                // costs no round trip each (a create invalidates it).
                if let (Some(c), Some(t)) = (&self.s.cache, ticket) {
                    c.fill_absent(key, t);
                }
                Ok(None)
            }
            Some(r) => {
                let v: Vec<u8> = r.get(0);
                let rec = RecordBytes::new(v).map_err(|e| StoreError::corrupt("handles", e))?;
                if let (Some(c), Some(t)) = (&self.s.cache, ticket) {
                    c.fill(key, &rec, t);
                }
                Ok(Some(rec))
            }
        }
    }

    fn contains_record(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get_record(key)?.is_some())
    }

    fn write(&self, op: RecordOp, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        self.apply_ops(vec![op], ctx, None)?.pop().unwrap_or(Err(StoreError::Backend("empty batch result".into())))
    }

    fn write_batch(
        &self,
        ops: Vec<RecordOp>,
        ctx: &WriteCtx,
    ) -> Result<Vec<Result<WriteReceipt, StoreError>>, StoreError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        self.apply_ops(ops, ctx, None)
    }

    fn scan_records(
        &self,
        prefix: Option<&str>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, RecordBytes)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (lo, excl, hi) = record_bounds(prefix, after);
        let n = if hi.is_some() { 3 } else { 2 };
        let sql = format!("SELECT k, v FROM handles WHERE {} ORDER BY k LIMIT ${n}", range_sql(excl, hi.is_some()));
        let rows = self.query_rows(sql, lo, hi, Some(limit.min(i64::MAX as usize) as i64))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let v: Vec<u8> = r.get(1);
            out.push((r.get(0), RecordBytes::new(v).map_err(|e| StoreError::corrupt("handles", e))?));
        }
        Ok(out)
    }

    fn scan_keys(&self, prefix: Option<&str>, after: Option<&[u8]>, limit: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (lo, excl, hi) = record_bounds(prefix, after);
        let n = if hi.is_some() { 3 } else { 2 };
        let sql = format!("SELECT k FROM handles WHERE {} ORDER BY k LIMIT ${n}", range_sql(excl, hi.is_some()));
        Ok(self
            .query_rows(sql, lo, hi, Some(limit.min(i64::MAX as usize) as i64))?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn count_records(&self, prefix: Option<&str>) -> Result<u64, StoreError> {
        let (lo, excl, hi) = record_bounds(prefix, None);
        let sql = format!("SELECT count(*) FROM handles WHERE {}", range_sql(excl, hi.is_some()));
        let rows = self.query_rows(sql, lo, hi, None)?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    fn put_prefix(&self, p: &Prefix, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        self.put_prefix_impl(p, None, ctx)
    }

    fn get_prefix(&self, prefix: &str) -> Result<Option<Prefix>, StoreError> {
        Ok(self.get_prefix_versioned(prefix)?.map(|(p, _)| p))
    }

    fn delete_prefix(&self, prefix: &str, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        let c = self.write_entity(EntityWrite {
            kind: kind::PREFIX,
            what: "prefix",
            key: upper(prefix),
            value: None,
            expected: None,
            op: ChangeOp::PrefixDelete,
            time_hint: ctx.now,
            actor: ctx.actor.clone(),
            missing_key: prefix.to_owned(),
        })?;
        Ok(WriteReceipt { seq: c.seq })
    }

    fn list_prefixes(&self) -> Result<Vec<Prefix>, StoreError> {
        let rows = self.entity_range(kind::PREFIX, Vec::new(), false, None, usize::MAX)?;
        rows.iter().map(|v| decode("prefixes", v)).collect()
    }

    fn home_prefix(&self, prefix: &str, ctx: &WriteCtx) -> Result<Prefix, StoreError> {
        for _ in 0..crate::store::CAS_ATTEMPTS {
            let (p, ver) = match self.get_prefix_versioned(prefix)? {
                Some((p, _)) if p.homed => return Ok(p),
                Some((mut p, ver)) => {
                    p.homed = true;
                    p.updated = ctx.now;
                    (p, ver)
                }
                None => (Prefix::homed(prefix, ctx.now), ABSENT),
            };
            match self.put_prefix_if(&p, ver, ctx) {
                Ok(_) => return Ok(p),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict { what: "prefix", key: prefix.to_owned() })
    }

    fn unhome_prefix(&self, prefix: &str, ctx: &WriteCtx) -> Result<(), StoreError> {
        for _ in 0..crate::store::CAS_ATTEMPTS {
            let (mut p, ver) = self
                .get_prefix_versioned(prefix)?
                .ok_or_else(|| StoreError::EntityNotFound { what: "prefix", key: prefix.to_owned() })?;
            if !p.homed {
                return Ok(());
            }
            p.homed = false;
            p.updated = ctx.now;
            match self.put_prefix_if(&p, ver, ctx) {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict { what: "prefix", key: prefix.to_owned() })
    }

    fn is_homed(&self, prefix: &[u8]) -> bool {
        self.s.index().get(prefix).is_some_and(|p| p.homed)
    }

    fn longest_homed(&self, prefix: &[u8]) -> Option<PrefixMatch> {
        self.s.index.read().unwrap_or_else(|e| e.into_inner()).longest(prefix, true)
    }

    fn longest_known(&self, prefix: &[u8]) -> Option<PrefixMatch> {
        self.s.index.read().unwrap_or_else(|e| e.into_inner()).longest(prefix, false)
    }

    fn homed_prefixes(&self) -> Vec<Arc<Prefix>> {
        self.s.index().homed().to_vec()
    }

    fn get_prefix_versioned(&self, prefix: &str) -> Result<Option<(Prefix, Version)>, StoreError> {
        self.get_entity(kind::PREFIX, "prefixes", upper(prefix))
    }

    fn put_prefix_if(&self, p: &Prefix, expected: Version, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        self.put_prefix_impl(p, Some(expected), ctx)
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        self.s.with_client(|c| async move {
            let v: i64 = c
                .query_one("UPDATE seqs SET v = v + 1 WHERE name = 'ids' RETURNING v", &[])
                .await
                .map_err(pg_err)?
                .get(0);
            Ok(v as u64)
        })
    }

    fn put_enterprise(&self, e: &Enterprise) -> Result<(), StoreError> {
        self.entity_write(
            kind::ENTERPRISE,
            "enterprise",
            e.id.to_be_bytes().to_vec(),
            Some(e.to_stored()),
            None,
            ChangeOp::EnterprisePut,
            e.updated.max(e.created),
            String::new(),
        )
    }

    fn get_enterprise(&self, id: u64) -> Result<Option<Enterprise>, StoreError> {
        Ok(self.get_enterprise_versioned(id)?.map(|(e, _)| e))
    }

    fn delete_enterprise(&self, id: u64) -> Result<(), StoreError> {
        self.entity_write(
            kind::ENTERPRISE,
            "enterprise",
            id.to_be_bytes().to_vec(),
            None,
            None,
            ChangeOp::EnterpriseDelete,
            0,
            id.to_string(),
        )
    }

    fn list_enterprises(&self, after: u64, limit: usize) -> Result<Vec<Enterprise>, StoreError> {
        if limit == 0 || after == u64::MAX {
            return Ok(Vec::new());
        }
        let rows = self.entity_range(kind::ENTERPRISE, after.to_be_bytes().to_vec(), true, None, limit)?;
        rows.iter().map(|v| decode("enterprises", v)).collect()
    }

    fn get_enterprise_versioned(&self, id: u64) -> Result<Option<(Enterprise, Version)>, StoreError> {
        self.get_entity(kind::ENTERPRISE, "enterprises", id.to_be_bytes().to_vec())
    }

    fn put_enterprise_if(&self, e: &Enterprise, expected: Version) -> Result<(), StoreError> {
        self.entity_write(
            kind::ENTERPRISE,
            "enterprise",
            e.id.to_be_bytes().to_vec(),
            Some(e.to_stored()),
            Some(expected),
            ChangeOp::EnterprisePut,
            e.updated.max(e.created),
            String::new(),
        )
    }

    fn put_identity(&self, i: &Identity) -> Result<(), StoreError> {
        if i.username.is_empty() {
            return Err(StoreError::Invalid("empty username".into()));
        }
        self.entity_write(
            kind::IDENTITY,
            "identity",
            i.username.as_bytes().to_vec(),
            Some(i.to_stored()),
            None,
            ChangeOp::IdentityPut,
            i.created,
            String::new(),
        )
    }

    fn get_identity(&self, username: &str) -> Result<Option<Identity>, StoreError> {
        Ok(self.get_identity_versioned(username)?.map(|(i, _)| i))
    }

    fn delete_identity(&self, username: &str) -> Result<(), StoreError> {
        self.entity_write(
            kind::IDENTITY,
            "identity",
            username.as_bytes().to_vec(),
            None,
            None,
            ChangeOp::IdentityDelete,
            0,
            username.to_owned(),
        )
    }

    fn list_identities(&self, after: Option<&str>, limit: usize) -> Result<Vec<Identity>, StoreError> {
        let (lo, excl) = match after {
            Some(a) => (a.as_bytes().to_vec(), true),
            None => (Vec::new(), false),
        };
        let rows = self.entity_range(kind::IDENTITY, lo, excl, None, limit)?;
        rows.iter().map(|v| decode("identities", v)).collect()
    }

    fn get_identity_versioned(&self, username: &str) -> Result<Option<(Identity, Version)>, StoreError> {
        self.get_entity(kind::IDENTITY, "identities", username.as_bytes().to_vec())
    }

    fn put_identity_if(&self, i: &Identity, expected: Version) -> Result<(), StoreError> {
        if i.username.is_empty() {
            return Err(StoreError::Invalid("empty username".into()));
        }
        self.entity_write(
            kind::IDENTITY,
            "identity",
            i.username.as_bytes().to_vec(),
            Some(i.to_stored()),
            Some(expected),
            ChangeOp::IdentityPut,
            i.created,
            String::new(),
        )
    }

    fn put_template(&self, t: &Template) -> Result<(), StoreError> {
        if t.prefix.is_empty() || t.version.is_empty() {
            return Err(StoreError::Invalid("template needs a prefix and a version".into()));
        }
        self.entity_write(
            kind::TEMPLATE,
            "template",
            two_part_key(&upper(&t.prefix), t.version.as_bytes()),
            Some(t.to_stored()),
            None,
            ChangeOp::TemplatePut,
            t.updated.max(t.created),
            String::new(),
        )
    }

    fn get_template(&self, prefix: &str, version: &str) -> Result<Option<Template>, StoreError> {
        Ok(self
            .get_entity(kind::TEMPLATE, "templates", two_part_key(&upper(prefix), version.as_bytes()))?
            .map(|(t, _)| t))
    }

    fn delete_template(&self, prefix: &str, version: &str) -> Result<(), StoreError> {
        self.entity_write(
            kind::TEMPLATE,
            "template",
            two_part_key(&upper(prefix), version.as_bytes()),
            None,
            None,
            ChangeOp::TemplateDelete,
            0,
            format!("{prefix} {version}"),
        )
    }

    fn list_templates(&self, prefix: Option<&str>) -> Result<Vec<Template>, StoreError> {
        let (lo, hi) = match prefix {
            Some(p) => {
                let mut s = upper(p);
                s.push(0);
                let e = prefix_end(&s);
                (s, e)
            }
            None => (Vec::new(), None),
        };
        let rows = self.entity_range(kind::TEMPLATE, lo, false, hi, usize::MAX)?;
        rows.iter().map(|v| decode("templates", v)).collect()
    }

    fn put_alias(&self, a: &Alias) -> Result<(), StoreError> {
        if a.scheme.is_empty() || a.code.is_empty() || a.scheme.contains('\0') {
            return Err(StoreError::Invalid("alias needs a scheme (without NUL) and a code".into()));
        }
        self.entity_write(
            kind::ALIAS,
            "alias",
            two_part_key(a.scheme.as_bytes(), a.code.as_bytes()),
            Some(a.to_stored()),
            None,
            ChangeOp::AliasPut,
            a.created,
            String::new(),
        )
    }

    fn get_alias(&self, scheme: &str, code: &str) -> Result<Option<Alias>, StoreError> {
        Ok(self.get_entity(kind::ALIAS, "aliases", two_part_key(scheme.as_bytes(), code.as_bytes()))?.map(|(a, _)| a))
    }

    fn delete_alias(&self, scheme: &str, code: &str) -> Result<(), StoreError> {
        self.entity_write(
            kind::ALIAS,
            "alias",
            two_part_key(scheme.as_bytes(), code.as_bytes()),
            None,
            None,
            ChangeOp::AliasDelete,
            0,
            format!("{scheme}:{code}"),
        )
    }

    fn list_aliases(&self, scheme: &str, after: Option<&str>, limit: usize) -> Result<Vec<Alias>, StoreError> {
        let start = two_part_key(scheme.as_bytes(), b"");
        let hi = prefix_end(&start);
        let (lo, excl) = match after {
            Some(a) => (two_part_key(scheme.as_bytes(), a.as_bytes()), true),
            None => (start, false),
        };
        let rows = self.entity_range(kind::ALIAS, lo, excl, hi, limit)?;
        rows.iter().map(|v| decode("aliases", v)).collect()
    }

    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (after, limit) = (after.min(i64::MAX as u64) as i64, limit.min(i64::MAX as usize) as i64);
        let rows = self.s.with_client(move |c| async move {
            c.query("SELECT c FROM changelog WHERE seq > $1 ORDER BY seq LIMIT $2", &[&after, &limit])
                .await
                .map_err(pg_err)
        })?;
        rows.iter().map(|r| decode::<Change>("changelog", &r.get::<_, Vec<u8>>(0))).collect()
    }

    fn last_seq(&self) -> u64 {
        self.s.last.load(Ordering::Acquire)
    }

    fn durable_seq(&self) -> u64 {
        // Committed is durable on PostgreSQL.
        self.s.last.load(Ordering::Acquire)
    }

    fn first_seq(&self) -> Result<u64, StoreError> {
        self.s.with_client(|c| async move {
            let v: Option<i64> = c.query_one("SELECT MIN(seq) FROM changelog", &[]).await.map_err(pg_err)?.get(0);
            Ok(v.unwrap_or(0) as u64)
        })
    }

    fn consumer_position(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .get_entity::<ConsumerPosition>(kind::CONSUMER, "consumers", name.as_bytes().to_vec())?
            .map(|(c, _)| c.position))
    }

    fn set_consumer_position(&self, name: &str, position: u64, now: u64) -> Result<(), StoreError> {
        if name.is_empty() {
            return Err(StoreError::Invalid("empty consumer name".into()));
        }
        let c = ConsumerPosition { name: name.to_owned(), position, updated: now };
        let (k, v) = (name.as_bytes().to_vec(), c.to_stored());
        self.s.with_client(move |c| {
            let (k, v) = (k.clone(), v.clone());
            async move {
                c.execute(
                    "INSERT INTO entities (kind, k, v, ver) VALUES ($1, $2, $3, 1) \
                     ON CONFLICT (kind, k) DO UPDATE SET v = EXCLUDED.v, ver = entities.ver + 1",
                    &[&kind::CONSUMER, &k, &v],
                )
                .await
                .map_err(pg_err)?;
                Ok(())
            }
        })
    }

    fn remove_consumer(&self, name: &str) -> Result<(), StoreError> {
        let k = name.as_bytes().to_vec();
        let n = self.s.with_client(move |c| {
            let k = k.clone();
            async move {
                c.execute("DELETE FROM entities WHERE kind = $1 AND k = $2", &[&kind::CONSUMER, &k])
                    .await
                    .map_err(pg_err)
            }
        })?;
        if n == 0 {
            return Err(StoreError::EntityNotFound { what: "consumer", key: name.to_owned() });
        }
        Ok(())
    }

    fn consumers(&self) -> Result<Vec<ConsumerPosition>, StoreError> {
        let rows = self.entity_range(kind::CONSUMER, Vec::new(), false, None, usize::MAX)?;
        rows.iter().map(|v| decode("consumers", v)).collect()
    }

    fn prune_changelog(&self, r: &Retention, now: u64) -> Result<PruneReport, StoreError> {
        let consumers = self.consumers()?;
        let held_at = consumers.iter().map(|c| c.position).min();
        let r = *r;
        self.s.with_client(move |c| async move { super::copy::prune(&**c, r, now, held_at).await })
    }

    fn count_resolution(&self, prefix: &[u8], day: u32, n: u64) {
        let idx = self.s.index.read().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = idx.key_of(prefix) {
            self.s.counters.add(key, day, DayCounters { registrations: 0, resolutions: n });
        }
    }

    fn count_registrations(&self, prefix: &[u8], day: u32, n: u64) {
        self.s.counters.add(prefix, day, DayCounters { registrations: n, resolutions: 0 });
    }

    fn persist_counters(&self) -> Result<(), StoreError> {
        let pending = self.s.counters.drain();
        if pending.is_empty() {
            return Ok(());
        }
        let ps: Vec<Vec<u8>> = pending.iter().map(|(p, _, _)| p.to_vec()).collect();
        let days: Vec<i32> = pending.iter().map(|(_, d, _)| *d as i32).collect();
        let reg: Vec<i64> = pending.iter().map(|(_, _, c)| c.registrations.min(i64::MAX as u64) as i64).collect();
        let res: Vec<i64> = pending.iter().map(|(_, _, c)| c.resolutions.min(i64::MAX as u64) as i64).collect();
        let r = self.s.with_client(move |c| {
            let (ps, days, reg, res) = (ps.clone(), days.clone(), reg.clone(), res.clone());
            async move {
            c.execute(
                "INSERT INTO counters (p, day, reg, res) \
                 SELECT p, d, g, s FROM UNNEST($1::BYTEA[], $2::INT[], $3::BIGINT[], $4::BIGINT[]) AS u(p, d, g, s) \
                 ON CONFLICT (p, day) DO UPDATE SET reg = counters.reg + EXCLUDED.reg, res = counters.res + EXCLUDED.res",
                &[&ps, &days, &reg, &res],
            )
            .await
            .map_err(pg_err)
            }
        });
        if let Err(e) = r {
            self.s.counters.restore(pending);
            return Err(e);
        }
        Ok(())
    }

    fn counters(&self, prefix: &str, from: u32, to: u32) -> Result<Vec<(u32, DayCounters)>, StoreError> {
        let p = upper(prefix);
        let mut out: Vec<(u32, DayCounters)> = Vec::new();
        if from <= to {
            let (pp, f, t) = (p.clone(), from as i32, to.min(i32::MAX as u32) as i32);
            let rows = self.s.with_client(move |c| {
                let pp = pp.clone();
                async move {
                    c.query(
                        "SELECT day, reg, res FROM counters WHERE p = $1 AND day >= $2 AND day <= $3 ORDER BY day",
                        &[&pp, &f, &t],
                    )
                    .await
                    .map_err(pg_err)
                }
            })?;
            for r in rows {
                out.push((
                    r.get::<_, i32>(0) as u32,
                    DayCounters { registrations: r.get::<_, i64>(1) as u64, resolutions: r.get::<_, i64>(2) as u64 },
                ));
            }
        }
        for (day, c) in self.s.counters.pending_days(&p, from, to) {
            match out.iter_mut().find(|(d, _)| *d == day) {
                Some((_, cur)) => cur.add(c),
                None => out.push((day, c)),
            }
        }
        out.sort_by_key(|(d, _)| *d);
        Ok(out)
    }

    fn append_audit(&self, e: AuditEntry) -> Result<u64, StoreError> {
        self.s.with_client(move |mut c| {
            let e = e.clone();
            async move {
                let tx = c.transaction().await.map_err(pg_err)?;
                let seq: i64 = tx
                    .query_one("UPDATE seqs SET v = v + 1 WHERE name = 'audit' RETURNING v", &[])
                    .await
                    .map_err(pg_err)?
                    .get(0);
                let mut e = e;
                e.seq = seq as u64;
                tx.execute("INSERT INTO audit (seq, e) VALUES ($1, $2)", &[&seq, &e.to_stored()])
                    .await
                    .map_err(pg_err)?;
                tx.commit().await.map_err(pg_err)?;
                Ok(seq as u64)
            }
        })
    }

    fn read_audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        if limit == 0 || after >= i64::MAX as u64 {
            return Ok(Vec::new());
        }
        let (a, l) = (after as i64, limit.min(i64::MAX as usize) as i64);
        let rows = self.s.with_client(move |c| async move {
            c.query("SELECT e FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", &[&a, &l]).await.map_err(pg_err)
        })?;
        rows.iter().map(|r| decode("audit", &r.get::<_, Vec<u8>>(0))).collect()
    }

    fn meta(&self) -> StoreMeta {
        self.meta.clone()
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every write is durable at COMMIT.
        Ok(())
    }

    fn catch_up(&self) -> Result<FollowStatus, StoreError> {
        self.s.follow_once()?;
        Ok(self.follow_status())
    }

    fn follow_status(&self) -> FollowStatus {
        let last_ok = *self.s.last_ok.lock().unwrap_or_else(|e| e.into_inner());
        FollowStatus {
            shared: true,
            applied_seq: self.s.applied.load(Ordering::Acquire),
            behind_ms: last_ok.elapsed().as_millis() as u64,
            last_lag_ms: self.s.last_lag_ms.load(Ordering::Acquire),
            tx_retries: self.s.retries.load(Ordering::Relaxed),
        }
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn load_records(&self, records: Vec<(Vec<u8>, RecordBytes)>, ctx: &WriteCtx) -> Result<u64, StoreError> {
        self.copy_records(records, ctx)
    }

    fn write_batch_marking(
        &self,
        ops: Vec<RecordOp>,
        ctx: &WriteCtx,
        consumer: &str,
        position: u64,
    ) -> Result<Vec<Result<WriteReceipt, StoreError>>, StoreError> {
        let mark = crate::store::consumer_mark(consumer, position, ctx.now)?;
        self.apply_ops(ops, ctx, Some(mark))
    }

    fn set_links(&self, source: &[u8], links: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let (source, links) = (source.to_vec(), links.to_vec());
        self.s.with_client(move |mut c| {
            let (source, links) = (source.clone(), links.clone());
            async move { super::links::set_links(&mut c, source, links).await }
        })
    }

    fn links_to(
        &self,
        target: &[u8],
        after: Option<(&[u8], &str)>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, String)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let target = target.to_vec();
        let after = after.map(|(s, r)| (s.to_vec(), r.as_bytes().to_vec()));
        let limit = limit.min(i64::MAX as usize) as i64;
        self.s.with_client(move |c| {
            let (target, after) = (target.clone(), after.clone());
            async move { super::links::links_to(&**c, target, after, limit).await }
        })
    }

    fn clear_links(&self) -> Result<(), StoreError> {
        self.s.with_client(|c| async move {
            c.execute("DELETE FROM links", &[]).await.map_err(pg_err)?;
            Ok(())
        })
    }
}
