//! The resolution engine: decides what to answer to one Handle/IDIS request.
//!
//! `Engine::handle` takes one complete request (envelope + message, as the
//! listeners assemble it) and appends the complete answer to a buffer. It
//! owns the decisions of handle-protocol.md §3 and §5: answer from the store,
//! 100 / 200 / 301, prefix referrals (303) for derived prefix handles, the
//! PO rules and permission bits, OC_GET_SITE_INFO, and the 402 challenge
//! that starts authentication. It does no I/O besides reading the store;
//! the caller passes `now`.
//!
//! The resolution path copies stored value bytes into the answer (the store
//! keeps values in wire encoding) and does not decode them.

mod admin;
mod certify;
mod challenge;
pub mod fuzzing;
mod listing;
mod login;
pub mod replication;
pub mod session;
mod setup;

use std::net::SocketAddr;
use std::sync::Arc;

use idnode_registry::ident::{CasePolicy, canonical_key_into, prefix_chain_bytes, prefix_of};
use idnode_registry::model::value::type_matches;
use idnode_registry::model::{RecordBytes, Value, ValueView};
use idnode_registry::store::Store;

use crate::wire::{
    Body, ChallengeResponse, DecodeError, DigestAlg, Frame, Message, OpCode, OpFlags, ReferralResponse, RequestDigest,
    ResolutionRequestRef, Responder, ResponseCode, ResponseHead, SiteInfoResponse, encode_error_response,
    encode_resolution_response, encode_resolution_response_list,
};

pub use challenge::{ChallengeLimits, ChallengeTable, PendingChallenge, TakeError};
pub use listing::LIST_CHUNK;
pub use login::IdisLogin;
pub(crate) use login::parse_password_login;
pub use session::{ConnState, SessionLimits, SessionTable};

use crate::auth::Identity;
use crate::auth::authz::Policy;
use crate::auth::sign::ServerSigner;

/// How a request arrived (decides streaming and size rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Quic,
    Http,
}

/// Per-request context supplied by the listener.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub transport: Transport,
    pub peer: SocketAddr,
    /// Unix seconds.
    pub now: u64,
}

/// What happened, for metrics and connection handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub opcode: u32,
    pub rc: u32,
    /// The connection should be closed after this answer (undecodable input).
    pub close: bool,
    /// Nothing was written: the request asks for recursion (REC) on an
    /// identifier this node does not hold and recursion is on. The
    /// listener hands it to the async `upstream::Recursor`.
    pub recurse: bool,
}

impl Outcome {
    fn recursion() -> Self {
        Outcome { opcode: OpCode::RESOLUTION.0, rc: 0, close: false, recurse: true }
    }

    fn new(op: OpCode, rc: ResponseCode) -> Self {
        Outcome { opcode: op.0, rc: rc.0, close: false, recurse: false }
    }
}

/// Static answers and policy of this node.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The HS_SITE record (§4.3 bytes) this server answers OC_GET_SITE_INFO with.
    pub site_record: Vec<u8>,
    /// `siteInfoSerial` written into every response header.
    pub site_serial: u16,
    /// This server is in a primary site (AT set in responses).
    pub primary: bool,
    /// Seconds added to `now` for the header's expirationTime (CNRI: 12 h).
    pub response_lifetime: u32,
    /// Seconds a challenge waits for its answer (CNRI `max_auth_time`: 60).
    pub challenge_lifetime: u64,
    /// Most challenges outstanding at once (oldest dropped first).
    pub max_challenges: usize,
    /// Most bytes of requests kept by outstanding challenges.
    pub challenge_max_bytes: usize,
    /// Bounds of the session table (§6.3).
    pub sessions: SessionLimits,
    /// The key certified answers are signed with (its public half is in
    /// HS_SITE); `None` = answers stay unsigned.
    pub signer: Option<Arc<ServerSigner>>,
    /// Identities allowed every admin operation on this server (config
    /// `[handle] admins`), also needed for home / unhome / list homed.
    pub server_admins: Vec<Identity>,
    /// Deepest HS_VLIST nesting followed when authorising.
    pub vlist_depth: usize,
    /// Registration quotas, shared with the HTTP APIs' rules (writes over
    /// the binary protocol answer IDIS codes 603 / 604 when refused).
    pub limits: idnode_registry::service::Limits,
    /// Hand requests with REC for identifiers not held here to the
    /// recursor ([`Outcome::recurse`]) instead of answering 301 / 302.
    pub recursion: bool,
    /// Identities allowed to follow this node's change log (OC 1000–1002).
    pub replicas: Vec<Identity>,
    /// This node is a read-only mirror of the named primary: writes are
    /// answered RC 7 naming it.
    pub read_only: Option<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            site_record: Vec::new(),
            site_serial: 1,
            primary: true,
            response_lifetime: 12 * 3600,
            challenge_lifetime: 60,
            max_challenges: 10_000,
            challenge_max_bytes: 32 << 20,
            sessions: SessionLimits::default(),
            signer: None,
            server_admins: Vec::new(),
            vlist_depth: crate::auth::authz::DEFAULT_MAX_DEPTH,
            limits: idnode_registry::service::Limits::default(),
            recursion: false,
            replicas: Vec::new(),
            read_only: None,
        }
    }
}

