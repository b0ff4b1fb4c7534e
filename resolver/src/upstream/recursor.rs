//! Recursion: answering a client's resolution request for an identifier
//! this node does not hold by resolving it upstream (handle-protocol.md §5
//! "recurse if REC set", §7), with a cache.
//!
//! The engine decides *whether* to recurse (not homed here, REC set,
//! recursion on); the listener hands the request to
//! [`Recursor::answer`], which owns the rest: the recursion-count limit
//! (RC 6), the answer cache keyed by what was asked (handle as asked,
//! filters, PO) with single flight, the cache of located services keyed by
//! prefix handle, the walk through [`Upstream`], and the answer to the
//! client — the upstream values under the identifier exactly as asked.
//!
//! Upstream failures (timeouts, garbage) are logged and answered RC 2
//! (server error) without being cached; "not found" answers are cached for
//! the negative TTL; walks that loop or go too deep are answered RC 6.

use std::sync::Arc;

use crate::cache::{Cache, Lookup};
use crate::wire::{
    Body, Frame, ResolutionRequestRef, Responder, ResponseCode, encode_error_response, encode_resolution_response,
};

use super::walk::{Budget, Located, Query, Service, prefix_handle_of, value_ttl};
use super::{Target, Upstream, UpstreamError};

/// Settings of a [`Recursor`].
#[derive(Debug, Clone)]
pub struct RecursorConfig {
    /// Where walks start (the top node).
    pub roots: Vec<Target>,
    /// Answers and services kept at once (each cache).
    pub cache_entries: usize,
    /// Cap on any cached entry, seconds (two days).
    pub max_ttl: u32,
    /// TTL of "not found" answers, seconds.
    pub negative_ttl: u32,
    /// Requests whose recursionCount reaches this are answered RC 6.
    pub max_recursion_count: u8,
    /// `siteInfoSerial` of this node's answers.
    pub site_serial: u16,
    /// Seconds added to `now` for answers' expirationTime.
    pub response_lifetime: u32,
}

/// How one recursive request was answered (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// From the answer cache.
    Hit,
    /// Resolved upstream by this request.
    Miss,
    /// Waited for an identical request already being resolved.
    Shared,
    /// Refused before any lookup (recursion count, undecodable request).
    Refused,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Hit => "hit",
            Source::Miss => "miss",
            Source::Shared => "shared",
            Source::Refused => "refused",
        }
    }
}

/// What [`Recursor::answer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recursed {
    pub rc: ResponseCode,
    pub source: Source,
}

/// A cached result of one upstream resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resolved {
    /// RC 1: the values in §4.1 encoding.
    Values(Arc<Vec<Vec<u8>>>),
    /// Any other answer: response code and message.
    Error(ResponseCode, Arc<Vec<u8>>),
}

/// Resolves foreign identifiers for clients; share it as `Arc<Recursor>`.
#[derive(Debug)]
pub struct Recursor {
    upstream: Arc<Upstream>,
    cfg: RecursorConfig,
    answers: Cache<Resolved>,
    services: Cache<Service>,
}

impl Recursor {
    pub fn new(upstream: Arc<Upstream>, cfg: RecursorConfig) -> Self {
        let answers = Cache::new(cfg.cache_entries, cfg.max_ttl);
        let services = Cache::new(cfg.cache_entries.min(100_000), cfg.max_ttl);
        Recursor { upstream, cfg, answers, services }
    }

    /// Entries in the answer cache.
    pub fn cached_answers(&self) -> usize {
        self.answers.len()
    }

    fn responder(&self, now: u64) -> Responder {
        Responder {
            site_serial: self.cfg.site_serial,
            primary: false,
            expiration: (now as u32).wrapping_add(self.cfg.response_lifetime),
        }
    }

