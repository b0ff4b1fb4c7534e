//! Online backup and restore of the system of record (issue 15, item 2):
//! the archive's content, how a consistent one is taken from a store that
//! keeps taking writes, and how one is verified and loaded. No files, no
//! sockets, no compression here: the caller hands a `Write` / `Read`
//! (the binary wraps them in gzip, streams them over the admin API and
//! adds the data directory's key files).
//!
//! **Consistency (one instant, whole batches).** A batch of identifiers is
//! one store transaction with gap-free change-log sequence numbers, so "the
//! state after sequence S" is a state that existed. The backup is taken in
//! two phases:
//!
//! 1. *Fuzzy copy*, writers running: note `S0 = durable_seq()`, register
//!    a change-log consumer (named [`CONSUMER`]`<time>-<random>`) at `S0` (retention then keeps
//!    every change after it), and copy every entity and record page by
//!    page. A record copied here may be older or newer than any single
//!    instant.
//! 2. *Repair*, writers paused ([`Store::pause_writes`]: the store's writer
//!    lock, after a flush; as long as re-reading the keys changed during
//!    the copy takes): `S1 = last_seq()`; every
//!    key named by a change in `(S0, S1]` is read again and its state *at
//!    S1* (present, or absent) is appended. Keys not changed since `S0`
//!    were copied with their `S1` state already. The pause covers only
//!    these reads; the entries are written out after writers resume.
//!
//! Loading the entries in archive order (later ones replace earlier ones,
//! exactly as a mirror applies a dump and then the log, see
//! [`crate::replica`]) gives the state at `S1`: every batch committed
//! before the pause is whole, none after it is present. A write
//! acknowledged before the backup started has a sequence `<= S0 <= S1`.
//!
//! **Archive** (after decompression; integers big-endian, `bytes` = u32
//! length + bytes): [`MAGIC`], then frames `u8 tag` + `bytes`:
//! `H` header (JSON [`Header`]), `F` a file of the data directory (only
//! with secrets: `bytes name`, `bytes content`), `E` one entry
//! ([`crate::replica`]'s entry: `u64 seq`, `u64 time`, `u16 op`,
//! `bytes key`, `u8 present`, [`bytes state`]), `T` trailer (JSON
//! [`Trailer`]: the snapshot sequence and the counts), followed by 32 bytes:
//! SHA-256 of every byte before them. A reader checks the digest, the
//! counts of each kind of entry, and after a restore the number of records.
//!
//! **Secrets.** Without `with_secrets`, HS_SECKEY values are removed from
//! records (so the node administrator's secret key at
//! `300:0.NA/<prefix>` is not in the archive) and no file is added.
//! Account password hashes (Argon2id PHC strings) are kept: they are
//! needed to log in and are not secrets in the key sense. Not in any
//! archive: audit entries, statistics counters, change-log consumer
//! positions and the change log itself (the restored store starts a new
//! log; the archive records the position `S1` it was taken at).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::ident::scheme::Scheme;
use crate::model::wire::Reader;
use crate::model::{ChangeOp, RecordBytes, Stored, encode_record};
use crate::replica::{self, Entry};
use crate::store::{Store, StoreError, WriteCtx};

/// First bytes of an archive (after decompression).
pub const MAGIC: &[u8; 8] = b"IDNBAK\x00\x01";

/// Prefix of the change-log consumer a running backup registers
/// (`backup:<time>-<random>`: retention keeps the changes its repair phase
/// reads; removed when the backup ends; one left by a process that died is removed
/// by a later backup after a day).
pub const CONSUMER: &str = "backup:";

/// Age after which a backup's retention hold is taken as abandoned.
const STALE_HOLD_SECS: u64 = 86_400;

/// Records per page of the fuzzy copy.
const PAGE: usize = 1000;
/// Entries per restore batch.
const RESTORE_BATCH: usize = 2000;
/// Largest frame a reader accepts (a record is < 1 MiB; key files are small).
const MAX_FRAME: usize = 64 << 20;

const T_HEADER: u8 = b'H';
const T_FILE: u8 = b'F';
const T_ENTRY: u8 = b'E';
const T_TRAILER: u8 = b'T';

/// Why a backup or restore failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("archive I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The archive is not one, is damaged or incomplete: refuse it.
    #[error("invalid backup archive: {0}")]
    Invalid(String),
}

