//! IDIS login (idis-extensions.md §2): the key-pair login OC 2001
//! LOGIN_ID_SYSTEM with its 402 challenge and OC 200 answer, the old
//! password login OC 2000, and the rule that a logged-in TCP connection is
//! authenticated for every later request on it. The state ([`IdisLogin`])
//! lives in the connection's [`ConnState`] that the TCP door creates per
//! connection (§2.4: "Tie login state to the TCP connection"); over UDP
//! there is no connection and the login opcodes get RC 5 (§2.4, "Support
//! login on TCP only").
//!
//! Protocol facts used here (quoted from idis-extensions.md):
//! * §2.1: opcode **2000** = `OC_LOGIN` (password login, OLD SDK only),
//!   **2001** = `OC_LOGIN_ID_SYSTEM` (key-pair login, both SDKs).
//! * §2.2: the 2001 request body is `bytes identityHandle`, `u32
//!   identityIndex`, nothing else; NEW omits the credential-length field
//!   (§1.3, handled by [`crate::wire::Frame`]).
//! * §2.3: "The first answer to 2001 must be a 402 challenge" carrying the
//!   RD flag, the request digest (type byte **3**, SHA-256 of the 2001
//!   header+body: "there is no SM3 digest code", §4.2) and `bytes nonce`
//!   (16 bytes), under a session id S of the server's choice; the answer is
//!   an OC 200 with the CNRI challenge-answer body on the same connection
//!   (envelope sessionId = S); "The reply to the answer must use **opCode
//!   2001** (the original request's), rc 1, and the **answer's
//!   requestId**", body = the RD digest of the 2001 request. Failures: "403
//!   AUTHENTICATION_FAILED for a bad signature, 100/200 for unknown
//!   identity handle/index, 405 for a timed-out challenge".
//! * §2.4: NEW puts a session id it invented (10001, 10002, ...) on every
//!   request of a connection: "Bind 'authenticated as index:handle' to the
//!   connection. Do not require the client's later sessionId to equal S";
//!   "Once a connection is logged in, **do not challenge again**" — admin
//!   requests and reads of admin-only values are authorised directly
//!   against HS_ADMIN with the logged-in identity.
//! * §2.5: the 2000 body is the resolution layout with the password as the
//!   only type: `bytes username | u32 0 | u32 1 | bytes password`; OLD
//!   decodes an rc 1 reply as `bytes handle` + `u32 valueCount`. We check
//!   the password against the identity's HS_SECKEY (as HTTP Basic does);
//!   the username is `index:handle` or a bare handle.
//! * §6.2: response codes each SDK can decode: OLD (message version 2.3,
//!   suggesting 2.10, §1.4) cannot decode 6, 7, 300, 301, 406, 5xx, 60x;
//!   NEW cannot decode 407, 408, 3001 (which we never send).
//!   [`decodable_rc`] maps the former to 2 (ERROR) / 100 for OLD.

use rand::RngCore;

use idnode_registry::model::wire::{MAX_HANDLE_LEN, Reader, WriteExt};

#[cfg(doc)]
use super::ConnState;
use super::admin::Reply;
use super::{Ctx, Engine, Outcome, Transport};
use crate::auth::authz::{RecordSource, StoreRecords};
use crate::auth::{AuthType, HS_PUBKEY, HS_SECKEY, Identity, authenticate_answer, password_key_index};
use crate::wire::{
    Body, DigestAlg, Envelope, ErrorResponse, Frame, Header, Message, OpCode, OpFlags, ProtocolVersion, RequestDigest,
    ResponseCode, SuccessResponse,
};

/// The IDIS login state of one TCP connection (a field of [`ConnState`],
/// which the door creates when the connection opens and passes to
/// [`Engine::handle_conn`] with every request); dropped with the
/// connection, which ends the login.
#[derive(Debug, Default, Clone)]
pub struct IdisLogin {
    /// The identity this connection logged in as (OC 2001 / 2000).
    login: Option<Identity>,
    /// An OC 2001 waiting for its OC 200 answer.
    pending: Option<PendingLogin>,
}

