//! Moving one request to one server and its answer back (handle-protocol.md
//! §1): UDP with the CNRI retry schedule and multi-datagram reassembly, TCP
//! with kept-open connections reused per peer, QUIC through
//! [`super::quic`]. Framing and reassembly come from the sans-IO codec; this
//! module only owns sockets and timeouts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::wire::{
    ENVELOPE_LEN, Envelope, MAX_MESSAGE, OpFlags, Reassembled, Reassembler, ReassemblyLimits, UDP_MAX_DATAGRAM,
    udp_fragments,
};

use super::UpstreamError;

/// Why a UDP exchange handed over to TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UdpOutcome {
    /// A complete answer (envelope + message).
    Answer,
    /// No answer after the whole schedule.
    Silent,
    /// The announced answer is larger than we take over UDP.
    TooBig,
    /// The port is closed (ICMP unreachable) or the send failed.
    Refused,
}

/// Sends `request` (TCP form, envelope first) to `peer` over UDP, once per
/// entry of `schedule`, waiting that long for the answer each time.
/// Datagrams of other requests are ignored. Returns the reassembled answer,
/// or why there is none.
pub(crate) async fn udp_exchange(
    peer: SocketAddr,
    request: &[u8],
    request_id: i32,
    schedule: &[Duration],
    max_answer: usize,
) -> Result<(UdpOutcome, Vec<u8>), UpstreamError> {
    let local: SocketAddr =
        if peer.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let sock = UdpSocket::bind(local).await.map_err(|e| UpstreamError::io(peer, e))?;
    if sock.connect(peer).await.is_err() {
        return Ok((UdpOutcome::Refused, Vec::new()));
    }
    let datagrams: Vec<Vec<u8>> = udp_fragments(request, true).map(|f| f.to_vec()).collect();
    let mut buf = vec![0u8; 2048];
    let mut reassembler: Reassembler<()> = Reassembler::new(ReassemblyLimits {
        max_pending: 4,
        max_buffered_bytes: MAX_MESSAGE + ENVELOPE_LEN,
        timeout: Duration::from_secs(10),
    });
    for &wait in schedule {
        for d in &datagrams {
            if sock.send(d).await.is_err() {
                return Ok((UdpOutcome::Refused, Vec::new()));
            }
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let n = match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Ok(n)) => n,
                // ICMP port unreachable and the like: go to TCP.
                Ok(Err(_)) => return Ok((UdpOutcome::Refused, Vec::new())),
            };
            let d = &buf[..n];
            if !(ENVELOPE_LEN..=UDP_MAX_DATAGRAM).contains(&n) {
                continue;
            }
            let Ok(env) = Envelope::decode(d) else { continue };
            if env.request_id != request_id {
                continue; // not ours (a late answer to an earlier request)
            }
            if env.message_length as usize > max_answer {
                return Ok((UdpOutcome::TooBig, Vec::new()));
            }
            match reassembler.push((), d, Instant::now()) {
                Ok(Reassembled::Complete(m)) => return Ok((UdpOutcome::Answer, m.to_vec())),
                Ok(Reassembled::Assembled(m)) => return Ok((UdpOutcome::Answer, m)),
                Ok(Reassembled::Pending) | Err(_) => continue,
            }
        }
    }
    Ok((UdpOutcome::Silent, Vec::new()))
}

/// Kept-open TCP connections, a few per peer. A connection is taken out
/// for one exchange and put back only when that exchange ended cleanly.
#[derive(Debug, Default)]
pub(crate) struct TcpPool {
    idle: Mutex<HashMap<SocketAddr, Vec<TcpStream>>>,
    per_peer: usize,
}

impl TcpPool {
    pub(crate) fn new(per_peer: usize) -> Self {
        TcpPool { idle: Mutex::new(HashMap::new()), per_peer }
    }

