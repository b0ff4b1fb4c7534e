//! Black-box conformance harness: runs the built `idnode` binary as a child
//! process on loopback ports chosen by the kernel, and talks to it only over
//! real sockets. Nothing here links the daemon's code; the codec is used
//! only to build requests and read answers where a test is not comparing
//! captured bytes.
//!
//! The binary is `target/<profile>/idnode` (built by the test command before
//! the tests run) or `$IDNODE_BIN`.

pub mod browser;
pub mod http1;
pub mod web;
pub mod webdriver;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Path of the `idnode` binary under test.
pub fn idnode_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("IDNODE_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let bin = target.join(profile).join("idnode");
    assert!(
        bin.exists(),
        "{} does not exist: build it first (`cargo build --bin idnode`, which scripts/test does)",
        bin.display()
    );
    bin
}

/// Runs `idnode --config <cfg> <args>` (`RUST_LOG=warn`, no stdin) and
/// returns its output, whatever the exit code.
pub fn cli(cfg: &Path, args: &[&str]) -> Output {
    Command::new(idnode_bin())
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("running idnode")
}

/// [`cli`] for a command that must exit 0: its standard output (the
/// failure message shows both streams).
pub fn cli_ok(cfg: &Path, args: &[&str]) -> String {
    let o = cli(cfg, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "idnode {args:?}\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// Directory of this crate's fixtures and vectors.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `idnode <args>` with `--config <cfg>` to completion; fails on a
/// non-zero exit with its output.
pub fn idnode(cfg: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(idnode_bin())
        .arg("--config")
        .arg(cfg)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running idnode")?;
    if !out.status.success() {
        bail!(
            "idnode {args:?} exited {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A running node on loopback; killed when dropped.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    child: Child,
    pub handle_udp: SocketAddr,
    pub handle_tcp: SocketAddr,
    pub http: SocketAddr,
    /// The admin door (admin API, `/metrics`), loopback.
    pub admin: SocketAddr,
    /// The whole "idnode: listening ..." line (every door's address).
    pub listening: String,
    stderr: mpsc::Receiver<String>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("udp", &self.handle_udp).field("tcp", &self.handle_tcp).finish()
    }
}

/// What to put in a node's data directory before it starts.
#[derive(Debug, Default, Clone)]
pub struct Setup {
    /// `[node] node_prefix`.
    pub node_prefix: String,
    /// Extra keys for the `[node]` table.
    pub node_toml: String,
    /// Extra TOML appended to the generated config.
    pub extra_toml: String,
    /// Extra keys for the `[handle]` table.
    pub handle_toml: String,
    /// Import with `--overwrite` (replace records `init` made).
    pub overwrite_imports: bool,
    /// JSON-lines files imported with `idnode id import` before serving.
    pub imports: Vec<PathBuf>,
    /// Run `idnode init` first (otherwise `serve` initialises with demo data).
    pub init: bool,
    /// Copy this data directory (server key, admin secret, ...) into the
    /// node's before it starts: a second node sharing a database.
    pub copy_data_from: Option<PathBuf>,
}

impl Node {
    /// Writes a config (every port 0, loopback only), prepares the store and
    /// starts `idnode serve`, waiting for its "listening" line.
    pub fn start(setup: &Setup) -> Result<Node> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let config = dir.path().join("idnode.toml");
        let prefix = if setup.node_prefix.is_empty() { "88.118.8" } else { &setup.node_prefix };
        let toml = format!(
            "[node]\nnode_prefix = \"{prefix}\"\ndata_dir = \"{}\"\n{}\n\n[handle]\nudp_listen = \"127.0.0.1:0\"\ntcp_listen = \"127.0.0.1:0\"\nudp_sockets = 2\n{}\n\n[http]\nlisten = \"127.0.0.1:0\"\n{}\n",
            data.display(),
            setup.node_toml,
            setup.handle_toml,
            setup.extra_toml
        );
        std::fs::write(&config, toml)?;
        if let Some(src) = &setup.copy_data_from {
            let st = Command::new("cp").arg("-a").arg(src).arg(&data).status()?;
            if !st.success() {
                bail!("copying {} failed", src.display());
            }
        }
        if setup.init {
            idnode(&config, &["init"])?;
        }
        for f in &setup.imports {
            let f = f.to_str().context("utf-8 path")?;
            if setup.overwrite_imports {
                idnode(&config, &["id", "import", "--overwrite", f])?;
            } else {
                idnode(&config, &["id", "import", f])?;
            }
        }
        let s = spawn_serve(&config)?;
        Ok(Node {
            handle_udp: s.handle_udp,
            handle_tcp: s.handle_tcp,
            http: s.http,
            admin: s.admin,
            listening: s.listening,
            dir,
            config,
            child: s.child,
            stderr: s.stderr,
        })
    }

    /// The daemon's process id (for /proc figures such as VmRSS).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILLs the node (no drain, no flush: a crash) and waits for it.
    pub fn kill(&mut self) -> Result<()> {
        let _ = self.child.kill();
        self.child.wait()?;
        Ok(())
    }

    /// Starts `idnode serve` again on the same configuration and data
    /// directory (after [`kill`](Self::kill) or an exit); the addresses
    /// are the new ones.
    pub fn restart(&mut self) -> Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let s = spawn_serve(&self.config)?;
        self.child = s.child;
        self.handle_udp = s.handle_udp;
        self.handle_tcp = s.handle_tcp;
        self.http = s.http;
        self.admin = s.admin;
        self.listening = s.listening;
        self.stderr = s.stderr;
        Ok(())
    }

    /// The address a door announced (e.g. "handle-quic"), if it runs.
    pub fn door(&self, name: &str) -> Option<SocketAddr> {
        self.listening.split_whitespace().find_map(|t| t.strip_prefix(&format!("{name}=")))?.parse().ok()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Lines the node wrote to stderr so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }

    /// SIGTERM and wait (bounded); returns the exit status code.
    pub fn terminate(mut self) -> Result<Option<i32>> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.try_wait()? {
                return Ok(st.code());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("node did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What [`spawn_serve`] returns: the child and its announced addresses.
struct Spawned {
    child: Child,
    handle_udp: SocketAddr,
    handle_tcp: SocketAddr,
    http: SocketAddr,
    admin: SocketAddr,
    stderr: mpsc::Receiver<String>,
    listening: String,
}

/// Starts `idnode --config <config> serve` (admin door on a free loopback
/// port) and waits for its "listening" line.
fn spawn_serve(config: &Path) -> Result<Spawned> {
    let mut child = Command::new(idnode_bin())
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .env("IDNODE_ADMIN__LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting idnode serve")?;
    let stdout = child.stdout.take().context("stdout")?;
    let stderr = child.stderr.take().context("stderr")?;
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("idnode: listening ") {
                let _ = line_tx.send(line);
            }
        }
    });
    let (err_tx, err_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    let line = match line_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            let errs: Vec<String> = err_rx.try_iter().collect();
            bail!("idnode serve did not report its addresses; stderr:\n{}", errs.join("\n"));
        }
    };
    let addr = |name: &str| -> Result<SocketAddr> {
        let tok = line
            .split_whitespace()
            .find_map(|t| t.strip_prefix(&format!("{name}=")))
            .with_context(|| format!("no {name}= in {line:?}"))?;
        Ok(tok.parse()?)
    };
    Ok(Spawned {
        handle_udp: addr("handle-udp")?,
        handle_tcp: addr("handle-tcp")?,
        http: addr("http")?,
        admin: addr("admin")?,
        child,
        stderr: err_rx,
        listening: line.clone(),
    })
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one UDP request (already split into datagrams) and collects the
/// answer's datagrams until `messageLength` bytes arrived, or `None` on
/// timeout.
pub fn udp_exchange(server: SocketAddr, datagrams: &[Vec<u8>], timeout: Duration) -> Result<Option<Vec<Vec<u8>>>> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.connect(server)?;
    for d in datagrams {
        sock.send(d)?;
    }
    let deadline = Instant::now() + timeout;
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { return Ok(None) };
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(_) => return Ok(None),
        };
        got.push(buf[..n].to_vec());
        let total = u32::from_be_bytes([got[0][16], got[0][17], got[0][18], got[0][19]]) as usize;
        let have: usize = got.iter().map(|d| d.len().saturating_sub(20)).sum();
        if have >= total {
            got.sort_by_key(|d| u32::from_be_bytes([d[12], d[13], d[14], d[15]]));
            return Ok(Some(got));
        }
    }
}

