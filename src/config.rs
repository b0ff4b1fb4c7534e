//! Configuration: one TOML file, strict structs, explicit defaults, `IDNODE_*`
//! environment overrides, and [`Config::validate`] that reports every problem
//! at once.
//!
//! Precedence, lowest first: the defaults written in this file (`fn default`),
//! the TOML file given with `--config` (or [`EMBEDDED_DEFAULT`] when there is
//! none), `IDNODE_<SECTION>__<KEY>` environment variables, then command-line
//! flags such as `--data-dir`.
//!
//! This module never holds a secret. Secrets (the admin secret, later TLS
//! keys) live in files whose *paths* are configured here; [`Secret`] reads
//! them and redacts itself in `Debug`, so a secret cannot reach a log line by
//! accident. Nothing here binds a socket or opens the store.

#[path = "config/federation.rs"]
mod federation;

pub use federation::{FederationConfig, RootEntry, parse_root};

#[path = "config/mirror.rs"]
mod mirror;
pub use mirror::MirrorConfig;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

#[path = "config/dns.rs"]
mod dns;
pub use dns::{DnsConfig, default_service as default_dns_service};

#[path = "config/http.rs"]
mod http;
pub use http::HttpLimits;

#[path = "config/env.rs"]
mod env;
use env::{collect_overrides, set_path, typed_override};

#[path = "config/secret.rs"]
mod secret;
pub use secret::Secret;
#[path = "config/store_budget.rs"]
mod store_budget;
pub use store_budget::ByteSize;

#[path = "config/store.rs"]
mod store;
pub use store::{PgIsolation, StoreBackend, StoreConfig};

#[path = "config/web.rs"]
mod web;
pub use web::WebConfig;

#[path = "config/logs.rs"]
mod logs;
pub use logs::LogsConfig;

/// Prefix of environment overrides: `IDNODE_HTTP__LISTEN=127.0.0.1:9000`
/// sets `[http] listen`. `__` separates nesting levels; a single `_` is part
/// of a key name (`IDNODE_NODE__DATA_DIR` sets `[node] data_dir`).
/// Variables starting with the prefix but without `__` (such as
/// `IDNODE_CONFIG`) are not overrides and are ignored here.
pub const ENV_PREFIX: &str = "IDNODE_";

/// The configuration used when no `--config` file is given: every default,
/// except that the Handle listeners bind loopback only, so a first
/// `idnode serve` on a laptop does not expose anything.
pub const EMBEDDED_DEFAULT: &str = r#"
# idnode embedded default (used when no --config file is given).
# See deploy/idnode.toml for every option.
[handle]
udp_listen = "127.0.0.1:2641"
tcp_listen = "127.0.0.1:2641"
"#;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub node: NodeConfig,
    pub store: StoreConfig,
    pub handle: HandleConfig,
    pub http: HttpConfig,
    pub dns: DnsConfig,
    pub limits: LimitsConfig,
    pub snms: SnmsConfig,
    pub telemetry: TelemetryConfig,
    pub admin: AdminConfig,
    pub federation: FederationConfig,
    pub mirror: MirrorConfig,
    pub web: WebConfig,
    pub logs: LogsConfig,
}

/// What this node is in the hierarchy (design.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A secondary node: homes its node prefix and enterprise prefixes.
    Secondary,
    /// A national top node: homes `0.NA/<prefix>` referral records.
    Top,
    /// A read-only copy of a primary.
    Mirror,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Secondary => "secondary",
            Role::Top => "top",
            Role::Mirror => "mirror",
        }
    }
}

/// Case rule for identifier suffixes of newly created prefixes. Prefixes are
/// always compared ASCII-case-insensitively (idis-node.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CasePolicy {
    /// `LOT-a` and `LOT-A` are different identifiers (CNRI and IDIS default).
    Sensitive,
    /// Suffixes are compared ASCII-case-insensitively.
    Insensitive,
}

impl From<CasePolicy> for idnode_registry::ident::CasePolicy {
    fn from(p: CasePolicy) -> Self {
        match p {
            CasePolicy::Sensitive => idnode_registry::ident::CasePolicy::CaseSensitive,
            CasePolicy::Insensitive => idnode_registry::ident::CasePolicy::CaseInsensitive,
        }
    }
}

