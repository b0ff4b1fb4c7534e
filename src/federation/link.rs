//! Authenticated links to other idnode nodes: one admin exchange per
//! operation (handle-protocol.md §1, §6.1).
//!
//! [`TopLink`] is the outbox's seam: the driver only needs "send this
//! request, tell me the response code". The daemon uses [`UpstreamTopLink`]:
//! [`NodeLink`] over the shared Handle client `resolver::upstream` (QUIC
//! when the top node is a configured QUIC peer, else TCP on kept-open
//! connections). Per exchange: send the request, answer the 402 challenge
//! with an HMAC-SHA256 of `nonce ‖ digest` under the identity's secret key
//! (OC 200, same session id), read the final answer.

use std::future::Future;
use std::sync::Arc;

use idnode_resolver::auth::seckey::{self, MacAlg};
use idnode_resolver::upstream::{ServerChoice, Target, Upstream, UpstreamError};
use idnode_resolver::wire::{
    Body, ChallengeAnswer, Envelope, HandleBody, HandleValues, Header, Message, OpCode, OpFlags, ProtocolVersion,
    ResponseCode,
};

use super::outbox::{Answer, Request};

/// Sends one outbox request to the top node and reports how it ended.
pub trait TopLink: Send + Sync + 'static {
    fn exchange(&self, request: &Request) -> impl Future<Output = Answer> + Send;
}

/// The Handle message of an outbox request.
pub fn message_of(request: &Request, request_id: i32, now: u64) -> Message {
    let (op, flags, body) = match request.clone() {
        Request::Create { handle, values } => {
            (OpCode::CREATE_HANDLE, OpFlags::NONE, Body::CreateHandle(HandleValues { handle, values }))
        }
        Request::Modify { handle, values } => {
            (OpCode::MODIFY_VALUE, OpFlags::NONE, Body::ModifyValue(HandleValues { handle, values }))
        }
        Request::AddOverwrite { handle, values } => {
            (OpCode::ADD_VALUE, OpFlags::OVRW, Body::AddValue(HandleValues { handle, values }))
        }
        Request::Delete { handle } => (OpCode::DELETE_HANDLE, OpFlags::NONE, Body::DeleteHandle(HandleBody { handle })),
    };
    let expiration = (now as u32).wrapping_add(3600);
    Message {
        envelope: Envelope::request(ProtocolVersion::OURS, request_id),
        header: Header::request(op, flags, expiration),
        body,
        credential: None,
    }
}

fn rc_answer(m: &Message) -> Answer {
    let msg = match &m.body {
        Body::Error(e) => String::from_utf8_lossy(&e.message).into_owned(),
        _ => String::new(),
    };
    Answer::Rc(m.header.response_code.0, msg)
}

/// The OC 200 answer to a 402 challenge: HMAC-SHA256 of `nonce ‖ digest`
/// under the identity's secret (HS_SECKEY), under the challenge's session.
pub fn challenge_answer(
    challenge: &Message,
    identity_index: u32,
    identity_handle: &str,
    secret: &[u8],
    now: u64,
) -> Result<Message, String> {
    let Body::Challenge(c) = &challenge.body else {
        return Err("402 without a challenge body".into());
    };
    let mut signed = c.nonce.clone();
    signed.extend_from_slice(c.digest.as_bytes());
    let mac = seckey::mac(MacAlg::HmacSha256, secret, &signed, None).map_err(|e| e.to_string())?;
    let mut envelope = Envelope::request(ProtocolVersion::OURS, 0);
    envelope.session_id = challenge.envelope.session_id;
    Ok(Message {
        envelope,
        header: Header::request(OpCode::RESPONSE_TO_CHALLENGE, OpFlags::NONE, (now as u32).wrapping_add(3600)),
        body: Body::ChallengeAnswer(ChallengeAnswer {
            auth_type: b"HS_SECKEY".to_vec(),
            identity_handle: identity_handle.as_bytes().to_vec(),
            identity_index,
            signed_response: seckey::encode_answer(MacAlg::HmacSha256, &mac, None),
        }),
        credential: None,
    })
}

/// An authenticated admin exchange with another idnode node through the
/// shared Handle client (`resolver::upstream`): over QUIC when the peer's
/// TCP address is a configured QUIC peer, falling back to TCP (kept-open
/// connections, reused across operations). The request goes out, a 402 is
/// answered (the engine keeps challenges per session id, so the answer may
/// travel on another stream or connection), and the final answer returns.
#[derive(Debug, Clone)]
pub struct NodeLink {
    pub upstream: Arc<Upstream>,
    /// `host:port` of the peer's Handle TCP door.
    pub addr: String,
    pub identity_index: u32,
    pub identity_handle: String,
    pub secret: Arc<crate::config::Secret>,
}

impl NodeLink {
    /// The targets for the peer: its QUIC door first when known, then TCP.
    async fn choice(&self) -> Result<ServerChoice, String> {
        let tcp = tokio::net::lookup_host(&self.addr)
            .await
            .map_err(|e| format!("resolving {}: {e}", self.addr))?
            .next()
            .ok_or_else(|| format!("{} has no address", self.addr))?;
        let mut targets = vec![Target::tcp(tcp)];
        if let Some(q) = self.upstream.quic_peer_for(tcp) {
            targets.insert(0, Target::quic(q));
        }
        Ok(ServerChoice { targets })
    }

    /// One authenticated request; the final answer message.
    pub async fn exchange(&self, msg: Message) -> Result<Message, UpstreamError> {
        let choice = self
            .choice()
            .await
            .map_err(|reason| UpstreamError::Garbage { peer: std::net::SocketAddr::from(([0, 0, 0, 0], 0)), reason })?;
        let first = self.upstream.exchange_server(&choice, &msg).await?;
        if first.message.header.response_code != ResponseCode::AUTHENTICATION_NEEDED {
            return Ok(first.message);
        }
        let answer = challenge_answer(
            &first.message,
            self.identity_index,
            &self.identity_handle,
            self.secret.expose(),
            crate::unix_now(),
        )
        .map_err(|reason| UpstreamError::Garbage { peer: first.from.addr, reason })?;
        // The challenge answer goes where the challenge came from.
        let back = ServerChoice { targets: vec![first.from] };
        Ok(self.upstream.exchange_server(&back, &answer).await?.message)
    }
}

/// The outbox over [`NodeLink`].
#[derive(Debug, Clone)]
pub struct UpstreamTopLink(pub NodeLink);

impl TopLink for UpstreamTopLink {
    async fn exchange(&self, request: &Request) -> Answer {
        let msg = message_of(request, 0, crate::unix_now());
        match self.0.exchange(msg).await {
            Ok(m) => rc_answer(&m),
            Err(e) => Answer::Unreachable(e.to_string()),
        }
    }
}
