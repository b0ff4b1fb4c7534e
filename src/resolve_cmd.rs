//! `idnode resolve <identifier>`: a real Handle client, the library one
//! (`idnode_resolver::upstream`) that recursion and federation use. UDP
//! first with CNRI's retry schedule (0.5 s, 1 s, 1.5 s), then TCP; `--tcp`
//! goes straight to TCP. `--recursive` sets the REC flag so that a node
//! with recursion on resolves a foreign identifier for us.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use idnode_registry::model::Value;
use idnode_resolver::upstream::{ServerChoice, Target, Upstream, UpstreamConfig};
use idnode_resolver::wire::{
    Body, Envelope, Header, Message, OpCode, OpFlags, ProtocolVersion, ResolutionRequest, ResponseCode,
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
    /// Set the REC flag: ask the server to resolve a foreign identifier on
    /// our behalf (when its recursion is on).
    #[arg(long)]
    pub recursive: bool,
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
    if args.recursive {
        flags |= OpFlags::REC;
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
    let request_id = (rand::random::<i32>() & 0x7fff_ffff).max(1);
    let timeout = Duration::from_millis(args.timeout_ms);
    let upstream = Upstream::new(UpstreamConfig {
        connect_timeout: timeout,
        exchange_timeout: timeout,
        ..UpstreamConfig::default()
    });
    let targets = if args.tcp {
        vec![Target::tcp(args.server)]
    } else {
        vec![Target::udp(args.server), Target::tcp(args.server)]
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting a runtime")?;
    let answer = runtime
        .block_on(upstream.exchange_server(&ServerChoice { targets }, &request(&args, request_id)))
        .with_context(|| format!("asking {}", args.server))?;
    let msg = answer.message;
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
