//! Federation drivers (design.md §2, §4 `src/federation/`): the async shells
//! around the sans-IO logic.
//!
//! * **Publisher** (every role): keeps `0.NA/<enterprise prefix>` records in
//!   step with the prefixes (`registry::service::federation`): a full pass
//!   at start-up (this node's HS_SITE may have changed), then one pass per
//!   prefix change read from the durable change log.
//! * **Outbox** (a secondary with `[federation] top`): follows the change
//!   log for changes of those prefix handles and delivers each to the top
//!   node ([`outbox`] decides, [`driver`] does the I/O, [`link`] talks).
//! * **Top node set-up** ([`prepare_top`]): derived-prefix markers and the
//!   admitted secondaries' keys and HS_ADMIN values, written at start-up.
//! * **Mirror** (role `mirror`, [`mirror`]): follows the primary's change
//!   log; no publisher (a mirror writes nothing of its own). A primary with
//!   `[mirror] replicas` registers each as a change-log consumer.
//!
//! Nothing here binds a listener; the tasks get the store, the registrar
//! and a child of the daemon's cancellation token.

pub mod driver;
pub mod link;
pub mod mirror;
pub mod outbox;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use idnode_registry::model::ChangeOp;
use idnode_registry::service::Registrar;
use idnode_registry::store::Store;
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Role, Secret};

/// Name of the outbox's change-log consumer position.
pub const OUTBOX_CONSUMER: &str = "outbox";

/// How often an idle follower looks for new durable changes.
const POLL: Duration = Duration::from_millis(50);

/// What the outbox shows to `idnode stats` and the admin API (updated by
/// the driver after every step).
#[derive(Debug, Default)]
pub struct OutboxStatus {
    pub top: String,
    pub depth: AtomicU64,
    pub delivered: AtomicU64,
    pub failures: AtomicU64,
    pub position: AtomicU64,
    /// 1 reachable, 0 not, -1 unknown (no exchange yet).
    pub reachable: AtomicI64,
    /// (Unix seconds, message) of the last failure.
    pub last_error: Mutex<Option<(u64, String)>>,
}

impl OutboxStatus {
    pub fn new(top: &str) -> Self {
        OutboxStatus { top: top.to_owned(), reachable: AtomicI64::new(-1), ..Default::default() }
    }

    /// The JSON of `GET /admin/v1/stats` (`federation.outbox`).
    pub fn to_json(&self) -> Json {
        let err = self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
        json!({
            "top": self.top,
            "depth": self.depth.load(Ordering::Relaxed),
            "delivered": self.delivered.load(Ordering::Relaxed),
            "failures": self.failures.load(Ordering::Relaxed),
            "position": self.position.load(Ordering::Relaxed),
            "topReachable": match self.reachable.load(Ordering::Relaxed) { 1 => json!(true), 0 => json!(false), _ => Json::Null },
            "lastError": err.as_ref().map(|(_, m)| m.clone()),
            "lastErrorTime": err.as_ref().map(|(t, _)| *t),
        })
    }
}

/// Top node: homes the configured derived-prefix markers and admits the
/// configured secondaries (idempotent; run at every start).
pub fn prepare_top(cfg: &Config, reg: &Registrar) -> Result<()> {
    if cfg.node.role != Role::Top {
        return Ok(());
    }
    let now = crate::unix_now();
    let admin_handle = idnode_registry::ident::prefix_handle(&cfg.node.node_prefix);
    for d in &cfg.federation.derived_prefixes {
        reg.home_derived_prefix(d, &admin_handle, 300, now)
            .with_context(|| format!("homing the derived-prefix marker 0.NA/0.NA/{d}"))?;
    }
    for (i, a) in cfg.federation.admitted.iter().enumerate() {
        let id = idnode_resolver::auth::Identity::parse(&a.identity)
            .with_context(|| format!("federation.admitted[{i}].identity"))?;
        let path = cfg.resolve_path(&a.secret_file);
        let secret = Secret::from_file(&path)
            .with_context(|| format!("reading federation.admitted[{i}].secret_file {}", path.display()))?;
        reg.admit_secondary(&id.handle, id.index, secret.expose(), &a.prefixes, now)
            .with_context(|| format!("admitting {}", a.identity))?;
    }
    Ok(())
}

