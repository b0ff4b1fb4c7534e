//! The session opcodes (handle-protocol.md §6.3): OC_SESSION_SETUP (400)
//! with the Diffie–Hellman exchange the reference admin tools use,
//! OC_SESSION_TERMINATE (401) and OC_SESSION_EXCHANGEKEY (402), plus the
//! check of a session message's HS_MAC credential. The table itself is
//! [`super::session`].
//!
//! Key exchange modes 1–3 (RSA-encrypted session keys) are refused with
//! RC 501 SESSION_FAILED: the reference tools offer DH, and a client that
//! gets 501 can retry without a session.

use idnode_registry::model::wire::WriteExt;

use super::session::{Session, SessionRefusal};
use super::{Engine, Outcome};
use crate::auth::Identity;
use crate::auth::dh;
use crate::auth::sign::{MacHash, verify_session_mac};
use crate::wire::{
    Body, Frame, Message, OpCode, ResponseCode, SessionSetupRequest, SessionSetupResponse, SuccessResponse,
    credential_type, signed_input,
};

impl SessionRefusal {
    /// The response code of a refusal (§5).
    pub fn rc(self) -> ResponseCode {
        match self {
            SessionRefusal::Unknown => ResponseCode::SESSION_TIMEOUT,
            SessionRefusal::MissingMac => ResponseCode::INVALID_CREDENTIAL,
            SessionRefusal::BadMac => ResponseCode::INVALID_SESSION_KEY,
            SessionRefusal::Replay => ResponseCode::SESSION_MESSAGE_REJECTED,
        }
    }

    pub fn message(self) -> &'static [u8] {
        match self {
            SessionRefusal::Unknown => b"Invalid session id or session timed out",
            SessionRefusal::MissingMac => b"Session request missing MAC code.",
            SessionRefusal::BadMac => b"Session authentication failed.",
            SessionRefusal::Replay => b"Session message rejected: counter already used",
        }
    }
}

/// Verifies the HS_MAC credential of `frame` with the session key; returns
/// its session counter.
pub(super) fn check_mac(frame: &Frame<'_>, session: &Session) -> Result<u32, SessionRefusal> {
    let raw = match frame.credential {
        None | Some([]) => return Err(SessionRefusal::MissingMac),
        Some(c) => c,
    };
    let cred = crate::wire::Credential::from_raw(raw.to_vec());
    let Some(parts) = cred.parts() else { return Err(SessionRefusal::BadMac) };
    if !parts.credential_type.eq_ignore_ascii_case(credential_type::HS_MAC) {
        return Err(SessionRefusal::BadMac);
    }
    let Some((alg, mac)) = parts.signature() else { return Err(SessionRefusal::BadMac) };
    let Some(hash) = MacHash::parse(alg) else { return Err(SessionRefusal::BadMac) };
    let mut input = Vec::with_capacity(frame.header_and_body.len() + 16);
    if !signed_input(&frame.envelope, parts.session_counter, frame.header_and_body, &mut input) {
        return Err(SessionRefusal::BadMac);
    }
    if verify_session_mac(hash, &session.key, &input, mac) {
        Ok(parts.session_counter)
    } else {
        Err(SessionRefusal::BadMac)
    }
}

