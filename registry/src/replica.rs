//! Replication of the system of record to mirrors (sans-IO): what a
//! primary answers to OC 1000 / 1001 / 1002 (handle-protocol.md §3 op
//! codes; the bodies are idnode's, documented in docs/architecture.md
//! "Mirror role") and how a mirror applies those answers to its store.
//!
//! A change-log entry says *what* changed; the primary ships each entry
//! with the key's *current* state (stored bytes, or none when gone), so
//! applying entries in order from any position converges on the primary's
//! state, and applying one twice changes nothing.
//!
//! All integers are big-endian; `bytes` = u32 length + bytes.
//!
//! * 1000 answer: `u64 next_txn_id` (the primary's durable seq + 1).
//! * 1001 request: `u64 after`, `u32 limit`. Answer: `u8 status` (0 ok,
//!   1 = the log no longer reaches `after`: take a dump), `u64
//!   durable_seq`, `u64 last_time` (time of the entry `durable_seq`),
//!   `u32 n`, n × entry.
//! * 1002 request: `bytes after_key` (empty = first page), `u32 limit`.
//!   Answer: `u64 snapshot_seq` (durable seq before the page was read), `u8
//!   more`, `bytes next_key`, `u32 n`, n × entry. The first page also
//!   carries every prefix and entity.
//! * entry: `u64 seq` (0 in dumps), `u64 time`, `u16 op` (the `ChangeOp`
//!   variant number), `bytes key`, `u8 present`, [`bytes state`].

use std::collections::HashSet;

use crate::model::wire::{Reader, WireError};
use crate::model::{Alias, ChangeOp, Enterprise, Identity, Prefix, RecordBytes, Stored, Template};
use crate::store::{ConsumerPosition, RecordOp, Store, StoreError, WriteCtx};

/// Largest body a replication answer is filled to (the Handle message
/// limit is 256 KiB; one entry may go past this, never two).
pub const MAX_BODY: usize = 192 * 1024;

/// The consumer name under which a mirror keeps its applied position (a
/// seq of the *primary's* log) in its own store.
pub const APPLIED: &str = "replica:applied";

/// Every `ChangeOp`, at its variant number (new variants are appended).
const OPS: [ChangeOp; 16] = [
    ChangeOp::Create,
    ChangeOp::Delete,
    ChangeOp::AddValues,
    ChangeOp::ModifyValues,
    ChangeOp::RemoveValues,
    ChangeOp::Replace,
    ChangeOp::PrefixPut,
    ChangeOp::PrefixDelete,
    ChangeOp::EnterprisePut,
    ChangeOp::EnterpriseDelete,
    ChangeOp::IdentityPut,
    ChangeOp::IdentityDelete,
    ChangeOp::TemplatePut,
    ChangeOp::TemplateDelete,
    ChangeOp::AliasPut,
    ChangeOp::AliasDelete,
];

fn op_number(op: ChangeOp) -> u16 {
    OPS.iter().position(|o| *o == op).unwrap_or(0) as u16
}

/// What kind of thing an entry's key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Record,
    Prefix,
    Enterprise,
    Identity,
    Template,
    Alias,
}

fn kind(op: ChangeOp) -> Kind {
    use ChangeOp::*;
    match op {
        Create | Delete | AddValues | ModifyValues | RemoveValues | Replace => Kind::Record,
        PrefixPut | PrefixDelete => Kind::Prefix,
        EnterprisePut | EnterpriseDelete => Kind::Enterprise,
        IdentityPut | IdentityDelete => Kind::Identity,
        TemplatePut | TemplateDelete => Kind::Template,
        AliasPut | AliasDelete => Kind::Alias,
    }
}

/// One replicated change: the log entry and the key's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub time: u64,
    pub op: ChangeOp,
    pub key: Vec<u8>,
    /// Stored bytes of the key now (record: version byte + value list;
    /// others: `Stored` encoding); `None` = absent.
    pub state: Option<Vec<u8>>,
}

