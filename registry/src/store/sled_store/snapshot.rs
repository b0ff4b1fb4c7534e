//! The read snapshot: a read-optimised copy of the `handles` tree in one
//! flat file, with a compact in-memory index (key hash -> file offset), so
//! that a resolution at 10^7 identifiers costs one hash probe and one
//! `pread` instead of a walk through sled's page cache (which at 10^7 holds
//! only a fraction of the tree, so most lookups paged in and decoded a whole
//! node — see docs/performance.md, "Scale").
//!
//! * **File** (`read-snapshot.v1` in the store directory): entries
//!   `[key len u16 BE][record len u32 BE][key][stored record]` in key order,
//!   then a 32-byte footer `[magic][seq u64][count u64][data end u64]`.
//!   Written to a temporary name, fsynced, renamed: a crash leaves the old
//!   file or none.
//! * **Index**: open addressing, linear probing, one `u64` per slot
//!   (`tag:24 | offset+1:40`), at most 3/4 full: about 11 bytes per
//!   identifier (134 MiB at 10^7, 1 GiB at 10^8). The hash is keyed by a
//!   random seed chosen when the index is built.
//! * **Persisted index** (`read-snapshot.v1.idx`, `index_file.rs`): the
//!   slots and their seed, bound to the snapshot by its seq, count and
//!   length, with a checksum; written (temporary name, fsync, rename) when
//!   an index is built, loaded at open with one sequential read, so a start
//!   serves from the snapshot within a fraction of a second instead of
//!   scanning the whole file. Missing, damaged or stale: the index is built
//!   by scanning the snapshot (one sequential read) and written again.
//! * **Freshness**: the snapshot covers the store as of change `seq`. Every
//!   record write marks its keys *dirty* before its transaction commits; a
//!   dirty key is always read from sled. On open, the keys of the change log
//!   after `seq` are marked dirty; if there are too many (or the log was
//!   pruned past `seq`) the snapshot is rebuilt instead. The snapshot is
//!   only committed after a sled flush, so nothing in it can be newer than
//!   what the store recovers after a crash.
//! * **Lifecycle**: loaded or (re)built on a background thread after open;
//!   until it is ready every read goes to sled as before. Dropping the store
//!   stops and joins that thread.

use std::collections::HashSet;
use std::fs::File;
use std::hash::BuildHasher;

/// The index's hasher: foldhash with a seed drawn when the index is built
/// and kept in the persisted index (a few instructions per key where
/// SipHash costs over a hundred; every resolution that misses the read
/// cache hashes once).
type Seeded = foldhash::fast::FixedState;
/// The dirty set's hasher, seeded at random per process.
type Fast = foldhash::fast::RandomState;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use crate::model::RecordBytes;

#[path = "index_file.rs"]
mod index_file;

/// File name of the snapshot inside the store directory.
pub(crate) const FILE_NAME: &str = "read-snapshot.v1";
const MAGIC: &[u8; 8] = b"IDNRSNP1";
const FOOTER: u64 = 32;
const OFF_BITS: u32 = 40;
const OFF_MASK: u64 = (1 << OFF_BITS) - 1;
/// First read of an entry: header, key and a typical record in one `pread`.
const FIRST_READ: usize = 512;

/// An opened snapshot file with its index.
#[derive(Debug)]
pub(crate) struct SnapFile {
    file: File,
    slots: Box<[u64]>,
    mask: usize,
    hasher: Seeded,
    /// The hasher's seed (kept in the persisted index).
    seed: u64,
    /// Whether the index came from the persisted file (not a scan).
    pub(crate) index_loaded: bool,
    /// The store's change seq the snapshot covers.
    pub(crate) seq: u64,
    /// Records in the file.
    pub(crate) count: u64,
}

