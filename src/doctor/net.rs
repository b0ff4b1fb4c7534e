//! The network checks of `idnode doctor`: every configured door can bind
//! (or is held by this node's running daemon), the HS_SITE the node
//! publishes names its real addresses, ports and key, and the top node
//! answers a Handle request.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use idnode_registry::model::site::{HsSite, interface_protocol};
use idnode_resolver::upstream::{Target, Upstream, UpstreamConfig};
use idnode_resolver::wire::{Body, Envelope, Header, Message, OpCode, OpFlags, ProtocolVersion, ResolutionRequest};

use super::Report;
use crate::config::Config;

/// The daemon's admin address when it answers `/healthz` there.
pub fn daemon_running(cfg: &Config) -> Option<SocketAddr> {
    let addr = crate::admin_client::daemon_address(cfg).ok()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut head = [0u8; 16];
    let n = s.read(&mut head).ok()?;
    let head = &head[..n];
    (head.starts_with(b"HTTP/1.") && head.get(9..12) == Some(b"200")).then_some(addr)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}

/// Every listener the configuration asks for, by its key.
fn doors(cfg: &Config) -> Vec<(&'static str, SocketAddr, Proto)> {
    let mut d = vec![
        ("handle.udp_listen", cfg.handle.udp_listen, Proto::Udp),
        ("handle.tcp_listen", cfg.handle.tcp_listen, Proto::Tcp),
        ("http.listen", cfg.http.listen, Proto::Tcp),
        ("admin.listen", cfg.admin.listen, Proto::Tcp),
    ];
    if cfg.dns.enabled {
        d.push(("dns.listen (udp)", cfg.dns.listen, Proto::Udp));
        d.push(("dns.listen (tcp)", cfg.dns.listen, Proto::Tcp));
        if let Some(a) = cfg.dns.tls_listen {
            d.push(("dns.tls_listen", a, Proto::Tcp));
        }
        if let Some(a) = cfg.dns.quic_listen {
            d.push(("dns.quic_listen", a, Proto::Udp));
        }
    }
    if let Some(a) = cfg.federation.quic.listen {
        d.push(("federation.quic.listen", a, Proto::Udp));
    }
    d
}

fn try_bind(addr: SocketAddr, proto: Proto) -> std::io::Result<()> {
    match proto {
        Proto::Tcp => TcpListener::bind(addr).map(drop),
        Proto::Udp => UdpSocket::bind(addr).map(drop),
    }
}

/// Binds each door and lets it go. A door in use is fine when this node's
/// daemon answers on its admin door (it holds them); otherwise it fails.
pub fn check_doors(cfg: &Config, daemon: Option<SocketAddr>, report: &mut Report) {
    let mut bad = 0;
    let all = doors(cfg);
    for (key, addr, proto) in &all {
        let p = if *proto == Proto::Tcp { "tcp" } else { "udp" };
        if addr.port() == 0 {
            continue;
        }
        match try_bind(*addr, *proto) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => match daemon {
                Some(admin) => {
                    report.ok("doors", format!("{key} {p} {addr} is held by the running idnode (admin door {admin})"))
                }
                None => {
                    bad += 1;
                    report.fail(
                        "doors",
                        format!("{key} {p} {addr} cannot bind: in use by another process"),
                        format!("stop it (`ss -lnp{} 'sport = :{}'` shows it) or change {key}", &p[..1], addr.port()),
                    );
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                bad += 1;
                report.fail(
                    "doors",
                    format!("{key} {p} {addr} cannot bind: permission denied"),
                    "use a port of 1024 or above, or grant CAP_NET_BIND_SERVICE (AmbientCapabilities in the unit)",
                );
            }
            Err(e) => {
                bad += 1;
                report.fail(
                    "doors",
                    format!("{key} {p} {addr} cannot bind: {e}"),
                    format!("set {key} to an address of this host"),
                );
            }
        }
    }
    if bad == 0 && daemon.is_none() {
        report.ok("doors", format!("all {} configured door(s) can bind", all.len()));
    }
}

/// Unix seconds of an HTTP server's `Date` header (IMF-fixdate,
/// RFC 9110 §5.6.7), from one `HEAD /` over plain HTTP.
pub fn peer_date(peer: &str, timeout: Duration) -> anyhow::Result<i64> {
    use anyhow::Context;
    let addr = peer.to_socket_addrs().ok().and_then(|mut a| a.next()).context("does not resolve")?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(format!("HEAD / HTTP/1.0\r\nHost: {peer}\r\n\r\n").as_bytes())?;
    let mut head = Vec::new();
    let _ = s.take(16 << 10).read_to_end(&mut head);
    let text = String::from_utf8_lossy(&head);
    let date = text
        .lines()
        .find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("date")).map(|(_, v)| v.trim().to_owned())
        })
        .context("no Date header in its answer")?;
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let t =
        time::PrimitiveDateTime::parse(&date, &format).with_context(|| format!("Date {date:?} is not an HTTP date"))?;
    Ok(t.assume_utc().unix_timestamp())
}

/// Short fingerprint of a public key for messages.
fn key_id(key: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(key)[..8])
}

/// Whether two HS_PUBKEY encodings hold the same key: RSA keys compare by
/// exponent and modulus (writers differ in the trailing bytes CNRI adds),
/// anything else byte for byte.
fn same_key(a: &[u8], b: &[u8]) -> bool {
    use idnode_registry::model::pubkey::PublicKey;
    match (PublicKey::from_bytes(a), PublicKey::from_bytes(b)) {
        (
            Ok(PublicKey::Rsa { exponent: ea, modulus: ma, .. }),
            Ok(PublicKey::Rsa { exponent: eb, modulus: mb, .. }),
        ) => ea == eb && ma == mb,
        _ => a == b,
    }
}

