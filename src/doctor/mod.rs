//! `idnode doctor`: checks an installed node the way an operator would and
//! prints one line per finding — `ok`, `warn` or `fail`, what was found and
//! a one-line fix — then a summary; exit code 1 when anything failed.
//!
//! It reads the configuration like every command (`--config`, `IDNODE_*`,
//! `--data-dir`) but runs even when the configuration is invalid (that is
//! its first finding). It never writes: file checks use `stat`, door checks
//! bind and drop a socket, network checks send one Handle resolution
//! request. Host checks (files, disk, clock, certificates) are here; the
//! network ones (doors, HS_SITE, top node) are in [`net`].

mod net;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::Config;

/// `idnode doctor`
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Milliseconds to wait for the top node (and other peers) to answer.
    #[arg(long, default_value_t = 3_000)]
    pub timeout_ms: u64,
    /// Compare this host's clock with an HTTP server's `Date` header
    /// (`host:port`, plain HTTP; e.g. the top node's HTTP door or a time
    /// server on the LAN).
    #[arg(long, value_name = "HOST:PORT")]
    pub clock_peer: Option<String>,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// One finding: the check's name, what was found, and (unless ok) a fix.
#[derive(Debug, Clone)]
pub struct Finding {
    pub level: Level,
    pub check: &'static str,
    pub message: String,
    pub fix: Option<String>,
}

/// Collects findings in check order.
#[derive(Debug, Default)]
pub struct Report(Vec<Finding>);

impl Report {
    fn push(&mut self, level: Level, check: &'static str, message: impl Into<String>, fix: Option<String>) {
        self.0.push(Finding { level, check, message: message.into(), fix });
    }
    pub fn ok(&mut self, check: &'static str, message: impl Into<String>) {
        self.push(Level::Ok, check, message, None);
    }
    pub fn warn(&mut self, check: &'static str, message: impl Into<String>, fix: impl Into<String>) {
        self.push(Level::Warn, check, message, Some(fix.into()));
    }
    pub fn fail(&mut self, check: &'static str, message: impl Into<String>, fix: impl Into<String>) {
        self.push(Level::Fail, check, message, Some(fix.into()));
    }
    fn count(&self, level: Level) -> usize {
        self.0.iter().filter(|f| f.level == level).count()
    }
    pub fn findings(&self) -> &[Finding] {
        &self.0
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<4}  {:<12} {}", self.level.label(), self.check, self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, " — fix: {fix}")?;
        }
        Ok(())
    }
}