/// The text CNRI sends with RC 301 (§12).
pub const NOT_HOMED_MESSAGE: &[u8] = b"That prefix doesn't live here";
/// The global prefix namespace.
const NA: &[u8] = b"0.NA";
const NA_SLASH: &[u8] = b"0.NA/";

/// Decides answers. Shared by every listener thread (`Arc<Engine>`).
#[derive(Debug)]
pub struct Engine {
    store: Arc<dyn Store>,
    cfg: EngineConfig,
    challenges: ChallengeTable,
    sessions: SessionTable,
    /// The registry service every write of the binary protocol goes
    /// through (quotas in the daemon's one reservation ledger, audit).
    registrar: Arc<idnode_registry::service::Registrar>,
}

thread_local! {
    static KEY_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(128));
}

impl Engine {
    /// An engine with a registry service of its own (tests, tools); the
    /// daemon shares one service among its doors ([`Engine::with_registrar`]).
    pub fn new(store: Arc<dyn Store>, cfg: EngineConfig) -> Self {
        let registrar = Arc::new(idnode_registry::service::Registrar::new(store, cfg.limits.clone()));
        Engine::with_registrar(registrar, cfg)
    }

    /// An engine whose writes go through `registrar` (the daemon's one
    /// registry service, shared with the HTTP doors).
    pub fn with_registrar(registrar: Arc<idnode_registry::service::Registrar>, cfg: EngineConfig) -> Self {
        let store = registrar.store_arc();
        let challenges = ChallengeTable::with_limits(ChallengeLimits {
            max_entries: cfg.max_challenges,
            max_bytes: cfg.challenge_max_bytes,
            lifetime: cfg.challenge_lifetime,
        });
        let sessions = SessionTable::new(cfg.sessions.clone());
        Engine { store, cfg, challenges, sessions, registrar }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Outstanding challenges (authentication continues in the admin path).
    pub fn challenges(&self) -> &ChallengeTable {
        &self.challenges
    }

    /// The session table (§6.3).
    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }

