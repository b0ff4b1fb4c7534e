//! `idnode store ...` and opening the configured backend: `migrate` (the
//! PostgreSQL schema), `status`, and `copy --from sled:PATH --to
//! postgres:URL` (and back), streaming with a progress bar, resumable
//! through a state file, verified by counts and a checksum.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use idnode_registry::store::postgres::{PgOptions, PgStore};
use idnode_registry::store::{SledOptions, SledStore, Store, WriteCtx, copy};

use crate::cli::UsageError;
use crate::config::{Config, StoreBackend};

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Upgrade the store to this build's format: the sled store in place
    /// (daemon stopped), or pending schema migrations of PostgreSQL.
    Migrate,
    /// Backend, schema version, change-log position and record count.
    Status,
    /// Copy a whole registry between backends: `sled:PATH`, `postgres:URL`
    /// (the password from `--password-file` or store.postgres.password_file).
    Copy(CopyArgs),
}

#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    #[arg(long)]
    pub from: String,
    #[arg(long)]
    pub to: String,
    /// Records per committed batch.
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
    /// Where the last committed key is kept (to resume an interrupted copy).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Password file for `postgres:` ends (default: store.postgres.password_file).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

fn read_password(cfg: &Config, file: Option<&std::path::Path>) -> Result<Option<String>> {
    let p = match file {
        Some(p) => p.to_path_buf(),
        None if cfg.store.postgres.password_file.as_os_str().is_empty() => return Ok(None),
        None => cfg.resolve_path(&cfg.store.postgres.password_file),
    };
    let s =
        std::fs::read_to_string(&p).with_context(|| format!("reading the database password from {}", p.display()))?;
    Ok(Some(s.lines().next().unwrap_or("").to_owned()))
}

/// PostgreSQL options from `[store.postgres]` for `url`.
pub fn pg_options(cfg: &Config, url: &str, password_file: Option<&std::path::Path>) -> Result<PgOptions> {
    let pc = &cfg.store.postgres;
    let mut o = PgOptions::new(url);
    o.password = read_password(cfg, password_file)?;
    o.pool_size = pc.pool_size as usize;
    o.poll_interval = Duration::from_millis(pc.poll_interval_ms);
    o.connect_timeout = Duration::from_millis(pc.connect_timeout_ms);
    o.migrate = pc.migrate_on_start;
    o.serializable = pc.isolation == crate::config::PgIsolation::Serializable;
    o.read_cache_entries = usize::try_from(cfg.store.read_cache_entries).unwrap_or(usize::MAX);
    o.node_id = cfg.node.node_prefix.clone();
    o.now = crate::unix_now();
    if !pc.ca_file.as_os_str().is_empty() {
        let f = cfg.resolve_path(&pc.ca_file);
        o.tls_ca_pem =
            Some(std::fs::read(&f).with_context(|| format!("reading store.postgres.ca_file {}", f.display()))?);
    }
    Ok(o)
}

/// Opens the configured backend (sled: `cli::open_store`).
pub fn open_configured(cfg: &Config) -> Result<Arc<dyn Store>> {
    match cfg.store.backend {
        StoreBackend::Sled => Ok(crate::cli::open_store(cfg)?),
        StoreBackend::Postgres => {
            let o = pg_options(cfg, &cfg.store.postgres.url, None)?;
            let s = PgStore::open(o).context("opening the PostgreSQL store (store.postgres.url)")?;
            Ok(Arc::new(s))
        }
    }
}

/// Opens `sled:PATH` or `postgres:URL`.
fn open_spec(cfg: &Config, spec: &str, pw: Option<&std::path::Path>, create: bool) -> Result<Arc<dyn Store>> {
    if let Some(path) = spec.strip_prefix("sled:") {
        if !create && !std::path::Path::new(path).exists() {
            bail!(UsageError(format!("no sled store at {path}")));
        }
        let s = SledStore::open(SledOptions::new(path).cache_capacity(cfg.store_cache_bytes()).read_cache_entries(0))
            .with_context(|| format!("opening the sled store at {path}"))?;
        return Ok(Arc::new(s));
    }
    if let Some(url) = spec.strip_prefix("postgres:") {
        let mut o = pg_options(cfg, url, pw)?;
        o.migrate = true;
        o.read_cache_entries = 0;
        return Ok(Arc::new(PgStore::open(o).context("opening the PostgreSQL store")?));
    }
    bail!(UsageError(format!("{spec:?}: expected sled:PATH or postgres:URL")))
}