impl IdisLogin {
    pub fn new() -> Self {
        IdisLogin::default()
    }

    /// The identity the connection is logged in as, if any.
    pub fn login(&self) -> Option<&Identity> {
        self.login.as_ref()
    }
}

/// An outstanding OC 2001 challenge of a connection.
#[derive(Debug, Clone)]
struct PendingLogin {
    /// S: the session id the 402 carried.
    session_id: i32,
    /// The identity the 2001 asked to log in as.
    identity: Identity,
    /// The 2001 header (the replies take its op code and flags).
    header: Header,
    /// Digest of the 2001 header+body (§2.3; type 3).
    digest: RequestDigest,
    nonce: [u8; 16],
    /// Unix seconds after which the answer is too late (405).
    expires: u64,
}

/// The response code `rc` as the client of `env` can decode it
/// (idis-extensions.md §6.2). OLD SDK envelopes (message 2.3 or 2.10,
/// suggesting exactly 2.10, §1.4 — the spec's "inferred heuristic") get 2
/// (ERROR) instead of 6, 7, 300, 406, 5xx and 60x, and 100 instead of 301;
/// everything else is unchanged.
pub(crate) fn decodable_rc(rc: ResponseCode, env: &Envelope) -> ResponseCode {
    let old_sdk = env.suggested_version() == ProtocolVersion::new(2, 10)
        && (env.version == ProtocolVersion::COMPAT || env.version == ProtocolVersion::V2_10);
    if !old_sdk {
        return rc;
    }
    match rc.0 {
        301 => ResponseCode::HANDLE_NOT_FOUND,
        6 | 7 | 300 | 406 | 500..=599 | 600..=699 => ResponseCode::ERROR,
        _ => rc,
    }
}

/// The last guard of §6.2 for every answer: when `request` comes from an
/// old-SDK envelope and the single unsigned answer appended to `out` at
/// `start` carries a code that SDK cannot decode, the code is rewritten
/// with [`decodable_rc`]. Every code rewritten, and its replacement, has
/// the error body layout (`[digest] bytes message`), so only the 4 bytes of
/// the header's response code change. Costs two byte comparisons for other
/// clients.
pub(crate) fn old_sdk_codes(request: &[u8], start: usize, out: &mut [u8], outcome: Outcome) -> Outcome {
    // Suggested version 2.10 (envelope bytes 2..4, flags masked).
    if request.len() < crate::wire::ENVELOPE_LEN || request[2] & 0x03 != 2 || request[3] != 10 {
        return outcome;
    }
    let Ok(env) = Envelope::decode(request) else { return outcome };
    // A 2.10 message suggesting 2.10 is the OLD SDK only for its challenge
    // answer (§1.4); any other request in that envelope is an ordinary
    // 2.10 client, which decodes every code (301 stays 301).
    let e = crate::wire::ENVELOPE_LEN;
    let opcode = request.get(e..e + 4).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    if env.version == ProtocolVersion::V2_10 && opcode != OpCode::RESPONSE_TO_CHALLENGE.0 {
        return outcome;
    }
    let mapped = decodable_rc(ResponseCode(outcome.rc), &env);
    if mapped.0 == outcome.rc {
        return outcome;
    }
    let answer = &mut out[start..];
    let rc_at = crate::wire::ENVELOPE_LEN + 4;
    let single = answer.len() >= rc_at + 4
        && answer.len() - crate::wire::ENVELOPE_LEN
            == u32::from_be_bytes([answer[16], answer[17], answer[18], answer[19]]) as usize
        && answer.ends_with(&[0, 0, 0, 0]);
    if !single || answer[rc_at..rc_at + 4] != outcome.rc.to_be_bytes() {
        return outcome;
    }
    answer[rc_at..rc_at + 4].copy_from_slice(&mapped.0.to_be_bytes());
    Outcome { rc: mapped.0, ..outcome }
}

