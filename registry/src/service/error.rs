//! [`ServiceError`]: why a registration-service call was refused. Mapped at
//! one boundary per door: the SNMS API turns it into an envelope status
//! (`-1`/`-2`/`-3`/`-4`/`21000`, snms-api.md §1.3), the Handle protocol
//! into a response code ([`ServiceError::idis_rc`], idis-extensions.md §6).

use thiserror::Error;

use crate::model::TemplateViolation;
use crate::store::StoreError;

/// Which quota ran out (idis-extensions.md §6: 603–605).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuotaKind {
    /// Requests per day (registrations + resolutions) of a prefix or an
    /// enterprise: RC 603 `RC_REQUEST_LIMIT_DAILY`.
    DailyRequests,
    /// Identifiers registered under a prefix or an enterprise: RC 604
    /// `RC_REGISTER_COUNT_LIMIT`.
    Registrations,
    /// Prefixes an enterprise may hold: RC 605 `RC_PREFIX_LIMIT`.
    Prefixes,
}

impl QuotaKind {
    /// The IDIS response code for this quota.
    pub fn idis_rc(self) -> u32 {
        match self {
            QuotaKind::DailyRequests => 603,
            QuotaKind::Registrations => 604,
            QuotaKind::Prefixes => 605,
        }
    }
}

/// A refused or failed service call. The `Display` text is the message a
/// client sees (contract strings from snms-api.md where one exists); it
/// never contains a secret.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// No valid credentials (SNMS `-1`).
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated but not allowed (SNMS `-3`, Handle 401).
    #[error("{0}")]
    Forbidden(String),
    /// A request field is missing, malformed or out of bounds; names the field.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// A value could not be converted to the declared type (SNMS `21000`).
    #[error("{field}: {reason}")]
    TypeMismatch { field: String, reason: String },
    /// Identifier values break the template; names the field.
    #[error("{0}")]
    Template(#[from] TemplateViolation),
    /// A value index that no template item has (contract message).
    #[error("非法操作，索引{0}在模板中不存在")]
    UnknownIndex(u32),
    /// Create of an existing identifier (snms-api.md §4.9: retried creates
    /// rely on exactly this text).
    #[error("标识已存在")]
    AlreadyExists,
    /// Update/delete of a missing identifier.
    #[error("没有找到标识")]
    NotFound,
    /// A template, prefix, enterprise or account that does not exist.
    #[error("{what}不存在: {key}")]
    EntityNotFound { what: &'static str, key: String },
    /// A business rule refused the call (message says which).
    #[error("{0}")]
    Rejected(String),
    /// A batch over the limit; nothing was processed.
    #[error("批量操作最多{max}条，本次提交{got}条 (batch of {got} exceeds the limit of {max})")]
    BatchTooLarge { got: usize, max: usize },
    /// A quota is exhausted.
    #[error("{}", quota_message(*kind, scope, *limit))]
    Quota { kind: QuotaKind, scope: String, limit: u64 },
    /// The store failed or refused.
    #[error("{0}")]
    Store(#[from] StoreError),
}

fn quota_message(kind: QuotaKind, scope: &str, limit: u64) -> String {
    match kind {
        QuotaKind::DailyRequests => format!("{scope}今日请求量已达上限{limit} (daily request quota exhausted)"),
        QuotaKind::Registrations => format!("{scope}标识注册数量已达上限{limit} (registration quota exhausted)"),
        QuotaKind::Prefixes => format!("{scope}前缀数量已达上限{limit} (prefix quota exhausted)"),
    }
}

impl ServiceError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ServiceError::Invalid { field: field.into(), reason: reason.into() }
    }

    pub(crate) fn forbidden(msg: impl Into<String>) -> Self {
        ServiceError::Forbidden(msg.into())
    }

    pub(crate) fn rejected(msg: impl Into<String>) -> Self {
        ServiceError::Rejected(msg.into())
    }

    /// True when the node, not the caller, is at fault (retrying may help).
    pub fn is_internal(&self) -> bool {
        matches!(self, ServiceError::Store(e) if !e.is_client_error())
    }

    /// The Handle/IDIS response code for this error (handle-protocol.md
    /// §5, idis-extensions.md §6): 100 not found, 101 exists, 102 invalid
    /// handle, 202 invalid value, 401 insufficient permissions / 402
    /// authentication needed, 603–605 quotas, 2 anything else.
    pub fn idis_rc(&self) -> u32 {
        match self {
            ServiceError::Unauthenticated(_) => 402,
            ServiceError::Forbidden(_) => 401,
            ServiceError::Invalid { field, .. } if field == "handle" => 102,
            ServiceError::Invalid { .. } | ServiceError::TypeMismatch { .. } => 202,
            ServiceError::Template(_) | ServiceError::UnknownIndex(_) => 202,
            ServiceError::AlreadyExists => 101,
            ServiceError::NotFound => 100,
            ServiceError::Quota { kind, .. } => kind.idis_rc(),
            ServiceError::Store(StoreError::AlreadyExists) => 101,
            ServiceError::Store(StoreError::NotFound) => 100,
            _ => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages() {
        assert_eq!(ServiceError::AlreadyExists.to_string(), "标识已存在");
        assert_eq!(ServiceError::UnknownIndex(1000).to_string(), "非法操作，索引1000在模板中不存在");
        let q = ServiceError::Quota { kind: QuotaKind::Registrations, scope: "前缀88.1".into(), limit: 5 };
        assert_eq!(q.idis_rc(), 604);
        assert!(q.to_string().contains('5'));
        assert_eq!(
            ServiceError::Quota { kind: QuotaKind::DailyRequests, scope: String::new(), limit: 1 }.idis_rc(),
            603
        );
        assert_eq!(ServiceError::Quota { kind: QuotaKind::Prefixes, scope: String::new(), limit: 1 }.idis_rc(), 605);
        assert_eq!(ServiceError::invalid("handle", "x").idis_rc(), 102);
        assert!(ServiceError::Store(StoreError::Backend("x".into())).is_internal());
        assert!(!ServiceError::NotFound.is_internal());
    }
}
