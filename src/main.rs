//! idnode: the daemon and CLI binary of a secondary node (二级节点) of the
//! industrial-internet identifier resolution system.
//!
//! `main` installs process-wide state exactly once and in this order: the
//! rustls crypto provider (ring — two providers compiled in would panic at
//! the first TLS config, see shared/crates.md), the command line, the
//! configuration, the log subscriber; then it dispatches to a command. Only
//! this binary reads config files and the environment, binds sockets and
//! installs globals; the libraries get paths, bound sockets, an `Arc` of
//! the store and a cancellation token.
#![forbid(unsafe_code)]

mod admin_client;
/// mimalloc instead of glibc malloc: sled allocates on every operation and
/// with glibc about half of the import's CPU went to malloc/free (import
/// 39k -> 56k records/s on this 2-core machine; docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod api;
mod backup;
mod cli;
mod cli_admin;
mod config;
mod console;
mod doctor;
mod federation;
mod keys;
mod offline;
mod ops;
mod portal;
mod resolve_cmd;
mod serve;
mod store_cmd;
mod store_watch;
mod telemetry;
mod trace_cmd;
mod web;

use std::process::ExitCode;

use anyhow::{Context, Result};

use cli::{Cli, Command};

fn main() -> ExitCode {
    // Must come before anything can build a rustls config.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idnode: error: {e:#}");
            cli::exit_code_of(&e)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    // Commands that need neither a valid config nor logs.
    match &cli.command {
        Command::Version => {
            cli::version();
            return Ok(ExitCode::SUCCESS);
        }
        Command::CheckConfig(args) => return Ok(cli::check_config(&cli, args)),
        Command::Doctor(args) => return Ok(doctor::run(&cli, args)),
        Command::GenAssets(args) => return ops::gen_assets(args).map(|()| ExitCode::SUCCESS),
        _ => {}
    }

    let cfg = cli::load_valid_config(&cli)?;
    telemetry::init_tracing(&cfg.telemetry)?;

    match cli.command {
        Command::Version | Command::CheckConfig(_) | Command::Doctor(_) | Command::GenAssets(_) => {
            unreachable!("handled above")
        }
        Command::Init(args) => {
            let outcome = cli::init(&cfg, args.force, args.demo)?;
            cli::print_init_summary(&cfg, &outcome, args.demo);
        }
        Command::Keygen(args) => cli::keygen(&args)?,
        Command::Id(cmd) => offline::run_id(cmd, &cfg)?,
        Command::Prefix(args) => cli_admin::prefix(args, &cfg)?,
        Command::Enterprise(args) => cli_admin::enterprise(args, &cfg)?,
        Command::Template(args) => cli_admin::template(args, &cfg)?,
        Command::User(args) => cli_admin::user(args, &cfg)?,
        Command::Stats(args) => cli_admin::stats(args, &cfg)?,
        Command::Resolve(args) => resolve_cmd::run(args)?,
        Command::Store(args) => store_cmd::run(args, &cfg)?,
        Command::Trace(args) => trace_cmd::trace(args, &cfg)?,
        Command::Label(args) => trace_cmd::label(args, &cfg)?,
        Command::Backup(args) => backup::run_backup(args, &cfg)?,
        Command::Restore(args) => backup::run_restore(args, &cfg)?,
        Command::Serve => serve_command(cfg)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `idnode serve`: first-run init, then the daemon on a multi-thread runtime.
fn serve_command(cfg: config::Config) -> Result<()> {
    if cli::is_fresh(&cfg) {
        tracing::info!(data_dir = %cfg.data_dir().display(), "fresh data directory: initialising with demo data");
        let outcome = cli::init(&cfg, false, true)?;
        cli::print_init_summary(&cfg, &outcome, true);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("idnode-rt")
        .build()
        .context("starting the async runtime")?;
    let store = store_cmd::open_configured(&cfg)?;
    runtime.block_on(serve::run(std::sync::Arc::new(cfg), store))
}

/// Seconds since the Unix epoch (0 if the clock is before 1970). The one
/// clock of the daemon: the libraries take `now` as an argument.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
