//! `idnode-bench snms`: sustained, durable batch registration over the SNMS
//! HTTP API (`POST /identityv2/data/batchCreate`, snms-api.md §4.5).
//!
//! Logs in once (`POST /identity/token`), then `--concurrency` workers each
//! keep one HTTP/1.1 connection and post batches of `--batch` new
//! identifiers back to back (one request in flight per worker, as the
//! contract advises per client). Only identifiers answered `success` count.
//! A batch is acknowledged by the node only after its one durable flush, so
//! the figure is durable registrations per second.
//!
//! Loopback only: `--target` must be a literal 127.0.0.0/8 or ::1 socket
//! address. Every run stops by itself after `--count` identifiers or
//! `--duration` seconds, whichever comes first. The HTTP client is a
//! minimal hand-written HTTP/1.1 client (keep-alive, Content-Length and
//! chunked answers).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use idnode_conformance::http1::Http;
use serde::Serialize;

/// Arguments of the `snms` mode.
#[derive(clap::Args, Debug, Clone)]
pub struct SnmsArgs {
    /// The node's HTTP door, a literal loopback socket address such as 127.0.0.1:8000.
    #[arg(long)]
    pub target: String,
    /// Path prefix the SNMS API is mounted under (`snms.base_path`), e.g. /snmsapi.
    #[arg(long, default_value = "")]
    pub base_path: String,
    /// Account to log in with.
    #[arg(long, default_value = "admin")]
    pub username: String,
    /// File holding the password (e.g. the node's admin.secret); trailing newline ignored.
    #[arg(long, value_name = "FILE")]
    pub password_file: std::path::PathBuf,
    /// Enterprise prefix to register under (must be hosted on the node).
    #[arg(long, default_value = "88.118.8.1001")]
    pub prefix: String,
    /// Template version of that prefix.
    #[arg(long, default_value = "1.0.0")]
    pub template_version: String,
    /// Values of every identifier as INDEX:TYPE:TEXT, comma-separated
    /// (the default fits the demo template).
    #[arg(long, default_value = "2000:model:CP-200,2001:batch:B2026-03")]
    pub values: String,
    /// Identifiers per request (the contract allows at most 2000).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=2000))]
    pub batch: u64,
    /// Concurrent connections, one batch in flight on each.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    /// Stop after this many identifiers in all.
    #[arg(long, default_value_t = 400_000)]
    pub count: u64,
    /// Stop after this many seconds, whatever the count.
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Suffix tag of this run (identifiers are `<prefix>/<run>-<worker>-<n>`);
    /// default: random, so runs never collide.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct SnmsReport {
    /// Suffix tag of the identifiers written (`<prefix>/<run_id>-<worker>-<n>`).
    pub run_id: String,
    pub identifiers_ok: u64,
    pub identifiers_failed: u64,
    pub batches: u64,
    pub request_errors: u64,
    pub seconds: f64,
    /// Durable registrations per second.
    pub identifiers_per_sec: f64,
    pub batch_latency_ms_p50: f64,
    pub batch_latency_ms_p99: f64,
    pub batch_latency_ms_max: f64,
    pub batch: u64,
    pub concurrency: usize,
}

fn loopback(s: &str) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr = s
        .parse()
        .with_context(|| format!("--target must be a literal socket address such as 127.0.0.1:8000, got {s:?}"))?;
    if !addr.ip().is_loopback() {
        bail!("refusing non-loopback target {addr}: idnode-bench only loads 127.0.0.0/8 or ::1");
    }
    Ok(addr)
}

/// The JSON array of one batch (built as text: the generator must not be
/// the bottleneck).
fn batch_body(prefix: &str, tag: &str, first: u64, n: u64, version: &str, values_json: &str) -> Vec<u8> {
    let mut s = String::with_capacity((n as usize) * (values_json.len() + prefix.len() + 64));
    s.push('[');
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"handle\":\"");
        s.push_str(prefix);
        s.push('/');
        s.push_str(tag);
        s.push('-');
        s.push_str(&(first + i).to_string());
        s.push_str("\",\"templateVersion\":");
        s.push_str(version);
        s.push_str(",\"value\":");
        s.push_str(values_json);
        s.push('}');
    }
    s.push(']');
    s.into_bytes()
}

fn values_json(spec: &str) -> anyhow::Result<String> {
    let mut vals = Vec::new();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let mut it = part.splitn(3, ':');
        let (Some(i), Some(t), Some(d)) = (it.next(), it.next(), it.next()) else {
            bail!("--values: {part:?} is not INDEX:TYPE:TEXT");
        };
        let index: u32 = i.trim().parse().with_context(|| format!("--values: bad index in {part:?}"))?;
        vals.push(serde_json::json!({"index": index, "type": t, "auth": "", "data": {"format": "string", "value": d}}));
    }
    Ok(serde_json::to_string(&vals)?)
}

fn login(addr: SocketAddr, base: &str, user: &str, password: &str) -> anyhow::Result<String> {
    let body = serde_json::to_vec(&serde_json::json!({"username": user, "password": password}))?;
    let (status, bytes) = Http::new(addr).request("POST", &format!("{base}/identity/token"), None, &body)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| format!("login: HTTP {status}"))?;
    match v["data"]["token"].as_str() {
        Some(t) if v["status"] == 1 => Ok(t.to_owned()),
        _ => bail!("login as {user} failed: {}", v["message"]),
    }
}

