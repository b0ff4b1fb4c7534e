//! A throwaway PostgreSQL server for tests: `initdb` into a temporary
//! directory, `postgres` listening only on a Unix socket in that directory
//! (no TCP port at all), password authentication (scram-sha-256), stopped
//! and removed when the test process exits — even when it is killed: the
//! server runs under a small shell that waits on a pipe from this process
//! and, when the pipe closes, shuts the server down and removes the
//! directory ([`PgServer::stop_server`] writes a line instead: stop only,
//! for restart tests).
//!
//! Binaries: `$IDNODE_TEST_PG_BIN` (set by scripts/test), else the newest
//! `/usr/lib/postgresql/*/bin`. As root (CI), the server runs as the
//! `postgres` user through `runuser`, since initdb refuses root.
//!
//! Shared by registry/tests and conformance/tests (included by path).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The test server's superuser and its password.
pub const PG_USER: &str = "idnode";
pub const PG_PASSWORD: &str = "test-password-Zq7";

/// A running test server.
#[derive(Debug)]
pub struct PgServer {
    pub dir: PathBuf,
    pub socket_dir: PathBuf,
    bin: PathBuf,
    /// Extra server options (TLS on a loopback TCP port).
    extra: String,
    /// With TLS: the loopback port and the CA certificate (PEM).
    pub tls: Option<(u16, Vec<u8>)>,
    /// The supervising shell; its stdin is the lifeline.
    guard: Mutex<Option<Child>>,
}

fn pg_bin() -> Option<PathBuf> {
    if let Ok(b) = std::env::var("IDNODE_TEST_PG_BIN") {
        return Some(PathBuf::from(b));
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    dirs.pop()
}

fn is_root() -> bool {
    // SAFETY-free: read our uid from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// A command run as the server's user.
fn as_pg_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl PgServer {
    /// Starts a fresh server. Panics with a clear message when PostgreSQL
    /// is not installed.
    pub fn start() -> PgServer {
        Self::start_with(false)
    }

    /// Like [`start`](Self::start), also listening on a free loopback TCP
    /// port with TLS (a test CA and a server certificate for 127.0.0.1,
    /// made with the `openssl` command).
    pub fn start_tls() -> PgServer {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> PgServer {
        let bin = pg_bin().expect(
            "PostgreSQL server binaries not found: install Debian `postgresql` or set IDNODE_TEST_PG_BIN (scripts/test does)",
        );
        let base = std::env::temp_dir().join(format!("idnode-pg-{}-{}", std::process::id(), next_id()));
        std::fs::create_dir_all(&base).unwrap();
        let dir = base.join("data");
        let socket_dir = base.clone();
        let pwfile = base.join("pw");
        std::fs::write(&pwfile, PG_PASSWORD).unwrap();
        if is_root() {
            let st = Command::new("chown").arg("-R").arg("postgres").arg(&base).status().unwrap();
            assert!(st.success(), "chown of the test cluster directory");
        }
        let out = as_pg_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&dir)
            .arg("-U")
            .arg(PG_USER)
            .arg("--pwfile")
            .arg(&pwfile)
            .arg("--auth=scram-sha-256")
            .arg("-E")
            .arg("UTF8")
            .arg("--no-sync")
            .output()
            .expect("run initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let (extra, tls) = if tls {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let ca = make_certs(&base);
            let extra = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={b}/server.crt -c ssl_key_file={b}/server.key",
                b = base.display()
            );
            (extra, Some((port, ca)))
        } else {
            ("-c listen_addresses=".to_owned(), None)
        };
        if is_root() {
            let st = Command::new("chown").arg("-R").arg("postgres").arg(&base).status().unwrap();
            assert!(st.success(), "chown of the test cluster directory");
        }
        let s = PgServer { dir, socket_dir, bin, extra, tls, guard: Mutex::new(None) };
        s.start_server();
        s
    }

    /// Starts the server process (again, after [`stop_server`]).
    pub fn start_server(&self) {
        // The shell starts postgres, then blocks reading stdin; EOF (this
        // process exited or called stop) makes it stop the server fast.
        let script = format!(
            "{pg} -D {data} -k {sock} {extra} -c fsync=off -c max_connections=200 \
             -c shared_buffers=32MB >{log} 2>&1 & p=$!; echo started; \
             if read _x; then kill -INT $p; wait $p; else kill -INT $p; wait $p; rm -rf {base}; fi",
            pg = self.bin.join("postgres").display(),
            data = self.dir.display(),
            sock = self.socket_dir.display(),
            log = self.dir.with_file_name("server.log").display(),
            base = self.socket_dir.display(),
            extra = self.extra,
        );
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "sh", "-c", &script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        };
        let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        *self.guard.lock().unwrap() = Some(child);
        // Ready when the socket accepts: pg_isready.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new(self.bin.join("pg_isready"))
                .arg("-h")
                .arg(&self.socket_dir)
                .arg("-p")
                .arg(self.port().to_string())
                .arg("-U")
                .arg(PG_USER)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "test PostgreSQL did not start; see {}", self.dir.display());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (fast shutdown) and waits for it.
    pub fn stop_server(&self) {
        if let Some(mut c) = self.guard.lock().unwrap().take() {
            if let Some(mut i) = c.stdin.take() {
                let _ = i.write_all(b"\n");
            }
            let _ = c.wait();
        }
    }

    /// A connection string (key=value form) for database `db`, without the
    /// password.
    pub fn conninfo(&self, db: &str) -> String {
        format!("host={} port={} user={PG_USER} dbname={db}", self.socket_dir.display(), self.port())
    }

    /// The server's port (it names the Unix socket too): 5432 unless TLS
    /// picked a free loopback port.
    fn port(&self) -> u16 {
        self.tls.as_ref().map_or(5432, |t| t.0)
    }

    /// The TLS (loopback TCP) connection string for `db` ([`start_tls`](Self::start_tls)).
    pub fn tls_conninfo(&self, db: &str) -> String {
        let (port, _) = self.tls.as_ref().expect("started with TLS");
        format!("host=127.0.0.1 port={port} user={PG_USER} dbname={db} sslmode=require")
    }

    /// Creates a fresh database and returns its name.
    pub fn create_db(&self, name_hint: &str) -> String {
        let db = format!("{}_{}", name_hint.replace(|c: char| !c.is_ascii_alphanumeric(), "_"), next_id());
        let out = Command::new(self.bin.join("createdb"))
            .arg("-h")
            .arg(&self.socket_dir)
            .arg("-p")
            .arg(self.port().to_string())
            .arg("-U")
            .arg(PG_USER)
            .arg(&db)
            .env("PGPASSWORD", PG_PASSWORD)
            .output()
            .unwrap();
        assert!(out.status.success(), "createdb {db}: {}", String::from_utf8_lossy(&out.stderr));
        db
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop_server();
        if let Some(base) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`;
/// returns the CA certificate (PEM).
fn make_certs(dir: &Path) -> Vec<u8> {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=idnode test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    ]);
    std::fs::set_permissions(dir.join("server.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::read(dir.join("ca.crt")).unwrap()
}

fn next_id() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// One server per test process, started on first use. It is stopped when
/// the process exits (the lifeline pipe closes); its directory stays in
/// the temp dir until then.
pub fn shared() -> &'static PgServer {
    static S: OnceLock<PgServer> = OnceLock::new();
    S.get_or_init(PgServer::start)
}
