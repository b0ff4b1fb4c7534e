//! The HS_SITE record (handle-protocol.md §4.3): a site's servers, their
//! addresses, keys and interfaces. Also the body of an OC_GET_SITE_INFO
//! answer, and the data of HS_SITE.6 / HS_SITE.PREFIX / HS_NA_DELEGATE
//! values.
//!
//! Pure codec over bytes: no I/O. Decoding never panics; counts and lengths
//! are checked against the spec limits and the bytes present before
//! anything is allocated. Server public keys are kept as raw bytes (parse
//! them with [`SiteServer::public_key`]) so that a key type we do not know
//! does not make the whole site unreadable and re-encoding is byte-exact.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::pubkey::PublicKey;
use super::wire::{MAX_ARRAY, Reader, WireError, WriteExt};

/// `primaryMask` bits (§4.3).
pub mod primary_mask {
    /// This is a primary site (admin requests and `AT` go only to primaries).
    pub const PRIMARY: u8 = 0x80;
    /// The service has several primary sites.
    pub const MULTI_PRIMARY: u8 = 0x40;
}

/// `hashOption` values (§4.3, §7 "Hashing inside a site").
pub mod hash_option {
    /// Hash the prefix (text before the first "/").
    pub const BY_PREFIX: u8 = 0;
    /// Hash the suffix (text after the first "/").
    pub const BY_SUFFIX: u8 = 1;
    /// Hash the whole handle (CNRI default).
    pub const BY_HANDLE: u8 = 2;
}

/// Interface `type` values (§4.3).
pub mod interface_type {
    pub const OUT_OF_SERVICE: u8 = 0;
    pub const ADMIN: u8 = 1;
    pub const QUERY: u8 = 2;
    pub const ADMIN_AND_QUERY: u8 = 3;
}

/// Interface `protocol` values (§4.3).
pub mod interface_protocol {
    pub const UDP: u8 = 0;
    pub const TCP: u8 = 1;
    pub const HTTP: u8 = 2;
    pub const HTTPS: u8 = 3;
}

/// One `(u8 type, u8 protocol, u32 port)` interface of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Interface {
    /// One of [`interface_type`].
    pub kind: u8,
    /// One of [`interface_protocol`].
    pub protocol: u8,
    pub port: u32,
}

impl Interface {
    /// Type 2 or 3: answers resolution.
    pub fn allows_query(&self) -> bool {
        self.kind & interface_type::QUERY != 0
    }
    /// Type 1 or 3: accepts administration.
    pub fn allows_admin(&self) -> bool {
        self.kind & interface_type::ADMIN != 0
    }
}

/// A `(bytes name, bytes value)` site attribute ("desc", "alt_addr.1", ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SiteAttribute {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// One server of a site.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SiteServer {
    pub server_id: u32,
    /// IPv6 address; IPv4 is written right-aligned in 16 zero bytes
    /// (`::a.b.c.d`, not `::ffff:a.b.c.d`) — see [`SiteServer::ip`].
    pub address: [u8; 16],
    /// The server key in HS_PUBKEY encoding, exactly as on the wire.
    pub public_key: Vec<u8>,
    pub interfaces: Vec<Interface>,
}

impl SiteServer {
    /// The address: IPv4 when the first 12 bytes are zero (§4.3, pitfall 7),
    /// else IPv6.
    pub fn ip(&self) -> IpAddr {
        if self.address[..12].iter().all(|&b| b == 0) {
            let a = &self.address[12..];
            IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.address))
        }
    }

    /// The 16-byte wire form of `ip` (IPv4 right-aligned in zeros).
    pub fn address_bytes(ip: IpAddr) -> [u8; 16] {
        match ip {
            IpAddr::V4(v4) => {
                let mut a = [0u8; 16];
                a[12..].copy_from_slice(&v4.octets());
                a
            }
            IpAddr::V6(v6) => v6.octets(),
        }
    }

    /// Parses [`public_key`](Self::public_key).
    pub fn public_key(&self) -> Result<PublicKey, WireError> {
        PublicKey::from_bytes(&self.public_key)
    }
}

/// Smallest encoded server: id + address + key length + interface count.
const SERVER_MIN_LEN: usize = 4 + 16 + 4 + 4;
/// Encoded interface length.
const INTERFACE_LEN: usize = 1 + 1 + 4;
/// Smallest encoded attribute: two lengths.
const ATTRIBUTE_MIN_LEN: usize = 8;

/// An HS_SITE record (§4.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct HsSite {
    /// `dataFormatVersion`, 1.
    pub data_format_version: u16,
    pub protocol_major: u8,
    pub protocol_minor: u8,
    /// Bumped on every change; also sent as the header's `siteInfoSerial`.
    pub serial_number: u16,
    /// Bits from [`primary_mask`].
    pub primary_mask: u8,
    /// One of [`hash_option`].
    pub hash_option: u8,
    /// Usually empty.
    pub hash_filter: Vec<u8>,
    pub attributes: Vec<SiteAttribute>,
    pub servers: Vec<SiteServer>,
}

impl HsSite {
    pub fn is_primary(&self) -> bool {
        self.primary_mask & primary_mask::PRIMARY != 0
    }

    pub fn is_multi_primary(&self) -> bool {
        self.primary_mask & primary_mask::MULTI_PRIMARY != 0
    }

