//! [`SledStore`]: the [`Store`] on sled 0.34.
//!
//! * **One writer at a time.** Record, prefix, audit and counter writes take
//!   a writer mutex, compute the new state from the committed one, and
//!   commit a write-only sled transaction across the trees involved. This
//!   keeps change-log sequence numbers gap-free *in commit order* (a reader
//!   following the log never sees seq N+1 before N) and means sled never has
//!   to re-run a transaction closure on conflict. The mutex is held for the
//!   compute + commit (about 15 µs per record: a 5000-record import batch
//!   holds it ~80 ms), never across the flush, which is where the time of a
//!   single write goes.
//! * **Durability by group commit** ([`super::group_commit`]): after
//!   committing, a writer waits for a flush that started after its commit.
//!   sled's own periodic flusher is switched off (`flush_every_ms(None)`):
//!   every write path waits for our flush anyway, so a second timer-driven
//!   flusher would only add I/O and compete for the log.
//! * **Reads** go straight to sled (lock-free) and to in-memory snapshots
//!   (prefix index) and never wait for writers.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::counters::CounterAcc;
use super::group_commit::GroupCommit;
use super::key_filter::KeyFilter;
use super::prefix_index::{PrefixIndex, PrefixMatch};
use super::read_cache::ReadCache;
use super::{
    ConsumerPosition, PruneReport, ReadStamp, RecordOp, Resolution, Retention, Store, StoreError, StoreMeta, Version,
    WriteCtx, WriteReceipt,
};
use crate::ident::{MAX_HANDLE_BYTES, check_prefix_chars, prefix_of};
use crate::model::record::MAX_RECORD_BYTES;
use crate::model::wire::{MAX_HANDLE_LEN, MAX_VALUES};
use crate::model::{
    Alias, AuditEntry, Change, ChangeOp, DayCounters, Enterprise, Identity, Prefix, RecordBytes, Stored, Template,
    Value, day_of, encode_record,
};

/// Default sled page-cache size: 256 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// Layout version of this build's store (the `meta` tree's `schema`):
/// the store format, see `format.rs`.
pub const SCHEMA_VERSION: u32 = format::FORMAT_VERSION;
pub use format::{FORMAT_VERSION, Upgrade, UpgradeHistory};

/// Most change-log entries stored under one `changelog` key.
///
/// The change log is stored in *groups*: the key is the big-endian seq of
/// the group's first change, the value is the version byte + postcard
/// `Vec<Change>` of up to this many consecutive changes committed in the
/// same transaction. One sled insert per record plus one per group (rather
/// than two per record) is what lets a bulk import reach its target rate:
/// measured here, 5000-record transactions with a per-record log entry ran
/// at ~38k records/s, with grouped entries at ~75k records/s.
const CHANGES_PER_GROUP: usize = 256;

mod alias_batch;
mod cas;
mod changelog;
mod format;
mod links;
mod open;
mod resolve;
mod snapshot;
mod write;
use changelog::{decode_group, group_bytes, last_change};
pub use snapshot::index_bytes_for as read_snapshot_index_bytes;

/// How to open a [`SledStore`].
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// Directory of the store (created if missing).
    pub path: PathBuf,
    /// sled page-cache bytes (default [`DEFAULT_CACHE_BYTES`]).
    pub cache_capacity: u64,
    /// Node id to record when the store is **created**; an existing store
    /// keeps its own. `None` = a random 16-hex-digit id.
    pub node_id: Option<String>,
    /// Unix seconds, recorded as the creation time of a new store.
    pub now: u64,
    /// Records in the read cache (0 = no cache).
    pub read_cache_entries: usize,
    /// Alias targets in the alias read cache (0 = no cache).
    pub alias_cache_entries: usize,
    /// Serve resolutions from a read snapshot of the `handles` tree
    /// (`snapshot.rs`), loaded or built in the background after open.
    pub read_snapshot: bool,
    /// Upgrade a store written in an older format (`format.rs`) instead of
    /// refusing it with [`StoreError::FormatTooOld`].
    pub migrate: bool,
}

