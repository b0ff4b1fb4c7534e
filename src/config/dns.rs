//! `[dns]`: the DNS front (issue 10; idis-node.md §7): NAPTR answers for
//! OID, Ecode, GS1 and VAA names over UDP and TCP (`listen`), DNS over TLS
//! (`tls_listen`) and DNS over QUIC (`quic_listen`, RFC 9250). Off by
//! default; DoT and DoQ reuse the HTTP doors' certificate (`[http.tls]`).
//! Response-rate limiting per client network uses `[limits]`
//! (`per_client_rps`, `per_client_burst`, `per_client_slip`, networks).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::Problems;

/// `[dns]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    pub enabled: bool,
    /// UDP and TCP.
    pub listen: SocketAddr,
    /// DNS over TLS (RFC 7858; 853 in production); absent = off.
    pub tls_listen: Option<SocketAddr>,
    /// DNS over QUIC (RFC 9250; UDP 853 in production); absent = off.
    pub quic_listen: Option<SocketAddr>,
    /// Largest UDP answer whatever a client's EDNS(0) buffer says (512..=4096).
    pub max_udp_payload: u16,
    /// UDP sockets (threads) on `listen`; 0 = one per CPU.
    pub udp_sockets: usize,
    /// Zones answered, one per `[[dns.zones]]`.
    pub zones: Vec<DnsZone>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 5353)),
            tls_listen: None,
            quic_listen: None,
            max_udp_payload: 1232,
            udp_sockets: 0,
            zones: Vec::new(),
        }
    }
}

/// `[[dns.zones]]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsZone {
    /// `oid` (ORS-style, arcs reversed), `gs1` (ONS 2.0.1-style), `ecode`
    /// (`MD.NSI.V`) or `vaa` (`suffix.<prefix reversed>`).
    pub scheme: String,
    /// The zone apex, e.g. `oid-res.org`.
    pub origin: String,
    /// NS names; the first is the SOA MNAME.
    pub name_servers: Vec<String>,
    /// SOA RNAME, e.g. `hostmaster.example.cn`.
    pub hostmaster: String,
    #[serde(default = "one")]
    pub serial: u32,
    #[serde(default = "ttl")]
    pub ttl: u32,
    #[serde(default = "negative_ttl")]
    pub negative_ttl: u32,
    /// NAPTR `services`; empty = the scheme's default (see docs/architecture.md).
    #[serde(default)]
    pub naptr_service: String,
}

fn one() -> u32 {
    1
}
fn ttl() -> u32 {
    300
}
fn negative_ttl() -> u32 {
    60
}

/// The NAPTR service of a scheme when the zone sets none. X.672's exact
/// service syntax is not verified (idis-node.md §7.1); these are ours.
pub fn default_service(scheme: &str) -> &'static str {
    match scheme {
        "oid" => "ORS+UINF",
        "gs1" => "x-gs1+http",
        "ecode" => "x-ecode+http",
        _ => "x-handle+http",
    }
}

impl DnsConfig {
    pub(super) fn problems(&self, p: &mut Problems) {
        if self.enabled && self.zones.is_empty() {
            p.add("dns.zones", "dns is enabled but no zone is configured");
        }
        if !(512..=4096).contains(&self.max_udp_payload) {
            p.add("dns.max_udp_payload", "must be between 512 and 4096");
        }
        for (i, z) in self.zones.iter().enumerate() {
            if !matches!(z.scheme.as_str(), "oid" | "gs1" | "ecode" | "vaa") {
                p.add(format!("dns.zones[{i}].scheme"), format!("{:?}: expected oid, gs1, ecode or vaa", z.scheme));
            }
            if let Err(why) = super::check_zone(&z.origin) {
                p.add(format!("dns.zones[{i}].origin"), why);
            }
            if z.name_servers.is_empty() {
                p.add(format!("dns.zones[{i}].name_servers"), "at least one name server");
            }
            for n in z.name_servers.iter().chain([&z.hostmaster]) {
                if let Err(why) = super::check_zone(n) {
                    p.add(format!("dns.zones[{i}]"), why);
                }
            }
            if self.zones[..i]
                .iter()
                .any(|o| o.origin.trim_end_matches('.').eq_ignore_ascii_case(z.origin.trim_end_matches('.')))
            {
                p.add(format!("dns.zones[{i}].origin"), "configured twice");
            }
        }
    }
}
