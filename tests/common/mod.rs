//! Helpers for black-box tests of the `idnode` binary: a hermetic command
//! builder, a daemon started on loopback port 0 and stopped with SIGTERM,
//! and a minimal HTTP/1.1 GET. Only loopback addresses are used.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_idnode"))
}

/// Root of the `idnode` package (where deploy/ lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `idnode` with no inherited `IDNODE_*` or `RUST_LOG` variables, run from
/// a neutral directory so nothing lands in the work tree.
pub fn idnode() -> Command {
    let mut cmd = Command::new(bin_path());
    for (k, _) in std::env::vars() {
        if k.starts_with("IDNODE_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(std::env::temp_dir());
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `cmd` and returns its output (panics if it cannot start).
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run idnode")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Environment that puts every door on loopback port 0.
pub fn port_zero_env(cmd: &mut Command) -> &mut Command {
    cmd.env("IDNODE_HTTP__LISTEN", "127.0.0.1:0")
        .env("IDNODE_HANDLE__UDP_LISTEN", "127.0.0.1:0")
        .env("IDNODE_HANDLE__TCP_LISTEN", "127.0.0.1:0")
        .env("IDNODE_HANDLE__UDP_SOCKETS", "1")
        .env("IDNODE_DNS__LISTEN", "127.0.0.1:0")
        .env("IDNODE_ADMIN__LISTEN", "127.0.0.1:0")
}

/// A running `idnode serve`.
pub struct Daemon {
    child: Option<Child>,
    /// Door name -> bound address, from the "idnode: listening" line.
    pub doors: HashMap<String, SocketAddr>,
    /// Everything printed on stdout up to and including that line.
    pub stdout_head: String,
}

impl Daemon {
    /// Starts `idnode serve --data-dir DIR` on port 0 and waits (60 s at
    /// most: the first run generates a key and the demo store) for the
    /// listening line.
    pub fn start(data_dir: &Path) -> Daemon {
        let mut cmd = idnode();
        port_zero_env(&mut cmd).arg("serve").arg("--data-dir").arg(data_dir);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn idnode serve");
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        // Drain stderr so the daemon never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = BufReader::new(err).read_to_end(&mut sink);
            if std::env::var_os("IDNODE_TEST_SHOW_LOGS").is_some() {
                eprintln!("{}", String::from_utf8_lossy(&sink));
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut head = String::new();
        let mut daemon = Daemon { child: Some(child), doors: HashMap::new(), stdout_head: String::new() };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    head.push_str(&line);
                    head.push('\n');
                    if let Some(rest) = line.strip_prefix("idnode: listening ") {
                        for pair in rest.split_whitespace() {
                            let (name, addr) = pair.split_once('=').expect("name=addr");
                            daemon.doors.insert(name.to_owned(), addr.parse().expect("socket address"));
                        }
                        break;
                    }
                }
                Err(_) => {
                    panic!("idnode serve did not print its listening line; stdout so far:\n{head}")
                }
            }
        }
        // Keep draining stdout in the background.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        daemon.stdout_head = head;
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM and waits (30 s at most) for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let sent = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("idnode serve did not exit within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `GET path` over HTTP/1.1 with `Connection: close`: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("status line");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}
