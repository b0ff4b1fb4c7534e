//! The Handle client idnode uses toward other servers: `idnode resolve`,
//! recursion, and (h-fed) the outbox to the top node and mirroring.
//!
//! It owns the client side of handle-protocol.md §1 and §7: sending one
//! request to one server over UDP (CNRI retry schedule 0.5 s / 1 s / 1.5 s,
//! multi-datagram answers reassembled), TCP (kept-open connections reused
//! per peer) or QUIC, falling back from UDP to TCP when UDP stays silent,
//! the answer is too large for it or the port is closed; choosing a site,
//! a server by the hash rule and an interface ([`site`]); and the global
//! resolution walk ([`Upstream::locate`], [`Upstream::resolve_at`]):
//! the prefix handle `0.NA/<prefix>` at the root, 303 prefix referrals
//! (HS_SITE.PREFIX / HS_SERV.PREFIX), HS_SERV service handles, then the
//! identifier at the chosen server, following 302 service referrals. Every
//! walk has a step budget ([`Budget`]): a referral loop or a chain that is
//! too deep ends in [`UpstreamError::TooDeep`] (RC 6), never a hang.
//!
//! It never reads configuration, the environment or global state: the
//! caller gives addresses ([`Target`]) and an [`UpstreamConfig`]. Callers
//! that need a clock pass `now` (unix seconds) in.

mod recursor;
pub mod site;
mod transport;
mod walk;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::wire::{Body, Message, ResponseCode};

pub use recursor::{Recursed, Recursor, RecursorConfig, Source};
pub use site::{Protocol, Purpose, ServerChoice, Target};
pub use walk::{Budget, Located, Query, Service, is_prefix_handle, prefix_handle_of, value_ttl};

use transport::{TcpPool, UdpOutcome};

/// Timeouts, retries and limits of the client.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// UDP: how long to wait after each send (CNRI: 500, 1000, 1500 ms);
    /// then TCP.
    pub udp_schedule: Vec<Duration>,
    /// Largest answer taken over UDP; a larger announced messageLength
    /// switches to TCP at once.
    pub udp_max_answer: usize,
    pub connect_timeout: Duration,
    /// Whole TCP / QUIC exchange, request written to last answer read.
    pub exchange_timeout: Duration,
    /// Referral / service-handle steps of one walk ([`Budget`]).
    pub max_steps: u32,
    /// Idle kept-open TCP connections per peer.
    pub idle_per_peer: usize,
    /// Transports to use with servers from HS_SITE records, in order.
    pub preference: Vec<Protocol>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            udp_schedule: vec![Duration::from_millis(500), Duration::from_millis(1000), Duration::from_millis(1500)],
            udp_max_answer: 64 * 1024,
            connect_timeout: Duration::from_secs(3),
            exchange_timeout: Duration::from_secs(10),
            max_steps: 16,
            idle_per_peer: 8,
            preference: vec![Protocol::Udp, Protocol::Tcp],
        }
    }
}

/// Errors of the client: whose fault, and whether another server or a
/// later retry may help ([`UpstreamError::is_retryable`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// No answer in time (the peer may be down or overloaded).
    #[error("{peer}: no answer within {waited:?}")]
    Timeout { peer: SocketAddr, waited: Duration },
    /// Connecting, sending or reading failed.
    #[error("{peer}: {source}")]
    Io {
        peer: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The peer answered bytes that are not a valid answer to our request.
    #[error("{peer} answered garbage: {reason}")]
    Garbage { peer: SocketAddr, reason: String },
    /// The walk took more steps than allowed (a referral loop or a chain
    /// that is too deep): RC 6.
    #[error("recursion limit of {limit} steps exceeded resolving {handle}")]
    TooDeep { limit: u32, handle: String },
    /// The sites found have no server with a usable interface.
    #[error("no usable server for {handle}")]
    NoServer { handle: String },
    /// The prefix handle does not exist (the root answered 100).
    #[error("no service for prefix handle {handle}")]
    NoService { handle: String },
    /// A server refused a step of the walk with this response code.
    #[error("{handle}: upstream answered {rc:?} during the walk")]
    Refused { handle: String, rc: ResponseCode },
    /// A QUIC link could not be set up or used.
    #[error("quic {peer}: {reason}")]
    Quic { peer: SocketAddr, reason: String },
}

impl UpstreamError {
    pub(crate) fn io(peer: SocketAddr, source: std::io::Error) -> Self {
        UpstreamError::Io { peer, source }
    }

    pub(crate) fn garbage(peer: SocketAddr, reason: impl Into<String>) -> Self {
        UpstreamError::Garbage { peer, reason: reason.into() }
    }

