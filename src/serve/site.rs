//! This node's HS_SITE record (handle-protocol.md §4.3), answered to
//! OC_GET_SITE_INFO and published upward: built from `[handle.site]` and the
//! bound doors, or taken verbatim from `handle.site.record_file` when an
//! operator must publish an exact record (e.g. the one registered at the
//! national node).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use idnode_registry::model::site::{
    HsSite, Interface, SiteAttribute, SiteServer, hash_option, interface_protocol, interface_type, primary_mask,
};

/// The addresses clients reach this node on, and its server key.
#[derive(Debug, Clone)]
pub struct SiteInputs<'a> {
    pub addresses: &'a [IpAddr],
    pub serial: u16,
    pub description: &'a str,
    /// HS_PUBKEY encoding of the server key.
    pub public_key: &'a [u8],
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
}

/// Builds the record: one server (id 1) at the first address, further
/// addresses as `alt_addr.N` attributes; interfaces TCP admin+query and UDP
/// query — only doors that speak the Handle protocol: the HTTP door serves
/// the REST API, not the Handle-over-HTTP POST tunnel, so it is not listed
/// (a client would fall back to it and wait out its timeout); protocol 2.11
/// (what this node speaks), hash by whole handle (CNRI default).
pub fn build(inputs: &SiteInputs<'_>) -> HsSite {
    let first = inputs.addresses.first().copied().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut attributes = vec![SiteAttribute { name: b"desc".to_vec(), value: inputs.description.as_bytes().to_vec() }];
    for (i, a) in inputs.addresses.iter().skip(1).enumerate() {
        attributes.push(SiteAttribute {
            name: format!("alt_addr.{}", i + 1).into_bytes(),
            value: a.to_string().into_bytes(),
        });
    }
    let mut interfaces = Vec::new();
    if let Some(t) = inputs.tcp {
        interfaces.push(Interface {
            kind: interface_type::ADMIN_AND_QUERY,
            protocol: interface_protocol::TCP,
            port: u32::from(t.port()),
        });
    }
    if let Some(u) = inputs.udp {
        interfaces.push(Interface {
            kind: interface_type::QUERY,
            protocol: interface_protocol::UDP,
            port: u32::from(u.port()),
        });
    }
    HsSite {
        data_format_version: 1,
        protocol_major: 2,
        protocol_minor: 11,
        serial_number: inputs.serial,
        primary_mask: primary_mask::PRIMARY,
        hash_option: hash_option::BY_HANDLE,
        hash_filter: Vec::new(),
        attributes,
        servers: vec![SiteServer {
            server_id: 1,
            address: SiteServer::address_bytes(first),
            public_key: inputs.public_key.to_vec(),
            interfaces,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_is_written_right_aligned_and_round_trips() {
        let addrs = [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))];
        let site = build(&SiteInputs {
            addresses: &addrs,
            serial: 1,
            description: "test",
            public_key: b"\x00\x00\x00\x0bRSA_PUB_KEY\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x01\x03",
            udp: Some("127.0.0.1:2641".parse().unwrap()),
            tcp: Some("127.0.0.1:2641".parse().unwrap()),
        });
        assert_eq!((site.protocol_major, site.protocol_minor), (2, 11));
        let ifaces = &site.servers[0].interfaces;
        assert_eq!(ifaces.len(), 2);
        assert!(ifaces.iter().all(|i| i.protocol != interface_protocol::HTTP));
        let bytes = site.to_bytes();
        assert_eq!(HsSite::from_bytes(&bytes).unwrap(), site);
        assert_eq!(&site.servers[0].address[..12], &[0u8; 12]);
        assert_eq!(&site.servers[0].address[12..], &[127, 0, 0, 1]);
    }
}