/// `[node]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    pub role: Role,
    /// The prefix this node homes, e.g. `88.118.8`.
    pub node_prefix: String,
    /// Where the store, the server key and the admin secret live.
    pub data_dir: PathBuf,
    /// Default suffix case rule for prefixes created on this node.
    pub case_policy: CasePolicy,
    /// How long shutdown waits for listeners to drain before giving up.
    pub shutdown_timeout_ms: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            role: Role::Secondary,
            node_prefix: "88.118.8".to_owned(),
            data_dir: PathBuf::from("./idnode-data"),
            case_policy: CasePolicy::Sensitive,
            shutdown_timeout_ms: 5_000,
        }
    }
}

/// `[handle]`: the Handle/IDIS binary protocol doors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandleConfig {
    pub udp_listen: SocketAddr,
    pub tcp_listen: SocketAddr,
    /// Number of `SO_REUSEPORT` UDP sockets; 0 = one per CPU core.
    pub udp_sockets: u16,
    pub tcp_max_connections: u32,
    /// Close a TCP connection with no request for this long.
    pub tcp_idle_timeout_ms: u64,
    /// Give up on a request whose bytes do not all arrive within this time.
    pub tcp_read_timeout_ms: u64,
    /// Close a connection whose answer is not taken by the client within
    /// this time (a client that never reads cannot hold a permit).
    pub tcp_write_timeout_ms: u64,
    /// Open connections one client address may hold (addresses in
    /// `limits.exempt_networks` are not counted).
    pub tcp_max_connections_per_address: u32,
    /// Server key pair (PKCS#8 PEM); relative paths are under `node.data_dir`.
    pub server_key_file: PathBuf,
    /// Optional key (PKCS#8 PEM, RSA or DSA) that signs certified answers and
    /// is published in HS_SITE instead of the server key.
    pub signing_key_file: Option<PathBuf>,
    /// Server administrators (`index:handle`), allowed every admin
    /// operation, including home / unhome / list homed prefixes.
    pub admins: Vec<String>,
    /// Seconds a challenge waits for its answer (CNRI `max_auth_time`).
    pub challenge_lifetime_s: u64,
    /// Most outstanding challenges.
    pub challenge_max: u32,
    /// Most bytes of requests kept by outstanding challenges.
    pub challenge_max_bytes: u64,
    /// Most sessions at once (OC 400).
    pub session_max: u32,
    /// Most bytes held by sessions at once.
    pub session_max_bytes: u64,
    /// Upper bound of a session's idle timeout, seconds.
    pub session_max_timeout_s: u64,
    /// Deepest HS_VLIST nesting followed when authorising.
    pub vlist_max_depth: u32,
    pub site: SiteConfig,
}

impl Default for HandleConfig {
    fn default() -> Self {
        HandleConfig {
            udp_listen: SocketAddr::from(([0, 0, 0, 0], 2641)),
            tcp_listen: SocketAddr::from(([0, 0, 0, 0], 2641)),
            udp_sockets: 0,
            tcp_max_connections: 4_096,
            tcp_idle_timeout_ms: 30_000,
            tcp_read_timeout_ms: 10_000,
            tcp_write_timeout_ms: 10_000,
            tcp_max_connections_per_address: 256,
            server_key_file: PathBuf::from("server.key"),
            signing_key_file: None,
            admins: Vec::new(),
            challenge_lifetime_s: 60,
            challenge_max: 10_000,
            challenge_max_bytes: 32 << 20,
            session_max: 10_000,
            session_max_bytes: 8 << 20,
            session_max_timeout_s: 86_400,
            vlist_max_depth: 8,
            site: SiteConfig::default(),
        }
    }
}

impl HandleConfig {
    /// [`HandleConfig::udp_sockets`] with 0 resolved to the number of cores.
    #[allow(dead_code, reason = "used by the Handle UDP listener")]
    pub fn udp_socket_count(&self) -> usize {
        match self.udp_sockets {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => usize::from(n),
        }
    }
}

