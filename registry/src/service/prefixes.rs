//! Enterprise prefixes: query and paging (snms-api.md §5), the review state
//! machine ([`crate::model::PrefixState`]), and hosting configuration (§7):
//! *hosted* — this node homes the prefix and answers for it; *self-hosted* —
//! the enterprise runs its own node and this node keeps an HS_SITE for the
//! prefix ([`Prefix::site`]) so resolutions can be referred there.

use std::net::IpAddr;

use super::{Actor, Registrar, ServiceError, access};
use crate::ident;
use crate::model::site::{
    HsSite, Interface, SiteAttribute, SiteServer, hash_option, interface_protocol, interface_type, primary_mask,
};
use crate::model::{Enterprise, HostingState, Prefix, PrefixState};
use crate::store::WriteCtx;

/// A prefix with its enterprise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixView {
    pub prefix: Prefix,
    pub enterprise: Option<Enterprise>,
}

/// Filters of `GET /snms/api/prefix/page` (empty = no filter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixFilter {
    /// Substring of the enterprise name.
    pub ent_name: Option<String>,
    /// Substring of the prefix (ASCII-case-insensitive).
    pub ent_prefix: Option<String>,
    /// Lower bound on `created` (Unix seconds).
    pub start: Option<u64>,
    /// Upper bound on `created`.
    pub end: Option<u64>,
}

/// One page of a listing (§5.3; `page` is 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub size: u64,
}

impl<T> Page<T> {
    /// Cuts `all` into the page `page` (1-based) of `size`.
    pub fn of(all: Vec<T>, page: u64, size: u64) -> Page<T> {
        let total = all.len() as u64;
        let page = page.max(1);
        let size = size.max(1);
        let skip = (page - 1).saturating_mul(size);
        let items = all.into_iter().skip(usize::try_from(skip).unwrap_or(usize::MAX)).take(size as usize).collect();
        Page { items, total, page, size }
    }

    pub fn total_pages(&self) -> u64 {
        self.total.div_ceil(self.size.max(1))
    }
}

/// A stable numeric id for a prefix (the SNMS `id` of §5.2): FNV-1a of the
/// canonical prefix, 48 bits (safe as a JavaScript number).
pub fn prefix_id(prefix: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in prefix.bytes() {
        h ^= u64::from(b.to_ascii_uppercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h & 0xffff_ffff_ffff).max(1)
}

/// A hosting configuration (`POST /snms/api/ent/config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hosting {
    /// §7.1: served by this node's hosting server `proxy_server_id`.
    Hosted { prefix: String, proxy_server_id: u64 },
    /// §7.2: served by the enterprise's own node at `ip`.
    SelfHosted { prefix: String, ip: IpAddr, tcp: Option<u16>, udp: Option<u16>, http: Option<u16> },
}

/// The HS_SITE value data for a self-hosted enterprise node: one primary
/// server at `ip` with the given ports (no public key is known).
pub fn enterprise_site(
    prefix: &str,
    ip: IpAddr,
    tcp: Option<u16>,
    udp: Option<u16>,
    http: Option<u16>,
    serial: u16,
) -> HsSite {
    let mut interfaces = Vec::new();
    if let Some(p) = tcp {
        interfaces.push(Interface {
            kind: interface_type::ADMIN_AND_QUERY,
            protocol: interface_protocol::TCP,
            port: p.into(),
        });
    }
    if let Some(p) = udp {
        interfaces.push(Interface { kind: interface_type::QUERY, protocol: interface_protocol::UDP, port: p.into() });
    }
    if let Some(p) = http {
        interfaces.push(Interface {
            kind: interface_type::ADMIN_AND_QUERY,
            protocol: interface_protocol::HTTP,
            port: p.into(),
        });
    }
    HsSite {
        data_format_version: 1,
        protocol_major: 2,
        protocol_minor: 10,
        serial_number: serial,
        primary_mask: primary_mask::PRIMARY,
        hash_option: hash_option::BY_HANDLE,
        hash_filter: Vec::new(),
        attributes: vec![SiteAttribute {
            name: b"desc".to_vec(),
            value: format!("enterprise node {prefix}").into_bytes(),
        }],
        servers: vec![SiteServer {
            server_id: 1,
            address: SiteServer::address_bytes(ip),
            public_key: Vec::new(),
            interfaces,
        }],
    }
}

