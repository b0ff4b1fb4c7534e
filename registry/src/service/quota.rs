//! Quotas (idis-node.md §4.5, idis-extensions.md §6): per prefix
//! ([`Prefix::quota`]) and per enterprise (its `extra` keys
//! `quota.maxRegistrations` / `quota.dailyRequests`, else
//! [`super::Limits::enterprise_quota`]):
//!
//! * **registrations** — identifiers that may exist under the prefix (or
//!   under all prefixes of the enterprise); RC 604;
//! * **daily requests** — registrations + resolutions per UTC day, read
//!   from the store's per-day counters (persisted + pending); RC 603.
//!
//! Counting records is O(n) in the store, so counts are cached here and
//! adjusted by this service's own creates and deletes; a cached count is
//! re-read from the store after [`RECOUNT_SECS`] so writes made through
//! other doors are picked up. Concurrent batches reserve what they were
//! admitted, so two batches cannot both take the last slots.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Actor, QuotaKind, Registrar, ServiceError};
use crate::model::{Enterprise, Prefix, Quota, day_of};
use crate::store::{StoreError, StoreExt, WriteCtx};

/// How long a cached record count is trusted, seconds.
pub const RECOUNT_SECS: u64 = 600;

/// Extra key of an enterprise's registration quota.
pub const ENT_MAX_REGISTRATIONS: &str = "quota.maxRegistrations";
/// Extra key of an enterprise's daily request quota.
pub const ENT_DAILY_REQUESTS: &str = "quota.dailyRequests";

#[derive(Debug, Default)]
struct Inner {
    /// Canonical prefix -> (records, when counted).
    records: HashMap<String, (u64, u64)>,
    /// Canonical prefix -> registrations admitted but not yet written.
    inflight: HashMap<String, u64>,
}

/// In-memory usage accounting of one [`Registrar`].
#[derive(Debug, Default)]
pub struct Usage {
    inner: Mutex<Inner>,
}

/// What a batch was admitted for under one prefix.
#[derive(Debug, Clone)]
pub struct Admission {
    /// Canonical prefix.
    pub key: String,
    /// How many of the wanted registrations may go ahead (in order).
    pub allowed: u64,
    /// Why the rest may not (when `allowed` < wanted).
    pub refusal: Option<(QuotaKind, String, u64)>,
}

/// The quota of an enterprise: its own extra keys, else `default`.
pub fn enterprise_quota(e: &Enterprise, default: Quota) -> Quota {
    let get = |k: &str| e.extra.get(k).and_then(|v| v.trim().parse::<u64>().ok());
    Quota {
        max_registrations: get(ENT_MAX_REGISTRATIONS).or(default.max_registrations),
        daily_requests: get(ENT_DAILY_REQUESTS).or(default.daily_requests),
    }
}

fn is_unlimited(q: &Quota) -> bool {
    q.max_registrations.is_none() && q.daily_requests.is_none()
}

impl Registrar {
    fn usage_lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.usage.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records under `key` (cached, see [`RECOUNT_SECS`]).
    fn records_under(&self, key: &str, now: u64) -> Result<u64, ServiceError> {
        if let Some(&(n, at)) = self.usage_lock().records.get(key)
            && now.saturating_sub(at) < RECOUNT_SECS
        {
            return Ok(n);
        }
        let n = self.store().count_records(Some(key))?;
        self.usage_lock().records.insert(key.to_owned(), (n, now));
        Ok(n)
    }

    /// Registrations + resolutions under `key` today (UTC).
    fn requests_today(&self, key: &str, now: u64) -> Result<u64, ServiceError> {
        let day = day_of(now);
        Ok(self
            .store()
            .counters(key, day, day)?
            .iter()
            .map(|(_, c)| c.registrations.saturating_add(c.resolutions))
            .fold(0u64, u64::saturating_add))
    }

    fn inflight(&self, key: &str) -> u64 {
        self.usage_lock().inflight.get(key).copied().unwrap_or(0)
    }

    /// The enterprise quota scope of `p`: (enterprise quota, canonical keys
    /// of every prefix of that enterprise), when it has a limit.
    fn enterprise_scope(&self, p: &Prefix) -> Result<Option<(u64, Quota, Vec<String>)>, ServiceError> {
        let Some(eid) = p.enterprise_id else { return Ok(None) };
        let default = self.limits().enterprise_quota;
        let quota = match self.store().get_enterprise(eid)? {
            Some(e) => enterprise_quota(&e, default),
            None => default,
        };
        if is_unlimited(&quota) {
            return Ok(None);
        }
        let keys = self
            .store()
            .list_prefixes()?
            .into_iter()
            .filter(|q| q.enterprise_id == Some(eid))
            .map(|q| q.canonical())
            .collect();
        Ok(Some((eid, quota, keys)))
    }

