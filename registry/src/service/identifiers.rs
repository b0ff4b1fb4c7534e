//! Identifier registration, update, deletion and reading (snms-api.md §4).
//!
//! Every item is checked in the order of §4.9: handle grammar and lengths
//! (255 characters, prefix 64), permission on its prefix, the prefix is
//! enabled and served here, the template version exists, every value
//! matches an enabled template item ([`Template::validate_values`]), the
//! required items are present; then quotas. The items that pass become ONE
//! [`Store::write_batch`] (one transaction, one durable flush); the store
//! reports "exists" / "not found" per item, in order, so a handle repeated
//! in one batch is created once and then reported as `标识已存在`.
//!
//! Records are ordinary Handle records, readable by every door: the client
//! values (index >= 2000, type = the item's `idType`, data = the text),
//! plus the system value 1001 `TEMPLATE` holding the template version, plus
//! — only when a client sent a non-empty `auth` — value 1002 `SNMS_AUTH`
//! (admin-only permissions) remembering those codes so they can be echoed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::access::{self, Governing};
use super::quota::Admission;
use super::{Actor, Registrar, ServiceError, check_len, check_required};
use crate::ident::{self, Identifier};
use crate::model::template::{MAX_TYPE_CHARS, MAX_VERSION_CHARS, TEMPLATE_INDEX};
use crate::model::{Template, Value, day_of, perm};
use crate::store::{RecordOp, StoreError, WriteCtx};

/// Type of the system value holding the template version (index 1001).
pub const TEMPLATE_TYPE: &str = "TEMPLATE";
/// Index of the hidden value remembering non-empty `auth` codes.
pub const AUTH_INDEX: u32 = 1002;
/// Type of that value.
pub const AUTH_TYPE: &str = "SNMS_AUTH";
/// Longest `auth` code accepted.
pub const MAX_AUTH_CHARS: usize = 255;

/// One client value (`value[i]` of §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdValue {
    pub index: u32,
    pub value_type: String,
    pub auth: String,
    /// `data.value`.
    pub data: String,
}

/// One identifier to create or update (§4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdInput {
    pub handle: String,
    pub template_version: String,
    pub values: Vec<IdValue>,
}

/// One value of a detail answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailValue {
    pub index: u32,
    pub value_type: String,
    pub auth: String,
    pub data: String,
}

/// The answer of [`Registrar::identifier_detail`] (§4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// As asked.
    pub handle: String,
    /// The part before the first `/`, as asked.
    pub prefix: String,
    pub template_version: String,
    /// Ascending index order.
    pub values: Vec<DetailValue>,
}

/// Per-item outcome of a batch.
pub type ItemResult = Result<(), ServiceError>;

/// Lookups shared by the items of one batch.
#[derive(Default)]
struct BatchCache {
    governing: HashMap<String, Governing>,
    templates: HashMap<(String, String), Arc<Template>>,
}

struct Prepared {
    key: Vec<u8>,
    values: Vec<Value>,
    governing: Governing,
}

/// Parses and checks a handle for the HTTP APIs: `prefix/suffix`, at most
/// 255 characters, prefix at most 64 characters.
pub fn parse_handle(handle: &str) -> Result<Identifier, ServiceError> {
    if handle.trim().is_empty() {
        return Err(ServiceError::invalid("handle", "must not be empty"));
    }
    let id = Identifier::parse_http(handle).map_err(|e| ServiceError::invalid("handle", e.to_string()))?;
    if id.suffix().is_none() {
        return Err(ServiceError::invalid("handle", "must be <prefix>/<suffix>"));
    }
    ident::check_snms_prefix(id.prefix()).map_err(|e| ServiceError::invalid("handle", format!("prefix: {e}")))?;
    Ok(id)
}

fn check_batch(items: usize, max: usize) -> Result<(), ServiceError> {
    if items > max {
        return Err(ServiceError::BatchTooLarge { got: items, max });
    }
    if items == 0 {
        return Err(ServiceError::rejected("批量数据不能为空 (empty batch)"));
    }
    Ok(())
}

fn audit_target(handles: &[&str]) -> String {
    match handles {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [first, .., last] => format!("{} items: {first} .. {last}", handles.len()),
    }
}

fn outcome(results: &[ItemResult]) -> String {
    let ok = results.iter().filter(|r| r.is_ok()).count();
    if ok == results.len() {
        "ok".into()
    } else if results.len() == 1 {
        results[0].as_ref().err().map(|e| e.to_string()).unwrap_or_default()
    } else {
        format!("ok {ok}, failed {}", results.len() - ok)
    }
}

