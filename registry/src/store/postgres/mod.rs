//! [`PgStore`]: the [`Store`] on PostgreSQL (feature `postgres`), for nodes
//! that outgrow one disk or run several idnode processes on one database.
//!
//! * **Blocking interface, async client.** `trait Store` is blocking; the
//!   store owns a small tokio runtime of its own (two worker threads) on
//!   which `tokio-postgres` connections from a `deadpool-postgres` pool run.
//!   A call hands its future to that runtime and waits on a plain channel,
//!   so it works from any thread (never a nested `block_on`); async callers
//!   still keep it off their worker threads (`spawn_blocking`), see
//!   [`crate::store`].
//! * **One writer at a time, across processes.** Every change-log write
//!   transaction first locks the `seqs` row `changelog`
//!   (`SELECT ... FOR UPDATE`), computes the new state from the committed
//!   one, writes rows and change-log entries, advances the counter and
//!   commits. The row lock is held until commit, so sequence numbers are
//!   gap-free and visible in commit order to every reader, the same
//!   guarantee as sled's writer mutex, and a failed transaction rolls back
//!   its sequence numbers with it.
//! * **Durability**: a write returns after `COMMIT` (the server's
//!   `synchronous_commit` decides what that means; the default is flushed
//!   WAL).
//! * **Memory state per process**: the prefix index, the read cache and the
//!   resolution counters live in this process. A follower thread polls the
//!   change log every `poll_interval` and invalidates cached records and
//!   reloads the prefix index for changes made by any process
//!   ([`Store::catch_up`]); [`Store::follow_status`] reports the lag.
//! * **Retries**: every call runs under [`Shared::with_client`], which
//!   retries the whole transaction (a fresh connection from the pool, the
//!   closure called again) when the server answers SQLSTATE `40001`
//!   (serialization failure) or `40P01` (deadlock) — what CockroachDB and
//!   YugabyteDB return on contention and PostgreSQL at `SERIALIZABLE`
//!   ([`PgOptions::serializable`]) — up to [`TX_ATTEMPTS`] times with a
//!   jittered exponential backoff; retries are counted
//!   ([`crate::store::FollowStatus::tx_retries`]). Only when the attempts
//!   are used up does the caller see the error.
//! * **Failures**: a pool that cannot hand out a connection within
//!   `connect_timeout` and connection-level errors map to
//!   [`StoreError::Unavailable`]; resolutions keep answering from the read
//!   cache; the pool reconnects by itself when the server is back.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use super::StoreError;
use super::counters::CounterAcc;
use super::prefix_index::PrefixIndex;
use super::read_cache::ReadCache;
use crate::model::{Change, ChangeOp, Prefix, Stored};

mod copy;
mod impl_store;
mod links;
mod records;
mod schema;

pub use schema::PG_SCHEMA_VERSION;

/// Entity kinds in the `entities` table.
pub(crate) mod kind {
    pub const PREFIX: i16 = 1;
    pub const ENTERPRISE: i16 = 2;
    pub const IDENTITY: i16 = 3;
    pub const TEMPLATE: i16 = 4;
    pub const ALIAS: i16 = 5;
    pub const CONSUMER: i16 = 6;
}