fn invalid(s: impl Into<String>) -> BackupError {
    BackupError::Invalid(s.into())
}

/// What the archive says about itself (first frame).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// Node id of the store backed up.
    pub node_id: String,
    /// Store format of the source (informational: the archive is
    /// format-neutral, entries carry stored values).
    pub store_format: u32,
    /// Unix seconds when the backup started.
    pub created: u64,
    pub with_secrets: bool,
    /// `S0`: durable change-log sequence when the copy started.
    pub start_seq: u64,
    /// Software that wrote it (`idnode 0.1.0`).
    pub software: String,
}

/// Counts of what an archive holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Every entry frame.
    pub entries: u64,
    pub record_entries: u64,
    pub prefix_entries: u64,
    pub enterprise_entries: u64,
    pub identity_entries: u64,
    pub template_entries: u64,
    pub alias_entries: u64,
    /// Entries appended by the repair phase (changes during the copy).
    pub repair_entries: u64,
    pub files: u64,
}

/// The last frame: where the archive stands and what it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trailer {
    /// `S1`: the archive is the state after this change-log sequence.
    pub snapshot_seq: u64,
    /// Records present at `S1` (what a restored store must count).
    pub records: u64,
    pub counts: Counts,
}

/// What to put in a backup.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    pub with_secrets: bool,
    pub now: u64,
    pub software: String,
    /// Files of the data directory (name, content) to include; only
    /// written when `with_secrets`.
    pub files: Vec<(String, Vec<u8>)>,
}

fn is_record(op: ChangeOp) -> bool {
    use ChangeOp::*;
    matches!(op, Create | Delete | AddValues | ModifyValues | RemoveValues | Replace)
}

/// Which namespace a change's key lives in (records, prefixes, ...).
fn kind_tag(op: ChangeOp) -> u8 {
    use ChangeOp::*;
    match op {
        Create | Delete | AddValues | ModifyValues | RemoveValues | Replace => 0,
        PrefixPut | PrefixDelete => 1,
        EnterprisePut | EnterpriseDelete => 2,
        IdentityPut | IdentityDelete => 3,
        TemplatePut | TemplateDelete => 4,
        AliasPut | AliasDelete => 5,
    }
}

fn key_hash(key: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// A writer that hashes everything written through it.
struct HashingWriter<'a> {
    out: &'a mut dyn Write,
    sha: Sha256,
    bytes: u64,
}

impl HashingWriter<'_> {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.sha.update(b);
        self.bytes += b.len() as u64;
        self.out.write_all(b)
    }

    fn frame(&mut self, tag: u8, body: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("frame larger than 4 GiB"))?;
        let mut head = [0u8; 5];
        head[0] = tag;
        head[1..].copy_from_slice(&len.to_be_bytes());
        self.put(&head)?;
        self.put(body)
    }

    fn entry(&mut self, e: &Entry, counts: &mut Counts) -> std::io::Result<()> {
        let mut b = Vec::with_capacity(e.key.len() + e.state.as_ref().map_or(0, Vec::len) + 32);
        e.encode(&mut b);
        count_entry(e.op, counts);
        self.frame(T_ENTRY, &b)
    }
}

fn count_entry(op: ChangeOp, c: &mut Counts) {
    use ChangeOp::*;
    c.entries += 1;
    match op {
        Create | Delete | AddValues | ModifyValues | RemoveValues | Replace => c.record_entries += 1,
        PrefixPut | PrefixDelete => c.prefix_entries += 1,
        EnterprisePut | EnterpriseDelete => c.enterprise_entries += 1,
        IdentityPut | IdentityDelete => c.identity_entries += 1,
        TemplatePut | TemplateDelete => c.template_entries += 1,
        AliasPut | AliasDelete => c.alias_entries += 1,
    }
}

/// A record's stored bytes without HS_SECKEY values (unchanged when it has none).
fn without_secrets(rec: &RecordBytes) -> Result<Vec<u8>, StoreError> {
    let values = rec.values().map_err(|e| StoreError::corrupt("handles", e))?;
    if !values.iter().any(|v| v.value_type.eq_ignore_ascii_case(b"HS_SECKEY")) {
        return Ok(rec.stored().to_vec());
    }
    let kept: Vec<_> = values.into_iter().filter(|v| !v.value_type.eq_ignore_ascii_case(b"HS_SECKEY")).collect();
    Ok(encode_record(&kept))
}