    /// Another server, or the same one later, may answer.
    pub fn is_retryable(&self) -> bool {
        matches!(self, UpstreamError::Timeout { .. } | UpstreamError::Io { .. } | UpstreamError::Quic { .. })
    }

    /// The response code a recursing server answers its client with.
    pub fn response_code(&self) -> ResponseCode {
        match self {
            UpstreamError::TooDeep { .. } => ResponseCode::RECURSION_COUNT_TOO_HIGH,
            UpstreamError::NoService { .. } => ResponseCode::HANDLE_NOT_FOUND,
            _ => ResponseCode::ERROR,
        }
    }

    /// A short fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            UpstreamError::Timeout { .. } => "timeout",
            UpstreamError::Io { .. } => "io",
            UpstreamError::Garbage { .. } => "garbage",
            UpstreamError::TooDeep { .. } => "too_deep",
            UpstreamError::NoServer { .. } => "no_server",
            UpstreamError::NoService { .. } => "no_service",
            UpstreamError::Refused { .. } => "refused",
            UpstreamError::Quic { .. } => "quic",
        }
    }
}

/// A decoded answer and where it came from.
#[derive(Debug, Clone)]
pub struct Answer {
    pub message: Message,
    /// The answer's bytes (envelope + message).
    pub raw: Vec<u8>,
    pub from: Target,
}

/// The future of one [`QuicLink::exchange`]: every answer message.
pub type QuicExchange<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Vec<u8>>, UpstreamError>> + Send + 'a>>;

/// A QUIC transport the caller set up (the `quinn` endpoint lives in the
/// daemon, which owns certificates and sockets): sends one request on a
/// new bidirectional stream and returns every answer message.
pub trait QuicLink: Send + Sync + std::fmt::Debug {
    /// The QUIC address to use for a server reached at `tcp` (its TCP
    /// interface), when that server is one of the configured QUIC peers.
    fn peer_for(&self, tcp: SocketAddr) -> Option<SocketAddr>;
    /// One exchange on a new stream of the connection to `peer`.
    fn exchange<'a>(&'a self, peer: SocketAddr, request: &'a [u8], timeout: Duration) -> QuicExchange<'a>;
}

/// The client. Cheap to share (`Arc<Upstream>`); holds the pool of
/// kept-open TCP connections and, when configured, the QUIC link.
#[derive(Debug)]
pub struct Upstream {
    cfg: UpstreamConfig,
    pool: TcpPool,
    quic: Option<Arc<dyn QuicLink>>,
}

impl Upstream {
    pub fn new(cfg: UpstreamConfig) -> Self {
        let pool = TcpPool::new(cfg.idle_per_peer);
        Upstream { cfg, pool, quic: None }
    }

    /// Uses `link` for servers it knows as QUIC peers (TCP otherwise).
    pub fn with_quic(mut self, link: Arc<dyn QuicLink>) -> Self {
        self.quic = Some(link);
        self
    }

    pub fn config(&self) -> &UpstreamConfig {
        &self.cfg
    }

    /// The QUIC address of the server whose Handle TCP door is `tcp`, when
    /// it is a configured QUIC peer.
    pub fn quic_peer_for(&self, tcp: SocketAddr) -> Option<SocketAddr> {
        self.quic.as_ref().and_then(|l| l.peer_for(tcp))
    }

    /// Sends `msg` to one target and decodes the (first) answer. A request
    /// id of 0 is replaced by a random one. UDP does not fall back here:
    /// see [`exchange_server`](Self::exchange_server).
    pub async fn exchange(&self, target: Target, msg: &Message) -> Result<Answer, UpstreamError> {
        let choice = ServerChoice { targets: vec![target] };
        self.exchange_server(&choice, msg).await
    }

