//! Metrics of the DNS doors: `idnode_requests_total{door, opcode, rc}` as
//! every door (opcode = the zone's scheme, rc = the DNS RCODE) plus
//! `idnode_dns_truncated_total{door}`, and the shared latency histogram and
//! rate-limit counters through [`DoorMetrics`]. Doors: `dns-udp`,
//! `dns-tcp`, `dns-tls`, `dns-quic`. Labels from fixed sets only.

use std::time::Duration;

use idnode_resolver::dns::{Outcome, ZoneScheme};
use metrics::{Counter, counter};

use crate::serve::door_metrics::DoorMetrics;
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
        }
    }

    /// Counts one answered (or dropped) query.
    pub fn observe(&self, o: &Outcome, elapsed: Duration) {
        let Some(rc) = o.rcode else {
            self.door.udp_dropped("dns-malformed");
            return;
        };
        let si = SCHEMES.iter().position(|s| *s == o.scheme).unwrap_or(0);
        match RCODES.iter().position(|r| *r == rc) {
            Some(ri) => self.hot[si * RCODES.len() + ri].increment(1),
            None => counter!(names::REQUESTS, "door" => self.name, "opcode" => label(o.scheme), "rc" => rc.to_string())
                .increment(1),
        }
        if o.truncated {
            self.truncated.increment(1);
        }
        self.door.record_latency(elapsed);
    }
}
