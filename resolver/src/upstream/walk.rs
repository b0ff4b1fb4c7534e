//! The global resolution walk (handle-protocol.md §7): where does a
//! handle's service live, and what does it answer.
//!
//! 1. A handle whose prefix is `0.NA` (or that has no "/") is served by
//!    the root. Otherwise ask the root for the prefix handle
//!    `0.NA/<PREFIX>` (types HS_SITE, HS_SITE.6, HS_SERV; PO).
//! 2. RC 303: go where the HS_SITE.PREFIX (HS_NA_DELEGATE) values say, or
//!    to the sites of the HS_SERV.PREFIX service handles, or of the
//!    referral's handle, and send the same request there.
//! 3. RC 1: the HS_SITE / HS_SITE.6 values are the sites; HS_SERV values
//!    name service handles whose own HS_SITE values are added.
//! 4. Send the request for the identifier to a server of those sites
//!    ([`super::site`]); RC 302 sends it on to the referred service.
//!
//! Every exchange costs one step of the [`Budget`]; running out is
//! [`UpstreamError::TooDeep`] (RC 6), so loops end quickly.

use std::future::Future;
use std::pin::Pin;

use idnode_registry::model::value::type_matches;
use idnode_registry::model::{HsSite, TtlType, Value};

use crate::wire::{Body, Envelope, Header, Message, OpCode, OpFlags, ProtocolVersion, ResolutionRequest, ResponseCode};

use super::site::{self, Purpose, ServerChoice, Target};
use super::{Answer, Upstream, UpstreamError};

/// Types asked for when locating a service (CNRI asks the same, plus
/// HS_NAMESPACE which we do not use).
const SERVICE_TYPES: [&[u8]; 3] = [b"HS_SITE", b"HS_SITE.6", b"HS_SERV"];
/// The root service handle ("the global service").
const ROOT_SERVICE: &[u8] = b"0.NA/0.NA";

/// Where a handle's service lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// The root servers the caller configured.
    Root,
    /// These sites (from HS_SITE values).
    Sites(Vec<HsSite>),
}

/// A located service and how long the values that named it may be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub service: Service,
    /// Smallest TTL in seconds of the values used (None: no values, e.g.
    /// the root).
    pub ttl: Option<u32>,
}

/// What to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The handle exactly as the client asked.
    pub handle: Vec<u8>,
    pub indexes: Vec<u32>,
    pub types: Vec<Vec<u8>>,
    /// Request flags to send (PO, CA...). REC is never sent upstream by
    /// the walk: each server is asked for what it holds.
    pub flags: OpFlags,
    /// The client's recursion count; requests upstream carry it + 1.
    pub recursion_count: u8,
}

impl Query {
    /// A public-values resolution of `handle` with no filters.
    pub fn new(handle: impl Into<Vec<u8>>) -> Self {
        Query { handle: handle.into(), indexes: vec![], types: vec![], flags: OpFlags::PO, recursion_count: 0 }
    }

    /// The request message (request id 0: the client picks one).
    pub fn to_message(&self, now: u64) -> Message {
        let mut header = Header::request(
            OpCode::RESOLUTION,
            self.flags.with(OpFlags::REC, false).with(OpFlags::RD, false).with(OpFlags::CT, false),
            (now as u32).wrapping_add(12 * 3600),
        );
        header.recursion_count = self.recursion_count.saturating_add(1);
        Message {
            envelope: Envelope::request(ProtocolVersion::OURS, 0),
            header,
            body: Body::Resolution(ResolutionRequest {
                handle: self.handle.clone(),
                indexes: self.indexes.clone(),
                types: self.types.clone(),
                auth_token: None,
            }),
            credential: None,
        }
    }
}

/// Steps left for one walk, and its clock.
#[derive(Debug, Clone)]
pub struct Budget {
    used: u32,
    limit: u32,
    /// Unix seconds (absolute TTLs, expiration times).
    pub now: u64,
}

