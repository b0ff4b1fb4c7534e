//! idnode-bench: load generator for idnode's Handle doors.
//!
//! Only ever talks to loopback: the target must be a literal loopback socket
//! address (127.0.0.0/8 or ::1), never a name or a pattern. Every run is
//! bounded by a request count AND a duration and stops by itself.
//!
//! Modes:
//! * `udp`  — resolution over UDP; closed loop with a window of outstanding
//!   requests per worker, or open loop at a fixed `--rate` (latency measured
//!   from the scheduled send time, so a stall is not hidden).
//! * `tcp`  — resolution over kept-open TCP connections, one outstanding
//!   request per connection.
//! * `admin-create` — authenticated creates in a session over one kept-open
//!   TCP connection (see `admin.rs`).
//! * `idis-create` — authenticated creates over one kept-open TCP connection
//!   after an IDIS login (SM2), the id-pointer-sdk path; `idis-seed` writes
//!   the identity it logs in as.
//! * `null-server` — a do-nothing UDP answerer (same socket layout as the
//!   node) that echoes a fixed answer: the ceiling of the box.
//! * `dns-gen`, `dns-null`, `dns-load` — the DNS front's data set, ceiling
//!   and UDP / DoQ load (see `dns.rs`).

/// mimalloc, as the node uses: with glibc malloc about 6% of the DoQ load
/// generator's CPU went to malloc/free, CPU the server shares on a small
/// machine.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use hdrhistogram::Histogram;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use nix::sys::time::TimeSpec;
use rand::{Rng, SeedableRng};
use serde::Serialize;

mod admin;
mod dns;
mod http_rate;
mod idis;
mod request;
mod snms;

#[derive(Parser, Debug)]
#[command(name = "idnode-bench", version, about = "Loopback-only load generator for idnode")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Resolution load over UDP.
    Udp(Load),
    /// Resolution load over kept-open TCP connections.
    Tcp(Load),
    /// A do-nothing UDP answerer: the ceiling of this machine for the same generator.
    NullServer(NullServer),
    /// Authenticated creates over one kept-open Handle TCP connection inside a
    /// session (the reference admin tools' path).
    AdminCreate(admin::AdminArgs),
    /// Authenticated creates over one kept-open TCP connection after an IDIS (SM2) login.
    IdisCreate(idis::IdisCreateArgs),
    /// Writes the identity records `idis-create` logs in with (JSON lines for `idnode id import`).
    IdisSeed(idis::IdisSeedArgs),
    /// Durable batch registration over the SNMS HTTP API (batchCreate).
    Snms(snms::SnmsArgs),
    /// Writes the benchmark identifier set as JSON lines for `idnode id import`.
    GenIds(GenIds),
    /// An axum hello-world on the same axum/tokio as the node: the HTTP ceiling
    /// to compare the REST door with (same load tool, same machine).
    HelloServer(HelloServer),
    /// GET one path at a fixed rate and report the latency at that rate.
    HttpRate(http_rate::HttpRateArgs),
    /// Writes the DNS benchmark set: records, GS1 aliases, a zone file, query files.
    DnsGen(dns::DnsGen),
    /// A do-nothing DNS answerer on UDP (query echoed with QR set): the DNS ceiling.
    DnsNull(dns::DnsNull),
    /// DNS queries over UDP or DNS over QUIC (RFC 9250).
    DnsLoad(dns::DnsLoad),
}

#[derive(Args, Debug)]
struct HelloServer {
    /// Listen address (loopback only).
    #[arg(long, default_value = "127.0.0.1:28080")]
    listen: String,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    duration: f64,
}

fn hello_server(h: &HelloServer) -> anyhow::Result<()> {
    let addr = loopback_target(&h.listen)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("hello-server listening on {} for {}s", listener.local_addr()?, h.duration);
        let stop = tokio::time::sleep(Duration::from_secs_f64(h.duration));
        axum::serve(listener, app).with_graceful_shutdown(stop).await?;
        anyhow::Ok(())
    })
}

