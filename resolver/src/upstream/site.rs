//! Choosing where to send a request, from HS_SITE records
//! (handle-protocol.md §4.3 interface rule, §7 step 4 and "Hashing inside
//! a site"). Pure functions over sites and handles: no I/O, no clock.
//!
//! * site: admin requests (and `AT` requests) go only to primary sites;
//!   queries may use any site, primaries first when nothing else is known;
//! * server: a site with several servers spreads handles by hash — the
//!   part of the handle named by `hashOption`, ASCII upper-cased, MD5, the
//!   last four digest bytes as a big-endian `i32`, absolute value, modulo
//!   the number of servers, giving a *position* in the server list;
//! * interface: one whose type allows the purpose (query 2/3, admin 1/3),
//!   over a transport we speak, in the order of preference given.

use std::net::{IpAddr, SocketAddr};

use idnode_registry::model::HsSite;
use idnode_registry::model::site::{hash_option, interface_protocol};
use md5::{Digest, Md5};

/// What the request is for: decides sites and interface types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Resolution and other reads (interface type 2 or 3, any site).
    Query,
    /// Administration or `AT` requests (interface type 1 or 3, primary
    /// sites only).
    Admin,
}

/// A transport the upstream client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Udp,
    Tcp,
    /// Handle messages over QUIC streams (ALPN `hdl`), between idnode nodes.
    Quic,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
            Protocol::Quic => "quic",
        }
    }
}

/// One address to send to, over one transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    pub addr: SocketAddr,
    pub protocol: Protocol,
}

impl Target {
    pub fn udp(addr: SocketAddr) -> Self {
        Target { addr, protocol: Protocol::Udp }
    }
    pub fn tcp(addr: SocketAddr) -> Self {
        Target { addr, protocol: Protocol::Tcp }
    }
    pub fn quic(addr: SocketAddr) -> Self {
        Target { addr, protocol: Protocol::Quic }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.protocol.as_str(), self.addr)
    }
}

/// One server to try: its transports in order of preference (the client
/// falls back along the list, e.g. UDP then TCP of the same server).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerChoice {
    pub targets: Vec<Target>,
}

/// The part of `handle` that `option` hashes (before upper-casing): the
/// prefix (text before the first "/", or "0.NA" when there is none), the
/// suffix (text after it; the whole handle when there is none) or the whole
/// handle. Unknown options hash the whole handle.
pub fn hash_part(handle: &[u8], option: u8) -> &[u8] {
    let slash = handle.iter().position(|&c| c == b'/');
    match (option, slash) {
        (hash_option::BY_PREFIX, Some(i)) => &handle[..i],
        (hash_option::BY_PREFIX, None) => b"0.NA",
        (hash_option::BY_SUFFIX, Some(i)) => &handle[i + 1..],
        _ => handle,
    }
}

/// The non-negative hash of `handle` for `option` (§7): MD5 of the
/// upper-cased hash part, last 4 bytes as a big-endian `i32`, absolute
/// value. Java's `Math.abs(Integer.MIN_VALUE)` stays negative and would
/// make CNRI index out of bounds; we take the unsigned magnitude (2^31)
/// instead, the only value where the two differ.
pub fn handle_hash(handle: &[u8], option: u8) -> u32 {
    let part = hash_part(handle, option).to_ascii_uppercase();
    let digest = Md5::digest(&part);
    let tail: [u8; 4] = [digest[12], digest[13], digest[14], digest[15]];
    i32::from_be_bytes(tail).unsigned_abs()
}

/// The position in the site's server list that `handle` hashes to (§7);
/// 0 for a site with one server (or none).
pub fn server_position(site: &HsSite, handle: &[u8]) -> usize {
    let n = site.servers.len();
    if n <= 1 {
        return 0;
    }
    (handle_hash(handle, site.hash_option) % n as u32) as usize
}

/// The sites to try for `purpose`, best first: for admin only primary
/// sites; for queries primaries first, then the others, each group in the
/// order given.
pub fn order_sites(sites: &[HsSite], purpose: Purpose) -> Vec<&HsSite> {
    let primaries = sites.iter().filter(|s| s.is_primary());
    match purpose {
        Purpose::Admin => primaries.collect(),
        Purpose::Query => primaries.chain(sites.iter().filter(|s| !s.is_primary())).collect(),
    }
}

