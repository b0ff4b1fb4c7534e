//! A small blocking HTTP/1.1 client for the daemon's admin API, used by the
//! CLI while the daemon holds the store. One request per connection
//! (`Connection: close`) over `std::net::TcpStream`: plain HTTP when the
//! node's admin door is on a loopback address (the admin API takes plain
//! HTTP only from loopback clients), otherwise HTTPS on the same port
//! (rustls with ring) trusting exactly the certificate in `http.tls.cert_file`
//! — the CLI runs on the node's host and reads the same files the daemon
//! does.
//!
//! Where: the address the daemon published in `<data_dir>/admin.addr` (it
//! binds `admin.listen`, port 0 included), else `admin.listen`; an unspecified
//! address means loopback. Who: `Authorization: Bearer <admin secret>` from
//! `admin.secret_file`. The secret is never printed; `Debug` redacts it.
//!
//! Responses are read as they arrive (`Content-Length`, chunked, or until
//! close); a chunked body that ends without its final chunk is an error
//! (the node aborted a streamed export).

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use crate::config::{Config, Secret};

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the next bytes of an answer (an import batch
/// commits before its results come back).
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest response header block accepted.
const MAX_HEAD: usize = 64 << 10;

/// A failed admin API call as the node reported it (`{"error": {...}}`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message} (HTTP {status}, {code}{})", field.as_ref().map(|f| format!(", field {f}")).unwrap_or_default())]
pub struct ApiFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl ApiFailure {
    /// From a status and a body that should be the API's error JSON.
    pub fn from_body(status: u16, body: &[u8]) -> ApiFailure {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let e = &v["error"];
        let text = |k: &str| e[k].as_str().map(str::to_owned);
        ApiFailure {
            status,
            code: text("code").unwrap_or_else(|| "http_error".into()),
            message: text("message")
                .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned()),
            field: text("field"),
        }
    }
}

/// The daemon's admin API.
#[derive(Clone)]
pub struct AdminClient {
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
    authorization: String,
}

impl fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminClient")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .field("authorization", &"<redacted>")
            .finish()
    }
}

/// The daemon's HTTP address for a local client.
pub fn daemon_address(cfg: &Config) -> Result<SocketAddr> {
    let addr = match crate::api::admin::published_address(cfg.data_dir()) {
        Some(a) => a,
        None if cfg.admin.listen.port() != 0 => cfg.admin.listen,
        None => bail!(
            "admin.listen has port 0 and {} does not name the daemon's address",
            crate::api::admin::address_file(cfg).display()
        ),
    };
    Ok(match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port())),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port())),
        _ => addr,
    })
}

impl AdminClient {
    /// A client for the daemon described by `cfg` (address and secret).
    pub fn for_daemon(cfg: &Config) -> Result<AdminClient> {
        let addr = daemon_address(cfg)?;
        let secret_path = cfg.admin_secret_path();
        let secret = Secret::from_file(&secret_path)
            .with_context(|| format!("reading the admin secret {}", secret_path.display()))?;
        let secret = std::str::from_utf8(secret.expose())
            .map_err(|_| anyhow!("{} is not text; the admin API needs a text secret", secret_path.display()))?;
        let tls = if addr.ip().is_loopback() || !cfg.http.tls.enabled {
            None
        } else {
            Some(pinned_tls(&cfg.tls_cert_path())?)
        };
        Ok(AdminClient { addr, tls, authorization: format!("Bearer {secret}") })
    }

    /// Sends one request and returns the answer with its body unread.
    pub fn open(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Result<Answer> {
        let tcp = TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT)
            .with_context(|| format!("connecting to the daemon's admin API at {}", self.addr))?;
        tcp.set_read_timeout(Some(READ_TIMEOUT))?;
        tcp.set_write_timeout(Some(READ_TIMEOUT))?;
        let _ = tcp.set_nodelay(true);
        let mut conn = match &self.tls {
            None => Conn::Plain(tcp),
            Some(cfg) => {
                let name = ServerName::IpAddress(self.addr.ip().into());
                let c = rustls::ClientConnection::new(cfg.clone(), name).context("starting TLS")?;
                Conn::Tls(Box::new(rustls::StreamOwned::new(c, tcp)))
            }
        };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: idnode/{}\r\nAccept: application/json\r\nConnection: close\r\nAuthorization: {}\r\n",
            self.addr,
            env!("CARGO_PKG_VERSION"),
            self.authorization
        );
        if !body.is_empty() || matches!(method, "POST" | "PUT") {
            head.push_str(&format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut req = head.into_bytes();
        req.extend_from_slice(body);
        conn.write_all(&req).context("sending the request")?;
        conn.flush()?;
        Answer::read(conn, method == "HEAD")
    }

    /// A JSON request; a 2xx answer's JSON body, or an [`ApiFailure`] in
    /// the error chain.
    pub fn json(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> Result<serde_json::Value> {
        let bytes = match body {
            Some(v) => serde_json::to_vec(v)?,
            None => Vec::new(),
        };
        let mut a = self.open(method, path, "application/json", &bytes)?;
        let raw = a.body_bytes()?;
        if !(200..300).contains(&a.status) {
            return Err(ApiFailure::from_body(a.status, &raw).into());
        }
        serde_json::from_slice(&raw).with_context(|| format!("the daemon's answer to {method} {path} is not JSON"))
    }
}

/// The connection (plain or TLS).
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// How the body of an answer is delimited.
enum Framing {
    Length(u64),
    Chunked { left: u64, done: bool },
    UntilClose,
}

/// An answer whose body is read on demand ([`Read`]).
pub struct Answer {
    pub status: u16,
    reader: BufReader<Conn>,
    framing: Framing,
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer").field("status", &self.status).finish_non_exhaustive()
    }
}

impl Answer {
    fn read(conn: Conn, head_only: bool) -> Result<Answer> {
        let mut reader = BufReader::with_capacity(64 << 10, conn);
        let mut status: Option<u16> = None;
        let mut headers = Vec::new();
        let mut seen = 0usize;
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).context("reading the daemon's answer")?;
            if n == 0 {
                bail!("the daemon closed the connection without an answer");
            }
            seen += n;
            if seen > MAX_HEAD {
                bail!("the daemon's answer headers are too long");
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if status.is_none() {
                let code = line.split_whitespace().nth(1).and_then(|c| c.parse().ok());
                status = Some(code.ok_or_else(|| anyhow!("not an HTTP answer: {line:?}"))?);
                continue;
            }
            if line.is_empty() {
                // 1xx interim answers are followed by the real one.
                if status.is_some_and(|s| (100..200).contains(&s)) {
                    status = None;
                    headers.clear();
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let status = status.unwrap_or(0);
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let framing = if head_only || status == 204 || status == 304 {
            Framing::Length(0)
        } else if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            Framing::Chunked { left: 0, done: false }
        } else if let Some(n) = header("content-length") {
            Framing::Length(n.parse().map_err(|_| anyhow!("bad Content-Length {n:?}"))?)
        } else {
            Framing::UntilClose
        };
        Ok(Answer { status, reader, framing })
    }

    /// The whole body.
    pub fn body_bytes(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out).context("reading the daemon's answer")?;
        Ok(out)
    }