#[derive(Args, Debug)]
struct GenIds {
    /// Identifier prefix.
    #[arg(long, default_value = "88.118.8.1001")]
    prefix: String,
    /// How many identifiers: `<prefix>/BENCH-<n>` for n in 0..count.
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Spread the identifiers over this many prefixes `<prefix>.<k>` (k from
    /// `--first-prefix`, identifier n under k = first + n % prefixes); 0 = all
    /// under `--prefix` itself. The prefixes must exist in the store
    /// (`idnode prefix create`) before the import.
    #[arg(long, default_value_t = 0)]
    prefixes: u64,
    /// First k of `--prefixes`.
    #[arg(long, default_value_t = 1)]
    first_prefix: u64,
    /// Output file.
    #[arg(long)]
    out: std::path::PathBuf,
}

/// Three values per identifier, like the demo records (URL + two template fields).
fn gen_ids(g: &GenIds) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(&g.out)?);
    for n in 0..g.count {
        let p = match g.prefixes {
            0 => g.prefix.clone(),
            k => format!("{}.{}", g.prefix, g.first_prefix + n % k),
        };
        writeln!(
            w,
            r#"{{"handle":"{p}/BENCH-{n}","values":[{{"index":1,"type":"URL","data":"https://www.example.com/p/BENCH-{n}"}},{{"index":2000,"type":"model","data":"CP-200"}},{{"index":2001,"type":"batch","data":"LOT2026-{n:06}"}}]}}"#
        )?;
    }
    w.flush()?;
    Ok(())
}

#[derive(Args, Debug, Clone)]
struct Load {
    /// Target, a literal loopback socket address such as 127.0.0.1:2641.
    #[arg(long)]
    target: String,
    /// Worker threads (UDP) or connections (TCP).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Outstanding requests per UDP worker (closed loop).
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Stop after this many requests in all.
    #[arg(long, default_value_t = 1_000_000)]
    requests: u64,
    /// Stop after this many seconds, whatever the count.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Open loop: send at this many requests/s in all (0 = closed loop, as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Identifier prefix of the generated set: identifiers are `<prefix>/<n>` for n in 0..count.
    #[arg(long, default_value = "88.118.8.1001")]
    prefix: String,
    /// How many identifiers the store holds under `--prefix` (named `<prefix>/ID<n>`... see --pattern).
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Suffix template; `{n}` is replaced by the number.
    #[arg(long, default_value = "BENCH-{n}")]
    suffix: String,
    /// Share of requests for identifiers that exist (the rest ask for absent suffixes).
    #[arg(long, default_value_t = 0.9)]
    hit_ratio: f64,
    /// Set the PO (public only) flag, as CNRI resolvers do.
    #[arg(long, default_value_t = true)]
    public_only: bool,
    /// Set the REC flag (ask the node to recurse for identifiers it does not hold).
    #[arg(long)]
    recursive: bool,
    /// Requests in flight per TCP connection (pipelined on the kept-open connection).
    #[arg(long, default_value_t = 1)]
    tcp_window: usize,
    /// Distinct requests prepared per worker before the run (drawn at random from the set).
    #[arg(long, default_value_t = 200_000)]
    pool: usize,
    /// Seconds before an unanswered UDP request counts as lost.
    #[arg(long, default_value_t = 1.0)]
    timeout: f64,
    /// Write the result as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
struct NullServer {
    /// Listen address (loopback only).
    #[arg(long, default_value = "127.0.0.1:2650")]
    listen: String,
    /// Sockets (SO_REUSEPORT), one thread each.
    #[arg(long, default_value_t = 2)]
    sockets: usize,
    /// Size of the fixed answer in bytes.
    #[arg(long, default_value_t = 150)]
    answer_bytes: usize,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    duration: f64,
    /// Datagrams per recvmmsg/sendmmsg (as the node's UDP door: 32).
    #[arg(long, default_value_t = 32)]
    batch: usize,
}

#[derive(Serialize, Debug)]
struct Report {
    mode: &'static str,
    target: String,
    concurrency: usize,
    window: usize,
    rate_target: u64,
    sent: u64,
    answered: u64,
    lost: u64,
    hits: u64,
    misses: u64,
    errors: u64,
    seconds: f64,
    requests_per_sec: f64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    max_us: u64,
}

fn loopback_target(s: &str) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr = s
        .parse()
        .with_context(|| format!("--target must be a literal socket address such as 127.0.0.1:2641, got {s:?}"))?;
    if !addr.ip().is_loopback() {
        bail!("refusing non-loopback target {addr}: idnode-bench only loads 127.0.0.0/8 or ::1");
    }
    Ok(addr)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Udp(l) => {
            let r = run_workers("udp", &l, udp_worker)?;
            finish(&l, r)
        }
        Cmd::Tcp(l) => {
            let r = run_workers("tcp", &l, tcp_worker)?;
            finish(&l, r)
        }
        Cmd::NullServer(n) => null_server(&n),
        Cmd::Snms(a) => snms::run(&a).map(|_| ()),
        Cmd::AdminCreate(a) => admin::run(&a),
        Cmd::IdisCreate(a) => idis::run(&a).map(|_| ()),
        Cmd::IdisSeed(a) => idis::seed(&a),
        Cmd::GenIds(g) => gen_ids(&g),
        Cmd::HelloServer(h) => hello_server(&h),
        Cmd::HttpRate(a) => http_rate::run(&a).map(|_| ()),
        Cmd::DnsGen(g) => dns::dns_gen(&g),
        Cmd::DnsNull(n) => dns::dns_null(&n),
        Cmd::DnsLoad(l) => dns::dns_load(&l),
    }
}