/// How to open a [`PgStore`].
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user@host:port/db` or key=value form; the password is
    /// given separately ([`PgOptions::password`]) so it never sits in a URL.
    pub url: String,
    pub password: Option<String>,
    /// Connections in the pool.
    pub pool_size: usize,
    /// Records in the read cache (0 = none).
    pub read_cache_entries: usize,
    /// How often the follower polls the change log.
    pub poll_interval: Duration,
    /// Connecting and waiting for a pooled connection give up after this.
    pub connect_timeout: Duration,
    /// Run pending migrations at open (otherwise an old schema is refused).
    pub migrate: bool,
    /// Node id written into `meta` when the schema is created.
    pub node_id: String,
    /// Unix seconds used as `created` when the schema is created.
    pub now: u64,
    /// PEM certificates of the CA(s) that signed the server's certificate:
    /// connect with TLS (rustls, ring) and verify the server against them
    /// (`sslmode` defaults to `require`). `None` = no TLS.
    pub tls_ca_pem: Option<Vec<u8>>,
    /// Run every transaction at `SERIALIZABLE` isolation (the session's
    /// `default_transaction_isolation`), as CockroachDB always does;
    /// contention then surfaces as SQLSTATE 40001, which the store retries.
    /// Default: the server's default (`READ COMMITTED` on PostgreSQL).
    pub serializable: bool,
}

impl fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("pool_size", &self.pool_size)
            .field("poll_interval", &self.poll_interval)
            .field("serializable", &self.serializable)
            .finish_non_exhaustive()
    }
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        PgOptions {
            url: url.into(),
            password: None,
            pool_size: 16,
            read_cache_entries: 1_000_000,
            poll_interval: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(2),
            migrate: true,
            node_id: String::new(),
            now: 0,
            tls_ca_pem: None,
            serializable: false,
        }
    }
}

/// How many times one call runs its transaction before a serialization
/// failure or deadlock reaches the caller.
pub const TX_ATTEMPTS: u32 = 40;

/// Backoff before retry `attempt` (1-based): uniformly random in
/// `[0, min(2 ms * 2^attempt, 100 ms)]` (full jitter, so that writers that
/// collided do not collide again in step).
fn retry_backoff(attempt: u32) -> Duration {
    static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let cap_us = (2_000u64 << attempt.min(16)).min(100_000);
    // xorshift64* over a shared seed perturbed by the clock: cheap, and
    // different for every caller.
    let mut x = SEED.fetch_add(unix_ms() ^ 0x2545_f491_4f6c_dd1d, Ordering::Relaxed) | 1;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
    Duration::from_micros(r % (cap_us + 1))
}

/// SQLSTATEs after which the whole transaction is run again:
/// serialization failure and deadlock.
const RETRY_CODES: [&str; 2] = ["40001", "40P01"];

/// Whether `e` (from [`pg_err`]) is a serialization failure or deadlock,
/// i.e. the transaction may simply be run again.
pub(crate) fn is_retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Backend(m) if RETRY_CODES.iter().any(|c| m.ends_with(&format!("({c})"))))
}

/// Maps a client error: server-side (SQL) errors are backend errors (the
/// message ends with the SQLSTATE in parentheses, which
/// [`is_retryable`] reads), the rest (connection refused, closed, timeouts)
/// mean "unavailable".
pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        // 57P01 admin_shutdown, 57P02/57P03: the server is going away or not
        // accepting connections; 53300 too many connections.
        let code = db.code().code();
        if code.starts_with("57P") || code == "53300" || code.starts_with("08") {
            return StoreError::Unavailable(db.message().to_owned());
        }
        return StoreError::Backend(format!("{} ({code})", db.message()));
    }
    StoreError::Unavailable(e.to_string())
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_err(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// The connection pool `opts` describe (connections are made lazily).
fn make_pool(opts: &PgOptions) -> Result<Pool, StoreError> {
    let mut cfg: tokio_postgres::Config =
        opts.url.parse().map_err(|e| StoreError::Invalid(format!("PostgreSQL URL: {e}")))?;
    if let Some(p) = &opts.password {
        cfg.password(p.as_bytes());
    }
    cfg.connect_timeout(opts.connect_timeout);
    cfg.application_name("idnode");
    if opts.serializable {
        cfg.options("-c default_transaction_isolation=serializable");
    }
    let mc = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    let mgr = match &opts.tls_ca_pem {
        None => Manager::from_config(cfg, NoTls, mc),
        Some(pem) => {
            if cfg.get_ssl_mode() == tokio_postgres::config::SslMode::Prefer {
                cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
            }
            Manager::from_config(cfg, tls_connector(pem)?, mc)
        }
    };
    Pool::builder(mgr)
        .max_size(opts.pool_size.max(2))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(opts.connect_timeout))
        .create_timeout(Some(opts.connect_timeout))
        .recycle_timeout(Some(opts.connect_timeout))
        .build()
        .map_err(|e| StoreError::Backend(format!("pool: {e}")))
}

/// A rustls (ring) connector trusting exactly the CA certificates in `pem`.
fn tls_connector(pem: &[u8]) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(pem) {
        let c = c.map_err(|e| StoreError::Invalid(format!("database CA file: {e}")))?;
        roots.add(c).map_err(|e| StoreError::Invalid(format!("database CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(StoreError::Invalid("database CA file holds no certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Invalid(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(cfg))
}

pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// State shared by the store and its follower thread.
pub(crate) struct Shared {
    pub(crate) rt: Mutex<Option<tokio::runtime::Runtime>>,
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) pool: Pool,
    pub(crate) index: RwLock<Arc<PrefixIndex>>,
    pub(crate) cache: Option<ReadCache>,
    pub(crate) counters: CounterAcc,
    /// Highest seq reflected in memory state.
    pub(crate) applied: AtomicU64,
    /// Highest seq this process committed or saw.
    pub(crate) last: AtomicU64,
    pub(crate) last_ok: Mutex<Instant>,
    pub(crate) last_lag_ms: AtomicU64,
    pub(crate) stop: AtomicBool,
    pub(crate) poll_interval: Duration,
    /// Serialises prefix-index reloads with the follower's.
    pub(crate) index_lock: Mutex<()>,
    /// Transactions run again after a serialization failure or deadlock.
    pub(crate) retries: Arc<AtomicU64>,
}

/// The PostgreSQL-backed store. Any number of processes may open the same
/// database.
pub struct PgStore {
    pub(crate) s: Arc<Shared>,
    pub(crate) meta: super::StoreMeta,
    follower: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").field("node_id", &self.meta.node_id).finish_non_exhaustive()
    }
}

impl Shared {
    /// Runs `f` on the store's runtime and waits for it from this thread.
    pub(crate) fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| StoreError::Unavailable("store runtime stopped".into()))?
    }

    /// Runs `f` with a pooled connection; when it fails with a
    /// serialization failure or deadlock ([`is_retryable`]), runs it again
    /// (a whole transaction: `f` begins and commits its own) after a
    /// jittered backoff, at most [`TX_ATTEMPTS`] times in all. `f` must
    /// therefore be callable more than once (clone what it moves).
    pub(crate) fn with_client<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(deadpool_postgres::Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send,
    {
        let pool = self.pool.clone();
        let retries = self.retries.clone();
        self.run(async move {
            let mut attempt = 1;
            loop {
                let c = pool.get().await.map_err(pool_err)?;
                match f(c).await {
                    Err(e) if attempt < TX_ATTEMPTS && is_retryable(&e) => {
                        retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(retry_backoff(attempt)).await;
                        attempt += 1;
                    }
                    r => return r,
                }
            }
        })
    }

    pub(crate) fn index(&self) -> Arc<PrefixIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads every prefix into a new index snapshot.
    pub(crate) fn reload_index(&self) -> Result<(), StoreError> {
        let _g = self.index_lock.lock().unwrap_or_else(|e| e.into_inner());
        let rows = self.with_client(|c| async move {
            c.query("SELECT v FROM entities WHERE kind = $1", &[&kind::PREFIX]).await.map_err(pg_err)
        })?;
        let mut prefixes = Vec::with_capacity(rows.len());
        for r in rows {
            let v: Vec<u8> = r.get(0);
            prefixes.push(Prefix::from_stored(&v).map_err(|e| StoreError::decode("prefixes", e))?);
        }
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(PrefixIndex::build(prefixes));
        Ok(())
    }

    /// Applies changes (from this or another process) to memory state.
    pub(crate) fn apply_changes(&self, changes: &[Change]) -> Result<(), StoreError> {
        let mut prefixes = false;
        for c in changes {
            match c.op {
                ChangeOp::PrefixPut | ChangeOp::PrefixDelete => prefixes = true,
                op if is_record_op(op) => {
                    if let Some(cache) = &self.cache {
                        cache.invalidate(&c.key);
                    }
                }
                _ => {}
            }
        }
        if prefixes {
            self.reload_index()?;
        }
        if let Some(last) = changes.last() {
            self.applied.fetch_max(last.seq, Ordering::AcqRel);
            self.last.fetch_max(last.seq, Ordering::AcqRel);
        }
        Ok(())
    }

    /// One follower step: reads the log after the applied position and
    /// applies it; measures the lag of the newest change read.
    pub(crate) fn follow_once(&self) -> Result<(), StoreError> {
        loop {
            let after = self.applied.load(Ordering::Acquire) as i64;
            let rows = self.with_client(move |c| async move {
                c.query(
                    "SELECT c, committed_ms, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT \
                     FROM changelog WHERE seq > $1 ORDER BY seq LIMIT 10000",
                    &[&after],
                )
                .await
                .map_err(pg_err)
            })?;
            let n = rows.len();
            let mut changes = Vec::with_capacity(n);
            let mut lag = None;
            for r in &rows {
                let b: Vec<u8> = r.get(0);
                changes.push(Change::from_stored(&b).map_err(|e| StoreError::decode("changelog", e))?);
                let committed: i64 = r.get(1);
                let now: i64 = r.get(2);
                lag = Some((now - committed).max(0) as u64);
            }
            // Gap check: the log is gap-free in commit order; a hole means
            // a change was pruned before this process read it, so every
            // cached record may be stale.
            let mut expect = after as u64 + 1;
            let mut gap = false;
            for c in &changes {
                if c.seq != expect {
                    gap = true;
                }
                expect = c.seq + 1;
            }
            if gap {
                if let Some(cache) = &self.cache {
                    cache.clear();
                }
                self.reload_index()?;
            }
            self.apply_changes(&changes)?;
            if let Some(l) = lag {
                self.last_lag_ms.store(l, Ordering::Release);
            }
            if n < 10000 {
                *self.last_ok.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                return Ok(());
            }
        }
    }
}

pub(crate) fn is_record_op(op: ChangeOp) -> bool {
    matches!(
        op,
        ChangeOp::Create
            | ChangeOp::Delete
            | ChangeOp::AddValues
            | ChangeOp::ModifyValues
            | ChangeOp::RemoveValues
            | ChangeOp::Replace
    )
}

impl PgStore {
    /// Connects, checks (and with `opts.migrate` applies) the schema,
    /// loads the prefix index and starts the change-log follower.
    pub fn open(opts: PgOptions) -> Result<Self, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("idnode-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("store runtime: {e}")))?;
        let pool = make_pool(&opts)?;
        let handle = rt.handle().clone();
        let s = Arc::new(Shared {
            rt: Mutex::new(Some(rt)),
            handle,
            pool,
            index: RwLock::new(Arc::new(PrefixIndex::build(Vec::new()))),
            cache: ReadCache::new(opts.read_cache_entries),
            counters: CounterAcc::default(),
            applied: AtomicU64::new(0),
            last: AtomicU64::new(0),
            last_ok: Mutex::new(Instant::now()),
            last_lag_ms: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            poll_interval: opts.poll_interval,
            index_lock: Mutex::new(()),
            retries: Arc::new(AtomicU64::new(0)),
        });
        let migrate = opts.migrate;
        let node_id = opts.node_id.clone();
        let now = opts.now;
        let (meta, seq) = s.with_client(move |mut c| {
            let node_id = node_id.clone();
            async move {
            let cur = schema::current_version(&c).await?;
            if cur > PG_SCHEMA_VERSION {
                return Err(StoreError::SchemaTooNew { found: cur as u32, supported: PG_SCHEMA_VERSION as u32 });
            }
            if cur < PG_SCHEMA_VERSION {
                if !migrate {
                    return Err(StoreError::Invalid(format!(
                        "database schema version {cur} is older than {PG_SCHEMA_VERSION}: run `idnode store migrate`"
                    )));
                }
                schema::migrate(&mut c).await?;
            }
            let meta = records::load_or_init_meta(&**c, node_id, now).await?;
            let seq: i64 =
                c.query_one("SELECT v FROM seqs WHERE name = 'changelog'", &[]).await.map_err(pg_err)?.get(0);
            Ok((meta, seq as u64))
            }
        })?;
        s.applied.store(seq, Ordering::Release);
        s.last.store(seq, Ordering::Release);
        s.reload_index()?;
        let fs = s.clone();
        let follower = std::thread::Builder::new()
            .name("idnode-pg-follow".into())
            .spawn(move || {
                while !fs.stop.load(Ordering::Acquire) {
                    let _ = fs.follow_once();
                    std::thread::park_timeout(fs.poll_interval);
                }
            })
            .map_err(|e| StoreError::Backend(format!("follower thread: {e}")))?;
        Ok(PgStore { s, meta, follower: Mutex::new(Some(follower)) })
    }

    /// Applies pending migrations without opening the store; returns the
    /// versions applied (empty when current).
    pub fn migrate(opts: &PgOptions) -> Result<Vec<i32>, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let pool = rt.block_on(async { make_pool(opts) })?;
        rt.block_on(async move {
            let mut c = pool.get().await.map_err(pool_err)?;
            schema::migrate(&mut c).await
        })
    }

    /// The database's schema version and this build's.
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        self.s.with_client(|c| async move { schema::current_version(&c).await })
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.s.stop.store(true, Ordering::Release);
        if let Some(h) = self.follower.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.thread().unpark();
            let _ = h.join();
        }
        let _ = super::Store::persist_counters(self);
        if let Some(rt) = self.s.rt.lock().unwrap_or_else(|e| e.into_inner()).take() {
            rt.shutdown_background();
        }
    }
}
