//! The outbox's link to the top node: one authenticated admin exchange per
//! delivery over Handle TCP (handle-protocol.md §1 TCP, §6.1).
//!
//! [`TopLink`] is the seam: the driver only needs "send this request, tell
//! me the response code". [`TcpTopLink`] is a minimal sender kept here until
//! `resolver::upstream` (the shared Handle client) lands; swapping it is one
//! line in `super::spawn`. Per exchange: connect, send the request, answer
//! the 402 challenge with an HMAC-SHA256 of `nonce ‖ digest` under the
//! identity's secret key (OC 200, same session id), read the final answer.

use std::future::Future;
use std::time::Duration;

use idnode_resolver::auth::seckey::{self, MacAlg};
use idnode_resolver::wire::{
    Body, ChallengeAnswer, Envelope, HandleBody, HandleValues, Header, Message, OpCode, OpFlags, ProtocolVersion,
    ResponseCode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::outbox::{Answer, Request};

/// Largest answer accepted from the top node.
const MAX_ANSWER: usize = 256 * 1024;

/// Sends one outbox request to the top node and reports how it ended.
pub trait TopLink: Send + Sync + 'static {
    fn exchange(&self, request: &Request) -> impl Future<Output = Answer> + Send;
}

/// Handle TCP with per-request challenge-response (HS_SECKEY).
pub struct TcpTopLink {
    /// `host:port` of the top node's Handle TCP door.
    pub addr: String,
    pub identity_index: u32,
    pub identity_handle: String,
    pub secret: crate::config::Secret,
    pub timeout: Duration,
}

impl std::fmt::Debug for TcpTopLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTopLink")
            .field("addr", &self.addr)
            .field("identity", &format!("{}:{}", self.identity_index, self.identity_handle))
            .finish()
    }
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

impl TcpTopLink {
    async fn run(&self, request: &Request) -> Result<Answer, String> {
        let mut s = TcpStream::connect(&self.addr).await.map_err(|e| format!("connecting to {}: {e}", self.addr))?;
        let _ = s.set_nodelay(true);
        let now = crate::unix_now();
        let id = (rand::random::<u32>() & 0x7fff_ffff) as i32;
        let msg = message_of(request, id, now);
        s.write_all(&msg.encode()).await.map_err(|e| format!("sending: {e}"))?;
        let first = read_message(&mut s).await?;
        if first.header.response_code != ResponseCode::AUTHENTICATION_NEEDED {
            return Ok(rc_answer(&first));
        }
        let Body::Challenge(c) = &first.body else {
            return Err("402 without a challenge body".into());
        };
        let mut signed = c.nonce.clone();
        signed.extend_from_slice(c.digest.as_bytes());
        let mac = seckey::mac(MacAlg::HmacSha256, self.secret.expose(), &signed, None).map_err(|e| e.to_string())?;
        let mut envelope = Envelope::request(ProtocolVersion::OURS, id.wrapping_add(1) & 0x7fff_ffff);
        envelope.session_id = first.envelope.session_id;
        let answer = Message {
            envelope,
            header: Header::request(OpCode::RESPONSE_TO_CHALLENGE, OpFlags::NONE, (now as u32).wrapping_add(3600)),
            body: Body::ChallengeAnswer(ChallengeAnswer {
                auth_type: b"HS_SECKEY".to_vec(),
                identity_handle: self.identity_handle.as_bytes().to_vec(),
                identity_index: self.identity_index,
                signed_response: seckey::encode_answer(MacAlg::HmacSha256, &mac, None),
            }),
            credential: None,
        };
        s.write_all(&answer.encode()).await.map_err(|e| format!("sending the challenge answer: {e}"))?;
        let last = read_message(&mut s).await?;
        Ok(rc_answer(&last))
    }
}

fn rc_answer(m: &Message) -> Answer {
    let msg = match &m.body {
        Body::Error(e) => String::from_utf8_lossy(&e.message).into_owned(),
        _ => String::new(),
    };
    Answer::Rc(m.header.response_code.0, msg)
}

async fn read_message(s: &mut TcpStream) -> Result<Message, String> {
    let mut env = [0u8; 20];
    s.read_exact(&mut env).await.map_err(|e| format!("reading the answer: {e}"))?;
    let len = u32::from_be_bytes([env[16], env[17], env[18], env[19]]) as usize;
    if len > MAX_ANSWER {
        return Err(format!("answer of {len} bytes is too large"));
    }
    let mut buf = vec![0u8; 20 + len];
    buf[..20].copy_from_slice(&env);
    s.read_exact(&mut buf[20..]).await.map_err(|e| format!("reading the answer: {e}"))?;
    Message::decode(&buf).map_err(|e| format!("undecodable answer: {e}"))
}

impl TopLink for TcpTopLink {
    async fn exchange(&self, request: &Request) -> Answer {
        match tokio::time::timeout(self.timeout, self.run(request)).await {
            Ok(Ok(a)) => a,
            Ok(Err(why)) => Answer::Unreachable(why),
            Err(_) => Answer::Unreachable(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }
}
