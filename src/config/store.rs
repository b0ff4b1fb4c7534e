//! `[store] backend` and `[store.postgres]`: which implementation of
//! `trait Store` the node runs on. sled (the default) keeps the registry in
//! `node.data_dir/store`; PostgreSQL keeps it in a database that several
//! idnode processes may share (docs/operations.md, "PostgreSQL").

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Problems;

/// `store.backend`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    #[default]
    Sled,
    Postgres,
}

/// `store.postgres.isolation`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PgIsolation {
    /// The server's default (READ COMMITTED on PostgreSQL, SERIALIZABLE on
    /// CockroachDB).
    #[default]
    Default,
    /// Every transaction at SERIALIZABLE; contention shows as SQLSTATE
    /// 40001, which the store retries.
    Serializable,
}

/// `[store.postgres]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// Connection URL or key=value string WITHOUT the password, e.g.
    /// `postgres://idnode@db1:5432/idnode` or `host=/run/postgresql user=idnode dbname=idnode`.
    pub url: String,
    /// File holding the password (first line); relative paths are under
    /// `node.data_dir`. Empty = no password (peer/trust authentication).
    pub password_file: PathBuf,
    /// Connections in this process's pool.
    pub pool_size: u32,
    /// How often this process reads the shared change log, milliseconds.
    pub poll_interval_ms: u64,
    /// `/readyz` fails when memory state (read cache, homed prefixes) has
    /// not caught up with the change log for longer than this, milliseconds.
    pub staleness_bound_ms: u64,
    /// Connecting and waiting for a pooled connection give up after this,
    /// milliseconds (writes then fail fast with 503 / RC server busy).
    pub connect_timeout_ms: u64,
    /// Apply pending schema migrations at start (otherwise an old schema
    /// stops the start; run `idnode store migrate`).
    pub migrate_on_start: bool,
    /// PEM file of the CA(s) that signed the database server's certificate:
    /// connect with TLS (rustls, ring) and verify the server; relative
    /// paths are under `node.data_dir`. Empty = no TLS (Unix socket or a
    /// private network).
    pub ca_file: PathBuf,
    /// Transaction isolation: `default` or `serializable`.
    pub isolation: PgIsolation,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            url: String::new(),
            password_file: PathBuf::new(),
            pool_size: 16,
            poll_interval_ms: 100,
            staleness_bound_ms: 1000,
            connect_timeout_ms: 2000,
            migrate_on_start: true,
            ca_file: PathBuf::new(),
            isolation: PgIsolation::Default,
        }
    }
}

impl PostgresConfig {
    pub(super) fn check(&self, backend: StoreBackend, p: &mut Problems) {
        if backend == StoreBackend::Postgres && self.url.trim().is_empty() {
            p.add("store.postgres.url", "is required with store.backend = \"postgres\"");
        }
        if self.url.contains(":@") || url_has_password(&self.url) {
            p.add("store.postgres.url", "must not contain a password: put it in store.postgres.password_file");
        }
        if !(1..=1024).contains(&self.pool_size) {
            p.add("store.postgres.pool_size", "must be between 1 and 1024");
        }
        if !(10..=60_000).contains(&self.poll_interval_ms) {
            p.add("store.postgres.poll_interval_ms", "must be between 10 and 60000");
        }
        if self.staleness_bound_ms < self.poll_interval_ms {
            p.add("store.postgres.staleness_bound_ms", "must be at least poll_interval_ms");
        }
        if !(100..=600_000).contains(&self.connect_timeout_ms) {
            p.add("store.postgres.connect_timeout_ms", "must be between 100 and 600000");
        }
    }
}

/// `postgres://user:secret@host/db` or `password=...` in key=value form.
fn url_has_password(url: &str) -> bool {
    if let Some(rest) = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")) {
        let userinfo = rest.split('@').next().filter(|_| rest.contains('@')).unwrap_or("");
        return userinfo.contains(':');
    }
    url.split_whitespace().any(|kv| kv.trim_start().to_ascii_lowercase().starts_with("password="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_in_url() {
        assert!(url_has_password("postgres://u:pw@h/db"));
        assert!(url_has_password("host=x password=y"));
        assert!(!url_has_password("postgres://u@h:5432/db"));
        assert!(!url_has_password("host=/run/postgresql user=idnode dbname=idnode"));
    }
}

/// `[store]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// sled page cache in MiB (sled's own default of 1 GiB is too much for
    /// small machines).
    pub cache_mib: u64,
    /// Records the daemon keeps in its in-memory read cache in front of
    /// sled (the resolution hot path; roughly 250 bytes each for typical
    /// records). 0 turns it off.
    pub read_cache_entries: u64,
    /// Change-log entries older than this many days are removed (unless a
    /// registered consumer such as the outbox still needs them); 0 = keep.
    pub changelog_max_age_days: u64,
    /// The change log is kept below this many MiB, oldest entries first
    /// (same exception); 0 = no size limit.
    pub changelog_max_mib: u64,
    /// `sled` (default) or `postgres` (see `[store.postgres]`).
    pub backend: StoreBackend,
    pub postgres: PostgresConfig,
    /// The store's memory (sled cache + read cache + snapshot index), see
    /// `config/store_budget.rs`; `"0"` = off (then `cache_mib` and
    /// `read_cache_entries` apply as given).
    pub memory_budget: super::ByteSize,
    /// Serve resolutions from the read snapshot of the identifier tree.
    pub read_snapshot: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_mib: 256,
            read_cache_entries: 1_000_000,
            changelog_max_age_days: 30,
            changelog_max_mib: 4096,
            backend: StoreBackend::default(),
            postgres: PostgresConfig::default(),
            memory_budget: super::store_budget::default_memory_budget(),
            read_snapshot: true,
        }
    }
}

impl StoreConfig {
    /// The change-log retention these settings ask for.
    pub fn retention(&self) -> idnode_registry::store::Retention {
        idnode_registry::store::Retention {
            max_age_secs: (self.changelog_max_age_days > 0).then(|| self.changelog_max_age_days * 86_400),
            max_bytes: (self.changelog_max_mib > 0).then(|| self.changelog_max_mib * 1024 * 1024),
        }
    }
}