impl Registrar {
    fn governing_cached(
        &self,
        actor: &Actor,
        asked: &str,
        cache: &mut BatchCache,
        write: bool,
    ) -> Result<Governing, ServiceError> {
        let k = asked.to_ascii_uppercase();
        if let Some(g) = cache.governing.get(&k) {
            return Ok(g.clone());
        }
        let g = access::governing(self.store(), asked)?;
        if write {
            access::check_write(actor, &g)?;
            access::check_servable(self.store(), &g)?;
        } else {
            access::check_read(actor, &g)?;
        }
        cache.governing.insert(k, g.clone());
        Ok(g)
    }

    fn template_cached(
        &self,
        prefix: &str,
        version: &str,
        cache: &mut BatchCache,
    ) -> Result<Arc<Template>, ServiceError> {
        let k = (prefix.to_ascii_uppercase(), version.to_owned());
        if let Some(t) = cache.templates.get(&k) {
            return Ok(t.clone());
        }
        let t = self
            .store()
            .get_template(prefix, version)?
            .ok_or_else(|| ServiceError::EntityNotFound { what: "模板", key: format!("{prefix} {version}") })?;
        let t = Arc::new(t);
        cache.templates.insert(k, t.clone());
        Ok(t)
    }

    /// §4.9 rules 1–4 for one item; builds the record values.
    fn prepare(&self, actor: &Actor, item: &IdInput, cache: &mut BatchCache) -> Result<Prepared, ServiceError> {
        let id = parse_handle(&item.handle)?;
        let governing = self.governing_cached(actor, id.prefix(), cache, true)?;
        check_required("templateVersion", &item.template_version, MAX_VERSION_CHARS)?;
        let tpl = self.template_cached(id.prefix(), &item.template_version, cache)?;
        let mut values = Vec::with_capacity(item.values.len() + 2);
        values.push(Value::new(TEMPLATE_INDEX, TEMPLATE_TYPE, item.template_version.as_bytes()));
        let mut auth: BTreeMap<u32, &str> = BTreeMap::new();
        for (i, v) in item.values.iter().enumerate() {
            // Field names are only formatted when a limit is near (hot path).
            if v.value_type.len() > MAX_TYPE_CHARS {
                check_len(&format!("value[{i}].type"), &v.value_type, MAX_TYPE_CHARS)?;
            }
            if v.auth.len() > MAX_AUTH_CHARS {
                check_len(&format!("value[{i}].auth"), &v.auth, MAX_AUTH_CHARS)?;
            }
            if v.index != TEMPLATE_INDEX && tpl.item_by_index(v.index).is_none() {
                return Err(ServiceError::UnknownIndex(v.index));
            }
            if !v.auth.is_empty() {
                auth.insert(v.index, &v.auth);
            }
            values.push(Value::new(v.index, v.value_type.as_bytes(), v.data.as_bytes()));
        }
        tpl.validate_values(&values[1..])?;
        super::refs::check_links(self.store(), &values)?;
        if !auth.is_empty() {
            let json = serde_json::to_string(&auth).unwrap_or_default();
            values.push(Value::new(AUTH_INDEX, AUTH_TYPE, json).with_permissions(perm::SECRET));
        }
        Ok(Prepared { key: self.store().canonical_key(id.as_bytes()), values, governing })
    }