    /// Sends `msg` to one server, trying its targets in order: a UDP
    /// target that stays silent, refuses, announces an answer too large for
    /// UDP or answers something undecodable hands over to the next target
    /// (the server's TCP interface).
    pub async fn exchange_server(&self, server: &ServerChoice, msg: &Message) -> Result<Answer, UpstreamError> {
        let mut msg = msg.clone();
        if msg.envelope.request_id == 0 {
            msg.envelope.request_id = (rand::random::<u32>() & 0x7fff_ffff).max(1) as i32;
        }
        let request_id = msg.envelope.request_id;
        let bytes = msg.encode();
        let mut last: Option<UpstreamError> = None;
        for (i, &target) in server.targets.iter().enumerate() {
            let has_next = i + 1 < server.targets.len();
            let raw = match target.protocol {
                Protocol::Udp => {
                    match transport::udp_exchange(
                        target.addr,
                        &bytes,
                        request_id,
                        &self.cfg.udp_schedule,
                        self.cfg.udp_max_answer,
                    )
                    .await?
                    {
                        (UdpOutcome::Answer, raw) => raw,
                        (UdpOutcome::Silent, _) => {
                            let waited = self.cfg.udp_schedule.iter().sum();
                            last = Some(UpstreamError::Timeout { peer: target.addr, waited });
                            continue;
                        }
                        (UdpOutcome::TooBig, _) => {
                            last = Some(UpstreamError::garbage(target.addr, "answer too large for UDP"));
                            continue;
                        }
                        (UdpOutcome::Refused, _) => {
                            last = Some(UpstreamError::io(
                                target.addr,
                                std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
                            ));
                            continue;
                        }
                    }
                }
                Protocol::Tcp => match self.stream_exchange(target, &bytes, request_id).await {
                    Ok(mut answers) => answers.swap_remove(0),
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                },
                Protocol::Quic => match self.stream_exchange(target, &bytes, request_id).await {
                    Ok(mut answers) => answers.swap_remove(0),
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                },
            };
            match decode_answer(target, raw, request_id) {
                Ok(a) if target.protocol == Protocol::Udp && has_next && says_use_tcp(&a.message) => {
                    last = Some(UpstreamError::garbage(target.addr, "server asked for TCP"));
                }
                Ok(a) => return Ok(a),
                Err(e) if has_next && target.protocol == Protocol::Udp => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(UpstreamError::NoServer { handle: String::new() }))
    }

    /// Sends `msg` over TCP or QUIC and returns every answer message of a
    /// streamed reply (CN set on all but the last), e.g. list handles or
    /// a transaction log.
    pub async fn exchange_stream(&self, target: Target, msg: &Message) -> Result<Vec<Message>, UpstreamError> {
        let mut msg = msg.clone();
        if msg.envelope.request_id == 0 {
            msg.envelope.request_id = (rand::random::<u32>() & 0x7fff_ffff).max(1) as i32;
        }
        let request_id = msg.envelope.request_id;
        let answers = self.stream_exchange(target, &msg.encode(), request_id).await?;
        answers.into_iter().map(|raw| decode_answer(target, raw, request_id).map(|a| a.message)).collect()
    }

    async fn stream_exchange(
        &self,
        target: Target,
        bytes: &[u8],
        request_id: i32,
    ) -> Result<Vec<Vec<u8>>, UpstreamError> {
        let answers = match target.protocol {
            Protocol::Quic => match &self.quic {
                Some(link) => link.exchange(target.addr, bytes, self.cfg.exchange_timeout).await?,
                None => {
                    return Err(UpstreamError::Quic { peer: target.addr, reason: "no QUIC link configured".into() });
                }
            },
            _ => {
                self.pool
                    .exchange(target.addr, bytes, request_id, self.cfg.connect_timeout, self.cfg.exchange_timeout)
                    .await?
            }
        };
        if answers.is_empty() {
            return Err(UpstreamError::garbage(target.addr, "no answer message"));
        }
        Ok(answers)
    }

    /// The targets to try for one server choice: the QUIC address first
    /// when the server is a configured QUIC peer (its TCP target stays as
    /// the fallback).
    pub(crate) fn with_quic_first(&self, mut choice: ServerChoice) -> ServerChoice {
        if let Some(link) = &self.quic {
            let tcp = choice.targets.iter().find(|t| t.protocol == Protocol::Tcp).map(|t| t.addr);
            if let Some(q) = tcp.and_then(|a| link.peer_for(a)) {
                choice.targets.retain(|t| t.protocol != Protocol::Udp);
                choice.targets.insert(0, Target::quic(q));
            }
        }
        choice
    }
}

/// Decodes an answer and checks it answers our request.
fn decode_answer(target: Target, raw: Vec<u8>, request_id: i32) -> Result<Answer, UpstreamError> {
    let message = Message::decode(&raw).map_err(|e| UpstreamError::garbage(target.addr, e.to_string()))?;
    if !message.header.is_response() {
        return Err(UpstreamError::garbage(target.addr, "a request instead of an answer"));
    }
    if message.envelope.request_id != request_id {
        return Err(UpstreamError::garbage(target.addr, "answer to another request"));
    }
    Ok(Answer { message, raw, from: target })
}

/// An error answer over UDP telling the client to use TCP (the answer did
/// not fit): RC 2 / 4 whose message mentions TCP or the size.
fn says_use_tcp(m: &Message) -> bool {
    let rc = m.header.response_code;
    if rc != ResponseCode::ERROR && rc != ResponseCode::PROTOCOL_ERROR {
        return false;
    }
    match &m.body {
        Body::Error(e) => {
            let t = String::from_utf8_lossy(&e.message).to_ascii_lowercase();
            t.contains("tcp") || t.contains("too large") || t.contains("too big")
        }
        _ => false,
    }
}
