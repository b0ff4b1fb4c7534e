//! The DNS front's query logic (issue 10; idis-node.md §7): a sans-IO
//! function from one DNS request to one DNS response, shared by every DNS
//! transport (UDP, TCP, DoT, DoQ listeners live in the daemon's
//! `src/serve/dns/`).
//!
//! * Zones are configured per scheme ([`ZoneScheme`]): an ORS-style OID zone
//!   (arcs reversed), an ONS-style GS1 zone, an Ecode zone and a VAA zone.
//!   Names map to identifiers through the grammar in
//!   `idnode_registry::ident`, and identifiers to records through the alias
//!   table (OID, Ecode, GS1) or directly (VAA): the store's own indexes are
//!   the name index, so a miss costs one failed parse or one index probe,
//!   never a scan.
//! * A name with a record answers NAPTR records built from the record's
//!   public URL-like values (`flags "U"`, regexp `!^.*$!<url>!`); the zone
//!   apex answers SOA and NS; an unknown name is NXDOMAIN with the SOA in
//!   the authority section; a name outside every zone is REFUSED; a request
//!   that does not decode is FORMERR (or dropped when not even the header
//!   can be read, or when it is itself a response).
//! * EDNS(0): the client's buffer size bounds a UDP answer (512 without
//!   EDNS, at most [`DnsConfig::max_udp_payload`]); an answer that does not
//!   fit is sent empty with TC set.
//! * The common request (one plain question, at most a bare EDNS(0) OPT)
//!   is answered by the fast path of `wire.rs` (no hickory message, no
//!   heap allocation in the wire handling) — same bytes as the hickory path
//!   (`tests_wire.rs`), which answers everything else.
//! * Empty non-terminals (e.g. `156.2.1.oid-res.org` when only deeper OIDs
//!   are bound) are answered NXDOMAIN: finding them would need a scan.

mod answer_cache;
mod batch;
pub use batch::BatchBuffers;
pub mod fuzzing;
mod naptr;
mod wire;

use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use idnode_registry::ident::{ecode::Ecode, gs1::Gs1Key, oid::Oid, scheme::Scheme, vaa};
use idnode_registry::model::RecordBytes;
use idnode_registry::store::{ReadStamp, Resolution, Store};

/// A canonical alias code, formatted without allocating (OID, Ecode and
/// GS1 codes are far shorter; a longer one is not bound: `write_str` fails).
struct CodeBuf {
    buf: [u8; 256],
    len: usize,
}

impl CodeBuf {
    fn new() -> Self {
        CodeBuf { buf: [0; 256], len: 0 }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for CodeBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Which identifiers a zone holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneScheme {
    Oid,
    Gs1,
    Ecode,
    Vaa,
}

impl ZoneScheme {
    /// The `scheme` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneScheme::Oid => "oid",
            ZoneScheme::Gs1 => "gs1",
            ZoneScheme::Ecode => "ecode",
            ZoneScheme::Vaa => "vaa",
        }
    }
}

/// One zone's settings.
#[derive(Debug, Clone)]
pub struct ZoneConfig {
    pub scheme: ZoneScheme,
    /// The zone apex, e.g. `oid-res.org`.
    pub origin: String,
    /// Name servers of the zone (NS records; the first is the SOA MNAME).
    pub name_servers: Vec<String>,
    /// The SOA RNAME (mailbox as a name, `hostmaster.example.org`).
    pub hostmaster: String,
    pub serial: u32,
    /// TTL of answers, SOA and NS.
    pub ttl: u32,
    /// SOA MINIMUM (negative caching TTL, RFC 2308).
    pub negative_ttl: u32,
    /// The NAPTR `services` field of this zone's answers.
    pub naptr_service: String,
}

/// Settings of the DNS front's query logic.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    pub zones: Vec<ZoneConfig>,
    /// Largest UDP answer whatever the client advertises (RFC 9715 suggests 1232).
    pub max_udp_payload: u16,
    /// Answers kept in the answer cache (`answer_cache.rs`; 0: none).
    pub answer_cache_entries: usize,
}

/// How the request arrived (UDP answers are size-limited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    /// TCP, DoT or DoQ: answers up to 65535 bytes.
    Stream,
}

