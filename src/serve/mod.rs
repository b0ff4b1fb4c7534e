//! The daemon's wiring: bind every front door, hand each its socket, the
//! store and a child of one cancellation token, announce the bound
//! addresses, then wait for SIGINT/SIGTERM (or a listener failing), drain
//! within `node.shutdown_timeout_ms` and flush the store.
//!
//! Cancellation tree: `shutdown` (root, cancelled by a signal or a failed
//! listener) -> one child token per listener. Listeners stop accepting when
//! their token fires and finish the request in hand; TCP connection tasks are
//! tracked by [`Listeners::tracker`] so the drain can wait for them.
//!
//! Threading: the HTTP door and TCP doors are tokio tasks on the
//! multi-thread runtime; UDP doors are plain OS threads (one per
//! `SO_REUSEPORT` socket) doing blocking I/O; store writes and scans run
//! under `spawn_blocking`.

pub mod dns;
pub mod door_metrics;
pub mod handle_tcp;
pub mod handle_udp;
pub mod http;
pub mod http_limits;
pub mod limits;
pub mod quic;
pub mod read_only;
pub mod recursion;
pub mod site;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use idnode_registry::store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::keys::ServerKey;
use crate::telemetry::{self, door};
use door_metrics::DoorMetrics;
use idnode_resolver::engine::{Engine, EngineConfig};

/// How often histograms are drained and idle metrics pruned.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);
/// How often in-memory resolution counters are persisted.
const COUNTERS_PERSIST: Duration = Duration::from_secs(10);
/// How often change-log retention runs.
const CHANGELOG_PRUNE: Duration = Duration::from_secs(60);

/// Runs the node until SIGINT or SIGTERM: installs the Prometheus recorder,
/// wires signals to the root cancellation token and calls [`run_until`].
pub async fn run(cfg: Arc<Config>, store: Arc<dyn Store>) -> Result<()> {
    let metrics = telemetry::install_prometheus()?;
    let shutdown = CancellationToken::new();
    let mut signals = Signals::new().context("installing signal handlers")?;
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let name = signals.next().await;
        tracing::info!(signal = name, "shutting down");
        on_signal.cancel();
        // A second signal during the drain means "now": writes are already
        // durable when acknowledged, so skipping the drain loses nothing.
        let name = signals.next().await;
        eprintln!("idnode: {name} again, exiting without draining");
        std::process::exit(1);
    });
    run_until(cfg, store, metrics, shutdown).await
}

