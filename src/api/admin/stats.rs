//! Statistics, node status and the audit log.
//!
//! `GET /admin/v1/stats` answers registrations and resolutions per prefix
//! per UTC day (idis-node.md §4.6) from the store's counters: persisted
//! counts plus those still in memory (`Store::counters` merges both), so
//! an answer includes resolutions made a moment ago over any door. The
//! daemon persists the in-memory counts every 10 s and on shutdown; `POST
//! /admin/v1/stats/persist` (or `?persist=true`) persists them now, e.g.
//! before a backup or a test that restarts the node.

use axum::Json;
use axum::extract::State;
use idnode_registry::model::day_of;
use idnode_registry::service::{dates, stats as svc};
use serde_json::{Value, json};

use super::{AdminError, Query, St, Who, audited, blocking};

/// Longest day range one stats request may cover.
pub const MAX_DAYS: u32 = 3_660;
/// Days covered when `from` is absent.
pub const DEFAULT_DAYS: u32 = 30;
/// Most audit entries per request.
const MAX_AUDIT: u64 = 10_000;

/// A day given as `yyyy-MM-dd` (UTC), `today` or `yesterday`.
pub fn parse_day(s: &str, today: u32) -> Option<u32> {
    match s.trim().to_ascii_lowercase().as_str() {
        "today" => Some(today),
        "yesterday" => today.checked_sub(1),
        other => {
            if other.len() != 10 {
                return None;
            }
            dates::parse(other, 0).map(day_of)
        }
    }
}

/// `GET /admin/v1/stats[?prefix=P&from=DAY&to=DAY&persist=true]`.
pub async fn stats(State(st): State<St>, who: Who, q: Query) -> Result<Json<Value>, AdminError> {
    let today = day_of(crate::unix_now());
    let day = |name: &str| -> Result<Option<u32>, AdminError> {
        match q.get(name) {
            None => Ok(None),
            Some(v) => parse_day(v, today)
                .map(Some)
                .ok_or_else(|| AdminError::invalid(name, format!("{v:?} is not a day (yyyy-MM-dd, today, yesterday)"))),
        }
    };
    let to = day("to")?.unwrap_or(today);
    let from = day("from")?.unwrap_or_else(|| to.saturating_sub(DEFAULT_DAYS - 1));
    if from > to {
        return Err(AdminError::invalid("from", "is after to"));
    }
    if to - from >= MAX_DAYS {
        return Err(AdminError::invalid("from", format!("the range covers more than {MAX_DAYS} days")));
    }
    let persist = q.flag("persist")?;
    let prefix = q.get("prefix").map(str::to_owned);
    let store = st.store_arc();
    let outbox = st.outbox_json();
    let mirror = st.mirror_json();
    blocking(move || {
        if persist {
            store.persist_counters()?;
        }
        let rows = match &prefix {
            Some(p) => {
                let known =
                    store.get_prefix(p)?.ok_or_else(|| AdminError::not_found(format!("prefix {p} not found")))?;
                vec![svc::prefix_stats(&*store, &known.prefix, from, to)?]
            }
            None => svc::registration_stats(&*store, &who.actor, from, to)?,
        };
        Ok(Json(json!({
            "from": dates::day_string(from),
            "to": dates::day_string(to),
            "fromDay": from,
            "toDay": to,
            "prefixes": rows,
            "federation": {"outbox": outbox, "mirror": mirror, "changelog": {"lastSeq": store.last_seq(), "durableSeq": store.durable_seq(), "consumers": store.consumers()?}},
        })))
    })
    .await
}

/// `POST /admin/v1/stats/persist`: writes the in-memory counters now.
pub async fn persist(State(st): State<St>, who: Who) -> Result<Json<Value>, AdminError> {
    let st2 = st.clone();
    blocking(move || {
        let r = st2.store().persist_counters().map_err(AdminError::from);
        audited(&st2, &who, "stats.persist", "counters", r)?;
        Ok(Json(json!({"persisted": true})))
    })
    .await
}

/// `GET /admin/v1/status`.
pub async fn status(State(st): State<St>, _who: Who) -> Result<Json<Value>, AdminError> {
    let meta = st.store().meta();
    let cfg = st.cfg();
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "nodePrefix": cfg.node.node_prefix,
        "role": cfg.node.role.as_str(),
        "lastSeq": st.store().last_seq(),
        "schema": meta.schema,
        "nodeId": meta.node_id,
        "storeCreated": meta.created,
        "time": crate::unix_now(),
    })))
}

/// `GET /admin/v1/audit[?after=SEQ&limit=N]`: audit entries, oldest first.
pub async fn audit(State(st): State<St>, _who: Who, q: Query) -> Result<Json<Value>, AdminError> {
    let after = q.u64_in("after", 0..=u64::MAX, 0)?;
    let limit = q.u64_in("limit", 1..=MAX_AUDIT, 100)? as usize;
    let store = st.store_arc();
    blocking(move || {
        let entries: Vec<Value> = store
            .read_audit(after, limit)?
            .into_iter()
            .map(|e| {
                json!({"seq": e.seq, "time": e.time, "actor": e.actor, "action": e.action,
                       "target": e.target, "outcome": e.outcome, "client": e.detail})
            })
            .collect();
        Ok(Json(json!({"entries": entries})))
    })
    .await
}
