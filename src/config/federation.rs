//! `[federation]`: how this node talks to other nodes of the hierarchy —
//! recursion for clients that ask for it (REC flag), the root/top node it
//! starts from, the cache of upstream answers, and QUIC links
//! (`[federation.quic]`). Parsed and checked here; used by `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[federation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// Resolve foreign identifiers for requests that set REC. Default false
    /// (such requests get 301, or a referral to a non-hosted enterprise
    /// prefix's node, as without the flag).
    pub recursion: bool,
    /// Where global resolution starts: the top (or root) node's Handle
    /// interfaces, "udp://ip:port", "tcp://ip:port", "quic://ip:port", or
    /// "ip:port" for UDP and TCP on the same port. Required with recursion.
    pub root: Vec<String>,
    /// Answers kept in the recursion cache (0 = no cache).
    pub cache_entries: u64,
    /// Longest time an upstream answer is kept, seconds (values' TTLs
    /// rule below it; at most two days).
    pub max_ttl_secs: u32,
    /// How long "not found" answers (100, 200, no service) are kept.
    pub negative_ttl_secs: u32,
    /// Exchanges one resolution may take (referrals, service handles);
    /// beyond it the client gets RC 6.
    pub max_steps: u32,
    /// A request whose header recursionCount reaches this is answered RC 6
    /// (loops between recursing servers).
    pub max_recursion_count: u8,
    /// Whole upstream TCP/QUIC exchange, milliseconds.
    pub timeout_ms: u64,
    /// Recursive requests waiting for an upstream answer at once; more
    /// are answered RC 3 (server too busy).
    pub max_pending: usize,
    pub quic: QuicConfig,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            recursion: false,
            root: Vec::new(),
            cache_entries: 100_000,
            max_ttl_secs: MAX_TTL_SECS,
            negative_ttl_secs: 60,
            max_steps: 16,
            max_recursion_count: 8,
            timeout_ms: 5000,
            max_pending: 4096,
            quic: QuicConfig::default(),
        }
    }
}

/// Two days: the cap on cached answers.
pub const MAX_TTL_SECS: u32 = 2 * 86_400;

/// `[federation.quic]`: Handle over QUIC (ALPN `hdl`) with mutual TLS
/// between idnode nodes (`src/serve/quic.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuicConfig {
    /// Serve the QUIC door here (UDP; port 0 = any). None = no QUIC door.
    pub listen: Option<SocketAddr>,
    /// This node's certificate and key (PEM). Relative paths are under
    /// node.data_dir; generated (self-signed) when neither exists.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Certificates (PEM files) of the peers this node trusts, both as
    /// clients of its door and as servers it dials.
    pub trusted_peers: Vec<PathBuf>,
    /// Peers reached over QUIC: their Handle TCP address (as published in
    /// their HS_SITE) and their QUIC address. Others are reached over
    /// UDP/TCP.
    pub peers: Vec<QuicPeer>,
}

impl Default for QuicConfig {
    fn default() -> Self {
        QuicConfig {
            listen: None,
            cert_file: PathBuf::from("quic.crt"),
            key_file: PathBuf::from("quic.key"),
            trusted_peers: Vec::new(),
            peers: Vec::new(),
        }
    }
}

/// One `[[federation.quic.peers]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuicPeer {
    /// The peer's Handle TCP interface.
    pub tcp: SocketAddr,
    /// The peer's QUIC door.
    pub quic: SocketAddr,
}

/// A parsed `root` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootEntry {
    Udp(SocketAddr),
    Tcp(SocketAddr),
    Quic(SocketAddr),
    /// UDP and TCP on the same port.
    Both(SocketAddr),
}

/// Parses one `root` entry.
pub fn parse_root(s: &str) -> Result<RootEntry, String> {
    let (scheme, rest) = match s.split_once("://") {
        Some((a, b)) => (Some(a), b),
        None => (None, s),
    };
    let addr: SocketAddr =
        rest.parse().map_err(|_| format!("{s:?} is not ip:port (optionally udp://, tcp:// or quic://)"))?;
    match scheme {
        None => Ok(RootEntry::Both(addr)),
        Some("udp") => Ok(RootEntry::Udp(addr)),
        Some("tcp") => Ok(RootEntry::Tcp(addr)),
        Some("quic") => Ok(RootEntry::Quic(addr)),
        Some(other) => Err(format!("unknown scheme {other:?} in {s:?} (udp, tcp or quic)")),
    }
}

impl FederationConfig {
    /// Problems as (key, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        for r in &self.root {
            if let Err(e) = parse_root(r) {
                p.push(("federation.root", e));
            }
        }
        if self.recursion && self.root.is_empty() {
            p.push(("federation.root", "is required when recursion = true".to_owned()));
        }
        if !(1..=MAX_TTL_SECS).contains(&self.max_ttl_secs) {
            p.push(("federation.max_ttl_secs", format!("must be between 1 and {MAX_TTL_SECS} (two days)")));
        }
        if self.negative_ttl_secs > self.max_ttl_secs {
            p.push(("federation.negative_ttl_secs", "must not exceed max_ttl_secs".to_owned()));
        }
        if !(1..=64).contains(&self.max_steps) {
            p.push(("federation.max_steps", "must be between 1 and 64".to_owned()));
        }
        if self.max_recursion_count == 0 {
            p.push(("federation.max_recursion_count", "must be at least 1".to_owned()));
        }
        if !(10..=120_000).contains(&self.timeout_ms) {
            p.push(("federation.timeout_ms", "must be between 10 and 120000".to_owned()));
        }
        let quic_on = self.quic.listen.is_some() || !self.quic.peers.is_empty();
        if quic_on && self.quic.trusted_peers.is_empty() {
            p.push((
                "federation.quic.trusted_peers",
                "lists no certificate: no peer could be authenticated".to_owned(),
            ));
        }
        let has_quic_root = self.root.iter().any(|r| matches!(parse_root(r), Ok(RootEntry::Quic(_))));
        if has_quic_root && !quic_on {
            p.push(("federation.root", "a quic:// root needs [federation.quic] (listen or peers)".to_owned()));
        }
        if self.max_pending == 0 {
            p.push(("federation.max_pending", "must be at least 1".to_owned()));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_entries_parse() {
        let a: SocketAddr = "127.0.0.1:2641".parse().unwrap();
        assert_eq!(parse_root("127.0.0.1:2641"), Ok(RootEntry::Both(a)));
        assert_eq!(parse_root("udp://127.0.0.1:2641"), Ok(RootEntry::Udp(a)));
        assert_eq!(parse_root("tcp://127.0.0.1:2641"), Ok(RootEntry::Tcp(a)));
        assert_eq!(parse_root("quic://127.0.0.1:2641"), Ok(RootEntry::Quic(a)));
        assert!(parse_root("http://127.0.0.1:1").is_err());
        assert!(parse_root("top.example:2641").is_err());
    }

    #[test]
    fn recursion_needs_a_root_and_sane_limits() {
        let mut f = FederationConfig { recursion: true, ..FederationConfig::default() };
        assert!(f.problems().iter().any(|(k, _)| *k == "federation.root"));
        f.root = vec!["127.0.0.1:2641".into()];
        assert!(f.problems().is_empty());
        f.max_ttl_secs = 3 * 86_400;
        assert!(f.problems().iter().any(|(k, _)| *k == "federation.max_ttl_secs"));
    }
}
