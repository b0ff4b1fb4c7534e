//! `idnode-bench admin-create`: authenticated creates over the binary
//! protocol the way the reference admin tools run them (handle-protocol.md
//! §6.3, §11): one session set up over UDP (Diffie–Hellman), the first
//! create challenged and answered with the admin's secret key on a new
//! connection, then every further create on ONE kept-open TCP connection,
//! MAC'd with the session key, one request in flight. Each create is
//! acknowledged only after the node's durable flush.
//!
//! Loopback only (`--tcp` / `--udp` must be literal 127.0.0.0/8 or ::1
//! socket addresses); stops after `--count` creates or `--duration` seconds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use idnode_registry::model::Value;
use idnode_registry::model::wire::{Reader, WriteExt};
use idnode_resolver::auth::dh;
use idnode_resolver::auth::seckey::{self, MacAlg};
use idnode_resolver::auth::sign::{MacHash, session_mac};
use idnode_resolver::wire::{
    Body, ChallengeAnswer, Credential, CredentialParts, Envelope, HandleValues, Header, Message, OpCode, OpFlags,
    ProtocolVersion, SessionSetupRequest, credential_type, signed_input,
};
use serde::Serialize;

/// Arguments of the `admin-create` mode.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminArgs {
    /// The node's Handle TCP door (literal loopback address).
    #[arg(long)]
    pub tcp: String,
    /// The node's Handle UDP door (literal loopback address), for session setup.
    #[arg(long)]
    pub udp: String,
    /// Admin identity holding an HS_SECKEY (index:handle).
    #[arg(long, default_value = "300:0.NA/88.118.8")]
    pub identity: String,
    /// File with the secret key (e.g. the node's admin.secret); trailing newline ignored.
    #[arg(long, value_name = "FILE")]
    pub secret_file: std::path::PathBuf,
    /// Prefix to create handles under (homed on the node).
    #[arg(long, default_value = "88.118.8")]
    pub prefix: String,
    /// Stop after this many creates.
    #[arg(long, default_value_t = 20_000)]
    pub count: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
struct Report {
    mode: &'static str,
    creates: u64,
    errors: u64,
    seconds: f64,
    creates_per_sec: f64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

fn loopback(s: &str) -> anyhow::Result<SocketAddr> {
    let a: SocketAddr = s.parse().with_context(|| format!("{s}: not a socket address"))?;
    if !a.ip().is_loopback() {
        bail!("{s}: only loopback targets are allowed");
    }
    Ok(a)
}

fn message(op: OpCode, body: Body, request_id: i32, session: i32) -> Message {
    let mut envelope = Envelope::request(ProtocolVersion::new(2, 11), request_id);
    envelope.session_id = session;
    Message { envelope, header: Header::request(op, OpFlags(0x1900_0000), 0x7000_0000), body, credential: None }
}

fn seal(msg: &mut Message, key: &[u8], counter: u32) -> Vec<u8> {
    msg.credential = None;
    let bytes = msg.encode();
    let body_len = u32::from_be_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]) as usize;
    let mut input = Vec::with_capacity(body_len + 40);
    signed_input(&msg.envelope, counter, &bytes[20..44 + body_len], &mut input);
    let mac = session_mac(MacHash::HmacSha256, key, &input);
    msg.credential =
        Some(Credential::from_parts(CredentialParts::new(credential_type::HS_MAC, counter, b"HMAC-SHA256", &mac)));
    msg.encode()
}

fn read_one(s: &mut TcpStream) -> anyhow::Result<Message> {
    let mut env = [0u8; 20];
    s.read_exact(&mut env)?;
    let len = u32::from_be_bytes([env[16], env[17], env[18], env[19]]) as usize;
    let mut buf = vec![0u8; 20 + len];
    buf[..20].copy_from_slice(&env);
    s.read_exact(&mut buf[20..])?;
    Ok(Message::decode(&buf)?)
}

fn create_body(prefix: &str, run: u64, n: u64) -> Body {
    Body::CreateHandle(HandleValues {
        handle: format!("{prefix}/BENCH-ADM-{run}-{n}").into_bytes(),
        values: vec![Value::new(1, "URL", format!("https://example.org/{n}").into_bytes())],
    })
}

