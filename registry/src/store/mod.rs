//! Storage: `trait Store` and its sled implementation ([`SledStore`]).
//!
//! The store owns durability. Every write method returns only after the
//! write and its change-log entry are committed in one transaction **and**
//! flushed to disk (concurrent writers share one flush: group commit). Reads
//! never block on writers or on flushes.
//!
//! Trees (design.md §5): `handles` (canonical identifier -> record),
//! `prefixes`, `enterprises`, `identities`, `templates`, `aliases`,
//! `changelog` (u64 sequence -> change), `counters`, `audit`, `meta`.
//! Every stored value starts with a schema-version byte. The change log is
//! stored in groups of up to 256 consecutive changes of one transaction,
//! keyed by the first change's big-endian sequence number (see
//! `sled_store::CHANGES_PER_GROUP` for why); [`Store::changes_since`] hides
//! this and returns single changes.
//!
//! All methods are blocking. Async callers run writes (and scans) under
//! `tokio::task::spawn_blocking`; the hot-path reads ([`Store::get_record`],
//! [`Store::longest_homed`], [`Store::count_resolution`]) are memory-speed
//! and fine to call directly from async code.
//!
//! Keys: records are addressed by their **canonical key** (see
//! [`crate::ident::canonical_key_into`]; the caller canonicalises with the
//! case policy of the prefix found by [`Store::longest_homed`], or uses
//! [`Store::canonical_key`]). Prefixes are addressed by their text in any
//! ASCII case.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use crate::ident::{CasePolicy, canonical_key_into, prefix_of};
use crate::model::{
    Alias, AuditEntry, Change, DayCounters, DecodeError, Enterprise, Identity, Prefix, RecordBytes, StateError,
    Template, Value,
};

mod counters;
mod group_commit;
mod prefix_index;
mod read_cache;
mod sled_store;

pub use prefix_index::PrefixMatch;
pub use sled_store::{DEFAULT_CACHE_BYTES, SCHEMA_VERSION, SledOptions, SledStore};

/// Why a store operation failed. Callers map this at one boundary to a
/// Handle response code / HTTP status.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Create without overwrite on an existing record (Handle RC 101).
    #[error("identifier already exists")]
    AlreadyExists,
    /// The record (or prefix, enterprise, ...) does not exist (RC 100).
    #[error("identifier not found")]
    NotFound,
    /// Add without overwrite of an index that exists (RC 201).
    #[error("value index {0} already exists")]
    ValueExists(u32),
    /// Modify/remove of an index that does not exist (RC 200).
    #[error("value index {0} not found")]
    ValueNotFound(u32),
    /// The same index twice in one write (RC 2 / HTTP 400).
    #[error("value index {0} appears more than once in the request")]
    DuplicateIndex(u32),
    /// A record would exceed a limit (values per record, record size).
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// A key or entity the store refuses (empty, too long, bad prefix).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// An entity (prefix, enterprise, identity, template, alias) was not found.
    #[error("{what} not found: {key}")]
    EntityNotFound { what: &'static str, key: String },
    /// An entity that must be new exists already.
    #[error("{what} already exists: {key}")]
    EntityExists { what: &'static str, key: String },
    /// A refused prefix state change.
    #[error(transparent)]
    State(#[from] StateError),
    /// Stored bytes could not be decoded (schema mismatch or corruption).
    #[error("corrupt stored data in {tree}: {detail}")]
    Corrupt { tree: &'static str, detail: String },
    /// The store was written by a newer idnode.
    #[error("store schema version {found} is newer than this build supports ({supported}); upgrade idnode")]
    SchemaTooNew { found: u32, supported: u32 },
    /// The directory is locked by another process (a running daemon).
    #[error("store at {path} is in use by another process (is the daemon running?)")]
    Locked { path: String },
    /// Underlying I/O / sled failure; retrying may help.
    #[error("storage backend: {0}")]
    Backend(String),
}

impl StoreError {
    pub(crate) fn corrupt(tree: &'static str, e: impl fmt::Display) -> Self {
        StoreError::Corrupt { tree, detail: e.to_string() }
    }

    pub(crate) fn decode(tree: &'static str, e: DecodeError) -> Self {
        StoreError::Corrupt { tree, detail: e.to_string() }
    }

    /// True for errors the caller caused (bad request, conflict, missing
    /// data) as opposed to failures of the store itself.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            StoreError::Corrupt { .. }
                | StoreError::SchemaTooNew { .. }
                | StoreError::Locked { .. }
                | StoreError::Backend(_)
        )
    }
}

/// Who and when, for every write (`now` comes from the caller: the crate
/// has no clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteCtx {
    /// Unix seconds. Values written with timestamp 0 get this timestamp.
    pub now: u64,
    /// Recorded in the change log.
    pub actor: String,
    /// Store value timestamps exactly as given, 0 included (restores and
    /// migrations); otherwise timestamp 0 means "now".
    pub keep_timestamps: bool,
}

