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
    /// Secondary: give up on one exchange with the top node after this long.
    pub timeout_ms: u64,
    /// Top: derived prefixes this node is responsible for (`88` homes the
    /// marker `0.NA/0.NA/88`: every `0.NA/88.*` prefix handle is answered
    /// here, 100 when not stored).
    pub derived_prefixes: Vec<String>,
    /// Top: secondary nodes allowed to register prefix handles.
    pub admitted: Vec<AdmittedSecondary>,
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
        if !(100..=600_000).contains(&self.timeout_ms) {
            p.add("federation.timeout_ms", "must be between 100 and 600000");
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
}
