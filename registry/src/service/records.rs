//! Raw Handle record writes: the one way a door that speaks Handle records
//! (the binary protocol's admin ops, the Handle REST API, the admin API's
//! record routes and import, the CLI offline import) changes a record.
//!
//! The door makes the authorisation decision in its protocol's own terms
//! (HS_ADMIN of the record or prefix, the admin API's roles) and hands the
//! allowed [`RecordOp`]s here; this module then applies, in order:
//!
//! 1. **quotas** of the governing prefix and its enterprise — a write that
//!    creates a record reserves a registration in the service's ONE
//!    reservation ledger ([`super::quota`]), shared by every door because the
//!    daemon builds one [`Registrar`] and hands it to all of them; other
//!    writes check the daily request quota (RC 603);
//! 2. the **store write** (which appends the change-log entry in the same
//!    transaction);
//! 3. one **audit entry** per call (who, what, when, from where, outcome).
//!
//! Templates are the SNMS identifier path's ([`super::identifiers`]): a raw
//! Handle record has no metadata shape to check.

use std::collections::HashMap;

use super::quota::Admission;
use super::{Actor, Registrar, ServiceError};
use crate::ident::prefix_of;
use crate::model::Prefix;
use crate::store::{RecordOp, StoreError, WriteCtx, WriteReceipt};

/// The result of one item of [`Registrar::write_records`].
pub type RecordResult = Result<WriteReceipt, ServiceError>;

/// The audit action of an op.
fn action(op: &RecordOp) -> &'static str {
    match op {
        RecordOp::Create { .. } => "record.create",
        RecordOp::Replace { .. } => "record.replace",
        RecordOp::Delete { .. } => "record.delete",
        RecordOp::AddValues { .. } => "record.add_values",
        RecordOp::ModifyValues { .. } => "record.modify_values",
        RecordOp::RemoveValues { .. } => "record.remove_values",
    }
}

impl Registrar {
    /// The prefix governing `key` (longest known prefix of its handle).
    fn governing(&self, key: &[u8]) -> Option<std::sync::Arc<Prefix>> {
        self.store().longest_known(prefix_of(key)).map(|m| m.prefix)
    }

    /// Whether `op` would add a record that does not exist yet.
    fn registers(&self, op: &RecordOp) -> Result<bool, ServiceError> {
        Ok(match op {
            RecordOp::Create { overwrite: false, .. } => true,
            RecordOp::Create { key, overwrite: true, .. } => !self.store().contains_record(key)?,
            _ => false,
        })
    }