/// The daemon body, with the recorder and the root token supplied by the
/// caller (tests cancel the token instead of sending a signal).
pub async fn run_until(
    cfg: Arc<Config>,
    store: Arc<dyn Store>,
    metrics: PrometheusHandle,
    shutdown: CancellationToken,
) -> Result<()> {
    let ready = http::Readiness::default();
    let mut listeners = Listeners::new(shutdown.clone());
    crate::ops::request_log::init(&cfg.logs);
    let server_key = ServerKey::load(&cfg.server_key_path())?;
    tracing::info!(
        role = cfg.node.role.as_str(),
        node_prefix = %cfg.node.node_prefix,
        server_key = %server_key.fingerprint(),
        "starting"
    );

    // --- HTTP: the public door (REST, SNMS, probes) and the admin door.
    let http_listener = tokio::net::TcpListener::bind(cfg.http.listen)
        .await
        .with_context(|| format!("binding http.listen {}", cfg.http.listen))?;
    let http_addr = http_listener.local_addr()?;
    listeners.bound(door::HTTP, http_addr);
    let admin_listener = tokio::net::TcpListener::bind(cfg.admin.listen)
        .await
        .with_context(|| format!("binding admin.listen {}", cfg.admin.listen))?;
    let admin_addr = admin_listener.local_addr()?;
    listeners.bound(door::ADMIN, admin_addr);
    let tls_state = tls::TlsState::load(&cfg).context("setting up TLS for the HTTP doors (http.tls)")?;
    let tls_config = tls_state.as_ref().map(|t| t.server_config());

    // --- Handle/IDIS doors: UDP threads and the TCP accept loop share one engine.
    let sources = Arc::new(limits::HandleLimits::from_config(&cfg).map_err(|e| anyhow!("[limits]: {e}"))?);
    let udp_sockets = handle_udp::bind(cfg.handle.udp_listen, cfg.handle.udp_socket_count(), &sources.exempt)
        .with_context(|| format!("binding handle.udp_listen {}", cfg.handle.udp_listen))?;
    let udp_addr = udp_sockets[0].local_addr()?;
    let tcp_listener = tokio::net::TcpListener::bind(cfg.handle.tcp_listen)
        .await
        .with_context(|| format!("binding handle.tcp_listen {}", cfg.handle.tcp_listen))?;
    let tcp_addr = tcp_listener.local_addr()?;
    let signer = Arc::new(crate::keys::signer(&cfg, &server_key)?);
    let site_record = match &cfg.handle.site.record_file {
        Some(path) => {
            let path = cfg.resolve_path(path);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading handle.site.record_file {}", path.display()))?;
            idnode_registry::model::site::HsSite::from_bytes(&bytes)
                .with_context(|| format!("{} is not an HS_SITE record", path.display()))?;
            bytes
        }
        None => {
            let addresses = cfg.site_addresses(tcp_addr.ip());
            site::build(&site::SiteInputs {
                addresses: &addresses,
                serial: cfg.handle.site.serial,
                description: &cfg.handle.site.description,
                public_key: signer.public_key(),
                udp: Some(udp_addr),
                tcp: Some(tcp_addr),
            })
            .to_bytes()
        }
    };
    // --- Federation: top-node records, prefix handles published, outbox.
    let site_arc: Arc<[u8]> = Arc::from(site_record.as_slice());
    let quic = quic::endpoint(&cfg).context("setting up QUIC (federation.quic)")?;
    let quic_link = quic.as_ref().map(|q| q.link.clone() as Arc<dyn idnode_resolver::upstream::QuicLink>);
    let fed =
        crate::federation::start(&cfg, store.clone(), site_arc.clone(), quic_link, shutdown.child_token()).await?;

    // The HTTP doors start once the site record they publish (/api/site) is known.
    let ops = http::OpsState { metrics: metrics.clone(), ready: ready.clone() };
    let mut api_deps = crate::api::ApiDeps::new(store.clone(), cfg.clone());
    api_deps.site_record = site_arc;
    api_deps.outbox = fed.outbox.clone();
    api_deps.mirror = fed.mirror.clone();
    api_deps.signer = Some(signer.clone());
    let throttle = api_deps.throttle.clone();
    migrate_v1_verifiers(&api_deps).await?;
    let shapes = crate::api::errors::Shapes::new(&cfg);
    let limits = &cfg.http.limits;
    let public = http::probes(ready.clone()).merge(crate::api::router(api_deps.clone()));
    let public = public.merge(crate::portal::router(api_deps.clone()));
    let public = read_only::guard(public, &cfg);
    let public = http_limits::harden(public, limits, shapes.clone());
    let public = crate::ops::request_log::layer(public, &cfg.logs, door::HTTP);
    // One registry service for every door: the Handle engine gets the same.
    let registrar = api_deps.reg.clone();
    let console = crate::console::router(api_deps.clone(), Some(metrics.clone()));
    let admin = read_only::guard(http::router(ops).merge(crate::api::admin::router(api_deps)).merge(console), &cfg);
    let admin = http_limits::harden(admin, limits, shapes);
    let admin = crate::ops::request_log::layer(admin, &cfg.logs, door::ADMIN);
    let (token, door_limits, tls) =
        (listeners.child_token(), http::DoorLimits::from_config(limits), tls_config.clone());
    listeners.spawn(door::HTTP, async move {
        http::run(http_listener, public, tls, door_limits, door::HTTP, token).await.map_err(anyhow::Error::from)
    });
    let dns_tls = tls_config.clone();
    let (token, door_limits) = (listeners.child_token(), http::DoorLimits::from_config(limits));
    listeners.spawn(door::ADMIN, async move {
        http::run(admin_listener, admin, tls_config, door_limits, door::ADMIN, token).await.map_err(anyhow::Error::from)
    });

    let engine = Arc::new(Engine::with_registrar(
        registrar,
        EngineConfig {
            site_record,
            site_serial: cfg.handle.site.serial,
            limits: crate::api::snms::limits_of(&cfg),
            recursion: cfg.federation.recursion,
            challenge_lifetime: cfg.handle.challenge_lifetime_s,
            max_challenges: cfg.handle.challenge_max as usize,
            challenge_max_bytes: usize::try_from(cfg.handle.challenge_max_bytes).unwrap_or(usize::MAX),
            sessions: idnode_resolver::engine::SessionLimits {
                max_sessions: cfg.handle.session_max as usize,
                max_bytes: usize::try_from(cfg.handle.session_max_bytes).unwrap_or(usize::MAX),
                default_timeout: cfg.handle.session_max_timeout_s,
                max_timeout: cfg.handle.session_max_timeout_s,
            },
            signer: Some(signer),
            server_admins: cfg
                .handle
                .admins
                .iter()
                .filter_map(|a| idnode_resolver::auth::Identity::parse(a).ok())
                .collect(),
            vlist_depth: cfg.handle.vlist_max_depth as usize,
            replicas: cfg
                .mirror
                .replicas
                .iter()
                .filter_map(|a| idnode_resolver::auth::Identity::parse(a).ok())
                .collect(),
            read_only: (cfg.node.role == crate::config::Role::Mirror).then(|| cfg.mirror.primary.clone()),
            ..EngineConfig::default()
        },
    ));
    listeners.bound(door::HANDLE_UDP, udp_addr);
    let udp_metrics = Arc::new(DoorMetrics::new(door::HANDLE_UDP));
    let recursion = recursion::build(
        &cfg,
        engine.config(),
        udp_metrics.clone(),
        listeners.child_token(),
        quic.as_ref().map(|q| q.link.clone() as Arc<dyn idnode_resolver::upstream::QuicLink>),
    )?;
    if let Some(q) = quic.filter(|q| q.serving) {
        let addr = q.endpoint.local_addr()?;
        listeners.bound(door::HANDLE_QUIC, addr);
        let quic_metrics = Arc::new(DoorMetrics::new(door::HANDLE_QUIC));
        let (engine, recursion) = (engine.clone(), recursion.clone());
        let (token, tracker) = (listeners.child_token(), listeners.tracker());
        listeners.spawn(door::HANDLE_QUIC, async move {
            quic::run(q.endpoint, engine, quic_metrics, recursion, token, tracker).await;
            Ok(())
        });
    }
    let threads = handle_udp::spawn(
        udp_sockets,
        engine.clone(),
        udp_metrics,
        sources.clone(),
        listeners.child_token(),
        recursion.clone(),
    )?;
    listeners.threads(door::HANDLE_UDP, threads);
    listeners.bound(door::HANDLE_TCP, tcp_addr);
    let tcp_metrics = Arc::new(DoorMetrics::new(door::HANDLE_TCP));
    let limits = handle_tcp::TcpLimits {
        max_connections: cfg.handle.tcp_max_connections as usize,
        idle_timeout: Duration::from_millis(cfg.handle.tcp_idle_timeout_ms),
        read_timeout: Duration::from_millis(cfg.handle.tcp_read_timeout_ms),
        write_timeout: Duration::from_millis(cfg.handle.tcp_write_timeout_ms),
    };
    let (token, tracker) = (listeners.child_token(), listeners.tracker());
    listeners.spawn(door::HANDLE_TCP, async move {
        handle_tcp::run(tcp_listener, engine, tcp_metrics, limits, sources, token, tracker, recursion).await;
        Ok(())
    });
    // --- DNS doors (off unless dns.enabled).
    dns::start(&cfg, store.clone(), dns_tls, &mut listeners).await?;

    // --- Maintenance: metrics upkeep, counter persistence, record count,
    // change-log retention, login-throttle sweep, certificate renewal.
    let maint = spawn_maintenance(metrics, store.clone(), cfg.store.retention(), shutdown.child_token());
    let upkeep = spawn_http_upkeep(throttle, tls_state, shutdown.child_token());

    // The CLI finds the daemon's admin API here when admin.listen has port 0.
    crate::api::admin::publish_address(&cfg, admin_addr);
    ready.set(true);
    let _store_watch = crate::store_watch::spawn(
        store.clone(),
        ready.clone(),
        cfg.store.postgres.staleness_bound_ms,
        shutdown.child_token(),
    );
    announce(&cfg, &listeners);

    let failure = listeners.wait_for_shutdown().await;
    ready.set(false);
    let timeout = Duration::from_millis(cfg.node.shutdown_timeout_ms);
    let drained = listeners.drain(timeout).await;
    let _ = maint.await;
    let _ = upkeep.await;
    fed.join(timeout).await;
    if !drained {
        tracing::warn!(timeout_ms = cfg.node.shutdown_timeout_ms, "listeners did not drain in time");
    }

    let flushed = tokio::task::spawn_blocking(move || {
        store.persist_counters()?;
        store.flush()
    })
    .await
    .context("flush task")?;
    flushed.context("flushing the store")?;
    tracing::info!("store flushed; bye");
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Prints the machine-readable line (tests parse it) and one command to try.
fn announce(cfg: &Config, listeners: &Listeners) {
    let doors: Vec<String> = listeners.addrs.iter().map(|(name, addr)| format!("{name}={addr}")).collect();
    println!("idnode: listening {}", doors.join(" "));
    let handle_addr =
        listeners.addrs.iter().find(|(name, _)| name.starts_with("handle-")).map_or(cfg.handle.udp_listen, |(_, a)| *a);
    println!(
        "idnode: try `idnode resolve {}.1001/LOT2026-000451 --server {}`",
        cfg.node.node_prefix,
        reachable(handle_addr)
    );
    tracing::info!(listening = %doors.join(" "), "ready");
}

/// A bound address a local client can dial (0.0.0.0 / :: -> loopback).
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => SocketAddr::from(([127, 0, 0, 1], addr.port())),
        ip if ip.is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port())),
        _ => addr,
    }
}