impl WriteCtx {
    pub fn new(now: u64, actor: impl Into<String>) -> Self {
        WriteCtx { now, actor: actor.into(), keep_timestamps: false }
    }

    /// The same context, storing value timestamps as given (see
    /// [`WriteCtx::keep_timestamps`]).
    pub fn keeping_timestamps(mut self) -> Self {
        self.keep_timestamps = true;
        self
    }
}

/// One record write. Keys are canonical keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOp {
    /// Create a record; with `overwrite`, an existing record is replaced,
    /// otherwise [`StoreError::AlreadyExists`].
    Create { key: Vec<u8>, values: Vec<Value>, overwrite: bool },
    /// Replace every value of an existing record ([`StoreError::NotFound`]).
    Replace { key: Vec<u8>, values: Vec<Value> },
    /// Delete an existing record ([`StoreError::NotFound`]).
    Delete { key: Vec<u8> },
    /// Add values; an existing index is [`StoreError::ValueExists`] unless
    /// `overwrite`, which replaces it.
    AddValues { key: Vec<u8>, values: Vec<Value>, overwrite: bool },
    /// Replace values whose indexes exist ([`StoreError::ValueNotFound`] otherwise).
    ModifyValues { key: Vec<u8>, values: Vec<Value> },
    /// Remove values by index; each must exist ([`StoreError::ValueNotFound`]).
    RemoveValues { key: Vec<u8>, indexes: Vec<u32> },
}

impl RecordOp {
    /// The canonical key the op writes.
    pub fn key(&self) -> &[u8] {
        match self {
            RecordOp::Create { key, .. }
            | RecordOp::Replace { key, .. }
            | RecordOp::Delete { key }
            | RecordOp::AddValues { key, .. }
            | RecordOp::ModifyValues { key, .. }
            | RecordOp::RemoveValues { key, .. } => key,
        }
    }
}

/// What a successful write returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteReceipt {
    /// Sequence number of the change-log entry of this write.
    pub seq: u64,
}

/// Change-log retention (see [`Store::prune_changelog`]); `None` = no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Remove entries older than this many seconds.
    pub max_age_secs: Option<u64>,
    /// Keep the stored log below this many bytes (oldest entries go first).
    pub max_bytes: Option<u64>,
}

/// What one retention pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneReport {
    /// Change-log entries removed.
    pub removed: u64,
    /// Entries still in the log.
    pub kept: u64,
    /// Stored bytes of the entries still in the log.
    pub kept_bytes: u64,
    /// Entries retention would have removed but a consumer still needs.
    pub held_for_consumers: u64,
}

/// A registered change-log consumer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConsumerPosition {
    pub name: String,
    /// Every change with `seq <= position` is handled.
    pub position: u64,
    /// Unix seconds of the last move.
    pub updated: u64,
}

impl crate::model::Stored for ConsumerPosition {}

/// Stored metadata of the store itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreMeta {
    pub schema: u32,
    pub node_id: String,
    /// Unix seconds when the store was created.
    pub created: u64,
}

impl crate::model::Stored for StoreMeta {}

/// The system of record. Object safe; shared as `Arc<dyn Store>`.
///
/// Every write is durable when it returns `Ok` (group commit). Pagination
/// is by "after" cursor: pass the last key/id of a page to get the next.
pub trait Store: Send + Sync + fmt::Debug {
    // ---------------------------------------------------------------- records
    /// The stored record under a canonical key, not decoded.
    fn get_record(&self, key: &[u8]) -> Result<Option<RecordBytes>, StoreError>;