fn strip_state(op: ChangeOp, state: Option<Vec<u8>>, with_secrets: bool) -> Result<Option<Vec<u8>>, StoreError> {
    match state {
        Some(s) if is_record(op) && !with_secrets => {
            let rb = RecordBytes::new(bytes::Bytes::from(s)).map_err(|e| StoreError::corrupt("handles", e))?;
            Ok(Some(without_secrets(&rb)?))
        }
        s => Ok(s),
    }
}

/// Every entity (prefixes, enterprises, identities, templates, aliases) as
/// dump entries (fuzzy: the repair phase fixes what changes meanwhile).
fn entity_entries(store: &dyn Store) -> Result<Vec<Entry>, StoreError> {
    let put = |op: ChangeOp, key: Vec<u8>, state: Vec<u8>| Entry { seq: 0, time: 0, op, key, state: Some(state) };
    let mut list = Vec::new();
    for p in store.list_prefixes()? {
        list.push(put(ChangeOp::PrefixPut, p.prefix.to_uppercase().into_bytes(), p.to_stored()));
    }
    let mut after = 0;
    loop {
        let page = store.list_enterprises(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in &page {
            list.push(put(ChangeOp::EnterprisePut, e.id.to_be_bytes().to_vec(), e.to_stored()));
        }
    }
    let mut after: Option<String> = None;
    loop {
        let page = store.list_identities(after.as_deref(), PAGE)?;
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
    for scheme in Scheme::ALL {
        let mut after: Option<String> = None;
        loop {
            let page = store.list_aliases(scheme.as_str(), after.as_deref(), PAGE)?;
            let Some(last) = page.last() else { break };
            after = Some(last.code.clone());
            for a in &page {
                let mut key = a.scheme.clone().into_bytes();
                key.push(0);
                key.extend_from_slice(a.code.as_bytes());
                list.push(put(ChangeOp::AliasPut, key, a.to_stored()));
            }
        }
    }
    Ok(list)
}

/// Writes a consistent backup of `store` to `out` (see the module docs).
/// `progress` is called with the records copied so far. The store must
/// support [`Store::pause_writes`].
pub fn write_backup(
    store: &dyn Store,
    out: &mut dyn Write,
    opts: &BackupOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Trailer, BackupError> {
    // Fail before copying anything when the store cannot pause its writers.
    store.pause_writes(&mut || Ok(()))?;
    let s0 = store.durable_seq();
    // A hold left by a backup that died with its process (a day old: no
    // backup runs that long) is released.
    for c in store.consumers()? {
        if c.name.starts_with(CONSUMER) && c.updated.saturating_add(STALE_HOLD_SECS) < opts.now {
            let _ = store.remove_consumer(&c.name);
        }
    }
    let consumer = format!("{CONSUMER}{}-{:08x}", opts.now, rand::random::<u32>());
    store.set_consumer_position(&consumer, s0, opts.now)?;
    let r = write_inner(store, out, opts, progress, s0);
    // The hold on retention ends with the backup, whatever happened.
    let _ = store.remove_consumer(&consumer);
    r
}

fn write_inner(
    store: &dyn Store,
    out: &mut dyn Write,
    opts: &BackupOptions,
    progress: &mut dyn FnMut(u64),
    s0: u64,
) -> Result<Trailer, BackupError> {
    let mut w = HashingWriter { out, sha: Sha256::new(), bytes: 0 };
    let mut counts = Counts::default();
    w.put(MAGIC)?;
    let meta = store.meta();
    let header = Header {
        node_id: meta.node_id,
        store_format: meta.schema,
        created: opts.now,
        with_secrets: opts.with_secrets,
        start_seq: s0,
        software: opts.software.clone(),
    };
    w.frame(T_HEADER, &serde_json::to_vec(&header).map_err(|e| invalid(e.to_string()))?)?;
    if opts.with_secrets {
        for (name, content) in &opts.files {
            let mut b = Vec::with_capacity(name.len() + content.len() + 8);
            b.extend_from_slice(&(name.len() as u32).to_be_bytes());
            b.extend_from_slice(name.as_bytes());
            b.extend_from_slice(&(content.len() as u32).to_be_bytes());
            b.extend_from_slice(content);
            w.frame(T_FILE, &b)?;
            counts.files += 1;
        }
    }

    // Phase 1: the fuzzy copy.
    for e in entity_entries(store)? {
        w.entry(&e, &mut counts)?;
    }
    let mut copied: HashSet<u64> = HashSet::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = store.scan_records(None, after.as_deref(), PAGE)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (key, rec) in &page {
            let state = if opts.with_secrets { rec.stored().to_vec() } else { without_secrets(rec)? };
            copied.insert(key_hash(key));
            let e = Entry { seq: 0, time: 0, op: ChangeOp::Create, key: key.clone(), state: Some(state) };
            w.entry(&e, &mut counts)?;
        }
        progress(copied.len() as u64);
    }
    let mut records = copied.len() as u64;

    // Phase 2: the repair, writers paused.
    let mut repair: Vec<Entry> = Vec::new();
    let mut s1 = s0;
    store.pause_writes(&mut || {
        repair.clear();
        s1 = store.last_seq();
        let mut seen: HashSet<(u8, Vec<u8>)> = HashSet::new();
        let mut at = s0;
        while at < s1 {
            let changes = store.changes_since(at, 10_000)?;
            let Some(last) = changes.last() else {
                return Err(StoreError::Backend(format!("the change log ends at {at}, before {s1}")));
            };
            at = last.seq;
            for c in changes {
                if c.seq > s1 {
                    break;
                }
                if !seen.insert((kind_tag(c.op), c.key.clone())) {
                    continue;
                }
                let state = replica::current_state(store, c.op, &c.key)?;
                repair.push(Entry { seq: c.seq, time: c.time, op: c.op, key: c.key, state });
            }
        }
        Ok(())
    })?;
    for e in repair {
        let state = strip_state(e.op, e.state, opts.with_secrets)?;
        if is_record(e.op) {
            let was = copied.contains(&key_hash(&e.key));
            match (was, state.is_some()) {
                (false, true) => records += 1,
                (true, false) => records -= 1,
                _ => {}
            }
        }
        counts.repair_entries += 1;
        w.entry(&Entry { state, ..e }, &mut counts)?;
    }

    let trailer = Trailer { snapshot_seq: s1, records, counts };
    w.frame(T_TRAILER, &serde_json::to_vec(&trailer).map_err(|e| invalid(e.to_string()))?)?;
    let digest = w.sha.clone().finalize();
    w.out.write_all(&digest)?;
    w.out.flush()?;
    Ok(trailer)
}

/// Receives each data-directory file of an archive (name, content).
pub type FileSink<'a> = dyn FnMut(&str, &[u8]) -> Result<(), BackupError> + 'a;

/// Reads an archive frame by frame, hashing as it goes.
struct FrameReader<'a> {
    r: &'a mut dyn Read,
    sha: Sha256,
}

enum Frame {
    Header(Header),
    File(String, Vec<u8>),
    Entry(Entry),
    Trailer(Trailer),
}

impl FrameReader<'_> {
    fn exact(&mut self, n: usize) -> Result<Vec<u8>, BackupError> {
        let mut b = vec![0u8; n];
        self.r.read_exact(&mut b).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => invalid("the archive ends early (truncated)"),
            _ => BackupError::Io(e),
        })?;
        self.sha.update(&b);
        Ok(b)
    }

    fn magic(&mut self) -> Result<(), BackupError> {
        if self.exact(MAGIC.len())? != MAGIC {
            return Err(invalid("not an idnode backup (bad magic)"));
        }
        Ok(())
    }

    fn next(&mut self) -> Result<Frame, BackupError> {
        let head = self.exact(5)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_FRAME {
            return Err(invalid(format!("frame of {len} bytes")));
        }
        let body = self.exact(len)?;
        let json = |what: &str| invalid(format!("{what} is not valid"));
        Ok(match head[0] {
            T_HEADER => Frame::Header(serde_json::from_slice(&body).map_err(|_| json("the header"))?),
            T_TRAILER => Frame::Trailer(serde_json::from_slice(&body).map_err(|_| json("the trailer"))?),
            T_ENTRY => {
                let mut r = Reader::new(&body);
                let e = Entry::decode(&mut r).map_err(|e| invalid(format!("entry: {e}")))?;
                r.finish("entry").map_err(|e| invalid(format!("entry: {e}")))?;
                Frame::Entry(e)
            }
            T_FILE => {
                let mut r = Reader::new(&body);
                let name = r.bytes("name").map_err(|e| invalid(format!("file: {e}")))?;
                let name = String::from_utf8(name.to_vec()).map_err(|_| invalid("file name is not UTF-8"))?;
                let content = r.bytes("content").map_err(|e| invalid(format!("file: {e}")))?.to_vec();
                Frame::File(name, content)
            }
            t => return Err(invalid(format!("unknown frame tag {t:#04x}"))),
        })
    }

    /// After the trailer: the digest, then nothing.
    fn finish(self) -> Result<(), BackupError> {
        let want = self.sha.clone().finalize();
        let mut got = [0u8; 32];
        self.r.read_exact(&mut got).map_err(|_| invalid("the checksum is missing (truncated)"))?;
        if got[..] != want[..] {
            return Err(invalid("checksum mismatch: the archive is damaged"));
        }
        let mut extra = [0u8; 1];
        if self.r.read(&mut extra)? != 0 {
            return Err(invalid("bytes after the checksum"));
        }
        Ok(())
    }
}