fn finish(l: &Load, r: Report) -> anyhow::Result<()> {
    println!(
        "{} {}: {} answered / {} sent in {:.2}s = {:.0} req/s; hits {} misses {} errors {} lost {}; latency p50 {}us p99 {}us p99.9 {}us max {}us",
        r.mode,
        r.target,
        r.answered,
        r.sent,
        r.seconds,
        r.requests_per_sec,
        r.hits,
        r.misses,
        r.errors,
        r.lost,
        r.p50_us,
        r.p99_us,
        r.p999_us,
        r.max_us
    );
    if let Some(p) = &l.json {
        std::fs::write(p, serde_json::to_vec_pretty(&r)?)?;
    }
    Ok(())
}

/// Requests prepared before the clock starts, so the generator measures the
/// node and not its own formatting: a pool of encoded resolution requests
/// over the identifier set (hits and misses in the asked ratio), taken in a
/// deterministic pseudo-random order; only the request id is patched per send.
struct Picker {
    pool: Vec<Vec<u8>>,
    rng: rand::rngs::SmallRng,
}

impl Picker {
    fn new(l: &Load, seed: u64) -> Self {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let size = l.pool.clamp(1, 1 << 22);
        let mut pool = Vec::with_capacity(size);
        for _ in 0..size {
            let n = rng.random_range(0..l.count.max(1));
            let hit = rng.random_bool(l.hit_ratio.clamp(0.0, 1.0));
            let suffix = l.suffix.replace("{n}", &n.to_string());
            let handle =
                if hit { format!("{}/{}", l.prefix, suffix) } else { format!("{}/{}-absent", l.prefix, suffix) };
            let mut pkt = Vec::with_capacity(64 + handle.len());
            request::resolution(&mut pkt, 0, handle.as_bytes(), l.public_only, l.recursive);
            pool.push(pkt);
        }
        Picker { pool, rng }
    }

