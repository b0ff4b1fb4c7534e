//! Per-source limits of the Handle doors (issue 8): who a datagram or a
//! connection comes from, and whether it may be served.
//!
//! * [`Networks`]: a list of CIDR blocks (exemptions, per-address networks).
//! * [`ClientLimiter`]: a token bucket per client network (IPv4 /24, IPv6
//!   /56 by default; loopback and private networks per address), kept as a
//!   GCRA "theoretical arrival time" (one `u64` per client) in a sharded,
//!   bounded table. A limited request is dropped, except every `slip`-th one,
//!   which gets a short "retry over TCP" answer (as DNS response-rate
//!   limiting does), so a victim whose address is spoofed is not cut off.
//! * [`ProvenSources`]: addresses that completed a TCP exchange recently;
//!   the UDP door sends large answers only to them (amplification cap).
//! * [`ConnCounter`]: open TCP connections per address.
//!
//! Pure bookkeeping: no sockets, no clock of its own (callers pass `now`),
//! nothing logged. The hot path (one UDP datagram) costs one exemption scan,
//! one hash and one short critical section on one of [`SHARDS`] mutexes.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Independent locks of a table; a power of two.
pub const SHARDS: usize = 64;

/// One CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n` or a bare address (a single host).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            None => max,
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("{s:?}: prefix length must be 0..={max}"))?,
        };
        Ok(Cidr { addr: mask(addr, len), len })
    }

    /// The network address (host bits zero).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = unmap(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.len) == self.addr
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// `::ffff:a.b.c.d` (a dual-stack socket's view of an IPv4 client) as IPv4.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len.min(128))) };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// A list of CIDR blocks.
#[derive(Debug, Clone, Default)]
pub struct Networks(Vec<Cidr>);

impl Networks {
    /// Parses every entry; the error names the first bad one.
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<Networks, String> {
        list.iter().map(|s| Cidr::parse(s.as_ref())).collect::<Result<Vec<_>, _>>().map(Networks)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Cidr> {
        self.0.iter()
    }

    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        !self.0.is_empty() && self.0.iter().any(|c| c.contains(ip))
    }
}

/// What the door should do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it (within the client's rate, or exempt).
    Allow,
    /// Over the rate: answer briefly "retry over TCP" (UDP) / "busy" (TCP).
    Slip,
    /// Over the rate: no answer at all.
    Drop,
}

/// Settings of a [`ClientLimiter`].
#[derive(Debug, Clone)]
pub struct LimiterConfig {
    /// Sustained requests per second per client network; 0 = no limit.
    pub rate: u32,
    /// Requests a quiet client may send at once.
    pub burst: u32,
    /// Every `slip`-th limited request is answered briefly; 0 = never.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Sources never limited.
    pub exempt: Networks,
    /// Sources limited per address rather than per network.
    pub per_address: Networks,
    /// Most clients tracked at once (the table's memory bound).
    pub max_clients: usize,
}

/// One client network's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// GCRA theoretical arrival time, ns since the limiter's epoch.
    tat: u64,
    /// Limited requests so far (for the slip).
    limited: u32,
}

/// The tables' hasher: foldhash, randomly seeded per table (so spoofed
/// sources cannot aim at one bucket chain), a few instructions for a 17-byte
/// key where SipHash costs over a hundred. The limiter hashes every charged
/// datagram, so this is on the door's hot path.
type Fast = foldhash::fast::RandomState;

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<(u8, u128), Bucket, Fast>,
}

/// Token buckets per client network in a sharded, bounded table.
#[derive(Debug)]
pub struct ClientLimiter {
    cfg: LimiterConfig,
    /// Nanoseconds per token.
    interval: u64,
    /// How far ahead of `now` the TAT may run (burst - 1 tokens).
    tolerance: u64,
    epoch: Instant,
    hasher: Fast,
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

impl ClientLimiter {
    /// `None` when `cfg.rate` is 0 (limits off).
    pub fn new(cfg: LimiterConfig) -> Option<ClientLimiter> {
        if cfg.rate == 0 {
            return None;
        }
        let interval = 1_000_000_000 / u64::from(cfg.rate).max(1);
        let tolerance = interval.saturating_mul(u64::from(cfg.burst.max(1)) - 1);
        let per_shard = cfg.max_clients.div_ceil(SHARDS).max(16);
        Some(ClientLimiter {
            cfg,
            interval,
            tolerance,
            epoch: Instant::now(),
            hasher: Fast::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
        })
    }