impl Engine {
    /// An answer with `rc` and `body` to a request with `env`/`header`.
    fn login_reply(
        &self,
        env: &Envelope,
        header: &Header,
        rc: ResponseCode,
        body: Body,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let rc = decodable_rc(rc, env);
        Message::response_to(env, header, rc, &self.responder(now), body).encode_into(out);
        Outcome::new(header.op_code, rc)
    }

    #[allow(clippy::too_many_arguments)]
    fn login_error(
        &self,
        env: &Envelope,
        header: &Header,
        digest: Option<RequestDigest>,
        rc: ResponseCode,
        msg: &str,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let body = Body::Error(ErrorResponse { digest, message: msg.as_bytes().to_vec() });
        self.login_reply(env, header, rc, body, now, out)
    }

    /// OC 2001 (§2.2, §2.3): check the identity has a key, then challenge.
    pub(super) fn login_id_system(
        &self,
        ctx: &Ctx,
        conn: &mut IdisLogin,
        frame: &Frame<'_>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let now = ctx.now;
        let digest = Self::digest_for(frame);
        let fail = |out: &mut Vec<u8>, rc, msg: &str| {
            self.login_error(&frame.envelope, &frame.header, digest, rc, msg, now, out)
        };
        if ctx.transport != Transport::Tcp {
            return fail(out, ResponseCode::OPERATION_NOT_SUPPORTED, "Login needs a TCP connection");
        }
        let req = match frame.to_message() {
            Ok(Message { body: Body::LoginIdSystem(r), .. }) => r,
            Ok(_) => return fail(out, ResponseCode::PROTOCOL_ERROR, "Not a login request"),
            Err(e) => return fail(out, ResponseCode::PROTOCOL_ERROR, &e.to_string()),
        };
        let Ok(handle) = std::str::from_utf8(&req.identity_handle) else {
            return fail(out, ResponseCode::INVALID_HANDLE, "Identity handle is not UTF-8");
        };
        let identity = Identity::new(req.identity_index, handle);
        // A new login attempt ends the previous login of this connection.
        conn.login = None;
        conn.pending = None;
        match self.key_exists(&identity, HS_PUBKEY) {
            Ok(KeyCheck::Found) => {}
            Ok(KeyCheck::NoHandle) => return fail(out, ResponseCode::HANDLE_NOT_FOUND, "Identity handle not found"),
            Ok(KeyCheck::NoKey) => {
                return fail(out, ResponseCode::VALUES_NOT_FOUND, "Identity has no HS_PUBKEY at that index");
            }
            Err(e) => {
                tracing::error!(error = %e, "store read failed during login");
                return fail(out, ResponseCode::ERROR, "Internal error");
            }
        }
        let mut rng = rand::rng();
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let session_id = loop {
            let id = (rng.next_u32() & 0x7fff_ffff) as i32;
            if id != 0 {
                break id;
            }
        };
        self.login_challenge(conn, frame, identity, session_id, nonce, now, out)
    }

    /// The 402 of §2.3 (split out so the unit test can fix S and the nonce).
    #[allow(clippy::too_many_arguments)]
    fn login_challenge(
        &self,
        conn: &mut IdisLogin,
        frame: &Frame<'_>,
        identity: Identity,
        session_id: i32,
        nonce: [u8; 16],
        now: u64,
        out: &mut Vec<u8>,
    ) -> Outcome {
        // §4.2: always type 3 (SHA-256), whatever the version.
        let digest = RequestDigest::compute(DigestAlg::Sha256, frame.header_and_body);
        conn.pending = Some(PendingLogin {
            session_id,
            identity,
            header: frame.header,
            digest,
            nonce,
            expires: now + self.cfg.challenge_lifetime,
        });
        self.encode_challenge(frame, session_id, digest, &nonce, now, out);
        Outcome::new(OpCode::LOGIN_ID_SYSTEM, ResponseCode::AUTHENTICATION_NEEDED)
    }

