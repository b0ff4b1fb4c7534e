//! `idnode_request_duration_seconds{door}`: the request-duration histogram
//! of the front doors, kept here as bucket counters and written into the
//! `/metrics` text after the recorder's own metrics ([`render`]).
//!
//! Why not the recorder's histogram: the Prometheus exporter keeps every
//! recorded value (with a clock read and a lock-free list push each) until
//! the next scrape, then sorts them into buckets. At the DNS UDP door's
//! hundreds of thousands of answers a second that was about 3% of the
//! node's CPU per answer, more than the answer cache lookup
//! (`docs/performance.md`, "Latency histogram of our own", issue 10). Here
//! a value is one comparison against the bucket bounds and two atomic
//! additions; a batching door ([`Local`]) adds a batch's values in one
//! go. Every request is still counted, in its bucket, exactly: `_count` is
//! the number of requests timed, as before.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::names;

/// Upper bounds (seconds) of the buckets: a cached resolution takes tens of
/// microseconds, a durable write a few milliseconds, a recursive lookup up
/// to seconds.
pub const BOUNDS: [f64; 17] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

/// [`BOUNDS`] in nanoseconds (what a value is compared with).
const BOUNDS_NS: [u64; BOUNDS.len()] = {
    let mut ns = [0; BOUNDS.len()];
    let mut i = 0;
    while i < BOUNDS.len() {
        ns[i] = (BOUNDS[i] * 1e9 + 0.5) as u64;
        i += 1;
    }
    ns
};

/// The family's `# HELP` text.
const HELP: &str = "Time from a complete request to its answer.";

/// Buckets: one per bound, and the last for values above every bound.
const BUCKETS: usize = BOUNDS.len() + 1;

/// A duration's bucket and its nanoseconds.
#[inline]
fn bucket(d: Duration) -> (usize, u64) {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    (BOUNDS_NS.iter().position(|&b| ns <= b).unwrap_or(BOUNDS.len()), ns)
}

/// One door's histogram.
#[derive(Debug)]
pub struct Latency {
    door: &'static str,
    counts: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

impl Latency {
    /// Counts one request that took `d`.
    #[inline]
    pub fn record(&self, d: Duration) {
        let (i, ns) = bucket(d);
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// Adds what `local` holds, and empties it.
    pub fn add(&self, local: &mut Local) {
        for (c, n) in self.counts.iter().zip(local.counts.iter_mut()) {
            if *n > 0 {
                c.fetch_add(u64::from(std::mem::take(n)), Relaxed);
            }
        }
        if local.sum_ns > 0 {
            self.sum_ns.fetch_add(std::mem::take(&mut local.sum_ns), Relaxed);
        }
    }
}

/// Values kept by one thread and added to a [`Latency`] at once
/// ([`Latency::add`]): a batching door touches the shared counters once per
/// batch, not once per request.
#[derive(Debug, Default)]
pub struct Local {
    counts: [u32; BUCKETS],
    sum_ns: u64,
}

impl Local {
    /// Counts `n` requests that took `d` each.
    #[inline]
    pub fn record_many(&mut self, d: Duration, n: u32) {
        let (i, ns) = bucket(d);
        self.counts[i] += n;
        self.sum_ns = self.sum_ns.saturating_add(ns.saturating_mul(u64::from(n)));
    }
}

/// Every door's histogram, in the order first asked for.
static DOORS: Mutex<Vec<Arc<Latency>>> = Mutex::new(Vec::new());

/// `door`'s histogram (the same one for every caller naming that door).
pub fn for_door(door: &'static str) -> Arc<Latency> {
    let mut doors = DOORS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = doors.iter().find(|l| l.door == door) {
        return l.clone();
    }
    let l = Arc::new(Latency { door, counts: std::array::from_fn(|_| AtomicU64::new(0)), sum_ns: AtomicU64::new(0) });
    doors.push(l.clone());
    l
}

/// Appends the histograms (Prometheus text format 0.0.4, as the exporter
/// writes its own: cumulative `_bucket` lines with `le`, then `+Inf`,
/// `_sum` in seconds, `_count`) to `out`, doors in name order. Nothing
/// before the first door asked for its histogram.
pub fn render(out: &mut String) {
    let mut doors: Vec<Arc<Latency>> = DOORS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if doors.is_empty() {
        return;
    }
    doors.sort_by_key(|l| l.door);
    let name = names::REQUEST_DURATION;
    let _ = writeln!(out, "# HELP {name} {HELP}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for l in doors {
        let door = l.door;
        let mut total = 0u64;
        for (i, c) in l.counts.iter().enumerate() {
            total += c.load(Relaxed);
            match BOUNDS.get(i) {
                Some(le) => {
                    let _ = writeln!(out, "{name}_bucket{{door=\"{door}\",le=\"{le}\"}} {total}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{door=\"{door}\",le=\"+Inf\"}} {total}");
                }
            }
        }
        let sum = l.sum_ns.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{door=\"{door}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{door=\"{door}\"}} {total}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_inclusive_upper_bounds() {
        assert_eq!(bucket(Duration::from_nanos(0)).0, 0);
        assert_eq!(bucket(Duration::from_micros(25)).0, 0, "le is inclusive");
        assert_eq!(bucket(Duration::from_nanos(25_001)).0, 1);
        assert_eq!(bucket(Duration::from_millis(1)).0, 5);
        assert_eq!(bucket(Duration::from_secs(5)).0, 16);
        assert_eq!(bucket(Duration::from_secs(6)).0, 17, "above every bound: +Inf only");
        assert_eq!(bucket(Duration::MAX).0, 17);
        for (b, ns) in BOUNDS.iter().zip(BOUNDS_NS) {
            assert_eq!((b * 1e9).round() as u64, ns);
        }
    }

    #[test]
    fn renders_cumulative_buckets_sum_and_count() {
        // A door name of this test only: the registry is process-wide.
        let l = for_door("test-latency-render");
        assert!(Arc::ptr_eq(&l, &for_door("test-latency-render")), "one histogram per door");
        l.record(Duration::from_micros(10));
        let mut local = Local::default();
        local.record_many(Duration::from_micros(40), 2);
        local.record_many(Duration::from_secs(7), 1);
        l.add(&mut local);
        l.add(&mut local); // emptied: adds nothing
        let mut out = String::new();
        render(&mut out);
        let door = "door=\"test-latency-render\"";
        let line = |s: &str| out.lines().any(|x| x == s);
        assert!(out.starts_with("# HELP idnode_request_duration_seconds "), "{out}");
        assert!(line("# TYPE idnode_request_duration_seconds histogram"), "{out}");
        assert!(line(&format!("idnode_request_duration_seconds_bucket{{{door},le=\"0.000025\"}} 1")), "{out}");
        assert!(line(&format!("idnode_request_duration_seconds_bucket{{{door},le=\"0.00005\"}} 3")), "{out}");
        assert!(line(&format!("idnode_request_duration_seconds_bucket{{{door},le=\"5\"}} 3")), "{out}");
        assert!(line(&format!("idnode_request_duration_seconds_bucket{{{door},le=\"+Inf\"}} 4")), "{out}");
        assert!(line(&format!("idnode_request_duration_seconds_sum{{{door}}} 7.00009")), "{out}");
        assert!(line(&format!("idnode_request_duration_seconds_count{{{door}}} 4")), "{out}");
        // The console reads these lines back.
        let snap = crate::console::figures::Snapshot::parse(&out);
        assert!(snap.quantile("test-latency-render", 0.5).is_some());
    }
}
