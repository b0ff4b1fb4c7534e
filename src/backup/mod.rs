//! `idnode backup` and `idnode restore` (issue 15, item 2).
//!
//! `backup --out FILE [--with-secrets]`: while the daemon runs (it holds
//! the store), the archive is streamed from its admin API
//! (`GET /admin/v1/backup`, authenticated like every admin CLI command);
//! with the daemon stopped the store is read directly. Either way the
//! archive is `idnode_registry::backup`'s consistent snapshot, gzip
//! compressed ([`archive`]), written to `FILE.partial`, read back and
//! verified (checksum, counts), then renamed to `FILE` (mode 0600) with a
//! `FILE.sha256` line for `sha256sum -c`.
//!
//! `restore FILE` (`--data-dir DIR`): refuses a data directory that is not
//! empty, verifies the whole archive first, then creates a sled store in
//! `DIR/store`, loads the archive, writes the key files it carries (0600)
//! and checks the record count. Nothing is left behind when it fails.

pub mod archive;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use idnode_registry::backup;
use idnode_registry::store::{SledOptions, SledStore, Store, WriteCtx};
use sha2::{Digest, Sha256};

use crate::cli::UsageError;
use crate::config::{Config, StoreBackend};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The archive to write (must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also put the node's keys and secrets in the archive (server key,
    /// admin secret, credentials key, HS_SECKEY values). Keep such an
    /// archive as safe as the keys themselves.
    #[arg(long)]
    pub with_secrets: bool,
    /// Only through the running daemon's admin API; never open the store
    /// (what the scheduled backup unit uses: its sandbox mounts the data
    /// directory read-only).
    #[arg(long)]
    pub online: bool,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The archive written by `idnode backup`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// The warning printed whenever secrets go into an archive.
const SECRETS_WARNING: &str = "warning: this archive holds the node's keys and secrets (server key, admin secret, credentials key, HS_SECKEY values): keep it encrypted and readable only by the operator";

/// `idnode backup`.
pub fn run_backup(args: BackupArgs, cfg: &Config) -> Result<()> {
    if args.out.exists() {
        bail!(UsageError(format!("{} exists; refusing to overwrite a backup", args.out.display())));
    }
    if args.with_secrets {
        eprintln!("idnode: {SECRETS_WARNING}");
    }
    let partial = with_suffix(&args.out, ".partial");
    let r = write_to(&partial, &args, cfg);
    if r.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let how = r?;
    let (header, trailer) = archive::verify_file(&partial).context("reading the new archive back")?;
    let digest = file_sha256(&partial)?;
    std::fs::rename(&partial, &args.out).with_context(|| format!("renaming to {}", args.out.display()))?;
    let name = args.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    std::fs::write(with_suffix(&args.out, ".sha256"), format!("{digest}  {name}\n"))
        .context("writing the .sha256 file")?;
    let c = &trailer.counts;
    println!(
        "backup {} ({how}): {} records at change-log seq {} (copy started at {}), {} prefixes, {} enterprises, {} accounts, {} templates, {} aliases, {} key files; {} changes during the copy; sha256 {digest}",
        args.out.display(),
        trailer.records,
        trailer.snapshot_seq,
        header.start_seq,
        c.prefix_entries,
        c.enterprise_entries,
        c.identity_entries,
        c.template_entries,
        c.alias_entries,
        c.files,
        c.repair_entries,
    );
    Ok(())
}

/// Writes the archive to `path` (0600) from the daemon or the store;
/// returns which.
fn write_to(path: &Path, args: &BackupArgs, cfg: &Config) -> Result<&'static str> {
    let file = create_private(path)?;
    let mut out = std::io::BufWriter::with_capacity(256 << 10, file);
    let bar = crate::offline::progress_bar(None);
    let local = match cfg.store.backend {
        StoreBackend::Postgres => None,
        StoreBackend::Sled if args.online => None,
        StoreBackend::Sled => match crate::cli::open_store(cfg) {
            Ok(s) => Some(s),
            Err(e) if crate::cli_admin::is_locked(&e) => None,
            Err(e) => return Err(e),
        },
    };
    let how = match local {
        Some(store) => {
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos} records") {
                bar.set_style(style);
            }
            archive::write_archive(&*store, cfg, args.with_secrets, &mut out, &mut |n| bar.set_position(n))?;
            "offline, from the store"
        }
        None => {
            let client = crate::admin_client::AdminClient::for_daemon(cfg)
                .context("the daemon holds the store; reaching its admin API")?;
            let path = format!("{}/backup?secrets={}", crate::api::admin::BASE, args.with_secrets);
            let mut answer = client.open("GET", &path, "application/json", &[])?.ok()?;
            let mut buf = vec![0u8; 256 << 10];
            loop {
                let n = answer.read(&mut buf).context("receiving the archive from the daemon")?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
                bar.inc(n as u64);
            }
            "online, through the admin API"
        }
    };
    bar.finish_and_clear();
    let f = out.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    Ok(how)
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn create_private(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

fn file_sha256(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// `idnode restore FILE`.
pub fn run_restore(args: RestoreArgs, cfg: &Config) -> Result<()> {
    let dir = cfg.data_dir().to_path_buf();
    let existed = dir.exists();
    if existed {
        let mut entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(UsageError(format!(
                "{} is not empty: restore only into an empty (or new) data directory",
                dir.display()
            )));
        }
    }
    let (header, trailer) = archive::verify_file(&args.file)?;
    eprintln!(
        "idnode: archive verified: {} records at change-log seq {} of node {} ({}, {})",
        trailer.records,
        trailer.snapshot_seq,
        header.node_id,
        header.software,
        if header.with_secrets { "with secrets" } else { "without secrets" }
    );
    let r = restore_into(&args.file, cfg, &header);
    if r.is_err() {
        // Leave the directory as it was: empty, or absent.
        if existed {
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let p = e.path();
                    let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let files = r?;
    println!(
        "restored {} records ({} entries, change-log seq {} of the source) into {}; key files: {}",
        trailer.records,
        trailer.counts.entries,
        trailer.snapshot_seq,
        dir.display(),
        if files.is_empty() { "none".to_owned() } else { files.join(", ") }
    );
    if !header.with_secrets {
        println!(
            "the archive holds no keys: put the server key ({}) and the admin secret ({}) in place before `idnode serve`",
            cfg.server_key_path().display(),
            cfg.admin_secret_path().display()
        );
    }
    Ok(())
}

fn restore_into(file: &Path, cfg: &Config, header: &backup::Header) -> Result<Vec<String>> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = cfg.data_dir();
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let path = crate::cli::store_path(dir);
    let store: Arc<dyn Store> = Arc::new(
        SledStore::open(
            SledOptions::new(&path)
                .cache_capacity(cfg.store_cache_bytes())
                .node_id(header.node_id.clone())
                .now(crate::unix_now()),
        )
        .with_context(|| format!("creating the store in {}", path.display()))?,
    );
    let targets = archive::secret_files(cfg);
    let mut written = Vec::new();
    let bar = crate::offline::progress_bar(None);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos} entries") {
        bar.set_style(style);
    }
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut r = archive::open_archive(f);
    let ctx = WriteCtx::new(crate::unix_now(), "restore");
    let res = backup::restore(
        &*store,
        &mut r,
        &ctx,
        &mut |name, content| {
            let Some((_, to)) = targets.iter().find(|(n, _)| *n == name) else {
                return Err(backup::BackupError::Invalid(format!("unexpected file {name:?} in the archive")));
            };
            write_private(to, content).map_err(backup::BackupError::Io)?;
            written.push(name.to_owned());
            Ok(())
        },
        &mut |n| bar.set_position(n),
    );
    bar.finish_and_clear();
    res.context("loading the archive")?;
    store.flush()?;
    Ok(written)
}

fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(content)?;
    f.sync_all()
}