/// What [`DnsFront::answer`] did, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The response code sent; `None` when the request was dropped.
    pub rcode: Option<u16>,
    /// The zone's scheme (`None` outside every zone or before the question was read).
    pub scheme: Option<ZoneScheme>,
    pub truncated: bool,
}

impl Outcome {
    fn dropped() -> Self {
        Outcome { rcode: None, scheme: None, truncated: false }
    }
}

struct Zone {
    cfg: ZoneConfig,
    origin: Name,
    /// `origin` in presentation form, lower case, no final dot.
    origin_text: String,
    soa: Record,
    ns: Vec<Record>,
    /// `origin` in lower-case wire form (fast path zone match).
    origin_wire: Vec<u8>,
    /// The SOA record's parts in wire form (fast path).
    soa_wire: wire::SoaWire,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[error("dns zone {origin:?}: {why}")]
pub struct ConfigError {
    pub origin: String,
    pub why: String,
}

/// The DNS front: zones and the store.
pub struct DnsFront {
    zones: Vec<Zone>,
    max_udp: u16,
    store: Arc<dyn Store>,
    answers: Option<answer_cache::AnswerCache>,
}

impl std::fmt::Debug for DnsFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsFront").field("zones", &self.zones.len()).finish()
    }
}

fn name(text: &str, origin: &str) -> Result<Name, ConfigError> {
    let mut n =
        Name::from_ascii(text).map_err(|e| ConfigError { origin: origin.into(), why: format!("{text:?}: {e}") })?;
    n.set_fqdn(true);
    Ok(n.to_lowercase())
}

impl DnsFront {
    pub fn new(cfg: &DnsConfig, store: Arc<dyn Store>) -> Result<Self, ConfigError> {
        let mut zones = Vec::new();
        for z in &cfg.zones {
            let origin = name(&z.origin, &z.origin)?;
            let err = |why: &str| ConfigError { origin: z.origin.clone(), why: why.into() };
            let mname = z.name_servers.first().ok_or_else(|| err("needs at least one name server"))?;
            let soa = SOA::new(
                name(mname, &z.origin)?,
                name(&z.hostmaster, &z.origin)?,
                z.serial,
                3600,
                600,
                604_800,
                z.negative_ttl,
            );
            let soa_wire = soa_wire(&soa, &origin, z.ttl.min(z.negative_ttl));
            let soa = Record::from_rdata(origin.clone(), z.ttl.min(z.negative_ttl), RData::SOA(soa));
            let ns = z
                .name_servers
                .iter()
                .map(|n| Ok(Record::from_rdata(origin.clone(), z.ttl, RData::NS(NS(name(n, &z.origin)?)))))
                .collect::<Result<Vec<_>, ConfigError>>()?;
            let origin_text = origin.to_ascii().trim_end_matches('.').to_ascii_lowercase();
            if zones.iter().any(|o: &Zone| o.origin == origin) {
                return Err(err("configured twice"));
            }
            zones.push(Zone {
                cfg: z.clone(),
                origin_wire: wire::wire_name(&origin),
                origin,
                origin_text,
                soa,
                ns,
                soa_wire,
            });
        }
        // Longest origin first: the most specific zone wins.
        zones.sort_by_key(|z| std::cmp::Reverse(z.origin.num_labels()));
        Ok(DnsFront {
            zones,
            max_udp: cfg.max_udp_payload.max(512),
            store,
            answers: answer_cache::AnswerCache::new(cfg.answer_cache_entries),
        })
    }

    /// Answers one request into `out` (cleared first). When the outcome's
    /// `rcode` is `None` nothing is to be sent.
    pub fn answer(&self, request: &[u8], transport: Transport, out: &mut Vec<u8>) -> Outcome {
        out.clear();
        self.answer_appended(request, transport, out)
    }

