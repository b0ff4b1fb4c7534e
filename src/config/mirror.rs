//! `[mirror]`: read-only copies that follow a primary through its
//! transaction log (design.md §2 role `mirror`; OC 1000 / 1001 / 1002).
//!
//! * On a **mirror** (`node.role = "mirror"`): `primary` is the primary's
//!   Handle TCP door; `identity` + `secret_file` the administrator it
//!   authenticates as there (challenge-response with the HS_SECKEY, like
//!   the outbox at a top node).
//! * On a **primary** (any other role): `replicas` lists the identities
//!   allowed to follow this node's change log; each is also registered as a
//!   change-log consumer (`mirror:<identity>`), so retention keeps what it
//!   has not fetched.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Problems, Role};

/// `[mirror]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MirrorConfig {
    /// Mirror: the primary's Handle TCP door, `host:port`.
    pub primary: String,
    /// Mirror: identity (`index:handle`) used at the primary; empty =
    /// `300:0.NA/<node_prefix>` (the primary's node administrator).
    pub identity: String,
    /// Mirror: file with the HS_SECKEY of `identity` at the primary;
    /// relative paths are under `node.data_dir`. Default: the admin secret.
    pub secret_file: PathBuf,
    /// Mirror: pause between polls of the primary when caught up.
    pub poll_ms: u64,
    /// Mirror: changes (or dumped records) asked for per exchange.
    pub batch: u32,
    /// Mirror: one exchange with the primary, milliseconds.
    pub timeout_ms: u64,
    /// Mirror: first retry delay after a failure; doubles up to `retry_max_ms`.
    pub retry_min_ms: u64,
    pub retry_max_ms: u64,
    /// Primary: identities (`index:handle`) allowed OC 1000–1002.
    pub replicas: Vec<String>,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        MirrorConfig {
            primary: String::new(),
            identity: String::new(),
            secret_file: PathBuf::from("admin.secret"),
            poll_ms: 200,
            batch: 1000,
            timeout_ms: 5_000,
            retry_min_ms: 200,
            retry_max_ms: 10_000,
            replicas: Vec::new(),
        }
    }
}

impl MirrorConfig {
    /// The identity a mirror uses at its primary.
    pub fn identity_or_default(&self, node_prefix: &str) -> String {
        if self.identity.is_empty() { format!("300:0.NA/{node_prefix}") } else { self.identity.clone() }
    }

    pub(super) fn validate(&self, role: Role, p: &mut Problems) {
        let is_addr = |s: &str| {
            s.rsplit_once(':').is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|n| n > 0))
        };
        if role == Role::Mirror {
            if self.primary.is_empty() {
                p.add("mirror.primary", "a mirror needs its primary's Handle TCP address");
            } else if !is_addr(&self.primary) {
                p.add("mirror.primary", format!("{:?} is not host:port", self.primary));
            }
            if !self.replicas.is_empty() {
                p.add("mirror.replicas", "a mirror does not serve mirrors of its own");
            }
        } else if !self.primary.is_empty() {
            p.add("mirror.primary", "only a node with role \"mirror\" follows a primary");
        }
        if !self.identity.is_empty()
            && let Err(e) = idnode_resolver::auth::Identity::parse(&self.identity)
        {
            p.add("mirror.identity", e.to_string());
        }
        for (i, r) in self.replicas.iter().enumerate() {
            if let Err(e) = idnode_resolver::auth::Identity::parse(r) {
                p.add(format!("mirror.replicas[{i}]"), e.to_string());
            }
        }
        if self.secret_file.as_os_str().is_empty() {
            p.add("mirror.secret_file", "must not be empty");
        }
        if !(10..=60_000).contains(&self.poll_ms) {
            p.add("mirror.poll_ms", "must be between 10 and 60000");
        }
        if !(1..=10_000).contains(&self.batch) {
            p.add("mirror.batch", "must be between 1 and 10000");
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            p.add("mirror.timeout_ms", "must be between 100 and 120000");
        }
        if !(10..=600_000).contains(&self.retry_min_ms) {
            p.add("mirror.retry_min_ms", "must be between 10 and 600000");
        }
        if self.retry_max_ms < self.retry_min_ms || self.retry_max_ms > 3_600_000 {
            p.add("mirror.retry_max_ms", "must be between retry_min_ms and 3600000");
        }
    }
}