/// The running federation tasks.
#[derive(Debug)]
pub struct Federation {
    /// The outbox's status, when this node reports to a top node.
    pub outbox: Option<Arc<OutboxStatus>>,
    /// The mirror follower's status, when this node is a mirror.
    pub mirror: Option<Arc<mirror::MirrorStatus>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Federation {
    /// Waits (bounded) for the tasks after the token was cancelled.
    pub async fn join(self, timeout: Duration) {
        let all = async {
            for t in self.tasks {
                let _ = t.await;
            }
        };
        if tokio::time::timeout(timeout, all).await.is_err() {
            tracing::warn!("federation tasks did not stop in time");
        }
    }
}

/// Starts what this node's role and `[federation]` ask for: the top-node
/// records, the publisher, and the outbox (over `quic` when the top node
/// is a configured QUIC peer, else TCP).
pub async fn start(
    cfg: &Arc<Config>,
    store: Arc<dyn Store>,
    own_site: Arc<[u8]>,
    quic: Option<Arc<dyn idnode_resolver::upstream::QuicLink>>,
    token: CancellationToken,
) -> Result<Federation> {
    if cfg.node.role == Role::Mirror {
        return start_mirror(cfg, store, quic, token);
    }
    register_replicas(cfg, &store).await?;
    let reg = Arc::new(Registrar::new(store.clone(), crate::api::snms::limits_of(cfg)));
    {
        let (cfg, reg) = (cfg.clone(), reg.clone());
        tokio::task::spawn_blocking(move || prepare_top(&cfg, &reg)).await.context("top-node set-up task")??;
    }
    let mut tasks = vec![start_publisher(reg, own_site, token.clone()).await?];
    let mut outbox = None;
    let f = &cfg.federation;
    if cfg.node.role == Role::Secondary && !f.top.is_empty() {
        let identity = idnode_resolver::auth::Identity::parse(&f.identity_or_default(&cfg.node.node_prefix))
            .context("federation.identity")?;
        let path = cfg.resolve_path(&f.secret_file);
        let secret =
            Secret::from_file(&path).with_context(|| format!("reading federation.secret_file {}", path.display()))?;
        let link = link::UpstreamTopLink(link::NodeLink {
            upstream: node_client(Duration::from_millis(f.timeout_ms), quic),
            addr: f.top.clone(),
            identity_index: identity.index,
            identity_handle: identity.handle,
            secret: Arc::new(secret),
        });
        let status = Arc::new(OutboxStatus::new(&f.top));
        let ocfg = outbox::OutboxConfig {
            retry_min_ms: f.retry_min_ms,
            retry_max_ms: f.retry_max_ms,
            ..outbox::OutboxConfig::default()
        };
        tasks.push(tokio::spawn(driver::run(store, link, ocfg, status.clone(), token)));
        outbox = Some(status);
    }
    Ok(Federation { outbox, mirror: None, tasks })
}

/// A primary: registers each configured mirror as a change-log consumer
/// (at the current durable seq when new), so retention waits for it.
async fn register_replicas(cfg: &Arc<Config>, store: &Arc<dyn Store>) -> Result<()> {
    let names: Vec<String> = cfg
        .mirror
        .replicas
        .iter()
        .map(|r| {
            idnode_resolver::auth::Identity::parse(r).map(|i| idnode_resolver::engine::replication::consumer_name(&i))
        })
        .collect::<Result<_, _>>()
        .context("mirror.replicas")?;
    let st = store.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        for name in names {
            if st.consumer_position(&name)?.is_none() {
                st.set_consumer_position(&name, st.durable_seq(), crate::unix_now())?;
            }
        }
        Ok(())
    })
    .await
    .context("registering mirrors")?
}

