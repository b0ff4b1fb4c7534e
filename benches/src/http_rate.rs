//! `idnode-bench http-rate`: GET one path at a fixed request rate and report
//! the latency distribution at that rate (an open-loop load: wrk measures the
//! rate a closed loop reaches, this measures latency at a rate you choose,
//! e.g. "a depth-3 chain under 2 ms p99 at 1,000/s").
//!
//! Each of `--connections` threads keeps one HTTP/1.1 connection and sends
//! its share of the rate on a fixed schedule. A request that could not be
//! sent on time (the previous answer was late) is sent at once, and its
//! latency is counted from the time it was due, so a stall shows in the
//! percentiles instead of being hidden (no coordinated omission).
//!
//! Loopback only: `--target` must be a literal 127.0.0.0/8 or ::1 socket
//! address. Every run stops after `--count` requests or `--duration` seconds,
//! whichever comes first.

use std::time::{Duration, Instant};

use anyhow::bail;
use hdrhistogram::Histogram;
use idnode_conformance::http1::Http;
use serde::Serialize;

/// Arguments of the `http-rate` mode.
#[derive(clap::Args, Debug, Clone)]
pub struct HttpRateArgs {
    /// The node's HTTP door, a literal loopback socket address such as 127.0.0.1:8000.
    #[arg(long)]
    pub target: String,
    /// Path and query to GET, e.g. `/api/trace/88.1/ROOT?direction=up&depth=3`.
    #[arg(long)]
    pub path: String,
    /// Requests per second over all connections.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Kept-open connections (one thread each).
    #[arg(long, default_value_t = 1)]
    pub connections: u32,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 8.0)]
    pub duration: f64,
    /// Stop after this many requests (all connections).
    #[arg(long, default_value_t = 1_000_000)]
    pub count: u64,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// What a run measured.
#[derive(Debug, Serialize)]
pub struct HttpRateReport {
    pub target: String,
    pub path: String,
    pub rate_asked: u32,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    pub requests_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

pub fn run(a: &HttpRateArgs) -> anyhow::Result<HttpRateReport> {
    let addr = super::loopback_target(&a.target)?;
    if a.rate == 0 || a.connections == 0 {
        bail!("--rate and --connections must be at least 1");
    }
    let conns = u64::from(a.connections);
    let per_conn = a.count.div_ceil(conns);
    let interval = Duration::from_secs_f64(f64::from(a.connections) / f64::from(a.rate));
    let duration = Duration::from_secs_f64(a.duration);
    let start = Instant::now() + Duration::from_millis(50);
    let workers: Vec<_> = (0..conns)
        .map(|i| {
            let path = a.path.clone();
            // Spread the connections' schedules evenly over one interval.
            let offset = interval.mul_f64(i as f64 / conns as f64);
            std::thread::spawn(move || -> anyhow::Result<(Histogram<u64>, u64, u64)> {
                let mut http = Http::new(addr);
                let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                let (mut ok, mut errors) = (0u64, 0u64);
                let mut due = start + offset;
                for _ in 0..per_conn {
                    if due.duration_since(start) >= duration {
                        break;
                    }
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    match http.request("GET", &path, None, b"") {
                        Ok((200, _)) => ok += 1,
                        Ok(_) | Err(_) => errors += 1,
                    }
                    let took = Instant::now().saturating_duration_since(due);
                    hist.record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1))?;
                    due += interval;
                }
                Ok((hist, ok, errors))
            })
        })
        .collect();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut errors) = (0, 0);
    for w in workers {
        let (h, o, e) = w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
        hist.add(h)?;
        ok += o;
        errors += e;
    }
    let seconds = Instant::now().saturating_duration_since(start).as_secs_f64();
    let requests = ok + errors;
    let r = HttpRateReport {
        target: a.target.clone(),
        path: a.path.clone(),
        rate_asked: a.rate,
        requests,
        ok,
        errors,
        seconds,
        requests_per_sec: requests as f64 / seconds.max(1e-9),
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
        p999_us: hist.value_at_quantile(0.999),
        max_us: hist.max(),
    };
    println!(
        "http-rate {}{}: {} requests ({} ok, {} errors) in {:.2}s = {:.0}/s (asked {}/s); latency p50 {}us p99 {}us p99.9 {}us max {}us",
        r.target,
        r.path,
        r.requests,
        r.ok,
        r.errors,
        r.seconds,
        r.requests_per_sec,
        r.rate_asked,
        r.p50_us,
        r.p99_us,
        r.p999_us,
        r.max_us
    );
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_vec_pretty(&r)?)?;
    }
    Ok(r)
}