/// Reads a whole archive; `on_entry`/`on_file` see each entry and file in
/// order. Checks the magic, the header, the counts against the trailer and
/// the checksum; returns the header and trailer.
fn read_archive(
    r: &mut dyn Read,
    on_file: &mut FileSink<'_>,
    on_entry: &mut dyn FnMut(Entry) -> Result<(), BackupError>,
) -> Result<(Header, Trailer), BackupError> {
    let mut fr = FrameReader { r, sha: Sha256::new() };
    fr.magic()?;
    let Frame::Header(header) = fr.next()? else { return Err(invalid("the first frame is not the header")) };
    let mut counts = Counts::default();
    let trailer = loop {
        match fr.next()? {
            Frame::Header(_) => return Err(invalid("a second header")),
            Frame::File(name, content) => {
                counts.files += 1;
                on_file(&name, &content)?;
            }
            Frame::Entry(e) => {
                count_entry(e.op, &mut counts);
                on_entry(e)?;
            }
            Frame::Trailer(t) => break t,
        }
    };
    fr.finish()?;
    counts.repair_entries = trailer.counts.repair_entries;
    if counts != trailer.counts {
        return Err(invalid(format!("counts differ from the trailer: read {counts:?}, trailer {:?}", trailer.counts)));
    }
    Ok((header, trailer))
}