    /// Admits up to `wanted` registrations under `p` and reserves them;
    /// call [`release`](Self::release) after the write.
    pub fn admit_registrations(&self, p: &Prefix, wanted: u64, now: u64) -> Result<Admission, ServiceError> {
        let key = p.canonical();
        let mut allowed = wanted;
        let mut refusal = None;
        let mut limit_by = |left: u64, kind: QuotaKind, scope: String, limit: u64| {
            if left < allowed {
                allowed = left;
                refusal = Some((kind, scope, limit));
            }
        };
        if !is_unlimited(&p.quota) {
            let inflight = self.inflight(&key);
            if let Some(max) = p.quota.max_registrations {
                let used = self.records_under(&key, now)?.saturating_add(inflight);
                limit_by(max.saturating_sub(used), QuotaKind::Registrations, format!("前缀{}", p.prefix), max);
            }
            if let Some(max) = p.quota.daily_requests {
                let used = self.requests_today(&key, now)?.saturating_add(inflight);
                limit_by(max.saturating_sub(used), QuotaKind::DailyRequests, format!("前缀{}", p.prefix), max);
            }
        }
        if let Some((eid, q, keys)) = self.enterprise_scope(p)? {
            let inflight: u64 = keys.iter().map(|k| self.inflight(k)).sum();
            if let Some(max) = q.max_registrations {
                let mut used = inflight;
                for k in &keys {
                    used = used.saturating_add(self.records_under(k, now)?);
                }
                limit_by(max.saturating_sub(used), QuotaKind::Registrations, format!("企业{eid}"), max);
            }
            if let Some(max) = q.daily_requests {
                let mut used = inflight;
                for k in &keys {
                    used = used.saturating_add(self.requests_today(k, now)?);
                }
                limit_by(max.saturating_sub(used), QuotaKind::DailyRequests, format!("企业{eid}"), max);
            }
        }
        if allowed > 0 {
            *self.usage_lock().inflight.entry(key.clone()).or_insert(0) += allowed;
        }
        Ok(Admission { key, allowed, refusal })
    }

    /// Ends a reservation: `created` registrations actually happened.
    pub fn release(&self, a: &Admission, created: u64, now: u64) {
        let mut u = self.usage_lock();
        if let Some(n) = u.inflight.get_mut(&a.key) {
            *n = n.saturating_sub(a.allowed);
            if *n == 0 {
                u.inflight.remove(&a.key);
            }
        }
        if let Some((n, at)) = u.records.get_mut(&a.key) {
            *n = n.saturating_add(created);
            if now < *at {
                *at = now;
            }
        }
    }

    /// Notes `n` identifiers removed under the canonical prefix `key`.
    pub fn note_deleted(&self, key: &str, n: u64) {
        if let Some((c, _)) = self.usage_lock().records.get_mut(key) {
            *c = c.saturating_sub(n);
        }
    }

    /// Checks the daily request quota of `p` (and its enterprise) before a
    /// resolution or update; the Handle door can call this too and answer
    /// RC 603 ([`ServiceError::idis_rc`]).
    pub fn check_daily(&self, p: &Prefix, now: u64) -> Result<(), ServiceError> {
        let key = p.canonical();
        if let Some(max) = p.quota.daily_requests
            && self.requests_today(&key, now)? >= max
        {
            return Err(ServiceError::Quota {
                kind: QuotaKind::DailyRequests,
                scope: format!("前缀{}", p.prefix),
                limit: max,
            });
        }
        if let Some((eid, q, keys)) = self.enterprise_scope(p)?
            && let Some(max) = q.daily_requests
        {
            let mut used = 0u64;
            for k in &keys {
                used = used.saturating_add(self.requests_today(k, now)?);
            }
            if used >= max {
                return Err(ServiceError::Quota {
                    kind: QuotaKind::DailyRequests,
                    scope: format!("企业{eid}"),
                    limit: max,
                });
            }
        }
        Ok(())
    }
}

/// Text of a quota for the audit log (`-` = unlimited / inherited).
fn quota_text(q: &Quota) -> String {
    let f = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    format!("maxRegistrations={} dailyRequests={}", f(q.max_registrations), f(q.daily_requests))
}

impl Registrar {
    /// Sets the quota of a prefix (administrators only; audited as
    /// `prefix.quota`). `None` fields are unlimited; a prefix with no limit
    /// at all falls back to its enterprise's quota. Takes effect on the next
    /// registration (admission reads the stored prefix).
    pub fn set_prefix_quota(&self, actor: &Actor, prefix: &str, q: Quota, now: u64) -> Result<Prefix, ServiceError> {
        super::access::check_writer(actor)?;
        if !actor.is_admin() {
            return Err(ServiceError::forbidden("只有管理员可以修改配额 (administrators only)"));
        }
        let ctx = WriteCtx::new(now, actor.username.clone());
        let (p, _) = self.store().update_prefix(prefix, &ctx, &mut |cur| {
            let mut p = cur.ok_or_else(|| StoreError::EntityNotFound { what: "prefix", key: prefix.to_owned() })?;
            p.quota = q;
            Ok(p)
        })?;
        self.audit(actor, "prefix.quota", &p.prefix, quota_text(&q), now)?;
        Ok(p)
    }

    /// Sets the quota of an enterprise (its `extra` keys
    /// [`ENT_MAX_REGISTRATIONS`] / [`ENT_DAILY_REQUESTS`]; `None` removes the
    /// key, so the node's default applies). Administrators only; audited as
    /// `enterprise.quota`.
    pub fn set_enterprise_quota(&self, actor: &Actor, id: u64, q: Quota, now: u64) -> Result<Enterprise, ServiceError> {
        super::access::check_writer(actor)?;
        if !actor.is_admin() {
            return Err(ServiceError::forbidden("只有管理员可以修改配额 (administrators only)"));
        }
        let e = self.store().update_enterprise(id, &mut |cur| {
            let mut e = cur.ok_or_else(|| StoreError::EntityNotFound { what: "enterprise", key: id.to_string() })?;
            for (k, v) in [(ENT_MAX_REGISTRATIONS, q.max_registrations), (ENT_DAILY_REQUESTS, q.daily_requests)] {
                match v {
                    Some(n) => {
                        e.extra.insert(k.to_owned(), n.to_string());
                    }
                    None => {
                        e.extra.remove(k);
                    }
                }
            }
            Ok(e)
        })?;
        self.audit(actor, "enterprise.quota", id.to_string(), quota_text(&q), now)?;
        Ok(e)
    }
}