    /// The value of the first attribute called `name` (ASCII
    /// case-insensitive).
    pub fn attribute(&self, name: &[u8]) -> Option<&[u8]> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name)).map(|a| a.value.as_slice())
    }

    /// Length of [`HsSite::to_bytes`]'s output.
    pub fn encoded_len(&self) -> usize {
        let attrs: usize = self.attributes.iter().map(|a| ATTRIBUTE_MIN_LEN + a.name.len() + a.value.len()).sum();
        let servers: usize =
            self.servers.iter().map(|s| SERVER_MIN_LEN + s.public_key.len() + INTERFACE_LEN * s.interfaces.len()).sum();
        2 + 1 + 1 + 2 + 1 + 1 + 4 + self.hash_filter.len() + 4 + attrs + 4 + servers
    }

    /// Appends the §4.3 encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.put_u16(self.data_format_version);
        out.put_u8(self.protocol_major);
        out.put_u8(self.protocol_minor);
        out.put_u16(self.serial_number);
        out.put_u8(self.primary_mask);
        out.put_u8(self.hash_option);
        out.put_bytes(&self.hash_filter);
        out.put_u32(self.attributes.len() as u32);
        for a in &self.attributes {
            out.put_bytes(&a.name);
            out.put_bytes(&a.value);
        }
        out.put_u32(self.servers.len() as u32);
        for s in &self.servers {
            out.put_u32(s.server_id);
            out.extend_from_slice(&s.address);
            out.put_bytes(&s.public_key);
            out.put_u32(s.interfaces.len() as u32);
            for i in &s.interfaces {
                out.put_u8(i.kind);
                out.put_u8(i.protocol);
                out.put_u32(i.port);
            }
        }
    }

    /// The encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    /// Reads a record from `r`, leaving any following bytes unread.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let data_format_version = r.u16()?;
        let protocol_major = r.u8()?;
        let protocol_minor = r.u8()?;
        let serial_number = r.u16()?;
        let primary_mask = r.u8()?;
        let hash_option = r.u8()?;
        let hash_filter = r.bytes("HS_SITE hash filter")?.to_vec();
        let n = r.count("HS_SITE attributes", MAX_ARRAY, ATTRIBUTE_MIN_LEN)?;
        let mut attributes = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.bytes("HS_SITE attribute name")?.to_vec();
            let value = r.bytes("HS_SITE attribute value")?.to_vec();
            attributes.push(SiteAttribute { name, value });
        }
        let n = r.count("HS_SITE servers", MAX_ARRAY, SERVER_MIN_LEN)?;
        let mut servers = Vec::with_capacity(n);
        for _ in 0..n {
            let server_id = r.u32()?;
            let mut address = [0u8; 16];
            address.copy_from_slice(r.take(16)?);
            let public_key = r.bytes("HS_SITE server key")?.to_vec();
            let m = r.count("HS_SITE interfaces", MAX_ARRAY, INTERFACE_LEN)?;
            let mut interfaces = Vec::with_capacity(m);
            for _ in 0..m {
                let kind = r.u8()?;
                let protocol = r.u8()?;
                let port = r.u32()?;
                interfaces.push(Interface { kind, protocol, port });
            }
            servers.push(SiteServer { server_id, address, public_key, interfaces });
        }
        Ok(HsSite {
            data_format_version,
            protocol_major,
            protocol_minor,
            serial_number,
            primary_mask,
            hash_option,
            hash_filter,
            attributes,
            servers,
        })
    }

    /// Decodes a record that fills `data` exactly (CNRI rejects trailing
    /// bytes, §3 "Get site info response").
    pub fn from_bytes(data: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(data);
        let site = HsSite::decode(&mut r)?;
        r.finish("HS_SITE")?;
        Ok(site)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_site_round_trip() {
        let site = HsSite {
            data_format_version: 1,
            protocol_major: 2,
            protocol_minor: 10,
            serial_number: 1,
            primary_mask: primary_mask::PRIMARY,
            hash_option: hash_option::BY_HANDLE,
            hash_filter: vec![],
            attributes: vec![SiteAttribute { name: b"desc".to_vec(), value: b"x".to_vec() }],
            servers: vec![SiteServer {
                server_id: 1,
                address: SiteServer::address_bytes("127.0.0.1".parse().unwrap()),
                public_key: vec![],
                interfaces: vec![Interface {
                    kind: interface_type::ADMIN_AND_QUERY,
                    protocol: interface_protocol::TCP,
                    port: 22641,
                }],
            }],
        };
        let b = site.to_bytes();
        assert_eq!(b.len(), site.encoded_len());
        assert_eq!(hex::encode(&b[..12]), "0001020a0001800200000000", "§12 header bytes of the peer's record");
        let back = HsSite::from_bytes(&b).unwrap();
        assert_eq!(back, site);
        assert_eq!(back.servers[0].ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
        assert!(back.is_primary() && !back.is_multi_primary());
        assert_eq!(back.attribute(b"DESC"), Some(&b"x"[..]));
        assert!(back.servers[0].interfaces[0].allows_admin());
        for cut in 0..b.len() {
            assert!(HsSite::from_bytes(&b[..cut]).is_err());
        }
    }

    #[test]
    fn ipv6_address() {
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let s =
            SiteServer { server_id: 1, address: SiteServer::address_bytes(ip), public_key: vec![], interfaces: vec![] };
        assert_eq!(s.ip(), ip);
    }
}