    /// Whether `ip` is exempt from every per-source limit.
    #[inline]
    pub fn is_exempt(&self, ip: IpAddr) -> bool {
        self.cfg.exempt.contains(ip)
    }

    /// The bucket key of `ip`: address family and its network (or itself,
    /// in a per-address network).
    pub fn key(&self, ip: IpAddr) -> (u8, u128) {
        let ip = unmap(ip);
        let per_address = self.cfg.per_address.contains(ip);
        match ip {
            IpAddr::V4(_) => {
                let len = if per_address { 32 } else { self.cfg.ipv4_prefix };
                let IpAddr::V4(m) = mask(ip, len) else { unreachable!("mask keeps the family") };
                (4, u128::from(u32::from(m)))
            }
            IpAddr::V6(_) => {
                let len = if per_address { 128 } else { self.cfg.ipv6_prefix };
                let IpAddr::V6(m) = mask(ip, len) else { unreachable!("mask keeps the family") };
                (6, u128::from(m))
            }
        }
    }

    /// Charges one request from `ip` at `now`.
    #[inline]
    pub fn check(&self, ip: IpAddr, now: Instant) -> Verdict {
        if self.is_exempt(ip) {
            return Verdict::Allow;
        }
        self.check_key(self.key(ip), now)
    }

    /// [`check`](Self::check) for a caller that has already found `ip` not
    /// exempt (the doors test exemption once per datagram and reuse it).
    #[inline]
    pub fn check_charged(&self, ip: IpAddr, now: Instant) -> Verdict {
        self.check_key(self.key(ip), now)
    }

    fn check_key(&self, key: (u8, u128), now: Instant) -> Verdict {
        let t = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        // The shard from the hash's top bits; each shard's map hashes with
        // its own seed, so the keys of one shard still spread in its table.
        let h = self.hasher.hash_one(key);
        let shard = &self.shards[(h >> (64 - SHARDS.trailing_zeros())) as usize];
        let mut s = shard.lock().unwrap_or_else(|p| p.into_inner());
        if s.map.len() >= self.per_shard && !s.map.contains_key(&key) {
            self.make_room(&mut s, t);
        }
        let b = s.map.entry(key).or_insert(Bucket { tat: t, limited: 0 });
        let tat = b.tat.max(t);
        if tat - t <= self.tolerance {
            b.tat = tat + self.interval;
            return Verdict::Allow;
        }
        b.limited = b.limited.wrapping_add(1);
        if self.cfg.slip > 0 && b.limited.is_multiple_of(self.cfg.slip) { Verdict::Slip } else { Verdict::Drop }
    }

    /// Drops buckets that have refilled (forgetting them changes nothing);
    /// if the shard is still mostly full — many distinct sources at once,
    /// e.g. spoofed — it is emptied, so the cost stays amortised O(1).
    fn make_room(&self, s: &mut Shard, t: u64) {
        s.map.retain(|_, b| b.tat > t);
        if s.map.len() > self.per_shard * 3 / 4 {
            s.map.clear();
        }
    }

    /// Clients tracked now (the memory bound's test).
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map(|s| s.map.len()).unwrap_or(0)).sum()
    }
}

/// Addresses that completed a TCP exchange within `ttl`: they have shown
/// that they receive what is sent to them, so UDP answers to them are not
/// capped. Bounded like [`ClientLimiter`].
#[derive(Debug)]
pub struct ProvenSources {
    ttl: Duration,
    epoch: Instant,
    hasher: Fast,
    shards: Box<[Mutex<HashMap<IpAddr, u64, Fast>>]>,
    per_shard: usize,
}

impl ProvenSources {
    pub fn new(ttl: Duration, max: usize) -> ProvenSources {
        ProvenSources {
            ttl,
            epoch: Instant::now(),
            hasher: Fast::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect(),
            per_shard: max.div_ceil(SHARDS).max(16),
        }
    }

    fn shard(&self, ip: IpAddr) -> &Mutex<HashMap<IpAddr, u64, Fast>> {
        &self.shards[(self.hasher.hash_one(ip) >> (64 - SHARDS.trailing_zeros())) as usize]
    }