    /// The next request with `request_id` written into its envelope.
    fn next_into(&mut self, out: &mut Vec<u8>, request_id: u32) {
        let i = self.rng.random_range(0..self.pool.len());
        out.clear();
        out.extend_from_slice(&self.pool[i]);
        out[8..12].copy_from_slice(&request_id.to_be_bytes());
    }
}

#[derive(Default)]
struct Tally {
    sent: u64,
    answered: u64,
    lost: u64,
    hits: u64,
    misses: u64,
    errors: u64,
}

impl Tally {
    fn count_rc(&mut self, rc: u32) {
        self.answered += 1;
        match rc {
            1 => self.hits += 1,
            100 | 200 => self.misses += 1,
            _ => self.errors += 1,
        }
    }
    fn add(&mut self, o: &Tally) {
        self.sent += o.sent;
        self.answered += o.answered;
        self.lost += o.lost;
        self.hits += o.hits;
        self.misses += o.misses;
        self.errors += o.errors;
    }
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

fn report(mode: &'static str, l: &Load, tally: Tally, hist: &Histogram<u64>, secs: f64) -> Report {
    Report {
        mode,
        target: l.target.clone(),
        concurrency: l.concurrency,
        window: l.window,
        rate_target: l.rate,
        sent: tally.sent,
        answered: tally.answered,
        lost: tally.lost,
        hits: tally.hits,
        misses: tally.misses,
        errors: tally.errors,
        seconds: secs,
        requests_per_sec: tally.answered as f64 / secs.max(1e-9),
        p50_us: hist.value_at_quantile(0.50),
        p99_us: hist.value_at_quantile(0.99),
        p999_us: hist.value_at_quantile(0.999),
        max_us: hist.max(),
    }
}

/// Shared stop conditions: a global request budget and a deadline.
struct Budget {
    left: AtomicU64,
    deadline: Instant,
    stop: AtomicBool,
}

impl Budget {
    fn take(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) || Instant::now() >= self.deadline {
            self.stop.store(true, Ordering::Relaxed);
            return false;
        }
        self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1)).is_ok()
    }
    fn done(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }
}

type WorkerResult = anyhow::Result<(Tally, Histogram<u64>)>;

/// Runs `worker` on `--concurrency` threads sharing one budget and merges
/// their tallies and histograms.
fn run_workers(
    mode: &'static str,
    l: &Load,
    worker: fn(&Load, SocketAddr, u64, &Budget) -> WorkerResult,
) -> anyhow::Result<Report> {
    let target = loopback_target(&l.target)?;
    let budget = Arc::new(Budget {
        left: AtomicU64::new(l.requests),
        deadline: Instant::now() + Duration::from_secs_f64(l.duration),
        stop: AtomicBool::new(false),
    });
    let start = Instant::now();
    let mut threads = Vec::new();
    for w in 0..l.concurrency.max(1) {
        let l = l.clone();
        let budget = budget.clone();
        threads.push(std::thread::spawn(move || worker(&l, target, w as u64, &budget)));
    }
    let mut tally = Tally::default();
    let mut hist = new_hist();
    for t in threads {
        let (t, h) = t.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
        tally.add(&t);
        hist.add(&h)?;
    }
    Ok(report(mode, l, tally, &hist, start.elapsed().as_secs_f64()))
}

