//! Driving Debian's headless Chromium over the W3C WebDriver protocol
//! (issue 13): `chromedriver` (package `chromium-driver`) started on a
//! loopback port, spoken to with JSON over plain HTTP/1.1 on loopback (a few lines of HTTP/1.1 here: no WebDriver crate, so no TLS stack
//! enters the tree).
//! A test logs in through the real form, clicks links, types into fields,
//! picks files, submits, reads the rendered DOM and takes screenshots
//! (`target/screenshots/`).
//!
//! The browser gets the flags of [`crate::browser`] (no connection of its
//! own), a fresh profile, and a host resolver that maps every name but
//! loopback to nowhere: a page that needs a CDN breaks visibly. Besides,
//! [`Session::external_requests`] lists every resource the page loaded or
//! references that is not on 127.0.0.0/8 or ::1, so a test fails on it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use serde_json::{Value, json};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The chromedriver binary (`IDNODE_CHROMEDRIVER` overrides).
pub fn chromedriver() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("IDNODE_CHROMEDRIVER") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Whether a browser test can run; outside CI a missing browser is a loud
/// skip (returns false), under `CI=true` it is a failure (panics).
pub fn available(test: &str) -> bool {
    if crate::browser::chromium().is_some() && chromedriver().is_some() {
        return true;
    }
    let msg = format!(
        "\n\n*** {test}: SKIPPED — chromium and chromium-driver are not installed \
         (apt-get install -y chromium chromium-driver; scripts/test installs them) ***\n"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}under CI=true the browser tests must run");
    }
    eprintln!("{msg}");
    false
}

