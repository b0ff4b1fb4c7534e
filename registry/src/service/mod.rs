//! The registration service: the rules every write goes through, whatever
//! the door (SNMS HTTP API today; the Handle protocol and the admin API can
//! call the same functions).
//!
//! * [`access`] — who may touch which prefix (platform admin: all; enterprise
//!   user: its enterprise's prefixes; auditor: read only).
//! * [`identifiers`] — register / update / delete / read identifiers
//!   validated against the enterprise's template (snms-api.md §4), in
//!   batches committed with ONE store `write_batch` (one durable flush).
//! * [`templates`] — metadata templates (§3), [`prefixes`] — prefix query,
//!   paging, state machine and hosting (§5, §7), [`enterprises`] —
//!   enterprise filing (§6), [`accounts`] — sessions and credentials (§2),
//!   [`quota`] — per prefix / per enterprise limits (RC 603–605),
//!   [`stats`] — registrations per prefix per day, [`dates`] — calendar
//!   arithmetic for the SNMS date formats.
//!
//! Pure logic over a [`Store`]: no sockets, no environment, no clock (every
//! call takes `now`, Unix seconds). Password hashing and random token
//! generation are the caller's (the daemon's) job; this module stores and
//! compares the hashes it is given. Every write appends an audit entry
//! (who, what, when, from where) through [`Store::append_audit`].

use std::sync::Arc;

use crate::model::{AuditEntry, Quota, Role};
use crate::store::Store;

pub mod access;
pub mod accounts;
pub mod aliases;
pub mod dates;
pub mod enterprises;
mod error;
pub mod federation;
pub mod identifiers;
pub mod prefixes;
pub mod quota;
pub mod records;
pub mod refs;
pub mod stats;
pub mod templates;
pub mod trace;

pub use error::{QuotaKind, ServiceError};

/// The SNMS batch limit (snms-api.md §4.5).
pub const MAX_BATCH: usize = 2000;

/// Who is acting, and from where (for permission checks and the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub username: String,
    pub role: Role,
    pub enterprise_id: Option<u64>,
    /// Client address (or another origin such as `cli`), for the audit log.
    pub origin: String,
}

impl Actor {
    pub fn new(username: impl Into<String>, role: Role, enterprise_id: Option<u64>, origin: impl Into<String>) -> Self {
        Actor { username: username.into(), role, enterprise_id, origin: origin.into() }
    }

    /// A platform administrator acting from `origin` (CLI, tests).
    pub fn admin(username: impl Into<String>, origin: impl Into<String>) -> Self {
        Actor::new(username, Role::PlatformAdmin, None, origin)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::PlatformAdmin
    }

    /// Auditors read everything and write nothing.
    pub fn can_read_all(&self) -> bool {
        matches!(self.role, Role::PlatformAdmin | Role::Auditor)
    }
}

/// Service-wide limits and defaults (from the daemon's configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most items per batch request (<= [`MAX_BATCH`]).
    pub max_batch: usize,
    /// Quota of an enterprise that has none of its own.
    pub enterprise_quota: Quota,
    /// Most prefixes one enterprise may hold (`None` = unlimited).
    pub max_prefixes_per_enterprise: Option<u64>,
    /// Filings are approved at once (no review by the top node); for
    /// private deployments and tests.
    pub auto_approve: bool,
    /// Hosting server ids `ent/config` accepts; empty = any id >= 1.
    pub proxy_server_ids: Vec<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_batch: MAX_BATCH,
            enterprise_quota: Quota::default(),
            max_prefixes_per_enterprise: None,
            auto_approve: false,
            proxy_server_ids: Vec::new(),
        }
    }
}

/// The service: the store, the limits and the in-memory quota accounting.
/// Cheap to share (`Arc`); every method is blocking (store I/O) — async
/// callers use `spawn_blocking`.
#[derive(Debug)]
pub struct Registrar {
    store: Arc<dyn Store>,
    limits: Limits,
    usage: quota::Usage,
    accounts: accounts::AccountLock,
}

