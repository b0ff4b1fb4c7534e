//! Prefixes this node knows: its own node prefix and the enterprise
//! prefixes it allocated (snms-api.md §5, §7). Pure data + the state machine.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::stored::Stored;
use crate::ident::CasePolicy;

/// SNMS prefix `status` (snms-api.md §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PrefixState {
    /// 0 停用
    Disabled,
    /// 1 启用
    Enabled,
    /// 2 pending deletion
    PendingDeletion,
    /// 3 rejected
    Rejected,
    /// 4 awaiting review
    AwaitingReview,
    /// 5 under review
    UnderReview,
}

/// A refused state change.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("illegal prefix state change {from:?} -> {to:?}")]
    IllegalTransition { from: PrefixState, to: PrefixState },
    #[error("unknown prefix state code {0} (expected 0..=5)")]
    UnknownState(u8),
    #[error("unknown hosting state code {0} (expected 1..=4)")]
    UnknownHosting(u8),
}

impl PrefixState {
    /// The SNMS integer code.
    pub fn code(self) -> u8 {
        match self {
            PrefixState::Disabled => 0,
            PrefixState::Enabled => 1,
            PrefixState::PendingDeletion => 2,
            PrefixState::Rejected => 3,
            PrefixState::AwaitingReview => 4,
            PrefixState::UnderReview => 5,
        }
    }

    pub fn from_code(c: u8) -> Result<Self, StateError> {
        Ok(match c {
            0 => PrefixState::Disabled,
            1 => PrefixState::Enabled,
            2 => PrefixState::PendingDeletion,
            3 => PrefixState::Rejected,
            4 => PrefixState::AwaitingReview,
            5 => PrefixState::UnderReview,
            other => return Err(StateError::UnknownState(other)),
        })
    }

    /// Whether `self -> to` is allowed. Staying in the same state is allowed
    /// (idempotent retries). The machine:
    ///
    /// ```text
    /// AwaitingReview -> UnderReview | Rejected
    /// UnderReview    -> Enabled | Rejected
    /// Rejected       -> AwaitingReview            (re-apply)
    /// Enabled        -> Disabled | PendingDeletion
    /// Disabled       -> Enabled  | PendingDeletion
    /// PendingDeletion-> Enabled  | Disabled       (deletion cancelled)
    /// ```
    /// Deleting the prefix itself is a store operation, not a state.
    pub fn can_move_to(self, to: PrefixState) -> bool {
        use PrefixState::*;
        self == to
            || matches!(
                (self, to),
                (AwaitingReview, UnderReview | Rejected)
                    | (UnderReview, Enabled | Rejected)
                    | (Rejected, AwaitingReview)
                    | (Enabled, Disabled | PendingDeletion)
                    | (Disabled, Enabled | PendingDeletion)
                    | (PendingDeletion, Enabled | Disabled)
            )
    }

    /// Checked transition.
    pub fn transition(self, to: PrefixState) -> Result<PrefixState, StateError> {
        if self.can_move_to(to) { Ok(to) } else { Err(StateError::IllegalTransition { from: self, to }) }
    }
}

/// SNMS `proxyState` (hosting) (snms-api.md §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HostingState {
    /// 1 not hosted: the enterprise runs its own node ([`Prefix::site`]).
    NotHosted,
    /// 2 hosting requested
    HostingRequested,
    /// 3 hosting rejected
    HostingRejected,
    /// 4 hosted on this node
    Hosted,
}

impl HostingState {
    pub fn code(self) -> u8 {
        match self {
            HostingState::NotHosted => 1,
            HostingState::HostingRequested => 2,
            HostingState::HostingRejected => 3,
            HostingState::Hosted => 4,
        }
    }

    pub fn from_code(c: u8) -> Result<Self, StateError> {
        Ok(match c {
            1 => HostingState::NotHosted,
            2 => HostingState::HostingRequested,
            3 => HostingState::HostingRejected,
            4 => HostingState::Hosted,
            other => return Err(StateError::UnknownHosting(other)),
        })
    }
}

/// Per-prefix quotas (`None` = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Quota {
    /// Most identifiers that may be registered under the prefix.
    pub max_registrations: Option<u64>,
    /// Most requests per day (registration + resolution) for the prefix.
    pub daily_requests: Option<u64>,
}

/// A prefix this node knows about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefix {
    /// The prefix as first registered (display form); stored under its
    /// ASCII-upper-cased form.
    pub prefix: String,
    pub state: PrefixState,
    pub hosting: HostingState,
    /// True when this node answers for identifiers under the prefix
    /// (its node prefix, hosted enterprise prefixes, OC_HOME_NA).
    pub homed: bool,
    /// Owning enterprise, if any (the node prefix has none).
    pub enterprise_id: Option<u64>,
    pub case_policy: CasePolicy,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds.
    pub updated: u64,
    /// HS_SITE value data of a non-hosted enterprise node (referrals).
    pub site: Option<Vec<u8>>,
    pub quota: Quota,
    /// Hosting server id chosen in `/snms/api/ent/config` (hosted variant).
    pub proxy_server_id: Option<u64>,
    pub description: String,
}

impl Prefix {
    /// A new prefix in `state`, not homed, not hosted, case-sensitive suffixes.
    pub fn new(prefix: impl Into<String>, state: PrefixState, now: u64) -> Self {
        Prefix {
            prefix: prefix.into(),
            state,
            hosting: HostingState::NotHosted,
            homed: false,
            enterprise_id: None,
            case_policy: CasePolicy::CaseSensitive,
            created: now,
            updated: now,
            site: None,
            quota: Quota::default(),
            proxy_server_id: None,
            description: String::new(),
        }
    }

    /// A homed, enabled, hosted prefix (the node's own prefix).
    pub fn homed(prefix: impl Into<String>, now: u64) -> Self {
        let mut p = Prefix::new(prefix, PrefixState::Enabled, now);
        p.homed = true;
        p.hosting = HostingState::Hosted;
        p
    }

    /// The store key: the ASCII-upper-cased prefix.
    pub fn canonical(&self) -> String {
        self.prefix.to_ascii_uppercase()
    }

    /// Checked state change (updates `updated`).
    pub fn set_state(&mut self, to: PrefixState, now: u64) -> Result<(), StateError> {
        self.state = self.state.transition(to)?;
        self.updated = now;
        Ok(())
    }
}

impl Stored for Prefix {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine() {
        use PrefixState::*;
        let mut p = Prefix::new("88.118.8.1001", AwaitingReview, 1);
        p.set_state(UnderReview, 2).unwrap();
        p.set_state(Enabled, 3).unwrap();
        assert_eq!(p.updated, 3);
        assert_eq!(
            p.set_state(AwaitingReview, 4),
            Err(StateError::IllegalTransition { from: Enabled, to: AwaitingReview })
        );
        p.set_state(Disabled, 5).unwrap();
        p.set_state(PendingDeletion, 6).unwrap();
        assert!(!Rejected.can_move_to(Enabled));
        for c in 0..=5 {
            assert_eq!(PrefixState::from_code(c).unwrap().code(), c);
        }
        assert!(PrefixState::from_code(6).is_err());
        for c in 1..=4 {
            assert_eq!(HostingState::from_code(c).unwrap().code(), c);
        }
        assert!(HostingState::from_code(0).is_err());
    }
}