    /// Fails with the API's error unless the status is 2xx.
    pub fn ok(mut self) -> Result<Answer> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let body = self.body_bytes().unwrap_or_default();
        Err(ApiFailure::from_body(self.status, &body).into())
    }
}

fn truncated() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the answer ended early (the node aborted it; see its log)")
}

impl Read for Answer {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match &mut self.framing {
            Framing::Length(left) => {
                if *left == 0 {
                    return Ok(0);
                }
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(truncated());
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::UntilClose => self.reader.read(buf),
            Framing::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut line = String::new();
                    if self.reader.read_line(&mut line)? == 0 {
                        return Err(truncated());
                    }
                    let size = line.trim().split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad chunk size {size:?}"))
                    })?;
                    if size == 0 {
                        // Trailers, then the empty line.
                        loop {
                            let mut t = String::new();
                            if self.reader.read_line(&mut t)? == 0 || t.trim().is_empty() {
                                break;
                            }
                        }
                        *done = true;
                        return Ok(0);
                    }
                    *left = size;
                }
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(truncated());
                }
                *left -= n as u64;
                if *left == 0 {
                    let mut crlf = [0u8; 2];
                    self.reader.read_exact(&mut crlf).map_err(|_| truncated())?;
                }
                Ok(n)
            }
        }
    }
}

/// A TLS client configuration trusting exactly the first certificate of
/// `cert_file` (the node's own).
fn pinned_tls(cert_file: &std::path::Path) -> Result<Arc<rustls::ClientConfig>> {
    let cert = CertificateDer::from_pem_file(cert_file)
        .map_err(|e| anyhow!("reading the node's certificate {}: {e}", cert_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned { cert: cert.into_owned(), provider }))
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Accepts exactly one certificate (signatures are still verified).
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
            Err(rustls::Error::General("the server's certificate is not the one in http.tls.cert_file".into()))
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

/// Percent-encodes one path segment (or a handle: `/` kept when
/// `keep_slash`).
pub fn encode_path(s: &str, keep_slash: bool) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    const HANDLE: &AsciiSet = &SEGMENT.remove(b'/');
    utf8_percent_encode(s, if keep_slash { HANDLE } else { SEGMENT }).to_string()
}

/// Percent-encodes a query value.
pub fn encode_query(s: &str) -> String {
    encode_path(s, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(raw: &'static [u8]) -> Answer {
        // A connected socket pair on loopback carrying `raw`.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(raw).unwrap();
        });
        let c = TcpStream::connect(addr).unwrap();
        t.join().unwrap();
        Answer::read(Conn::Plain(c), false).unwrap()
    }

    #[test]
    fn chunked_and_length_bodies() {
        let mut a =
            answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n");
        assert_eq!(a.status, 200);
        assert_eq!(a.body_bytes().unwrap(), b"abcde");
        let mut a = answer(b"HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\nhello");
        assert_eq!((a.status, a.body_bytes().unwrap()), (404, b"hello".to_vec()));
        let mut a = answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nrest");
        assert_eq!((a.status, a.body_bytes().unwrap()), (200, b"rest".to_vec()));
        // A chunked body cut short is an error, not a short read.
        let mut a = answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
        assert!(a.body_bytes().is_err());
    }

    #[test]
    fn api_failure_from_body() {
        let f = ApiFailure::from_body(409, br#"{"error":{"code":"already_exists","message":"x exists","field":null}}"#);
        assert_eq!((f.status, f.code.as_str(), f.field.as_deref()), (409, "already_exists", None));
        assert!(f.to_string().contains("x exists"));
        let f = ApiFailure::from_body(502, b"<html>bad gateway</html>");
        assert_eq!(f.code, "http_error");
    }

    #[test]
    fn encoding() {
        assert_eq!(encode_path("88.1/a b%/c", true), "88.1/a%20b%25/c");
        assert_eq!(encode_path("1.0/x", false), "1.0%2Fx");
    }

    #[test]
    fn debug_redacts_the_secret() {
        let c = AdminClient { addr: "127.0.0.1:1".parse().unwrap(), tls: None, authorization: "Bearer hunter2".into() };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