/// Seals hashed-login verifiers that older versions stored in clear (or
/// drops them when `snms.hashed_login` is off): no password-equivalent
/// stays in the store.
async fn migrate_v1_verifiers(deps: &crate::api::ApiDeps) -> Result<()> {
    let reg = deps.reg.clone();
    let (sealer, hashed_login) = (deps.sealer.clone(), deps.cfg.snms.hashed_login);
    let changed = tokio::task::spawn_blocking(move || {
        reg.migrate_v1_verifiers(|user, stored| sealer.migrate(user, stored, hashed_login))
    })
    .await
    .context("verifier migration task")?
    .context("sealing stored hashed-login verifiers")?;
    if changed > 0 {
        tracing::info!(accounts = changed, "sealed the hashed-login verifiers of older accounts");
    }
    Ok(())
}

/// How often the store's record count is refreshed for `/metrics` (only
/// when the change log moved): counting is O(records), so never per scrape.
const RECORD_COUNT_INTERVAL: Duration = Duration::from_secs(300);
/// How often the login throttle forgets refilled budgets and the TLS
/// certificate is checked for renewal.
const HTTP_UPKEEP: Duration = Duration::from_secs(3600);

fn spawn_http_upkeep(
    throttle: Arc<crate::api::auth::throttle::LoginThrottle>,
    tls: Option<tls::TlsState>,
    token: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(HTTP_UPKEEP);
        every.tick().await;
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = every.tick() => {
                    throttle.sweep();
                    if let Some(tls) = tls.clone() {
                        match tokio::task::spawn_blocking(move || tls.renew_if_due()).await {
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "renewing the TLS certificate failed"),
                            Err(e) => tracing::error!(error = %e, "renewing the TLS certificate panicked"),
                        }
                    }
                }
            }
        }
    })
}