impl Registrar {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Registrar { store, limits, usage: quota::Usage::default(), accounts: accounts::AccountLock::default() }
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The store, shared (for tasks that outlive a borrow).
    pub fn store_arc(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Appends an audit entry. Failures are returned (a write whose audit
    /// entry cannot be stored is reported to the caller as failed only when
    /// the caller chooses so; identifier writes are already durable then).
    pub fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: impl Into<String>,
        outcome: impl Into<String>,
        now: u64,
    ) -> Result<(), ServiceError> {
        audit(&*self.store, actor, action, target, outcome, now)
    }
}

/// Appends one audit entry for `actor`.
pub fn audit(
    store: &dyn Store,
    actor: &Actor,
    action: &str,
    target: impl Into<String>,
    outcome: impl Into<String>,
    now: u64,
) -> Result<(), ServiceError> {
    let entry = AuditEntry {
        seq: 0,
        time: now,
        actor: actor.username.clone(),
        action: action.to_owned(),
        target: target.into(),
        outcome: outcome.into(),
        detail: actor.origin.clone(),
    };
    let event = AuditEntry { seq: store.append_audit(entry.clone())?, ..entry };
    emit_audit(&event);
    Ok(())
}

/// Target of the audit events: operators route or silence it by name.
pub const AUDIT_TARGET: &str = "idnode::audit";

/// The stored audit entry as a structured event (fields: seq, time, actor,
/// action, object, outcome, origin). The entry never holds a secret (names,
/// handles, outcomes), so neither does the event.
fn emit_audit(e: &AuditEntry) {
    tracing::info!(
        target: AUDIT_TARGET,
        seq = e.seq,
        time = e.time,
        actor = %e.actor,
        action = %e.action,
        object = %e.target,
        outcome = %e.outcome,
        origin = %e.detail,
        "audit"
    );
}

/// Characters in `s` (the SNMS limits count characters, not bytes).
pub(crate) fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Fails when `s` has more than `max` characters.
pub(crate) fn check_len(field: &str, s: &str, max: usize) -> Result<(), ServiceError> {
    if s.len() > max {
        let n = chars(s);
        if n > max {
            return Err(ServiceError::invalid(field, format!("{n} characters exceeds the limit of {max}")));
        }
    }
    Ok(())
}

/// Fails when `s` is empty (after trimming) or longer than `max`.
pub(crate) fn check_required(field: &str, s: &str, max: usize) -> Result<(), ServiceError> {
    if s.trim().is_empty() {
        return Err(ServiceError::invalid(field, "must not be empty"));
    }
    check_len(field, s, max)
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::sync::Arc;

    use crate::model::{
        Enterprise, EnterpriseStatus, HostingState, ItemMetadata, Prefix, PrefixState, Role, Template, TemplateItem,
    };
    use crate::store::{SledStore, Store, WriteCtx};

    use super::{Actor, Limits, Registrar};

    pub const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    pub struct Fixture {
        pub _dir: tempfile::TempDir,
        pub store: Arc<dyn Store>,
        pub reg: Registrar,
    }

    /// Node prefix 88.1 (homed), enterprise 1 owns 88.1.1 (homed, enabled,
    /// template 1.0.0: model 2000 required 1..=8, batch 2001 optional,
    /// color 2002 disabled), enterprise 2 owns 88.1.2.
    pub fn fixture(limits: Limits) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("s")).unwrap());
        let ctx = WriteCtx::new(NOW, "test");
        // Keep generated ids clear of the fixed enterprise ids below.
        for _ in 0..10 {
            store.next_id().unwrap();
        }
        store.put_prefix(&Prefix::homed("88.1", NOW), &ctx).unwrap();
        for (id, p) in [(1u64, "88.1.1"), (2, "88.1.2")] {
            let mut e = Enterprise::new(id, format!("企业{id}"), format!("CODE{id}"), NOW);
            e.status = EnterpriseStatus::Approved;
            store.put_enterprise(&e).unwrap();
            let mut pr = Prefix::new(p, PrefixState::Enabled, NOW);
            pr.homed = true;
            pr.hosting = HostingState::Hosted;
            pr.enterprise_id = Some(id);
            store.put_prefix(&pr, &ctx).unwrap();
        }
        let item = |name: &str, t: &str, idx, required, enabled, min, max| TemplateItem {
            name: name.into(),
            id_type: t.into(),
            id_index: idx,
            required,
            enabled,
            metadata_id: u64::from(idx),
            metadata: ItemMetadata { data_type: "string".into(), min_length: min, max_length: max },
        };
        for p in ["88.1.1", "88.1.2"] {
            store
                .put_template(&Template {
                    id: 7,
                    prefix: p.into(),
                    version: "1.0.0".into(),
                    description: String::new(),
                    industry_category: "C".into(),
                    industry_specific: "34".into(),
                    industry_trade: "341".into(),
                    industry_subclass: "3411".into(),
                    object_type: 1,
                    handle: None,
                    items: vec![
                        item("型号", "model", 2000, true, true, Some(1), Some(8)),
                        item("批次", "batch", 2001, false, true, None, None),
                        item("颜色", "color", 2002, false, false, None, None),
                    ],
                    created: NOW,
                    updated: NOW,
                })
                .unwrap();
        }
        let reg = Registrar::new(store.clone(), limits);
        Fixture { _dir: dir, store, reg }
    }

    pub fn admin() -> Actor {
        Actor::admin("admin", "127.0.0.1")
    }

    pub fn user(ent: u64) -> Actor {
        Actor::new(format!("user{ent}"), Role::EnterpriseUser, Some(ent), "127.0.0.1")
    }

    pub fn auditor() -> Actor {
        Actor::new("aud", Role::Auditor, None, "127.0.0.1")
    }
}