fn udp_worker(l: &Load, target: SocketAddr, w: u64, budget: &Budget) -> WorkerResult {
    let bind: SocketAddr = if target.is_ipv4() { "127.0.0.1:0".parse()? } else { "[::1]:0".parse()? };
    let sock = UdpSocket::bind(bind)?;
    sock.connect(target)?;
    let mut picker = Picker::new(l, 0x1d_0de + w);
    let mut tally = Tally::default();
    let mut hist = new_hist();
    let timeout = Duration::from_secs_f64(l.timeout);
    let mut pending: HashMap<u32, Instant> = HashMap::new();
    let mut next_id: u32 = (w as u32) << 24;
    let mut buf = vec![0u8; 65536];
    let mut pkt = Vec::with_capacity(256);
    let open_loop = l.rate > 0;
    let per_worker_rate = (l.rate as f64 / l.concurrency.max(1) as f64).max(1.0);
    let interval = Duration::from_secs_f64(1.0 / per_worker_rate);
    let mut next_send = Instant::now();
    let mut exhausted = false;
    sock.set_nonblocking(true)?;
    let mut next_expiry = Instant::now();
    loop {
        // Send phase: in the open loop whatever is due by now, in the
        // closed loop until the window is full.
        if !exhausted {
            let now = Instant::now();
            while if open_loop { next_send <= now } else { pending.len() < l.window.max(1) } {
                if !budget.take() {
                    exhausted = true;
                    break;
                }
                next_id = next_id.wrapping_add(1);
                picker.next_into(&mut pkt, next_id);
                let _ = sock.send(&pkt);
                tally.sent += 1;
                // Open loop: latency counts from the scheduled send time, so
                // a stall of the generator or the node is not hidden.
                let t0 = if open_loop { next_send } else { Instant::now() };
                pending.insert(next_id, t0);
                if open_loop {
                    next_send += interval;
                }
            }
        }
        if exhausted && pending.is_empty() {
            break;
        }
        // Receive phase: wait for the first answer (in the open loop only
        // until the next send is due), then drain what arrived.
        let wait =
            if open_loop { next_send.saturating_duration_since(Instant::now()) } else { Duration::from_millis(50) };
        let ts = TimeSpec::from_duration(wait);
        let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
        let _ = ppoll(&mut fds, Some(ts), None);
        // Drain without blocking (WouldBlock ends it).
        while let Ok(n) = sock.recv(&mut buf) {
            if let Some((id, seq, rc)) = request::parse_answer(&buf[..n])
                // Multi-datagram answers: count on the first datagram.
                && seq == 0
                && let Some(t0) = pending.remove(&id)
            {
                let us = t0.elapsed().as_micros().max(1) as u64;
                let _ = hist.record(us.min(60_000_000));
                tally.count_rc(rc);
            }
        }
        // Expire lost requests (every 10 ms at most).
        let now = Instant::now();
        if !pending.is_empty() && now >= next_expiry {
            next_expiry = now + Duration::from_millis(10);
            let before = pending.len();
            pending.retain(|_, t0| now.duration_since(*t0) < timeout);
            tally.lost += (before - pending.len()) as u64;
        }
        if budget.done() && exhausted && now > budget.deadline + timeout {
            tally.lost += pending.len() as u64;
            break;
        }
    }
    Ok((tally, hist))
}

/// One kept-open connection with up to `--tcp-window` requests in flight
/// (1 = strictly one request, one answer). Answers arrive in request order.
fn tcp_worker(l: &Load, target: SocketAddr, w: u64, budget: &Budget) -> WorkerResult {
    let stream = TcpStream::connect_timeout(&target, Duration::from_secs(5))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs_f64(l.timeout.max(1.0))))?;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, stream.try_clone()?);
    let mut writer = stream;
    let mut picker = Picker::new(l, 0x7c9 + w);
    let mut tally = Tally::default();
    let mut hist = new_hist();
    let mut pkt = Vec::with_capacity(256);
    let mut batch = Vec::with_capacity(64 * 256);
    let mut env = [0u8; 20];
    let mut body = Vec::with_capacity(4096);
    let mut id = (w as u32) << 24;
    let mut in_flight: std::collections::VecDeque<Instant> = std::collections::VecDeque::new();
    let window = l.tcp_window.max(1);
    loop {
        // Top up the window with one write.
        batch.clear();
        while in_flight.len() < window && budget.take() {
            id = id.wrapping_add(1);
            picker.next_into(&mut pkt, id);
            batch.extend_from_slice(&pkt);
            in_flight.push_back(Instant::now());
            tally.sent += 1;
        }
        if !batch.is_empty() && writer.write_all(&batch).is_err() {
            tally.lost += in_flight.len() as u64;
            break;
        }
        let Some(t0) = in_flight.pop_front() else { break };
        if reader.read_exact(&mut env).is_err() {
            tally.lost += 1 + in_flight.len() as u64;
            break;
        }
        let len = u32::from_be_bytes([env[16], env[17], env[18], env[19]]) as usize;
        body.resize(len, 0);
        if reader.read_exact(&mut body).is_err() {
            tally.lost += 1 + in_flight.len() as u64;
            break;
        }
        let us = t0.elapsed().as_micros().max(1) as u64;
        let _ = hist.record(us.min(60_000_000));
        let rc = if body.len() >= 8 { u32::from_be_bytes([body[4], body[5], body[6], body[7]]) } else { 0 };
        tally.count_rc(rc);
    }
    Ok((tally, hist))
}

