//! `idnode doctor` against the built binary (issue 15): each failure it must
//! find — a world-readable secret, a door that cannot bind, an HS_SITE
//! whose address or key differs from the node's, a certificate expiring
//! within 30 days — in its own test, each asserting the `fail` line and
//! exit code 1; and a healthy node that exits 0. Loopback only; doctor's
//! top-node check is off (no `federation.top`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use idnode_conformance::{cli, cli_ok};
use idnode_registry::model::site::{
    HsSite, Interface, SiteAttribute, SiteServer, hash_option, interface_protocol, interface_type, primary_mask,
};

/// A port free on 127.0.0.1 for both TCP and UDP (bound and let go).
fn free_port() -> u16 {
    loop {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A node directory: data dir (0700) with a server key made by
/// `idnode keygen`, and a config whose doors are free loopback ports.
struct Site {
    dir: tempfile::TempDir,
    handle_port: u16,
    /// HS_PUBKEY of the node's server key.
    pubkey: Vec<u8>,
    extra: String,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut site = Site { dir, handle_port: free_port(), pubkey: Vec::new(), extra: String::new() };
        site.write_config();
        site.pubkey = keygen(&site.config(), &site.data().join("server.key"));
        std::fs::write(site.data().join("admin.secret"), "s3cret-admin-secret-for-doctor\n").unwrap();
        std::fs::set_permissions(site.data().join("admin.secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
        site
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("idnode.toml")
    }

    /// Rewrites the config with `extra` appended (whole tables).
    fn write_config(&self) {
        let p = self.handle_port;
        let text = format!(
            r#"[node]
node_prefix = "88.118.8"
data_dir = "{data}"

[handle]
udp_listen = "127.0.0.1:{p}"
tcp_listen = "127.0.0.1:{p}"
{handle_extra}

[http]
listen = "127.0.0.1:{http}"

[http.tls]
enabled = false

[admin]
listen = "127.0.0.1:{admin}"

{extra}
"#,
            data = self.data().display(),
            http = free_port(),
            admin = free_port(),
            handle_extra = "",
            extra = self.extra,
        );
        std::fs::write(self.config(), text).unwrap();
    }

    fn with(mut self, extra: &str) -> Site {
        self.extra = extra.to_owned();
        self.write_config();
        self
    }

    /// Runs doctor: (exit code, stdout).
    fn doctor(&self) -> (Option<i32>, String) {
        let o = cli(&self.config(), &["doctor", "--timeout-ms", "500"]);
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    }
}

/// `idnode keygen --out path`: the HS_PUBKEY it printed.
fn keygen(cfg: &Path, path: &Path) -> Vec<u8> {
    let out = cli_ok(cfg, &["keygen", "--out", path.to_str().unwrap()]);
    let hex_line = out.lines().find_map(|l| l.strip_prefix("HS_PUBKEY hex:")).expect("keygen prints HS_PUBKEY hex");
    hex::decode(hex_line.trim()).unwrap()
}

/// The fail lines of a doctor run.
fn fails(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("fail ")).collect()
}

fn assert_fails_with(code: Option<i32>, out: &str, check: &str, needle: &str) {
    assert_eq!(code, Some(1), "doctor must exit 1:\n{out}");
    assert!(
        fails(out)
            .iter()
            .any(|l| l.split_whitespace().nth(1) == Some(check) && l.contains(needle) && l.contains("fix:")),
        "no `fail {check}` line with {needle:?} and a fix:\n{out}"
    );
}

/// An HS_SITE record file (handle-protocol.md §4.3) with one server.
fn site_record(path: &Path, ip: IpAddr, port: u16, public_key: &[u8]) {
    let site = HsSite {
        data_format_version: 1,
        protocol_major: 2,
        protocol_minor: 11,
        serial_number: 7,
        primary_mask: primary_mask::PRIMARY,
        hash_option: hash_option::BY_HANDLE,
        hash_filter: Vec::new(),
        attributes: vec![SiteAttribute { name: b"desc".to_vec(), value: b"doctor test".to_vec() }],
        servers: vec![SiteServer {
            server_id: 1,
            address: SiteServer::address_bytes(ip),
            public_key: public_key.to_vec(),
            interfaces: vec![
                Interface {
                    kind: interface_type::ADMIN_AND_QUERY,
                    protocol: interface_protocol::TCP,
                    port: u32::from(port),
                },
                Interface { kind: interface_type::QUERY, protocol: interface_protocol::UDP, port: u32::from(port) },
            ],
        }],
    };
    std::fs::write(path, site.to_bytes()).unwrap();
}

const LOOPBACK_SITE: &str = "[handle.site]\naddresses = [\"127.0.0.1\"]\n";

#[test]
fn healthy_node_exits_zero() {
    let site = Site::new().with(LOOPBACK_SITE);
    // The published record, as an operator would pin it: the node's own
    // address, ports and key.
    site_record(&site.data().join("site.bin"), IpAddr::V4(Ipv4Addr::LOCALHOST), site.handle_port, &site.pubkey);
    let site = site.with("[handle.site]\naddresses = [\"127.0.0.1\"]\nrecord_file = \"site.bin\"\n");
    let (code, out) = site.doctor();
    assert_eq!(code, Some(0), "{out}");
    assert!(fails(&out).is_empty(), "{out}");
    for check in ["config", "secrets", "doors", "hs-site", "disk", "certificates"] {
        assert!(
            out.lines().any(|l| l.starts_with("ok ") && l.split_whitespace().nth(1) == Some(check)),
            "no ok {check}:\n{out}"
        );
    }
    assert!(out.lines().last().unwrap().ends_with("0 fail"), "{out}");
}

#[test]
fn world_readable_secret_fails() {
    let site = Site::new().with(LOOPBACK_SITE);
    let secret = site.data().join("admin.secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out) = site.doctor();
    assert_fails_with(code, &out, "secrets", &format!("{} is readable by others (mode 0644)", secret.display()));
    assert!(out.contains(&format!("chmod 0600 {}", secret.display())), "{out}");
}

#[test]
fn door_that_cannot_bind_fails() {
    let site = Site::new().with(LOOPBACK_SITE);
    // Another process (this test) holds the Handle TCP port.
    let held = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], site.handle_port))).unwrap();
    let (code, out) = site.doctor();
    assert_fails_with(
        code,
        &out,
        "doors",
        &format!("handle.tcp_listen tcp 127.0.0.1:{} cannot bind: in use by another process", site.handle_port),
    );
    drop(held);
}