    fn ms(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Records a completed TCP exchange with `ip`.
    pub fn prove(&self, ip: IpAddr, now: Instant) {
        let ip = unmap(ip);
        let t = self.ms(now);
        let mut m = self.shard(ip).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seen) = m.get_mut(&ip) {
            *seen = t;
            return;
        }
        if m.len() >= self.per_shard {
            let ttl = self.ttl.as_millis() as u64;
            m.retain(|_, seen| t.saturating_sub(*seen) < ttl);
            if m.len() > self.per_shard * 3 / 4 {
                m.clear();
            }
        }
        m.insert(ip, t);
    }

    /// Whether `ip` completed a TCP exchange within the TTL.
    pub fn is_proven(&self, ip: IpAddr, now: Instant) -> bool {
        let ip = unmap(ip);
        let t = self.ms(now);
        let m = self.shard(ip).lock().unwrap_or_else(|p| p.into_inner());
        m.get(&ip).is_some_and(|seen| t.saturating_sub(*seen) < self.ttl.as_millis() as u64)
    }
}

/// Open connections per client address, capped.
#[derive(Debug)]
pub struct ConnCounter {
    max: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
}

impl ConnCounter {
    pub fn new(max: u32) -> ConnCounter {
        ConnCounter { max: max.max(1), open: Mutex::new(HashMap::new()) }
    }

    /// Takes a slot for `ip`, or `None` when it already has `max` open.
    pub fn acquire(self: &std::sync::Arc<Self>, ip: IpAddr) -> Option<ConnSlot> {
        let ip = unmap(ip);
        let mut m = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(ConnSlot { counter: self.clone(), ip })
    }
}