    fn policy(&self) -> Policy<'_> {
        Policy { server_admins: &self.cfg.server_admins, max_depth: self.cfg.vlist_depth }
    }

    fn responder(&self, now: u64) -> Responder {
        Responder {
            site_serial: self.cfg.site_serial,
            primary: self.cfg.primary,
            expiration: (now as u32).wrapping_add(self.cfg.response_lifetime),
        }
    }

    /// Answers one complete request (`request` = envelope + message). The
    /// answer (TCP form; the UDP listener fragments it) is appended to `out`;
    /// nothing is appended when the request must be dropped. Doors without
    /// connection state (UDP) use this; connection doors use
    /// [`handle_conn`](Self::handle_conn).
    pub fn handle(&self, ctx: &Ctx, request: &[u8], out: &mut Vec<u8>) -> Outcome {
        self.handle_conn(ctx, &mut ConnState::default(), request, out)
    }

    /// [`handle`](Self::handle) with the state of the connection the request
    /// came on. When the request sets CT, every answer message is signed
    /// (§6.2, [`certify`](Self::certify)).
    pub fn handle_conn(&self, ctx: &Ctx, conn: &mut ConnState, request: &[u8], out: &mut Vec<u8>) -> Outcome {
        let start = out.len();
        let outcome = self.dispatch(ctx, conn, request, out);
        // Old IDIS SDKs get only codes they can decode (before signing).
        let outcome = login::old_sdk_codes(request, start, out, outcome);
        let certified = request.len() >= crate::wire::ENVELOPE_LEN + 12
            && request[crate::wire::ENVELOPE_LEN + 8] & 0x40 != 0
            && request[crate::wire::ENVELOPE_LEN + 4..crate::wire::ENVELOPE_LEN + 8] == [0, 0, 0, 0];
        if certified && out.len() > start && !outcome.close {
            self.certify(out, start, ctx.now);
        }
        outcome
    }

    fn dispatch(&self, ctx: &Ctx, conn: &mut ConnState, request: &[u8], out: &mut Vec<u8>) -> Outcome {
        let frame = match Frame::parse(request) {
            Ok(f) => f,
            Err(e) => return self.undecodable(&e, ctx.now, out),
        };
        if frame.header.is_response() {
            // Answers are not requests: nothing sensible to reply.
            return Outcome { opcode: frame.header.op_code.0, rc: 0, close: true, recurse: false };
        }
        if frame.envelope.is_encrypted() || frame.envelope.is_compressed() {
            return self.error(
                &frame,
                ResponseCode::PROTOCOL_ERROR,
                b"Encrypted or compressed messages need a session this server does not offer",
                ctx.now,
                out,
            );
        }
        let login = conn.idis.login().cloned();
        match frame.header.op_code {
            OpCode::RESOLUTION => match ResolutionRequestRef::from_frame(&frame) {
                Ok(req) => self.resolve(ctx, &req, login.as_ref(), out),
                Err(e) => self.error(&frame, ResponseCode::PROTOCOL_ERROR, e.to_string().as_bytes(), ctx.now, out),
            },
            OpCode::GET_SITE_INFO => self.site_info(&frame, ctx.now, out),
            op if replication::is_write(op) && self.cfg.read_only.is_some() => {
                let primary = self.cfg.read_only.as_deref().unwrap_or_default();
                let why = format!("This server is a read-only mirror; send writes to its primary {primary}");
                self.error(&frame, ResponseCode::SERVER_BACKUP, why.as_bytes(), ctx.now, out)
            }
            op if admin::needs_authentication(op) => match login {
                // A logged-in IDIS connection is not challenged again (§2.4).
                Some(identity) => self.logged_in_request(ctx, &frame, &identity, out),
                None => self.admin_request(ctx, &frame, request, out),
            },
            OpCode::LOGIN_ID_SYSTEM => self.login_id_system(ctx, &mut conn.idis, &frame, out),
            OpCode::LOGIN => self.login_password(ctx, &mut conn.idis, &frame, out),
            OpCode::RESPONSE_TO_CHALLENGE if Self::answers_login(&conn.idis, &frame) => {
                self.login_answer(ctx, &mut conn.idis, &frame, out)
            }
            OpCode::RESPONSE_TO_CHALLENGE => self.challenge_answer(&frame, ctx.now, out),
            OpCode::SESSION_SETUP => self.session_setup(&frame, ctx.now, out),
            OpCode::SESSION_TERMINATE => self.session_terminate(&frame, ctx.now, out),
            OpCode::SESSION_EXCHANGEKEY => self.session_exchange_key(&frame, ctx.now, out),
            _ => self.error(&frame, ResponseCode::OPERATION_NOT_SUPPORTED, b"Operation not supported", ctx.now, out),
        }
    }

    /// An admin request: refused at once when it must fail, run directly in
    /// an authenticated session (valid MAC, unused counter), otherwise
    /// challenged (§6.1) — under the session's id inside a session.
    fn admin_request(&self, ctx: &Ctx, frame: &Frame<'_>, request: &[u8], out: &mut Vec<u8>) -> Outcome {
        let now = ctx.now;
        let msg = match frame.to_message() {
            Ok(m) => m,
            Err(e) => return self.error(frame, ResponseCode::PROTOCOL_ERROR, e.to_string().as_bytes(), now, out),
        };
        if let Some((rc, why)) = self.precheck(&msg, ctx.transport) {
            return self.error(frame, rc, why, now, out);
        }
        let Some(session) = self.sessions.get(frame.envelope.session_id, now) else {
            // No (live) session: a plain challenge under a fresh id.
            return self.challenge(frame, request, now, out);
        };
        let counter = match setup::check_mac(frame, &session) {
            Ok(c) => c,
            Err(r) => return self.error(frame, r.rc(), r.message(), now, out),
        };
        let Some(identity) = session.authenticated.clone() else {
            return self.challenge_in(frame, request, Some(session.id), now, out);
        };
        if let Err(r) = self.sessions.admit_counter(session.id, counter) {
            return self.error(frame, r.rc(), r.message(), now, out);
        }
        let digest = Self::digest_for(frame);
        let reply = admin::Reply { env: &frame.envelope, session_id: session.id, digest };
        self.execute(&reply, msg, &identity, now, out)
    }

    /// The answer to bytes that do not frame as a message (CNRI's form, see
    /// [`Message::undecodable_request_error`]).
    pub fn undecodable(&self, e: &DecodeError, now: u64, out: &mut Vec<u8>) -> Outcome {
        self.protocol_error_unframed(&e.to_string(), now, out)
    }

    /// RC 4 for input that could not be framed at all (e.g. a TCP message
    /// shorter than its envelope says): request id -1, op 0.
    pub fn protocol_error_unframed(&self, message: &str, now: u64, out: &mut Vec<u8>) -> Outcome {
        let expiration = (now as u32).wrapping_add(self.cfg.response_lifetime);
        Message::undecodable_request_error(message.as_bytes().to_vec(), expiration).encode_into(out);
        Outcome { opcode: 0, rc: ResponseCode::PROTOCOL_ERROR.0, close: true, recurse: false }
    }

    /// A short error answer (`rc`, `message`) to `request` without serving
    /// it: what a listener sends when a per-source limit refuses a request
    /// (RC 2 "retry over TCP" on UDP, RC 3 on TCP). `None`, and nothing
    /// appended, when `request` does not frame as a request.
    pub fn refuse(
        &self,
        request: &[u8],
        rc: ResponseCode,
        message: &[u8],
        now: u64,
        out: &mut Vec<u8>,
    ) -> Option<Outcome> {
        let frame = Frame::parse(request).ok().filter(|f| !f.header.is_response())?;
        Some(self.error(&frame, rc, message, now, out))
    }

    fn digest_for(frame: &Frame<'_>) -> Option<RequestDigest> {
        frame.header.op_flags.contains(OpFlags::RD).then(|| frame.response_digest())
    }

    /// An error answer (with the digest when RD was set).
    fn error(&self, frame: &Frame<'_>, rc: ResponseCode, message: &[u8], now: u64, out: &mut Vec<u8>) -> Outcome {
        let head = ResponseHead::for_request(&frame.envelope, &frame.header, rc, &self.responder(now));
        let digest = Self::digest_for(frame);
        // Error bodies are tiny; encoding cannot exceed the message limit.
        let _ = encode_error_response(out, &head, digest.as_ref(), message);
        Outcome::new(frame.header.op_code, rc)
    }

    fn site_info(&self, frame: &Frame<'_>, now: u64, out: &mut Vec<u8>) -> Outcome {
        if self.cfg.site_record.is_empty() {
            return self.error(frame, ResponseCode::ERROR, b"No site information configured", now, out);
        }
        let body = Body::SiteInfoResponse(SiteInfoResponse {
            digest: Self::digest_for(frame),
            site: self.cfg.site_record.clone(),
        });
        Message::response_to(&frame.envelope, &frame.header, ResponseCode::SUCCESS, &self.responder(now), body)
            .encode_into(out);
        Outcome::new(OpCode::GET_SITE_INFO, ResponseCode::SUCCESS)
    }

    /// RC 402: remember the request and send digest + nonce under a new
    /// session id (§6.1).
    fn challenge(&self, frame: &Frame<'_>, request: &[u8], now: u64, out: &mut Vec<u8>) -> Outcome {
        self.challenge_in(frame, request, None, now, out)
    }

    /// A challenge under `session` (the request's live session) or a fresh id.
    fn challenge_in(
        &self,
        frame: &Frame<'_>,
        request: &[u8],
        session: Option<i32>,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let version = frame.envelope.negotiate();
        let digest = RequestDigest::compute(DigestAlg::for_version(version), frame.header_and_body);
        let (session_id, nonce) =
            self.challenges.open_in(request, &digest, now, session, |id| self.sessions.contains(id));
        self.encode_challenge(frame, session_id, digest, &nonce, now, out);
        Outcome::new(frame.header.op_code, ResponseCode::AUTHENTICATION_NEEDED)
    }

    /// The 402 answer itself (§6.1): digest + nonce under `session_id`, RD
    /// set. Shared by per-request challenges and the IDIS login (2001).
    fn encode_challenge(
        &self,
        frame: &Frame<'_>,
        session_id: i32,
        digest: RequestDigest,
        nonce: &[u8],
        now: u64,
        out: &mut Vec<u8>,
    ) {
        let mut msg = Message::response_to(
            &frame.envelope,
            &frame.header,
            ResponseCode::AUTHENTICATION_NEEDED,
            &self.responder(now),
            Body::Challenge(ChallengeResponse { digest, nonce: nonce.to_vec() }),
        );
        msg.envelope.session_id = session_id;
        msg.header.op_flags |= OpFlags::RD;
        msg.encode_into(out);
    }

    /// Whether a derived prefix between `prefix` (inclusive) and the homed
    /// ancestor `homed` (exclusive) has a prefix handle `0.NA/<p>` here
    /// naming another service (an HS_SITE other than this node's own, or an
    /// HS_SERV): its identifiers live on that node (a top node stores the
    /// secondaries' enterprise prefixes this way), so this node is not
    /// responsible for them (301, or recursion) rather than answering 100.
    /// A prefix handle with only HS_ADMIN values, or naming this node's
    /// own site, keeps the identifiers here.
    fn delegated_below(&self, prefix: &[u8], homed: &[u8]) -> bool {
        if prefix.len() <= homed.len() {
            return false;
        }
        let mut p = prefix;
        while p.len() > homed.len() {
            let mut h = Vec::with_capacity(5 + p.len());
            h.extend_from_slice(NA);
            h.push(b'/');
            h.extend_from_slice(p);
            if let Ok(Some(rec)) = self.store.get_record(&self.store.canonical_key(&h)) {
                let mut elsewhere = false;
                for v in rec.iter() {
                    if v.value_type.eq_ignore_ascii_case(b"HS_SITE") {
                        if v.data == self.cfg.site_record.as_slice() {
                            return false;
                        }
                        elsewhere = true;
                    } else if v.value_type.eq_ignore_ascii_case(b"HS_SERV") {
                        elsewhere = true;
                    }
                }
                if elsewhere {
                    return true;
                }
            }
            match p.iter().rposition(|b| *b == b'.') {
                Some(i) => p = &p[..i],
                None => break,
            }
        }
        false
    }

    /// OC_RESOLUTION (§3, §5).
    /// `login`: the identity of a logged-in IDIS connection, which reads
    /// admin-readable values without a challenge (idis-extensions.md §2.4).
    fn resolve(
        &self,
        ctx: &Ctx,
        req: &ResolutionRequestRef<'_>,
        login: Option<&Identity>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let handle = req.handle;
        let op = OpCode::RESOLUTION;
        let responder = self.responder(ctx.now);
        let head = |rc| req.response_head(rc, &responder);
        let fail = |out: &mut Vec<u8>, rc: ResponseCode, msg: &[u8]| {
            let _ = encode_error_response(out, &head(rc), req.response_digest().as_ref(), msg);
            Outcome::new(op, rc)
        };
        if handle.is_empty() || std::str::from_utf8(handle).is_err() {
            return fail(out, ResponseCode::INVALID_HANDLE, b"Invalid handle");
        }
        // An alias (`gs1:<gtin>`, `oid:<oid>`, `ecode:<code>`) answers with
        // its bound record; only the `<scheme>:` form reaches the alias table.
        // The answer names the handle as asked: clients (pyhandle, the
        // reference tools) check that an answer is for the handle they sent.
        let asked = handle;
        let bound = alias_target(&*self.store, handle);
        let handle = bound.as_deref().map_or(handle, str::as_bytes);
        let prefix = prefix_of(handle);
        let is_na = prefix.eq_ignore_ascii_case(NA) || !handle.contains(&b'/');

        // Which policy applies, and is this node responsible at all?
        let (responsible, policy) = if is_na {
            (true, CasePolicy::CaseSensitive)
        } else {
            // The nearest known prefix decides: homed here, or an enterprise
            // prefix hosted on the enterprise's own node (referral).
            let known = self.store.longest_known(prefix);
            match known {
                Some(m) if m.prefix.homed => {
                    (!self.delegated_below(prefix, m.prefix.prefix.as_bytes()), m.prefix.case_policy)
                }
                Some(m) if m.prefix.site.is_some() => {
                    if self.recurses(req) {
                        return Outcome::recursion();
                    }
                    return self.service_referral(
                        req,
                        &m.prefix.prefix,
                        m.prefix.site.as_deref().unwrap_or_default(),
                        out,
                        &responder,
                    );
                }
                _ => match self.store.longest_homed(prefix) {
                    Some(m) => (true, m.prefix.case_policy),
                    None => (false, CasePolicy::CaseSensitive),
                },
            }
        };
        if !responsible {
            if self.recurses(req) {
                return Outcome::recursion();
            }
            return fail(out, ResponseCode::SERVER_NOT_RESP, NOT_HOMED_MESSAGE);
        }

        let record = KEY_BUF.with(|k| {
            let mut key = k.borrow_mut();
            canonical_key_into(handle, policy, &mut key);
            self.store.get_record(&key)
        });
        let record = match record {
            Ok(Some(r)) => r,
            Ok(None) if is_na => return self.na_not_found(req, out, &responder),
            Ok(None) => return fail(out, ResponseCode::HANDLE_NOT_FOUND, b""),
            Err(e) => {
                tracing::error!(error = %e, "store read failed during resolution");
                return fail(out, ResponseCode::ERROR, b"Internal error");
            }
        };
        if !is_na {
            self.store.count_resolution(prefix, (ctx.now / 86_400) as u32, 1);
            idnode_registry::topids::note(handle);
        }

        // Pass 1: which values are asked for, and may they be read?
        let po = req.public_only();
        let unfiltered = req.is_unfiltered();
        let mut selected = 0usize;
        let mut total = 0usize;
        let mut needs_auth = false;
        let mut denied = false;
        for v in record.iter() {
            total += 1;
            if !(unfiltered || wanted(req, &v)) {
                continue;
            }
            if !v.is_public_read() {
                if po {
                    continue;
                }
                if v.is_admin_read() {
                    needs_auth = true;
                } else {
                    denied = true;
                }
            }
            selected += 1;
        }
        if denied {
            return fail(out, ResponseCode::INSUFFICIENT_PERMISSIONS, b"Insufficient permissions to read a value");
        }
        if needs_auth {
            // CNRI asks the client to authenticate as an admin with READ_VALUE.
            if let Some(identity) = login {
                let msg = Message {
                    envelope: req.envelope,
                    header: req.header,
                    body: Body::Resolution(req.to_request()),
                    credential: None,
                };
                let reply = admin::Reply {
                    env: &req.envelope,
                    session_id: req.envelope.session_id,
                    digest: req.response_digest(),
                };
                return self.execute(&reply, msg, identity, ctx.now, out);
            }
            let frame = Frame {
                envelope: req.envelope,
                header: req.header,
                header_and_body: req.header_and_body,
                body: &req.header_and_body[crate::wire::HEADER_LEN..],
                credential: req.credential,
            };
            return self.challenge_from_ref(&frame, ctx.now, out);
        }
        if selected == 0 {
            return fail(out, ResponseCode::VALUES_NOT_FOUND, b"");
        }
        let digest = req.response_digest();
        let head = head(ResponseCode::SUCCESS);
        let res = if selected == total {
            encode_resolution_response_list(out, &head, digest.as_ref(), asked, record.value_list())
        } else {
            encode_resolution_response(
                out,
                &head,
                digest.as_ref(),
                asked,
                record.iter().filter(|v| (unfiltered || wanted(req, v)) && (!po || v.is_public_read())).map(|v| v.raw),
            )
            .map(|_| ())
        };
        match res {
            Ok(()) => Outcome::new(op, ResponseCode::SUCCESS),
            Err(_) => fail(out, ResponseCode::ERROR, b"Answer too large"),
        }
    }

    /// RC 302: the identifier lives on an enterprise node of a prefix that
    /// is not hosted here; the answer carries the enterprise node's HS_SITE
    /// and the prefix handle (§3 "Service referral").
    fn service_referral(
        &self,
        req: &ResolutionRequestRef<'_>,
        prefix: &str,
        site: &[u8],
        out: &mut Vec<u8>,
        responder: &Responder,
    ) -> Outcome {
        let op = OpCode::RESOLUTION;
        if req.header.op_flags.contains(OpFlags::DNRF) {
            let _ = encode_error_response(
                out,
                &req.response_head(ResponseCode::SERVER_NOT_RESP, responder),
                req.response_digest().as_ref(),
                NOT_HOMED_MESSAGE,
            );
            return Outcome::new(op, ResponseCode::SERVER_NOT_RESP);
        }
        let body = Body::Referral(ReferralResponse {
            digest: req.response_digest(),
            handle: idnode_registry::ident::prefix_handle(prefix).into_bytes(),
            values: Some(vec![Value::new(1, "HS_SITE", site.to_vec())]),
        });
        Message::response_to(&req.envelope, &req.header, ResponseCode::SERVICE_REFERRAL, responder, body)
            .encode_into(out);
        Outcome::new(op, ResponseCode::SERVICE_REFERRAL)
    }

    /// Recursion is on and the client allows it (REC, handle-protocol.md
    /// §2 opFlags, §5).
    #[inline]
    fn recurses(&self, req: &ResolutionRequestRef<'_>) -> bool {
        self.cfg.recursion && req.header.op_flags.contains(OpFlags::REC)
    }

    fn challenge_from_ref(&self, frame: &Frame<'_>, now: u64, out: &mut Vec<u8>) -> Outcome {
        let mut request = Vec::with_capacity(crate::wire::ENVELOPE_LEN + frame.header_and_body.len() + 4);
        request.extend_from_slice(&frame.envelope.to_bytes());
        request.extend_from_slice(frame.header_and_body);
        self.challenge(frame, &request, now, out)
    }

    /// A `0.NA/<prefix>` handle this node does not store: refer to the
    /// nearest ancestor prefix handle with public HS_SITE.PREFIX /
    /// HS_SERV.PREFIX values (§7 step 3), or 100.
    fn na_not_found(&self, req: &ResolutionRequestRef<'_>, out: &mut Vec<u8>, responder: &Responder) -> Outcome {
        let op = OpCode::RESOLUTION;
        let digest = req.response_digest();
        let handle = req.handle;
        let derived = match handle.iter().position(|&c| c == b'/') {
            Some(i) => &handle[i + 1..],
            None => handle,
        };
        let not_found = |out: &mut Vec<u8>| {
            let _ = encode_error_response(
                out,
                &req.response_head(ResponseCode::HANDLE_NOT_FOUND, responder),
                digest.as_ref(),
                b"",
            );
            Outcome::new(op, ResponseCode::HANDLE_NOT_FOUND)
        };
        if req.header.op_flags.contains(OpFlags::DNRF) {
            return not_found(out);
        }
        let mut key = Vec::with_capacity(handle.len() + 5);
        // Proper ancestors only, nearest first.
        for ancestor in prefix_chain_bytes(derived).skip(1) {
            key.clear();
            key.extend_from_slice(NA_SLASH);
            key.extend(ancestor.iter().map(u8::to_ascii_uppercase));
            let Ok(Some(rec)) = self.store.get_record(&key) else { continue };
            let values = referral_values(&rec);
            if values.is_empty() {
                continue;
            }
            if !req.envelope.accepts_prefix_referral() {
                // CNRI recurses for pre-2.10 clients and, with recursion off,
                // ends in this error (vector udp-prefix-old-client).
                let msg = format!(
                    "HandleException (SERVICE_REFERRAL_ERROR) Recursion limit exceeded on prefix referral for {}",
                    String::from_utf8_lossy(handle)
                );
                let _ = encode_error_response(
                    out,
                    &req.response_head(ResponseCode::ERROR, responder),
                    digest.as_ref(),
                    msg.as_bytes(),
                );
                return Outcome::new(op, ResponseCode::ERROR);
            }
            let body = Body::Referral(ReferralResponse { digest, handle: Vec::new(), values: Some(values) });
            Message::response_to(&req.envelope, &req.header, ResponseCode::PREFIX_REFERRAL, responder, body)
                .encode_into(out);
            return Outcome::new(op, ResponseCode::PREFIX_REFERRAL);
        }
        // Authoritative for the global namespace or for this derived prefix
        // (it or one of its ancestors is homed here): it does not exist.
        // Otherwise it is simply not kept here.
        if self.store.is_homed(NA) || self.store.longest_homed(derived).is_some() || self.homes_marker(derived) {
            return not_found(out);
        }
        if self.recurses(req) {
            return Outcome::recursion();
        }
        let _ = encode_error_response(
            out,
            &req.response_head(ResponseCode::SERVER_NOT_RESP, responder),
            digest.as_ref(),
            NOT_HOMED_MESSAGE,
        );
        Outcome::new(op, ResponseCode::SERVER_NOT_RESP)
    }
}