impl Entry {
    fn encoded_len(&self) -> usize {
        8 + 8 + 2 + 4 + self.key.len() + 1 + self.state.as_ref().map_or(0, |s| 4 + s.len())
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.time.to_be_bytes());
        out.extend_from_slice(&op_number(self.op).to_be_bytes());
        put_bytes(out, &self.key);
        match &self.state {
            Some(s) => {
                out.push(1);
                put_bytes(out, s);
            }
            None => out.push(0),
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Entry, WireError> {
        let seq = u64_of(r)?;
        let time = u64_of(r)?;
        let n = r.u16()? as usize;
        let op = *OPS.get(n).ok_or(WireError::Invalid { what: "change op", detail: n.to_string() })?;
        let key = r.bytes("key")?.to_vec();
        let state = match r.u8()? {
            0 => None,
            1 => Some(r.bytes("state")?.to_vec()),
            x => return Err(WireError::Invalid { what: "present flag", detail: x.to_string() }),
        };
        Ok(Entry { seq, time, op, key, state })
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn u64_of(r: &mut Reader<'_>) -> Result<u64, WireError> {
    let b = r.take(8)?;
    Ok(u64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
}

fn entries(r: &mut Reader<'_>) -> Result<Vec<Entry>, WireError> {
    let n = r.count("entries", 1 << 20, 23)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(Entry::decode(r)?);
    }
    Ok(v)
}

fn split0(key: &[u8]) -> Option<(&str, &str)> {
    let i = key.iter().position(|b| *b == 0)?;
    Some((std::str::from_utf8(&key[..i]).ok()?, std::str::from_utf8(&key[i + 1..]).ok()?))
}

fn enterprise_id(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// The current state of `key` for an entry of `op` (primary side).
pub fn current_state(store: &dyn Store, op: ChangeOp, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    let text = || std::str::from_utf8(key).ok();
    Ok(match kind(op) {
        Kind::Record => store.get_record(key)?.map(|r| r.stored().to_vec()),
        Kind::Prefix => match text() {
            Some(p) => store.get_prefix(p)?.map(|p| p.to_stored()),
            None => None,
        },
        Kind::Enterprise => match enterprise_id(key) {
            Some(id) => store.get_enterprise(id)?.map(|e| e.to_stored()),
            None => None,
        },
        Kind::Identity => match text() {
            Some(u) => store.get_identity(u)?.map(|i| i.to_stored()),
            None => None,
        },
        Kind::Template => match split0(key) {
            Some((p, v)) => store.get_template(p, v)?.map(|t| t.to_stored()),
            None => None,
        },
        Kind::Alias => match split0(key) {
            Some((s, c)) => store.get_alias(s, c)?.map(|a| a.to_stored()),
            None => None,
        },
    })
}

/// 1000: the answer body.
pub fn next_txn_id(store: &dyn Store) -> Vec<u8> {
    (store.durable_seq() + 1).to_be_bytes().to_vec()
}

/// Decodes a 1000 answer.
pub fn decode_next_txn_id(body: &[u8]) -> Result<u64, WireError> {
    let mut r = Reader::new(body);
    let v = u64_of(&mut r)?;
    r.finish("next txn id")?;
    Ok(v)
}

/// 1001 request body.
pub fn encode_log_request(after: u64, limit: u32) -> Vec<u8> {
    let mut out = after.to_be_bytes().to_vec();
    out.extend_from_slice(&limit.to_be_bytes());
    out
}

/// Decodes a 1001 request: `(after, limit)`.
pub fn decode_log_request(body: &[u8]) -> Result<(u64, u32), WireError> {
    let mut r = Reader::new(body);
    let after = u64_of(&mut r)?;
    let limit = r.u32()?;
    r.finish("txn log request")?;
    Ok((after, limit))
}

/// A decoded 1001 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    /// The primary's log no longer reaches the requested position.
    pub gap: bool,
    pub durable_seq: u64,
    /// Time of the primary's latest durable change (0 if unknown).
    pub last_time: u64,
    pub entries: Vec<Entry>,
}

/// 1001: reads up to `limit` durable changes after `after` with their
/// current states (bounded by [`MAX_BODY`]) and encodes the answer.
pub fn log_page(store: &dyn Store, after: u64, limit: u32) -> Result<Vec<u8>, StoreError> {
    let durable = store.durable_seq();
    let first = store.first_seq()?;
    let gap = after < durable && first > after + 1;
    let limit = (limit as usize).clamp(1, 10_000);
    let changes = if gap { Vec::new() } else { store.changes_since(after, limit)? };
    let last_time = if durable == 0 {
        0
    } else if changes.last().is_some_and(|c| c.seq == durable) {
        changes.last().map_or(0, |c| c.time)
    } else {
        store.changes_since(durable - 1, 1)?.first().map_or(0, |c| c.time)
    };
    let mut body = Vec::with_capacity(64 * 1024);
    body.push(u8::from(gap));
    body.extend_from_slice(&durable.to_be_bytes());
    body.extend_from_slice(&last_time.to_be_bytes());
    let count_at = body.len();
    body.extend_from_slice(&0u32.to_be_bytes());
    let mut n = 0u32;
    for c in changes {
        let e = Entry { seq: c.seq, time: c.time, op: c.op, state: current_state(store, c.op, &c.key)?, key: c.key };
        if n > 0 && body.len() + e.encoded_len() > MAX_BODY {
            break;
        }
        e.encode(&mut body);
        n += 1;
    }
    body[count_at..count_at + 4].copy_from_slice(&n.to_be_bytes());
    Ok(body)
}

/// Decodes a 1001 answer.
pub fn decode_log_page(body: &[u8]) -> Result<LogPage, WireError> {
    let mut r = Reader::new(body);
    let gap = r.u8()? != 0;
    let durable_seq = u64_of(&mut r)?;
    let last_time = u64_of(&mut r)?;
    let entries = entries(&mut r)?;
    r.finish("txn log")?;
    Ok(LogPage { gap, durable_seq, last_time, entries })
}

/// 1002 request body.
pub fn encode_dump_request(after_key: &[u8], limit: u32) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, after_key);
    out.extend_from_slice(&limit.to_be_bytes());
    out
}

/// Decodes a 1002 request: `(after_key, limit)`.
pub fn decode_dump_request(body: &[u8]) -> Result<(Vec<u8>, u32), WireError> {
    let mut r = Reader::new(body);
    let key = r.bytes("after key")?.to_vec();
    let limit = r.u32()?;
    r.finish("dump request")?;
    Ok((key, limit))
}

/// A decoded 1002 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpPage {
    pub snapshot_seq: u64,
    pub more: bool,
    pub next_key: Vec<u8>,
    pub entries: Vec<Entry>,
}