fn visible(actor: &Actor, p: &Prefix) -> bool {
    actor.can_read_all() || (actor.enterprise_id.is_some() && p.enterprise_id == actor.enterprise_id)
}

impl Registrar {
    fn view(&self, p: Prefix) -> Result<PrefixView, ServiceError> {
        let enterprise = match p.enterprise_id {
            Some(id) => self.store().get_enterprise(id)?,
            None => None,
        };
        Ok(PrefixView { prefix: p, enterprise })
    }

    /// `GET /snms/api/prefix/query`.
    pub fn prefix_query(&self, actor: &Actor, prefix: &str) -> Result<PrefixView, ServiceError> {
        ident::check_snms_prefix(prefix).map_err(|e| ServiceError::invalid("prefix", e.to_string()))?;
        let p = self
            .store()
            .get_prefix(prefix)?
            .ok_or_else(|| ServiceError::EntityNotFound { what: "前缀", key: prefix.to_owned() })?;
        if !visible(actor, &p) {
            return Err(ServiceError::forbidden(format!("无权查看前缀{prefix} (not your prefix)")));
        }
        self.view(p)
    }

    /// `GET /snms/api/prefix/page`: admins and auditors see every prefix,
    /// enterprise users their enterprise's, others nothing.
    pub fn prefix_page(
        &self,
        actor: &Actor,
        f: &PrefixFilter,
        page: u64,
        size: u64,
    ) -> Result<Page<PrefixView>, ServiceError> {
        let want_prefix = f.ent_prefix.as_ref().map(|s| s.to_ascii_uppercase());
        let mut rows = Vec::new();
        for p in self.store().list_prefixes()? {
            if !visible(actor, &p)
                || want_prefix.as_ref().is_some_and(|w| !p.canonical().contains(w.as_str()))
                || f.start.is_some_and(|s| p.created < s)
                || f.end.is_some_and(|e| p.created > e)
            {
                continue;
            }
            let v = self.view(p)?;
            if let Some(n) = &f.ent_name
                && !v.enterprise.as_ref().is_some_and(|e| e.name.contains(n.as_str()))
            {
                continue;
            }
            rows.push(v);
        }
        Ok(Page::of(rows, page, size))
    }

    /// Moves a prefix through the review state machine (admin only; the
    /// admin API / CLI approves filings with this).
    pub fn set_prefix_state(
        &self,
        actor: &Actor,
        prefix: &str,
        to: PrefixState,
        now: u64,
    ) -> Result<Prefix, ServiceError> {
        access::check_writer(actor)?;
        if !actor.is_admin() {
            return Err(ServiceError::forbidden("只有管理员可以审核前缀 (administrators only)"));
        }
        let mut p = self
            .store()
            .get_prefix(prefix)?
            .ok_or_else(|| ServiceError::EntityNotFound { what: "前缀", key: prefix.to_owned() })?;
        p.set_state(to, now).map_err(|e| ServiceError::rejected(e.to_string()))?;
        self.store().put_prefix(&p, &WriteCtx::new(now, actor.username.clone()))?;
        self.audit(actor, "prefix.state", prefix, format!("-> {}", to.code()), now)?;
        Ok(p)
    }

