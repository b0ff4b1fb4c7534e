//! The overview's figures, from counters only (never a scan of records):
//! the node's own Prometheus registry (requests by door/opcode/rc, the
//! request-duration histograms, the record-count gauge, federation gauges),
//! the store's per-prefix day counters, the data directory's file sizes and
//! the file system's free space.
//!
//! The slow figures (day counters, sizes) are re-read when the store's
//! change sequence moved (at the latest on the next render), so the
//! overview is right on first view and after writes.
//!
//! A [`Sampler`] task snapshots the request counters every
//! [`SAMPLE_EVERY`] and keeps one hour of samples, so the page shows
//! resolutions per second now and over the last hour per door without
//! keeping anything per request. Parsing the exposition text is pure
//! ([`Snapshot::parse`]) and unit-tested.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use idnode_registry::model::day_of;
use idnode_registry::store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::telemetry::names;

/// How often the sampler snapshots the counters.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Samples kept (one hour).
const KEEP: usize = 720;
/// Days of registrations summed for the overview's chart.
pub const OVERVIEW_DAYS: u32 = 30;

/// The parts of one `/metrics` exposition the console uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// `idnode_requests_total` by (door, opcode, rc).
    pub requests: BTreeMap<(String, String, String), f64>,
    /// `idnode_request_duration_seconds_bucket` by door: (le, cumulative count).
    pub buckets: BTreeMap<String, Vec<(f64, f64)>>,
    /// Every unlabelled or labelled sample by metric name (summed over labels).
    pub totals: BTreeMap<String, f64>,
}

fn labels(s: &str) -> BTreeMap<&str, &str> {
    let mut out = BTreeMap::new();
    for kv in s.split("\",") {
        if let Some((k, v)) = kv.split_once("=\"") {
            out.insert(k.trim().trim_start_matches(','), v.trim_end_matches('"'));
        }
    }
    out
}

impl Snapshot {
    /// Parses the Prometheus text exposition (comments skipped).
    pub fn parse(text: &str) -> Snapshot {
        let mut s = Snapshot::default();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else { continue };
            let Ok(v) = value.trim().parse::<f64>() else { continue };
            let (name, lab) = match series.split_once('{') {
                Some((n, rest)) => (n, labels(rest.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            *s.totals.entry(name.to_owned()).or_insert(0.0) += v;
            if name == names::REQUESTS {
                let k = |n: &str| lab.get(n).copied().unwrap_or("").to_owned();
                *s.requests.entry((k("door"), k("opcode"), k("rc"))).or_insert(0.0) += v;
            } else if name.strip_suffix("_bucket") == Some(names::REQUEST_DURATION) {
                let door = lab.get("door").copied().unwrap_or("").to_owned();
                let le = match lab.get("le").copied() {
                    Some("+Inf") => f64::INFINITY,
                    Some(x) => x.parse().unwrap_or(f64::INFINITY),
                    None => continue,
                };
                s.buckets.entry(door).or_default().push((le, v));
            }
        }
        for b in s.buckets.values_mut() {
            b.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        s
    }

    /// Resolutions (opcode 1) answered so far, by door.
    pub fn resolutions_by_door(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for ((door, op, _), v) in &self.requests {
            if op == "1" {
                *out.entry(door.clone()).or_insert(0.0) += v;
            }
        }
        out
    }

    /// Requests by response code, over every door.
    pub fn rc_mix(&self) -> BTreeMap<u32, f64> {
        let mut out = BTreeMap::new();
        for ((_, _, rc), v) in &self.requests {
            if *v > 0.0 {
                *out.entry(rc.parse().unwrap_or(0)).or_insert(0.0) += v;
            }
        }
        out
    }

    /// The `q` quantile (0..1) of a door's request durations in seconds,
    /// interpolated linearly inside the bucket that holds it.
    pub fn quantile(&self, door: &str, q: f64) -> Option<f64> {
        let b = self.buckets.get(door)?;
        let total = b.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let (mut lo_le, mut lo_n) = (0.0, 0.0);
        for &(le, n) in b {
            if n >= rank {
                if le.is_infinite() {
                    return Some(lo_le);
                }
                let span = n - lo_n;
                let frac = if span > 0.0 { (rank - lo_n) / span } else { 1.0 };
                return Some(lo_le + (le - lo_le) * frac);
            }
            (lo_le, lo_n) = (le, n);
        }
        Some(lo_le)
    }

    /// A gauge or counter total, if the node exports it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.totals.get(name).copied()
    }
}

/// One sample of the resolution counters.
#[derive(Debug, Clone)]
struct Sample {
    at: Instant,
    by_door: BTreeMap<String, f64>,
}

/// Slow-moving figures refreshed by the sampler (store sizes, day counters).
#[derive(Debug, Clone, Default)]
pub struct Slow {
    /// Registrations per day, oldest first: (day, count), [`OVERVIEW_DAYS`] days.
    pub registrations: Vec<(u32, u64)>,
    /// Resolutions per day counted by the store, same days.
    pub resolutions: Vec<(u32, u64)>,
    pub prefixes: usize,
    pub store_bytes: u64,
    pub free_bytes: Option<u64>,
}

/// Keeps an hour of samples; refreshed by a task that ends with the console.
#[derive(Debug)]
pub struct Sampler {
    samples: Mutex<VecDeque<Sample>>,
    slow: Mutex<SlowAt>,
    metrics: Option<PrometheusHandle>,
    store: Arc<dyn Store>,
    data_dir: std::path::PathBuf,
    ids: Mutex<IdsBase>,
}

/// The slow figures and the store's change sequence they were read at.
#[derive(Debug, Default)]
struct SlowAt {
    slow: Slow,
    seq: Option<u64>,
    at: Option<Instant>,
}

/// The record-count gauge last seen and the registrations counted by then
/// (see [`Sampler::identifiers`]).
#[derive(Debug, Default)]
struct IdsBase {
    gauge: Option<f64>,
    regs: u64,
}

impl Sampler {
    /// A sampler and its task (which stops when the last `Arc` is dropped).
    /// The task reads the slow figures on its first tick, at once; a render
    /// before that reads them itself, so the first view is right.
    pub fn start(
        metrics: Option<PrometheusHandle>,
        store: Arc<dyn Store>,
        data_dir: std::path::PathBuf,
    ) -> Arc<Sampler> {
        let s = Arc::new(Sampler {
            samples: Mutex::new(VecDeque::new()),
            slow: Mutex::new(SlowAt::default()),
            metrics,
            store,
            data_dir,
            ids: Mutex::new(IdsBase::default()),
        });
        let weak: Weak<Sampler> = Arc::downgrade(&s);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            let mut n = 0u64;
            loop {
                tick.tick().await;
                let Some(s) = weak.upgrade() else { break };
                // Day counters after writes (the store's change sequence
                // moved), and every 30 s for resolutions and file sizes;
                // then the request counters (and a new record count, noted
                // against fresh registration figures).
                let force = n.is_multiple_of(6);
                let s2 = s.clone();
                let _ = tokio::task::spawn_blocking(move || s2.refresh_slow(force)).await;
                s.sample();
                n += 1;
            }
        });
        s
    }