    /// [`DnsFront::answer`] appending the answer to `out` (nothing when
    /// the request is dropped).
    fn answer_appended(&self, request: &[u8], transport: Transport, out: &mut Vec<u8>) -> Outcome {
        // Not even a header, or a response (never answer a response: loops).
        if request.len() < 12 || request[2] & 0x80 != 0 {
            return Outcome::dropped();
        }
        let start = out.len();
        if let Some(q) = wire::parse(request)
            && let Some(o) = self.answer_fast(&q, transport, out, None)
        {
            return o;
        }
        out.truncate(start);
        self.answer_hickory(request, transport, out)
    }

    /// The general path: the request decoded into a hickory `Message`, the
    /// answer built as one (the reference the fast path is tested against).
    fn answer_hickory(&self, request: &[u8], transport: Transport, out: &mut Vec<u8>) -> Outcome {
        let id = u16::from_be_bytes([request[0], request[1]]);
        let opcode = OpCode::from_u8((request[2] >> 3) & 0x0f);
        let req = match Message::from_vec(request) {
            Ok(m) => m,
            Err(_) => {
                let mut resp = Message::error_msg(id, opcode, ResponseCode::FormErr);
                resp.metadata.recursion_desired = request[2] & 0x01 != 0;
                return self.finish(resp, None, None, transport, out);
            }
        };
        let mut resp = Message::response(id, req.metadata.op_code);
        resp.metadata.recursion_desired = req.metadata.recursion_desired;
        resp.metadata.checking_disabled = req.metadata.checking_disabled;
        let edns = req.edns.as_ref();
        if let Some(e) = edns
            && e.version() > 0
        {
            // RFC 6891 §6.1.3: BADVERS (extended rcode 16) with our version 0.
            resp.metadata.response_code = ResponseCode::BADVERS;
            return self.finish(resp, edns, None, transport, out);
        }
        if req.metadata.op_code != OpCode::Query {
            resp.metadata.response_code = ResponseCode::NotImp;
            return self.finish(resp, edns, None, transport, out);
        }
        if req.queries.len() != 1 {
            resp.metadata.response_code = ResponseCode::FormErr;
            return self.finish(resp, edns, None, transport, out);
        }
        let q = &req.queries[0];
        resp.add_query(q.clone());
        if !matches!(q.query_class(), DNSClass::IN | DNSClass::ANY) {
            resp.metadata.response_code = ResponseCode::Refused;
            return self.finish(resp, edns, None, transport, out);
        }
        let Some(zone) = self.zones.iter().find(|z| z.origin.zone_of(q.name())) else {
            resp.metadata.response_code = ResponseCode::Refused;
            return self.finish(resp, edns, None, transport, out);
        };
        resp.metadata.authoritative = true;
        self.lookup(zone, q, &mut resp);
        self.finish(resp, edns, Some(zone.cfg.scheme), transport, out)
    }

    /// The zone `q` falls in: its index, the zone, and where its origin
    /// starts in QNAME (0: the apex). `None` outside every zone, or for a
    /// class other than IN and ANY.
    fn zone_of(&self, q: &wire::Question<'_>) -> Option<(usize, &Zone, usize)> {
        if !matches!(q.qclass, wire::CLASS_IN | wire::CLASS_ANY) {
            return None;
        }
        self.zones.iter().enumerate().find_map(|(i, z)| Some((i, z, wire::suffix_at(q.qname, &z.origin_wire)?)))
    }

