//! Helpers of the REST black-box tests: a node on loopback with the demo
//! data, and a tiny HTTP/1.1 client over plain TCP or TLS (rustls with ring,
//! trusting exactly the node's self-signed certificate).

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use idnode_conformance::{Node, Setup};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;

pub const PREFIX: &str = "88.118.8";
pub const ADMIN: &str = "300:0.NA/88.118.8";

/// A running node plus where its TLS certificate and admin secret are.
pub struct TestNode {
    pub node: Node,
    pub ca: PathBuf,
    pub secret: String,
    pub data: PathBuf,
}

/// Starts a node (demo data, node prefix 88.118.8) with `extra` TOML
/// appended to its `[http]` section (start a new table to leave it).
pub fn start(extra: &str) -> TestNode {
    let node = Node::start(&Setup { node_prefix: PREFIX.into(), extra_toml: extra.into(), ..Setup::default() })
        .expect("node starts");
    let data = node.dir.path().join("data");
    let secret = std::fs::read_to_string(data.join("admin.secret")).unwrap().trim().to_owned();
    TestNode { ca: data.join("tls.crt"), node, secret, data }
}

impl TestNode {
    pub fn https(&self) -> Client {
        Client::https(self.node.http, &self.ca)
    }

    pub fn http(&self) -> Client {
        Client { addr: self.node.http, tls: None, source: None }
    }

    /// The admin door (loopback, plain HTTP).
    pub fn admin_http(&self) -> Client {
        Client { addr: self.node.admin, tls: None, source: None }
    }

    /// The admin door over TLS.
    pub fn admin_https(&self) -> Client {
        Client::https(self.node.admin, &self.ca)
    }

    /// `Authorization: Basic` for the node administrator.
    pub fn basic(&self) -> String {
        basic(&ADMIN.replace(':', "%3A"), &self.secret)
    }

    /// `PUT /api/handles/{id}` with `values` as the administrator, over TLS.
    pub fn put_values(&self, id: &str, values: serde_json::Value) -> Resp {
        let auth = self.basic();
        self.https().send(
            "PUT",
            &format!("/api/handles/{id}"),
            &[("Content-Type", "application/json"), ("Authorization", &auth)],
            Some(&serde_json::json!({ "values": values }).to_string()),
        )
    }
}

/// A REST value with string data.
pub fn string_value(index: u32, t: &str, data: &str) -> serde_json::Value {
    serde_json::json!({"index": index, "type": t, "data": {"format": "string", "value": data}})
}

pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// An answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// `responseCode` of the JSON body.
    pub fn rc(&self) -> u64 {
        self.json()["responseCode"].as_u64().unwrap_or_else(|| panic!("no responseCode in {}", self.body))
    }
}

/// One request per connection, `Connection: close`.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Loopback address to connect from (e.g. 127.0.0.2); `None` = any.
    source: Option<IpAddr>,
}

impl Client {
    /// HTTPS trusting only the certificate in `ca`.
    pub fn https(addr: SocketAddr, ca: &std::path::Path) -> Client {
        let pinned = CertificateDer::from_pem_file(ca).expect("node certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { cert: pinned.into_owned(), provider }))
            .with_no_client_auth();
        Client { addr, tls: Some(Arc::new(cfg)), source: None }
    }

    /// Plain HTTP to `addr`.
    pub fn plain(addr: SocketAddr) -> Client {
        Client { addr, tls: None, source: None }
    }

    /// The same client connecting from the loopback address `ip`.
    pub fn from(mut self, ip: IpAddr) -> Client {
        assert!(ip.is_loopback(), "tests connect from loopback only");
        self.source = Some(ip);
        self
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None)
    }

    /// A request that declares a `Content-Length` of `declared` bytes but
    /// sends none of them (the server must refuse it from the header).
    pub fn send_declaring(&self, method: &str, path: &str, headers: &[(&str, &str)], declared: usize) -> Resp {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {declared}\r\n\r\n"));
        parse(&self.exchange(&req).unwrap_or_else(|e| panic!("{method} {path}: {e}")))
    }

    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        req.push_str("\r\n");
        if let Some(b) = body {
            req.push_str(b);
        }
        // A failure to connect or to complete the TLS handshake is retried
        // once and reported on stderr (seen once in ~12 runs on a loaded
        // 2-core machine, not reproduced since; an HTTP-level answer is never
        // retried).
        let raw = match self.exchange(&req) {
            Ok(raw) => raw,
            Err(first) => {
                eprintln!("rest_util: {method} {path}: transport error {first}; retrying once");
                self.exchange(&req).unwrap_or_else(|second| panic!("{method} {path}: {first}; then {second}"))
            }
        };
        parse(&raw)
    }

    fn exchange(&self, req: &str) -> Result<Vec<u8>, String> {
        let tcp = match self.source {
            None => TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)),
            Some(ip) => connect_from(ip, self.addr),
        }
        .map_err(|e| format!("connect: {e}"))?;
        tcp.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
        match &self.tls {
            None => {
                let mut s = tcp;
                // A server may answer (413) and close before reading a
                // large body: read its answer even when the write failed.
                let wrote = s.write_all(req.as_bytes()).map_err(|e| format!("write: {e}"));
                answer_after(wrote, read_all(&mut s))
            }
            Some(cfg) => {
                let name = ServerName::IpAddress(self.addr.ip().into());
                let conn = rustls::ClientConnection::new(cfg.clone(), name).map_err(|e| e.to_string())?;
                let mut s = rustls::StreamOwned::new(conn, tcp);
                let wrote = s.write_all(req.as_bytes()).map_err(|e| format!("TLS handshake or write: {e}"));
                answer_after(wrote, read_all(&mut s))
            }
        }
    }
}

/// A TCP connection to `to` from the local address `from` (port chosen by
/// the kernel).
pub fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::for_address(to), socket2::Type::STREAM, None)?;
    sock.bind(&SocketAddr::new(from, 0).into())?;
    sock.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(sock.into())
}

/// The answer read after a write: a failed write with no answer is the
/// transport error; an answer counts even if the write was cut short.
fn answer_after(wrote: Result<(), String>, read: Result<Vec<u8>, String>) -> Result<Vec<u8>, String> {
    match (wrote, read) {
        (_, Ok(raw)) if raw.starts_with(b"HTTP/") => Ok(raw),
        (Err(w), _) => Err(w),
        (Ok(()), Ok(raw)) => Ok(raw),
        (Ok(()), Err(r)) => panic!("reading the answer: {r}"),
    }
}

fn read_all(s: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => break,
            // A reset after a complete answer (the server closed with our
            // body unread) still leaves the answer.
            Err(_) if out.starts_with(b"HTTP/") && out.windows(4).any(|w| w == b"\r\n\r\n") => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(out)
}

fn parse(raw: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no header end in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))).collect();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Resp { status, headers, body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// Trusts exactly one certificate (the node's self-signed one).
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the node's certificate".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// `key="value"` parameters of a `WWW-Authenticate: Handle ...` value.
pub fn challenge_params(v: &str) -> std::collections::HashMap<String, String> {
    v.trim_start_matches("Handle")
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}