impl SledOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SledOptions {
            path: path.into(),
            cache_capacity: DEFAULT_CACHE_BYTES,
            node_id: None,
            now: 0,
            read_cache_entries: 0,
            alias_cache_entries: 0,
            read_snapshot: false,
            migrate: false,
        }
    }
    /// Upgrade an older store format in place (`idnode store migrate`).
    pub fn migrate(mut self, on: bool) -> Self {
        self.migrate = on;
        self
    }
    /// Serve resolutions from the read snapshot (see `snapshot.rs`).
    pub fn read_snapshot(mut self, on: bool) -> Self {
        self.read_snapshot = on;
        self
    }
    /// Records kept in the in-memory read cache in front of sled (0 = off;
    /// see `read_cache.rs`).
    pub fn read_cache_entries(mut self, entries: usize) -> Self {
        self.read_cache_entries = entries;
        self
    }
    /// Alias targets kept in memory for [`Store::alias_target`] (0 = off).
    pub fn alias_cache_entries(mut self, entries: usize) -> Self {
        self.alias_cache_entries = entries;
        self
    }
    pub fn cache_capacity(mut self, bytes: u64) -> Self {
        self.cache_capacity = bytes;
        self
    }
    pub fn node_id(mut self, id: impl Into<String>) -> Self {
        self.node_id = Some(id.into());
        self
    }
    pub fn now(mut self, now: u64) -> Self {
        self.now = now;
        self
    }
}

#[derive(Debug)]
struct Trees {
    handles: sled::Tree,
    prefixes: sled::Tree,
    enterprises: sled::Tree,
    identities: sled::Tree,
    templates: sled::Tree,
    aliases: sled::Tree,
    changelog: sled::Tree,
    counters: sled::Tree,
    audit: sled::Tree,
    consumers: sled::Tree,
}

#[derive(Debug)]
struct WriterState {
    seq: u64,
    audit_seq: u64,
    /// Time of the last change-log entry: entity writes (which take no
    /// `WriteCtx`) never log an earlier time.
    last_time: u64,
}

/// The sled-backed store. Open once per directory per process; a second
/// open of a directory held elsewhere fails with [`StoreError::Locked`].
#[derive(Debug)]
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    t: Trees,
    writer: Mutex<WriterState>,
    last_seq: AtomicU64,
    /// Advances only after the flush that made a change durable.
    durable_seq: AtomicU64,
    /// Bulk mode (offline import): writes return before their flush; the
    /// caller makes them durable with [`SledStore::make_durable`].
    deferred: std::sync::atomic::AtomicBool,
    index: RwLock<Arc<PrefixIndex>>,
    counters: CounterAcc,
    gc: GroupCommit,
    meta: StoreMeta,
    /// Format upgrades applied to this store (`format.rs`).
    history: UpgradeHistory,
    /// How many of them this open applied.
    upgraded_now: usize,
    cache: Option<ReadCache>,
    /// Alias targets by alias key, for [`Store::alias_target`]; invalidated
    /// by every write to the `aliases` tree (`commit_entities`).
    alias_cache: Option<ReadCache<Arc<str>>>,
    /// Which alias keys exist (`key_filter.rs`): an alias that is not
    /// there is answered without a sled read.
    alias_filter: Option<Arc<KeyFilter>>,
    filter_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Advanced after every reload of the prefix index (a case policy may
    /// have changed): part of every [`ReadStamp`].
    prefix_epoch: AtomicU32,
    snap: Option<Arc<snapshot::ReadSnapshot>>,
    snap_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn txn_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => backend(e),
    }
}

fn map_open_err(e: sled::Error, path: &Path) -> StoreError {
    if let sled::Error::Io(io) = &e {
        let msg = io.to_string();
        if msg.contains("could not acquire lock") || io.kind() == std::io::ErrorKind::WouldBlock {
            return StoreError::Locked { path: path.display().to_string() };
        }
    }
    StoreError::Backend(format!("opening {}: {e}", path.display()))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn last_u64_key(tree: &sled::Tree, name: &'static str) -> Result<u64, StoreError> {
    match tree.last().map_err(backend)? {
        None => Ok(0),
        Some((k, _)) => {
            let b: [u8; 8] = k.as_ref().try_into().map_err(|_| StoreError::corrupt(name, "key is not a u64"))?;
            Ok(u64::from_be_bytes(b))
        }
    }
}

fn decode<T: Stored>(tree: &'static str, b: &[u8]) -> Result<T, StoreError> {
    T::from_stored(b).map_err(|e| StoreError::decode(tree, e))
}

pub(crate) fn upper(s: &str) -> Vec<u8> {
    s.as_bytes().to_ascii_uppercase()
}

pub(crate) fn two_part_key(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + 1 + b.len());
    k.extend_from_slice(a);
    k.push(0);
    k.extend_from_slice(b);
    k
}