    /// The answer cache's key for `q` in zone `zone_index`, written into
    /// `buf`: zone index, QNAME in lower case. `None` when the answer is
    /// not one the cache keeps (a type other than NAPTR and ANY).
    fn cache_key<'b>(
        zone_index: usize,
        q: &wire::Question<'_>,
        buf: &'b mut [u8; answer_cache::MAX_KEY],
    ) -> Option<&'b [u8]> {
        let naptr = matches!(q.qtype, wire::TYPE_NAPTR | wire::TYPE_ANY);
        if !naptr || zone_index > 255 || q.qname.len() >= buf.len() {
            return None;
        }
        let key = &mut buf[..1 + q.qname.len()];
        key[0] = zone_index as u8;
        for (k, b) in key[1..].iter_mut().zip(q.qname) {
            *k = b.to_ascii_lowercase();
        }
        Some(key)
    }

    /// The fast path ([`wire`]): answers a plain query below a zone apex or
    /// outside every zone without building hickory messages, appended to
    /// `out`; `None` leaves the request to the hickory path (what was
    /// appended to `out` is then garbage). With
    /// `held` (a batch, `batch.rs`) the answer is what the batch found in
    /// the cache under its locks, and a lookup that would change the cache
    /// returns `None` too: the request is answered after the batch.
    fn answer_fast(
        &self,
        q: &wire::Question<'_>,
        transport: Transport,
        out: &mut Vec<u8>,
        held: Option<&batch::HeldKey<'_>>,
    ) -> Option<Outcome> {
        let limit = match (transport, q.edns) {
            (Transport::Stream, _) => usize::from(u16::MAX),
            (Transport::Udp, None) => 512,
            (Transport::Udp, Some(p)) => usize::from(p.clamp(512, self.max_udp)),
        };
        let m = out.len();
        let mut comp = wire::Compressor::at(m);
        // Header with zero counts, then the question as received.
        out.extend_from_slice(&q.id.to_be_bytes());
        out.extend_from_slice(&[0x80 | u8::from(q.rd), u8::from(q.cd) << 4, 0, 1, 0, 0, 0, 0, 0, 0]);
        comp.question(out, q.qname);
        out.extend_from_slice(&q.section[q.qname.len()..]);
        let question_end = out.len();
        let zone = match held {
            Some(h) => Some((h.zone, &self.zones[h.zone], h.origin_at)),
            None => self.zone_of(q),
        };
        let (mut rcode, mut answers, mut authorities) = (0u8, 0u16, 0u16);
        let scheme = match zone {
            None => {
                rcode = 5;
                None
            }
            // The apex (SOA, NS) takes the hickory path.
            Some((_, _, 0)) => return None,
            Some((zi, zone, _)) => {
                out[m + 2] |= 0x04;
                let z = self.answer_in_zone(zi, zone, q, out, &mut comp, held)?;
                answers = z.answers;
                if !z.found {
                    rcode = 3;
                }
                // NXDOMAIN and NODATA: the zone's SOA in the authority section.
                if answers == 0 {
                    if !z.soa_written {
                        zone.soa_wire.write(out, &mut comp);
                    }
                    authorities = 1;
                }
                Some(zone.cfg.scheme)
            }
        };
        let mut truncated = false;
        if out.len() - m + if q.edns.is_some() { 11 } else { 0 } > limit {
            truncated = true;
            out.truncate(question_end);
            out[m + 2] |= 0x02;
            (answers, authorities) = (0, 0);
        }
        out[m + 3] |= rcode;
        out[m + 6..m + 8].copy_from_slice(&answers.to_be_bytes());
        out[m + 8..m + 10].copy_from_slice(&authorities.to_be_bytes());
        if q.edns.is_some() {
            out[m + 11] = 1;
            out.push(0);
            out.extend_from_slice(&41u16.to_be_bytes());
            out.extend_from_slice(&self.max_udp.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        }
        Some(Outcome { rcode: Some(u16::from(rcode)), scheme, truncated })
    }

    /// The answer records for `q` below `zone`'s apex, appended to `out`
    /// (`None` leaves the request to the hickory path). From the answer
    /// cache when it holds the name under a current stamp; otherwise read
    /// through the name's grammar and the store, and kept. A name that does
    /// not exist gets its authority section (the zone's SOA) here too when
    /// the cache keeps it, so that the bytes can be kept with it.
    fn answer_in_zone<'a>(
        &'a self,
        zone_index: usize,
        zone: &'a Zone,
        q: &wire::Question<'a>,
        out: &mut Vec<u8>,
        comp: &mut wire::Compressor<'a>,
        held: Option<&batch::HeldKey<'_>>,
    ) -> Option<InZone> {
        // A batch's request comes with what the cache holds for it.
        if let Some(h) = held {
            return from_cache(h.found, q.qname, out);
        }
        let current = |st: &_| self.store.stamp_is_current(st);
        let naptr = matches!(q.qtype, wire::TYPE_NAPTR | wire::TYPE_ANY);
        let mut key_buf = [0u8; answer_cache::MAX_KEY];
        let key = Self::cache_key(zone_index, q, &mut key_buf);
        let cache = self.answers.as_ref().filter(|_| key.is_some());
        let key = key.unwrap_or_default();
        if let Some(c) = cache {
            let (kept, stale) =
                c.read(key, current, |f| (from_cache(f, q.qname, out), f == answer_cache::Found::Stale));
            if kept.is_some() {
                return kept;
            }
            // Kept again below if the name still answers.
            if stale {
                c.forget(key);
            }
        }
        let mut text = [0u8; 256];
        let n = wire::to_text(q.qname, &mut text);
        let qname = std::str::from_utf8(&text[..n]).ok()?;
        let (rec, stamp) = self.record_of(zone, qname);
        let Some(rec) = rec else {
            let (Some(c), Some(stamp)) = (cache, stamp) else {
                return Some(InZone { found: false, answers: 0, soa_written: false });
            };
            // Kept with the SOA as written after a lower-case QNAME: its
            // compression pointers depend on QNAME's bytes, case included,
            // so another case writes its own (see `is_lower`).
            let at = out.len();
            zone.soa_wire.write(out, comp);
            c.insert_nx(key, if is_lower(q.qname) { &out[at..] } else { &[] }, stamp);
            return Some(InZone { found: false, answers: 0, soa_written: true });
        };
        if !naptr {
            return Some(InZone { found: true, answers: 0, soa_written: false });
        }
        let at = out.len();
        let urls = naptr::url_values(&rec);
        let answers = naptr::write(out, comp, q.qname, zone.cfg.ttl, &zone.cfg.naptr_service, &urls)?;
        if let (Some(c), Some(stamp), true) = (cache, stamp, answers > 0) {
            c.insert(key, &out[at..], answers, stamp);
        }
        Some(InZone { found: true, answers, soa_written: false })
    }

    /// Fills answers / authority and the rcode for a name inside `zone`.
    fn lookup(&self, zone: &Zone, q: &Query, resp: &mut Message) {
        let qtype = q.query_type();
        if q.name().num_labels() == zone.origin.num_labels() {
            match qtype {
                RecordType::SOA => resp.add_answer(zone.soa.clone()),
                RecordType::NS => resp.add_answers(zone.ns.iter().cloned()),
                RecordType::ANY => resp.add_answer(zone.soa.clone()).add_answers(zone.ns.iter().cloned()),
                _ => resp.add_authority(zone.soa.clone()),
            };
            return;
        }
        let qname = q.name().to_ascii();
        let rec = match self.record_of(zone, &qname) {
            (Some(rec), _) => rec,
            (None, _) => {
                resp.metadata.response_code = ResponseCode::NXDomain;
                resp.add_authority(zone.soa.clone());
                return;
            }
        };
        let records = if matches!(qtype, RecordType::NAPTR | RecordType::ANY) {
            naptr::records(q.name(), zone.cfg.ttl, &zone.cfg.naptr_service, &naptr::url_values(&rec))
        } else {
            Vec::new()
        };
        if records.is_empty() {
            // NODATA: the name exists, not this type.
            resp.add_authority(zone.soa.clone());
        } else {
            resp.add_answers(records);
        }
    }

    /// The record `qname` stands for (`None` when the name is malformed for
    /// the zone or nothing is bound to it), with the store's stamp of the
    /// reads ([`Store::resolve_stamped`]; none for a malformed name: it
    /// never reaches the store). An alias is read by its canonical text
    /// (the grammar's `Display`).
    fn record_of(&self, zone: &Zone, qname: &str) -> (Option<RecordBytes>, Option<ReadStamp>) {
        let origin = zone.origin_text.as_str();
        let resolve = |via: Resolution<'_>| self.store.resolve_stamped(via).unwrap_or((None, None));
        let alias = |scheme: Scheme, code: &dyn std::fmt::Display| {
            let mut text = CodeBuf::new();
            match std::fmt::Write::write_fmt(&mut text, format_args!("{code}")) {
                Ok(()) => resolve(Resolution::Alias { scheme: scheme.as_str(), code: text.as_str() }),
                Err(_) => (None, None),
            }
        };
        let malformed = (None, None);
        match zone.cfg.scheme {
            ZoneScheme::Vaa => match vaa::from_dns_name(qname, origin) {
                Ok(h) => resolve(Resolution::Handle(h.as_bytes())),
                Err(_) => malformed,
            },
            ZoneScheme::Oid => Oid::from_dns_name(qname, origin).map_or(malformed, |c| alias(Scheme::Oid, &c)),
            ZoneScheme::Gs1 => Gs1Key::from_dns_name(qname, origin).map_or(malformed, |c| alias(Scheme::Gs1, &c)),
            ZoneScheme::Ecode => Ecode::from_dns_name(qname, origin).map_or(malformed, |c| alias(Scheme::Ecode, &c)),
        }
    }

    /// Adds EDNS, encodes, and truncates a UDP answer that does not fit.
    fn finish(
        &self,
        mut resp: Message,
        req_edns: Option<&Edns>,
        scheme: Option<ZoneScheme>,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let limit = match (transport, req_edns) {
            (Transport::Stream, _) => usize::from(u16::MAX),
            (Transport::Udp, None) => 512,
            (Transport::Udp, Some(e)) => usize::from(e.max_payload().clamp(512, self.max_udp)),
        };
        if req_edns.is_some() {
            let mut e = Edns::new();
            e.set_max_payload(self.max_udp);
            resp.set_edns(e);
        }
        resp.metadata.message_type = MessageType::Response;
        let rcode = u16::from(resp.metadata.response_code);
        let mut truncated = false;
        let bytes = match resp.to_vec() {
            Ok(b) if b.len() <= limit => b,
            _ => {
                truncated = true;
                resp.answers.clear();
                resp.authorities.clear();
                resp.additionals.clear();
                resp.metadata.truncation = true;
                match resp.to_vec() {
                    Ok(b) => b,
                    Err(_) => return Outcome::dropped(),
                }
            }
        };
        out.extend_from_slice(&bytes);
        Outcome { rcode: Some(rcode), scheme, truncated }
    }
}