/// A running chromedriver (killed on drop).
#[derive(Debug)]
pub struct Driver {
    child: Child,
    addr: SocketAddr,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session (deleted on drop).
#[derive(Debug)]
pub struct Session {
    driver: Driver,
    id: String,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One WebDriver command: JSON over HTTP/1.1. chromedriver answers with a
/// Content-Length but keeps the socket open, so the body is read by length.
fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let bytes = body.map(|v| v.to_string()).unwrap_or_default();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", bytes.len());
    if body.is_some() {
        head.push_str("Content-Type: application/json; charset=utf-8\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(bytes.as_bytes())?;
    let mut r = BufReader::new(s);
    let mut status_line = String::new();
    r.read_line(&mut status_line)?;
    let status: u16 = status_line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("status line")?;
    let mut len = None;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 || l.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut buf = vec![0u8; len.context("WebDriver answer without Content-Length")?];
    r.read_exact(&mut buf)?;
    let v: Value = serde_json::from_slice(&buf)
        .with_context(|| format!("{method} {path}: HTTP {status} {}", String::from_utf8_lossy(&buf)))?;
    if status != 200 {
        bail!("WebDriver {method} {path}: HTTP {status}: {}", v["value"]);
    }
    Ok(v["value"].clone())
}

impl Session {
    /// Starts chromedriver and a headless Chromium with a `w`×`h` window.
    pub fn start(w: u32, h: u32) -> Result<Session> {
        let bin = chromedriver().context("chromedriver not installed (Debian package chromium-driver)")?;
        let chromium = crate::browser::chromium().context("chromium not installed")?;
        let port = free_port()?;
        let profile = tempfile::tempdir()?;
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .env("HOME", profile.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let driver = Driver { child, addr, _profile: profile };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(v) = call(addr, "GET", "/status", None)
                && v["ready"] == true
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not become ready on {addr}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let data_dir = driver._profile.path().join("chromium");
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-default-apps".into(),
            "--disable-extensions".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            "--mute-audio".into(),
            // Closed network: no name resolves except loopback ones.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1".into(),
            format!("--user-data-dir={}", data_dir.display()),
            format!("--window-size={w},{h}"),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 10_000}
        }}});
        let v = call(addr, "POST", "/session", Some(&caps))?;
        let id = v["sessionId"].as_str().context("no sessionId")?.to_owned();
        Ok(Session { driver, id })
    }

    fn cmd(&self, method: &str, rest: &str, body: Option<Value>) -> Result<Value> {
        call(self.driver.addr, method, &format!("/session/{}{rest}", self.id), body.as_ref())
    }

    /// Loads `url` (loopback only) and waits for it to load.
    pub fn goto(&self, url: &str) -> Result<()> {
        if !(url.starts_with("http://127.") || url.starts_with("http://[::1]")) {
            bail!("browser tests only visit loopback addresses, not {url}");
        }
        self.cmd("POST", "/url", Some(json!({"url": url}))).map(|_| ())
    }

    /// The current URL.
    pub fn url(&self) -> Result<String> {
        Ok(self.cmd("GET", "/url", None)?.as_str().unwrap_or("").to_owned())
    }

    /// The value of the cookie `name` of the current page's site (HttpOnly
    /// ones too), e.g. to fetch a download link with the browser's session.
    pub fn cookie(&self, name: &str) -> Result<Option<String>> {
        let all = self.cmd("GET", "/cookie", None)?;
        Ok(all
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == name))
            .and_then(|c| c["value"].as_str())
            .map(str::to_owned))
    }

    /// The serialised DOM.
    pub fn source(&self) -> Result<String> {
        Ok(self.cmd("GET", "/source", None)?.as_str().unwrap_or("").to_owned())
    }

    /// The first element matching the CSS selector.
    pub fn find(&self, css: &str) -> Result<Element<'_>> {
        let v = self
            .cmd("POST", "/element", Some(json!({"using": "css selector", "value": css})))
            .with_context(|| format!("finding {css}"))?;
        let id = v[ELEMENT].as_str().with_context(|| format!("no element {css}: {v}"))?.to_owned();
        Ok(Element { s: self, id })
    }

    /// Every element matching the CSS selector.
    pub fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>> {
        let v = self.cmd("POST", "/elements", Some(json!({"using": "css selector", "value": css})))?;
        Ok(v.as_array()
            .map(|a| {
                a.iter().filter_map(|e| e[ELEMENT].as_str()).map(|id| Element { s: self, id: id.to_owned() }).collect()
            })
            .unwrap_or_default())
    }

    /// Waits (bounded) until `css` matches; returns the element.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element<'_>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.find_all(css)?.into_iter().next() {
                return Ok(e);
            }
            if Instant::now() > deadline {
                bail!("{css} did not appear within {timeout:?} on {}", self.url()?);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits (bounded) until the text of `css` contains `needle`; returns it.
    pub fn wait_text(&self, css: &str, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            for e in self.find_all(css)? {
                if let Ok(t) = e.text()
                    && t.contains(needle)
                {
                    return Ok(t);
                }
            }
            if Instant::now() > deadline {
                bail!("no {css} with text {needle:?} within {timeout:?} on {}", self.url()?);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs a script in the page (the CSP limits page scripts, not this).
    pub fn eval(&self, script: &str) -> Result<Value> {
        self.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    /// URLs the page loaded or references that are not loopback: the
    /// document, every resource timing entry, and every `src` / `href` of
    /// scripts, styles, images, frames, forms.
    pub fn external_requests(&self) -> Result<Vec<String>> {
        let v = self.eval(
            "const u = [location.href];\
             for (const e of performance.getEntriesByType('resource')) u.push(e.name);\
             for (const e of document.querySelectorAll('script[src],link[href],img[src],iframe[src],source[src],video[src],audio[src],object[data],embed[src]')) \
               u.push(e.src || e.href || e.data);\
             for (const f of document.forms) u.push(f.action);\
             for (const s of document.styleSheets) { try { for (const r of s.cssRules) { \
               const m = r.cssText.match(/url\\(([^)]*)\\)/g); if (m) u.push(...m); } } catch (e) { u.push('unreadable stylesheet ' + s.href); } }\
             return u;",
        )?;
        let all: Vec<String> =
            v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default();
        Ok(all.into_iter().filter(|u| !is_local(u)).collect())
    }

    /// Fails if the page touched or references anything off loopback.
    pub fn assert_closed_network(&self, what: &str) -> Result<()> {
        let ext = self.external_requests()?;
        if !ext.is_empty() {
            bail!("{what}: the page requests non-loopback URLs (it must work on a closed network): {ext:?}");
        }
        Ok(())
    }

    /// Writes a PNG screenshot of the whole page (the window grown to the
    /// page's height, at most 4,000 pixels, then restored)
    /// `target/screenshots/<name>.png`.
    pub fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let rect = self.cmd("GET", "/window/rect", None)?;
        let (w, h) = (rect["width"].as_u64().unwrap_or(1280), rect["height"].as_u64().unwrap_or(900));
        let page_h = self.eval("return document.documentElement.scrollHeight")?.as_u64().unwrap_or(h);
        let tall = page_h.clamp(h, 4000);
        if tall > h {
            // The window's outer height includes no browser UI in headless mode.
            self.resize(w as u32, tall as u32)?;
        }
        let v = self.cmd("GET", "/screenshot", None);
        if tall > h {
            self.resize(w as u32, h as u32)?;
        }
        let v = v?;
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().context("screenshot data")?)?;
        if !png.starts_with(b"\x89PNG") {
            bail!("screenshot is not a PNG");
        }
        let path = crate::browser::screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Sets the window size.
    pub fn resize(&self, w: u32, h: u32) -> Result<()> {
        self.cmd("POST", "/window/rect", Some(json!({"width": w, "height": h}))).map(|_| ())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = call(self.driver.addr, "DELETE", &format!("/session/{}", self.id), None);
    }
}

/// Whether `u` is a loopback (or in-page) URL.
fn is_local(u: &str) -> bool {
    let u = u.trim().trim_start_matches("url(").trim_end_matches(')').trim_matches(['"', '\'']);
    if u.is_empty() || u.starts_with("data:") || u.starts_with('#') || u.starts_with("about:") {
        return true;
    }
    ["http://127.", "https://127.", "http://[::1]", "https://[::1]", "http://localhost", "https://localhost"]
        .iter()
        .any(|p| u.starts_with(p))
        || !u.contains("://") && !u.starts_with("//") && !u.starts_with("unreadable")
}

/// A found element.
#[derive(Debug)]
pub struct Element<'a> {
    s: &'a Session,
    id: String,
}

impl Element<'_> {
    fn cmd(&self, method: &str, rest: &str, body: Option<Value>) -> Result<Value> {
        self.s.cmd(method, &format!("/element/{}{rest}", self.id), body)
    }
    pub fn click(&self) -> Result<()> {
        self.cmd("POST", "/click", Some(json!({}))).map(|_| ())
    }
    pub fn clear(&self) -> Result<()> {
        self.cmd("POST", "/clear", Some(json!({}))).map(|_| ())
    }
    /// Types `text` (for a file input: the file's path).
    pub fn send_keys(&self, text: &str) -> Result<()> {
        self.cmd("POST", "/value", Some(json!({"text": text}))).map(|_| ())
    }
    /// Replaces the field's content with `text`.
    pub fn fill(&self, text: &str) -> Result<()> {
        self.clear()?;
        self.send_keys(text)
    }
    /// Picks a local file in an `<input type=file>`.
    pub fn pick_file(&self, path: &Path) -> Result<()> {
        self.send_keys(&path.display().to_string())
    }
    /// The rendered text.
    pub fn text(&self) -> Result<String> {
        Ok(self.cmd("GET", "/text", None)?.as_str().unwrap_or("").to_owned())
    }
    /// An attribute.
    pub fn attr(&self, name: &str) -> Result<Option<String>> {
        Ok(self.cmd("GET", &format!("/attribute/{name}"), None)?.as_str().map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::is_local;

    #[test]
    fn loopback_urls_only() {
        for u in ["http://127.0.0.1:8000/x", "http://[::1]:80/", "data:image/png;base64,AA", "/rel", "url(\"/a.svg\")"]
        {
            assert!(is_local(u), "{u}");
        }
        for u in
            ["https://cdn.example.com/x.js", "//fonts.gstatic.com/a", "url(https://x.org/f.woff)", "http://10.0.0.1/"]
        {
            assert!(!is_local(u), "{u}");
        }
    }
}