pub(crate) fn check_key(key: &[u8]) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::Invalid("empty identifier key".into()));
    }
    // +5: a bare prefix is stored under `0.NA/<it>`.
    if key.len() > MAX_HANDLE_BYTES + 5 {
        return Err(StoreError::Invalid(format!("identifier key of {} bytes exceeds {MAX_HANDLE_BYTES}", key.len())));
    }
    Ok(())
}

/// Validates values before they are stored: UTF-8 types, reference handle
/// lengths, no repeated index; stamps timestamp 0 with `now` unless
/// `keep_timestamps`.
pub(crate) fn prepare_values(values: &mut [Value], now: u32, keep_timestamps: bool) -> Result<(), StoreError> {
    if values.len() > MAX_VALUES {
        return Err(StoreError::Limit(format!("{} values exceed the limit of {MAX_VALUES}", values.len())));
    }
    for i in 0..values.len() {
        let v = &values[i];
        if values[..i].iter().any(|o| o.index == v.index) {
            return Err(StoreError::DuplicateIndex(v.index));
        }
        if std::str::from_utf8(&v.value_type).is_err() {
            return Err(StoreError::Invalid(format!("value {}: type is not UTF-8", v.index)));
        }
        if v.references.len() > MAX_VALUES || v.references.iter().any(|r| r.handle.len() > MAX_HANDLE_LEN) {
            return Err(StoreError::Limit(format!("value {}: references exceed limits", v.index)));
        }
        if v.references.iter().any(|r| std::str::from_utf8(&r.handle).is_err()) {
            return Err(StoreError::Invalid(format!("value {}: reference handle is not UTF-8", v.index)));
        }
    }
    if !keep_timestamps {
        for v in values.iter_mut() {
            if v.timestamp == 0 {
                v.timestamp = now;
            }
        }
    }
    Ok(())
}

pub(crate) fn encode_checked(values: &[Value]) -> Result<Vec<u8>, StoreError> {
    if values.len() > MAX_VALUES {
        return Err(StoreError::Limit(format!("record would have {} values (limit {MAX_VALUES})", values.len())));
    }
    let b = encode_record(values);
    if b.len() > MAX_RECORD_BYTES {
        return Err(StoreError::Limit(format!("record of {} bytes exceeds {MAX_RECORD_BYTES}", b.len())));
    }
    Ok(b)
}

impl Drop for SledStore {
    fn drop(&mut self) {
        if let Err(e) = self.persist_counters() {
            // Nowhere to report from Drop; counters are statistics.
            let _ = e;
        }
        if let Some(rs) = &self.snap {
            rs.stop.store(true, Ordering::Relaxed);
        }
        if let Some(f) = &self.alias_filter {
            f.stop.store(true, Ordering::Relaxed);
        }
        for th in [lock(&self.snap_thread).take(), lock(&self.filter_thread).take()].into_iter().flatten() {
            let _ = th.join();
        }
        self.gc.stop();
        let _ = self.db.flush();
    }
}

/// The "missing" error of a put (never raised: a put does not need the entity to exist).
fn unreachable_missing(what: &'static str) -> StoreError {
    StoreError::EntityNotFound { what, key: String::new() }
}

fn record_range(prefix: Option<&str>, after: Option<&[u8]>) -> (Vec<u8>, Bound<Vec<u8>>) {
    let start = match prefix {
        Some(p) => {
            let mut s = upper(p);
            s.push(b'/');
            s
        }
        None => Vec::new(),
    };
    let lower = match after {
        Some(a) if a >= start.as_slice() => Bound::Excluded(a.to_vec()),
        _ => Bound::Included(start.clone()),
    };
    (start, lower)
}