/// Runs every check and prints the report; exit 1 on any failure.
pub fn run(cli: &crate::cli::Cli, args: &DoctorArgs) -> ExitCode {
    let mut report = Report::default();
    let cfg = match crate::cli::load_config(cli) {
        Ok((cfg, source)) => {
            let problems = cfg.validate();
            if problems.is_empty() {
                report.ok("config", format!("{source} is valid"));
            }
            for p in &problems {
                report.fail("config", format!("{source}: {p}"), "edit the file, then `idnode check-config`");
            }
            Some(cfg)
        }
        Err(e) => {
            report.fail("config", format!("{e:#}"), "fix the file; `idnode check-config` shows every problem");
            None
        }
    };
    if let Some(cfg) = &cfg {
        check_all(cfg, args, &mut report);
    }
    for f in report.findings() {
        println!("{f}");
    }
    let (ok, warn, fail) = (report.count(Level::Ok), report.count(Level::Warn), report.count(Level::Fail));
    println!("doctor: {ok} ok, {warn} warn, {fail} fail");
    if fail > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Every check after the configuration loaded.
pub fn check_all(cfg: &Config, args: &DoctorArgs, report: &mut Report) {
    let daemon = net::daemon_running(cfg);
    check_secret_modes(cfg, report);
    check_disk(cfg, report);
    check_clock(cfg, args, report);
    check_certificates(cfg, report);
    net::check_doors(cfg, daemon, report);
    net::check_site(cfg, report);
    net::check_top(cfg, std::time::Duration::from_millis(args.timeout_ms), report);
}

// ------------------------------------------------------------------ files

/// Files whose content is a secret, by the config key that names them.
fn secret_files(cfg: &Config) -> Vec<(String, PathBuf)> {
    let mut files = vec![
        ("admin.secret_file".to_owned(), cfg.admin_secret_path()),
        ("handle.server_key_file".to_owned(), cfg.server_key_path()),
    ];
    if let Some(p) = &cfg.handle.signing_key_file {
        files.push(("handle.signing_key_file".into(), cfg.resolve_path(p)));
    }
    if cfg.http.tls.enabled {
        files.push(("http.tls.key_file".into(), cfg.tls_key_path()));
    }
    if cfg.federation.quic.listen.is_some() || !cfg.federation.quic.peers.is_empty() {
        files.push(("federation.quic.key_file".into(), cfg.resolve_path(&cfg.federation.quic.key_file)));
    }
    if !cfg.federation.top.is_empty() && !cfg.federation.secret_file.as_os_str().is_empty() {
        files.push(("federation.secret_file".into(), cfg.resolve_path(&cfg.federation.secret_file)));
    }
    for (i, a) in cfg.federation.admitted.iter().enumerate() {
        if !a.secret_file.as_os_str().is_empty() {
            files.push((format!("federation.admitted[{i}].secret_file"), cfg.resolve_path(&a.secret_file)));
        }
    }
    if !cfg.mirror.primary.is_empty() {
        files.push(("mirror.secret_file".into(), cfg.resolve_path(&cfg.mirror.secret_file)));
    }
    // The sealing key of hashed SNMS logins and other keys `init` writes
    // into the data directory: every *.key / *.secret file there.
    if let Ok(dir) = std::fs::read_dir(cfg.data_dir()) {
        for e in dir.flatten() {
            let p = e.path();
            let secretish = p.extension().is_some_and(|x| x == "key" || x == "secret");
            if secretish && p.is_file() && !files.iter().any(|(_, f)| f == &p) {
                files.push(("data directory".into(), p));
            }
        }
    }
    files
}

/// Secrets readable by group or others fail; so does a data directory
/// open to others (group access is how the packaged layout works: 0750).
fn check_secret_modes(cfg: &Config, report: &mut Report) {
    use std::os::unix::fs::PermissionsExt;
    let dir = cfg.data_dir();
    match std::fs::metadata(dir) {
        Ok(m) if m.permissions().mode() & 0o007 != 0 => report.fail(
            "data-dir",
            format!("{} is open to others (mode {:04o})", dir.display(), m.permissions().mode() & 0o7777),
            format!("chmod 0750 {}", dir.display()),
        ),
        Ok(m) => report.ok("data-dir", format!("{} (mode {:04o})", dir.display(), m.permissions().mode() & 0o7777)),
        Err(e) => report.warn(
            "data-dir",
            format!("{}: {e}", dir.display()),
            "run `idnode init` (or start the service: `serve` initialises an empty directory)",
        ),
    }
    let mut checked = 0;
    for (key, path) in secret_files(cfg) {
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                report.fail("secrets", format!("{key} {}: {e}", path.display()), "check the path and its owner");
                continue;
            }
        };
        checked += 1;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            let who = if mode & 0o007 != 0 { "others" } else { "its group" };
            report.fail(
                "secrets",
                format!("{key} {} is readable by {who} (mode {mode:04o})", path.display()),
                format!("chmod 0600 {}", path.display()),
            );
        }
    }
    if !report.0.iter().any(|f| f.check == "secrets") {
        report.ok("secrets", format!("{checked} secret file(s), none readable by group or others"));
    }
}

// ------------------------------------------------------------------- disk

/// Bytes under `p` (files only, no symlinks followed).
fn tree_bytes(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else { return 0 };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    std::fs::read_dir(p).map(|d| d.flatten().map(|e| tree_bytes(&e.path())).sum()).unwrap_or(0)
}

/// Free space on the data directory's file system against the store: sled
/// rewrites segments into free space as it grows, so less free space than
/// the store holds is a warning, and under 256 MiB (or 5% of the store) a
/// failure.
fn check_disk(cfg: &Config, report: &mut Report) {
    const MIB: u64 = 1 << 20;
    let dir = cfg.data_dir();
    let probe = if dir.exists() { dir.to_owned() } else { dir.parent().map(Path::to_owned).unwrap_or_default() };
    let stat = match nix::sys::statvfs::statvfs(&probe) {
        Ok(s) => s,
        Err(e) => {
            report.warn("disk", format!("cannot stat the file system of {}: {e}", probe.display()), "check the path");
            return;
        }
    };
    // fsblkcnt_t / c_ulong are u64 on 64-bit Linux but not everywhere.
    #[allow(clippy::useless_conversion)]
    let free = u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size()));
    let store = tree_bytes(&crate::cli::store_path(dir));
    let text = format!("{} MiB free on {}, store {} MiB", free / MIB, probe.display(), store.div_ceil(MIB));
    if free < 256 * MIB || free < store / 20 {
        report.fail("disk", text, "free space on that file system or move node.data_dir to a larger one");
    } else if free < store {
        report.warn("disk", text, "less room than the store already takes: plan more space before it grows");
    } else {
        report.ok("disk", text);
    }
}