    /// The synchronous part: answers from the cache, or refuses a request
    /// over the recursion-count limit, without waiting for anything.
    /// `None`: an upstream lookup is needed ([`answer`](Self::answer)).
    /// Listeners call this on their own thread so that cache hits cost no
    /// task switch.
    pub fn answer_cached(&self, request: &[u8], now: u64, out: &mut Vec<u8>) -> Option<Recursed> {
        let frame = Frame::parse(request).ok()?;
        let req = ResolutionRequestRef::from_frame(&frame).ok()?;
        let responder = self.responder(now);
        if req.header.recursion_count >= self.cfg.max_recursion_count {
            let rc = ResponseCode::RECURSION_COUNT_TOO_HIGH;
            write_error(out, &req, &responder, rc, b"Recursion count too high");
            return Some(Recursed { rc, source: Source::Refused });
        }
        let resolved = self.answers.get(&cache_key(&req), now)?;
        let rc = write_resolved(out, &req, &responder, &resolved);
        Some(Recursed { rc, source: Source::Hit })
    }

    /// Answers one resolution request (`request` = envelope + message, as
    /// the listener assembled it): appends the complete answer (TCP form)
    /// to `out`.
    pub async fn answer(&self, request: &[u8], now: u64, out: &mut Vec<u8>) -> Recursed {
        let responder = self.responder(now);
        let Some(req) = Frame::parse(request).ok().and_then(|f| ResolutionRequestRef::from_frame(&f).ok()) else {
            // The engine only hands over decodable resolution requests.
            return Recursed { rc: ResponseCode::PROTOCOL_ERROR, source: Source::Refused };
        };
        if req.header.recursion_count >= self.cfg.max_recursion_count {
            let rc = ResponseCode::RECURSION_COUNT_TOO_HIGH;
            write_error(out, &req, &responder, rc, b"Recursion count too high");
            return Recursed { rc, source: Source::Refused };
        }
        let key = cache_key(&req);
        let (resolved, source) = match self.answers.lookup(&key, now) {
            Lookup::Hit(r) => (r, Source::Hit),
            Lookup::Wait(rx) => match rx.await {
                Ok(r) => (r, Source::Shared),
                Err(_) => (
                    Resolved::Error(ResponseCode::ERROR, Arc::new(b"Upstream resolution failed".to_vec())),
                    Source::Shared,
                ),
            },
            Lookup::Lead(flight) => {
                let (r, ttl) = self.resolve(&req, now).await;
                self.answers.complete(flight, r.clone(), ttl, now);
                (r, Source::Miss)
            }
        };
        let rc = write_resolved(out, &req, &responder, &resolved);
        Recursed { rc, source }
    }

    /// One upstream resolution: the result and how long to keep it.
    async fn resolve(&self, req: &ResolutionRequestRef<'_>, now: u64) -> (Resolved, u32) {
        let query = Query {
            handle: req.handle.to_vec(),
            indexes: req.indexes().collect(),
            types: req.types().map(<[u8]>::to_vec).collect(),
            flags: req.header.op_flags,
            recursion_count: req.header.recursion_count,
        };
        let mut budget = Budget::new(self.upstream.config().max_steps, now);
        let result = async {
            let service = self.service_for(&query.handle, &mut budget).await?;
            self.upstream.resolve_at(&self.cfg.roots, service, &query, &mut budget).await
        }
        .await;
        match result {
            Ok(answer) => {
                let rc = answer.message.header.response_code;
                match answer.message.body {
                    Body::ResolutionResponse(r) if rc == ResponseCode::SUCCESS => {
                        let ttl = r.values.iter().map(|v| value_ttl(v, now)).min().unwrap_or(self.cfg.negative_ttl);
                        let values = r.values.iter().map(|v| v.to_bytes()).collect();
                        (Resolved::Values(Arc::new(values)), ttl.min(self.cfg.max_ttl))
                    }
                    Body::Error(e) => {
                        let ttl = if rc == ResponseCode::HANDLE_NOT_FOUND || rc == ResponseCode::VALUES_NOT_FOUND {
                            self.cfg.negative_ttl
                        } else {
                            0
                        };
                        (Resolved::Error(rc, Arc::new(e.message)), ttl)
                    }
                    other => {
                        tracing::warn!(from = %answer.from, ?rc, body = ?std::mem::discriminant(&other), "upstream answer of an unexpected kind");
                        (Resolved::Error(ResponseCode::ERROR, Arc::new(b"Unexpected upstream answer".to_vec())), 0)
                    }
                }
            }
            Err(e) => self.failed(&query.handle, e),
        }
    }