impl Store for SledStore {
    fn get_record(&self, key: &[u8]) -> Result<Option<RecordBytes>, StoreError> {
        let ticket = match &self.cache {
            Some(c) => match c.get(key) {
                Ok(hit) => return Ok(hit),
                Err(ticket) => Some(ticket),
            },
            None => None,
        };
        if let Some(rs) = &self.snap {
            // An I/O error on the snapshot falls through to sled.
            if let Ok(snapshot::Lookup::Found(r)) = rs.get(key) {
                if let (Some(c), Some(t), Some(rec)) = (&self.cache, ticket, &r) {
                    c.fill(key, rec, t);
                }
                return Ok(r);
            }
        }
        match self.t.handles.get(key).map_err(backend)? {
            None => Ok(None),
            Some(iv) => {
                let rec =
                    RecordBytes::new(bytes::Bytes::from_owner(iv)).map_err(|e| StoreError::corrupt("handles", e))?;
                if let (Some(c), Some(t)) = (&self.cache, ticket) {
                    c.fill(key, &rec, t);
                }
                Ok(Some(rec))
            }
        }
    }

    fn contains_record(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.t.handles.contains_key(key).map_err(backend)
    }

    fn write(&self, op: RecordOp, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        let mut r = self.apply(vec![op], ctx)?;
        r.pop().unwrap_or_else(|| Err(StoreError::Backend("no result".into())))
    }

    fn write_batch(
        &self,
        ops: Vec<RecordOp>,
        ctx: &WriteCtx,
    ) -> Result<Vec<Result<WriteReceipt, StoreError>>, StoreError> {
        self.apply(ops, ctx)
    }