/// A mirror: the follower task (nothing else writes here).
fn start_mirror(
    cfg: &Arc<Config>,
    store: Arc<dyn Store>,
    quic: Option<Arc<dyn idnode_resolver::upstream::QuicLink>>,
    token: CancellationToken,
) -> Result<Federation> {
    let m = &cfg.mirror;
    let identity = idnode_resolver::auth::Identity::parse(&m.identity_or_default(&cfg.node.node_prefix))
        .context("mirror.identity")?;
    let path = cfg.resolve_path(&m.secret_file);
    let secret = Secret::from_file(&path).with_context(|| format!("reading mirror.secret_file {}", path.display()))?;
    let timeout = Duration::from_millis(m.timeout_ms);
    let link = mirror::PrimaryLink {
        link: link::NodeLink {
            upstream: node_client(timeout, quic),
            addr: m.primary.clone(),
            identity_index: identity.index,
            identity_handle: identity.handle,
            secret: Arc::new(secret),
        },
        timeout,
    };
    let fc = mirror::FollowConfig {
        batch: m.batch,
        poll: Duration::from_millis(m.poll_ms),
        retry_min: Duration::from_millis(m.retry_min_ms),
        retry_max: Duration::from_millis(m.retry_max_ms),
    };
    let status = Arc::new(mirror::MirrorStatus::new(&m.primary));
    let task = tokio::spawn(mirror::run(store, link, fc, status.clone(), token));
    Ok(Federation { outbox: None, mirror: Some(status), tasks: vec![task] })
}

/// Runs the publisher: a full pass now, then one pass per prefix change.
/// Returns once the first full pass is done (so the records exist before
/// the doors announce themselves); the follower keeps running as a task.
pub async fn start_publisher(
    reg: Arc<Registrar>,
    own_site: Arc<[u8]>,
    token: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>> {
    let store: Arc<dyn Store> = reg.store_arc();
    // Position first, then the full pass: a change racing the pass is
    // read again by the follower (publishing is idempotent).
    let start = store.durable_seq();
    let (r2, s2) = (reg.clone(), own_site.clone());
    let n = tokio::task::spawn_blocking(move || r2.publish_all_prefixes(&s2, crate::unix_now()))
        .await
        .context("publisher task")?
        .context("publishing prefix handles")?;
    if n > 0 {
        tracing::info!(written = n, "prefix handles published");
    }
    Ok(tokio::spawn(async move {
        let mut after = start;
        loop {
            if store.durable_seq() <= after {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(POLL) => continue,
                }
            }
            let (st, reg, site) = (store.clone(), reg.clone(), own_site.clone());
            let r = tokio::task::spawn_blocking(move || -> Result<u64, String> {
                let changes = st.changes_since(after, 4096).map_err(|e| e.to_string())?;
                let mut last = after;
                for c in changes {
                    last = c.seq;
                    if matches!(c.op, ChangeOp::PrefixPut | ChangeOp::PrefixDelete) {
                        let prefix = String::from_utf8_lossy(&c.key).into_owned();
                        reg.publish_prefix(&prefix, &site, crate::unix_now()).map_err(|e| e.to_string())?;
                    }
                }
                Ok(last)
            })
            .await;
            match r {
                Ok(Ok(last)) => after = last,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "publishing prefix handles failed; retrying");
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "publisher panicked");
                    return;
                }
            }
        }
    }))
}

/// The shared Handle client for links to one other node (outbox, mirror).
fn node_client(
    timeout: Duration,
    quic: Option<Arc<dyn idnode_resolver::upstream::QuicLink>>,
) -> Arc<idnode_resolver::upstream::Upstream> {
    let ucfg = idnode_resolver::upstream::UpstreamConfig {
        connect_timeout: timeout,
        exchange_timeout: timeout,
        idle_per_peer: 2,
        ..Default::default()
    };
    let upstream = idnode_resolver::upstream::Upstream::new(ucfg);
    Arc::new(match quic {
        Some(q) => upstream.with_quic(q),
        None => upstream,
    })
}
