//! Handle over QUIC between idnode nodes (`[federation.quic]`): the door
//! that serves Handle messages on bidirectional streams (one request per
//! stream, framed as on TCP: envelope + messageLength bytes), and the
//! client link the upstream client uses toward configured QUIC peers.
//!
//! ALPN `hdl`, TLS 1.3 through rustls with the ring provider only, mutual
//! authentication: both sides present their certificate and accept only
//! the certificates listed in `trusted_peers` (self-signed certificates
//! pinned as trust anchors; the name checked is "idnode"). This node's
//! certificate and key are generated on first start when neither file
//! exists.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idnode_resolver::engine::{Ctx, Engine, Transport};
use idnode_resolver::upstream::{QuicExchange, QuicLink, UpstreamError};
use idnode_resolver::wire::{ENVELOPE_LEN, MAX_MESSAGE};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::recursion::RecursionDoor;
use crate::config::Config;
use crate::telemetry::DoorMetrics;

/// The ALPN protocol id of Handle over QUIC.
pub const ALPN: &[u8] = b"hdl";
/// The name in every node certificate and checked by clients.
const SERVER_NAME: &str = "idnode";
/// Streams one connection may have open at once.
const MAX_STREAMS: u32 = 256;

/// The endpoint (bound by [`endpoint`]) and the link used by the upstream
/// client.
pub struct Quic {
    pub endpoint: quinn::Endpoint,
    pub link: Arc<QuicClientLink>,
    /// The endpoint serves the door (`listen` configured).
    pub serving: bool,
}

/// Builds the TLS configurations and binds the endpoint: a server at
/// `federation.quic.listen`, or a client-only endpoint on an ephemeral
/// port when only peers are configured. `None` when QUIC is not configured.
pub fn endpoint(cfg: &Config) -> Result<Option<Quic>> {
    let q = &cfg.federation.quic;
    if q.listen.is_none() && q.peers.is_empty() {
        return Ok(None);
    }
    let (cert_path, key_path) = (cfg.resolve_path(&q.cert_file), cfg.resolve_path(&q.key_file));
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {}
        (false, false) => generate(&cert_path, &key_path)?,
        _ => bail!("only one of {} and {} exists", cert_path.display(), key_path.display()),
    }
    let chain = read_certs(&cert_path)?;
    let key = PrivateKeyDer::from_pem_file(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for p in &q.trusted_peers {
        let p = cfg.resolve_path(p);
        for c in read_certs(&p)? {
            roots.add(c).with_context(|| format!("trusting {}", p.display()))?;
        }
    }
    if roots.is_empty() {
        bail!("federation.quic.trusted_peers lists no certificate: no peer could be authenticated");
    }
    let roots = Arc::new(roots);
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .context("client certificate verifier")?;
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.clone(), key.clone_key())
        .context("QUIC certificate and key")?;
    server.alpn_protocols = vec![ALPN.to_vec()];
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .context("QUIC client certificate")?;
    client.alpn_protocols = vec![ALPN.to_vec()];

    let client_cfg = quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(client)).context("QUIC client TLS")?,
    ));
    let (mut endpoint, serving) = match q.listen {
        Some(addr) => {
            let mut server_cfg = quinn::ServerConfig::with_crypto(Arc::new(
                quinn::crypto::rustls::QuicServerConfig::try_from(Arc::new(server)).context("QUIC server TLS")?,
            ));
            let mut transport = quinn::TransportConfig::default();
            transport.max_concurrent_bidi_streams(MAX_STREAMS.into());
            transport.max_concurrent_uni_streams(0u32.into());
            transport.max_idle_timeout(Some(Duration::from_secs(60).try_into()?));
            server_cfg.transport_config(Arc::new(transport));
            let ep = quinn::Endpoint::server(server_cfg, addr)
                .with_context(|| format!("binding federation.quic.listen {addr}"))?;
            (ep, true)
        }
        None => (quinn::Endpoint::client(SocketAddr::from(([0, 0, 0, 0], 0)))?, false),
    };
    endpoint.set_default_client_config(client_cfg);
    let peers = q.peers.iter().map(|p| (p.tcp, p.quic)).collect();
    let link = Arc::new(QuicClientLink { endpoint: endpoint.clone(), peers, conns: Mutex::new(HashMap::new()) });
    Ok(Some(Quic { endpoint, link, serving }))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing certificates in {}", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", path.display());
    }
    Ok(certs)
}

/// A self-signed certificate for [`SERVER_NAME`] and its key (mode 0600).
fn generate(cert_path: &Path, key_path: &Path) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let ck =
        rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()]).context("generating the QUIC certificate")?;
    for (p, bytes, mode) in [(key_path, ck.signing_key.serialize_pem(), 0o600), (cert_path, ck.cert.pem(), 0o644)] {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(p)
            .with_context(|| format!("creating {}", p.display()))?;
        f.write_all(bytes.as_bytes())?;
        f.sync_all()?;
    }
    tracing::info!(cert = %cert_path.display(), "generated a QUIC certificate");
    Ok(())
}

/// Accepts connections until `cancel` fires; each stream carries one
/// request and its answer.
pub async fn run(
    endpoint: quinn::Endpoint,
    engine: Arc<Engine>,
    metrics: Arc<DoorMetrics>,
    recursion: Option<Arc<RecursionDoor>>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let incoming = tokio::select! {
            _ = cancel.cancelled() => break,
            i = endpoint.accept() => match i { Some(i) => i, None => break },
        };
        let (engine, metrics, recursion, cancel) = (engine.clone(), metrics.clone(), recursion.clone(), cancel.clone());
        tracker.spawn(async move {
            let conn = match incoming.await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(error = %e, "quic handshake failed");
                    return;
                }
            };
            let peer = conn.remote_address();
            loop {
                let (send, recv) = tokio::select! {
                    _ = cancel.cancelled() => break,
                    s = conn.accept_bi() => match s { Ok(s) => s, Err(_) => break },
                };
                let (engine, metrics, recursion) = (engine.clone(), metrics.clone(), recursion.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve_stream(send, recv, peer, &engine, &metrics, recursion.as_deref()).await {
                        tracing::debug!(error = %e, %peer, "quic stream ended with error");
                    }
                });
            }
            endpoint_close(&conn);
        });
    }
    endpoint.close(0u32.into(), b"shutdown");
}