    /// Whether an OC 200 on `conn` answers its pending login (envelope
    /// session id S; 0 tolerated, as OLD leaves session ids at 0, §2.4).
    pub(super) fn answers_login(conn: &IdisLogin, frame: &Frame<'_>) -> bool {
        let sid = frame.envelope.session_id;
        conn.pending.as_ref().is_some_and(|p| sid == p.session_id || sid == 0)
    }

    /// An admin request on a logged-in connection (§2.4): refused at once
    /// where the request alone shows it must fail, else run as `identity`
    /// (authorised against HS_ADMIN), answered with the request's own ids.
    pub(super) fn logged_in_request(
        &self,
        ctx: &Ctx,
        frame: &Frame<'_>,
        identity: &Identity,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let msg = match frame.to_message() {
            Ok(m) => m,
            Err(e) => return self.error(frame, ResponseCode::PROTOCOL_ERROR, e.to_string().as_bytes(), ctx.now, out),
        };
        if let Some((rc, why)) = self.precheck(&msg, ctx.transport) {
            return self.error(frame, rc, why, ctx.now, out);
        }
        let reply =
            Reply { env: &frame.envelope, session_id: frame.envelope.session_id, digest: Self::digest_for(frame) };
        self.execute(&reply, msg, identity, ctx.now, out)
    }

    /// OC 200 answering a pending 2001 (§2.3): verify, then log the
    /// connection in. Replies carry op code 2001 and the answer's ids.
    pub(super) fn login_answer(
        &self,
        ctx: &Ctx,
        conn: &mut IdisLogin,
        frame: &Frame<'_>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let now = ctx.now;
        // The challenge is used once, whatever the outcome.
        let Some(pending) = conn.pending.take() else {
            return self.error(frame, ResponseCode::AUTHEN_TIMEOUT, b"No outstanding login challenge", now, out);
        };
        conn.login = None;
        let digest = pending.header.op_flags.contains(OpFlags::RD).then_some(pending.digest);
        let env = &frame.envelope;
        let fail = |out: &mut Vec<u8>, rc, msg: &str| self.login_error(env, &pending.header, digest, rc, msg, now, out);
        if pending.expires < now {
            return fail(out, ResponseCode::AUTHEN_TIMEOUT, "Login challenge expired");
        }
        let answer = match frame.to_message() {
            Ok(Message { body: Body::ChallengeAnswer(a), .. }) => a,
            Ok(_) => return fail(out, ResponseCode::PROTOCOL_ERROR, "Not a challenge answer"),
            Err(e) => return fail(out, ResponseCode::PROTOCOL_ERROR, &e.to_string()),
        };
        let Some(auth_type) = AuthType::parse(&answer.auth_type) else {
            return fail(out, ResponseCode::AUTHENTICATION_FAILED, "Unknown authentication type");
        };
        // The answer must be made by the identity that asked to log in.
        if answer.identity_handle != pending.identity.handle.as_bytes()
            || (pending.identity.index != 0 && answer.identity_index != pending.identity.index)
        {
            return fail(out, ResponseCode::AUTHENTICATION_FAILED, "Answer is not from the identity logging in");
        }
        let identity = Identity::new(answer.identity_index, pending.identity.handle.clone());
        let src = StoreRecords(self.store.as_ref());
        match authenticate_answer(
            &src,
            &identity,
            auth_type,
            &pending.nonce,
            pending.digest.as_bytes(),
            &answer.signed_response,
        ) {
            Ok(Some(_)) => {}
            Ok(None) => return fail(out, ResponseCode::AUTHENTICATION_FAILED, "Authentication failed"),
            Err(e) if e.is_client_error() => {
                return fail(out, ResponseCode::AUTHENTICATION_FAILED, &format!("Authentication failed: {e}"));
            }
            Err(e) => {
                tracing::error!(error = %e, "store read failed during login");
                return fail(out, ResponseCode::ERROR, "Internal error");
            }
        }
        tracing::debug!(identity = %identity, peer = %ctx.peer, "IDIS login");
        conn.login = Some(identity);
        self.login_reply(
            env,
            &pending.header,
            ResponseCode::SUCCESS,
            Body::Success(SuccessResponse { digest }),
            now,
            out,
        )
    }

