//! `idnode resolve <identifier>`: a real Handle client built on the same
//! codec as the server. UDP first with CNRI's retry schedule (0.5 s, 1 s,
//! 1.5 s), then TCP; `--tcp` goes straight to TCP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idnode_registry::model::Value;
use idnode_resolver::wire::{
    Body, ENVELOPE_LEN, Envelope, Header, MAX_MESSAGE, Message, OpCode, OpFlags, ProtocolVersion, Reassembled,
    Reassembler, ReassemblyLimits, ResolutionRequest, ResponseCode,
};

/// Arguments of `idnode resolve`.
#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The identifier, e.g. `88.118.8.1001/LOT2026-000451`.
    pub identifier: String,
    /// Handle server to ask (host:port literal).
    #[arg(long, default_value = "127.0.0.1:2641")]
    pub server: SocketAddr,
    /// Use TCP only.
    #[arg(long)]
    pub tcp: bool,
    /// Only values of this type (repeatable; a trailing "." matches sub-types).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only the value at this index (repeatable).
    #[arg(long = "index", value_name = "INDEX")]
    pub indexes: Vec<u32>,
    /// Ask for non-public values too (clears the PO flag; the server will
    /// answer 402 if authentication is needed).
    #[arg(long)]
    pub all_values: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many milliseconds on TCP.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

/// Builds the request message the client sends.
pub fn request(args: &ResolveArgs, request_id: i32) -> Message {
    let mut flags = OpFlags::CA;
    if !args.all_values {
        flags |= OpFlags::PO;
    }
    let expiration = (crate::unix_now() as u32).wrapping_add(12 * 3600);
    Message {
        envelope: Envelope::request(ProtocolVersion::OURS, request_id),
        header: Header::request(OpCode::RESOLUTION, flags, expiration),
        body: Body::Resolution(ResolutionRequest {
            handle: args.identifier.as_bytes().to_vec(),
            indexes: args.indexes.clone(),
            types: args.types.iter().map(|t| t.as_bytes().to_vec()).collect(),
            auth_token: None,
        }),
        credential: None,
    }
}

/// Runs the command: exit status 0 when the identifier resolved.
pub fn run(args: ResolveArgs) -> Result<()> {
    let request_id = rand::random::<i32>() & 0x7fff_ffff;
    let bytes = request(&args, request_id).encode();
    let answer = if args.tcp {
        via_tcp(args.server, &bytes, Duration::from_millis(args.timeout_ms))?
    } else {
        match via_udp(args.server, &bytes, request_id)? {
            Some(a) => a,
            None => via_tcp(args.server, &bytes, Duration::from_millis(args.timeout_ms))?,
        }
    };
    let msg = Message::decode(&answer).context("decoding the answer")?;
    print_answer(&args, &msg)?;
    if msg.header.response_code != ResponseCode::SUCCESS {
        bail!("server answered {}", rc_text(msg.header.response_code));
    }
    Ok(())
}

fn rc_text(rc: ResponseCode) -> String {
    match rc.name() {
        Some(n) => format!("{} ({n})", rc.0),
        None => rc.0.to_string(),
    }
}

fn via_udp(server: SocketAddr, request: &[u8], request_id: i32) -> Result<Option<Vec<u8>>> {
    let local: SocketAddr =
        if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let sock = UdpSocket::bind(local)?;
    sock.connect(server)?;
    let mut buf = vec![0u8; 2048];
    for wait_ms in [500u64, 1000, 1500] {
        for fragment in idnode_resolver::wire::udp_fragments(request, true) {
            sock.send(&fragment.to_vec())?;
        }
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        let mut reassembler: Reassembler<()> = Reassembler::new(ReassemblyLimits::default());
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    break;
                }
                // e.g. ICMP port unreachable: try TCP.
                Err(_) => return Ok(None),
            };
            let d = &buf[..n];
            if n < ENVELOPE_LEN || i32::from_be_bytes([d[8], d[9], d[10], d[11]]) != request_id {
                continue; // not ours
            }
            match reassembler.push((), d, Instant::now()) {
                Ok(Reassembled::Complete(m)) => return Ok(Some(m.to_vec())),
                Ok(Reassembled::Assembled(m)) => return Ok(Some(m)),
                Ok(Reassembled::Pending) | Err(_) => continue,
            }
        }
    }
    Ok(None)
}

fn via_tcp(server: SocketAddr, request: &[u8], timeout: Duration) -> Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&server, timeout).with_context(|| format!("connecting to {server}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(request)?;
    let mut env = [0u8; ENVELOPE_LEN];
    s.read_exact(&mut env).context("reading the answer envelope")?;
    let len = u32::from_be_bytes([env[16], env[17], env[18], env[19]]) as usize;
    if len > MAX_MESSAGE {
        bail!("answer of {len} bytes exceeds the protocol limit");
    }
    let mut out = vec![0u8; ENVELOPE_LEN + len];
    out[..ENVELOPE_LEN].copy_from_slice(&env);
    s.read_exact(&mut out[ENVELOPE_LEN..]).context("reading the answer")?;
    Ok(out)
}

fn data_text(v: &Value) -> String {
    match std::str::from_utf8(&v.data) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => format!("hex:{}", hex::encode(&v.data)),
    }
}

fn perms_text(p: u8) -> String {
    (0..4).rev().map(|b| if p & (1 << b) != 0 { '1' } else { '0' }).collect()
}

fn print_answer(args: &ResolveArgs, msg: &Message) -> Result<()> {
    let rc = msg.header.response_code;
    let (handle, values): (String, Vec<Value>) = match &msg.body {
        Body::ResolutionResponse(r) => (String::from_utf8_lossy(&r.handle).into_owned(), r.values.clone()),
        Body::Referral(r) => (String::from_utf8_lossy(&r.handle).into_owned(), r.values.clone().unwrap_or_default()),
        _ => (args.identifier.clone(), Vec::new()),
    };
    let message = match &msg.body {
        Body::Error(e) => String::from_utf8_lossy(&e.message).into_owned(),
        _ => String::new(),
    };
    if args.json {
        let vals: Vec<serde_json::Value> = values
            .iter()
            .map(|v| {
                serde_json::json!({
                    "index": v.index,
                    "type": v.type_str(),
                    "data": data_text(v),
                    "ttl": v.ttl,
                    "permissions": perms_text(v.permissions),
                    "timestamp": v.timestamp,
                })
            })
            .collect();
        let mut j = serde_json::json!({ "responseCode": rc.0, "handle": handle, "values": vals });
        if !message.is_empty() {
            j["message"] = serde_json::Value::String(message);
        }
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(());
    }
    if rc != ResponseCode::SUCCESS {
        eprintln!(
            "{}: {}{}",
            args.identifier,
            rc_text(rc),
            if message.is_empty() { String::new() } else { format!(": {message}") }
        );
        for v in &values {
            eprintln!("  {:>5}  {:<16} {}", v.index, v.type_str(), data_text(v));
        }
        return Ok(());
    }
    println!("{handle}");
    for v in &values {
        println!(
            "  {:>5}  {:<16} {}  (ttl {}, perms {})",
            v.index,
            v.type_str(),
            data_text(v),
            v.ttl,
            perms_text(v.permissions)
        );
    }
    Ok(())
}