/// `[handle.site]`: what this node advertises in its HS_SITE value
/// (handle-protocol.md §4.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// IP addresses clients should use to reach this node. Empty = the
    /// listen address when it is a specific address, else 127.0.0.1.
    pub addresses: Vec<String>,
    /// HS_SITE serial number; bump it whenever the site changes.
    pub serial: u16,
    /// HS_SITE `desc` attribute.
    pub description: String,
    /// Publish this exact HS_SITE record (raw §4.3 bytes) instead of the one
    /// built from the fields above and the server key — for a node whose
    /// record is fixed by its registration at the national node. Relative
    /// paths are under `node.data_dir`.
    pub record_file: Option<PathBuf>,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            addresses: Vec::new(),
            serial: 1,
            description: "idnode secondary node".to_owned(),
            record_file: None,
        }
    }
}

/// `[http]`: REST/SNMS API, admin API, `/metrics`, `/healthz`, `/readyz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Accept credentials (Basic / Handle auth, tokens) over plain HTTP. Even
    /// when true, the Handle REST API only takes them from loopback clients
    /// (local testing, or TLS terminated by a proxy on the same host); off,
    /// credentials need HTTPS.
    pub allow_plain_http_auth: bool,
    pub tls: TlsConfig,
    pub limits: HttpLimits,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            allow_plain_http_auth: false,
            tls: TlsConfig::default(),
            limits: HttpLimits::default(),
        }
    }
}

/// `[http.tls]`: HTTPS on the HTTP port (CNRI "port unification": a
/// connection whose first byte is a TLS handshake record is TLS, anything
/// else plain HTTP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Serve HTTPS on `http.listen` next to plain HTTP.
    pub enabled: bool,
    /// Certificate chain (PEM); relative paths are under `node.data_dir`.
    pub cert_file: PathBuf,
    /// Private key (PEM, PKCS#8 / PKCS#1 / SEC1); relative paths are under
    /// `node.data_dir`.
    pub key_file: PathBuf,
    /// When neither file exists, generate a self-signed certificate (and
    /// key, mode 0600) into them on start.
    pub self_signed: bool,
    /// Extra DNS names / IP addresses for a generated certificate (it
    /// always names `localhost`, 127.0.0.1, ::1, `handle.site.addresses`
    /// and a specific `http.listen` address).
    pub self_signed_names: Vec<String>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            enabled: true,
            cert_file: PathBuf::from("tls.crt"),
            key_file: PathBuf::from("tls.key"),
            self_signed: true,
            self_signed_names: Vec::new(),
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest Handle message accepted (the protocol's ceiling is 256 KiB).
    pub max_message_bytes: u32,
    /// Largest HTTP request body.
    pub http_max_body_bytes: u32,
    /// Handle requests per second per client network (UDP and TCP doors,
    /// each its own buckets); 0 = no rate limit.
    pub per_client_rps: u32,
    /// Requests a quiet client network may send at once above `per_client_rps`.
    pub per_client_burst: u32,
    /// Every Nth rate-limited UDP request gets a short "retry over TCP"
    /// answer (RC 2) instead of silence, as DNS response-rate limiting's
    /// slip; 0 = drop them all.
    pub per_client_slip: u32,
    /// Client network size for IPv4 rate limits (prefix length).
    pub client_ipv4_prefix: u8,
    /// Client network size for IPv6 rate limits (prefix length).
    pub client_ipv6_prefix: u8,
    /// Sources limited per address instead of per network: loopback and
    /// private networks, where each address is a device of the operator's
    /// own site (a factory floor of scanners shares one /24).
    pub per_address_networks: Vec<String>,
    /// Sources exempt from every Handle-door limit (rate, amplification cap,
    /// per-address connection cap): federation peers, monitoring, the host
    /// itself. CIDR blocks or single addresses.
    pub exempt_networks: Vec<String>,
    /// Most client networks tracked at once by each limiter (memory bound,
    /// about 40 bytes each).
    pub max_tracked_clients: u32,
    /// A UDP answer to a source that has not proven its address (no TCP
    /// exchange within `proven_source_ttl_secs`) may be at most this many
    /// times the request's size; larger answers become a short "retry over
    /// TCP" answer (RC 2). 0 = no cap.
    pub udp_max_amplification: u32,
    /// How long a TCP exchange proves a source address for UDP answers.
    pub proven_source_ttl_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_message_bytes: MAX_MESSAGE,
            http_max_body_bytes: 8 * 1024 * 1024,
            per_client_rps: 1_000,
            per_client_burst: 2_000,
            per_client_slip: 2,
            client_ipv4_prefix: 24,
            client_ipv6_prefix: 56,
            per_address_networks: [
                "127.0.0.0/8",
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "::1/128",
                "fc00::/7",
                "fe80::/10",
            ]
            .map(str::to_owned)
            .to_vec(),
            exempt_networks: vec!["127.0.0.1/32".to_owned(), "::1/128".to_owned()],
            max_tracked_clients: 100_000,
            udp_max_amplification: 10,
            proven_source_ttl_secs: 600,
        }
    }
}