fn footer(seq: u64, count: u64, end: u64) -> [u8; 32] {
    let mut f = [0u8; 32];
    f[..8].copy_from_slice(MAGIC);
    f[8..16].copy_from_slice(&seq.to_be_bytes());
    f[16..24].copy_from_slice(&count.to_be_bytes());
    f[24..].copy_from_slice(&end.to_be_bytes());
    f
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

impl SnapFile {
    /// Writes a snapshot of `entries` (in any order) covering `seq` to
    /// `path`; `before_commit` runs after the data is written and before the
    /// file is made visible (the store flushes sled there). Returns false
    /// when `stop` was raised.
    pub(crate) fn write<I, E>(
        path: &Path,
        seq: u64,
        entries: I,
        stop: &AtomicBool,
        before_commit: impl FnOnce() -> std::io::Result<()>,
    ) -> std::io::Result<bool>
    where
        I: Iterator<Item = Result<(sled::IVec, sled::IVec), E>>,
        E: std::fmt::Display,
    {
        let tmp = path.with_extension("tmp");
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut off = 0u64;
        let mut count = 0u64;
        for kv in entries {
            let (k, v) = kv.map_err(|e| std::io::Error::other(e.to_string()))?;
            if count.is_multiple_of(4096) && stop.load(Ordering::Relaxed) {
                drop(w);
                let _ = std::fs::remove_file(&tmp);
                return Ok(false);
            }
            let kl = u16::try_from(k.len()).map_err(|_| bad("key too long"))?;
            let vl = u32::try_from(v.len()).map_err(|_| bad("record too long"))?;
            w.write_all(&kl.to_be_bytes())?;
            w.write_all(&vl.to_be_bytes())?;
            w.write_all(&k)?;
            w.write_all(&v)?;
            off += 6 + k.len() as u64 + v.len() as u64;
            count += 1;
            if off > OFF_MASK - 1 {
                return Err(bad("snapshot larger than 1 TiB"));
            }
        }
        w.write_all(&footer(seq, count, off))?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        before_commit()?;
        // The old index describes the old file (its header would say so
        // too); remove it so that it is never even tried.
        let _ = std::fs::remove_file(index_file::path_of(path));
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(true)
    }

    /// Opens `path` and its index: the persisted index when it matches the
    /// file, else built by one sequential read of the file (and persisted).
    pub(crate) fn load(path: &Path, stop: &AtomicBool) -> std::io::Result<Option<SnapFile>> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        if len < FOOTER {
            return Err(bad("shorter than its footer"));
        }
        let mut f = [0u8; 32];
        file.read_exact_at(&mut f, len - FOOTER)?;
        if &f[..8] != MAGIC {
            return Err(bad("bad magic"));
        }
        let word = |i: usize| u64::from_be_bytes(f[i..i + 8].try_into().unwrap_or_default());
        let (seq, count, end) = (word(8), word(16), word(24));
        if end != len - FOOTER {
            return Err(bad("footer does not match the file length"));
        }
        let nslots = usize::try_from(index_bytes_for(count) / 8).map_err(|_| bad("too many"))?;
        let id = index_file::SnapId { seq, count, end };
        let idx_path = index_file::path_of(path);
        // A missing, damaged or stale index is built again below.
        match index_file::load(&idx_path, id, nslots, stop) {
            Ok(Some((slots, seed))) => {
                let snap = SnapFile {
                    file,
                    slots,
                    mask: nslots - 1,
                    hasher: Seeded::with_seed(seed),
                    seed,
                    index_loaded: true,
                    seq,
                    count,
                };
                if snap.spot_check().unwrap_or(false) {
                    return Ok(Some(snap));
                }
                file = snap.file;
            }
            Ok(None) if stop.load(Ordering::Relaxed) => return Ok(None),
            _ => {}
        }
        let seed = rand::random::<u64>();
        let mut snap = SnapFile {
            file,
            slots: vec![0u64; nslots].into_boxed_slice(),
            mask: nslots - 1,
            hasher: Seeded::with_seed(seed),
            seed,
            index_loaded: false,
            seq,
            count,
        };
        let mut r = BufReader::with_capacity(1 << 20, File::open(path)?);
        let mut off = 0u64;
        let mut key = Vec::with_capacity(256);
        let mut n = 0u64;
        while off < end {
            if n.is_multiple_of(4096) && stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let mut h = [0u8; 6];
            r.read_exact(&mut h)?;
            let kl = u16::from_be_bytes([h[0], h[1]]) as usize;
            let vl = u32::from_be_bytes([h[2], h[3], h[4], h[5]]) as usize;
            key.resize(kl, 0);
            r.read_exact(&mut key)?;
            r.seek_relative(vl as i64)?;
            snap.insert(&key, off);
            off += 6 + kl as u64 + vl as u64;
            n += 1;
        }
        if n != count || off != end {
            return Err(bad("entry count does not match the footer"));
        }
        // Best effort: without it the next open scans again.
        let _ = index_file::save(&idx_path, id, snap.seed, &snap.slots);
        Ok(Some(snap))
    }

    /// Checks a loaded index against the file: up to 64 occupied slots,
    /// spread over the table, must point at entries whose key hashes to
    /// their tag with the index's seed (a stale or foreign index fails).
    fn spot_check(&self) -> std::io::Result<bool> {
        let step = (self.slots.len() / 64).max(1);
        let mut checked = 0;
        let mut i = 0;
        while i < self.slots.len() && checked < 64 {
            // The first occupied slot at or after i.
            let Some(j) = (i..self.slots.len()).find(|&j| self.slots[j] != 0) else { break };
            let s = self.slots[j];
            let off = (s & OFF_MASK) - 1;
            let mut h = [0u8; 6];
            if self.file.read_exact_at(&mut h, off).is_err() {
                return Ok(false);
            }
            let kl = u16::from_be_bytes([h[0], h[1]]) as usize;
            let mut k = vec![0u8; kl];
            if self.file.read_exact_at(&mut k, off + 6).is_err() {
                return Ok(false);
            }
            if self.hasher.hash_one(k.as_slice()) >> OFF_BITS != s >> OFF_BITS {
                return Ok(false);
            }
            checked += 1;
            i = j + step;
        }
        Ok(checked > 0 || self.count == 0)
    }

    fn insert(&mut self, key: &[u8], off: u64) {
        let h = self.hasher.hash_one(key);
        let slot = ((h >> OFF_BITS) << OFF_BITS) | (off + 1);
        let mut i = (h as usize) & self.mask;
        while self.slots[i] != 0 {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = slot;
    }

    /// The stored record of `key`, or `None` if the snapshot does not hold it.
    pub(crate) fn get(&self, key: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        let h = self.hasher.hash_one(key);
        let tag = h >> OFF_BITS;
        let mut i = (h as usize) & self.mask;
        let mut buf = [0u8; FIRST_READ];
        loop {
            let s = self.slots[i];
            if s == 0 {
                return Ok(None);
            }
            if s >> OFF_BITS == tag {
                let off = (s & OFF_MASK) - 1;
                let n = self.file.read_at(&mut buf, off)?;
                if n < 6 {
                    return Err(bad("entry past the end of the file"));
                }
                let kl = u16::from_be_bytes([buf[0], buf[1]]) as usize;
                let vl = u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]) as usize;
                let whole = 6 + kl + vl;
                if 6 + kl <= n && &buf[6..6 + kl] == key {
                    if whole <= n {
                        return Ok(Some(buf[6 + kl..whole].to_vec()));
                    }
                    let mut v = vec![0u8; vl];
                    self.file.read_exact_at(&mut v, off + 6 + kl as u64)?;
                    return Ok(Some(v));
                }
                if 6 + kl > n {
                    // A key longer than the first read: compare it whole.
                    let mut k = vec![0u8; kl];
                    self.file.read_exact_at(&mut k, off + 6)?;
                    if k == key {
                        let mut v = vec![0u8; vl];
                        self.file.read_exact_at(&mut v, off + 6 + kl as u64)?;
                        return Ok(Some(v));
                    }
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Bytes of the in-memory index.
    pub(crate) fn index_bytes(&self) -> u64 {
        (self.slots.len() * 8) as u64
    }
}

/// Index bytes a snapshot of `count` records needs (for the memory budget).
pub fn index_bytes_for(count: u64) -> u64 {
    (count + count / 3 + 1024).next_power_of_two() * 8
}

#[derive(Debug, Default)]
struct State {
    snap: Option<Arc<SnapFile>>,
    /// Keys written since the snapshot's seq (or since open, before one).
    dirty: HashSet<Box<[u8]>, Fast>,
}

/// The store's read snapshot, shared with the background thread.
#[derive(Debug)]
pub(crate) struct ReadSnapshot {
    state: RwLock<State>,
    pub(crate) path: PathBuf,
    pub(crate) stop: AtomicBool,
    ready: Mutex<bool>,
    ready_cv: Condvar,
    /// Lookups answered from the snapshot (hits and definite misses).
    pub(crate) served: AtomicU64,
}

/// What the snapshot says about a key.
pub(crate) enum Lookup {
    /// No snapshot yet, or the key changed since: ask sled.
    NotCovered,
    /// The record as of the snapshot (`None`: no such record).
    Found(Option<RecordBytes>),
}

impl ReadSnapshot {
    pub(crate) fn new(store_dir: &Path) -> Self {
        ReadSnapshot {
            state: RwLock::new(State::default()),
            path: store_dir.join(FILE_NAME),
            stop: AtomicBool::new(false),
            ready: Mutex::new(false),
            ready_cv: Condvar::new(),
            served: AtomicU64::new(0),
        }
    }

    /// Marks `keys` as changed (call before the write commits).
    pub(crate) fn mark_dirty<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) {
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            if !s.dirty.contains(k) {
                s.dirty.insert(k.into());
            }
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Lookup, std::io::Error> {
        let snap = {
            let s = self.state.read().unwrap_or_else(|e| e.into_inner());
            match &s.snap {
                Some(snap) if !s.dirty.contains(key) => snap.clone(),
                _ => return Ok(Lookup::NotCovered),
            }
        };
        let rec = match snap.get(key)? {
            None => None,
            Some(v) => Some(RecordBytes::new(bytes::Bytes::from(v)).map_err(|e| bad(e.to_string()))?),
        };
        self.served.fetch_add(1, Ordering::Relaxed);
        Ok(Lookup::Found(rec))
    }

    /// Installs `snap`, whose changes after its seq are already marked dirty.
    pub(crate) fn install(&self, snap: SnapFile) {
        self.state.write().unwrap_or_else(|e| e.into_inner()).snap = Some(Arc::new(snap));
        self.set_ready();
    }

    /// Marks the background work finished (installed or given up).
    pub(crate) fn set_ready(&self) {
        *self.ready.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.ready_cv.notify_all();
    }

    /// Blocks until the background thread finished; true if a snapshot is in use.
    pub(crate) fn wait_ready(&self) -> bool {
        let mut r = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        while !*r {
            r = self.ready_cv.wait(r).unwrap_or_else(|e| e.into_inner());
        }
        self.state.read().unwrap_or_else(|e| e.into_inner()).snap.is_some()
    }

    /// Records in the store, counted without walking it: the snapshot's
    /// count, corrected for every key written since (`in_store` says whether
    /// such a key has a record now). `None` before a snapshot is installed.
    /// A gauge: a write racing the count may or may not be in it.
    pub(crate) fn count_records(
        &self,
        in_store: impl Fn(&[u8]) -> Result<bool, crate::store::StoreError>,
    ) -> Option<Result<u64, crate::store::StoreError>> {
        let (snap, dirty) = {
            let s = self.state.read().unwrap_or_else(|e| e.into_inner());
            (s.snap.clone()?, s.dirty.iter().cloned().collect::<Vec<_>>())
        };
        let mut n = snap.count as i64;
        for k in &dirty {
            let was = match snap.get(k) {
                Ok(v) => v.is_some(),
                Err(e) => return Some(Err(crate::store::StoreError::Backend(format!("read snapshot: {e}")))),
            };
            let is = match in_store(k) {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            n += i64::from(is) - i64::from(was);
        }
        Some(Ok(n.max(0) as u64))
    }

    /// Whether the installed snapshot's index was loaded from its persisted
    /// file (`None` before one is installed).
    pub(crate) fn index_loaded(&self) -> Option<bool> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).snap.as_ref().map(|f| f.index_loaded)
    }

    /// (records in the snapshot, dirty keys, index bytes)
    pub(crate) fn stats(&self) -> (u64, usize, u64) {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        match &s.snap {
            Some(f) => (f.count, s.dirty.len(), f.index_bytes()),
            None => (0, s.dirty.len(), 0),
        }
    }
}

/// Keys of the changes after `after`, or `None` if there are more than
/// `limit` or the log no longer reaches back to `after + 1`.
fn changed_keys_since(changelog: &sled::Tree, after: u64, limit: usize) -> Result<Option<Vec<Vec<u8>>>, String> {
    let mut keys = Vec::new();
    let start = (after + 1).to_be_bytes();
    let first = match changelog.range(..=start).next_back() {
        Some(kv) => kv.map_err(|e| e.to_string())?.0,
        None => {
            // No group starts at or before after+1: the log must be empty
            // after `after` or have been pruned past it.
            match changelog.first().map_err(|e| e.to_string())? {
                None => return Ok(Some(keys)),
                Some(_) => return Ok(None),
            }
        }
    };
    let mut seen_next = false;
    for kv in changelog.range(first..) {
        let (_, v) = kv.map_err(|e| e.to_string())?;
        for c in super::decode_group(&v).map_err(|e| e.to_string())? {
            if c.seq == after + 1 {
                seen_next = true;
            }
            if c.seq > after {
                keys.push(c.key);
                if keys.len() > limit {
                    return Ok(None);
                }
            }
        }
    }
    if !keys.is_empty() && !seen_next {
        return Ok(None);
    }
    Ok(Some(keys))
}

/// The background work: load the snapshot file and mark what changed
/// since, or rebuild it from the `handles` tree; then install it.
pub(super) fn run(
    rs: &ReadSnapshot,
    db: &sled::Db,
    handles: &sled::Tree,
    changelog: &sled::Tree,
) -> Result<(), String> {
    let current = || super::last_change(changelog).map(|(s, _)| s).map_err(|e| e.to_string());
    let _ = std::fs::remove_file(rs.path.with_extension("tmp"));
    match SnapFile::load(&rs.path, &rs.stop) {
        Ok(None) => return Ok(()),
        Ok(Some(f)) => {
            if f.seq <= current()? {
                let limit = usize::try_from((f.count / 20).max(100_000)).unwrap_or(usize::MAX);
                if let Some(keys) = changed_keys_since(changelog, f.seq, limit)? {
                    rs.mark_dirty(keys.iter().map(Vec::as_slice));
                    rs.install(f);
                    return Ok(());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // A damaged file is rebuilt.
        Err(_) => {}
    }
    // Every write since open is already marked dirty, so `seq` may be
    // read now: what the scan sees of later writes is never served.
    let seq = current()?;
    let flush = || db.flush().map(|_| ()).map_err(std::io::Error::other);
    if !SnapFile::write(&rs.path, seq, handles.iter(), &rs.stop, flush).map_err(|e| e.to_string())? {
        return Ok(());
    }
    if let Some(f) = SnapFile::load(&rs.path, &rs.stop).map_err(|e| e.to_string())? {
        rs.install(f);
    }
    Ok(())
}