/// The HS_SITE this node publishes (built as `serve` builds it, or the
/// configured `record_file`) against its addresses, listen ports and key.
pub fn check_site(cfg: &Config, report: &mut Report) {
    let key_path = cfg.server_key_path();
    if !key_path.exists() {
        report.warn(
            "hs-site",
            format!("no server key at {} yet: nothing to compare", key_path.display()),
            "run `idnode init` (or start the service once)",
        );
        return;
    }
    let ours = match crate::keys::ServerKey::load(&key_path).and_then(|k| crate::keys::signer(cfg, &k)) {
        Ok(s) => s.public_key().to_vec(),
        Err(e) => {
            report.fail("hs-site", format!("cannot load the node's key: {e:#}"), "check handle.server_key_file");
            return;
        }
    };
    let addresses = cfg.site_addresses(cfg.handle.tcp_listen.ip());
    let (site, from) = match &cfg.handle.site.record_file {
        Some(p) => {
            let path = cfg.resolve_path(p);
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| HsSite::from_bytes(&b).map_err(|e| e.to_string()))
            {
                Ok(s) => (s, format!("handle.site.record_file {}", path.display())),
                Err(e) => {
                    report.fail(
                        "hs-site",
                        format!("{}: {e}", path.display()),
                        "point handle.site.record_file at a valid HS_SITE record",
                    );
                    return;
                }
            }
        }
        None => (
            crate::serve::site::build(&crate::serve::site::SiteInputs {
                addresses: &addresses,
                serial: cfg.handle.site.serial,
                description: &cfg.handle.site.description,
                public_key: &ours,
                udp: Some(cfg.handle.udp_listen),
                tcp: Some(cfg.handle.tcp_listen),
            }),
            "[handle.site]".to_owned(),
        ),
    };
    let before = report.findings().len();
    let listed: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
    for s in &site.servers {
        let ip = s.ip();
        if !addresses.contains(&ip) {
            report.fail(
                "hs-site",
                format!(
                    "HS_SITE ({from}) server {} address {ip} is not one of this node's addresses [{}]",
                    s.server_id,
                    listed.join(", ")
                ),
                "publish the node's addresses (handle.site.addresses), or fix the record and bump its serial",
            );
        }
        if !same_key(&s.public_key, &ours) {
            report.fail(
                "hs-site",
                format!(
                    "HS_SITE ({from}) server {} key {} differs from the node's key {}",
                    s.server_id,
                    key_id(&s.public_key),
                    key_id(&ours)
                ),
                "publish the node's current key (`idnode keygen` prints HS_PUBKEY) and bump the serial",
            );
        }
        for i in &s.interfaces {
            let (want, door) = match i.protocol {
                interface_protocol::TCP => (cfg.handle.tcp_listen.port(), "handle.tcp_listen"),
                interface_protocol::UDP => (cfg.handle.udp_listen.port(), "handle.udp_listen"),
                _ => continue,
            };
            if want != 0 && i.port != u32::from(want) {
                report.fail(
                    "hs-site",
                    format!("HS_SITE ({from}) server {} lists port {} but {door} is port {want}", s.server_id, i.port),
                    "make the record and the listener agree",
                );
            }
        }
    }
    for ip in &addresses {
        if !ip.is_unspecified() && UdpSocket::bind((*ip, 0)).is_err() {
            report.warn(
                "hs-site",
                format!("published address {ip} is not an address of this host"),
                "fine behind a 1:1 NAT that forwards it here; otherwise fix handle.site.addresses",
            );
        }
    }
    if report.findings().len() == before {
        report.ok(
            "hs-site",
            format!(
                "HS_SITE ({from}, serial {}) names [{}] and the node's key {}",
                site.serial_number,
                listed.join(", "),
                key_id(&ours)
            ),
        );
    }
}

/// A secondary with `federation.top` set: the top node answers a Handle
/// resolution of this node's prefix handle over TCP.
pub fn check_top(cfg: &Config, timeout: Duration, report: &mut Report) {
    let top = cfg.federation.top.trim();
    if top.is_empty() {
        report.ok("top-node", "no top node configured (federation.top is empty): nothing reported upward");
        return;
    }
    let addr = match top.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        Ok(None) | Err(_) => {
            report.fail(
                "top-node",
                format!("federation.top {top:?} does not resolve"),
                "set federation.top to host:port",
            );
            return;
        }
    };
    let handle = idnode_registry::ident::prefix_handle(&cfg.node.node_prefix);
    let msg = Message {
        envelope: Envelope::request(ProtocolVersion::OURS, (rand::random::<i32>() & 0x7fff_ffff).max(1)),
        header: Header::request(
            OpCode::RESOLUTION,
            OpFlags::CA | OpFlags::PO,
            (crate::unix_now() as u32).wrapping_add(3600),
        ),
        body: Body::Resolution(ResolutionRequest {
            handle: handle.as_bytes().to_vec(),
            indexes: Vec::new(),
            types: Vec::new(),
            auth_token: None,
        }),
        credential: None,
    };
    let upstream = Upstream::new(UpstreamConfig {
        connect_timeout: timeout,
        exchange_timeout: timeout,
        ..UpstreamConfig::default()
    });
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(upstream.exchange(Target::tcp(addr), &msg)).map_err(anyhow::Error::from));
    match answer {
        Ok(a) => report.ok(
            "top-node",
            format!("top node {addr} answered {handle} with response code {}", a.message.header.response_code.0),
        ),
        Err(e) => report.fail(
            "top-node",
            format!("top node {addr} does not answer: {e:#}"),
            "check federation.top, the network path and that the top node runs",
        ),
    }
}