/// One open connection's slot; released on drop.
#[derive(Debug)]
pub struct ConnSlot {
    counter: std::sync::Arc<ConnCounter>,
    ip: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut m = self.counter.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Everything the Handle doors enforce per source, built once from the
/// configuration and shared by the UDP threads and the TCP door.
#[derive(Debug)]
pub struct HandleLimits {
    /// Sources no limit applies to.
    pub exempt: Networks,
    /// Buckets of the UDP door (`None`: no rate limit).
    pub udp: Option<ClientLimiter>,
    /// Buckets of the TCP door, separate from UDP's so that a client told
    /// to retry over TCP is not refused there for its UDP traffic.
    pub tcp: Option<ClientLimiter>,
    /// Sources proven by a TCP exchange.
    pub proven: ProvenSources,
    /// UDP answer bytes per request byte for unproven sources (0 = no cap).
    pub max_amplification: usize,
    /// Open TCP connections per address.
    pub conns: std::sync::Arc<ConnCounter>,
}

/// Text of the RC 2 answer sent instead of a capped UDP answer.
pub const USE_TCP_TOO_LARGE: &[u8] = b"Answer too large for UDP to an unverified source; retry over TCP";
/// Text of the RC 2 answer sent to a rate-limited UDP request (the slip).
pub const USE_TCP_RATE: &[u8] = b"Rate limit exceeded; retry over TCP";
/// Text of the RC 3 answer to a rate-limited TCP request.
pub const TCP_BUSY: &[u8] = b"Rate limit exceeded; slow down";

impl HandleLimits {
    /// From `[limits]` and `[handle]` (already validated).
    pub fn from_config(cfg: &crate::config::Config) -> Result<HandleLimits, String> {
        let l = &cfg.limits;
        let exempt = Networks::parse(&l.exempt_networks)?;
        let limiter = || -> Result<Option<ClientLimiter>, String> {
            Ok(ClientLimiter::new(LimiterConfig {
                rate: l.per_client_rps,
                burst: l.per_client_burst,
                slip: l.per_client_slip,
                ipv4_prefix: l.client_ipv4_prefix,
                ipv6_prefix: l.client_ipv6_prefix,
                exempt: exempt.clone(),
                per_address: Networks::parse(&l.per_address_networks)?,
                max_clients: l.max_tracked_clients as usize,
            }))
        };
        Ok(HandleLimits {
            udp: limiter()?,
            tcp: limiter()?,
            proven: ProvenSources::new(Duration::from_secs(l.proven_source_ttl_secs), l.max_tracked_clients as usize),
            max_amplification: l.udp_max_amplification as usize,
            conns: std::sync::Arc::new(ConnCounter::new(cfg.handle.tcp_max_connections_per_address)),
            exempt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limiter(rate: u32, burst: u32, slip: u32) -> ClientLimiter {
        ClientLimiter::new(LimiterConfig {
            rate,
            burst,
            slip,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            exempt: Networks::parse(&["127.0.0.1/32", "::1"]).unwrap(),
            per_address: Networks::parse(&["127.0.0.0/8", "10.0.0.0/8"]).unwrap(),
            max_clients: 1000,
        })
        .unwrap()
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let c = Cidr::parse("192.0.2.77/24").unwrap();
        assert_eq!(c.to_string(), "192.0.2.0/24");
        assert!(c.contains(ip("192.0.2.1")));
        assert!(c.contains(ip("::ffff:192.0.2.9")));
        assert!(!c.contains(ip("192.0.3.1")));
        assert!(!c.contains(ip("::1")));
        assert!(Cidr::parse("2001:db8::/33").unwrap().contains(ip("2001:db8:7fff::1")));
        assert!(Cidr::parse("::1").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("1.2.3.4/33").is_err());
        assert!(Cidr::parse("nope").is_err());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
    }

    #[test]
    fn burst_then_rate_then_slip() {
        let l = limiter(10, 5, 2);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        let verdicts: Vec<Verdict> = (0..9).map(|_| l.check(a, t0)).collect();
        assert_eq!(&verdicts[..5], &[Verdict::Allow; 5]);
        // Limited: drop, slip, drop, slip.
        assert_eq!(&verdicts[5..], &[Verdict::Drop, Verdict::Slip, Verdict::Drop, Verdict::Slip]);
        // The same /24 shares the bucket; another /24 does not.
        assert_ne!(l.check(ip("192.0.2.200"), t0), Verdict::Allow);
        assert_eq!(l.check(ip("192.0.3.1"), t0), Verdict::Allow);
        // One token per 100 ms comes back.
        assert_eq!(l.check(a, t0 + Duration::from_millis(101)), Verdict::Allow);
        assert_ne!(l.check(a, t0 + Duration::from_millis(102)), Verdict::Allow);
        // A full second refills the burst.
        let later = t0 + Duration::from_secs(2);
        assert!((0..5).all(|_| l.check(a, later) == Verdict::Allow));
    }

    #[test]
    fn exempt_and_per_address_networks() {
        let l = limiter(1, 1, 0);
        let t0 = Instant::now();
        assert!((0..100).all(|_| l.check(ip("127.0.0.1"), t0) == Verdict::Allow));
        assert!((0..100).all(|_| l.check(ip("::1"), t0) == Verdict::Allow));
        // 127.0.0.2 and .3 are separate clients (per-address network).
        assert_eq!(l.check(ip("127.0.0.2"), t0), Verdict::Allow);
        assert_eq!(l.check(ip("127.0.0.2"), t0), Verdict::Drop);
        assert_eq!(l.check(ip("127.0.0.3"), t0), Verdict::Allow);
        // IPv6 /56 aggregation.
        assert_eq!(l.check(ip("2001:db8:0:1::1"), t0), Verdict::Allow);
        assert_eq!(l.check(ip("2001:db8:0:2::1"), t0), Verdict::Drop);
        assert_eq!(l.check(ip("2001:db8:0:100::1"), t0), Verdict::Allow);
        assert_ne!(l.key(ip("0.0.0.1")), l.key(ip("::1")));
    }

    #[test]
    fn table_stays_bounded_under_many_sources() {
        let l = limiter(1, 1, 0);
        let t0 = Instant::now();
        for i in 0..200_000u32 {
            l.check(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i)), t0);
        }
        assert!(l.tracked() <= 1000 + SHARDS * 16, "tracked {}", l.tracked());
    }

    #[test]
    fn proven_sources_expire() {
        let p = ProvenSources::new(Duration::from_secs(10), 100);
        let t0 = Instant::now();
        assert!(!p.is_proven(ip("192.0.2.1"), t0));
        p.prove(ip("192.0.2.1"), t0);
        assert!(p.is_proven(ip("::ffff:192.0.2.1"), t0 + Duration::from_secs(9)));
        assert!(!p.is_proven(ip("192.0.2.2"), t0));
        assert!(!p.is_proven(ip("192.0.2.1"), t0 + Duration::from_secs(11)));
    }

    #[test]
    fn connection_slots_per_address() {
        let c = Arc::new(ConnCounter::new(2));
        let a = c.acquire(ip("192.0.2.1")).unwrap();
        let _b = c.acquire(ip("192.0.2.1")).unwrap();
        assert!(c.acquire(ip("192.0.2.1")).is_none());
        assert!(c.acquire(ip("192.0.2.2")).is_some());
        drop(a);
        assert!(c.acquire(ip("192.0.2.1")).is_some());
    }
}
