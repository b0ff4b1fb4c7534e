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
//! and fine to call directly from async code **on sled**. A backend that can
//! block on the network (PostgreSQL) answers those from memory when it can
//! (read cache, prefix index) and otherwise blocks for a round trip, so the
//! rule for async call sites is: every store call that is not one of the
//! memory-only methods ([`Store::is_homed`], [`Store::longest_homed`],
//! [`Store::longest_known`], [`Store::homed_prefixes`],
//! [`Store::canonical_key`], [`Store::count_resolution`],
//! [`Store::last_seq`], [`Store::durable_seq`], [`Store::follow_status`])
//! goes through `tokio::task::spawn_blocking` (or a dedicated thread pool),
//! never directly on an async worker thread. Backends are thread-safe and
//! keep their own connection pools; they never call back into a runtime.
//!
//! Backend neutrality: no backend type appears in this interface. Records
//! are [`RecordBytes`] (a `bytes::Bytes` buffer); entity read-modify-write
//! is by compare-and-swap on an opaque [`Version`] (`get_*_versioned`,
//! `put_*_if`, and the retrying `update_*` helpers of [`StoreExt`]), not by
//! in-process locks, so several processes can share one backend. The change
//! log's sequence is gap-free in commit order on every backend (a follower
//! reading `changes_since(n)` never sees `n + 2` before `n + 1`). Memory-only
//! state (homed prefixes, the prefix index, the read cache) is per process:
//! a shared backend refreshes it from the change log in
//! [`Store::catch_up`] and reports how far behind it is in
//! [`Store::follow_status`]; sled, the only writer of its directory, is
//! never behind.
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

pub mod copy;
mod counters;
mod group_commit;
mod key_filter;
mod prefix_index;
mod read_cache;
mod sled_store;
mod stamp;

#[cfg(feature = "postgres")]
pub mod postgres;

pub use prefix_index::PrefixMatch;
pub use sled_store::{
    DEFAULT_CACHE_BYTES, FORMAT_VERSION, SCHEMA_VERSION, SledOptions, SledStore, Upgrade, UpgradeHistory,
    read_snapshot_index_bytes,
};
pub use stamp::{ReadStamp, Resolution, resolve_plain};

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
    /// The store was written by a newer idnode (a downgrade): refused.
    #[error(
        "store format {found} was written by a newer idnode; this build reads format {supported} and refuses to downgrade a store: run the newer idnode, or restore a backup taken before the upgrade"
    )]
    SchemaTooNew { found: u32, supported: u32 },
    /// The store was written by an older idnode and must be upgraded first.
    #[error(
        "store format {found} is older than this build's format {current}: back it up (`idnode backup --out FILE` with the old binary, or a copy of the stopped data directory), then run `idnode store migrate` to upgrade it in place"
    )]
    FormatTooOld { found: u32, current: u32 },
    /// The directory is locked by another process (a running daemon).
    #[error("store at {path} is in use by another process (is the daemon running?)")]
    Locked { path: String },
    /// Underlying I/O / sled failure; retrying may help.
    #[error("storage backend: {0}")]
    Backend(String),
    /// A compare-and-swap write found the entity changed (or created, or
    /// removed) since it was read: read again and retry (HTTP 409).
    #[error("{what} {key} was changed concurrently; retry")]
    Conflict { what: &'static str, key: String },
    /// The backend cannot be reached (database down, pool exhausted): the
    /// write was not applied. Maps to HTTP 503 / Handle RC server busy.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
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
                | StoreError::FormatTooOld { .. }
                | StoreError::Locked { .. }
                | StoreError::Backend(_)
                | StoreError::Unavailable(_)
        )
    }

    /// True when the backend could not be reached (answer "busy, retry").
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Opaque version of a stored entity (prefix, enterprise, identity) for
/// compare-and-swap writes. [`ABSENT`] means "does not exist"; any other
/// value is backend-defined (sled: a digest of the stored bytes;
/// PostgreSQL: a per-row counter) and only compared for equality.
pub type Version = u64;

/// The [`Version`] of an entity that does not exist: `put_*_if(x, ABSENT)`
/// creates only.
pub const ABSENT: Version = 0;

/// How many times the `update_*` helpers of [`StoreExt`] retry a
/// compare-and-swap that lost a race before giving up with
/// [`StoreError::Conflict`].
pub const CAS_ATTEMPTS: usize = 32;