fn spawn_maintenance(
    metrics: PrometheusHandle,
    store: Arc<dyn Store>,
    retention: idnode_registry::store::Retention,
    token: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut upkeep = tokio::time::interval(METRICS_UPKEEP);
        let mut persist = tokio::time::interval(COUNTERS_PERSIST);
        let mut prune = tokio::time::interval(CHANGELOG_PRUNE);
        let mut count = tokio::time::interval(RECORD_COUNT_INTERVAL);
        let mut counted_at_seq: Option<u64> = None;
        persist.tick().await;
        // The first retention pass (a walk of the whole change log) one
        // interval after start, not during the first seconds of serving.
        prune.tick().await;
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = prune.tick() => {
                    let store = store.clone();
                    match tokio::task::spawn_blocking(move || store.prune_changelog(&retention, crate::unix_now())).await {
                        Ok(Ok(r)) if r.removed > 0 => tracing::info!(removed = r.removed, kept = r.kept, "change log pruned"),
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::warn!(error = %e, "change-log retention failed"),
                        Err(e) => tracing::warn!(error = %e, "change-log retention panicked"),
                    }
                }
                _ = upkeep.tick() => metrics.run_upkeep(),
                _ = count.tick() => {
                    let seq = store.last_seq();
                    if counted_at_seq != Some(seq) {
                        let store = store.clone();
                        match tokio::task::spawn_blocking(move || store.count_records(None)).await {
                            Ok(Ok(n)) => {
                                metrics::gauge!(telemetry::names::STORE_RECORDS).set(n as f64);
                                counted_at_seq = Some(seq);
                            }
                            Ok(Err(e)) => tracing::warn!(error = %e, "counting store records failed"),
                            Err(e) => tracing::warn!(error = %e, "counting store records panicked"),
                        }
                    }
                }
                _ = persist.tick() => {
                    let store = store.clone();
                    match tokio::task::spawn_blocking(move || store.persist_counters()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::warn!(error = %e, "persisting counters failed"),
                        Err(e) => tracing::warn!(error = %e, "persisting counters panicked"),
                    }
                }
            }
        }
    })
}