/// What [`DnsFront::answer_in_zone`] wrote.
struct InZone {
    /// Whether the name exists.
    found: bool,
    /// Answer records written.
    answers: u16,
    /// Whether the zone's SOA was written too (in the authority section).
    soa_written: bool,
}

/// What the answer cache holds for a name (`found`, its stamp checked)
/// written for the question `qname`: a hit's answer records, or a
/// known-absent name's kept authority section when `qname` is lower-case
/// (otherwise the caller writes the SOA); `None` when nothing current is
/// kept. Single and batched reads answer through this alike.
fn from_cache(found: answer_cache::Found<'_>, qname: &[u8], out: &mut Vec<u8>) -> Option<InZone> {
    use answer_cache::Found;
    match found {
        Found::Hit(answer, answers) => {
            out.extend_from_slice(answer);
            Some(InZone { found: true, answers, soa_written: false })
        }
        Found::Nx(authority) => {
            let soa_written = !authority.is_empty() && is_lower(qname);
            if soa_written {
                out.extend_from_slice(authority);
            }
            Some(InZone { found: false, answers: 0, soa_written })
        }
        Found::Stale | Found::Absent => None,
    }
}

/// Whether `qname` (wire form) has no upper-case letter: the names whose
/// NXDOMAIN authority section the answer cache keeps, written once. The
/// SOA's names are compressed against QNAME byte for byte (hickory's
/// compression compares case), so its bytes depend on QNAME's case; every
/// lower-case spelling of a key is the same QNAME.
fn is_lower(qname: &[u8]) -> bool {
    !qname.iter().any(u8::is_ascii_uppercase)
}

/// The SOA record's wire parts for the fast path.
fn soa_wire(s: &SOA, origin: &Name, ttl: u32) -> wire::SoaWire {
    let mut tail = [0u8; 20];
    for (i, v) in [s.serial, s.refresh as u32, s.retry as u32, s.expire as u32, s.minimum].iter().enumerate() {
        tail[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    wire::SoaWire {
        origin: wire::wire_name(origin),
        mname: wire::wire_name(&s.mname),
        rname: wire::wire_name(&s.rname),
        ttl,
        tail,
    }
}

#[cfg(test)]
mod store_calls;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_wire;
