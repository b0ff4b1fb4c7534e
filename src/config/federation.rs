//! `[federation]`: how this node takes part in the hierarchy (design.md §2).
//!
//! * A **secondary** reports its enterprise prefixes upward: `top` is the
//!   top node's Handle TCP address, `identity` + `secret_file` the
//!   administrator it authenticates as there (challenge-response with the
//!   HS_SECKEY, handle-protocol.md §6.1). Empty `top` = no outbox.
//! * A **top** node homes the derived-prefix markers of
//!   `derived_prefixes` (`0.NA/0.NA/88`) and admits the secondaries listed
//!   in `[[federation.admitted]]`: each identity may create and update
//!   `0.NA/<prefix>` handles under its `prefixes`.
//! * **Recursion** (any role): requests that set REC are resolved from
//!   `root` on, with a cache of upstream answers; QUIC links between nodes
//!   are `[federation.quic]`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Problems, Role};

/// `[federation]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// Secondary: the top node's Handle TCP door, `host:port`; empty = do
    /// not report prefixes upward.
    pub top: String,
    /// Secondary: the identity (`index:handle`) used at the top node; empty
    /// = `300:0.NA/<node_prefix>`.
    pub identity: String,
    /// Secondary: file holding the HS_SECKEY of `identity` at the top node;
    /// relative paths are under `node.data_dir`. Default: the admin secret.
    pub secret_file: PathBuf,
    /// Secondary: first retry delay after a failed delivery; doubles per
    /// failure up to `retry_max_ms`.
    pub retry_min_ms: u64,
    pub retry_max_ms: u64,
    /// One exchange with another node (the top node, an upstream server
    /// during recursion), milliseconds.
    pub timeout_ms: u64,
    /// Top: derived prefixes this node is responsible for (`88` homes the
    /// marker `0.NA/0.NA/88`: every `0.NA/88.*` prefix handle is answered
    /// here, 100 when not stored).
    pub derived_prefixes: Vec<String>,
    /// Top: secondary nodes allowed to register prefix handles.
    pub admitted: Vec<AdmittedSecondary>,
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
    /// Recursive requests waiting for an upstream answer at once; more
    /// are answered RC 3 (server too busy).
    pub max_pending: usize,
    pub quic: QuicConfig,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            top: String::new(),
            identity: String::new(),
            secret_file: PathBuf::from("admin.secret"),
            retry_min_ms: 500,
            retry_max_ms: 30_000,
            timeout_ms: 5_000,
            derived_prefixes: Vec::new(),
            admitted: Vec::new(),
            recursion: false,
            root: Vec::new(),
            cache_entries: 100_000,
            max_ttl_secs: MAX_TTL_SECS,
            negative_ttl_secs: 60,
            max_steps: 16,
            max_recursion_count: 8,
            max_pending: 4096,
            quic: QuicConfig::default(),
        }
    }
}

/// `[[federation.admitted]]`: one secondary node a top node accepts prefix
/// registrations from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmittedSecondary {
    /// The secondary's administrator, `index:handle` (e.g. `300:0.NA/88.118.8`);
    /// its HS_SECKEY is stored at that index of that handle.
    pub identity: String,
    /// Prefixes under which it may register (`88.118.8` allows
    /// `0.NA/88.118.8.*`); the top writes an HS_ADMIN for the identity into
    /// `0.NA/<prefix>`.
    pub prefixes: Vec<String>,
    /// File holding the secret the secondary authenticates with; relative
    /// paths are under `node.data_dir`.
    pub secret_file: PathBuf,
}

impl FederationConfig {
    /// The identity a secondary uses at its top node.
    pub fn identity_or_default(&self, node_prefix: &str) -> String {
        if self.identity.is_empty() { format!("300:0.NA/{node_prefix}") } else { self.identity.clone() }
    }

