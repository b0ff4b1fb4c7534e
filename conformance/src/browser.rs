//! A headless Chromium for the page tests (issue 12): Debian's `chromium`
//! run as a subprocess, one fresh empty profile per call, phone-size window,
//! never any address but the loopback page it is given. It returns the DOM
//! after the page has loaded (and after any script would have run: a test
//! can tell that a stored `<script>` did not) and writes a screenshot under
//! `target/screenshots/` for a person to look at.
//!
//! Flags: `--no-sandbox` because tests run as root; `--disable-quic`,
//! `--disable-background-networking`, `--disable-component-update`,
//! `--disable-sync`, `--no-first-run` so the browser makes no connection of
//! its own.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Phone-size viewport (CSS pixels).
pub const PHONE: (u32, u32) = (390, 844);

/// The Chromium binary (`IDNODE_CHROMIUM` overrides; else `chromium`).
pub fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("IDNODE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Where screenshots go: `<workspace>/target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let d = crate::crate_dir().join("../target/screenshots");
    let _ = std::fs::create_dir_all(&d);
    d
}

/// What the browser saw.
#[derive(Debug)]
pub struct Visit {
    /// The serialised DOM after load.
    pub dom: String,
    /// The screenshot written (PNG).
    pub screenshot: PathBuf,
}

fn base_command(profile: &std::path::Path) -> Result<Command> {
    let bin = chromium().context("chromium not installed (scripts/test installs Debian's chromium)")?;
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--hide-scrollbars",
        "--mute-audio",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--window-size={},{}", PHONE.0, PHONE.1))
    .env("HOME", profile);
    Ok(c)
}

fn run(mut c: Command, what: &str) -> Result<String> {
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("starting chromium ({what})"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("chromium did not finish {what} within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("chromium {what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Loads `url` (loopback only) at phone size: the DOM after load and a
/// screenshot `target/screenshots/<name>.png`.
pub fn visit(url: &str, name: &str) -> Result<Visit> {
    let host_ok = url.starts_with("http://127.") || url.starts_with("http://[::1]") || url.starts_with("https://127.");
    if !host_ok {
        bail!("browser tests only visit loopback addresses, not {url}");
    }
    let profile = tempfile::tempdir()?;
    let mut c = base_command(profile.path())?;
    c.args(["--virtual-time-budget=2000", "--dump-dom", url]);
    let dom = run(c, "dumping the DOM")?;
    let profile2 = tempfile::tempdir()?;
    let shot = screenshot_dir().join(format!("{name}.png"));
    let mut c = base_command(profile2.path())?;
    c.arg(format!("--screenshot={}", shot.display())).arg(url);
    run(c, "taking a screenshot")?;
    if !shot.exists() {
        bail!("chromium wrote no screenshot at {}", shot.display());
    }
    Ok(Visit { dom, screenshot: shot })
}