/// Runs the mode.
pub fn run(a: &AdminArgs) -> anyhow::Result<()> {
    let tcp = loopback(&a.tcp)?;
    let udp = loopback(&a.udp)?;
    let secret = std::fs::read_to_string(&a.secret_file).context("reading the secret")?;
    let secret = secret.trim_end_matches(['\n', '\r']).as_bytes().to_vec();
    let (index, handle) = a.identity.split_once(':').context("identity must be index:handle")?;
    let index: u32 = index.parse()?;
    let run_id = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();

    // Session setup over UDP (one datagram out, one or two back).
    let (p, g) = dh::oakley_group2();
    let (x, y) = dh::key_pair(&p, &g);
    let mut exchange_data = Vec::new();
    exchange_data.put_bytes(&dh::encode_public(&y, &p, &g));
    exchange_data.extend_from_slice(&[0, 0]);
    let setup = message(
        OpCode::SESSION_SETUP,
        Body::SessionSetup(SessionSetupRequest {
            key_exchange_mode: SessionSetupRequest::KEY_EXCHANGE_DH,
            timeout: 3600,
            identity_handle: handle.as_bytes().to_vec(),
            identity_index: index,
            exchange_data,
        }),
        1,
        0,
    );
    let sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))?;
    sock.send_to(&setup.encode(), udp)?;
    let mut whole = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        let n = sock.recv(&mut buf).context("no session setup answer")?;
        if whole.is_empty() {
            whole.extend_from_slice(&buf[..n]);
        } else {
            whole.extend_from_slice(&buf[20..n]);
        }
        let total = u32::from_be_bytes([whole[16], whole[17], whole[18], whole[19]]) as usize;
        if whole.len() >= 20 + total {
            break;
        }
    }
    let answer = Message::decode(&whole)?;
    let Body::SessionSetupResponse(r) = &answer.body else { bail!("session setup refused: {answer:?}") };
    let data = Reader::new(&r.exchange_data).bytes("data").map_err(anyhow::Error::msg)?.to_vec();
    let key = dh::client_key(&data[4..], &x).map_err(anyhow::Error::msg)?;
    let sid = answer.envelope.session_id;

    // The first create: challenged, answered on a new connection.
    let mut counter = 1u32;
    let mut first = message(OpCode::CREATE_HANDLE, create_body(&a.prefix, run_id, 0), 2, sid);
    let mut c = TcpStream::connect(tcp)?;
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    c.write_all(&seal(&mut first, &key, counter))?;
    let ch = read_one(&mut c)?;
    let Body::Challenge(chal) = &ch.body else { bail!("expected a challenge, got {ch:?}") };
    let mut signed = chal.nonce.clone();
    signed.extend_from_slice(chal.digest.as_bytes());
    let mac = seckey::mac(MacAlg::HmacSha256, &secret, &signed, None).map_err(anyhow::Error::msg)?;
    let ans = message(
        OpCode::RESPONSE_TO_CHALLENGE,
        Body::ChallengeAnswer(ChallengeAnswer {
            auth_type: b"HS_SECKEY".to_vec(),
            identity_handle: handle.as_bytes().to_vec(),
            identity_index: index,
            signed_response: seckey::encode_answer(MacAlg::HmacSha256, &mac, None),
        }),
        3,
        sid,
    );
    let mut c2 = TcpStream::connect(tcp)?;
    c2.set_read_timeout(Some(Duration::from_secs(30)))?;
    c2.write_all(&ans.encode())?;
    let done = read_one(&mut c2)?;
    if done.header.response_code.0 != 1 {
        bail!("authentication failed: {done:?}");
    }

    // Timed part: creates on one kept-open connection inside the session.
    let mut hist = Histogram::<u64>::new(3)?;
    let (mut creates, mut errors) = (0u64, 0u64);
    let deadline = Duration::from_secs_f64(a.duration);
    let started = Instant::now();
    let mut n = 1u64;
    while n <= a.count && started.elapsed() < deadline {
        counter += 1;
        let mut req = message(OpCode::CREATE_HANDLE, create_body(&a.prefix, run_id, n), 10 + n as i32, sid);
        let t = Instant::now();
        c2.write_all(&seal(&mut req, &key, counter))?;
        let got = read_one(&mut c2)?;
        hist.record(t.elapsed().as_micros() as u64)?;
        if got.header.response_code.0 == 1 {
            creates += 1;
        } else {
            errors += 1;
        }
        n += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let r = Report {
        mode: "admin-create",
        creates,
        errors,
        seconds,
        creates_per_sec: creates as f64 / seconds,
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
        max_us: hist.max(),
    };
    println!(
        "admin-create {tcp}: {} creates ({} errors) in {:.2}s = {:.0} creates/s; latency p50 {}us p99 {}us max {}us",
        r.creates, r.errors, r.seconds, r.creates_per_sec, r.p50_us, r.p99_us, r.max_us
    );
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_vec_pretty(&r)?)?;
    }
    Ok(())
}