impl Engine {
    /// Whether a derived-prefix marker `0.NA/0.NA/<ancestor>` of `derived`
    /// (or of itself) is stored: a top node that homes `0.NA/0.NA/88` is
    /// authoritative for every `0.NA/88.*` prefix handle (§7).
    fn homes_marker(&self, derived: &[u8]) -> bool {
        let mut key = Vec::with_capacity(derived.len() + 10);
        prefix_chain_bytes(derived).any(|ancestor| {
            key.clear();
            key.extend_from_slice(b"0.NA/0.NA/");
            key.extend(ancestor.iter().map(u8::to_ascii_uppercase));
            matches!(self.store.get_record(&key), Ok(Some(_)))
        })
    }
}

/// The handle a request names, for one-line request logs: the leading
/// `bytes handle` of the body for op codes whose body starts with one
/// (resolution, site info, admin ops, list, home), the identity handle of a
/// challenge answer or session setup; `None` otherwise or when malformed.
pub fn logged_handle(request: &[u8]) -> Option<&[u8]> {
    use crate::wire::{ENVELOPE_LEN, HEADER_LEN};
    let msg = request.get(ENVELOPE_LEN..)?;
    let op = u32::from_be_bytes(msg.get(..4)?.try_into().ok()?);
    let body = msg.get(HEADER_LEN..)?;
    let at = match op {
        1 | 2 | 100..=105 | 300..=302 | 401 | 2001 => 0,
        // authType first, then the identity handle.
        200 => 4 + u32::from_be_bytes(body.get(..4)?.try_into().ok()?) as usize,
        // u16 mode + u32 timeout, then the identity handle.
        400 => 6,
        _ => return None,
    };
    let len = u32::from_be_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
    body.get(at + 4..at + 4 + len.min(crate::wire::MAX_HANDLE_LEN))
}