/// 1002: one page of records after `after_key` (the first page also every
/// prefix and entity), encoded.
pub fn dump_page(store: &dyn Store, after_key: &[u8], limit: u32) -> Result<Vec<u8>, StoreError> {
    let snapshot = store.durable_seq();
    let mut list: Vec<Entry> = Vec::new();
    let put = |op: ChangeOp, key: Vec<u8>, state: Vec<u8>| Entry { seq: 0, time: 0, op, key, state: Some(state) };
    if after_key.is_empty() {
        for p in store.list_prefixes()? {
            list.push(put(ChangeOp::PrefixPut, p.prefix.to_uppercase().into_bytes(), p.to_stored()));
        }
        let mut after = 0;
        loop {
            let page = store.list_enterprises(after, 1000)?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for e in &page {
                list.push(put(ChangeOp::EnterprisePut, e.id.to_be_bytes().to_vec(), e.to_stored()));
            }
        }
        let mut after: Option<String> = None;
        loop {
            let page = store.list_identities(after.as_deref(), 1000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.username.clone());
            for i in &page {
                list.push(put(ChangeOp::IdentityPut, i.username.clone().into_bytes(), i.to_stored()));
            }
        }
        for t in store.list_templates(None)? {
            let mut key = t.prefix.to_uppercase().into_bytes();
            key.push(0);
            key.extend_from_slice(t.version.as_bytes());
            list.push(put(ChangeOp::TemplatePut, key, t.to_stored()));
        }
    }
    let limit = (limit as usize).clamp(1, 10_000);
    let after = (!after_key.is_empty()).then_some(after_key);
    let records = store.scan_records(None, after, limit)?;
    let more = records.len() == limit;
    let mut body_len = list.iter().map(Entry::encoded_len).sum::<usize>();
    let mut next_key = after_key.to_vec();
    let mut cut = false;
    for (k, r) in records {
        let e = put(ChangeOp::Create, k, r.stored().to_vec());
        if body_len > 0 && body_len + e.encoded_len() > MAX_BODY {
            cut = true;
            break;
        }
        body_len += e.encoded_len();
        next_key = e.key.clone();
        list.push(e);
    }
    let mut body = Vec::with_capacity(body_len + 64);
    body.extend_from_slice(&snapshot.to_be_bytes());
    body.push(u8::from(more || cut));
    put_bytes(&mut body, &next_key);
    body.extend_from_slice(&(list.len() as u32).to_be_bytes());
    for e in &list {
        e.encode(&mut body);
    }
    Ok(body)
}

/// Decodes a 1002 answer.
pub fn decode_dump_page(body: &[u8]) -> Result<DumpPage, WireError> {
    let mut r = Reader::new(body);
    let snapshot_seq = u64_of(&mut r)?;
    let more = r.u8()? != 0;
    let next_key = r.bytes("next key")?.to_vec();
    let entries = entries(&mut r)?;
    r.finish("dump")?;
    Ok(DumpPage { snapshot_seq, more, next_key, entries })
}

