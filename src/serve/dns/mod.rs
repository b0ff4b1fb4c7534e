//! The DNS front's listeners (issue 10): UDP threads ([`udp`]), TCP and DNS
//! over TLS ([`stream`]), DNS over QUIC ([`quic`]). They only move bytes:
//! every answer comes from [`idnode_resolver::dns::DnsFront`]. Response-rate
//! limiting per client network uses [`super::limits`] with buckets of its
//! own (not shared with the Handle doors); a limited UDP query is dropped,
//! or every `per_client_slip`-th one answered empty with TC set so a real
//! client retries over TCP.

pub mod metrics;
pub mod quic;
pub mod stream;
pub mod udp;

use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use idnode_registry::store::Store;
use idnode_resolver::dns::{DnsConfig, DnsFront, ZoneConfig, ZoneScheme};

use crate::config::{Config, default_dns_service};

/// The query logic for `cfg.dns`.
pub fn front(cfg: &Config, store: Arc<dyn Store>) -> Result<Arc<DnsFront>> {
    let zones = cfg
        .dns
        .zones
        .iter()
        .map(|z| {
            let scheme = match z.scheme.as_str() {
                "oid" => ZoneScheme::Oid,
                "gs1" => ZoneScheme::Gs1,
                "ecode" => ZoneScheme::Ecode,
                "vaa" => ZoneScheme::Vaa,
                other => return Err(anyhow!("dns zone {}: unknown scheme {other:?}", z.origin)),
            };
            let service = if z.naptr_service.is_empty() {
                default_dns_service(&z.scheme).to_owned()
            } else {
                z.naptr_service.clone()
            };
            Ok(ZoneConfig {
                scheme,
                origin: z.origin.clone(),
                name_servers: z.name_servers.clone(),
                hostmaster: z.hostmaster.clone(),
                serial: z.serial,
                ttl: z.ttl,
                negative_ttl: z.negative_ttl,
                naptr_service: service,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let dns =
        DnsConfig { zones, max_udp_payload: cfg.dns.max_udp_payload, answer_cache_entries: cfg.dns_answer_entries() };
    Ok(Arc::new(DnsFront::new(&dns, store).context("[dns] zones")?))
}

/// A minimal "retry over TCP" answer to `req` (a rate-limit slip): the
/// request's id, opcode and RD, QR and TC set, no sections. `None` when
/// `req` has no header.
pub fn slip_answer(req: &[u8]) -> Option<[u8; 12]> {
    if req.len() < 12 || req[2] & 0x80 != 0 {
        return None;
    }
    let mut h = [0u8; 12];
    h[..2].copy_from_slice(&req[..2]);
    h[2] = 0x80 | (req[2] & 0x79) | 0x02; // QR, opcode, RD kept; TC
    Some(h)
}

/// Binds DNS over UDP and TCP on one port. With port 0 the kernel picks
/// UDP's port, and that port may already be taken for TCP by someone else;
/// then both are dropped and the pair is tried again on a new port.
async fn bind_udp_and_tcp(
    listen: std::net::SocketAddr,
    count: usize,
    exempt: &crate::serve::limits::Networks,
) -> Result<(Vec<std::net::UdpSocket>, tokio::net::TcpListener)> {
    let attempts = if listen.port() == 0 { 32 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let sockets = super::handle_udp::bind(listen, count, exempt)
            .with_context(|| format!("binding dns.listen {listen} (udp)"))?;
        let tcp_addr = std::net::SocketAddr::new(listen.ip(), sockets[0].local_addr()?.port());
        match tokio::net::TcpListener::bind(tcp_addr).await {
            Ok(tcp) => return Ok((sockets, tcp)),
            Err(e) if listen.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse => last = Some((tcp_addr, e)),
            Err(e) => return Err(anyhow::Error::from(e).context(format!("binding dns.listen {tcp_addr} (tcp)"))),
        }
    }
    let (addr, e) = last.expect("at least one attempt");
    Err(anyhow::Error::from(e).context(format!("binding dns.listen {addr} (tcp), {attempts} ports tried")))
}

/// Binds and starts every configured DNS door (nothing when `dns.enabled`
/// is false). `tls` is the HTTP doors' rustls configuration; DoT and DoQ
/// need it (`[http.tls]`).
pub async fn start(
    cfg: &Config,
    store: Arc<dyn Store>,
    tls: Option<Arc<rustls::ServerConfig>>,
    listeners: &mut super::Listeners,
) -> Result<()> {
    use crate::telemetry::door;
    if !cfg.dns.enabled {
        return Ok(());
    }
    let front = front(cfg, store)?;
    let limits = super::limits::HandleLimits::from_config(cfg).map_err(|e| anyhow!("[limits]: {e}"))?;
    let (udp_limiter, tcp_limiter) = (limits.udp.map(Arc::new), limits.tcp.map(Arc::new));

    let count = if cfg.dns.udp_sockets == 0 { cfg.handle.udp_socket_count() } else { cfg.dns.udp_sockets };
    let (sockets, tcp) = bind_udp_and_tcp(cfg.dns.listen, count, &limits.exempt).await?;
    let udp_addr = sockets[0].local_addr()?;
    listeners.bound(door::DNS_UDP, udp_addr);
    let threads = udp::spawn(
        sockets,
        front.clone(),
        Arc::new(metrics::DnsMetrics::new(door::DNS_UDP)),
        udp_limiter.clone(),
        listeners.child_token(),
    )?;
    listeners.threads(door::DNS_UDP, threads);

    listeners.bound(door::DNS_TCP, tcp.local_addr()?);
    let conns = Arc::new(super::limits::ConnCounter::new(cfg.handle.tcp_max_connections_per_address));
    let door_of = |name: &'static str, listeners: &super::Listeners| stream::StreamDoor {
        front: front.clone(),
        metrics: Arc::new(metrics::DnsMetrics::new(name)),
        limiter: tcp_limiter.clone(),
        conns: conns.clone(),
        tracker: listeners.tracker(),
    };
    let (d, token) = (door_of(door::DNS_TCP, listeners), listeners.child_token());
    listeners.spawn(door::DNS_TCP, async move { stream::run(tcp, d, None, token).await.map_err(anyhow::Error::from) });

    let need_tls = cfg.dns.tls_listen.is_some() || cfg.dns.quic_listen.is_some();
    let tls = match (need_tls, tls) {
        (false, _) => None,
        (true, Some(t)) => Some(t),
        (true, None) => {
            return Err(anyhow!("dns.tls_listen / dns.quic_listen need [http.tls] enabled (its certificate is used)"));
        }
    };
    if let (Some(addr), Some(t)) = (cfg.dns.tls_listen, &tls) {
        let mut c = (**t).clone();
        c.alpn_protocols = vec![b"dot".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(c));
        let l = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding dns.tls_listen {addr}"))?;
        listeners.bound(door::DNS_TLS, l.local_addr()?);
        let (d, token) = (door_of(door::DNS_TLS, listeners), listeners.child_token());
        listeners.spawn(door::DNS_TLS, async move {
            stream::run(l, d, Some(acceptor), token).await.map_err(anyhow::Error::from)
        });
    }
    if let (Some(addr), Some(t)) = (cfg.dns.quic_listen, tls) {
        let m = Arc::new(metrics::DnsMetrics::new(door::DNS_QUIC));
        let (tracker, token, front, lim) = (listeners.tracker(), listeners.child_token(), front.clone(), udp_limiter);
        // DoQ runs on a thread of its own with a single-threaded runtime:
        // the endpoint driver, the connection drivers and the queries then
        // wake each other without crossing threads (on the shared runtime
        // that cross-thread waking was a large part of a DoQ query's cost).
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel::<Result<std::net::SocketAddr>>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Result<()>>();
        let thread = std::thread::Builder::new()
            .name("dns-quic".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = bound_tx.send(Err(anyhow!("dns-quic runtime: {e}")));
                        return;
                    }
                };
                let result = rt.block_on(async move {
                    let ep = match quic::endpoint(addr, &t) {
                        Ok(ep) => ep,
                        Err(e) => {
                            let _ = bound_tx.send(Err(e.context(format!("binding dns.quic_listen {addr}"))));
                            return Ok(());
                        }
                    };
                    let _ = bound_tx.send(ep.local_addr().map_err(anyhow::Error::from));
                    quic::run(ep, front, m, lim, tracker, token).await.map_err(anyhow::Error::from)
                });
                let _ = done_tx.send(result);
            })
            .context("starting the dns-quic thread")?;
        let local = bound_rx.await.map_err(|_| anyhow!("the dns-quic thread ended at start"))??;
        listeners.bound(door::DNS_QUIC, local);
        listeners.threads(door::DNS_QUIC, vec![thread]);
        listeners
            .spawn(door::DNS_QUIC, async move { done_rx.await.map_err(|_| anyhow!("the dns-quic thread ended"))? });
    }
    Ok(())
}
