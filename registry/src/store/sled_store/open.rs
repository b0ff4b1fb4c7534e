//! Opening a [`SledStore`] (format check and upgrade, trees, writer state,
//! group commit, read snapshot) and its inherent helpers: paths, sizes,
//! snapshot status, the prefix index reload and change-log pruning.

#[allow(clippy::wildcard_imports)]
use super::*;

/// How long an open waits for a lock that this process may still be
/// releasing (below).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Directories this process has opened a sled database in.
static OPENED: std::sync::Mutex<std::collections::BTreeSet<PathBuf>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Opens the sled database. sled releases its file lock only when the last
/// holder of its file closes it, and after a `Db` is dropped its background
/// I/O tasks may hold the file a little longer: a reopen in the same
/// process (a restore, a test) right after a close could fail with
/// [`StoreError::Locked`]. So an open of a directory this process opened
/// before waits up to [`LOCK_WAIT`] for the lock. A directory it never
/// opened fails at once: the lock is another process's (the admin CLI
/// then goes to the running daemon instead, without a wait).
pub(super) fn open_db(path: &Path, cache_capacity: u64) -> Result<sled::Db, StoreError> {
    let id = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let ours = lock(&OPENED).contains(&id);
    let deadline = std::time::Instant::now() + if ours { LOCK_WAIT } else { std::time::Duration::ZERO };
    loop {
        let opened = sled::Config::new().path(path).cache_capacity(cache_capacity).flush_every_ms(None).open();
        match opened.map_err(|e| map_open_err(e, path)) {
            Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(db) => {
                lock(&OPENED).insert(id);
                return Ok(db);
            }
            other => return other,
        }
    }
}

