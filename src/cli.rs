//! The command line: clap definitions and the small commands (`init`,
//! `check-config`, `keygen`, `version`). `serve` lives in `crate::serve`,
//! `id` in `crate::offline`, `resolve` in `crate::resolve_cmd`, the
//! administration commands (`prefix`, `enterprise`, `template`, `user`,
//! `stats`) in `crate::cli_admin`.
//!
//! Exit codes: 0 success, 64 usage or configuration error (`EX_USAGE`,
//! including clap's own errors), 1 any other failure. A command signals a
//! usage error by returning a [`UsageError`] somewhere in its error chain.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::config::{Config, Problem, Source};
use crate::keys::{self, ServerKey};
use idnode_registry::seed;
use idnode_registry::store::{SledOptions, SledStore, Store};

/// Exit code for usage and configuration errors (sysexits `EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;

/// A mistake by whoever ran the command (bad flag, bad config, refusing to
/// overwrite): exit code 64 instead of 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// idnode — a secondary node (二级节点) of the industrial-internet identifier
/// resolution system.
#[derive(Debug, Parser)]
#[command(name = "idnode", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Without it the embedded default is used.
    /// IDNODE_<SECTION>__<KEY> environment variables override it.
    #[arg(long, global = true, env = "IDNODE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Data directory (store, server key, admin secret); overrides
    /// `node.data_dir`.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new store: node prefix, server key pair and admin identity.
    Init(InitArgs),
    /// Run the node (creates the data directory with demo data on first run).
    Serve,
    /// Load and validate the configuration; print OK or every problem.
    CheckConfig(CheckConfigArgs),
    /// Generate an RSA 2048 key pair (PKCS#8 PEM) and print its HS_PUBKEY.
    Keygen(KeygenArgs),
    /// Identifier records: get, put, rm, import, export (through the
    /// daemon's admin API while it runs, else on the store directly).
    #[command(subcommand)]
    Id(crate::offline::IdCommand),
    /// Prefixes: list, get, create, set-state, home, unhome.
    Prefix(crate::cli_admin::PrefixArgs),
    /// Enterprises: list, get, create, approve.
    Enterprise(crate::cli_admin::EnterpriseArgs),
    /// Metadata templates: list, get, put, rm.
    Template(crate::cli_admin::TemplateArgs),
    /// API accounts: list, add, passwd, disable, enable.
    User(crate::cli_admin::UserArgs),
    /// Registrations and resolutions per prefix per day.
    Stats(crate::cli_admin::StatsArgs),
    /// Resolve an identifier over the Handle protocol.
    Resolve(crate::resolve_cmd::ResolveArgs),
    /// The store backend: migrate (PostgreSQL schema), status, copy between backends.
    Store(crate::store_cmd::StoreArgs),
    /// Print the chain of linked identifiers around one identifier as a tree.
    Trace(crate::trace_cmd::TraceArgs),
    /// Write a printable QR label (SVG or PNG) for an identifier.
    Label(crate::trace_cmd::LabelArgs),
    /// Back up the store into one consistent, compressed, checksummed
    /// archive (through the running daemon, or offline).
    Backup(crate::backup::BackupArgs),
    /// Restore an archive of `idnode backup` into an empty data directory.
    Restore(crate::backup::RestoreArgs),
    /// Check an installed node: config, secret file modes, disk, clock,
    /// certificates, doors, HS_SITE, top node; exit 1 on a failure.
    Doctor(crate::doctor::DoctorArgs),
    /// Write man pages and shell completions (for packaging).
    #[command(hide = true)]
    GenAssets(crate::ops::GenAssetsArgs),
    /// Print the version.
    Version,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Replace an existing store, server key and admin secret.
    #[arg(long)]
    pub force: bool,
    /// Also load the demo data set (what `serve` does on a fresh directory).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// Also print the effective configuration (file + environment + flags).
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the private key (PKCS#8 PEM, mode 0600; must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Parses the command line; clap's own errors exit 64, `--help` and
/// `--version` exit 0.
pub fn parse() -> std::result::Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) => {
            let _ = e.print();
            Err(match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_USAGE),
            })
        }
    }
}

/// Maps a command's error to an exit code (64 when it is a usage error).
pub fn exit_code_of(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(|e| e.is::<UsageError>() || e.is::<crate::config::ConfigError>()) {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::FAILURE
    }
}

/// Loads the configuration the way every command does: `--config` (or the
/// embedded default), `IDNODE_*` overrides, then `--data-dir`.
pub fn load_config(cli: &Cli) -> Result<(Config, Source)> {
    let (mut cfg, source) = Config::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(dir) = &cli.data_dir {
        cfg.node.data_dir = dir.clone();
    }
    Ok((cfg, source))
}