    fn failed(&self, handle: &[u8], e: UpstreamError) -> (Resolved, u32) {
        let rc = e.response_code();
        let handle = String::from_utf8_lossy(handle);
        match &e {
            UpstreamError::NoService { .. } => {
                tracing::debug!(%handle, error = %e, "recursion: no service");
                (Resolved::Error(rc, Arc::new(b"No service for this prefix".to_vec())), self.cfg.negative_ttl)
            }
            UpstreamError::TooDeep { .. } => {
                tracing::warn!(%handle, error = %e, "recursion: too deep");
                (Resolved::Error(rc, Arc::new(e.to_string().into_bytes())), 0)
            }
            _ => {
                tracing::warn!(%handle, error = %e, "recursion failed");
                (Resolved::Error(rc, Arc::new(format!("Upstream error: {}", e.label()).into_bytes())), 0)
            }
        }
    }

    /// The service of `handle`'s prefix, from the service cache or located
    /// upstream (kept for the TTL of the values that named it).
    async fn service_for(&self, handle: &[u8], budget: &mut Budget) -> Result<Service, UpstreamError> {
        let key = prefix_handle_of(handle);
        if let Some(s) = self.services.get(&key, budget.now) {
            return Ok(s);
        }
        let Located { service, ttl } = self.upstream.locate(&self.cfg.roots, handle, budget).await?;
        if let Some(ttl) = ttl {
            self.services.insert(&key, service.clone(), ttl, budget.now);
        }
        Ok(service)
    }
}

/// Writes the answer for a resolved (cached or fresh) result.
fn write_resolved(
    out: &mut Vec<u8>,
    req: &ResolutionRequestRef<'_>,
    responder: &Responder,
    resolved: &Resolved,
) -> ResponseCode {
    match resolved {
        Resolved::Values(values) => {
            let head = req.response_head(ResponseCode::SUCCESS, responder);
            match encode_resolution_response(out, &head, req.response_digest().as_ref(), req.handle, values.iter()) {
                Ok(_) => ResponseCode::SUCCESS,
                Err(_) => {
                    write_error(out, req, responder, ResponseCode::ERROR, b"Answer too large");
                    ResponseCode::ERROR
                }
            }
        }
        Resolved::Error(rc, msg) => {
            write_error(out, req, responder, *rc, msg);
            *rc
        }
    }
}

fn write_error(out: &mut Vec<u8>, req: &ResolutionRequestRef<'_>, responder: &Responder, rc: ResponseCode, msg: &[u8]) {
    let head = req.response_head(rc, responder);
    let _ = encode_error_response(out, &head, req.response_digest().as_ref(), msg);
}

/// What decides an answer's content: the handle as asked (the answer
/// echoes it), the filters and PO.
fn cache_key(req: &ResolutionRequestRef<'_>) -> Vec<u8> {
    let mut k = Vec::with_capacity(req.handle.len() + 16);
    k.push(u8::from(req.public_only()));
    k.extend_from_slice(&(req.handle.len() as u32).to_be_bytes());
    k.extend_from_slice(req.handle);
    for i in req.indexes() {
        k.push(b'i');
        k.extend_from_slice(&i.to_be_bytes());
    }
    for t in req.types() {
        k.push(b't');
        k.extend_from_slice(&(t.len() as u32).to_be_bytes());
        k.extend(t.iter().map(u8::to_ascii_uppercase));
    }
    k
}