    /// Whether a record exists under a canonical key.
    fn contains_record(&self, key: &[u8]) -> Result<bool, StoreError>;

    /// Applies one record write and its change-log entry atomically; durable on return.
    fn write(&self, op: RecordOp, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError>;

    /// Applies many record writes in ONE transaction and ONE flush. Each item
    /// gets its own result; failed items are skipped and do not abort the
    /// others. Later items see the effect of earlier ones. The outer error
    /// means nothing was written.
    fn write_batch(
        &self,
        ops: Vec<RecordOp>,
        ctx: &WriteCtx,
    ) -> Result<Vec<Result<WriteReceipt, StoreError>>, StoreError>;

    /// Records whose canonical key starts with `PREFIX/` (the prefix is
    /// upper-cased; `None` = all records), in key order, strictly after
    /// `after`, at most `limit`.
    fn scan_records(
        &self,
        prefix: Option<&str>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, RecordBytes)>, StoreError>;

    /// Like [`scan_records`](Self::scan_records) but keys only (cheaper).
    fn scan_keys(&self, prefix: Option<&str>, after: Option<&[u8]>, limit: usize) -> Result<Vec<Vec<u8>>, StoreError>;

    /// Number of records under `prefix` (`None` = all). O(n) in the records counted.
    fn count_records(&self, prefix: Option<&str>) -> Result<u64, StoreError>;

    // --------------------------------------------------------------- prefixes
    /// Creates or replaces a prefix (keyed by its upper-cased text) and logs
    /// a `PrefixPut` change. Does not check state transitions (use
    /// [`Prefix::set_state`]). Updates the in-memory prefix index.
    fn put_prefix(&self, p: &Prefix, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError>;

    /// A prefix by text (any ASCII case).
    fn get_prefix(&self, prefix: &str) -> Result<Option<Prefix>, StoreError>;

    /// Removes a prefix ([`StoreError::EntityNotFound`] if absent) and logs
    /// a `PrefixDelete` change. Records under it are kept.
    fn delete_prefix(&self, prefix: &str, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError>;

    /// Every known prefix, in canonical order (the set is small).
    fn list_prefixes(&self) -> Result<Vec<Prefix>, StoreError>;

    /// Marks `prefix` homed (creating it enabled and hosted if unknown).
    fn home_prefix(&self, prefix: &str, ctx: &WriteCtx) -> Result<Prefix, StoreError>;

    /// Clears the homed flag ([`StoreError::EntityNotFound`] if unknown).
    fn unhome_prefix(&self, prefix: &str, ctx: &WriteCtx) -> Result<(), StoreError>;

    /// Whether exactly this prefix is homed (memory only).
    fn is_homed(&self, prefix: &[u8]) -> bool;

    /// The longest homed prefix among `prefix` and its dotted parents
    /// (`88.118.8.1001` -> `88.118.8` -> ...), memory only. Hot path.
    fn longest_homed(&self, prefix: &[u8]) -> Option<PrefixMatch>;

    /// Like [`longest_homed`](Self::longest_homed) but any known prefix
    /// (e.g. a non-hosted enterprise prefix with an HS_SITE to refer to).
    fn longest_known(&self, prefix: &[u8]) -> Option<PrefixMatch>;

    /// Every homed prefix (memory only).
    fn homed_prefixes(&self) -> Vec<Arc<Prefix>>;

    /// The canonical key of `handle` using the case policy of its longest
    /// homed prefix (case-sensitive when none is homed).
    fn canonical_key(&self, handle: &[u8]) -> Vec<u8> {
        let policy =
            self.longest_homed(prefix_of(handle)).map(|m| m.prefix.case_policy).unwrap_or(CasePolicy::CaseSensitive);
        let mut out = Vec::with_capacity(handle.len() + 5);
        canonical_key_into(handle, policy, &mut out);
        out
    }

    // ------------------------------------------------------------ enterprises
    /// A fresh id for enterprises, templates, template items (unique, > 0).
    fn next_id(&self) -> Result<u64, StoreError>;
    /// Creates or replaces an enterprise by id.
    fn put_enterprise(&self, e: &Enterprise) -> Result<(), StoreError>;
    fn get_enterprise(&self, id: u64) -> Result<Option<Enterprise>, StoreError>;
    /// [`StoreError::EntityNotFound`] if absent.
    fn delete_enterprise(&self, id: u64) -> Result<(), StoreError>;
    /// Enterprises with id > `after`, ascending, at most `limit`.
    fn list_enterprises(&self, after: u64, limit: usize) -> Result<Vec<Enterprise>, StoreError>;

    // ------------------------------------------------------------- identities
    /// Creates or replaces an identity by username.
    fn put_identity(&self, i: &Identity) -> Result<(), StoreError>;
    fn get_identity(&self, username: &str) -> Result<Option<Identity>, StoreError>;
    fn delete_identity(&self, username: &str) -> Result<(), StoreError>;
    /// Identities with username > `after`, ascending, at most `limit`.
    fn list_identities(&self, after: Option<&str>, limit: usize) -> Result<Vec<Identity>, StoreError>;

    // -------------------------------------------------------------- templates
    /// Creates or replaces a template by (prefix any case, version).
    fn put_template(&self, t: &Template) -> Result<(), StoreError>;
    fn get_template(&self, prefix: &str, version: &str) -> Result<Option<Template>, StoreError>;
    fn delete_template(&self, prefix: &str, version: &str) -> Result<(), StoreError>;
    /// Templates of `prefix` (`None` = all), in key order.
    fn list_templates(&self, prefix: Option<&str>) -> Result<Vec<Template>, StoreError>;

    // ---------------------------------------------------------------- aliases
    /// Creates or replaces an alias by (scheme, code) (both as given).
    fn put_alias(&self, a: &Alias) -> Result<(), StoreError>;
    fn get_alias(&self, scheme: &str, code: &str) -> Result<Option<Alias>, StoreError>;
    fn delete_alias(&self, scheme: &str, code: &str) -> Result<(), StoreError>;
    /// Aliases of `scheme` with code > `after`, at most `limit`.
    fn list_aliases(&self, scheme: &str, after: Option<&str>, limit: usize) -> Result<Vec<Alias>, StoreError>;

    // -------------------------------------------------------------- changelog
    /// Change-log entries with `after < seq <= durable_seq()`, ascending, at
    /// most `limit`: a follower never sees a change that a crash could
    /// still take back.
    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError>;
    /// Sequence number of the last committed change (0 when none). It may
    /// be ahead of [`durable_seq`](Self::durable_seq) while a flush runs.
    fn last_seq(&self) -> u64;
    /// Sequence number of the last change known to be on disk: advances
    /// only after the flush that made it durable. Followers (outbox,
    /// mirrors, cache invalidation across processes) read up to here.
    fn durable_seq(&self) -> u64;
    /// Sequence number of the oldest change still in the log (0 when the
    /// log is empty).
    fn first_seq(&self) -> Result<u64, StoreError>;

    /// The stored position of a registered change-log consumer (`outbox`,
    /// `mirror:<name>`, ...): every change with `seq <= position` has been
    /// handled by it.
    fn consumer_position(&self, name: &str) -> Result<Option<u64>, StoreError>;
    /// Registers a consumer or moves its position; durable on return.
    /// Retention never removes changes after the lowest registered position.
    fn set_consumer_position(&self, name: &str, position: u64, now: u64) -> Result<(), StoreError>;
    /// Unregisters a consumer ([`StoreError::EntityNotFound`] if unknown).
    fn remove_consumer(&self, name: &str) -> Result<(), StoreError>;
    /// Every registered consumer and its position, by name.
    fn consumers(&self) -> Result<Vec<ConsumerPosition>, StoreError>;
    /// Applies change-log retention: removes the oldest entries while they
    /// are older than `r.max_age_secs` (relative to `now`) or the log is
    /// larger than `r.max_bytes`, but never an entry after the lowest
    /// consumer position or after [`durable_seq`](Self::durable_seq).
    fn prune_changelog(&self, r: &Retention, now: u64) -> Result<PruneReport, StoreError>;

    // --------------------------------------------------------------- counters
    /// Counts `n` resolutions for a **known** prefix on `day` (days since
    /// epoch, see [`crate::model::day_of`]). Memory only and cheap; unknown
    /// prefixes are ignored (so hostile input cannot grow memory).
    /// Persisted by [`persist_counters`](Self::persist_counters).
    fn count_resolution(&self, prefix: &[u8], day: u32, n: u64);
    /// Counts registrations (record creates count themselves automatically).
    fn count_registrations(&self, prefix: &[u8], day: u32, n: u64);
    /// Adds the in-memory counts to the `counters` tree and flushes.
    /// Call periodically (e.g. every 10 s) and on shutdown.
    fn persist_counters(&self) -> Result<(), StoreError>;
    /// Counters of `prefix` for days `from..=to` (persisted + pending), days with data only.
    fn counters(&self, prefix: &str, from: u32, to: u32) -> Result<Vec<(u32, DayCounters)>, StoreError>;

    // ------------------------------------------------------------------ audit
    /// Appends an audit entry (its `seq` is assigned); durable on return.
    fn append_audit(&self, e: AuditEntry) -> Result<u64, StoreError>;
    /// Audit entries with seq > `after`, ascending, at most `limit`.
    fn read_audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;

    // ------------------------------------------------------------------- meta
    /// Schema version and node id written when the store was created.
    fn meta(&self) -> StoreMeta;
    /// Forces a durable flush (writes already wait for one).
    fn flush(&self) -> Result<(), StoreError>;

    // -------------------------------------------- link index (issue 12)
    // Maintained only by `service::refs::RefIndex` from the change log; a
    // backend without these methods has no `up` traces (the default bodies
    // say so). Writes here need not be durable on return: the index's
    // consumer position, stored after them, is (and a replay is idempotent).

    /// Replaces the links recorded for the record `source` (canonical key)
    /// by `links` (relation, target canonical key), forward and reverse,
    /// atomically.
    fn set_links(&self, source: &[u8], links: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let _ = (source, links);
        Err(StoreError::Backend("this store keeps no link index".into()))
    }

    /// Records linking to `target` (canonical key), as (source canonical
    /// key, relation), in (source, relation) order strictly after `after`,
    /// at most `limit`.
    fn links_to(
        &self,
        target: &[u8],
        after: Option<(&[u8], &str)>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, String)>, StoreError> {
        let _ = (target, after, limit);
        Err(StoreError::Backend("this store keeps no link index".into()))
    }

    /// Empties the link index (before a rebuild).
    fn clear_links(&self) -> Result<(), StoreError> {
        Err(StoreError::Backend("this store keeps no link index".into()))
    }
}

/// Convenience wrappers over [`Store::write`].
pub trait StoreExt: Store {
    fn create_record(
        &self,
        key: &[u8],
        values: Vec<Value>,
        overwrite: bool,
        ctx: &WriteCtx,
    ) -> Result<WriteReceipt, StoreError> {
        self.write(RecordOp::Create { key: key.to_vec(), values, overwrite }, ctx)
    }
    fn replace_record(&self, key: &[u8], values: Vec<Value>, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        self.write(RecordOp::Replace { key: key.to_vec(), values }, ctx)
    }
    fn delete_record(&self, key: &[u8], ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        self.write(RecordOp::Delete { key: key.to_vec() }, ctx)
    }
    fn add_values(
        &self,
        key: &[u8],
        values: Vec<Value>,
        overwrite: bool,
        ctx: &WriteCtx,
    ) -> Result<WriteReceipt, StoreError> {
        self.write(RecordOp::AddValues { key: key.to_vec(), values, overwrite }, ctx)
    }
    fn modify_values(&self, key: &[u8], values: Vec<Value>, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        self.write(RecordOp::ModifyValues { key: key.to_vec(), values }, ctx)
    }
    fn remove_values(&self, key: &[u8], indexes: Vec<u32>, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        self.write(RecordOp::RemoveValues { key: key.to_vec(), indexes }, ctx)
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_safe() {
        fn take(_: Option<Arc<dyn Store>>) {}
        take(None);
    }
}