    /// OC 2000 (§2.5): password login against HS_SECKEY.
    pub(super) fn login_password(
        &self,
        ctx: &Ctx,
        conn: &mut IdisLogin,
        frame: &Frame<'_>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let now = ctx.now;
        let digest = Self::digest_for(frame);
        let fail = |out: &mut Vec<u8>, rc, msg: &str| {
            self.login_error(&frame.envelope, &frame.header, digest, rc, msg, now, out)
        };
        if ctx.transport != Transport::Tcp {
            return fail(out, ResponseCode::OPERATION_NOT_SUPPORTED, "Login needs a TCP connection");
        }
        conn.login = None;
        conn.pending = None;
        let Some((username, password)) = parse_password_login(frame.body) else {
            return fail(
                out,
                ResponseCode::PROTOCOL_ERROR,
                "Login body is not: bytes username, no indexes, one password",
            );
        };
        let identity = match std::str::from_utf8(username).ok().and_then(|u| Identity::parse(u).ok()) {
            Some(i) => i,
            None => return fail(out, ResponseCode::INVALID_HANDLE, "Username is not index:handle"),
        };
        let src = StoreRecords(self.store.as_ref());
        match password_key_index(&src, &identity, password) {
            Ok(Some(index)) => {
                let logged = Identity::new(if identity.index == 0 { index } else { identity.index }, identity.handle);
                tracing::debug!(identity = %logged, peer = %ctx.peer, "IDIS password login");
                conn.login = Some(logged);
            }
            Ok(None) => {
                return match self.key_exists(&identity, HS_SECKEY) {
                    Ok(KeyCheck::NoHandle) => fail(out, ResponseCode::HANDLE_NOT_FOUND, "Identity handle not found"),
                    _ => fail(out, ResponseCode::AUTHENTICATION_FAILED, "Authentication failed"),
                };
            }
            Err(e) => {
                tracing::error!(error = %e, "store read failed during login");
                return fail(out, ResponseCode::ERROR, "Internal error");
            }
        }
        // OLD reads `bytes handle` + `u32 valueCount` (§2.5).
        let mut body = Vec::with_capacity(username.len() + 8);
        if let Some(d) = &digest {
            d.encode(&mut body);
        }
        body.put_bytes(username);
        body.put_u32(0);
        self.login_reply(&frame.envelope, &frame.header, ResponseCode::SUCCESS, Body::Unknown(body), now, out)
    }

    /// Whether `identity`'s handle exists and has a value of type `ty` at
    /// its index (any index when 0).
    fn key_exists(&self, identity: &Identity, ty: &[u8]) -> Result<KeyCheck, crate::auth::AuthError> {
        let src = StoreRecords(self.store.as_ref());
        let Some(values) = src.values(&identity.handle)? else { return Ok(KeyCheck::NoHandle) };
        let found = values
            .iter()
            .any(|v| v.value_type.eq_ignore_ascii_case(ty) && (identity.index == 0 || v.index == identity.index));
        Ok(if found { KeyCheck::Found } else { KeyCheck::NoKey })
    }
}

enum KeyCheck {
    Found,
    NoHandle,
    NoKey,
}

/// `bytes username | list<u32> indexes (empty) | list<bytes> types (one:
/// the password)` (§2.5).
pub(crate) fn parse_password_login(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut r = Reader::new(body);
    let user = r.bytes_limited("username", MAX_HANDLE_LEN).ok()?;
    if r.u32().ok()? != 0 || r.u32().ok()? != 1 {
        return None;
    }
    let password = r.bytes_limited("password", 4096).ok()?;
    r.finish("login body").ok()?;
    Some((user, password))
}

#[cfg(test)]
mod tests;
