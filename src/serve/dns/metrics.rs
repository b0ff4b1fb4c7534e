//! Metrics of the DNS doors: `idnode_requests_total{door, opcode, rc}` as
//! every door (opcode = the zone's scheme, rc = the DNS RCODE) plus
//! `idnode_dns_truncated_total{door}`, and the shared latency histogram and
//! rate-limit counters through [`DoorMetrics`]. Doors: `dns-udp`,
//! `dns-tcp`, `dns-tls`, `dns-quic`. Labels from fixed sets only.

use std::time::Duration;

use idnode_resolver::dns::{Outcome, ZoneScheme};
use metrics::{Counter, counter};

use crate::serve::door_metrics::DoorMetrics;
use crate::telemetry::latency::Local;
use crate::telemetry::names;

const SCHEMES: [Option<ZoneScheme>; 5] =
    [None, Some(ZoneScheme::Oid), Some(ZoneScheme::Gs1), Some(ZoneScheme::Ecode), Some(ZoneScheme::Vaa)];
/// NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED.
const RCODES: [u16; 6] = [0, 1, 2, 3, 4, 5];

pub struct DnsMetrics {
    pub door: Arc<DoorMetrics>,
    name: &'static str,
    hot: Vec<Counter>,
    truncated: Counter,
    /// `idnode_udp_dropped_total{reason="dns-malformed"}`, registered once.
    malformed: Counter,
}

use std::sync::Arc;

impl std::fmt::Debug for DnsMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsMetrics").field("door", &self.name).finish()
    }
}

fn label(s: Option<ZoneScheme>) -> &'static str {
    s.map_or("none", ZoneScheme::as_str)
}

impl DnsMetrics {
    pub fn new(door: &'static str) -> Self {
        let mut hot = Vec::new();
        for s in SCHEMES {
            for rc in RCODES {
                hot.push(counter!(names::REQUESTS, "door" => door, "opcode" => label(s), "rc" => rc.to_string()));
            }
        }
        DnsMetrics {
            door: Arc::new(DoorMetrics::new(door)),
            name: door,
            hot,
            truncated: counter!(names::DNS_TRUNCATED, "door" => door),
            malformed: counter!(names::UDP_DROPPED, "reason" => "dns-malformed"),
        }
    }

    /// Counts one answered (or dropped) query.
    pub fn observe(&self, o: &Outcome, elapsed: Duration) {
        let Some(rc) = o.rcode else {
            self.malformed.increment(1);
            return;
        };
        match slot(o.scheme, rc) {
            Some(i) => self.hot[i].increment(1),
            None => self.count_rare(o.scheme, rc),
        }
        if o.truncated {
            self.truncated.increment(1);
        }
        self.door.record_latency(elapsed);
    }

    /// Adds a batch's tally to the shared counters and histogram, and
    /// empties it.
    pub fn flush(&self, t: &mut BatchTally) {
        for (i, n) in t.hot.iter_mut().enumerate() {
            if *n > 0 {
                self.hot[i].increment(u64::from(*n));
                *n = 0;
            }
        }
        if t.truncated > 0 {
            self.truncated.increment(u64::from(t.truncated));
            t.truncated = 0;
        }
        if t.malformed > 0 {
            self.malformed.increment(u64::from(t.malformed));
            t.malformed = 0;
        }
        self.door.add_latencies(&mut t.latency);
    }

    fn count_rare(&self, scheme: Option<ZoneScheme>, rc: u16) {
        counter!(names::REQUESTS, "door" => self.name, "opcode" => label(scheme), "rc" => rc.to_string()).increment(1);
    }
}

/// The index of (scheme, rcode) in `DnsMetrics::hot`.
fn slot(scheme: Option<ZoneScheme>, rc: u16) -> Option<usize> {
    let si = SCHEMES.iter().position(|s| *s == scheme).unwrap_or(0);
    RCODES.iter().position(|r| *r == rc).map(|ri| si * RCODES.len() + ri)
}

/// One UDP batch's metrics, kept by its serving thread and added to the
/// shared counters once per batch ([`DnsMetrics::flush`]). The two serving
/// threads otherwise took turns on the same counter and histogram cache
/// lines for every query; now each batch touches them in one run.
#[derive(Debug)]
pub struct BatchTally {
    hot: [u32; SCHEMES.len() * RCODES.len()],
    truncated: u32,
    malformed: u32,
    /// Answered queries noted since the batch's latency was recorded.
    untimed: u32,
    latency: Local,
}

impl BatchTally {
    pub fn new() -> Self {
        BatchTally {
            hot: [0; SCHEMES.len() * RCODES.len()],
            truncated: 0,
            malformed: 0,
            untimed: 0,
            latency: Local::default(),
        }
    }

    /// Notes one answered (or dropped) query; a response code outside the
    /// usual six goes straight to `metrics`. Its duration is the batch's
    /// ([`BatchTally::timed`]).
    #[inline]
    pub fn note(&mut self, metrics: &DnsMetrics, o: &Outcome) {
        let Some(rc) = o.rcode else {
            self.malformed += 1;
            return;
        };
        match slot(o.scheme, rc) {
            Some(i) => self.hot[i] += 1,
            None => metrics.count_rare(o.scheme, rc),
        }
        self.truncated += u32::from(o.truncated);
        self.untimed += 1;
    }

    /// Records `elapsed` for every answered query noted since the last
    /// call: a batch's answers leave together, in one `sendmmsg`, so each
    /// query's time is from the batch's receipt to its answers being ready
    /// to send (one clock read per batch, not one per query).
    pub fn timed(&mut self, elapsed: Duration) {
        if self.untimed > 0 {
            self.latency.record_many(elapsed, std::mem::take(&mut self.untimed));
        }
    }
}