fn gone(e: &StoreError) -> bool {
    matches!(e, StoreError::NotFound | StoreError::EntityNotFound { .. })
}

fn ignore_gone(r: Result<(), StoreError>) -> Result<(), StoreError> {
    match r {
        Err(e) if gone(&e) => Ok(()),
        r => r,
    }
}

fn bad(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("replicated {what}: {e}"))
}

/// Applies one non-record entry (prefix or entity) to the mirror's store.
fn apply_entity(store: &dyn Store, e: &Entry, ctx: &WriteCtx) -> Result<(), StoreError> {
    let text = || std::str::from_utf8(&e.key).map_err(|x| bad("key", x));
    match (kind(e.op), &e.state) {
        (Kind::Record, _) => Ok(()),
        (Kind::Prefix, Some(s)) => {
            store.put_prefix(&Prefix::from_stored(s).map_err(|x| bad("prefix", x))?, ctx).map(|_| ())
        }
        (Kind::Prefix, None) => ignore_gone(store.delete_prefix(text()?, ctx).map(|_| ())),
        (Kind::Enterprise, Some(s)) => {
            store.put_enterprise(&Enterprise::from_stored(s).map_err(|x| bad("enterprise", x))?)
        }
        (Kind::Enterprise, None) => match enterprise_id(&e.key) {
            Some(id) => ignore_gone(store.delete_enterprise(id)),
            None => Err(bad("enterprise key", "not 8 bytes")),
        },
        (Kind::Identity, Some(s)) => store.put_identity(&Identity::from_stored(s).map_err(|x| bad("identity", x))?),
        (Kind::Identity, None) => ignore_gone(store.delete_identity(text()?)),
        (Kind::Template, Some(s)) => store.put_template(&Template::from_stored(s).map_err(|x| bad("template", x))?),
        (Kind::Template, None) => match split0(&e.key) {
            Some((p, v)) => ignore_gone(store.delete_template(p, v)),
            None => Err(bad("template key", "no NUL")),
        },
        (Kind::Alias, Some(s)) => store.put_alias(&Alias::from_stored(s).map_err(|x| bad("alias", x))?),
        (Kind::Alias, None) => match split0(&e.key) {
            Some((s, c)) => ignore_gone(store.delete_alias(s, c)),
            None => Err(bad("alias key", "no NUL")),
        },
    }
}

fn record_op(e: &Entry) -> Result<RecordOp, StoreError> {
    Ok(match &e.state {
        Some(s) => {
            let rb = RecordBytes::new(bytes::Bytes::copy_from_slice(s.as_slice())).map_err(|x| bad("record", x))?;
            RecordOp::Create { key: e.key.clone(), values: rb.values().map_err(|x| bad("record", x))?, overwrite: true }
        }
        None => RecordOp::Delete { key: e.key.clone() },
    })
}

/// Applies entries in order. With `position`, the mirror's applied
/// position ([`APPLIED`]) moves to each entry's seq: in the same
/// transaction as a run of record entries
/// ([`Store::write_batch_marking`]), right after a prefix or entity entry
/// (applying one twice is harmless). Returns the entries applied.
pub fn apply(store: &dyn Store, entries: &[Entry], ctx: &WriteCtx, track: bool) -> Result<usize, StoreError> {
    let mut i = 0;
    while i < entries.len() {
        if kind(entries[i].op) == Kind::Record {
            let mut j = i;
            let mut ops = Vec::new();
            while j < entries.len() && kind(entries[j].op) == Kind::Record {
                ops.push(record_op(&entries[j])?);
                j += 1;
            }
            let results = if track {
                store.write_batch_marking(ops, ctx, APPLIED, entries[j - 1].seq)?
            } else {
                store.write_batch(ops, ctx)?
            };
            for r in results {
                match r {
                    Err(e) if !gone(&e) => return Err(e),
                    _ => {}
                }
            }
            i = j;
        } else {
            apply_entity(store, &entries[i], ctx)?;
            if track {
                store.set_consumer_position(APPLIED, entries[i].seq, ctx.now)?;
            }
            i += 1;
        }
    }
    Ok(entries.len())
}