    pub(super) fn validate(&self, role: Role, p: &mut Problems) {
        let check_identity = |s: &str| idnode_resolver::auth::Identity::parse(s).map(|_| ()).map_err(|e| e.to_string());
        if !self.top.is_empty() {
            if role != Role::Secondary {
                p.add("federation.top", "only a secondary node reports prefixes to a top node");
            }
            if !self
                .top
                .rsplit_once(':')
                .is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|n| n > 0))
            {
                p.add("federation.top", format!("{:?} is not host:port", self.top));
            }
        }
        if !self.identity.is_empty()
            && let Err(e) = check_identity(&self.identity)
        {
            p.add("federation.identity", e);
        }
        if self.secret_file.as_os_str().is_empty() {
            p.add("federation.secret_file", "must not be empty");
        }
        if !(10..=600_000).contains(&self.retry_min_ms) {
            p.add("federation.retry_min_ms", "must be between 10 and 600000");
        }
        if self.retry_max_ms < self.retry_min_ms || self.retry_max_ms > 3_600_000 {
            p.add("federation.retry_max_ms", "must be between retry_min_ms and 3600000");
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            p.add("federation.timeout_ms", "must be between 100 and 120000");
        }
        let top_only = role == Role::Top;
        if !self.derived_prefixes.is_empty() && !top_only {
            p.add("federation.derived_prefixes", "only a top node homes derived-prefix markers");
        }
        for (i, d) in self.derived_prefixes.iter().enumerate() {
            if let Err(e) = idnode_registry::ident::check_prefix_chars(d) {
                p.add(format!("federation.derived_prefixes[{i}]"), format!("{d:?}: {e}"));
            }
        }
        if !self.admitted.is_empty() && !top_only {
            p.add("federation.admitted", "only a top node admits secondary nodes");
        }
        for (i, a) in self.admitted.iter().enumerate() {
            if let Err(e) = check_identity(&a.identity) {
                p.add(format!("federation.admitted[{i}].identity"), e);
            }
            if a.prefixes.is_empty() {
                p.add(format!("federation.admitted[{i}].prefixes"), "must list at least one prefix");
            }
            for (j, x) in a.prefixes.iter().enumerate() {
                if let Err(e) = idnode_registry::ident::check_prefix_chars(x) {
                    p.add(format!("federation.admitted[{i}].prefixes[{j}]"), format!("{x:?}: {e}"));
                }
            }
            if a.secret_file.as_os_str().is_empty() {
                p.add(format!("federation.admitted[{i}].secret_file"), "must not be empty");
            }
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
    use super::super::Config;
    use super::*;

    fn fields(cfg: &Config) -> Vec<String> {
        cfg.validate().into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn roles_and_keys() {
        let mut cfg = Config::default();
        cfg.federation.top = "127.0.0.1:2641".into();
        assert_eq!(cfg.validate(), vec![]);
        assert_eq!(cfg.federation.identity_or_default("88.118.8"), "300:0.NA/88.118.8");
        cfg.federation.top = "nowhere".into();
        cfg.federation.identity = "300:".into();
        cfg.federation.retry_max_ms = 1;
        cfg.federation.derived_prefixes = vec!["88".into()];
        cfg.federation.admitted =
            vec![AdmittedSecondary { identity: "300:0.NA/X".into(), prefixes: vec![], secret_file: "s".into() }];
        let f = fields(&cfg);
        for want in [
            "federation.top",
            "federation.identity",
            "federation.retry_max_ms",
            "federation.derived_prefixes",
            "federation.admitted",
            "federation.admitted[0].prefixes",
        ] {
            assert!(f.iter().any(|x| x == want), "{want} missing from {f:?}");
        }

        let mut top = Config::default();
        top.node.role = Role::Top;
        top.federation.derived_prefixes = vec!["88".into()];
        top.federation.admitted = vec![AdmittedSecondary {
            identity: "300:0.NA/88.118.8".into(),
            prefixes: vec!["88.118.8".into()],
            secret_file: "a.secret".into(),
        }];
        assert_eq!(top.validate(), vec![]);
        top.federation.top = "127.0.0.1:2641".into();
        assert_eq!(fields(&top), ["federation.top"], "a top node has no top node");
    }

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