/// `[snms]`: the SNMS-compatible HTTP API (`/identity/token`,
/// `/identityv2/data...`, `/snms/api/...`; shared/spec/snms-api.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnmsConfig {
    /// Serve the SNMS API on the HTTP door.
    pub enabled: bool,
    /// Mount the API under this path (e.g. `/snmsapi` behind a proxy);
    /// empty = at the root.
    pub base_path: String,
    /// Lifetime of a login token, seconds (the contract says 24 h).
    pub token_ttl_secs: u64,
    /// Live tokens kept per account (new logins drop the oldest beyond this).
    pub max_tokens_per_user: u32,
    /// Most items per batch request (the contract's limit is 2000).
    pub batch_limit: u32,
    /// Offer the hashed login `/identity/token/v1`. It needs the node to keep
    /// SHA-256 of each password (a password-equivalent for that login only).
    pub hashed_login: bool,
    /// The deployment's UTC offset in minutes, for the date in hashed logins
    /// and the `yyyy-MM-dd HH:mm:ss` fields (480 = China Standard Time).
    pub utc_offset_minutes: i32,
    /// `ghrName` in prefix answers: who allocated the prefixes.
    pub ghr_name: String,
    /// Approve enterprise filings at once instead of waiting for review.
    pub auto_approve: bool,
    /// Hosting server ids `ent/config` accepts; empty = any id >= 1.
    pub proxy_server_ids: Vec<u64>,
    /// Default quotas of an enterprise (0 = unlimited): identifiers it may
    /// hold, requests (registrations + resolutions) per day, prefixes.
    pub enterprise_max_registrations: u64,
    pub enterprise_daily_requests: u64,
    pub enterprise_max_prefixes: u64,
}

impl Default for SnmsConfig {
    fn default() -> Self {
        SnmsConfig {
            enabled: true,
            base_path: String::new(),
            token_ttl_secs: 86_400,
            max_tokens_per_user: 64,
            batch_limit: 2_000,
            hashed_login: true,
            utc_offset_minutes: 480,
            ghr_name: "工业互联网标识解析国家顶级节点".to_owned(),
            auto_approve: false,
            proxy_server_ids: Vec::new(),
            enterprise_max_registrations: 0,
            enterprise_daily_requests: 0,
            enterprise_max_prefixes: 0,
        }
    }
}

/// The protocol's message ceiling (handle-protocol.md §"Limits").
const MAX_MESSAGE: u32 = idnode_registry::model::wire::MAX_MESSAGE as u32;

/// `log_format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `[telemetry]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// An `EnvFilter` directive such as `info` or `info,idnode=debug`.
    /// `RUST_LOG`, when set, wins.
    pub log_level: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig { log_format: LogFormat::Text, log_level: "info".to_owned() }
    }
}