impl SledStore {
    /// The raw sled database in `path`, with the same wait for a lock still
    /// being released as [`SledStore::open`]: for tools and tests that read
    /// or edit the trees directly (a store must not be open on it).
    pub fn open_raw(path: &Path) -> Result<sled::Db, StoreError> {
        open_db(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens (creating if needed) the store in `opts.path`.
    pub fn open(opts: SledOptions) -> Result<Self, StoreError> {
        let path = opts.path.clone();
        std::fs::create_dir_all(&path).map_err(|e| StoreError::Backend(format!("creating {}: {e}", path.display())))?;
        let db = open_db(&path, opts.cache_capacity)?;
        let open = |n: &str| db.open_tree(n).map_err(backend);
        let t = Trees {
            handles: open("handles")?,
            prefixes: open("prefixes")?,
            enterprises: open("enterprises")?,
            identities: open("identities")?,
            templates: open("templates")?,
            aliases: open("aliases")?,
            changelog: open("changelog")?,
            counters: open("counters")?,
            audit: open("audit")?,
            consumers: open("consumers")?,
        };
        let meta_tree = open("meta")?;
        // The format is checked before anything else is decoded.
        let node_id = opts.node_id.clone();
        let (meta, upgraded_now) = format::open_meta(
            &db,
            &meta_tree,
            opts.migrate,
            || StoreMeta {
                schema: SCHEMA_VERSION,
                node_id: node_id.unwrap_or_else(|| format!("{:016x}", rand::random::<u64>())),
                created: opts.now,
            },
            opts.now,
        )?;
        let history = format::history(&meta_tree)?;
        let (seq, last_time) = last_change(&t.changelog)?;
        let audit_seq = last_u64_key(&t.audit, "audit")?;
        let mut prefixes = Vec::new();
        for kv in t.prefixes.iter() {
            let (_, v) = kv.map_err(backend)?;
            prefixes.push(decode::<Prefix>("prefixes", &v)?);
        }
        let (snap, snap_thread) = if opts.read_snapshot {
            let rs = Arc::new(snapshot::ReadSnapshot::new(&path));
            let (rs2, db2, h, c) = (rs.clone(), db.clone(), t.handles.clone(), t.changelog.clone());
            let th = std::thread::Builder::new()
                .name("read-snapshot".into())
                .spawn(move || {
                    // On failure reads stay on sled; nothing is lost.
                    let _ = snapshot::run(&rs2, &db2, &h, &c);
                    rs2.set_ready();
                })
                .map_err(|e| StoreError::Backend(format!("starting the read-snapshot thread: {e}")))?;
            (Some(rs), Some(th))
        } else {
            (None, None)
        };
        let alias_filter = KeyFilter::new(opts.alias_cache_entries).map(Arc::new);
        let filter_thread = match &alias_filter {
            Some(f) => {
                let (f, tree) = (f.clone(), t.aliases.clone());
                let th = std::thread::Builder::new()
                    .name("alias-filter".into())
                    .spawn(move || f.fill_from(&tree))
                    .map_err(|e| StoreError::Backend(format!("starting the alias-filter thread: {e}")))?;
                Some(th)
            }
            None => None,
        };
        let db2 = db.clone();
        let gc = GroupCommit::start(Box::new(move || db2.flush().map(|_| ()).map_err(|e| e.to_string())))
            .map_err(|e| StoreError::Backend(format!("starting the flusher thread: {e}")))?;
        Ok(SledStore {
            path,
            db,
            t,
            writer: Mutex::new(WriterState { seq, audit_seq, last_time }),
            last_seq: AtomicU64::new(seq),
            // What sled recovered on open is what is on disk.
            durable_seq: AtomicU64::new(seq),
            deferred: std::sync::atomic::AtomicBool::new(false),
            index: RwLock::new(Arc::new(PrefixIndex::build(prefixes))),
            counters: CounterAcc::default(),
            gc,
            meta,
            history,
            upgraded_now,
            cache: ReadCache::new(opts.read_cache_entries),
            alias_cache: ReadCache::new(opts.alias_cache_entries),
            prefix_epoch: std::sync::atomic::AtomicU32::new(0),
            alias_filter,
            filter_thread: Mutex::new(filter_thread),
            snap,
            snap_thread: Mutex::new(snap_thread),
        })
    }

    /// Opens `path` with default options.
    pub fn open_path(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        Self::open(SledOptions::new(path))
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format upgrades applied to this store, oldest first (`format.rs`).
    pub fn upgrade_history(&self) -> &UpgradeHistory {
        &self.history
    }

    /// The format upgrades this open applied (empty unless opened with
    /// [`SledOptions::migrate`] on an older store).
    pub fn upgraded_at_open(&self) -> &[Upgrade] {
        let h = &self.history.steps;
        &h[h.len().saturating_sub(self.upgraded_now)..]
    }

    /// Waits for the read snapshot's background load or build (tests,
    /// benchmarks); true if resolutions are now served from it.
    pub fn wait_read_snapshot(&self) -> bool {
        self.snap.as_ref().is_some_and(|rs| rs.wait_ready())
    }

    /// Waits for the alias filter's scan at open (tests, benchmarks); true
    /// if alias misses are now answered from it.
    pub fn wait_alias_filter(&self) -> bool {
        let Some(f) = &self.alias_filter else { return false };
        while !f.is_ready() {
            if lock(&self.filter_thread).as_ref().is_none_or(|th| th.is_finished()) {
                return f.is_ready();
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        true
    }

    /// Read-snapshot figures: (records in it, keys read from sled because
    /// they changed since, bytes of its in-memory index, lookups it answered).
    pub fn read_snapshot_stats(&self) -> Option<(u64, usize, u64, u64)> {
        self.snap.as_ref().map(|rs| {
            let (n, d, b) = rs.stats();
            (n, d, b, rs.served.load(Ordering::Relaxed))
        })
    }

    /// Whether the read snapshot in use got its index from the persisted
    /// index file (true) or by scanning the snapshot (false); `None` while
    /// no snapshot is in use.
    pub fn read_snapshot_index_loaded(&self) -> Option<bool> {
        self.snap.as_ref().and_then(|rs| rs.index_loaded())
    }

    /// Bytes the store occupies on disk (sled's estimate).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(backend)
    }

    pub(super) fn index(&self) -> Arc<PrefixIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn reload_index(&self) -> Result<(), StoreError> {
        let mut prefixes = Vec::new();
        for kv in self.t.prefixes.iter() {
            let (_, v) = kv.map_err(backend)?;
            prefixes.push(decode::<Prefix>("prefixes", &v)?);
        }
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(PrefixIndex::build(prefixes));
        // After the swap: a reader that sees the new epoch uses the new index.
        self.prefix_epoch.fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    pub(super) fn get_plain<T: Stored>(
        &self,
        tree: &sled::Tree,
        name: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match tree.get(key).map_err(backend)? {
            Some(b) => Ok(Some(decode(name, &b)?)),
            None => Ok(None),
        }
    }

    /// Removes change-log entries with seq <= `up_to` (retention; a group
    /// that straddles `up_to` is kept whole). Returns how many were removed.
    pub fn prune_changes(&self, up_to: u64) -> Result<u64, StoreError> {
        let mut n = 0u64;
        let mut batch = sled::Batch::default();
        for kv in self.t.changelog.iter() {
            let (k, v) = kv.map_err(backend)?;
            let g = decode_group(&v)?;
            if g.last().is_some_and(|c| c.seq > up_to) {
                break;
            }
            batch.remove(k);
            n += g.len() as u64;
        }
        self.t.changelog.apply_batch(batch).map_err(backend)?;
        self.gc.wait_durable()?;
        Ok(n)
    }
}