/// How current this process's memory-only state (read cache, prefix index)
/// is with respect to the shared change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FollowStatus {
    /// The backend is shared with other processes (memory state follows the
    /// log); false for sled.
    pub shared: bool,
    /// Every change with `seq <= applied_seq` is reflected in memory.
    pub applied_seq: u64,
    /// Milliseconds since memory state was last known to be current (0 when
    /// not shared). Compare with the configured staleness bound.
    pub behind_ms: u64,
    /// Milliseconds the last successful catch-up took from a change's
    /// commit to its application (measured staleness; 0 when unknown).
    pub last_lag_ms: u64,
    /// Transactions this process ran again after the backend reported a
    /// serialization failure or deadlock (a counter; 0 on sled).
    pub tx_retries: u64,
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

    /// A prefix and its [`Version`] for a later [`put_prefix_if`](Self::put_prefix_if).
    fn get_prefix_versioned(&self, prefix: &str) -> Result<Option<(Prefix, Version)>, StoreError>;

    /// Like [`put_prefix`](Self::put_prefix), only if the stored prefix is
    /// still at `expected` ([`ABSENT`]: must not exist); otherwise
    /// [`StoreError::Conflict`] and nothing is written.
    fn put_prefix_if(&self, p: &Prefix, expected: Version, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError>;

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
    /// An enterprise and its [`Version`].
    fn get_enterprise_versioned(&self, id: u64) -> Result<Option<(Enterprise, Version)>, StoreError>;
    /// Creates or replaces an enterprise only if it is still at `expected`
    /// ([`StoreError::Conflict`] otherwise).
    fn put_enterprise_if(&self, e: &Enterprise, expected: Version) -> Result<(), StoreError>;

    // ------------------------------------------------------------- identities
    /// Creates or replaces an identity by username.
    fn put_identity(&self, i: &Identity) -> Result<(), StoreError>;
    fn get_identity(&self, username: &str) -> Result<Option<Identity>, StoreError>;
    fn delete_identity(&self, username: &str) -> Result<(), StoreError>;
    /// Identities with username > `after`, ascending, at most `limit`.
    fn list_identities(&self, after: Option<&str>, limit: usize) -> Result<Vec<Identity>, StoreError>;
    /// An identity (account) and its [`Version`].
    fn get_identity_versioned(&self, username: &str) -> Result<Option<(Identity, Version)>, StoreError>;
    /// Creates or replaces an identity only if it is still at `expected`
    /// ([`StoreError::Conflict`] otherwise).
    fn put_identity_if(&self, i: &Identity, expected: Version) -> Result<(), StoreError>;

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
    /// The identifier `scheme`/`code` is bound to: the resolution path's
    /// read (a backend may answer it from a cache that its alias writes
    /// invalidate; the default reads the whole alias).
    fn alias_target(&self, scheme: &str, code: &str) -> Result<Option<std::sync::Arc<str>>, StoreError> {
        Ok(self.get_alias(scheme, code)?.map(|a| a.target.into()))
    }
    /// The record `via` resolves to (an alias through its target's
    /// canonical key, or a handle's canonical key), read by the resolution
    /// path's reads, and a stamp when the backend can later tell cheaply
    /// whether a write may have changed that answer (absent included)
    /// ([`stamp_is_current`](Self::stamp_is_current); `stamp.rs`). The
    /// default gives no stamp.
    fn resolve_stamped(&self, via: Resolution<'_>) -> Result<(Option<RecordBytes>, Option<ReadStamp>), StoreError> {
        Ok((stamp::resolve_plain(self, via)?, None))
    }
    /// Whether no write since `stamp` was issued can have changed the answer
    /// it was issued with (`false` when unsure; memory-only).
    fn stamp_is_current(&self, _stamp: &ReadStamp) -> bool {
        false
    }
    fn delete_alias(&self, scheme: &str, code: &str) -> Result<(), StoreError>;
    /// Aliases of `scheme` with code > `after`, at most `limit`.
    fn list_aliases(&self, scheme: &str, after: Option<&str>, limit: usize) -> Result<Vec<Alias>, StoreError>;
    /// Creates or replaces many aliases (a backend may commit them in one
    /// transaction with one durable wait; this default writes one by one).
    fn put_aliases(&self, list: &[Alias]) -> Result<(), StoreError> {
        list.iter().try_for_each(|a| self.put_alias(a))
    }

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

    // ------------------------------------------------------- shared backends
    /// Applies changes committed by *other processes* to this process's
    /// memory-only state (read cache, prefix index) by reading the change
    /// log after the last applied sequence. A shared backend calls this
    /// from its own follower thread every poll interval; callers may call it
    /// to force freshness. Single-process backends have nothing to do.
    fn catch_up(&self) -> Result<FollowStatus, StoreError> {
        Ok(self.follow_status())
    }

    /// How current memory-only state is (memory only, cheap; for `/readyz`
    /// and metrics).
    fn follow_status(&self) -> FollowStatus {
        FollowStatus { shared: false, applied_seq: self.durable_seq(), behind_ms: 0, last_lag_ms: 0, tx_retries: 0 }
    }

    /// Bulk-loads records given as stored bytes (import, restore, `store
    /// copy`): existing keys are replaced, each record logs a `Create`
    /// change; returns how many were loaded. The default goes through
    /// [`write_batch`](Self::write_batch) keeping timestamps; PostgreSQL
    /// uses `COPY`.
    fn load_records(&self, records: Vec<(Vec<u8>, RecordBytes)>, ctx: &WriteCtx) -> Result<u64, StoreError> {
        let ctx = ctx.clone().keeping_timestamps();
        let mut ops = Vec::with_capacity(records.len());
        for (key, rec) in records {
            let values = rec.values().map_err(|e| StoreError::corrupt("handles", e))?;
            ops.push(RecordOp::Create { key, values, overwrite: true });
        }
        let mut n = 0;
        for r in self.write_batch(ops, &ctx)? {
            r?;
            n += 1;
        }
        Ok(n)
    }

    /// A short name of the backend (`sled`, `postgres`) for logs and metrics.
    fn backend_name(&self) -> &'static str {
        "sled"
    }

    // ------------------------------------------------------------ replication
    /// [`write_batch`](Self::write_batch) that also sets the position of
    /// change-log consumer `consumer` to `position` — in the same
    /// transaction where the backend can (a mirror records how far it has
    /// applied its primary's log together with what it applied). The
    /// default is not atomic: the batch, then the position.
    fn write_batch_marking(
        &self,
        ops: Vec<RecordOp>,
        ctx: &WriteCtx,
        consumer: &str,
        position: u64,
    ) -> Result<Vec<Result<WriteReceipt, StoreError>>, StoreError> {
        let r = self.write_batch(ops, ctx)?;
        self.set_consumer_position(consumer, position, ctx.now)?;
        Ok(r)
    }

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

    // ------------------------------------------------ backup (issue 15)
    /// Runs `f` while no write of any kind can commit, after every
    /// committed write is durable (so `changes_since` reaches `last_seq`):
    /// the short, consistent read at the end of an online backup
    /// (`crate::backup`). Keep `f` short: writers wait. Reads inside `f`
    /// must not write. Backends that cannot pause their writers say so.
    fn pause_writes(&self, f: &mut dyn FnMut() -> Result<(), StoreError>) -> Result<(), StoreError> {
        let _ = f;
        Err(StoreError::Backend(format!(
            "the {} store cannot pause its writers for an online backup; use the database's own backup tools",
            self.backend_name()
        )))
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

    /// Read-modify-write of a prefix by compare-and-swap: `f` gets the
    /// current prefix (or `None`) and returns the new one; retried (with a
    /// fresh read) when another writer got in between. `f` may run more
    /// than once and must not have side effects.
    fn update_prefix(
        &self,
        prefix: &str,
        ctx: &WriteCtx,
        f: &mut dyn FnMut(Option<Prefix>) -> Result<Prefix, StoreError>,
    ) -> Result<(Prefix, WriteReceipt), StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            let (cur, ver) = split_versioned(self.get_prefix_versioned(prefix)?);
            let new = f(cur)?;
            match self.put_prefix_if(&new, ver, ctx) {
                Ok(r) => return Ok((new, r)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict { what: "prefix", key: prefix.to_owned() })
    }

    /// Read-modify-write of an enterprise by compare-and-swap (see
    /// [`update_prefix`](Self::update_prefix)).
    fn update_enterprise(
        &self,
        id: u64,
        f: &mut dyn FnMut(Option<Enterprise>) -> Result<Enterprise, StoreError>,
    ) -> Result<Enterprise, StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            let (cur, ver) = split_versioned(self.get_enterprise_versioned(id)?);
            let new = f(cur)?;
            match self.put_enterprise_if(&new, ver) {
                Ok(()) => return Ok(new),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict { what: "enterprise", key: id.to_string() })
    }

    /// Read-modify-write of an identity (account) by compare-and-swap (see
    /// [`update_prefix`](Self::update_prefix)).
    fn update_identity(
        &self,
        username: &str,
        f: &mut dyn FnMut(Option<Identity>) -> Result<Identity, StoreError>,
    ) -> Result<Identity, StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            let (cur, ver) = split_versioned(self.get_identity_versioned(username)?);
            let new = f(cur)?;
            match self.put_identity_if(&new, ver) {
                Ok(()) => return Ok(new),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict { what: "identity", key: username.to_owned() })
    }
}

/// The consumer position a [`Store::write_batch_marking`] stores with its
/// batch ([`StoreError::Invalid`] for an empty consumer name).
pub(crate) fn consumer_mark(consumer: &str, position: u64, now: u64) -> Result<ConsumerPosition, StoreError> {
    if consumer.is_empty() {
        return Err(StoreError::Invalid("empty consumer name".into()));
    }
    Ok(ConsumerPosition { name: consumer.to_owned(), position, updated: now })
}

fn split_versioned<T>(v: Option<(T, Version)>) -> (Option<T>, Version) {
    match v {
        Some((t, ver)) => (Some(t), ver),
        None => (None, ABSENT),
    }
}

/// The [`Version`] of stored entity bytes for backends that keep no
/// counter (FNV-1a 64, never [`ABSENT`]). Equal bytes give equal versions,
/// which is what compare-and-swap needs: a write is refused only when the
/// stored state differs from what the writer read.
pub fn version_of_bytes(b: &[u8]) -> Version {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    if h == ABSENT { 1 } else { h }
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