/// Runs the load and prints the report (text, or JSON with `--json`).
pub fn run(args: &SnmsArgs) -> anyhow::Result<SnmsReport> {
    let addr = loopback(&args.target)?;
    let password = std::fs::read_to_string(&args.password_file)
        .with_context(|| format!("reading --password-file {}", args.password_file.display()))?;
    let token = Arc::new(login(addr, &args.base_path, &args.username, password.trim_end_matches(['\r', '\n']))?);
    let values = Arc::new(values_json(&args.values)?);
    let version = Arc::new(serde_json::to_string(&args.template_version)?);
    let tag = args.run_id.clone().unwrap_or_else(|| format!("bench{:08x}", rand::random::<u32>()));
    let path = format!("{}/identityv2/data/batchCreate", args.base_path);
    let remaining = Arc::new(AtomicU64::new(args.count));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs_f64(args.duration.max(0.1));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|w| {
            let (token, values, version, remaining, stop) =
                (token.clone(), values.clone(), version.clone(), remaining.clone(), stop.clone());
            let (prefix, path, tag, batch) = (args.prefix.clone(), path.clone(), format!("{tag}-{w}"), args.batch);
            std::thread::spawn(move || -> anyhow::Result<(u64, u64, u64, u64, Histogram<u64>)> {
                let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
                let (mut ok, mut failed, mut batches, mut errors) = (0u64, 0u64, 0u64, 0u64);
                let mut http = Http::new(addr);
                let mut next = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let n = match remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
                        r.checked_sub(r.min(batch)).filter(|_| r > 0)
                    }) {
                        Ok(r) => r.min(batch),
                        Err(_) => break,
                    };
                    let body = batch_body(&prefix, &tag, next, n, &version, &values);
                    next += n;
                    let t = Instant::now();
                    match http.request("POST", &path, Some(&token), &body) {
                        Ok((200, bytes)) => {
                            hist.saturating_record(t.elapsed().as_micros() as u64);
                            batches += 1;
                            let v: serde_json::Value = serde_json::from_slice(&bytes)?;
                            match v["data"].as_array() {
                                Some(items) if v["status"] == 1 => {
                                    let good = items.iter().filter(|i| i["msg"] == "success").count() as u64;
                                    ok += good;
                                    failed += items.len() as u64 - good;
                                }
                                _ => {
                                    failed += n;
                                    if errors == 0 {
                                        eprintln!("idnode-bench: batch refused: {}", v["message"]);
                                    }
                                    errors += 1;
                                }
                            }
                        }
                        Ok((status, _)) => {
                            errors += 1;
                            failed += n;
                            eprintln!("idnode-bench: HTTP {status}");
                        }
                        Err(e) => {
                            errors += 1;
                            failed += n;
                            eprintln!("idnode-bench: request failed: {e:#}");
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                }
                Ok((ok, failed, batches, errors, hist))
            })
        })
        .collect();
    let mut report = SnmsReport {
        run_id: tag.clone(),
        identifiers_ok: 0,
        identifiers_failed: 0,
        batches: 0,
        request_errors: 0,
        seconds: 0.0,
        identifiers_per_sec: 0.0,
        batch_latency_ms_p50: 0.0,
        batch_latency_ms_p99: 0.0,
        batch_latency_ms_max: 0.0,
        batch: args.batch,
        concurrency: args.concurrency.max(1),
    };
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for w in workers {
        let (ok, failed, batches, errors, h) = w.join().map_err(|_| anyhow::anyhow!("a worker panicked"))??;
        report.identifiers_ok += ok;
        report.identifiers_failed += failed;
        report.batches += batches;
        report.request_errors += errors;
        hist.add(h)?;
    }
    stop.store(true, Ordering::Relaxed);
    report.seconds = started.elapsed().as_secs_f64();
    report.identifiers_per_sec = report.identifiers_ok as f64 / report.seconds.max(1e-9);
    report.batch_latency_ms_p50 = hist.value_at_quantile(0.5) as f64 / 1000.0;
    report.batch_latency_ms_p99 = hist.value_at_quantile(0.99) as f64 / 1000.0;
    report.batch_latency_ms_max = hist.max() as f64 / 1000.0;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "snms batchCreate (run {}): {} identifiers ok, {} failed, {} batches of {} on {} connections in {:.2} s\n  \
             {:.0} identifiers/s durable; batch latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            report.run_id,
            report.identifiers_ok,
            report.identifiers_failed,
            report.batches,
            report.batch,
            report.concurrency,
            report.seconds,
            report.identifiers_per_sec,
            report.batch_latency_ms_p50,
            report.batch_latency_ms_p99,
            report.batch_latency_ms_max
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_loopback_and_builds_bodies() {
        assert!(loopback("10.0.0.1:8000").is_err());
        assert!(loopback("localhost:8000").is_err());
        assert!(loopback("127.0.0.1:8000").is_ok());
        assert!(loopback("[::1]:8000").is_ok());
        let vals = values_json("2000:model:A,2001:batch:B").unwrap();
        let body = batch_body("88.1", "t", 5, 2, "\"1.0\"", &vals);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v[1]["handle"], "88.1/t-6");
        assert_eq!(v[0]["value"][1]["data"]["value"], "B");
        assert!(values_json("x").is_err());
    }
}