    /// One record write from a Handle door: quota, store write (and change
    /// log), audit entry. `ctx.actor` is what the change log records.
    pub fn write_record(&self, actor: &Actor, op: RecordOp, ctx: &WriteCtx) -> RecordResult {
        let target = String::from_utf8_lossy(op.key()).into_owned();
        let act = action(&op);
        let result = self.write_one(op, ctx);
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => outcome_of(e),
        };
        // The record write is durable already; an audit failure is reported.
        self.audit(actor, act, target, outcome, ctx.now)?;
        result
    }

    fn write_one(&self, op: RecordOp, ctx: &WriteCtx) -> RecordResult {
        let now = ctx.now;
        // Typed references (`REF.<relation>`) are checked on every door.
        if let RecordOp::Create { values, .. }
        | RecordOp::Replace { values, .. }
        | RecordOp::AddValues { values, .. }
        | RecordOp::ModifyValues { values, .. } = &op
        {
            super::refs::check_links(self.store(), values)?;
        }
        let prefix = self.governing(op.key());
        let deletes = matches!(op, RecordOp::Delete { .. });
        let mut admission = None;
        if let Some(p) = &prefix {
            if self.registers(&op)? {
                let a = self.admit_registrations(p, 1, now)?;
                if a.allowed == 0 {
                    self.release(&a, 0, now);
                    return Err(refusal(&a));
                }
                admission = Some(a);
            } else {
                self.check_daily(p, now)?;
            }
        }
        let result = self.store().write(op, ctx);
        if let Some(a) = &admission {
            self.release(a, u64::from(result.is_ok()), now);
        }
        let receipt = result.map_err(ServiceError::Store)?;
        if deletes && let Some(p) = &prefix {
            self.note_deleted(&p.canonical(), 1);
        }
        Ok(receipt)
    }

    /// Many record writes in ONE store batch (one flush): each create is
    /// admitted against its prefix's quota first (items past the quota get
    /// [`ServiceError::Quota`] and are not written); one audit entry for the
    /// batch. The outer error means nothing was written.
    pub fn write_records(
        &self,
        actor: &Actor,
        ops: Vec<RecordOp>,
        ctx: &WriteCtx,
    ) -> Result<Vec<RecordResult>, ServiceError> {
        let now = ctx.now;
        let n = ops.len();
        let mut results: Vec<Option<RecordResult>> = (0..n).map(|_| None).collect();
        // Registrations wanted per governing prefix, in order.
        let mut wanted: HashMap<String, (std::sync::Arc<Prefix>, u64)> = HashMap::new();
        let mut governs: Vec<Option<String>> = Vec::with_capacity(n);
        for op in &ops {
            let key = match self.governing(op.key()) {
                Some(p) if self.registers(op)? => {
                    let k = p.canonical();
                    wanted.entry(k.clone()).or_insert((p, 0)).1 += 1;
                    Some(k)
                }
                _ => None,
            };
            governs.push(key);
        }
        let mut admissions: HashMap<String, (Admission, u64)> = HashMap::new();
        for (k, (p, count)) in &wanted {
            match self.admit_registrations(p, *count, now) {
                Ok(a) => {
                    admissions.insert(k.clone(), (a, 0));
                }
                Err(e) => {
                    for (a, _) in admissions.values() {
                        self.release(a, 0, now);
                    }
                    return Err(e);
                }
            }
        }
        let mut batch = Vec::with_capacity(n);
        let mut positions = Vec::with_capacity(n);
        for (i, (op, gov)) in ops.into_iter().zip(&governs).enumerate() {
            if let Some(k) = gov {
                let (a, used) = admissions.get_mut(k).expect("admitted above");
                if *used >= a.allowed {
                    results[i] = Some(Err(refusal(a)));
                    continue;
                }
                *used += 1;
            }
            positions.push(i);
            batch.push(op);
        }
        let written = if batch.is_empty() { Ok(Vec::new()) } else { self.store().write_batch(batch, ctx) };
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                for (a, _) in admissions.values() {
                    self.release(a, 0, now);
                }
                return Err(e.into());
            }
        };
        let mut created: HashMap<&str, u64> = HashMap::new();
        for (i, r) in positions.into_iter().zip(written) {
            if r.is_ok()
                && let Some(k) = &governs[i]
            {
                *created.entry(k.as_str()).or_insert(0) += 1;
            }
            results[i] = Some(r.map_err(ServiceError::Store));
        }
        for (k, (a, _)) in &admissions {
            self.release(a, created.get(k.as_str()).copied().unwrap_or(0), now);
        }
        let results: Vec<RecordResult> = results.into_iter().map(|r| r.expect("every item answered")).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let outcome = if ok == n { "ok".to_owned() } else { format!("ok {ok}, failed {}", n - ok) };
        self.audit(actor, "record.batch", format!("{n} records"), outcome, now)?;
        Ok(results)
    }
}

/// The audit outcome of a failed record write: a short code, then the
/// message where the code alone does not say it.
fn outcome_of(e: &ServiceError) -> String {
    match e {
        ServiceError::Store(StoreError::AlreadyExists) => "already_exists".into(),
        ServiceError::Store(StoreError::NotFound) => "not_found".into(),
        ServiceError::Store(StoreError::ValueExists(i)) => format!("value_exists: {i}"),
        ServiceError::Store(StoreError::ValueNotFound(i)) => format!("value_not_found: {i}"),
        ServiceError::Quota { .. } => format!("quota: {e}"),
        e => format!("error: {e}"),
    }
}

/// The quota error of a refused admission.
fn refusal(a: &Admission) -> ServiceError {
    let (kind, scope, limit) = a.refusal.clone().unwrap_or((super::QuotaKind::Registrations, a.key.clone(), 0));
    ServiceError::Quota { kind, scope, limit }
}

impl ServiceError {
    /// The store error inside, when this is one (the Handle doors map store
    /// errors to their own codes).
    pub fn as_store(&self) -> Option<&StoreError> {
        match self {
            ServiceError::Store(e) => Some(e),
            _ => None,
        }
    }
}
