//! `idis-create`: authenticated creates over one kept-open TCP connection
//! after an IDIS login (the id-pointer-sdk path, idis-extensions.md §2):
//! GET_SITE_INFO, OC 2001 with its 402, the OC 200 answer signed with SM2
//! (SM3, ID = identity handle, §4.1), then OC 100 creates one at a time
//! (NEW keeps exactly one request outstanding per connection, §8.1), each
//! answered after the node's durable flush. `idis-seed` writes the identity
//! records the run needs, for `idnode id import`.
//!
//! Loopback only; bounded by `--count` and `--duration`.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hdrhistogram::Histogram;
use idnode_resolver::wire::{
    Body, ChallengeAnswer, Envelope, HandleBody, HandleValues, Header, LoginRequest, Message, OpCode, OpFlags,
    ProtocolVersion,
};
use sm2::dsa::signature::Signer as _;

/// The SM2 test key of idis-extensions.md §3.2 (d = 0123…ef ×4).
const DEFAULT_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[derive(Args, Debug)]
pub struct IdisCreateArgs {
    /// Target TCP door, a literal loopback socket address such as 127.0.0.1:2641.
    #[arg(long)]
    target: String,
    /// Identity handle (holds the SM2 HS_PUBKEY at index 300; see `idis-seed`).
    #[arg(long, default_value = "88.118.8/idis-bench")]
    user: String,
    /// SM2 private key, hex.
    #[arg(long, default_value = DEFAULT_KEY)]
    key: String,
    /// Created identifiers are `<prefix>/IDIS-<run>-<n>`.
    #[arg(long, default_value = "88.118.8")]
    prefix: String,
    /// Stop after this many creates.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Stop after this many seconds, whatever the count.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Write the result as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct IdisSeedArgs {
    /// Prefix whose `0.NA/<prefix>` handle gets an HS_ADMIN for the identity.
    #[arg(long, default_value = "88.118.8")]
    prefix: String,
    /// Identity handle.
    #[arg(long, default_value = "88.118.8/idis-bench")]
    user: String,
    /// SM2 private key, hex.
    #[arg(long, default_value = DEFAULT_KEY)]
    key: String,
    /// Output JSON-lines file.
    #[arg(long)]
    out: std::path::PathBuf,
}