fn null_server(n: &NullServer) -> anyhow::Result<()> {
    let addr = loopback_target(&n.listen)?;
    let mut socks = Vec::new();
    let mut target = addr;
    for _ in 0..n.sockets.max(1) {
        let s = socket2::Socket::new(socket2::Domain::for_address(target), socket2::Type::DGRAM, None)?;
        s.set_reuse_port(true)?;
        s.bind(&target.into())?;
        let s: UdpSocket = s.into();
        if target.port() == 0 {
            target = s.local_addr()?;
        }
        socks.push(s);
    }
    println!("null-server listening on {target} with {} sockets for {}s", socks.len(), n.duration);
    let deadline = Instant::now() + Duration::from_secs_f64(n.duration);
    let answer_len = n.answer_bytes.max(44);
    let mut threads = Vec::new();
    let batch = n.batch.max(1);
    for s in socks {
        threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
            let mut template = vec![0u8; answer_len];
            let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
            rng.fill(&mut template[44..]);
            // The same system calls as the node's UDP door: recvmmsg /
            // sendmmsg of up to `batch` datagrams; no other work than
            // copying the envelope and setting rc 1.
            let mut bufs = vec![[0u8; 2048]; batch];
            let mut answers = vec![template.clone(); batch];
            let mut rx = MultiHeaders::<SockaddrStorage>::preallocate(batch, None);
            let mut tx = MultiHeaders::<SockaddrStorage>::preallocate(batch, None);
            let mut peers: Vec<Option<SockaddrStorage>> = Vec::with_capacity(batch);
            let fd = s.as_raw_fd();
            while Instant::now() < deadline {
                peers.clear();
                let mut lens = Vec::with_capacity(batch);
                {
                    let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
                        bufs.iter_mut().map(|b| [IoSliceMut::new(&mut b[..])]).collect();
                    let Ok(got) = recvmmsg(fd, &mut rx, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None) else {
                        continue;
                    };
                    for m in got {
                        lens.push(m.bytes);
                        peers.push(m.address);
                    }
                }
                let mut out = 0;
                for (i, &len) in lens.iter().enumerate() {
                    if len < 20 || peers[i].is_none() {
                        continue;
                    }
                    let a = &mut answers[out];
                    a[..20].copy_from_slice(&bufs[i][..20]);
                    a[16..20].copy_from_slice(&((answer_len - 20) as u32).to_be_bytes());
                    a[20..24].copy_from_slice(&1u32.to_be_bytes());
                    a[24..28].copy_from_slice(&1u32.to_be_bytes());
                    peers[out] = peers[i];
                    out += 1;
                }
                peers.truncate(out);
                let slices: Vec<[IoSlice<'_>; 1]> = answers[..out].iter().map(|a| [IoSlice::new(a)]).collect();
                let _ = sendmmsg(fd, &mut tx, slices.iter(), &peers, [], MsgFlags::empty());
            }
            Ok(())
        }));
    }
    for t in threads {
        t.join().map_err(|_| anyhow::anyhow!("thread panicked"))??;
    }
    Ok(())
}