    fn take(&self, peer: SocketAddr) -> Option<TcpStream> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&peer).and_then(Vec::pop)
    }

    fn put(&self, peer: SocketAddr, s: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let v = idle.entry(peer).or_default();
        if v.len() < self.per_peer {
            v.push(s);
        }
    }

    /// Sends `request` and reads answers until one without the CN flag
    /// (streamed answers, §1 "TCP"), all within `timeout`. A reused
    /// connection that turns out closed is replaced by a new one once.
    pub(crate) async fn exchange(
        &self,
        peer: SocketAddr,
        request: &[u8],
        request_id: i32,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Vec<Vec<u8>>, UpstreamError> {
        if let Some(mut s) = self.take(peer) {
            // On error the server closed the kept connection meanwhile:
            // retry on a new one.
            if let Ok((answers, keep)) = exchange_on(&mut s, peer, request, request_id, timeout).await {
                if keep {
                    self.put(peer, s);
                }
                return Ok(answers);
            }
        }
        let mut s = match tokio::time::timeout(connect_timeout, TcpStream::connect(peer)).await {
            Err(_) => return Err(UpstreamError::Timeout { peer, waited: connect_timeout }),
            Ok(Err(e)) => return Err(UpstreamError::io(peer, e)),
            Ok(Ok(s)) => s,
        };
        let _ = s.set_nodelay(true);
        match exchange_on_fresh(&mut s, peer, request, request_id, timeout).await {
            Ok((answers, keep)) => {
                if keep {
                    self.put(peer, s);
                }
                Ok(answers)
            }
            Err(e) => Err(e),
        }
    }
}

/// A reused connection failed before any answer byte arrived.
struct Stale;

async fn exchange_on(
    s: &mut TcpStream,
    peer: SocketAddr,
    request: &[u8],
    request_id: i32,
    timeout: Duration,
) -> Result<(Vec<Vec<u8>>, bool), Stale> {
    match exchange_on_fresh(s, peer, request, request_id, timeout).await {
        Ok(x) => Ok(x),
        Err(_) => Err(Stale),
    }
}

async fn exchange_on_fresh(
    s: &mut TcpStream,
    peer: SocketAddr,
    request: &[u8],
    request_id: i32,
    timeout: Duration,
) -> Result<(Vec<Vec<u8>>, bool), UpstreamError> {
    let work = async {
        s.write_all(request).await.map_err(|e| UpstreamError::io(peer, e))?;
        let mut answers = Vec::new();
        loop {
            let msg = read_message(s, peer).await?;
            let env = Envelope::decode(&msg).map_err(|e| UpstreamError::garbage(peer, e.to_string()))?;
            if env.request_id != request_id {
                return Err(UpstreamError::garbage(
                    peer,
                    format!("answer for request id {} on a connection waiting for {request_id}", env.request_id),
                ));
            }
            let more = continues(&msg);
            answers.push(msg);
            if !more {
                return Ok(answers);
            }
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => Err(UpstreamError::Timeout { peer, waited: timeout }),
        // Whether the server keeps the connection open is learnt on reuse.
        Ok(r) => r.map(|a| (a, true)),
    }
}

/// Reads one envelope + `messageLength` bytes.
pub(crate) async fn read_message<R: tokio::io::AsyncRead + Unpin>(
    s: &mut R,
    peer: SocketAddr,
) -> Result<Vec<u8>, UpstreamError> {
    let mut env = [0u8; ENVELOPE_LEN];
    s.read_exact(&mut env).await.map_err(|e| UpstreamError::io(peer, e))?;
    let len = u32::from_be_bytes([env[16], env[17], env[18], env[19]]) as usize;
    if len > MAX_MESSAGE {
        return Err(UpstreamError::garbage(peer, format!("answer of {len} bytes exceeds the protocol limit")));
    }
    let mut out = vec![0u8; ENVELOPE_LEN + len];
    out[..ENVELOPE_LEN].copy_from_slice(&env);
    s.read_exact(&mut out[ENVELOPE_LEN..]).await.map_err(|e| UpstreamError::io(peer, e))?;
    Ok(out)
}

/// The CN (continuous) flag of an encoded message's header.
pub(crate) fn continues(msg: &[u8]) -> bool {
    msg.len() >= ENVELOPE_LEN + 12
        && u32::from_be_bytes([
            msg[ENVELOPE_LEN + 8],
            msg[ENVELOPE_LEN + 9],
            msg[ENVELOPE_LEN + 10],
            msg[ENVELOPE_LEN + 11],
        ]) & OpFlags::CN.0
            != 0
}