pub fn run(args: StoreArgs, cfg: &Config) -> Result<()> {
    match args.command {
        StoreCommand::Migrate => {
            if cfg.store.backend != StoreBackend::Postgres {
                return migrate_sled(cfg);
            }
            let o = pg_options(cfg, &cfg.store.postgres.url, None)?;
            let applied = PgStore::migrate(&o).context("migrating the PostgreSQL schema")?;
            if applied.is_empty() {
                println!("schema is current (version {})", idnode_registry::store::postgres::PG_SCHEMA_VERSION);
            } else {
                println!("applied migrations {applied:?}");
            }
        }
        StoreCommand::Status => {
            let s = open_configured(cfg)?;
            let f = s.follow_status();
            println!("backend:      {}", s.backend_name());
            println!("schema:       {}", s.meta().schema);
            println!("node id:      {}", s.meta().node_id);
            println!("last seq:     {}", s.last_seq());
            println!("first seq:    {}", s.first_seq()?);
            println!("records:      {}", s.count_records(None)?);
            if f.shared {
                println!("applied seq:  {} (last lag {} ms)", f.applied_seq, f.last_lag_ms);
            }
        }
        StoreCommand::Copy(a) => copy_cmd(cfg, a)?,
    }
    Ok(())
}

/// `idnode store migrate` on sled: opens the store allowing the format
/// upgrade (`registry::store::sled_store::format`) and reports it.
fn migrate_sled(cfg: &Config) -> Result<()> {
    let path = crate::cli::store_path(cfg.data_dir());
    if !path.exists() {
        bail!(UsageError(format!("no store in {}", cfg.data_dir().display())));
    }
    let before = crate::unix_now();
    let s = SledStore::open(SledOptions::new(&path).cache_capacity(cfg.store_cache_bytes()).migrate(true).now(before))
        .with_context(|| format!("opening the store in {} to upgrade it (stop the daemon first)", path.display()))?;
    let steps = s.upgraded_at_open();
    if steps.is_empty() {
        println!("store format is current ({})", idnode_registry::store::FORMAT_VERSION);
    } else {
        for u in steps {
            println!("upgraded the store format {} -> {}", u.from, u.to);
        }
    }
    s.flush()?;
    Ok(())
}

fn copy_cmd(cfg: &Config, a: CopyArgs) -> Result<()> {
    let from = open_spec(cfg, &a.from, a.password_file.as_deref(), false)?;
    let to = open_spec(cfg, &a.to, a.password_file.as_deref(), true)?;
    let state = a.state.clone().unwrap_or_else(|| cfg.data_dir().join("store-copy.state"));
    let resume = match std::fs::read_to_string(&state) {
        Ok(s) if s.trim().is_empty() => None,
        Ok(s) => Some(hex::decode(s.trim()).with_context(|| format!("bad resume state in {}", state.display()))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", state.display())),
    };
    let ctx = WriteCtx::new(crate::unix_now(), "store copy");
    let (p, e, i, t) = copy::copy_entities(&*from, &*to, &ctx)?;
    eprintln!("entities: {p} prefixes, {e} enterprises, {i} identities, {t} templates");
    let total = from.count_records(None)?;
    let bar = crate::offline::progress_bar(Some(total));
    if let Some(k) = &resume {
        eprintln!("resuming after {}", String::from_utf8_lossy(k));
    }
    let mut save_err = None;
    let copied = copy::copy_records(&*from, &*to, resume, a.batch, &ctx, &mut |last, n| {
        bar.set_position(n);
        if let Err(e) = std::fs::write(&state, hex::encode(last)) {
            save_err.get_or_insert(e);
        }
    })?;
    bar.finish_and_clear();
    if let Some(e) = save_err {
        return Err(e).with_context(|| format!("writing {}", state.display()));
    }
    let (sn, ss) = copy::checksum(&*from)?;
    let (tn, ts) = copy::checksum(&*to)?;
    println!("copied {copied} records; source {sn} records sha256 {ss}; target {tn} records sha256 {ts}");
    if sn != tn || ss != ts {
        bail!("verification failed: the target differs from the source (counts or checksum)");
    }
    let _ = std::fs::remove_file(&state);
    println!("verified: counts and checksums match");
    Ok(())
}