/// `[admin]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Serve the admin API (`/admin/v1/...`, used by the CLI while the
    /// daemon runs) and `/metrics` on their own listener, `listen`. It
    /// takes the admin secret (Bearer) or HTTP Basic as an admin identity;
    /// plain HTTP only from loopback clients, HTTPS from anywhere.
    pub api_enabled: bool,
    /// The admin door: admin API, `/metrics`, `/healthz`, `/readyz`.
    /// Loopback by default; never on the public HTTP door.
    pub listen: SocketAddr,
    /// File holding the admin secret (HS_SECKEY of the node's admin
    /// identity); relative paths are under `node.data_dir`. Written by
    /// `idnode init` with mode 0600.
    pub secret_file: PathBuf,
    /// Server administrators: identities (`index:handle`, e.g.
    /// `300:0.NA/88.118.8`) allowed every operation on this server
    /// regardless of HS_ADMIN values (CNRI `server_admins`). The node
    /// administrator needs no entry here: the HS_ADMIN of its prefix handle
    /// already grants it the node prefix and everything below.
    pub server_admins: Vec<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            api_enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8001)),
            secret_file: PathBuf::from("admin.secret"),
            server_admins: Vec::new(),
        }
    }
}

/// Where a configuration came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Embedded,
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Embedded => f.write_str("embedded default configuration"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Why a configuration could not be loaded at all (as opposed to loaded
/// but invalid: see [`Problem`]). Every variant is the operator's to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{source_name}: {message}")]
    Parse { source_name: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
}

/// One thing wrong with a loaded configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the setting, e.g. `handle.udp_sockets`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Config {
    /// Loads `path` (or [`EMBEDDED_DEFAULT`]) and applies `IDNODE_*`
    /// overrides from `env`. Does not validate: call [`Config::validate`].
    pub fn load<I>(path: Option<&Path>, env: I) -> Result<(Config, Source), ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let (text, source) = match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.to_owned(), source })?;
                (text, Source::File(p.to_owned()))
            }
            None => (EMBEDDED_DEFAULT.to_owned(), Source::Embedded),
        };
        let cfg = Config::from_toml_with_env(&text, &source.to_string(), env)?;
        Ok((cfg, source))
    }

    /// Parses `text` strictly, then applies overrides from `env`.
    pub fn from_toml_with_env<I>(text: &str, source_name: &str, env: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let parse_err = |e: toml::de::Error| ConfigError::Parse {
            source_name: source_name.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        };
        // Deserialize the text itself first: its errors carry line numbers.
        let cfg: Config = toml::from_str(text).map_err(parse_err)?;
        let overrides = collect_overrides(env)?;
        if overrides.is_empty() {
            return Ok(cfg);
        }
        let mut table: toml::Table = toml::from_str(text).map_err(parse_err)?;
        let defaults = toml::Table::try_from(Config::default()).expect("defaults serialize to TOML");
        for (var, path, raw) in overrides {
            let value = typed_override(&defaults, &path, &raw)
                .map_err(|message| ConfigError::Env { var: var.clone(), message })?;
            set_path(&mut table, &path, value).map_err(|message| ConfigError::Env { var: var.clone(), message })?;
            // Re-check after each override so an error names its variable.
            toml::Value::Table(table.clone()).try_into::<Config>().map_err(|e| ConfigError::Env {
                var: var.clone(),
                message: format!("`{}`: {}", path.join("."), e.to_string().trim_end()),
            })?;
        }
        toml::Value::Table(table).try_into::<Config>().map_err(|e| ConfigError::Parse {
            source_name: source_name.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// The data directory (after `--data-dir` and overrides).
    pub fn data_dir(&self) -> &Path {
        &self.node.data_dir
    }

    /// `handle.server_key_file` resolved against the data directory.
    pub fn server_key_path(&self) -> PathBuf {
        self.node.data_dir.join(&self.handle.server_key_file)
    }

    /// A configured path resolved against the data directory (absolute
    /// paths stay as they are).
    pub fn resolve_path(&self, p: &std::path::Path) -> PathBuf {
        self.node.data_dir.join(p)
    }

    /// `http.tls.cert_file` resolved against the data directory.
    pub fn tls_cert_path(&self) -> PathBuf {
        self.resolve_path(&self.http.tls.cert_file)
    }

    /// `http.tls.key_file` resolved against the data directory.
    pub fn tls_key_path(&self) -> PathBuf {
        self.resolve_path(&self.http.tls.key_file)
    }

    /// `admin.secret_file` resolved against the data directory.
    pub fn admin_secret_path(&self) -> PathBuf {
        self.node.data_dir.join(&self.admin.secret_file)
    }

    /// The server addresses to publish in HS_SITE: `handle.site.addresses`,
    /// or else `bound` (the Handle listener's address) when it is a specific
    /// address, or else 127.0.0.1.
    pub fn site_addresses(&self, bound: IpAddr) -> Vec<IpAddr> {
        let configured: Vec<IpAddr> = self.handle.site.addresses.iter().filter_map(|a| a.parse().ok()).collect();
        if !configured.is_empty() {
            configured
        } else if bound.is_unspecified() {
            vec![IpAddr::from([127, 0, 0, 1])]
        } else {
            vec![bound]
        }
    }

    /// The sled cache size in bytes.
    pub fn store_cache_bytes(&self) -> u64 {
        if let Some(s) = store_budget::split(self.store.memory_budget.0, self.dns.enabled) {
            return s.sled_cache_bytes;
        }
        self.store.cache_mib.saturating_mul(1024 * 1024)
    }

    /// Every problem with this configuration; empty means valid.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Problems::default();

        // [node]
        if let Err(why) = check_prefix(&self.node.node_prefix) {
            p.add("node.node_prefix", why);
        }
        if self.node.data_dir.as_os_str().is_empty() {
            p.add("node.data_dir", "must not be empty");
        }
        if !(100..=600_000).contains(&self.node.shutdown_timeout_ms) {
            p.add("node.shutdown_timeout_ms", "must be between 100 and 600000");
        }

        for (key, why) in self.federation.problems() {
            p.add(key, why);
        }

        // [store]
        if !(1..=1_048_576).contains(&self.store.cache_mib) {
            p.add("store.cache_mib", "must be between 1 and 1048576");
        }
        if let Some(why) = store_budget::problem(self.store.memory_budget.0) {
            p.add("store.memory_budget", why);
        }
        if self.store.changelog_max_age_days > 36_500 {
            p.add("store.changelog_max_age_days", "must be at most 36500 (0 = keep)");
        }
        if self.store.changelog_max_mib > 1 << 30 {
            p.add("store.changelog_max_mib", "must be at most 1073741824 (0 = no limit)");
        }
        self.store.postgres.check(self.store.backend, &mut p);

        // [federation]
        self.federation.validate(self.node.role, &mut p);
        // [mirror]
        self.mirror.validate(self.node.role, &mut p);
        self.logs.validate(&mut p);

        // [handle]
        let h = &self.handle;
        if h.udp_sockets > 1024 {
            p.add("handle.udp_sockets", "must be at most 1024 (0 = one per core)");
        }
        if h.tcp_max_connections == 0 {
            p.add("handle.tcp_max_connections", "must be at least 1");
        }
        if !(100..=3_600_000).contains(&h.tcp_idle_timeout_ms) {
            p.add("handle.tcp_idle_timeout_ms", "must be between 100 and 3600000");
        }
        if !(100..=600_000).contains(&h.tcp_read_timeout_ms) {
            p.add("handle.tcp_read_timeout_ms", "must be between 100 and 600000");
        }
        if !(100..=600_000).contains(&h.tcp_write_timeout_ms) {
            p.add("handle.tcp_write_timeout_ms", "must be between 100 and 600000");
        }
        if h.tcp_max_connections_per_address == 0 {
            p.add("handle.tcp_max_connections_per_address", "must be at least 1");
        }
        if h.server_key_file.as_os_str().is_empty() {
            p.add("handle.server_key_file", "must not be empty");
        }
        for (i, a) in h.admins.iter().enumerate() {
            if idnode_resolver::auth::Identity::parse(a).is_err() {
                p.add(format!("handle.admins[{i}]"), "must be index:handle, e.g. 300:0.NA/88.118.8");
            }
        }
        if !(1..=86_400).contains(&h.challenge_lifetime_s) {
            p.add("handle.challenge_lifetime_s", "must be between 1 and 86400");
        }
        if h.challenge_max == 0 {
            p.add("handle.challenge_max", "must be at least 1");
        }
        if !(65_536..=1 << 34).contains(&h.challenge_max_bytes) {
            p.add("handle.challenge_max_bytes", "must be between 65536 and 17179869184");
        }
        if h.session_max == 0 {
            p.add("handle.session_max", "must be at least 1");
        }
        if !(4_096..=1 << 34).contains(&h.session_max_bytes) {
            p.add("handle.session_max_bytes", "must be between 4096 and 17179869184");
        }
        if !(1..=31_536_000).contains(&h.session_max_timeout_s) {
            p.add("handle.session_max_timeout_s", "must be between 1 and 31536000");
        }
        if !(1..=64).contains(&h.vlist_max_depth) {
            p.add("handle.vlist_max_depth", "must be between 1 and 64");
        }
        for (i, a) in h.site.addresses.iter().enumerate() {
            match a.parse::<IpAddr>() {
                Ok(ip) if ip.is_unspecified() => p.add(
                    format!("handle.site.addresses[{i}]"),
                    format!("{a} is unspecified; advertise a reachable address"),
                ),
                Ok(_) => {}
                Err(_) => p.add(format!("handle.site.addresses[{i}]"), format!("{a:?} is not an IP address")),
            }
        }
        if h.site.record_file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            p.add("handle.site.record_file", "must not be empty when set");
        }
        if h.site.description.len() > 1024 {
            p.add("handle.site.description", "must be at most 1024 bytes");
        }

        // Two TCP listeners (or two UDP listeners) on one address cannot both bind.
        let mut tcp = vec![("handle.tcp_listen", h.tcp_listen), ("http.listen", self.http.listen)];
        if self.admin.api_enabled {
            tcp.push(("admin.listen", self.admin.listen));
        }
        let mut udp = vec![("handle.udp_listen", h.udp_listen)];
        if self.dns.enabled {
            tcp.push(("dns.listen", self.dns.listen));
            udp.push(("dns.listen", self.dns.listen));
        }
        for set in [&tcp, &udp] {
            for (i, (na, a)) in set.iter().enumerate() {
                for (nb, b) in &set[i + 1..] {
                    if clash(*a, *b) {
                        p.add(*nb, format!("{b} collides with {na} = {a}"));
                    }
                }
            }
        }

        // [dns]
        self.dns.problems(&mut p);

        // [limits]
        let l = &self.limits;
        if !(1024..=MAX_MESSAGE).contains(&l.max_message_bytes) {
            p.add("limits.max_message_bytes", format!("must be between 1024 and {MAX_MESSAGE}"));
        }
        if !(1024..=1 << 30).contains(&l.http_max_body_bytes) {
            p.add("limits.http_max_body_bytes", "must be between 1024 and 1073741824");
        }
        self.http.limits.validate(l.http_max_body_bytes, &mut p);
        if l.per_client_rps > 0 && l.per_client_burst == 0 {
            p.add("limits.per_client_burst", "must be at least 1 when per_client_rps is set");
        }
        if l.per_client_slip > 100 {
            p.add("limits.per_client_slip", "must be between 0 and 100");
        }
        if !(8..=32).contains(&l.client_ipv4_prefix) {
            p.add("limits.client_ipv4_prefix", "must be between 8 and 32");
        }
        if !(16..=128).contains(&l.client_ipv6_prefix) {
            p.add("limits.client_ipv6_prefix", "must be between 16 and 128");
        }
        for (name, list) in [("per_address_networks", &l.per_address_networks), ("exempt_networks", &l.exempt_networks)]
        {
            for (i, n) in list.iter().enumerate() {
                if let Err(why) = crate::serve::limits::Cidr::parse(n) {
                    p.add(format!("limits.{name}[{i}]"), why);
                }
            }
        }
        if !(1_000..=100_000_000).contains(&l.max_tracked_clients) {
            p.add("limits.max_tracked_clients", "must be between 1000 and 100000000");
        }
        if l.udp_max_amplification == 1 || l.udp_max_amplification > 1_000 {
            p.add("limits.udp_max_amplification", "must be 0 (no cap) or between 2 and 1000");
        }
        if !(1..=86_400).contains(&l.proven_source_ttl_secs) {
            p.add("limits.proven_source_ttl_secs", "must be between 1 and 86400");
        }

        // [snms]
        let sn = &self.snms;
        if !sn.base_path.is_empty()
            && (!sn.base_path.starts_with('/') || sn.base_path.ends_with('/') || sn.base_path.contains("//"))
        {
            p.add("snms.base_path", "must be empty or a path such as /snmsapi (leading '/', no trailing '/')");
        }
        if !(60..=7 * 86_400).contains(&sn.token_ttl_secs) {
            p.add("snms.token_ttl_secs", "must be between 60 and 604800");
        }
        if !(1..=1_000).contains(&sn.max_tokens_per_user) {
            p.add("snms.max_tokens_per_user", "must be between 1 and 1000");
        }
        if !(1..=2_000).contains(&sn.batch_limit) {
            p.add("snms.batch_limit", "must be between 1 and 2000 (the SNMS contract's limit)");
        }
        if !(-720..=840).contains(&sn.utc_offset_minutes) {
            p.add("snms.utc_offset_minutes", "must be between -720 and 840");
        }
        if sn.proxy_server_ids.contains(&0) {
            p.add("snms.proxy_server_ids", "ids start at 1");
        }

        // [telemetry]
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.telemetry.log_level) {
            p.add("telemetry.log_level", format!("{:?} is not a valid filter: {e}", self.telemetry.log_level));
        }

        // [http.tls]
        let tls = &self.http.tls;
        if tls.cert_file.as_os_str().is_empty() {
            p.add("http.tls.cert_file", "must not be empty");
        }
        if tls.key_file.as_os_str().is_empty() {
            p.add("http.tls.key_file", "must not be empty");
        }
        if tls.enabled && self.resolve_path(&tls.cert_file) == self.resolve_path(&tls.key_file) {
            p.add("http.tls.key_file", "must not be the same file as http.tls.cert_file");
        }
        for (i, n) in tls.self_signed_names.iter().enumerate() {
            if n.is_empty() || n.len() > 253 || n.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
                p.add(format!("http.tls.self_signed_names[{i}]"), format!("{n:?} is not a DNS name or IP address"));
            }
        }

        // [admin]
        for (i, a) in self.admin.server_admins.iter().enumerate() {
            let ok = a.split_once(':').is_some_and(|(idx, h)| {
                !idx.is_empty() && idx.parse::<u32>().is_ok() && h.contains('/') && h.len() <= 2048
            });
            if !ok {
                p.add(
                    format!("admin.server_admins[{i}]"),
                    format!("{a:?} is not an identity index:handle such as 300:0.NA/88.118.8"),
                );
            }
        }
        if self.admin.secret_file.as_os_str().is_empty() {
            p.add("admin.secret_file", "must not be empty");
        }
        let admin_ip = self.admin.listen.ip();
        if self.admin.api_enabled && !self.http.tls.enabled && !admin_ip.is_loopback() && !admin_ip.is_unspecified() {
            p.add(
                "admin.listen",
                format!(
                    "the admin API takes plain HTTP only from loopback clients and HTTPS is off, so it is unreachable on admin.listen = {}: enable http.tls, listen on a loopback address, or set admin.api_enabled = false",
                    self.admin.listen
                ),
            );
        }
        if self.admin_secret_path() == self.server_key_path() {
            p.add("admin.secret_file", "must not be the same file as handle.server_key_file");
        }

        p.0
    }
}

#[derive(Default)]
pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { field: field.into(), message: message.into() });
    }
}

/// Two bind addresses that cannot both be bound (same port, overlapping IP).
/// Port 0 never clashes: the kernel picks distinct ports.
fn clash(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0 && a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// A node prefix under the SNMS rules (idis-node.md §2.2), e.g. `88.118.8`.
fn check_prefix(prefix: &str) -> Result<(), String> {
    idnode_registry::ident::check_snms_prefix(prefix).map_err(|e| format!("{prefix:?}: {e}"))
}

/// A DNS zone name: labels of letters, digits, `-`, `_`; optional final dot.
fn check_zone(zone: &str) -> Result<(), String> {
    let name = zone.strip_suffix('.').unwrap_or(zone);
    if name.is_empty() || name.len() > 253 {
        return Err(format!("{zone:?} is not a domain name"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("{zone:?} has an empty or over-long label"));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("{zone:?} has a label with characters other than letters, digits, '-', '_'"));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "config/tests.rs"]
mod tests;