fn endpoint_close(conn: &quinn::Connection) {
    conn.close(0u32.into(), b"bye");
}

async fn serve_stream(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    peer: SocketAddr,
    engine: &Engine,
    metrics: &DoorMetrics,
    recursion: Option<&RecursionDoor>,
) -> Result<()> {
    let mut env = [0u8; ENVELOPE_LEN];
    tokio::time::timeout(Duration::from_secs(10), recv.read_exact(&mut env)).await??;
    let started = Instant::now();
    let len = u32::from_be_bytes([env[16], env[17], env[18], env[19]]) as usize;
    let now = crate::unix_now();
    let mut out = Vec::new();
    if len > MAX_MESSAGE {
        let o = engine.protocol_error_unframed(
            &format!("Message length {len} exceeds the limit {MAX_MESSAGE}"),
            now,
            &mut out,
        );
        send.write_all(&out).await?;
        send.finish()?;
        metrics.observe(o.opcode, o.rc, started.elapsed());
        return Ok(());
    }
    let mut req = env.to_vec();
    req.resize(ENVELOPE_LEN + len, 0);
    tokio::time::timeout(Duration::from_secs(10), recv.read_exact(&mut req[ENVELOPE_LEN..])).await??;
    let ctx = Ctx { transport: Transport::Quic, peer, now };
    let mut outcome = tokio::task::block_in_place(|| engine.handle(&ctx, &req, &mut out));
    if outcome.recurse
        && let Some(r) = recursion
    {
        outcome.rc = r.answer(&req, &mut out).await.rc.0;
    }
    send.write_all(&out).await?;
    send.finish()?;
    metrics.observe(outcome.opcode, outcome.rc, started.elapsed());
    Ok(())
}

/// The upstream client's QUIC transport: one connection per peer, kept
/// and reused; one bidirectional stream per request.
pub struct QuicClientLink {
    endpoint: quinn::Endpoint,
    /// Handle TCP address of a peer -> its QUIC address.
    peers: HashMap<SocketAddr, SocketAddr>,
    conns: Mutex<HashMap<SocketAddr, quinn::Connection>>,
}

impl std::fmt::Debug for QuicClientLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicClientLink").field("peers", &self.peers).finish()
    }
}

impl QuicClientLink {
    async fn connection(&self, peer: SocketAddr) -> Result<quinn::Connection, UpstreamError> {
        let cached = self.conns.lock().unwrap_or_else(|e| e.into_inner()).get(&peer).cloned();
        if let Some(c) = cached
            && c.close_reason().is_none()
        {
            return Ok(c);
        }
        let quic_err = |reason: String| UpstreamError::Quic { peer, reason };
        let connecting = self.endpoint.connect(peer, SERVER_NAME).map_err(|e| quic_err(e.to_string()))?;
        let conn = connecting.await.map_err(|e| quic_err(e.to_string()))?;
        self.conns.lock().unwrap_or_else(|e| e.into_inner()).insert(peer, conn.clone());
        Ok(conn)
    }

    async fn exchange_once(&self, peer: SocketAddr, request: &[u8]) -> Result<Vec<Vec<u8>>, UpstreamError> {
        let quic_err = |reason: String| UpstreamError::Quic { peer, reason };
        let conn = self.connection(peer).await?;
        let (mut send, mut recv) = conn.open_bi().await.map_err(|e| quic_err(e.to_string()))?;
        send.write_all(request).await.map_err(|e| quic_err(e.to_string()))?;
        send.finish().map_err(|e| quic_err(e.to_string()))?;
        let all = recv.read_to_end(MAX_MESSAGE * 64).await.map_err(|e| quic_err(e.to_string()))?;
        split_messages(&all).ok_or_else(|| UpstreamError::Garbage { peer, reason: "truncated QUIC answer".into() })
    }
}

/// Splits a stream's bytes into envelope + message units.
fn split_messages(mut b: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < ENVELOPE_LEN {
            return None;
        }
        let len = ENVELOPE_LEN + u32::from_be_bytes([b[16], b[17], b[18], b[19]]) as usize;
        if b.len() < len {
            return None;
        }
        out.push(b[..len].to_vec());
        b = &b[len..];
    }
    Some(out)
}

impl QuicLink for QuicClientLink {
    fn peer_for(&self, tcp: SocketAddr) -> Option<SocketAddr> {
        self.peers.get(&tcp).copied()
    }

    fn exchange<'a>(&'a self, peer: SocketAddr, request: &'a [u8], timeout: Duration) -> QuicExchange<'a> {
        Box::pin(async move {
            match tokio::time::timeout(timeout, self.exchange_once(peer, request)).await {
                Ok(r) => r,
                Err(_) => Err(UpstreamError::Timeout { peer, waited: timeout }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_bytes_split_into_messages() {
        let mut one = vec![2u8, 11, 2, 11, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3];
        one.extend_from_slice(b"abc");
        let mut two = one.clone();
        two.extend_from_slice(&one);
        assert_eq!(split_messages(&two).unwrap().len(), 2);
        assert!(split_messages(&two[..25]).is_none());
        assert_eq!(split_messages(&[]).unwrap().len(), 0);
    }
}