/// Writes `request` on a new TCP connection, optionally half-closes, and
/// reads one complete answer (envelope + messageLength bytes).
pub fn tcp_exchange(server: SocketAddr, request: &[u8], half_close: bool) -> Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    s.write_all(request)?;
    if half_close {
        s.shutdown(Shutdown::Write)?;
    }
    read_message(&mut s)
}

/// Reads one envelope + message from a stream.
pub fn read_message(s: &mut TcpStream) -> Result<Vec<u8>> {
    let mut env = [0u8; 20];
    s.read_exact(&mut env).context("reading the answer envelope")?;
    let len = u32::from_be_bytes([env[16], env[17], env[18], env[19]]) as usize;
    let mut out = vec![0u8; 20 + len];
    out[..20].copy_from_slice(&env);
    s.read_exact(&mut out[20..]).context("reading the answer body")?;
    Ok(out)
}

/// One captured request/answer pair of `vectors/cnri-9.2.0.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Vector {
    pub name: String,
    pub description: String,
    pub transport: String,
    pub request: Vec<String>,
    pub response: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct VectorFile {
    vectors: Vec<Vector>,
}

/// The captured vectors.
pub fn vectors() -> Vec<Vector> {
    let path = crate_dir().join("vectors/cnri-9.2.0.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str::<VectorFile>(&text).expect("vector file").vectors
}

/// Compares an answer with the capture, ignoring what the vectors README
/// says to ignore: the header's expirationTime (first datagram), the
/// envelope session id and a 402 body's nonce when `challenge`.
pub fn assert_same_answer(name: &str, got: &[u8], want: &[u8], first: bool, challenge: bool) {
    let mut g = got.to_vec();
    let mut w = want.to_vec();
    assert_eq!(
        g.len(),
        w.len(),
        "{name}: answer length {} != captured {}\n got  {}\n want {}",
        g.len(),
        w.len(),
        hex::encode(&g),
        hex::encode(&w)
    );
    if first && g.len() >= 40 {
        g[36..40].fill(0);
        w[36..40].fill(0);
    }
    if challenge {
        g[4..8].fill(0);
        w[4..8].fill(0);
        // nonce: the 16 bytes before the 4-byte credential length
        let n = g.len();
        g[n - 20..n - 4].fill(0);
        w[n - 20..n - 4].fill(0);
    }
    assert_eq!(hex::encode(&g), hex::encode(&w), "{name}: answer differs from the capture");
}

/// Builds a resolution request (TCP form) with the codec.
pub fn resolution_request(
    request_id: i32,
    handle: &str,
    indexes: &[u32],
    types: &[&str],
    flags: idnode_resolver::wire::OpFlags,
    version: idnode_resolver::wire::ProtocolVersion,
    suggested: idnode_resolver::wire::ProtocolVersion,
) -> Vec<u8> {
    use idnode_resolver::wire::{Body, Envelope, Header, Message, OpCode, ResolutionRequest};
    let mut envelope = Envelope::request(version, request_id);
    envelope.suggested = suggested;
    Message {
        envelope,
        header: Header::request(OpCode::RESOLUTION, flags, 0x6b00_0000),
        body: Body::Resolution(ResolutionRequest {
            handle: handle.as_bytes().to_vec(),
            indexes: indexes.to_vec(),
            types: types.iter().map(|t| t.as_bytes().to_vec()).collect(),
            auth_token: None,
        }),
        credential: None,
    }
    .encode()
}

/// A plain HTTP/1.1 GET on loopback; returns (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("status line")?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}