    /// `POST /snms/api/ent/config`. The prefix must be approved (enabled).
    pub fn configure_hosting(&self, actor: &Actor, h: &Hosting, now: u64) -> Result<(), ServiceError> {
        access::check_writer(actor)?;
        let prefix = match h {
            Hosting::Hosted { prefix, .. } | Hosting::SelfHosted { prefix, .. } => prefix,
        };
        ident::check_snms_prefix(prefix)
            .map_err(|e| ServiceError::invalid("entPrefixConfig.entPrefix", e.to_string()))?;
        let mut p = self
            .store()
            .get_prefix(prefix)?
            .ok_or_else(|| ServiceError::EntityNotFound { what: "前缀", key: prefix.clone() })?;
        let owner = actor.enterprise_id.is_some() && p.enterprise_id == actor.enterprise_id;
        if !(actor.is_admin() || owner) {
            return Err(ServiceError::forbidden(format!("无权配置前缀{prefix} (not your prefix)")));
        }
        if p.state != PrefixState::Enabled {
            return Err(ServiceError::rejected(format!(
                "企业前缀{prefix}尚未审核通过，不能配置 (prefix state {})",
                p.state.code()
            )));
        }
        let what = match h {
            Hosting::Hosted { proxy_server_id, .. } => {
                let ids = &self.limits().proxy_server_ids;
                if *proxy_server_id == 0 || (!ids.is_empty() && !ids.contains(proxy_server_id)) {
                    return Err(ServiceError::invalid(
                        "proxyServerId",
                        format!("{proxy_server_id} is not a hosting server of this node"),
                    ));
                }
                p.homed = true;
                p.hosting = HostingState::Hosted;
                p.proxy_server_id = Some(*proxy_server_id);
                p.site = None;
                format!("hosted on server {proxy_server_id}")
            }
            Hosting::SelfHosted { ip, tcp, udp, http, .. } => {
                if tcp.is_none() && udp.is_none() && http.is_none() {
                    return Err(ServiceError::invalid(
                        "entPrefixConfig.tcpPort",
                        "at least one of tcpPort, udpPort, httpPort is required",
                    ));
                }
                let serial = p
                    .site
                    .as_deref()
                    .and_then(|b| HsSite::from_bytes(b).ok())
                    .map_or(1, |s| s.serial_number.wrapping_add(1).max(1));
                p.site = Some(enterprise_site(&p.prefix, *ip, *tcp, *udp, *http, serial).to_bytes());
                p.homed = false;
                p.hosting = HostingState::NotHosted;
                p.proxy_server_id = None;
                format!("self-hosted at {ip}")
            }
        };
        p.updated = now;
        self.store().put_prefix(&p, &WriteCtx::new(now, actor.username.clone()))?;
        self.audit(actor, "prefix.hosting", prefix.as_str(), what, now)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Limits;
    use crate::service::testutil::*;

    #[test]
    fn query_page_hosting() {
        let f = fixture(Limits::default());
        assert_eq!(f.reg.prefix_query(&user(1), "88.1.1").unwrap().enterprise.unwrap().id, 1);
        assert!(matches!(f.reg.prefix_query(&user(1), "88.1.2"), Err(ServiceError::Forbidden(_))));
        assert!(matches!(f.reg.prefix_query(&admin(), "88.9"), Err(ServiceError::EntityNotFound { .. })));
        let all = f.reg.prefix_page(&admin(), &PrefixFilter::default(), 1, 10).unwrap();
        assert_eq!(all.total, 3);
        let mine = f.reg.prefix_page(&user(2), &PrefixFilter::default(), 1, 10).unwrap();
        assert_eq!(mine.items.len(), 1);
        let filt = PrefixFilter { ent_name: Some("企业1".into()), ..Default::default() };
        assert_eq!(f.reg.prefix_page(&admin(), &filt, 1, 10).unwrap().total, 1);
        assert_eq!(f.reg.prefix_page(&admin(), &PrefixFilter::default(), 2, 2).unwrap().items.len(), 1);

        let h = Hosting::SelfHosted {
            prefix: "88.1.2".into(),
            ip: "2001:db8::20".parse().unwrap(),
            tcp: Some(2641),
            udp: None,
            http: None,
        };
        f.reg.configure_hosting(&user(2), &h, NOW).unwrap();
        let p = f.store.get_prefix("88.1.2").unwrap().unwrap();
        assert!(!p.homed);
        let site = HsSite::from_bytes(p.site.as_deref().unwrap()).unwrap();
        assert_eq!(site.servers[0].ip(), "2001:db8::20".parse::<IpAddr>().unwrap());
        assert!(matches!(f.reg.configure_hosting(&user(1), &h, NOW), Err(ServiceError::Forbidden(_))));
        f.reg
            .configure_hosting(&admin(), &Hosting::Hosted { prefix: "88.1.2".into(), proxy_server_id: 2 }, NOW)
            .unwrap();
        assert!(f.store.get_prefix("88.1.2").unwrap().unwrap().homed);
        // Not yet approved -> refused.
        f.reg.set_prefix_state(&admin(), "88.1.2", PrefixState::Disabled, NOW).unwrap();
        assert!(f.reg.configure_hosting(&admin(), &h, NOW).is_err());
        assert_ne!(prefix_id("88.1.1"), prefix_id("88.1.2"));
        assert_eq!(prefix_id("88.a"), prefix_id("88.A"));
    }
}
