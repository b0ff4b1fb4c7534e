//! The DNS modes of idnode-bench (issue 10), loopback only:
//!
//! * `dns-gen` — the data set of `benches/scripts/dns-compare.sh`: N records
//!   (JSON lines for `idnode id import`), N GS1 aliases bound to them (JSON
//!   lines for `idnode id import-aliases`), the same N names as a zone file
//!   with the same NAPTR answers (for Knot DNS and NSD), and query files in
//!   dnsperf's format (`name NAPTR`) of hits and of well-formed NXDOMAIN names.
//! * `dns-null` — a do-nothing DNS answerer on UDP: each query is sent back
//!   as a response (QR set, no answers), with the node's DNS door's socket
//!   layout and system calls (`SO_REUSEPORT` sockets, one blocking thread
//!   each, batches of up to 32 datagrams through `recvmmsg` / `sendmmsg`;
//!   `--single` for one `recv_from` / `send_to` pair per query): the
//!   ceiling for the same load tool.
//! * `dns-load` — DNS queries over UDP or DNS over QUIC (RFC 9250: ALPN
//!   `doq`, one bidirectional stream per query, two-byte length prefix,
//!   message ID 0), closed loop with `--window` queries in flight per worker
//!   (UDP: a thread and socket each; DoQ: a connection each, all driven by
//!   one thread), bounded by `--requests` and `--duration`; queries/s and
//!   latency percentiles.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use idnode_registry::ident::gs1::Gtin;
use serde::Serialize;

use crate::{loopback_target, new_hist};

// ------------------------------------------------------------------ dns-gen

#[derive(Args, Debug)]
pub struct DnsGen {
    /// How many names (records, aliases, zone entries, hit queries).
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// The GS1 zone's origin (the node's `[[dns.zones]]` origin, the zone file's).
    #[arg(long, default_value = "gs1.bench")]
    zone: String,
    /// Identifier prefix of the records (`<prefix>/G<n>`).
    #[arg(long, default_value = "88.118.8.1001")]
    prefix: String,
    /// NAPTR `services` of the answers (the node's default for gs1 zones).
    #[arg(long, default_value = "x-gs1+http")]
    service: String,
    /// NS name of the zone (outside it: no glue needed).
    #[arg(long, default_value = "ns1.example.org")]
    ns: String,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
}