    /// Re-reads the slow figures if the store changed since the last read
    /// (or `force`). One counter range read per prefix; no record is read.
    pub fn refresh_slow(&self, force: bool) {
        let seq = self.store.last_seq();
        {
            let g = self.slow.lock().unwrap_or_else(|e| e.into_inner());
            let recent = g.at.is_some_and(|t| t.elapsed() < Duration::from_millis(500));
            if g.seq == Some(seq) && (!force || recent) {
                return;
            }
        }
        let slow = slow_figures(&*self.store, &self.data_dir);
        *self.slow.lock().unwrap_or_else(|e| e.into_inner()) =
            SlowAt { slow, seq: Some(seq), at: Some(Instant::now()) };
    }

    /// The slow figures, refreshed first if the store changed since they
    /// were read (blocking: call off the async threads).
    pub fn slow_fresh(&self) -> Slow {
        self.refresh_slow(false);
        self.slow()
    }

    /// Identifiers in the store: the record-count gauge (counted by the
    /// daemon at start and every few minutes after writes) plus the
    /// registrations the day counters saw since that gauge value was first
    /// seen, so the figure follows registrations at once without a count
    /// (deletions show at the next count). `None` before the first count.
    pub fn identifiers(&self, gauge: Option<f64>, slow: &Slow) -> Option<f64> {
        let regs: u64 = slow.registrations.iter().map(|x| x.1).sum();
        let g = gauge?;
        let mut b = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if b.gauge != Some(g) {
            *b = IdsBase { gauge: Some(g), regs };
        }
        Some(g + regs.saturating_sub(b.regs) as f64)
    }

    /// The current exposition, parsed (empty without a recorder).
    pub fn snapshot(&self) -> Snapshot {
        self.metrics.as_ref().map(|m| Snapshot::parse(&crate::telemetry::render(m))).unwrap_or_default()
    }

    fn sample(&self) {
        let snap = self.snapshot();
        let by_door = snap.resolutions_by_door();
        // Notes a new record count as soon as the daemon sets it.
        let _ = self.identifiers(snap.get(names::STORE_RECORDS), &self.slow());
        let mut q = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(Sample { at: Instant::now(), by_door });
        while q.len() > KEEP {
            q.pop_front();
        }
    }