#[test]
fn hs_site_with_a_foreign_address_fails() {
    let site = Site::new();
    // Right key and ports, but an address that is not the node's.
    site_record(&site.data().join("site.bin"), "192.0.2.7".parse().unwrap(), site.handle_port, &site.pubkey);
    let site = site.with("[handle.site]\naddresses = [\"127.0.0.1\"]\nrecord_file = \"site.bin\"\n");
    let (code, out) = site.doctor();
    assert_fails_with(code, &out, "hs-site", "address 192.0.2.7 is not one of this node's addresses [127.0.0.1]");
    assert!(!out.contains("differs from the node's key"), "the key is right:\n{out}");
}

#[test]
fn hs_site_with_another_key_fails() {
    let site = Site::new();
    let other = keygen(&site.config(), &site.dir.path().join("other.key"));
    assert_ne!(other, site.pubkey);
    site_record(&site.data().join("site.bin"), IpAddr::V4(Ipv4Addr::LOCALHOST), site.handle_port, &other);
    let site = site.with("[handle.site]\naddresses = [\"127.0.0.1\"]\nrecord_file = \"site.bin\"\n");
    let (code, out) = site.doctor();
    assert_fails_with(code, &out, "hs-site", "differs from the node's key");
    assert!(!out.contains("is not one of this node's addresses"), "the address is right:\n{out}");
}

#[test]
fn certificate_expiring_within_30_days_fails() {
    let site = Site::new();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(60);
    params.not_after = now + time::Duration::days(10) + time::Duration::hours(12);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(site.data().join("near.crt"), cert.pem()).unwrap();
    std::fs::write(site.data().join("near.key"), key.serialize_pem()).unwrap();
    std::fs::set_permissions(site.data().join("near.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let site = site.with(&format!(
        "{LOOPBACK_SITE}\n[http.tls]\nenabled = true\nself_signed = false\ncert_file = \"near.crt\"\nkey_file = \"near.key\"\n"
    ));
    // The base config already has [http.tls]: drop its `enabled = false` table.
    let text = std::fs::read_to_string(site.config()).unwrap().replacen("[http.tls]\nenabled = false\n", "", 1);
    std::fs::write(site.config(), text).unwrap();
    let (code, out) = site.doctor();
    assert_fails_with(code, &out, "certificates", "near.crt expires in 10 day(s)");
}

#[test]
fn clock_off_against_a_peer_fails() {
    let site = Site::new().with(LOOPBACK_SITE);
    // A peer on loopback whose HTTP Date is an hour behind this host's clock.
    let peer = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = peer.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = peer.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = std::io::Read::read(&mut conn, &mut buf);
        let format = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let date = (time::OffsetDateTime::now_utc() - time::Duration::hours(1)).format(&format).unwrap();
        let answer = format!("HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        std::io::Write::write_all(&mut conn, answer.as_bytes()).unwrap();
    });
    let o = cli(&site.config(), &["doctor", "--timeout-ms", "2000", "--clock-peer", &addr.to_string()]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    server.join().unwrap();
    assert_fails_with(o.status.code(), &out, "clock", &format!("against {addr} (HTTP Date)"));
    let line = fails(&out).into_iter().find(|l| l.contains("clock")).unwrap();
    let skew: i64 = line.split("off by ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((3590..=3610).contains(&skew), "{line}");
}