/// The n-th GTIN of the set ([`Gtin::numbered`]).
pub fn gtin(n: u64) -> Gtin {
    Gtin::numbered(n)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A fixed permutation of 0..n (so query files do not walk names in order).
fn shuffled(i: u64, n: u64) -> u64 {
    let m = (1..).map(|k| 7919 * k + 1).find(|m| gcd(*m, n) == 1).unwrap_or(1);
    (i.wrapping_mul(m).wrapping_add(12_345)) % n
}

pub fn dns_gen(g: &DnsGen) -> anyhow::Result<()> {
    if g.count == 0 || g.count >= 10_000_000_000 / 2 {
        bail!("--count must be between 1 and 5*10^9");
    }
    std::fs::create_dir_all(&g.out)?;
    let file = |name: &str| -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
        let p = g.out.join(name);
        Ok(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?,
        ))
    };
    let zone = g.zone.trim_end_matches('.').to_ascii_lowercase();
    let (mut rec, mut ali, mut zf) = (file("records.jsonl")?, file("aliases.jsonl")?, file("zone.db")?);
    // The node's apex: SOA (serial 1, refresh 3600, retry 600, expire
    // 604800, minimum 60) and one NS, TTL 300 (SOA TTL min(ttl, minimum)).
    writeln!(zf, "$ORIGIN {zone}.")?;
    writeln!(zf, "$TTL 300")?;
    writeln!(zf, "@ 60 IN SOA {ns}. hostmaster.{zone}. 1 3600 600 604800 60", ns = g.ns)?;
    writeln!(zf, "@ 300 IN NS {ns}.", ns = g.ns)?;
    let suffix = format!(".{zone}");
    for n in 0..g.count {
        let url = format!("https://www.example.com/p/G{n}");
        writeln!(rec, r#"{{"handle":"{p}/G{n}","values":[{{"index":1,"type":"URL","data":"{url}"}}]}}"#, p = g.prefix)?;
        let code = gtin(n);
        writeln!(ali, r#"{{"scheme":"gs1","code":"{code}","handle":"{p}/G{n}"}}"#, p = g.prefix)?;
        let name = code.to_dns_name(&zone).map_err(|e| anyhow::anyhow!("{code}: {e}"))?;
        let rel = name.trim_end_matches('.').strip_suffix(&suffix).context("name outside the zone")?;
        writeln!(zf, r#"{rel} 300 IN NAPTR 100 10 "U" "{s}" "!^.*$!{url}!" ."#, s = g.service)?;
    }
    let (mut hits, mut nx) = (file("hits.txt")?, file("nx.txt")?);
    for i in 0..g.count {
        let name = gtin(shuffled(i, g.count)).to_dns_name(&zone).map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(hits, "{} NAPTR", name.trim_end_matches('.'))?;
        // Well-formed GTINs nobody bound: the node probes its alias index.
        let name = gtin(g.count + shuffled(i, g.count)).to_dns_name(&zone).map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(nx, "{} NAPTR", name.trim_end_matches('.'))?;
    }
    for mut w in [rec, ali, zf, hits, nx] {
        w.flush()?;
    }
    println!("dns-gen: {} names of zone {zone} in {}", g.count, g.out.display());
    Ok(())
}

// ----------------------------------------------------------------- dns-null

#[derive(Args, Debug)]
pub struct DnsNull {
    /// Listen address (loopback only).
    #[arg(long, default_value = "127.0.0.1:25353")]
    listen: String,
    /// Sockets (SO_REUSEPORT), one thread each (the node's `dns.udp_sockets`).
    #[arg(long, default_value_t = 2)]
    sockets: usize,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    duration: f64,
    /// One `recv_from` / `send_to` per query instead of the door's batches.
    #[arg(long)]
    single: bool,
}

/// The do-nothing answer: the query with QR set and RCODE 0, or `false`
/// (drop) for what is not a query.
fn null_answer(buf: &mut [u8]) -> bool {
    // Not a query header, or already a response: drop.
    if buf.len() < 12 || buf[2] & 0x80 != 0 {
        return false;
    }
    buf[2] |= 0x80; // QR
    buf[3] &= 0xf0; // RCODE 0 (RA, Z, AD, CD as asked)
    true
}

/// The node's DNS UDP door's loop without the front: `recvmmsg` up to 32
/// (waiting for the first), answer in place, one `sendmmsg`.
fn null_batched(s: &UdpSocket, deadline: Instant) {
    use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
    use std::os::fd::AsRawFd;
    const BATCH: usize = 32;
    let fd = s.as_raw_fd();
    let mut bufs: Box<[[u8; 4096]; BATCH]> =
        vec![[0u8; 4096]; BATCH].into_boxed_slice().try_into().expect("BATCH buffers");
    let mut rx = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut tx = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut got: Vec<(usize, Option<SockaddrStorage>)> = Vec::with_capacity(BATCH);
    let mut out: Vec<(usize, SockaddrStorage)> = Vec::with_capacity(BATCH);
    while Instant::now() < deadline {
        got.clear();
        {
            let mut iovs = bufs.each_mut().map(|b| [std::io::IoSliceMut::new(b)]);
            match recvmmsg(fd, &mut rx, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
                Ok(r) => got.extend(r.map(|m| (m.bytes, m.address))),
                Err(_) => continue,
            }
        }
        out.clear();
        for (i, &(n, addr)) in got.iter().enumerate() {
            if let Some(addr) = addr
                && null_answer(&mut bufs[i][..n])
            {
                out.push((i, addr));
            }
        }
        let slices: Vec<[std::io::IoSlice<'_>; 1]> =
            out.iter().map(|&(i, _)| [std::io::IoSlice::new(&bufs[i][..got[i].0])]).collect();
        let addrs: Vec<Option<SockaddrStorage>> = out.iter().map(|&(_, a)| Some(a)).collect();
        let _ = sendmmsg(fd, &mut tx, slices.iter(), &addrs, [], MsgFlags::empty());
    }
}

pub fn dns_null(n: &DnsNull) -> anyhow::Result<()> {
    let addr = loopback_target(&n.listen)?;
    let mut socks = Vec::new();
    for _ in 0..n.sockets.max(1) {
        let s = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, None)?;
        s.set_reuse_port(true)?;
        s.bind(&addr.into())?;
        socks.push(UdpSocket::from(s));
    }
    println!("dns-null listening on {addr} with {} sockets for {}s", socks.len(), n.duration);
    let deadline = Instant::now() + Duration::from_secs_f64(n.duration);
    let single = n.single;
    let threads: Vec<_> = socks
        .into_iter()
        .map(|s| {
            std::thread::spawn(move || -> anyhow::Result<()> {
                s.set_read_timeout(Some(Duration::from_millis(100)))?;
                if !single {
                    null_batched(&s, deadline);
                    return Ok(());
                }
                let mut buf = [0u8; 4096];
                while Instant::now() < deadline {
                    let Ok((len, peer)) = s.recv_from(&mut buf) else { continue };
                    if null_answer(&mut buf[..len]) {
                        let _ = s.send_to(&buf[..len], peer);
                    }
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| anyhow::anyhow!("thread panicked"))??;
    }
    Ok(())
}

// ----------------------------------------------------------------- dns-load

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsTransport {
    Udp,
    Doq,
}

#[derive(Args, Debug, Clone)]
pub struct DnsLoad {
    /// Target, a literal loopback socket address such as 127.0.0.1:25353.
    #[arg(long)]
    target: String,
    #[arg(long, value_enum, default_value = "udp")]
    transport: DnsTransport,
    /// Query file in dnsperf's format: `name TYPE` per line (TYPE: A, AAAA,
    /// NS, SOA, TXT, NAPTR, ANY); taken in order, round and round.
    #[arg(long)]
    queries: PathBuf,
    /// Workers: UDP threads (one socket each) or DoQ connections.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    /// Queries in flight per worker (DoQ: streams per connection; the
    /// node's QUIC default allows 100).
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Stop after this many queries in all.
    #[arg(long, default_value_t = 10_000_000)]
    requests: u64,
    /// Stop after this many seconds, whatever the count.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds before an unanswered query counts as lost.
    #[arg(long, default_value_t = 2.0)]
    timeout: f64,
    /// Most queries read from the file (the rest is ignored).
    #[arg(long, default_value_t = 2_000_000)]
    max_queries: usize,
    /// DoQ: the server's certificate or its CA (PEM) to trust.
    #[arg(long)]
    cert: Option<PathBuf>,
    /// DoQ: the name the certificate must carry.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// Write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Serialize, Debug)]
struct DnsReport {
    mode: &'static str,
    transport: DnsTransport,
    target: String,
    concurrency: usize,
    window: usize,
    sent: u64,
    answered: u64,
    lost: u64,
    noerror: u64,
    nxdomain: u64,
    other_rcode: u64,
    seconds: f64,
    queries_per_sec: f64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    max_us: u64,
}

#[derive(Default)]
struct DnsTally {
    sent: u64,
    answered: u64,
    lost: u64,
    noerror: u64,
    nxdomain: u64,
    other: u64,
}

impl DnsTally {
    fn answer(&mut self, msg: &[u8]) {
        self.answered += 1;
        match msg.get(3).map(|b| b & 0x0f) {
            Some(0) => self.noerror += 1,
            Some(3) => self.nxdomain += 1,
            _ => self.other += 1,
        }
    }
    fn add(&mut self, o: &DnsTally) {
        self.sent += o.sent;
        self.answered += o.answered;
        self.lost += o.lost;
        self.noerror += o.noerror;
        self.nxdomain += o.nxdomain;
        self.other += o.other;
    }
}

fn qtype(t: &str) -> anyhow::Result<u16> {
    Ok(match t.to_ascii_uppercase().as_str() {
        "A" => 1,
        "NS" => 2,
        "SOA" => 6,
        "TXT" => 16,
        "AAAA" => 28,
        "NAPTR" => 35,
        "ANY" => 255,
        other => bail!("query type {other:?} not supported"),
    })
}

/// A query message (ID 0, RD clear, no EDNS) for `name`/`t`.
fn encode_query(name: &str, t: u16) -> anyhow::Result<Vec<u8>> {
    let mut q = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            bail!("label longer than 63 bytes in {name:?}");
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&t.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Ok(q)
}

fn read_queries(path: &PathBuf, max: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        let mut parts = line.split_whitespace();
        let (Some(name), t) = (parts.next(), parts.next().unwrap_or("A")) else { continue };
        if name.starts_with(';') || name.starts_with('#') {
            continue;
        }
        out.push(encode_query(name, qtype(t)?)?);
        if out.len() >= max {
            break;
        }
    }
    if out.is_empty() {
        bail!("no queries in {}", path.display());
    }
    Ok(out)
}

/// Shared stop conditions and the query list (worker w starts at its own offset).
struct Plan {
    queries: Vec<Vec<u8>>,
    left: std::sync::atomic::AtomicU64,
    deadline: Instant,
    timeout: Duration,
    window: usize,
}

impl Plan {
    fn take(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        Instant::now() < self.deadline && self.left.fetch_update(Relaxed, Relaxed, |v| v.checked_sub(1)).is_ok()
    }
}

pub fn dns_load(l: &DnsLoad) -> anyhow::Result<()> {
    let target = loopback_target(&l.target)?;
    let plan = Arc::new(Plan {
        queries: read_queries(&l.queries, l.max_queries)?,
        left: std::sync::atomic::AtomicU64::new(l.requests),
        deadline: Instant::now() + Duration::from_secs_f64(l.duration),
        timeout: Duration::from_secs_f64(l.timeout),
        window: l.window.clamp(1, 60_000),
    });
    let start = Instant::now();
    let results: Vec<(DnsTally, Histogram<u64>)> = match l.transport {
        DnsTransport::Udp => {
            let threads: Vec<_> = (0..l.concurrency.max(1))
                .map(|w| {
                    let plan = plan.clone();
                    std::thread::spawn(move || udp_worker(&plan, target, w))
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().map_err(|_| anyhow::anyhow!("worker panicked"))?)
                .collect::<anyhow::Result<_>>()?
        }
        DnsTransport::Doq => doq_run(l, &plan, target)?,
    };
    let secs = start.elapsed().as_secs_f64();
    let mut tally = DnsTally::default();
    let mut hist = new_hist();
    for (t, h) in &results {
        tally.add(t);
        hist.add(h)?;
    }
    let r = DnsReport {
        mode: "dns-load",
        transport: l.transport,
        target: l.target.clone(),
        concurrency: l.concurrency,
        window: plan.window,
        sent: tally.sent,
        answered: tally.answered,
        lost: tally.lost,
        noerror: tally.noerror,
        nxdomain: tally.nxdomain,
        other_rcode: tally.other,
        seconds: secs,
        queries_per_sec: tally.answered as f64 / secs.max(1e-9),
        p50_us: hist.value_at_quantile(0.50),
        p99_us: hist.value_at_quantile(0.99),
        p999_us: hist.value_at_quantile(0.999),
        max_us: hist.max(),
    };
    println!(
        "dns-load {:?} {}: {} answered / {} sent in {:.2}s = {:.0} q/s; NOERROR {} NXDOMAIN {} other {} lost {}; latency p50 {}us p99 {}us p99.9 {}us max {}us",
        r.transport,
        r.target,
        r.answered,
        r.sent,
        r.seconds,
        r.queries_per_sec,
        r.noerror,
        r.nxdomain,
        r.other_rcode,
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

fn record(hist: &mut Histogram<u64>, t0: Instant) {
    let us = t0.elapsed().as_micros().max(1) as u64;
    let _ = hist.record(us.min(60_000_000));
}

fn udp_worker(plan: &Plan, target: SocketAddr, w: usize) -> anyhow::Result<(DnsTally, Histogram<u64>)> {
    let bind: SocketAddr = if target.is_ipv4() { "127.0.0.1:0".parse()? } else { "[::1]:0".parse()? };
    let sock = UdpSocket::bind(bind)?;
    sock.connect(target)?;
    sock.set_read_timeout(Some(Duration::from_millis(20)))?;
    let (mut tally, mut hist) = (DnsTally::default(), new_hist());
    let mut pending: HashMap<u16, Instant> = HashMap::with_capacity(plan.window * 2);
    let n = plan.queries.len();
    let mut next = (w * 7919) % n;
    let mut id: u16 = 0;
    let mut pkt = Vec::with_capacity(512);
    let mut buf = [0u8; 4096];
    let mut exhausted = false;
    let mut next_expiry = Instant::now();
    loop {
        while !exhausted && pending.len() < plan.window {
            if !plan.take() {
                exhausted = true;
                break;
            }
            // An ID still pending (a lost query) is skipped.
            id = id.wrapping_add(1);
            while pending.contains_key(&id) {
                id = id.wrapping_add(1);
            }
            pkt.clear();
            pkt.extend_from_slice(&plan.queries[next]);
            next = (next + 1) % n;
            pkt[..2].copy_from_slice(&id.to_be_bytes());
            let _ = sock.send(&pkt);
            tally.sent += 1;
            pending.insert(id, Instant::now());
        }
        if exhausted && pending.is_empty() {
            break;
        }
        // Blocks at most the read timeout; then drains what arrived.
        let mut got = sock.recv(&mut buf);
        while let Ok(len) = got {
            if len >= 12
                && let Some(t0) = pending.remove(&u16::from_be_bytes([buf[0], buf[1]]))
            {
                record(&mut hist, t0);
                tally.answer(&buf[..len]);
            }
            sock.set_nonblocking(true)?;
            got = sock.recv(&mut buf);
        }
        sock.set_nonblocking(false)?;
        let now = Instant::now();
        if !pending.is_empty() && now >= next_expiry {
            next_expiry = now + Duration::from_millis(10);
            let before = pending.len();
            pending.retain(|_, t0| now.duration_since(*t0) < plan.timeout);
            tally.lost += (before - pending.len()) as u64;
        }
        if exhausted && now > plan.deadline + plan.timeout {
            tally.lost += pending.len() as u64;
            break;
        }
    }
    Ok((tally, hist))
}

fn doq_client(l: &DnsLoad) -> anyhow::Result<quinn::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let path = l.cert.as_ref().context("--cert (the server's certificate or CA, PEM) is needed for DoQ")?;
    let mut roots = rustls::RootCertStore::empty();
    for c in
        rustls_pki_types::CertificateDer::pem_file_iter(path).with_context(|| format!("reading {}", path.display()))?
    {
        roots.add(c?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"doq".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls))?;
    Ok(quinn::ClientConfig::new(Arc::new(crypto)))
}

/// One query on its own stream (`framed`: two-byte length, then the query
/// with ID 0), finished, and its answer read; the answer keeps its length
/// prefix (checked here).
async fn doq_query(conn: &quinn::Connection, framed: &[u8], timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let exchange = async {
        let (mut send, mut recv) = conn.open_bi().await?;
        send.write_all(framed).await?;
        send.finish()?;
        let answer = recv.read_to_end(65_537).await?;
        if answer.len() < 14 || usize::from(u16::from_be_bytes([answer[0], answer[1]])) != answer.len() - 2 {
            bail!("bad DoQ answer framing");
        }
        anyhow::Ok(answer)
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| anyhow::anyhow!("timed out"))?
}

fn doq_run(l: &DnsLoad, plan: &Arc<Plan>, target: SocketAddr) -> anyhow::Result<Vec<(DnsTally, Histogram<u64>)>> {
    let client = doq_client(l)?;
    // Each query framed once, up front (RFC 9250: length prefix, ID 0).
    let framed: Arc<Vec<Vec<u8>>> = Arc::new(
        plan.queries
            .iter()
            .map(|q| {
                let mut f = Vec::with_capacity(q.len() + 2);
                f.extend_from_slice(&(q.len() as u16).to_be_bytes());
                f.extend_from_slice(q);
                if f.len() >= 4 {
                    f[2..4].copy_from_slice(&[0, 0]);
                }
                f
            })
            .collect(),
    );
    // One thread drives every connection (a single-threaded runtime, as the
    // node's DoQ door): on a two-core machine shared with the server, a
    // client whose endpoint and query tasks wake each other across threads
    // spent as much CPU per query as the server and set the figure.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let bind: SocketAddr = if target.is_ipv4() { "127.0.0.1:0".parse()? } else { "[::1]:0".parse()? };
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..l.concurrency.max(1) {
            // One endpoint (UDP socket) per connection, as separate clients would have.
            let mut ep = quinn::Endpoint::client(bind)?;
            ep.set_default_client_config(client.clone());
            let conn = ep
                .connect(target, &l.server_name)?
                .await
                .with_context(|| format!("DoQ handshake with {target} (name {})", l.server_name))?;
            for s in 0..plan.window {
                let (plan, conn, ep, framed) = (plan.clone(), conn.clone(), ep.clone(), framed.clone());
                let n = framed.len();
                let mut next = (w * 7919 + s * 131) % n;
                tasks.spawn(async move {
                    let _keep = ep;
                    let (mut tally, mut hist) = (DnsTally::default(), new_hist());
                    while plan.take() {
                        tally.sent += 1;
                        let t0 = Instant::now();
                        match doq_query(&conn, &framed[next], plan.timeout).await {
                            Ok(answer) => {
                                record(&mut hist, t0);
                                tally.answer(&answer[2..]);
                            }
                            Err(_) => tally.lost += 1,
                        }
                        next = (next + 1) % n;
                    }
                    (tally, hist)
                });
            }
        }
        let mut out = Vec::new();
        while let Some(r) = tasks.join_next().await {
            out.push(r?);
        }
        anyhow::Ok(out)
    })
}