impl Engine {
    /// OC 400.
    pub(super) fn session_setup(&self, frame: &Frame<'_>, now: u64, out: &mut Vec<u8>) -> Outcome {
        let req = match frame.to_message() {
            Ok(Message { body: Body::SessionSetup(r), .. }) => r,
            Ok(_) => return self.error(frame, ResponseCode::PROTOCOL_ERROR, b"Not a session setup", now, out),
            Err(e) => {
                return self.error(
                    frame,
                    ResponseCode::INVALID_SESSIONSETUP_REQUEST,
                    e.to_string().as_bytes(),
                    now,
                    out,
                );
            }
        };
        match req.key_exchange_mode {
            SessionSetupRequest::KEY_EXCHANGE_DH => {}
            SessionSetupRequest::KEY_EXCHANGE_CIPHER_CLIENT
            | SessionSetupRequest::KEY_EXCHANGE_CIPHER_SERVER
            | SessionSetupRequest::KEY_EXCHANGE_CIPHER_HDL => {
                return self.error(
                    frame,
                    ResponseCode::SESSION_FAILED,
                    b"Key exchange mode not offered; use Diffie-Hellman (mode 4)",
                    now,
                    out,
                );
            }
            _ => {
                return self.error(
                    frame,
                    ResponseCode::INVALID_SESSIONSETUP_REQUEST,
                    b"Unrecognized key exchange mode",
                    now,
                    out,
                );
            }
        }
        let Some(client_key) = req.exchange_key() else {
            return self.error(frame, ResponseCode::INVALID_SESSIONSETUP_REQUEST, b"Missing exchange key", now, out);
        };
        let exchange = match dh::server_exchange(client_key) {
            Ok(x) => x,
            Err(e) => {
                let msg = format!("Error performing Diffie-Hellman key exchange: {e}");
                return self.error(frame, ResponseCode::SESSION_FAILED, msg.as_bytes(), now, out);
            }
        };
        let requested = match std::str::from_utf8(&req.identity_handle) {
            Ok("") => None,
            Ok(h) => Some(Identity::new(req.identity_index, h)),
            Err(_) => {
                return self.error(
                    frame,
                    ResponseCode::INVALID_SESSIONSETUP_REQUEST,
                    b"Identity is not UTF-8",
                    now,
                    out,
                );
            }
        };
        let Some(id) = self
            .sessions
            .open(exchange.session_key.to_vec(), requested, req.timeout, now, |id| self.challenges.contains(id))
        else {
            return self.error(frame, ResponseCode::SERVER_TOO_BUSY, b"Session table full", now, out);
        };
        // data = u32 cipher code + the server's DH key; the reference server
        // counts the u16 mode as 4 bytes, leaving 2 zero bytes at the end.
        let mut data = Vec::with_capacity(4 + exchange.server_public.len());
        data.put_u32(dh::ENCRYPT_ALG_AES);
        data.extend_from_slice(&exchange.server_public);
        let mut exchange_data = Vec::with_capacity(data.len() + 6);
        exchange_data.put_bytes(&data);
        exchange_data.extend_from_slice(&[0, 0]);
        let body = Body::SessionSetupResponse(SessionSetupResponse {
            digest: Self::digest_for(frame),
            key_exchange_mode: SessionSetupRequest::KEY_EXCHANGE_DH,
            exchange_data,
        });
        let mut msg =
            Message::response_to(&frame.envelope, &frame.header, ResponseCode::SUCCESS, &self.responder(now), body);
        msg.envelope.session_id = id;
        msg.encode_into(out);
        Outcome::new(OpCode::SESSION_SETUP, ResponseCode::SUCCESS)
    }

    /// OC 401: ends the session named by the envelope (MAC required).
    pub(super) fn session_terminate(&self, frame: &Frame<'_>, now: u64, out: &mut Vec<u8>) -> Outcome {
        let sid = frame.envelope.session_id;
        let Some(session) = self.sessions.get(sid, now) else {
            let r = SessionRefusal::Unknown;
            return self.error(frame, r.rc(), r.message(), now, out);
        };
        if let Err(r) = check_mac(frame, &session) {
            let r = if r == SessionRefusal::MissingMac { SessionRefusal::BadMac } else { r };
            return self.error(frame, r.rc(), r.message(), now, out);
        }
        self.sessions.remove(sid);
        let body = Body::Success(SuccessResponse { digest: Self::digest_for(frame) });
        Message::response_to(&frame.envelope, &frame.header, ResponseCode::SUCCESS, &self.responder(now), body)
            .encode_into(out);
        Outcome::new(OpCode::SESSION_TERMINATE, ResponseCode::SUCCESS)
    }

    /// OC 402: only meaningful after a server-cipher setup, which is not
    /// offered.
    pub(super) fn session_exchange_key(&self, frame: &Frame<'_>, now: u64, out: &mut Vec<u8>) -> Outcome {
        if !self.sessions.contains(frame.envelope.session_id) {
            let r = SessionRefusal::Unknown;
            return self.error(frame, r.rc(), r.message(), now, out);
        }
        self.error(frame, ResponseCode::SESSION_FAILED, b"Server-cipher key exchange is not offered", now, out)
    }
}