    /// The slow figures as last read.
    pub fn slow(&self) -> Slow {
        self.slow.lock().unwrap_or_else(|e| e.into_inner()).slow.clone()
    }

    /// Resolutions per second by door: over the last sample interval (now,
    /// against `current`) and over the whole kept window (up to an hour).
    pub fn rates(&self, current: &BTreeMap<String, f64>) -> BTreeMap<String, (f64, f64)> {
        let q = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let mut out = BTreeMap::new();
        for (door, &v) in current {
            let rate = |s: Option<&Sample>| -> f64 {
                let Some(s) = s else { return 0.0 };
                let dt = now.duration_since(s.at).as_secs_f64();
                let before = s.by_door.get(door).copied().unwrap_or(0.0);
                if dt > 0.05 { ((v - before) / dt).max(0.0) } else { 0.0 }
            };
            // "now": against the newest sample at least one second old.
            let recent = q.iter().rev().find(|s| now.duration_since(s.at) >= Duration::from_secs(1));
            out.insert(door.clone(), (rate(recent), rate(q.front())));
        }
        out
    }

    /// Per-minute resolution rates over the kept window, all doors summed
    /// (for the hour chart): (seconds ago, per second).
    pub fn hour_series(&self) -> Vec<(u64, f64)> {
        let q = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let total = |s: &Sample| s.by_door.values().sum::<f64>();
        q.iter()
            .zip(q.iter().skip(1))
            .map(|(a, b)| {
                let dt = b.at.duration_since(a.at).as_secs_f64().max(0.001);
                (now.duration_since(b.at).as_secs(), ((total(b) - total(a)) / dt).max(0.0))
            })
            .collect()
    }
}

/// Registrations and resolutions per day over every prefix (store day
/// counters: one range read per prefix), the store's size on disk and the
/// free space of its file system.
pub fn slow_figures(store: &dyn Store, data_dir: &Path) -> Slow {
    let today = day_of(crate::unix_now());
    let from = today.saturating_sub(OVERVIEW_DAYS - 1);
    let mut reg: BTreeMap<u32, u64> = (from..=today).map(|d| (d, 0)).collect();
    let mut res = reg.clone();
    let prefixes = store.list_prefixes().unwrap_or_default();
    for p in &prefixes {
        for (d, c) in store.counters(&p.prefix, from, today).unwrap_or_default() {
            *reg.entry(d).or_insert(0) += c.registrations;
            *res.entry(d).or_insert(0) += c.resolutions;
        }
    }
    Slow {
        registrations: reg.into_iter().collect(),
        resolutions: res.into_iter().collect(),
        prefixes: prefixes.len(),
        store_bytes: dir_size(&data_dir.join("store")),
        free_bytes: nix::sys::statvfs::statvfs(data_dir)
            .ok()
            .map(|v| v.blocks_available().saturating_mul(v.fragment_size())),
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE idnode_requests_total counter
idnode_requests_total{door=\"handle-udp\",opcode=\"1\",rc=\"1\"} 90
idnode_requests_total{door=\"handle-udp\",opcode=\"1\",rc=\"100\"} 10
idnode_requests_total{door=\"handle-tcp\",opcode=\"1\",rc=\"1\"} 5
idnode_requests_total{door=\"handle-tcp\",opcode=\"100\",rc=\"1\"} 7
idnode_store_records 1234
idnode_request_duration_seconds_bucket{door=\"handle-udp\",le=\"0.001\"} 50
idnode_request_duration_seconds_bucket{door=\"handle-udp\",le=\"0.002\"} 100
idnode_request_duration_seconds_bucket{door=\"handle-udp\",le=\"+Inf\"} 100
idnode_request_duration_seconds_sum{door=\"handle-udp\"} 0.1
";

    #[test]
    fn parses_counters_and_quantiles() {
        let s = Snapshot::parse(TEXT);
        let r = s.resolutions_by_door();
        assert_eq!(r["handle-udp"], 100.0);
        assert_eq!(r["handle-tcp"], 5.0);
        assert_eq!(s.rc_mix()[&1], 102.0);
        assert_eq!(s.rc_mix()[&100], 10.0);
        assert_eq!(s.get(names::STORE_RECORDS), Some(1234.0));
        let p50 = s.quantile("handle-udp", 0.5).unwrap();
        assert!((p50 - 0.001).abs() < 1e-9, "{p50}");
        let p99 = s.quantile("handle-udp", 0.99).unwrap();
        assert!(p99 > 0.0019 && p99 <= 0.002, "{p99}");
        assert_eq!(s.quantile("handle-tcp", 0.5), None);
    }
}