    /// Registers identifiers (`POST /identityv2/data`, `batchCreate`). The
    /// outer error refuses the whole request (auditor, over the limit,
    /// store failure before anything was written); otherwise one result per
    /// item, in order.
    pub fn create_identifiers(
        &self,
        actor: &Actor,
        items: &[IdInput],
        now: u64,
    ) -> Result<Vec<ItemResult>, ServiceError> {
        access::check_writer(actor)?;
        check_batch(items.len(), self.limits().max_batch)?;
        let mut cache = BatchCache::default();
        let mut results: Vec<ItemResult> = Vec::with_capacity(items.len());
        let mut prepared: Vec<Option<Prepared>> = Vec::with_capacity(items.len());
        for item in items {
            match self.prepare(actor, item, &mut cache) {
                Ok(p) => {
                    prepared.push(Some(p));
                    results.push(Ok(()));
                }
                Err(e) => {
                    prepared.push(None);
                    results.push(Err(e));
                }
            }
        }
        // Quotas, per governing prefix, in item order.
        let mut wanted: HashMap<String, (Governing, u64)> = HashMap::new();
        for p in prepared.iter().flatten() {
            wanted.entry(p.governing.key()).or_insert_with(|| (p.governing.clone(), 0)).1 += 1;
        }
        let mut admissions: HashMap<String, (Admission, u64)> = HashMap::new();
        for (k, (g, n)) in wanted {
            let a = self.admit_registrations(&g.prefix, n, now);
            match a {
                Ok(a) => {
                    admissions.insert(k, (a, 0));
                }
                Err(e) => {
                    for (a, _) in admissions.values() {
                        self.release(a, 0, now);
                    }
                    return Err(e);
                }
            }
        }
        let mut ops = Vec::with_capacity(items.len());
        let mut positions = Vec::with_capacity(items.len());
        for (i, p) in prepared.into_iter().enumerate() {
            let Some(p) = p else { continue };
            let (a, used) = admissions.get_mut(&p.governing.key()).expect("admitted above");
            if *used >= a.allowed {
                let (kind, scope, limit) =
                    a.refusal.clone().unwrap_or((super::QuotaKind::Registrations, String::new(), 0));
                results[i] = Err(ServiceError::Quota { kind, scope, limit });
                continue;
            }
            *used += 1;
            positions.push((i, p.governing.key()));
            ops.push(RecordOp::Create { key: p.key, values: p.values, overwrite: false });
        }
        let ctx = WriteCtx::new(now, actor.username.clone());
        let written = if ops.is_empty() { Ok(Vec::new()) } else { self.store().write_batch(ops, &ctx) };
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                for (a, _) in admissions.values() {
                    self.release(a, 0, now);
                }
                return Err(e.into());
            }
        };
        let mut created: HashMap<String, u64> = HashMap::new();
        for ((i, key), r) in positions.into_iter().zip(written) {
            match r {
                Ok(_) => *created.entry(key).or_insert(0) += 1,
                Err(StoreError::AlreadyExists) => results[i] = Err(ServiceError::AlreadyExists),
                Err(e) => results[i] = Err(e.into()),
            }
        }
        for (k, (a, _)) in &admissions {
            self.release(a, created.get(k).copied().unwrap_or(0), now);
        }
        let handles: Vec<&str> = items.iter().map(|i| i.handle.as_str()).collect();
        self.audit(actor, "identifier.create", audit_target(&handles), outcome(&results), now)?;
        Ok(results)
    }

    /// Updates identifiers (`PUT /identityv2/data`, `batchUpdate`): the
    /// given values replace every value at index >= 2000 and the 1001/1002
    /// system values; other values (URL, HS_ADMIN, ...) are kept (§4.4).
    pub fn update_identifiers(
        &self,
        actor: &Actor,
        items: &[IdInput],
        now: u64,
    ) -> Result<Vec<ItemResult>, ServiceError> {
        access::check_writer(actor)?;
        check_batch(items.len(), self.limits().max_batch)?;
        let mut cache = BatchCache::default();
        let mut results: Vec<ItemResult> = Vec::with_capacity(items.len());
        let mut ops = Vec::new();
        let mut positions = Vec::new();
        let mut daily_ok: std::collections::HashSet<String> = std::collections::HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let r = self.prepare(actor, item, &mut cache).and_then(|p| {
                let key = p.governing.key();
                if !daily_ok.contains(&key) {
                    self.check_daily(&p.governing.prefix, now)?;
                    daily_ok.insert(key);
                }
                let cur = self.store().get_record(&p.key)?.ok_or(ServiceError::NotFound)?;
                let mut values: Vec<Value> = cur
                    .values()
                    .map_err(|e| StoreError::Corrupt { tree: "handles", detail: e.to_string() })?
                    .into_iter()
                    .filter(|v| v.index < 2000 && v.index != TEMPLATE_INDEX && v.index != AUTH_INDEX)
                    .collect();
                values.extend(p.values);
                Ok((p.key, values))
            });
            match r {
                Ok((key, values)) => {
                    positions.push(i);
                    ops.push(RecordOp::Replace { key, values });
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        let ctx = WriteCtx::new(now, actor.username.clone());
        if !ops.is_empty() {
            for (i, r) in positions.into_iter().zip(self.store().write_batch(ops, &ctx)?) {
                match r {
                    Ok(_) => {}
                    Err(StoreError::NotFound) => results[i] = Err(ServiceError::NotFound),
                    Err(e) => results[i] = Err(e.into()),
                }
            }
        }
        let handles: Vec<&str> = items.iter().map(|i| i.handle.as_str()).collect();
        self.audit(actor, "identifier.update", audit_target(&handles), outcome(&results), now)?;
        Ok(results)
    }

    /// Deletes identifiers (`DELETE /identityv2/data`, `batchDelete`).
    pub fn delete_identifiers(
        &self,
        actor: &Actor,
        handles: &[String],
        now: u64,
    ) -> Result<Vec<ItemResult>, ServiceError> {
        access::check_writer(actor)?;
        check_batch(handles.len(), self.limits().max_batch)?;
        let mut cache = BatchCache::default();
        let mut results: Vec<ItemResult> = Vec::with_capacity(handles.len());
        let mut ops = Vec::new();
        let mut positions = Vec::new();
        for (i, h) in handles.iter().enumerate() {
            let r = parse_handle(h).and_then(|id| {
                let k = id.prefix().to_ascii_uppercase();
                let g = match cache.governing.get(&k) {
                    Some(g) => g.clone(),
                    None => {
                        let g = access::governing(self.store(), id.prefix())?;
                        access::check_write(actor, &g)?;
                        cache.governing.insert(k, g.clone());
                        g
                    }
                };
                Ok((self.store().canonical_key(id.as_bytes()), g.key()))
            });
            match r {
                Ok((key, gk)) => {
                    positions.push((i, gk));
                    ops.push(RecordOp::Delete { key });
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        let ctx = WriteCtx::new(now, actor.username.clone());
        if !ops.is_empty() {
            for ((i, gk), r) in positions.into_iter().zip(self.store().write_batch(ops, &ctx)?) {
                match r {
                    Ok(_) => self.note_deleted(&gk, 1),
                    Err(StoreError::NotFound) => results[i] = Err(ServiceError::NotFound),
                    Err(e) => results[i] = Err(e.into()),
                }
            }
        }
        let hs: Vec<&str> = handles.iter().map(String::as_str).collect();
        self.audit(actor, "identifier.delete", audit_target(&hs), outcome(&results), now)?;
        Ok(results)
    }

    /// Reads one identifier (`GET /identityv2/data/detail`); counts a
    /// resolution for the prefix (and so for its daily quota).
    pub fn identifier_detail(&self, actor: &Actor, handle: &str, now: u64) -> Result<Detail, ServiceError> {
        // An alias (`gs1:<gtin>`, `oid:<oid>`, ...) reads its bound identifier.
        let bound = super::aliases::resolve_asked(self.store(), handle);
        let handle = bound.as_deref().unwrap_or(handle);
        let id = parse_handle(handle)?;
        let g = access::governing(self.store(), id.prefix())?;
        access::check_read(actor, &g)?;
        self.check_daily(&g.prefix, now)?;
        let key = self.store().canonical_key(id.as_bytes());
        self.store().count_resolution(g.key().as_bytes(), day_of(now), 1);
        crate::topids::note(id.as_bytes());
        let rec = self.store().get_record(&key)?.ok_or(ServiceError::NotFound)?;
        let auth: BTreeMap<u32, String> =
            rec.find(AUTH_INDEX).and_then(|v| serde_json::from_slice(v.data).ok()).unwrap_or_default();
        let mut values = Vec::new();
        let mut template_version = String::new();
        for v in rec.iter() {
            if v.index == AUTH_INDEX || v.value_type.len() >= 3 && v.value_type[..3].eq_ignore_ascii_case(b"HS_") {
                continue;
            }
            let (Ok(t), Ok(d)) = (std::str::from_utf8(v.value_type), std::str::from_utf8(v.data)) else { continue };
            if v.index == TEMPLATE_INDEX {
                template_version = d.to_owned();
            }
            let a = if v.index == TEMPLATE_INDEX {
                "1".to_owned()
            } else {
                auth.get(&v.index).cloned().unwrap_or_default()
            };
            values.push(DetailValue { index: v.index, value_type: t.to_owned(), auth: a, data: d.to_owned() });
        }
        values.sort_by_key(|v| v.index);
        Ok(Detail { handle: handle.to_owned(), prefix: id.prefix().to_owned(), template_version, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Quota;
    use crate::service::testutil::*;
    use crate::service::{Limits, QuotaKind};

    fn item(handle: &str, model: &str) -> IdInput {
        IdInput {
            handle: handle.into(),
            template_version: "1.0.0".into(),
            values: vec![IdValue { index: 2000, value_type: "model".into(), auth: String::new(), data: model.into() }],
        }
    }

    #[test]
    fn create_batch_partial_and_retry() {
        let f = fixture(Limits::default());
        let mut items: Vec<IdInput> = (0..10).map(|n| item(&format!("88.1.1/a{n}"), "M1")).collect();
        items[3].values[0].data = "way-too-long".into();
        items[5].handle = "88.1.2/foreign".into();
        items[6].values[0].index = 1000;
        items[7].handle = "88.1.1/a0".into();
        items[8].template_version = "9.9".into();
        let r = f.reg.create_identifiers(&user(1), &items, NOW).unwrap();
        assert!(r[0].is_ok() && r[1].is_ok() && r[9].is_ok());
        assert!(matches!(&r[3], Err(ServiceError::Template(v)) if v.field == "value[0].data.value"), "{:?}", r[3]);
        assert!(matches!(&r[5], Err(ServiceError::Forbidden(_))));
        assert_eq!(r[6].as_ref().unwrap_err().to_string(), "非法操作，索引1000在模板中不存在");
        assert!(matches!(&r[7], Err(ServiceError::AlreadyExists)));
        assert!(matches!(&r[8], Err(ServiceError::EntityNotFound { .. })));
        assert_eq!(f.store.count_records(Some("88.1.1")).unwrap(), 5);
        // Retry of a create: "already exists".
        let again = f.reg.create_identifiers(&user(1), &items[..1], NOW).unwrap();
        assert_eq!(again[0].as_ref().unwrap_err().to_string(), "标识已存在");
        // Stored as a Handle record: TEMPLATE + model.
        let rec = f.store.get_record(&f.store.canonical_key(b"88.1.1/a0")).unwrap().unwrap();
        assert_eq!(rec.find(1001).unwrap().data, b"1.0.0");
        assert_eq!(rec.find(2000).unwrap().value_type, b"model");
        assert!(
            f.store
                .read_audit(0, 10)
                .unwrap()
                .iter()
                .any(|a| a.action == "identifier.create" && a.detail == "127.0.0.1")
        );
    }

    #[test]
    fn limits_and_roles() {
        let f = fixture(Limits::default());
        let big: Vec<IdInput> = (0..2001).map(|n| item(&format!("88.1.1/b{n}"), "M")).collect();
        assert!(matches!(
            f.reg.create_identifiers(&admin(), &big, NOW),
            Err(ServiceError::BatchTooLarge { got: 2001, .. })
        ));
        assert!(matches!(f.reg.create_identifiers(&auditor(), &big[..1], NOW), Err(ServiceError::Forbidden(_))));
        let r = f.reg.create_identifiers(&admin(), &[item(&format!("88.1.1/{}", "x".repeat(250)), "M")], NOW).unwrap();
        assert!(matches!(&r[0], Err(ServiceError::Invalid { field, .. }) if field == "handle"));
        assert_eq!(f.store.count_records(None).unwrap(), 0);
    }

    #[test]
    fn update_delete_detail() {
        let f = fixture(Limits::default());
        let mut it = item("88.1.1/u1", "M1");
        it.values.push(IdValue { index: 2001, value_type: "batch".into(), auth: "7".into(), data: "B1".into() });
        f.reg.create_identifiers(&user(1), &[it], NOW).unwrap()[0].as_ref().unwrap();
        let d = f.reg.identifier_detail(&user(1), "88.1.1/u1", NOW).unwrap();
        assert_eq!(d.template_version, "1.0.0");
        assert_eq!(d.values.iter().map(|v| v.index).collect::<Vec<_>>(), vec![1001, 2000, 2001]);
        assert_eq!(d.values[2].auth, "7");
        assert_eq!(d.values[0].auth, "1");
        assert!(matches!(f.reg.identifier_detail(&user(2), "88.1.1/u1", NOW), Err(ServiceError::Forbidden(_))));
        let r = f.reg.update_identifiers(&user(1), &[item("88.1.1/u1", "M2"), item("88.1.1/nope", "M")], NOW).unwrap();
        assert!(r[0].is_ok());
        assert!(matches!(r[1], Err(ServiceError::NotFound)));
        let d = f.reg.identifier_detail(&auditor(), "88.1.1/u1", NOW).unwrap();
        assert_eq!(d.values.len(), 2);
        assert_eq!(d.values[1].data, "M2");
        let r = f.reg.delete_identifiers(&user(1), &["88.1.1/u1".into(), "88.1.1/u1".into()], NOW).unwrap();
        assert!(r[0].is_ok());
        assert!(matches!(r[1], Err(ServiceError::NotFound)));
        assert!(matches!(f.reg.identifier_detail(&admin(), "88.1.1/u1", NOW), Err(ServiceError::NotFound)));
    }

    #[test]
    fn quotas() {
        let f = fixture(Limits::default());
        let mut p = f.store.get_prefix("88.1.1").unwrap().unwrap();
        p.quota = Quota { max_registrations: Some(3), daily_requests: None };
        f.store.put_prefix(&p, &WriteCtx::new(NOW, "t")).unwrap();
        let items: Vec<IdInput> = (0..5).map(|n| item(&format!("88.1.1/q{n}"), "M")).collect();
        let r = f.reg.create_identifiers(&user(1), &items, NOW).unwrap();
        assert_eq!(r.iter().filter(|r| r.is_ok()).count(), 3);
        let e = r[4].as_ref().unwrap_err();
        assert_eq!(e.idis_rc(), QuotaKind::Registrations.idis_rc());
        // Enterprise daily quota (registrations count as requests).
        let mut ent = f.store.get_enterprise(2).unwrap().unwrap();
        ent.extra.insert(crate::service::quota::ENT_DAILY_REQUESTS.into(), "2".into());
        f.store.put_enterprise(&ent).unwrap();
        let items: Vec<IdInput> = (0..3).map(|n| item(&format!("88.1.2/d{n}"), "M")).collect();
        let r = f.reg.create_identifiers(&user(2), &items, NOW).unwrap();
        assert!(r[1].is_ok());
        assert_eq!(r[2].as_ref().unwrap_err().idis_rc(), 603);
        assert_eq!(f.reg.identifier_detail(&user(2), "88.1.2/d0", NOW).unwrap_err().idis_rc(), 603);
        assert!(f.reg.identifier_detail(&user(2), "88.1.2/d0", NOW + 86_400).is_ok());
    }

    #[test]
    fn quotas_edited_by_administrators() {
        let f = fixture(Limits::default());
        let q = Quota { max_registrations: Some(1), daily_requests: None };
        assert!(matches!(f.reg.set_prefix_quota(&user(1), "88.1.1", q, NOW), Err(ServiceError::Forbidden(_))));
        assert!(matches!(f.reg.set_prefix_quota(&auditor(), "88.1.1", q, NOW), Err(ServiceError::Forbidden(_))));
        assert!(f.reg.set_prefix_quota(&admin(), "88.9.9", q, NOW).is_err());
        f.reg.set_prefix_quota(&admin(), "88.1.1", q, NOW).unwrap();
        assert_eq!(f.store.get_prefix("88.1.1").unwrap().unwrap().quota, q);
        let items: Vec<IdInput> = (0..2).map(|n| item(&format!("88.1.1/e{n}"), "M")).collect();
        let r = f.reg.create_identifiers(&user(1), &items, NOW).unwrap();
        assert!(r[0].is_ok());
        assert_eq!(r[1].as_ref().unwrap_err().idis_rc(), QuotaKind::Registrations.idis_rc());
        let eq = Quota { max_registrations: None, daily_requests: Some(7) };
        f.reg.set_enterprise_quota(&admin(), 2, eq, NOW).unwrap();
        let e = f.store.get_enterprise(2).unwrap().unwrap();
        assert_eq!(crate::service::quota::enterprise_quota(&e, Quota::default()), eq);
        f.reg.set_enterprise_quota(&admin(), 2, Quota::default(), NOW).unwrap();
        assert!(!f.store.get_enterprise(2).unwrap().unwrap().extra.contains_key("quota.dailyRequests"));
        let audit = f.store.read_audit(0, 100).unwrap();
        let acts: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(acts.iter().filter(|a| **a == "prefix.quota").count(), 1, "{acts:?}");
        assert_eq!(acts.iter().filter(|a| **a == "enterprise.quota").count(), 2, "{acts:?}");
        assert!(audit.iter().any(|a| a.action == "prefix.quota" && a.outcome.contains("maxRegistrations=1")));
    }
}