/// Reads and checks a whole archive without loading it (checksum, counts).
pub fn verify(r: &mut dyn Read) -> Result<(Header, Trailer), BackupError> {
    read_archive(r, &mut |_, _| Ok(()), &mut |_| Ok(()))
}

/// Loads an archive into an empty `store`; `on_file` receives the data
/// directory files (archives with secrets). Verify the archive first
/// ([`verify`]): a damaged one is detected only at its end. Checks the
/// counts, then that the store holds the trailer's number of records.
pub fn restore(
    store: &dyn Store,
    r: &mut dyn Read,
    ctx: &WriteCtx,
    on_file: &mut FileSink<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<(Header, Trailer), BackupError> {
    let ctx = ctx.clone().keeping_timestamps();
    let mut pending: Vec<Entry> = Vec::with_capacity(RESTORE_BATCH);
    let mut done = 0u64;
    let mut apply = |pending: &mut Vec<Entry>, done: &mut u64| -> Result<(), BackupError> {
        replica::apply(store, pending, &ctx, false)?;
        *done += pending.len() as u64;
        pending.clear();
        progress(*done);
        Ok(())
    };
    let (header, trailer) = read_archive(r, on_file, &mut |e| {
        pending.push(e);
        if pending.len() >= RESTORE_BATCH {
            apply(&mut pending, &mut done)?;
        }
        Ok(())
    })?;
    apply(&mut pending, &mut done)?;
    store.flush()?;
    let n = store.count_records(None)?;
    if n != trailer.records {
        return Err(invalid(format!("the restored store holds {n} records, the archive says {}", trailer.records)));
    }
    Ok((header, trailer))
}

#[cfg(test)]
mod tests;