    fn scan_records(
        &self,
        prefix: Option<&str>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, RecordBytes)>, StoreError> {
        let (start, lower) = record_range(prefix, after);
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for kv in self.t.handles.range::<Vec<u8>, _>((lower, Bound::Unbounded)) {
            let (k, v) = kv.map_err(backend)?;
            if !k.starts_with(&start) {
                break;
            }
            let rb = RecordBytes::new(bytes::Bytes::from_owner(v)).map_err(|e| StoreError::corrupt("handles", e))?;
            out.push((k.to_vec(), rb));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn scan_keys(&self, prefix: Option<&str>, after: Option<&[u8]>, limit: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        let (start, lower) = record_range(prefix, after);
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for k in self.t.handles.range::<Vec<u8>, _>((lower, Bound::Unbounded)).keys() {
            let k = k.map_err(backend)?;
            if !k.starts_with(&start) {
                break;
            }
            out.push(k.to_vec());
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn count_records(&self, prefix: Option<&str>) -> Result<u64, StoreError> {
        let start = prefix.map(|p| {
            let mut s = upper(p);
            s.push(b'/');
            s
        });
        if start.is_none()
            && let Some(rs) = &self.snap
            // At start the snapshot is a fraction of a second away (its
            // index is loaded, not built): wait rather than walk 10^7 keys.
            && rs.wait_ready()
            && let Some(n) = rs.count_records(|k| self.t.handles.contains_key(k).map_err(backend))
        {
            // Every record without walking 10^7 keys (the daemon's gauge).
            return n;
        }
        let mut n = 0u64;
        match start {
            None => {
                for k in self.t.handles.iter().keys() {
                    k.map_err(backend)?;
                    n += 1;
                }
            }
            Some(s) => {
                for k in self.t.handles.scan_prefix(s).keys() {
                    k.map_err(backend)?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    fn put_prefix(&self, p: &Prefix, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        check_prefix_chars(&p.prefix).map_err(|e| StoreError::Invalid(format!("prefix {:?}: {e}", p.prefix)))?;
        self.write_prefix(upper(&p.prefix), Some(p.to_stored()), ctx, None)
    }

    fn get_prefix(&self, prefix: &str) -> Result<Option<Prefix>, StoreError> {
        self.get_plain(&self.t.prefixes, "prefixes", &upper(prefix))
    }

    fn delete_prefix(&self, prefix: &str, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        let key = upper(prefix);
        if !self.t.prefixes.contains_key(&key).map_err(backend)? {
            return Err(StoreError::EntityNotFound { what: "prefix", key: prefix.to_owned() });
        }
        self.write_prefix(key, None, ctx, None)
    }

    fn list_prefixes(&self) -> Result<Vec<Prefix>, StoreError> {
        let mut out = Vec::new();
        for kv in self.t.prefixes.iter() {
            let (_, v) = kv.map_err(backend)?;
            out.push(decode("prefixes", &v)?);
        }
        Ok(out)
    }

    fn home_prefix(&self, prefix: &str, ctx: &WriteCtx) -> Result<Prefix, StoreError> {
        for _ in 0..super::CAS_ATTEMPTS {
            let (p, ver) = match self.get_prefix_versioned(prefix)? {
                Some((p, _)) if p.homed => return Ok(p),
                Some((mut p, ver)) => {
                    p.homed = true;
                    p.updated = ctx.now;
                    (p, ver)
                }
                None => (Prefix::homed(prefix, ctx.now), super::ABSENT),
            };
            match self.put_prefix_if(&p, ver, ctx) {
                Ok(_) => return Ok(p),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict { what: "prefix", key: prefix.to_owned() })
    }

    fn unhome_prefix(&self, prefix: &str, ctx: &WriteCtx) -> Result<(), StoreError> {
        for _ in 0..super::CAS_ATTEMPTS {
            let (mut p, ver) = self
                .get_prefix_versioned(prefix)?
                .ok_or_else(|| StoreError::EntityNotFound { what: "prefix", key: prefix.to_owned() })?;
            if !p.homed {
                return Ok(());
            }
            p.homed = false;
            p.updated = ctx.now;
            match self.put_prefix_if(&p, ver, ctx) {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict { what: "prefix", key: prefix.to_owned() })
    }

    fn is_homed(&self, prefix: &[u8]) -> bool {
        let idx = self.index.read().unwrap_or_else(|e| e.into_inner());
        idx.get(prefix).is_some_and(|p| p.homed)
    }

    fn longest_homed(&self, prefix: &[u8]) -> Option<PrefixMatch> {
        self.index.read().unwrap_or_else(|e| e.into_inner()).longest(prefix, true)
    }

    fn longest_known(&self, prefix: &[u8]) -> Option<PrefixMatch> {
        self.index.read().unwrap_or_else(|e| e.into_inner()).longest(prefix, false)
    }

    fn homed_prefixes(&self) -> Vec<Arc<Prefix>> {
        self.index().homed().to_vec()
    }

    fn get_prefix_versioned(&self, prefix: &str) -> Result<Option<(Prefix, Version)>, StoreError> {
        self.get_versioned(&self.t.prefixes, "prefixes", &upper(prefix))
    }

    fn put_prefix_if(&self, p: &Prefix, expected: Version, ctx: &WriteCtx) -> Result<WriteReceipt, StoreError> {
        self.put_prefix_cas(p, expected, ctx)
    }

    fn get_enterprise_versioned(&self, id: u64) -> Result<Option<(Enterprise, Version)>, StoreError> {
        self.get_versioned(&self.t.enterprises, "enterprises", &id.to_be_bytes())
    }

    fn put_enterprise_if(&self, e: &Enterprise, expected: Version) -> Result<(), StoreError> {
        self.put_enterprise_cas(e, expected)
    }

    fn get_identity_versioned(&self, username: &str) -> Result<Option<(Identity, Version)>, StoreError> {
        self.get_versioned(&self.t.identities, "identities", username.as_bytes())
    }

    fn put_identity_if(&self, i: &Identity, expected: Version) -> Result<(), StoreError> {
        self.put_identity_cas(i, expected)
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id().map_err(backend)? + 1)
    }

    fn put_enterprise(&self, e: &Enterprise) -> Result<(), StoreError> {
        self.write_entity(
            &self.t.enterprises,
            &e.id.to_be_bytes(),
            Some(e.to_stored()),
            ChangeOp::EnterprisePut,
            e.updated.max(e.created),
            || unreachable_missing("enterprise"),
        )
    }

    fn get_enterprise(&self, id: u64) -> Result<Option<Enterprise>, StoreError> {
        self.get_plain(&self.t.enterprises, "enterprises", &id.to_be_bytes())
    }

    fn delete_enterprise(&self, id: u64) -> Result<(), StoreError> {
        self.write_entity(&self.t.enterprises, &id.to_be_bytes(), None, ChangeOp::EnterpriseDelete, 0, || {
            StoreError::EntityNotFound { what: "enterprise", key: id.to_string() }
        })
    }

    fn list_enterprises(&self, after: u64, limit: usize) -> Result<Vec<Enterprise>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 || after == u64::MAX {
            return Ok(out);
        }
        for kv in self.t.enterprises.range((after + 1).to_be_bytes()..) {
            let (_, v) = kv.map_err(backend)?;
            out.push(decode("enterprises", &v)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn put_identity(&self, i: &Identity) -> Result<(), StoreError> {
        if i.username.is_empty() {
            return Err(StoreError::Invalid("empty username".into()));
        }
        self.write_entity(
            &self.t.identities,
            i.username.as_bytes(),
            Some(i.to_stored()),
            ChangeOp::IdentityPut,
            i.created,
            || unreachable_missing("identity"),
        )
    }

    fn get_identity(&self, username: &str) -> Result<Option<Identity>, StoreError> {
        self.get_plain(&self.t.identities, "identities", username.as_bytes())
    }

    fn delete_identity(&self, username: &str) -> Result<(), StoreError> {
        self.write_entity(&self.t.identities, username.as_bytes(), None, ChangeOp::IdentityDelete, 0, || {
            StoreError::EntityNotFound { what: "identity", key: username.to_owned() }
        })
    }

    fn list_identities(&self, after: Option<&str>, limit: usize) -> Result<Vec<Identity>, StoreError> {
        let lower = match after {
            Some(a) => Bound::Excluded(a.as_bytes().to_vec()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for kv in self.t.identities.range::<Vec<u8>, _>((lower, Bound::Unbounded)) {
            let (_, v) = kv.map_err(backend)?;
            out.push(decode("identities", &v)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn put_template(&self, t: &Template) -> Result<(), StoreError> {
        if t.prefix.is_empty() || t.version.is_empty() {
            return Err(StoreError::Invalid("template needs a prefix and a version".into()));
        }
        self.write_entity(
            &self.t.templates,
            &two_part_key(&upper(&t.prefix), t.version.as_bytes()),
            Some(t.to_stored()),
            ChangeOp::TemplatePut,
            t.updated.max(t.created),
            || unreachable_missing("template"),
        )
    }

    fn get_template(&self, prefix: &str, version: &str) -> Result<Option<Template>, StoreError> {
        self.get_plain(&self.t.templates, "templates", &two_part_key(&upper(prefix), version.as_bytes()))
    }

    fn delete_template(&self, prefix: &str, version: &str) -> Result<(), StoreError> {
        self.write_entity(
            &self.t.templates,
            &two_part_key(&upper(prefix), version.as_bytes()),
            None,
            ChangeOp::TemplateDelete,
            0,
            || StoreError::EntityNotFound { what: "template", key: format!("{prefix} {version}") },
        )
    }

    fn list_templates(&self, prefix: Option<&str>) -> Result<Vec<Template>, StoreError> {
        let start = match prefix {
            Some(p) => {
                let mut s = upper(p);
                s.push(0);
                s
            }
            None => Vec::new(),
        };
        let mut out = Vec::new();
        for kv in self.t.templates.scan_prefix(start) {
            let (_, v) = kv.map_err(backend)?;
            out.push(decode("templates", &v)?);
        }
        Ok(out)
    }

    fn put_alias(&self, a: &Alias) -> Result<(), StoreError> {
        if a.scheme.is_empty() || a.code.is_empty() || a.scheme.contains('\0') {
            return Err(StoreError::Invalid("alias needs a scheme (without NUL) and a code".into()));
        }
        self.write_entity(
            &self.t.aliases,
            &two_part_key(a.scheme.as_bytes(), a.code.as_bytes()),
            Some(a.to_stored()),
            ChangeOp::AliasPut,
            a.created,
            || unreachable_missing("alias"),
        )
    }

    fn get_alias(&self, scheme: &str, code: &str) -> Result<Option<Alias>, StoreError> {
        self.get_plain(&self.t.aliases, "aliases", &two_part_key(scheme.as_bytes(), code.as_bytes()))
    }

    fn alias_target(&self, scheme: &str, code: &str) -> Result<Option<Arc<str>>, StoreError> {
        self.alias_target_at(&two_part_key(scheme.as_bytes(), code.as_bytes()))
    }

    fn put_aliases(&self, list: &[Alias]) -> Result<(), StoreError> {
        self.put_alias_batch(list)
    }

    fn resolve_stamped(&self, via: Resolution<'_>) -> Result<(Option<RecordBytes>, Option<ReadStamp>), StoreError> {
        self.resolve_with_stamp(via)
    }

    #[inline]
    fn stamp_is_current(&self, s: &ReadStamp) -> bool {
        self.stamp_current(s)
    }

    fn delete_alias(&self, scheme: &str, code: &str) -> Result<(), StoreError> {
        self.write_entity(
            &self.t.aliases,
            &two_part_key(scheme.as_bytes(), code.as_bytes()),
            None,
            ChangeOp::AliasDelete,
            0,
            || StoreError::EntityNotFound { what: "alias", key: format!("{scheme}:{code}") },
        )
    }

    fn list_aliases(&self, scheme: &str, after: Option<&str>, limit: usize) -> Result<Vec<Alias>, StoreError> {
        let start = two_part_key(scheme.as_bytes(), b"");
        let lower = match after {
            Some(a) => Bound::Excluded(two_part_key(scheme.as_bytes(), a.as_bytes())),
            None => Bound::Included(start.clone()),
        };
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for kv in self.t.aliases.range::<Vec<u8>, _>((lower, Bound::Unbounded)) {
            let (k, v) = kv.map_err(backend)?;
            if !k.starts_with(&start) {
                break;
            }
            out.push(decode("aliases", &v)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        self.log_since(after, limit)
    }

    fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }

    fn durable_seq(&self) -> u64 {
        self.durable_seq.load(Ordering::Acquire)
    }

    fn first_seq(&self) -> Result<u64, StoreError> {
        match self.t.changelog.first().map_err(backend)? {
            None => Ok(0),
            Some((_, v)) => Ok(decode_group(&v)?.first().map_or(0, |c| c.seq)),
        }
    }

    fn consumer_position(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.get_plain::<ConsumerPosition>(&self.t.consumers, "consumers", name.as_bytes())?.map(|c| c.position))
    }

    fn set_consumer_position(&self, name: &str, position: u64, now: u64) -> Result<(), StoreError> {
        if name.is_empty() {
            return Err(StoreError::Invalid("empty consumer name".into()));
        }
        let c = ConsumerPosition { name: name.to_owned(), position, updated: now };
        self.t.consumers.insert(name.as_bytes(), c.to_stored()).map_err(backend)?;
        self.gc.wait_durable()
    }

    fn remove_consumer(&self, name: &str) -> Result<(), StoreError> {
        match self.t.consumers.remove(name.as_bytes()).map_err(backend)? {
            Some(_) => self.gc.wait_durable(),
            None => Err(StoreError::EntityNotFound { what: "consumer", key: name.to_owned() }),
        }
    }

    fn consumers(&self) -> Result<Vec<ConsumerPosition>, StoreError> {
        let mut out = Vec::new();
        for kv in self.t.consumers.iter() {
            let (_, v) = kv.map_err(backend)?;
            out.push(decode("consumers", &v)?);
        }
        Ok(out)
    }

    fn prune_changelog(&self, r: &Retention, now: u64) -> Result<PruneReport, StoreError> {
        self.log_prune(r, now)
    }

    fn count_resolution(&self, prefix: &[u8], day: u32, n: u64) {
        let idx = self.index.read().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = idx.key_of(prefix) {
            self.counters.add(key, day, DayCounters { registrations: 0, resolutions: n });
        }
    }

    fn count_registrations(&self, prefix: &[u8], day: u32, n: u64) {
        self.counters.add(prefix, day, DayCounters { registrations: n, resolutions: 0 });
    }

    fn persist_counters(&self) -> Result<(), StoreError> {
        let pending = self.counters.drain();
        if pending.is_empty() {
            return Ok(());
        }
        let w = lock(&self.writer);
        let mut merged: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(pending.len());
        for (p, day, c) in &pending {
            let key = two_part_key(p, &day.to_be_bytes());
            let mut cur = match self.t.counters.get(&key) {
                Ok(Some(b)) => decode::<DayCounters>("counters", &b).unwrap_or_default(),
                Ok(None) => DayCounters::default(),
                Err(e) => {
                    drop(w);
                    self.counters.restore(pending);
                    return Err(backend(e));
                }
            };
            cur.add(*c);
            merged.push((key, cur.to_stored()));
        }
        let mut batch = sled::Batch::default();
        for (k, v) in merged {
            batch.insert(k, v);
        }
        let r = self.t.counters.apply_batch(batch).map_err(backend);
        drop(w);
        if let Err(e) = r {
            self.counters.restore(pending);
            return Err(e);
        }
        self.gc.wait_durable()
    }

    fn counters(&self, prefix: &str, from: u32, to: u32) -> Result<Vec<(u32, DayCounters)>, StoreError> {
        let p = upper(prefix);
        let mut out: Vec<(u32, DayCounters)> = Vec::new();
        if from <= to {
            let lo = two_part_key(&p, &from.to_be_bytes());
            let hi = two_part_key(&p, &to.to_be_bytes());
            for kv in self.t.counters.range(lo..=hi) {
                let (k, v) = kv.map_err(backend)?;
                let d: [u8; 4] =
                    k[k.len() - 4..].try_into().map_err(|_| StoreError::corrupt("counters", "short key"))?;
                out.push((u32::from_be_bytes(d), decode("counters", &v)?));
            }
        }
        for (day, c) in self.counters.pending_days(&p, from, to) {
            match out.iter_mut().find(|(d, _)| *d == day) {
                Some((_, cur)) => cur.add(c),
                None => out.push((day, c)),
            }
        }
        out.sort_by_key(|(d, _)| *d);
        Ok(out)
    }

    fn append_audit(&self, mut e: AuditEntry) -> Result<u64, StoreError> {
        let mut w = lock(&self.writer);
        let seq = w.audit_seq + 1;
        e.seq = seq;
        self.t.audit.insert(seq.to_be_bytes(), e.to_stored()).map_err(backend)?;
        w.audit_seq = seq;
        drop(w);
        self.sync_unless_deferred()?;
        Ok(seq)
    }

    fn read_audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 || after == u64::MAX {
            return Ok(out);
        }
        for kv in self.t.audit.range((after + 1).to_be_bytes()..) {
            let (_, v) = kv.map_err(backend)?;
            out.push(decode("audit", &v)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn meta(&self) -> StoreMeta {
        self.meta.clone()
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.make_durable().map(|_| ())
    }

    fn pause_writes(&self, f: &mut dyn FnMut() -> Result<(), StoreError>) -> Result<(), StoreError> {
        // Every write path takes the writer mutex to commit; holding it,
        // nothing commits. Writes committed before it are made durable
        // here so that `changes_since` returns them.
        let _w = lock(&self.writer);
        self.make_durable()?;
        f()
    }

    fn write_batch_marking(
        &self,
        ops: Vec<RecordOp>,
        ctx: &WriteCtx,
        consumer: &str,
        position: u64,
    ) -> Result<Vec<Result<WriteReceipt, StoreError>>, StoreError> {
        let mark = crate::store::consumer_mark(consumer, position, ctx.now)?;
        self.apply_marked(ops, ctx, Some(mark))
    }

    fn set_links(&self, source: &[u8], links: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        links::set_links(&self.db, source, links)
    }

    fn links_to(
        &self,
        target: &[u8],
        after: Option<(&[u8], &str)>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, String)>, StoreError> {
        links::links_to(&self.db, target, after, limit)
    }

    fn clear_links(&self) -> Result<(), StoreError> {
        links::clear_links(&self.db)
    }
}