impl Budget {
    pub fn new(limit: u32, now: u64) -> Self {
        Budget { used: 0, limit, now }
    }

    /// Steps taken so far.
    pub fn used(&self) -> u32 {
        self.used
    }

    fn step(&mut self, handle: &[u8]) -> Result<(), UpstreamError> {
        if self.used >= self.limit {
            return Err(UpstreamError::TooDeep { limit: self.limit, handle: String::from_utf8_lossy(handle).into() });
        }
        self.used += 1;
        Ok(())
    }
}

/// True for handles the root serves: prefix `0.NA`, or no "/".
pub fn is_prefix_handle(handle: &[u8]) -> bool {
    match handle.iter().position(|&c| c == b'/') {
        Some(i) => handle[..i].eq_ignore_ascii_case(b"0.NA"),
        None => true,
    }
}

/// `0.NA/<PREFIX>` of a handle (upper-cased as CNRI builds it, §7); a
/// handle without "/" is itself a prefix.
pub fn prefix_handle_of(handle: &[u8]) -> Vec<u8> {
    let prefix = match handle.iter().position(|&c| c == b'/') {
        Some(i) => &handle[..i],
        None => handle,
    };
    let mut out = b"0.NA/".to_vec();
    out.extend(prefix.iter().map(u8::to_ascii_uppercase));
    out
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, UpstreamError>> + Send + 'a>>;

/// TTL of a value in seconds from `now` (absolute TTLs count down; a
/// negative relative TTL counts as 0).
pub fn value_ttl(v: &Value, now: u64) -> u32 {
    match v.ttl_type {
        TtlType::Absolute => (i64::from(v.ttl) - now as i64).clamp(0, i64::from(u32::MAX)) as u32,
        _ => v.ttl.max(0) as u32,
    }
}

fn min_ttl(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Upstream {
    /// Where `handle`'s service lives, starting at `roots` (step 1–3).
    /// A handle of the root (prefix `0.NA`) is [`Service::Root`].
    pub async fn locate(&self, roots: &[Target], handle: &[u8], budget: &mut Budget) -> Result<Located, UpstreamError> {
        if is_prefix_handle(handle) {
            return Ok(Located { service: Service::Root, ttl: None });
        }
        self.locate_service_handle(roots, prefix_handle_of(handle), budget).await
    }

    /// Resolves `query` at `service` and returns the final answer (any
    /// response code other than a referral), following 302 service
    /// referrals and, for prefix handles, 303 prefix referrals (step 4).
    pub async fn resolve_at(
        &self,
        roots: &[Target],
        service: Service,
        query: &Query,
        budget: &mut Budget,
    ) -> Result<Answer, UpstreamError> {
        let msg = query.to_message(budget.now);
        let mut service = service;
        loop {
            budget.step(&query.handle)?;
            let answer = self.send(roots, &service, &query.handle, Purpose::Query, &msg).await?;
            let rc = answer.message.header.response_code;
            let Body::Referral(r) = &answer.message.body else { return Ok(answer) };
            service = if rc == ResponseCode::SERVICE_REFERRAL {
                self.referral_service(roots, r.values.as_deref(), &r.handle, false, budget).await?.service
            } else if rc == ResponseCode::PREFIX_REFERRAL {
                self.referral_service(roots, r.values.as_deref(), &r.handle, true, budget).await?.service
            } else {
                return Ok(answer);
            };
        }
    }

    /// Locates and resolves in one go: [`locate`](Self::locate), then
    /// [`resolve_at`](Self::resolve_at), within `max_steps`.
    pub async fn resolve(&self, roots: &[Target], query: &Query, now: u64) -> Result<Answer, UpstreamError> {
        let mut budget = Budget::new(self.cfg.max_steps, now);
        let located = self.locate(roots, &query.handle, &mut budget).await?;
        self.resolve_at(roots, located.service, query, &mut budget).await
    }

    /// The sites of a service handle such as `0.NA/88.118.8` or
    /// `0.GHR/86`: resolve it (types HS_SITE, HS_SITE.6, HS_SERV) where
    /// it lives, following prefix referrals, and turn the values into
    /// sites.
    fn locate_service_handle<'a>(
        &'a self,
        roots: &'a [Target],
        service_handle: Vec<u8>,
        budget: &'a mut Budget,
    ) -> BoxFut<'a, Located> {
        Box::pin(async move {
            if service_handle.eq_ignore_ascii_case(ROOT_SERVICE) {
                return Ok(Located { service: Service::Root, ttl: None });
            }
            let where_ = if is_prefix_handle(&service_handle) {
                Service::Root
            } else {
                self.locate(roots, &service_handle, budget).await?.service
            };
            let mut query = Query::new(service_handle.clone());
            query.types = SERVICE_TYPES.iter().map(|t| t.to_vec()).collect();
            let answer = self.resolve_at(roots, where_, &query, budget).await?;
            let rc = answer.message.header.response_code;
            match answer.message.body {
                Body::ResolutionResponse(r) => self
                    .sites_from_values(roots, &r.values, &[b"HS_SITE", b"HS_SITE.6"], b"HS_SERV", budget)
                    .await
                    .and_then(|l| match &l.service {
                        Service::Sites(s) if s.is_empty() => {
                            Err(UpstreamError::NoService { handle: String::from_utf8_lossy(&service_handle).into() })
                        }
                        _ => Ok(l),
                    }),
                _ if rc == ResponseCode::HANDLE_NOT_FOUND || rc == ResponseCode::VALUES_NOT_FOUND => {
                    Err(UpstreamError::NoService { handle: String::from_utf8_lossy(&service_handle).into() })
                }
                _ => Err(UpstreamError::Refused { handle: String::from_utf8_lossy(&service_handle).into(), rc }),
            }
        })
    }

    /// The service a 302 / 303 referral names: its site values, the sites
    /// of its service-handle values, or of its handle when it has no
    /// values.
    async fn referral_service(
        &self,
        roots: &[Target],
        values: Option<&[Value]>,
        handle: &[u8],
        prefix: bool,
        budget: &mut Budget,
    ) -> Result<Located, UpstreamError> {
        let (site_types, serv_type): (&[&[u8]], &[u8]) = if prefix {
            (&[b"HS_SITE.PREFIX", b"HS_NA_DELEGATE"], b"HS_SERV.PREFIX")
        } else {
            (&[b"HS_SITE", b"HS_SITE.6"], b"HS_SERV")
        };
        match values {
            Some(v) if !v.is_empty() => {
                let located = self.sites_from_values(roots, v, site_types, serv_type, budget).await?;
                if matches!(&located.service, Service::Sites(s) if s.is_empty()) {
                    return Err(UpstreamError::NoServer { handle: String::from_utf8_lossy(handle).into() });
                }
                Ok(located)
            }
            _ if !handle.is_empty() => self.locate_service_handle(roots, handle.to_vec(), budget).await,
            _ => Err(UpstreamError::NoServer { handle: "(empty referral)".into() }),
        }
    }

    /// Sites from HS_SITE-like values plus the sites of service-handle
    /// values (each resolved in turn; the budget bounds the chain).
    fn sites_from_values<'a>(
        &'a self,
        roots: &'a [Target],
        values: &'a [Value],
        site_types: &'a [&'a [u8]],
        serv_type: &'a [u8],
        budget: &'a mut Budget,
    ) -> BoxFut<'a, Located> {
        Box::pin(async move {
            let mut sites = Vec::new();
            let mut ttl = None;
            let mut root = false;
            for v in values {
                if site_types.iter().any(|t| v.value_type.eq_ignore_ascii_case(t))
                    && let Ok(s) = HsSite::from_bytes(&v.data)
                {
                    sites.push(s);
                    ttl = min_ttl(ttl, Some(value_ttl(v, budget.now)));
                }
            }
            for v in values {
                if type_matches(serv_type, &v.value_type) && v.value_type.len() == serv_type.len() {
                    ttl = min_ttl(ttl, Some(value_ttl(v, budget.now)));
                    let sub = self.locate_service_handle(roots, v.data.clone(), budget).await?;
                    ttl = min_ttl(ttl, sub.ttl);
                    match sub.service {
                        Service::Root => root = true,
                        Service::Sites(s) => sites.extend(s),
                    }
                }
            }
            let service = if root && sites.is_empty() { Service::Root } else { Service::Sites(sites) };
            Ok(Located { service, ttl })
        })
    }

    /// Sends `msg` to a server of `service` chosen for `handle`, trying the
    /// next candidate when one fails.
    async fn send(
        &self,
        roots: &[Target],
        service: &Service,
        handle: &[u8],
        purpose: Purpose,
        msg: &Message,
    ) -> Result<Answer, UpstreamError> {
        let choices: Vec<ServerChoice> = match service {
            Service::Root => vec![self.with_quic_first(ServerChoice { targets: roots.to_vec() })],
            Service::Sites(sites) => site::candidates(sites, handle, purpose, &self.cfg.preference)
                .into_iter()
                .map(|c| self.with_quic_first(c))
                .collect(),
        };
        let mut last = None;
        for choice in &choices {
            match self.exchange_server(choice, msg).await {
                Ok(a) => return Ok(a),
                Err(e) => {
                    tracing::warn!(error = %e, "upstream server failed; trying the next one");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| UpstreamError::NoServer { handle: String::from_utf8_lossy(handle).into() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_handles_and_their_names() {
        assert!(is_prefix_handle(b"0.NA/88.118.8"));
        assert!(is_prefix_handle(b"0.na/88"));
        assert!(is_prefix_handle(b"88.118.8"));
        assert!(!is_prefix_handle(b"88.118.8/abc"));
        assert_eq!(prefix_handle_of(b"88.118.8.1001/LOT-a"), b"0.NA/88.118.8.1001");
        assert_eq!(prefix_handle_of(b"abc.def/x/y"), b"0.NA/ABC.DEF");
        assert_eq!(prefix_handle_of(b"88.1"), b"0.NA/88.1");
    }

    #[test]
    fn budget_ends_walks() {
        let mut b = Budget::new(2, 0);
        assert!(b.step(b"x").is_ok());
        assert!(b.step(b"x").is_ok());
        let e = b.step(b"x").unwrap_err();
        assert_eq!(e.response_code(), ResponseCode::RECURSION_COUNT_TOO_HIGH);
        assert_eq!(b.used(), 2);
    }

    #[test]
    fn value_ttls() {
        let mut v = Value::new(1, "URL", "x");
        v.ttl = 300;
        assert_eq!(value_ttl(&v, 1000), 300);
        v.ttl = -5;
        assert_eq!(value_ttl(&v, 1000), 0);
        v.ttl_type = TtlType::Absolute;
        v.ttl = 1600;
        assert_eq!(value_ttl(&v, 1000), 600);
        v.ttl = 900;
        assert_eq!(value_ttl(&v, 1000), 0);
    }

    #[test]
    fn upstream_requests_never_ask_for_recursion_and_count_hops() {
        let mut q = Query::new("88.1/x");
        q.flags = OpFlags::PO | OpFlags::REC | OpFlags::RD | OpFlags::CA;
        q.recursion_count = 3;
        let m = q.to_message(1000);
        assert!(!m.header.op_flags.contains(OpFlags::REC));
        assert!(!m.header.op_flags.contains(OpFlags::RD));
        assert!(m.header.op_flags.contains(OpFlags::PO | OpFlags::CA));
        assert_eq!(m.header.recursion_count, 4);
        let back = Message::decode(&m.encode()).unwrap();
        assert_eq!(back.header.recursion_count, 4);
    }
}