/// Every running front door: names and bound addresses (for the announce
/// line), tokio tasks, OS threads, and the tracker of per-connection tasks.
#[derive(Debug)]
pub struct Listeners {
    shutdown: CancellationToken,
    addrs: Vec<(&'static str, SocketAddr)>,
    tasks: JoinSet<(&'static str, Result<()>)>,
    threads: Vec<(&'static str, std::thread::JoinHandle<()>)>,
    tracker: TaskTracker,
}

impl Listeners {
    pub fn new(shutdown: CancellationToken) -> Self {
        Listeners {
            shutdown,
            addrs: Vec::new(),
            tasks: JoinSet::new(),
            threads: Vec::new(),
            tracker: TaskTracker::new(),
        }
    }

    /// A token cancelled when the node shuts down.
    pub fn child_token(&self) -> CancellationToken {
        self.shutdown.child_token()
    }

    /// Tracker for connection tasks the drain waits for.
    #[allow(dead_code, reason = "used by the Handle TCP door")]
    pub fn tracker(&self) -> TaskTracker {
        self.tracker.clone()
    }

    /// Records a door's actual bound address (port 0 resolved).
    pub fn bound(&mut self, door: &'static str, addr: SocketAddr) {
        self.addrs.push((door, addr));
    }

    /// Runs a door's accept loop as a task. The task returning before
    /// shutdown (error or not) shuts the node down.
    pub fn spawn<F>(&mut self, door: &'static str, fut: F)
    where
        F: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        self.tasks.spawn(async move { (door, fut.await) });
    }

    /// Adopts a door's OS threads (joined during the drain).
    #[allow(dead_code, reason = "used by the Handle UDP door")]
    pub fn threads(&mut self, door: &'static str, handles: Vec<std::thread::JoinHandle<()>>) {
        self.threads.extend(handles.into_iter().map(|h| (door, h)));
    }

    /// Waits for the root token, or for a door task to end early (then
    /// cancels the root token and returns the door's error).
    async fn wait_for_shutdown(&mut self) -> Option<anyhow::Error> {
        let failure = tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => None,
            Some(done) = self.tasks.join_next() => {
                // A door that stops because shutdown began is not a failure
                // (its token is a child of the root, so it can win the race).
                let during_shutdown = self.shutdown.is_cancelled();
                match done {
                    Ok((_, Ok(()))) if during_shutdown => None,
                    Ok((door, Err(e))) if during_shutdown => {
                        tracing::warn!(door, error = %format!("{e:#}"), "listener ended with an error during shutdown");
                        None
                    }
                    Ok((door, Ok(()))) => Some(anyhow!("{door} listener stopped unexpectedly")),
                    Ok((door, Err(e))) => Some(e.context(format!("{door} listener failed"))),
                    Err(e) => Some(anyhow!("a listener task panicked: {e}")),
                }
            }
        };
        if let Some(e) = &failure {
            tracing::error!(error = %format!("{e:#}"), "shutting down");
        }
        self.shutdown.cancel();
        failure
    }

    /// Waits up to `timeout` for door tasks, connection tasks and threads.
    /// Returns false when something was still running at the deadline.
    async fn drain(mut self, timeout: Duration) -> bool {
        self.tracker.close();
        let tracker = self.tracker.clone();
        let threads = std::mem::take(&mut self.threads);
        let all = async move {
            while let Some(done) = self.tasks.join_next().await {
                if let Ok((door, Err(e))) = done {
                    tracing::warn!(door, error = %format!("{e:#}"), "listener ended with an error during shutdown");
                }
            }
            tracker.wait().await;
            let _ = tokio::task::spawn_blocking(move || {
                for (door, h) in threads {
                    if h.join().is_err() {
                        tracing::warn!(door, "listener thread panicked");
                    }
                }
            })
            .await;
        };
        tokio::time::timeout(timeout, all).await.is_ok()
    }
}

/// SIGINT and SIGTERM as one stream.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idnode_registry::store::SledStore;
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[test]
    fn unspecified_addresses_become_loopback() {
        assert_eq!(reachable("0.0.0.0:2641".parse().unwrap()), "127.0.0.1:2641".parse().unwrap());
        assert_eq!(reachable("[::]:2641".parse().unwrap()), "[::1]:2641".parse().unwrap());
        assert_eq!(reachable("10.1.2.3:2641".parse().unwrap()), "10.1.2.3:2641".parse().unwrap());
    }

    /// Starts every door on port 0, keeps running, stops on cancel and flushes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_and_shuts_down_on_cancel() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::default();
        cfg.node.data_dir = dir.path().to_owned();
        cfg.http.listen = "127.0.0.1:0".parse().unwrap();
        cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
        cfg.handle.udp_listen = "127.0.0.1:0".parse().unwrap();
        cfg.handle.tcp_listen = "127.0.0.1:0".parse().unwrap();
        cfg.handle.udp_sockets = 1;
        ServerKey::generate().unwrap().write_new(&cfg.server_key_path()).unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("store")).unwrap());
        let shutdown = CancellationToken::new();
        let handle = PrometheusBuilder::new().build_recorder().handle();
        let task = tokio::spawn(run_until(Arc::new(cfg), store, handle, shutdown.clone()));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!task.is_finished());
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap().unwrap();
    }
}