// ------------------------------------------------------------------ clock

/// Challenges (handle.challenge_lifetime_s) and tokens depend on the clock.
/// With `--clock-peer` the clock is compared with that server's `Date`;
/// otherwise doctor asks systemd whether the kernel clock is synchronised
/// (NTP, chrony, timesyncd all set the kernel's flag) and says that no peer
/// was compared.
fn check_clock(cfg: &Config, args: &DoctorArgs, report: &mut Report) {
    if let Some(peer) = &args.clock_peer {
        let timeout = std::time::Duration::from_millis(args.timeout_ms);
        match net::peer_date(peer, timeout) {
            Ok(theirs) => {
                let skew = crate::unix_now() as i64 - theirs;
                let fail_at = (cfg.handle.challenge_lifetime_s / 2).max(2) as i64;
                let text = format!("{skew:+} s against {peer} (HTTP Date)");
                if skew.abs() >= fail_at {
                    report.fail(
                        "clock",
                        format!("off by {text}: challenges live {} s", cfg.handle.challenge_lifetime_s),
                        "synchronise the clock (`timedatectl set-ntp true`, or chrony)",
                    );
                } else if skew.abs() > 2 {
                    report.warn("clock", format!("off by {text}"), "enable NTP or chrony on this host");
                } else {
                    report.ok("clock", format!("within {text}"));
                }
            }
            Err(e) => report.warn(
                "clock",
                format!("clock peer {peer}: {e:#}"),
                "check --clock-peer (host:port of an HTTP server)",
            ),
        }
        return;
    }
    let out =
        std::process::Command::new("timedatectl").args(["show", "--property=NTPSynchronized", "--value"]).output();
    match out {
        Ok(o) if o.status.success() => match String::from_utf8_lossy(&o.stdout).trim() {
            "yes" => report.ok("clock", "synchronised (timedatectl: NTPSynchronized=yes; no peer compared)"),
            other => report.warn(
                "clock",
                format!("not synchronised (timedatectl: NTPSynchronized={other})"),
                "enable time sync (`timedatectl set-ntp true`, or chrony): challenges and tokens need a right clock",
            ),
        },
        _ => report.warn(
            "clock",
            "cannot tell whether the clock is synchronised (no timedatectl answer; no peer compared)",
            "make sure NTP or chrony keeps this host's clock right, or compare with --clock-peer host:port",
        ),
    }
}

// ----------------------------------------------------------- certificates

/// Certificates of the doors: expired or expiring within 30 days fails
/// (a generated self-signed one is renewed by the daemon: a warning).
fn check_certificates(cfg: &Config, report: &mut Report) {
    let mut certs: Vec<(&str, PathBuf, bool)> = Vec::new();
    if cfg.http.tls.enabled {
        certs.push(("http.tls.cert_file", cfg.tls_cert_path(), cfg.http.tls.self_signed));
    }
    if cfg.federation.quic.listen.is_some() || !cfg.federation.quic.peers.is_empty() {
        certs.push(("federation.quic.cert_file", cfg.resolve_path(&cfg.federation.quic.cert_file), true));
    }
    if certs.is_empty() {
        report.ok("certificates", "no TLS door configured");
        return;
    }
    let now = crate::unix_now() as i64;
    for (key, path, renewed) in certs {
        if !path.exists() {
            if renewed {
                report.ok("certificates", format!("{key} {} not there yet: generated at start", path.display()));
            } else {
                report.fail(
                    "certificates",
                    format!("{key} {} does not exist", path.display()),
                    "install the certificate, or set http.tls.self_signed = true",
                );
            }
            continue;
        }
        match crate::serve::tls::cert_facts(&path) {
            Err(e) => report.fail("certificates", format!("{key}: {e:#}"), "replace it with a PEM certificate"),
            Ok(f) => {
                let days = (f.not_after - now).div_euclid(86_400);
                let what = format!("{key} {} expires in {days} day(s)", path.display());
                if f.not_after <= now {
                    let what = format!("{key} {} expired {} day(s) ago", path.display(), -days);
                    report.fail("certificates", what, "renew the certificate now and restart idnode");
                } else if days < 30 && f.generated && renewed {
                    report.warn(
                        "certificates",
                        what,
                        "the daemon renews its generated certificate; restart to renew now",
                    );
                } else if days < 30 {
                    report.fail(
                        "certificates",
                        what,
                        "renew the certificate (less than 30 days left) and restart idnode",
                    );
                } else {
                    report.ok("certificates", what);
                }
            }
        }
    }
}