/// The server of `site` that serves `handle`, as targets over the
/// protocols of `preference` (in that order) whose interface allows
/// `purpose`. `None` when the site has no server or no such interface.
pub fn choose_server(site: &HsSite, handle: &[u8], purpose: Purpose, preference: &[Protocol]) -> Option<ServerChoice> {
    let server = site.servers.get(server_position(site, handle))?;
    let ip: IpAddr = server.ip();
    let mut targets = Vec::new();
    for &want in preference {
        let wire = match want {
            Protocol::Udp => interface_protocol::UDP,
            Protocol::Tcp => interface_protocol::TCP,
            // QUIC is not an HS_SITE interface type; the caller maps a
            // server to its QUIC address (see `Upstream`).
            Protocol::Quic => continue,
        };
        let found = server.interfaces.iter().find(|i| {
            i.protocol == wire
                && match purpose {
                    Purpose::Query => i.allows_query(),
                    Purpose::Admin => i.allows_admin(),
                }
        });
        if let Some(i) = found
            && let Ok(port) = u16::try_from(i.port)
        {
            targets.push(Target { addr: SocketAddr::new(ip, port), protocol: want });
        }
    }
    (!targets.is_empty()).then_some(ServerChoice { targets })
}

/// Every server choice for `handle` over `sites`, in the order to try:
/// [`order_sites`], then [`choose_server`] in each.
pub fn candidates(sites: &[HsSite], handle: &[u8], purpose: Purpose, preference: &[Protocol]) -> Vec<ServerChoice> {
    order_sites(sites, purpose).into_iter().filter_map(|s| choose_server(s, handle, purpose, preference)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use idnode_registry::model::site::{Interface, SiteServer, interface_type, primary_mask};

    fn server(id: u32, last: u8, interfaces: Vec<Interface>) -> SiteServer {
        SiteServer {
            server_id: id,
            address: SiteServer::address_bytes(IpAddr::from([127, 0, 0, last])),
            public_key: vec![],
            interfaces,
        }
    }

    fn both(port: u32) -> Vec<Interface> {
        vec![
            Interface { kind: interface_type::ADMIN_AND_QUERY, protocol: interface_protocol::UDP, port },
            Interface { kind: interface_type::ADMIN_AND_QUERY, protocol: interface_protocol::TCP, port: port + 1 },
        ]
    }

    fn site(primary: bool, hash: u8, servers: Vec<SiteServer>) -> HsSite {
        HsSite {
            data_format_version: 1,
            protocol_major: 2,
            protocol_minor: 10,
            serial_number: 1,
            primary_mask: if primary { primary_mask::PRIMARY } else { 0 },
            hash_option: hash,
            hash_filter: vec![],
            attributes: vec![],
            servers,
        }
    }

    /// The hash rule computed independently: MD5 of the upper-cased part,
    /// last four bytes big-endian, absolute value.
    fn reference(part: &str) -> u32 {
        let d = Md5::digest(part.to_ascii_uppercase().as_bytes());
        let v = i32::from_be_bytes([d[12], d[13], d[14], d[15]]);
        v.unsigned_abs()
    }

    #[test]
    fn hash_parts_follow_the_hash_option() {
        assert_eq!(hash_part(b"88.118.8/LOT-1", hash_option::BY_PREFIX), b"88.118.8");
        assert_eq!(hash_part(b"88.118.8/LOT-1", hash_option::BY_SUFFIX), b"LOT-1");
        assert_eq!(hash_part(b"88.118.8/LOT-1", hash_option::BY_HANDLE), b"88.118.8/LOT-1");
        assert_eq!(hash_part(b"88.118.8", hash_option::BY_PREFIX), b"0.NA");
        assert_eq!(hash_part(b"a/b/c", hash_option::BY_SUFFIX), b"b/c");
    }

    #[test]
    fn hash_is_md5_tail_of_the_upper_cased_part() {
        // MD5("0.NA/88.118.8") computed by hand through the reference
        // function; the same value for any case of the input.
        for h in ["0.NA/88.118.8", "0.na/88.118.8", "88.118.8.1001/lot2026-000451"] {
            assert_eq!(handle_hash(h.as_bytes(), hash_option::BY_HANDLE), reference(h));
        }
        assert_eq!(handle_hash(b"x/abc", hash_option::BY_SUFFIX), reference("ABC"));
        assert_eq!(handle_hash(b"x/abc", hash_option::BY_PREFIX), reference("X"));
        // A fixed known digest: MD5("") = d41d8cd98f00b204e9800998ecf8427e,
        // tail 0xecf8427e = -319274370 as i32, absolute 319274370.
        assert_eq!(handle_hash(b"", hash_option::BY_HANDLE), 319_274_370);
        // MD5("A") = 7fc56270e7a70fa81a5935b72eacbe29, tail 0x2eacbe29.
        assert_eq!(handle_hash(b"a", hash_option::BY_HANDLE), 0x2eac_be29);
    }

    #[test]
    fn server_position_is_hash_modulo_server_count() {
        let s3 = site(true, hash_option::BY_HANDLE, (1..=3).map(|i| server(i, i as u8, both(2641))).collect());
        let mut seen = [0usize; 3];
        for i in 0..300 {
            let h = format!("88.1/item-{i}");
            let pos = server_position(&s3, h.as_bytes());
            assert_eq!(pos, (reference(&h) % 3) as usize);
            seen[pos] += 1;
        }
        assert!(seen.iter().all(|&n| n > 0), "every server gets some handles: {seen:?}");
        // One server: always position 0, no hashing.
        let s1 = site(true, hash_option::BY_HANDLE, vec![server(9, 9, both(2641))]);
        assert_eq!(server_position(&s1, b"anything"), 0);
        // By prefix: every identifier of a prefix lands on the same server.
        let sp = site(true, hash_option::BY_PREFIX, (1..=5).map(|i| server(i, i as u8, both(2641))).collect());
        let p = server_position(&sp, b"88.1/a");
        assert!((0..50).all(|i| server_position(&sp, format!("88.1/x{i}").as_bytes()) == p));
    }

    #[test]
    fn chosen_server_and_interfaces_follow_purpose_and_preference() {
        let query_only = vec![Interface { kind: interface_type::QUERY, protocol: interface_protocol::TCP, port: 2000 }];
        let s = site(true, hash_option::BY_HANDLE, vec![server(1, 1, query_only)]);
        let c = choose_server(&s, b"a/b", Purpose::Query, &[Protocol::Udp, Protocol::Tcp]).unwrap();
        assert_eq!(c.targets, vec![Target::tcp("127.0.0.1:2000".parse().unwrap())]);
        assert!(choose_server(&s, b"a/b", Purpose::Admin, &[Protocol::Udp, Protocol::Tcp]).is_none());

        let s = site(true, hash_option::BY_HANDLE, vec![server(1, 1, both(3000))]);
        let c = choose_server(&s, b"a/b", Purpose::Query, &[Protocol::Udp, Protocol::Tcp]).unwrap();
        assert_eq!(
            c.targets,
            vec![Target::udp("127.0.0.1:3000".parse().unwrap()), Target::tcp("127.0.0.1:3001".parse().unwrap())]
        );
        let c = choose_server(&s, b"a/b", Purpose::Query, &[Protocol::Tcp]).unwrap();
        assert_eq!(c.targets, vec![Target::tcp("127.0.0.1:3001".parse().unwrap())]);
        // Out-of-service interfaces are never chosen.
        let off = vec![Interface { kind: interface_type::OUT_OF_SERVICE, protocol: interface_protocol::TCP, port: 1 }];
        let s = site(true, hash_option::BY_HANDLE, vec![server(1, 1, off)]);
        assert!(choose_server(&s, b"a/b", Purpose::Query, &[Protocol::Tcp]).is_none());
    }

    #[test]
    fn admin_goes_to_primaries_only_and_queries_try_primaries_first() {
        let secondary = site(false, 2, vec![server(1, 2, both(4000))]);
        let primary = site(true, 2, vec![server(1, 1, both(5000))]);
        let sites = vec![secondary.clone(), primary.clone()];
        let q = candidates(&sites, b"x/y", Purpose::Query, &[Protocol::Tcp]);
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].targets[0].addr, "127.0.0.1:5001".parse().unwrap());
        assert_eq!(q[1].targets[0].addr, "127.0.0.2:4001".parse().unwrap());
        let a = candidates(&sites, b"x/y", Purpose::Admin, &[Protocol::Tcp]);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].targets[0].addr, "127.0.0.1:5001".parse().unwrap());
        assert!(candidates(&[secondary], b"x/y", Purpose::Admin, &[Protocol::Tcp]).is_empty());
    }
}