#[derive(serde::Serialize, Debug)]
pub struct IdisReport {
    mode: &'static str,
    target: String,
    creates: u64,
    errors: u64,
    login_ms: f64,
    seconds: f64,
    creates_per_sec: f64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

fn signing_key(user: &str, key: &str) -> anyhow::Result<sm2::dsa::SigningKey> {
    let d = hex_decode(key).context("--key is not hex")?;
    sm2::dsa::SigningKey::from_slice(user, &d).map_err(|_| anyhow::anyhow!("--key is not an SM2 private key"))
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// `0.NA/<prefix>` with an HS_ADMIN for `300:<user>`, and `<user>` with the
/// SM2 public key as IDIS PEM text (§3.2 form A).
pub fn seed(a: &IdisSeedArgs) -> anyhow::Result<()> {
    use base64::Engine as _;
    let sk = signing_key(&a.user, &a.key)?;
    let point = sk.verifying_key().to_sec1_bytes();
    // SPKI: id-ecPublicKey + sm2p256v1, then the point (§3.1).
    let mut spki = hex_decode("3059301306072a8648ce3d020106082a811ccf5501822d034200").unwrap_or_default();
    spki.extend_from_slice(&point);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
    let lines: Vec<&str> = b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    let pem = format!("-----BEGIN PUBLIC KEY-----\r\n{}\r\n-----END PUBLIC KEY-----\r\n", lines.join("\r\n"));
    let mut admin = vec![0x0f, 0xff];
    admin.extend_from_slice(&(a.user.len() as u32).to_be_bytes());
    admin.extend_from_slice(a.user.as_bytes());
    admin.extend_from_slice(&300u32.to_be_bytes());
    let admin = base64::engine::general_purpose::STANDARD.encode(admin);
    let mut w = std::io::BufWriter::new(std::fs::File::create(&a.out)?);
    let prefix_handle = serde_json::json!({"handle": format!("0.NA/{}", a.prefix), "values": [
        {"index": 100, "type": "HS_ADMIN", "data": {"format": "base64", "value": admin}, "permissions": 14}
    ]});
    let user = serde_json::json!({"handle": a.user, "values": [
        {"index": 300, "type": "HS_PUBKEY", "data": pem, "permissions": 14}
    ]});
    writeln!(w, "{prefix_handle}")?;
    writeln!(w, "{user}")?;
    w.flush()?;
    Ok(())
}

struct Conn {
    stream: TcpStream,
    next_id: i32,
    session: i32,
}

impl Conn {
    fn send(&mut self, op: OpCode, flags: OpFlags, body: Body, session: i32) -> anyhow::Result<Message> {
        let id = self.next_id;
        self.next_id += 1;
        let mut envelope = Envelope::request(ProtocolVersion::new(2, 10), id);
        envelope.session_id = session;
        let m = Message { envelope, header: Header::request(op, flags, 0x6b01_9987), body, credential: None };
        self.stream.write_all(&m.encode())?;
        let answer = idnode_conformance::read_message(&mut self.stream)?;
        let a = Message::decode(&answer).map_err(|e| anyhow::anyhow!("undecodable answer: {e}"))?;
        if a.envelope.request_id != id {
            bail!("answer for request {} while waiting for {id}", a.envelope.request_id);
        }
        Ok(a)
    }
}

/// Logs in as `user` on `c` (§2.3).
fn login(c: &mut Conn, user: &str, sk: &sm2::dsa::SigningKey) -> anyhow::Result<()> {
    let rd = OpFlags::REC | OpFlags::RD;
    let session = c.session;
    c.send(
        OpCode::GET_SITE_INFO,
        OpFlags::REC | OpFlags::CA | OpFlags::PO,
        Body::GetSiteInfo(HandleBody { handle: b"/".to_vec() }),
        session,
    )?;
    let req = LoginRequest { identity_handle: user.as_bytes().to_vec(), identity_index: 300 };
    let ch = c.send(OpCode::LOGIN_ID_SYSTEM, rd, Body::LoginIdSystem(req), session)?;
    let Body::Challenge(chal) = &ch.body else {
        bail!("login: expected a 402 challenge, got RC {}", ch.header.response_code.0)
    };
    let m = idnode_resolver::auth::sm2::sm3(&[&chal.nonce, chal.digest.as_bytes()]);
    let sig: sm2::dsa::Signature = sk.sign(&m);
    let mut signed = Vec::new();
    for part in [&b"SM3"[..], &sig.to_der().to_vec()] {
        signed.extend_from_slice(&(part.len() as u32).to_be_bytes());
        signed.extend_from_slice(part);
    }
    let answer = ChallengeAnswer {
        auth_type: b"HS_PUBKEY".to_vec(),
        identity_handle: user.as_bytes().to_vec(),
        identity_index: 300,
        signed_response: signed,
    };
    let done = c.send(OpCode::RESPONSE_TO_CHALLENGE, rd, Body::ChallengeAnswer(answer), ch.envelope.session_id)?;
    if done.header.response_code.0 != 1 {
        bail!("login refused: RC {} {:?}", done.header.response_code.0, done.body);
    }
    Ok(())
}

pub fn run(a: &IdisCreateArgs) -> anyhow::Result<IdisReport> {
    let addr = crate::loopback_target(&a.target)?;
    let sk = signing_key(&a.user, &a.key)?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut c = Conn { stream, next_id: 1, session: 10_001 };
    let t = Instant::now();
    login(&mut c, &a.user, &sk)?;
    let login_ms = t.elapsed().as_secs_f64() * 1000.0;

    let run_tag = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut creates, mut errors) = (0u64, 0u64);
    let deadline = Duration::from_secs_f64(a.duration);
    let start = Instant::now();
    let session = c.session;
    for n in 0..a.count {
        if start.elapsed() >= deadline {
            break;
        }
        let handle = format!("{}/IDIS-{run_tag}-{n}", a.prefix).into_bytes();
        let values = vec![idnode_registry::model::Value::new(1, "URL", format!("https://example.org/p/{n}"))];
        let t = Instant::now();
        let r =
            c.send(OpCode::CREATE_HANDLE, OpFlags::REC, Body::CreateHandle(HandleValues { handle, values }), session)?;
        hist.record(t.elapsed().as_micros().max(1) as u64)?;
        if r.header.response_code.0 == 1 {
            creates += 1;
        } else {
            errors += 1;
            if errors == 1 {
                eprintln!("first refusal: RC {} {:?}", r.header.response_code.0, r.body);
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let r = IdisReport {
        mode: "idis-create",
        target: addr.to_string(),
        creates,
        errors,
        login_ms,
        seconds,
        creates_per_sec: creates as f64 / seconds.max(1e-9),
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
        max_us: hist.max(),
    };
    println!(
        "idis-create {}: login {:.1} ms; {} creates ({} refused) in {:.2}s = {:.0} creates/s; latency p50 {}us p99 {}us max {}us",
        r.target, r.login_ms, r.creates, r.errors, r.seconds, r.creates_per_sec, r.p50_us, r.p99_us, r.max_us
    );
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_vec_pretty(&r)?)?;
    }
    Ok(r)
}
