//! Bookkeeping types: change-log entries, audit entries, per-day counters
//! and aliases (scheme + code -> identifier).

use serde::{Deserialize, Serialize};

use super::stored::Stored;

/// What a change-log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangeOp {
    /// A record was created (or overwritten by a create with overwrite).
    Create,
    Delete,
    AddValues,
    ModifyValues,
    RemoveValues,
    /// All values replaced.
    Replace,
    /// A prefix was created or updated (key = canonical prefix).
    PrefixPut,
    /// A prefix was removed (key = canonical prefix).
    PrefixDelete,
    // Entity changes (appended after the record and prefix operations: the
    // postcard variant numbers of existing entries must not move).
    /// An enterprise was created or replaced (key = 8-byte big-endian id).
    EnterprisePut,
    /// An enterprise was removed (key = 8-byte big-endian id).
    EnterpriseDelete,
    /// An identity (account) was created or replaced (key = username).
    IdentityPut,
    /// An identity (account) was removed (key = username).
    IdentityDelete,
    /// A template was created or replaced (key = upper-cased prefix, NUL, version).
    TemplatePut,
    /// A template was removed (key = upper-cased prefix, NUL, version).
    TemplateDelete,
    /// An alias was created or replaced (key = scheme, NUL, code).
    AliasPut,
    /// An alias was removed (key = scheme, NUL, code).
    AliasDelete,
}

impl ChangeOp {
    /// True for the record operations (key = canonical identifier).
    pub fn is_record(self) -> bool {
        matches!(
            self,
            ChangeOp::Create
                | ChangeOp::Delete
                | ChangeOp::AddValues
                | ChangeOp::ModifyValues
                | ChangeOp::RemoveValues
                | ChangeOp::Replace
        )
    }

    /// True for the prefix operations (key = canonical prefix).
    pub fn is_prefix(self) -> bool {
        matches!(self, ChangeOp::PrefixPut | ChangeOp::PrefixDelete)
    }

    /// True when the entry removes what its key names.
    pub fn is_delete(self) -> bool {
        matches!(
            self,
            ChangeOp::Delete
                | ChangeOp::PrefixDelete
                | ChangeOp::EnterpriseDelete
                | ChangeOp::IdentityDelete
                | ChangeOp::TemplateDelete
                | ChangeOp::AliasDelete
        )
    }
}

/// One change-log entry, stored under its big-endian sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Strictly increasing, gap-free in commit order (starts at 1).
    pub seq: u64,
    /// Unix seconds (from the caller's `WriteCtx`; entity writes, which
    /// take no context, use the entity's own `updated`/`created` time, never
    /// earlier than the previous entry's time).
    pub time: u64,
    pub op: ChangeOp,
    /// Canonical key (identifier or prefix).
    pub key: Vec<u8>,
    /// Who made the change (username, `300:0.NA/..` handle, `cli`, ...).
    pub actor: String,
}

impl Stored for Change {}

/// One audit-log entry (security-relevant actions: logins, permission
/// changes, admin operations), stored under its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Assigned by the store on append.
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    pub actor: String,
    /// Short action name (`login`, `prefix.create`, ...).
    pub action: String,
    /// What it acted on.
    pub target: String,
    /// `ok`, `denied`, an error text, ...
    pub outcome: String,
    /// Client address or other context.
    pub detail: String,
}

impl Stored for AuditEntry {}

/// Counters of one prefix on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DayCounters {
    pub registrations: u64,
    pub resolutions: u64,
}

impl DayCounters {
    pub fn add(&mut self, o: DayCounters) {
        self.registrations = self.registrations.saturating_add(o.registrations);
        self.resolutions = self.resolutions.saturating_add(o.resolutions);
    }
}

impl Stored for DayCounters {}

/// Days since the Unix epoch of a Unix time (UTC).
pub fn day_of(unix_secs: u64) -> u32 {
    (unix_secs / 86_400) as u32
}

/// Another scheme's code mapped to a VAA identifier (OID, Ecode, GS1 ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// `oid`, `ecode`, `gs1`, ... (lower case by convention).
    pub scheme: String,
    pub code: String,
    /// The identifier it stands for.
    pub target: String,
    /// Unix seconds.
    pub created: u64,
}

impl Stored for Alias {}