/// Whether a value is selected by the request's index or type filters
/// (OR-ed, §3).
#[inline]
fn wanted(req: &ResolutionRequestRef<'_>, v: &ValueView<'_>) -> bool {
    req.indexes().any(|i| i == v.index) || req.types().any(|t| type_matches(t, v.value_type))
}

/// Public HS_SITE.PREFIX / HS_SERV.PREFIX (and legacy HS_NA_DELEGATE) values.
fn referral_values(rec: &RecordBytes) -> Vec<Value> {
    rec.iter()
        .filter(|v| {
            v.is_public_read()
                && (v.value_type.eq_ignore_ascii_case(b"HS_SITE.PREFIX")
                    || v.value_type.eq_ignore_ascii_case(b"HS_SERV.PREFIX")
                    || v.value_type.eq_ignore_ascii_case(b"HS_NA_DELEGATE"))
        })
        .filter_map(|v| v.to_value().ok())
        .collect()
}

/// The identifier `handle` is bound to, when it is the alias form
/// `<scheme>:<code>` (cheap rejection before any store access otherwise).
fn alias_target(store: &dyn idnode_registry::store::Store, handle: &[u8]) -> Option<String> {
    if !handle.contains(&b':') || handle.contains(&b'/') {
        return None;
    }
    idnode_registry::service::aliases::resolve_asked(store, std::str::from_utf8(handle).ok()?)
}
