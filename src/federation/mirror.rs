//! The mirror role's follower: keeps this node's store a copy of its
//! primary's through the primary's transaction log (OC 1000 / 1001 / 1002,
//! `idnode_registry::replica`), over the shared Handle client (QUIC to a
//! configured QUIC peer, else kept-open TCP), answering the primary's
//! challenge per request (HS_SECKEY, §6.1).
//!
//! * No applied position yet (first start, or the primary's log no longer
//!   reaches it): a dump, page by page (1002); then whatever the mirror
//!   held that the dump did not carry is removed and the position is set
//!   to the dump's snapshot seq. A dump cut short is started again.
//! * Then the log (1001) from the applied position: each page is applied
//!   in order, the position moving in the same store transaction as the
//!   records it covers (`Store::write_batch_marking`), so a cut or a
//!   restart resumes after the last applied change, never before or after.
//!
//! Failures (primary down, an answer that does not decode, an error code)
//! are logged, counted, shown in `idnode stats`, and retried with backoff;
//! the doors keep serving the copy.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use idnode_registry::replica::{self, Entry};
use idnode_registry::store::{Store, WriteCtx};
use idnode_resolver::wire::{Body, Envelope, Header, Message, OpCode, OpFlags, ProtocolVersion, ResponseCode};
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

use super::link::NodeLink;
use crate::telemetry::names;

/// What the mirror shows to `idnode stats` and the metrics.
#[derive(Debug, Default)]
pub struct MirrorStatus {
    pub primary: String,
    /// The primary's seq this copy has applied up to.
    pub applied: AtomicU64,
    /// The primary's durable seq at the last exchange.
    pub primary_seq: AtomicU64,
    pub lag_changes: AtomicU64,
    pub lag_seconds: AtomicU64,
    /// Entries applied since start (log changes and dumped entries).
    pub applied_total: AtomicU64,
    pub failures: AtomicU64,
    pub dumps: AtomicU64,
    /// 1 the last exchange succeeded, 0 not, -1 none yet.
    pub reachable: AtomicI64,
    pub last_error: Mutex<Option<(u64, String)>>,
}

impl MirrorStatus {
    pub fn new(primary: &str) -> Self {
        MirrorStatus { primary: primary.to_owned(), reachable: AtomicI64::new(-1), ..Default::default() }
    }

    /// `federation.mirror` of `GET /admin/v1/stats`.
    pub fn to_json(&self) -> Json {
        let err = self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "primary": self.primary,
            "appliedSeq": l(&self.applied),
            "primarySeq": l(&self.primary_seq),
            "lagChanges": l(&self.lag_changes),
            "lagSeconds": l(&self.lag_seconds),
            "applied": l(&self.applied_total),
            "dumps": l(&self.dumps),
            "failures": l(&self.failures),
            "primaryReachable": match self.reachable.load(Ordering::Relaxed) { 1 => json!(true), 0 => json!(false), _ => Json::Null },
            "lastError": err.as_ref().map(|(_, m)| m.clone()),
            "lastErrorTime": err.as_ref().map(|(t, _)| *t),
        })
    }

    fn publish(&self) {
        metrics::gauge!(names::MIRROR_LAG_CHANGES).set(self.lag_changes.load(Ordering::Relaxed) as f64);
        metrics::gauge!(names::MIRROR_LAG_SECONDS).set(self.lag_seconds.load(Ordering::Relaxed) as f64);
    }
}

/// How the mirror reaches its primary: replication requests over the
/// shared Handle client ([`NodeLink`]: QUIC when the primary is a
/// configured QUIC peer, else kept-open TCP), answering its challenges.
#[derive(Debug)]
pub struct PrimaryLink {
    pub link: NodeLink,
    pub timeout: Duration,
}

impl PrimaryLink {
    fn addr(&self) -> &str {
        &self.link.addr
    }

    /// One replication request; the answer's body (RC 1) or why not.
    pub async fn exchange(&mut self, op: OpCode, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let now = crate::unix_now();
        let request = Message {
            envelope: Envelope::request(ProtocolVersion::OURS, 0),
            header: Header::request(op, OpFlags::NONE, (now as u32).wrapping_add(3600)),
            body: Body::Replication(body),
            credential: None,
        };
        let m = match tokio::time::timeout(self.timeout, self.link.exchange(request)).await {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("no answer within {} ms", self.timeout.as_millis())),
        };
        match (m.header.response_code, m.body) {
            (ResponseCode::SUCCESS, Body::Replication(b)) => Ok(b),
            (rc, Body::Error(e)) => Err(format!("primary answered {}: {}", rc.0, String::from_utf8_lossy(&e.message))),
            (rc, _) => Err(format!("primary answered {} with an unexpected body", rc.0)),
        }
    }
}