/// After a complete dump: removes what the mirror holds that the dump did
/// not carry (records, prefixes). `seen` = the dumped keys.
pub fn remove_unseen(store: &dyn Store, seen: &HashSet<Vec<u8>>, ctx: &WriteCtx) -> Result<u64, StoreError> {
    let mut removed = 0;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let keys = store.scan_keys(None, after.as_deref(), 1000)?;
        let Some(last) = keys.last().cloned() else { break };
        let gone_keys: Vec<RecordOp> =
            keys.into_iter().filter(|k| !seen.contains(k)).map(|key| RecordOp::Delete { key }).collect();
        removed += gone_keys.len() as u64;
        if !gone_keys.is_empty() {
            store.write_batch(gone_keys, ctx)?;
        }
        after = Some(last);
    }
    for p in store.list_prefixes()? {
        if !seen.contains(p.prefix.to_uppercase().as_bytes()) {
            ignore_gone(store.delete_prefix(&p.prefix, ctx).map(|_| ()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The mirror's applied position, if it has completed a first copy.
pub fn applied(store: &dyn Store) -> Result<Option<u64>, StoreError> {
    store.consumer_position(APPLIED)
}

/// Registers (or moves) the primary-side consumer of a mirror.
pub fn mark_mirror(store: &dyn Store, name: &str, position: u64, now: u64) -> Result<(), StoreError> {
    let cur: Option<ConsumerPosition> = store.consumers()?.into_iter().find(|c| c.name == name);
    if cur.as_ref().is_some_and(|c| c.position == position) {
        return Ok(());
    }
    store.set_consumer_position(name, position, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;
    use crate::store::StoreExt;
    use crate::store::{SledOptions, SledStore};

    fn open(dir: &std::path::Path) -> SledStore {
        SledStore::open(SledOptions::new(dir).now(1_700_000_000)).unwrap()
    }

    #[test]
    fn a_mirror_converges_through_dump_and_log_and_replays_harmlessly() {
        let d = tempfile::tempdir().unwrap();
        let primary = open(&d.path().join("p"));
        let mirror = open(&d.path().join("m"));
        let ctx = WriteCtx::new(1_700_000_000, "t");
        primary.create_record(b"88.1/A", vec![Value::new(1, "URL", b"a".to_vec())], false, &ctx).unwrap();
        mirror.create_record(b"88.1/STRAY", vec![Value::new(1, "URL", b"x".to_vec())], false, &ctx).unwrap();
        // First copy.
        let page = decode_dump_page(&dump_page(&primary, b"", 100).unwrap()).unwrap();
        assert!(!page.more);
        apply(&mirror, &page.entries, &ctx, false).unwrap();
        let seen: HashSet<Vec<u8>> = page.entries.iter().map(|e| e.key.clone()).collect();
        assert_eq!(remove_unseen(&mirror, &seen, &ctx).unwrap(), 1);
        mirror.set_consumer_position(APPLIED, page.snapshot_seq, 1).unwrap();
        // Then the log: a create, a modify, a delete.
        primary.create_record(b"88.1/B", vec![Value::new(1, "URL", b"b".to_vec())], false, &ctx).unwrap();
        primary.replace_record(b"88.1/A", vec![Value::new(2, "URL", b"a2".to_vec())], &ctx).unwrap();
        primary.delete_record(b"88.1/B", &ctx).unwrap();
        let at = applied(&mirror).unwrap().unwrap();
        let log = decode_log_page(&log_page(&primary, at, 100).unwrap()).unwrap();
        assert_eq!(log.entries.len(), 3);
        assert_eq!(log.durable_seq, primary.durable_seq());
        apply(&mirror, &log.entries, &ctx, true).unwrap();
        assert_eq!(applied(&mirror).unwrap(), Some(primary.durable_seq()));
        // Replaying the same page (a crash before the answer was noted) changes nothing.
        apply(&mirror, &log.entries, &ctx, true).unwrap();
        let a = mirror.get_record(b"88.1/A").unwrap().unwrap().values().unwrap();
        assert_eq!(a[0].data, b"a2");
        assert!(mirror.get_record(b"88.1/B").unwrap().is_none());
        assert!(mirror.get_record(b"88.1/STRAY").unwrap().is_none());
        // Nothing new: an empty page.
        let empty = decode_log_page(&log_page(&primary, primary.durable_seq(), 100).unwrap()).unwrap();
        assert!(empty.entries.is_empty() && !empty.gap);
    }

    #[test]
    fn garbage_does_not_decode() {
        assert!(decode_log_page(&[0, 1, 2]).is_err());
        assert!(decode_dump_page(&[0xff; 40]).is_err());
        let mut body = log_page(&open(tempfile::tempdir().unwrap().path()), 0, 1).unwrap();
        body.push(0);
        assert!(decode_log_page(&body).is_err());
    }
}