/// Loads and validates; every problem becomes one usage error.
pub fn load_valid_config(cli: &Cli) -> Result<Config> {
    let (cfg, source) = load_config(cli)?;
    let problems = cfg.validate();
    if !problems.is_empty() {
        return Err(UsageError(format!("invalid configuration ({source}):\n{}", render_problems(&problems))).into());
    }
    Ok(cfg)
}

fn render_problems(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// `idnode check-config`: prints `OK` (and the source) or each problem.
pub fn check_config(cli: &Cli, args: &CheckConfigArgs) -> ExitCode {
    let (cfg, source) = match load_config(cli) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("idnode: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let problems = cfg.validate();
    if !problems.is_empty() {
        eprintln!("idnode: {} problem(s) in {source}:", problems.len());
        for p in &problems {
            println!("{p}");
        }
        return ExitCode::from(EXIT_USAGE);
    }
    if args.print {
        match toml::to_string_pretty(&cfg) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("idnode: cannot print the configuration: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("OK ({source})");
    ExitCode::SUCCESS
}

/// `idnode keygen --out FILE`
pub fn keygen(args: &KeygenArgs) -> Result<()> {
    if args.out.exists() {
        return Err(UsageError(format!("{} exists; refusing to overwrite a key", args.out.display())).into());
    }
    let key = ServerKey::generate()?;
    key.write_new(&args.out)?;
    println!("private key: {} (PKCS#8 PEM, mode 0600)", args.out.display());
    println!("HS_PUBKEY hex:    {}", hex::encode(key.hs_pubkey()));
    println!("HS_PUBKEY base64: {}", key.hs_pubkey_base64());
    println!("sha256:           {}", key.fingerprint());
    Ok(())
}

/// `idnode version`
pub fn version() {
    println!("idnode {}", env!("CARGO_PKG_VERSION"));
}

/// What `init` created, for the summary line and for `serve`.
#[derive(Debug)]
pub struct InitOutcome {
    pub server_key: ServerKey,
    pub admin_identity: String,
}

/// `idnode init`: creates the data directory, the server key, the admin
/// secret and the store. Refuses to touch an existing store unless `force`.
pub fn init(cfg: &Config, force: bool, demo: bool) -> Result<InitOutcome> {
    let dir = cfg.data_dir();
    create_private_dir(dir)?;
    let key_path = cfg.server_key_path();
    let secret_path = cfg.admin_secret_path();
    let existing: Vec<PathBuf> =
        [store_path(dir), key_path.clone(), secret_path.clone()].into_iter().filter(|p| p.exists()).collect();
    if !existing.is_empty() {
        if !force {
            let list = existing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            return Err(UsageError(format!(
                "{} already holds a node ({list}); use `idnode init --force` to replace it",
                dir.display()
            ))
            .into());
        }
        for p in &existing {
            remove_path(p)?;
        }
    }

    let server_key = ServerKey::generate()?;
    server_key.write_new(&key_path)?;
    let secret = keys::generate_admin_secret();
    keys::write_secret(&secret_path, &secret)?;
    let admin_identity =
        create_store(cfg, &secret, demo).with_context(|| format!("creating the store in {}", dir.display()))?;
    Ok(InitOutcome { server_key, admin_identity })
}

/// Prints what `init` did (never the secret itself).
pub fn print_init_summary(cfg: &Config, outcome: &InitOutcome, demo: bool) {
    println!(
        "idnode: initialised {} as a {} node for prefix {}",
        cfg.data_dir().display(),
        cfg.node.role.as_str(),
        cfg.node.node_prefix
    );
    println!("  server key:     {} (sha256 {})", cfg.server_key_path().display(), outcome.server_key.fingerprint());
    println!("  admin identity: {} (secret in {})", outcome.admin_identity, cfg.admin_secret_path().display());
    println!("  SNMS login:     user {SNMS_ADMIN_USER}, password = the admin secret (POST /identity/token)");
    if demo {
        println!("  demo data:      loaded");
    }
}

/// The sled directory inside the data directory.
pub fn store_path(data_dir: &Path) -> PathBuf {
    data_dir.join(STORE_DIR)
}

/// Name of the store directory under `node.data_dir`.
pub const STORE_DIR: &str = "store";

/// True when the data directory holds no node yet (no store, no key, no
/// admin secret): `serve` then runs `init --demo` first.
pub fn is_fresh(cfg: &Config) -> bool {
    !store_path(cfg.data_dir()).exists() && !cfg.server_key_path().exists() && !cfg.admin_secret_path().exists()
}

/// Opens the store of `cfg` (exclusive: a second process gets
/// `StoreError::Locked`).
pub fn open_store(cfg: &Config) -> Result<Arc<SledStore>> {
    let path = store_path(cfg.data_dir());
    if !path.exists() {
        return Err(UsageError(format!(
            "no store in {}; run `idnode init` (or `idnode serve` on an empty directory)",
            cfg.data_dir().display()
        ))
        .into());
    }
    let store = SledStore::open(
        SledOptions::new(&path)
            .cache_capacity(cfg.store_cache_bytes())
            .read_cache_entries(cfg.read_cache_entries())
            .alias_cache_entries(cfg.alias_cache_entries())
            .read_snapshot(cfg.store.read_snapshot)
            .now(crate::unix_now()),
    )
    .with_context(|| format!("opening the store in {}", path.display()))?;
    Ok(Arc::new(store))
}

/// Creates the store: homes the node prefix (`seed::init_store`), writes
/// the prefix record `0.NA/<node_prefix>` with HS_ADMIN and the admin's
/// HS_SECKEY, and optionally the demo data (`seed::seed_demo`). Returns the
/// admin identity (`300:0.NA/...`).
fn create_store(cfg: &Config, secret: &crate::config::Secret, demo: bool) -> Result<String> {
    use idnode_registry::model::{AdminRecord, Value, admin_perm, perm};
    use idnode_registry::store::{StoreExt, WriteCtx};

    let now = crate::unix_now();
    let path = store_path(cfg.data_dir());
    let store: Arc<dyn Store> = match cfg.store.backend {
        crate::config::StoreBackend::Sled => Arc::new(
            SledStore::open(
                SledOptions::new(&path)
                    .cache_capacity(cfg.store_cache_bytes())
                    .node_id(cfg.node.node_prefix.clone())
                    .now(now),
            )
            .with_context(|| format!("creating the store in {}", path.display()))?,
        ),
        crate::config::StoreBackend::Postgres => crate::store_cmd::open_configured(cfg)?,
    };
    let store = &*store;
    let node_prefix = &cfg.node.node_prefix;
    seed::init_store(store, node_prefix, cfg.node.case_policy.into(), now)?;

    // The node administrator: all permissions on the prefix handle, proven
    // with the secret key at index 300 of the same record.
    let prefix_handle = idnode_registry::ident::prefix_handle(node_prefix);
    let admin = AdminRecord::new(admin_perm::ALL, prefix_handle.as_bytes(), ADMIN_KEY_INDEX);
    let values = vec![
        Value::new(100, "HS_ADMIN", admin.to_bytes()),
        Value::new(ADMIN_KEY_INDEX, "HS_SECKEY", secret.expose()).with_permissions(perm::SECRET),
    ];
    let ctx = WriteCtx::new(now, "idnode init");
    store.create_record(&store.canonical_key(prefix_handle.as_bytes()), values, false, &ctx)?;
    // The SNMS platform administrator: username `admin`, password = the
    // admin secret, stored as an Argon2id hash (plus the sealed hashed-login
    // verifier when `snms.hashed_login` is on).
    let sealer = crate::api::auth::sealed::Sealer::in_data_dir(cfg.data_dir());
    let (phc, v1) = crate::api::snms::account_hashes(&sealer, SNMS_ADMIN_USER, secret.expose(), cfg.snms.hashed_login)
        .map_err(|e| anyhow::anyhow!("hashing the SNMS admin password: {e}"))?;
    let mut account =
        idnode_registry::model::Identity::new(SNMS_ADMIN_USER, idnode_registry::model::Role::PlatformAdmin, phc, now);
    account.snms_v1_verifier = v1;
    store.put_identity(&account)?;
    if demo {
        let report = seed::seed_demo(store, node_prefix, now)?;
        tracing::info!(identifiers = report.identifiers.len(), prefix = %report.enterprise_prefix, "demo data loaded");
    }
    store.flush()?;
    Ok(format!("{ADMIN_KEY_INDEX}:{prefix_handle}"))
}

/// Username of the SNMS platform administrator created by `init`.
pub const SNMS_ADMIN_USER: &str = "admin";

/// Index of the admin's secret key in the prefix record (CNRI convention).
const ADMIN_KEY_INDEX: u32 = 300;

/// `mkdir -p` with mode 0700 for directories we create.
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))
}

fn remove_path(p: &Path) -> Result<()> {
    let r = if p.is_dir() { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) };
    r.with_context(|| format!("removing {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from(["idnode", "check-config", "--config", "x.toml", "--data-dir", "d"]).unwrap();
        assert_eq!(cli.config.as_deref(), Some(Path::new("x.toml")));
        assert_eq!(cli.data_dir.as_deref(), Some(Path::new("d")));
        assert!(matches!(cli.command, Command::CheckConfig(_)));
    }

    #[test]
    fn usage_errors_map_to_64() {
        let e: anyhow::Error = UsageError("x".into()).into();
        assert_eq!(exit_code_of(&e.context("while doing y")), ExitCode::from(EXIT_USAGE));
        assert_eq!(exit_code_of(&anyhow::anyhow!("disk on fire")), ExitCode::FAILURE);
    }
}