/// Tuning of the follower.
#[derive(Debug, Clone, Copy)]
pub struct FollowConfig {
    pub batch: u32,
    pub poll: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

/// Runs the follower until `token` is cancelled.
pub async fn run(
    store: Arc<dyn Store>,
    mut link: PrimaryLink,
    cfg: FollowConfig,
    status: Arc<MirrorStatus>,
    token: CancellationToken,
) {
    let mut backoff = cfg.retry_min;
    loop {
        if token.is_cancelled() {
            return;
        }
        let pause = match step(&store, &mut link, &cfg, &status).await {
            Ok(n) => {
                status.reachable.store(1, Ordering::Relaxed);
                backoff = cfg.retry_min;
                if n > 0 {
                    continue;
                }
                cfg.poll
            }
            Err(e) => {
                tracing::warn!(primary = %link.addr(), error = %e, "mirror: exchange with the primary failed; retrying");
                status.failures.fetch_add(1, Ordering::Relaxed);
                status.reachable.store(0, Ordering::Relaxed);
                *status.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some((crate::unix_now(), e));
                metrics::counter!(names::MIRROR_FAILURES).increment(1);
                let p = backoff;
                backoff = (backoff * 2).min(cfg.retry_max);
                p
            }
        };
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| format!("store task: {e}"))?
}

fn ctx() -> WriteCtx {
    WriteCtx::new(crate::unix_now(), "mirror").keeping_timestamps()
}

/// One step: a whole dump, or one page of the log. Returns the entries
/// applied (0 = caught up).
async fn step(
    store: &Arc<dyn Store>,
    link: &mut PrimaryLink,
    cfg: &FollowConfig,
    status: &MirrorStatus,
) -> Result<usize, String> {
    let st = store.clone();
    let applied = blocking(move || replica::applied(st.as_ref()).map_err(|e| e.to_string())).await?;
    let Some(position) = applied else {
        return dump(store, link, cfg, status).await;
    };
    let raw = link.exchange(OpCode::RETRIEVE_TXN_LOG, replica::encode_log_request(position, cfg.batch)).await?;
    let page = replica::decode_log_page(&raw).map_err(|e| format!("undecodable txn log from the primary: {e}"))?;
    if page.gap {
        tracing::warn!(position, "mirror: the primary's log no longer reaches our position; taking a new dump");
        let st = store.clone();
        blocking(move || st.remove_consumer(replica::APPLIED).map_err(|e| e.to_string())).await?;
        return Ok(1);
    }
    // Never apply an entry at or before the position twice, nor out of order.
    let mut last = position;
    let mut entries: Vec<Entry> = Vec::with_capacity(page.entries.len());
    for e in page.entries {
        if e.seq <= last {
            return Err(format!("the primary sent change {} after {last}", e.seq));
        }
        last = e.seq;
        entries.push(e);
    }
    let last_time = entries.last().map(|e| e.time);
    let n = entries.len();
    if n > 0 {
        let st = store.clone();
        blocking(move || replica::apply(st.as_ref(), &entries, &ctx(), true).map_err(|e| e.to_string())).await?;
        status.applied_total.fetch_add(n as u64, Ordering::Relaxed);
        metrics::counter!(names::MIRROR_APPLIED).increment(n as u64);
    }
    status.applied.store(last, Ordering::Relaxed);
    status.primary_seq.store(page.durable_seq, Ordering::Relaxed);
    let lag = page.durable_seq.saturating_sub(last);
    status.lag_changes.store(lag, Ordering::Relaxed);
    let lag_s = match last_time {
        Some(t) if lag > 0 => page.last_time.saturating_sub(t),
        _ if lag > 0 => status.lag_seconds.load(Ordering::Relaxed),
        _ => 0,
    };
    status.lag_seconds.store(lag_s, Ordering::Relaxed);
    status.publish();
    Ok(n)
}

/// A complete first copy (1002 pages), then the position.
async fn dump(
    store: &Arc<dyn Store>,
    link: &mut PrimaryLink,
    cfg: &FollowConfig,
    status: &MirrorStatus,
) -> Result<usize, String> {
    tracing::info!(primary = %link.addr(), "mirror: taking a full copy of the primary");
    let mut after: Vec<u8> = Vec::new();
    let mut snapshot: Option<u64> = None;
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut total = 0usize;
    loop {
        let raw = link.exchange(OpCode::DUMP_HANDLES, replica::encode_dump_request(&after, cfg.batch)).await?;
        let page = replica::decode_dump_page(&raw).map_err(|e| format!("undecodable dump from the primary: {e}"))?;
        snapshot.get_or_insert(page.snapshot_seq);
        seen.extend(page.entries.iter().map(|e| e.key.clone()));
        total += page.entries.len();
        let st = store.clone();
        let entries = page.entries;
        blocking(move || replica::apply(st.as_ref(), &entries, &ctx(), false).map_err(|e| e.to_string())).await?;
        if !page.more {
            break;
        }
        if page.next_key <= after {
            return Err("the primary's dump did not advance".into());
        }
        after = page.next_key;
    }
    let snapshot = snapshot.unwrap_or(0);
    let st = store.clone();
    let removed = blocking(move || {
        let c = ctx();
        let removed = replica::remove_unseen(st.as_ref(), &seen, &c).map_err(|e| e.to_string())?;
        st.set_consumer_position(replica::APPLIED, snapshot, c.now).map_err(|e| e.to_string())?;
        Ok(removed)
    })
    .await?;
    status.dumps.fetch_add(1, Ordering::Relaxed);
    status.applied_total.fetch_add(total as u64, Ordering::Relaxed);
    status.applied.store(snapshot, Ordering::Relaxed);
    metrics::counter!(names::MIRROR_APPLIED).increment(total as u64);
    tracing::info!(entries = total, removed, snapshot, "mirror: full copy done; following the log");
    Ok(total.max(1))
}
