//! Federation rules (design.md §2, handle-protocol.md §7): which prefix
//! handles (`0.NA/<prefix>`) this node publishes, what they hold, and the
//! records a top node keeps for the secondaries it admits.
//!
//! * **Publication (every role).** An *enterprise prefix* (one with an
//!   enterprise, or one below a homed node prefix) that is enabled gets a
//!   prefix handle `0.NA/<PREFIX>`: index 1 `HS_SITE` — this node's site
//!   when the prefix is hosted here, the enterprise node's site when it
//!   points there — and index 100 `HS_ADMIN` for `300:0.NA/<PREFIX>` (the
//!   enterprise's administrator; everything but derived prefixes and
//!   listing). Any other state removes those two values (the record goes
//!   when nothing else is left). [`Registrar::publish_prefix`] reconciles
//!   one prefix with these rules; it writes only when something differs,
//!   so running it again is free.
//! * **Top node.** A derived-prefix marker `0.NA/0.NA/<prefix>` makes this
//!   node answer for every `0.NA/<prefix>.*` handle
//!   ([`Registrar::home_derived_prefix`]); an admitted secondary gets its
//!   HS_SECKEY on its identity handle and an HS_ADMIN on `0.NA/<prefix>`
//!   for each prefix it may register under ([`Registrar::admit_secondary`]).
//!
//! The writes are record writes through the store's one transaction path,
//! so they reach the change log, the outbox and mirrors like any other.

use crate::ident::prefix_handle;
use crate::model::admin::admin_perm;
use crate::model::value::perm;
use crate::model::{AdminRecord, HostingState, Prefix, PrefixState, Value};
use crate::store::{RecordOp, Store, StoreError, WriteCtx};

use super::{Registrar, ServiceError};

/// Index of the published HS_SITE value.
pub const SITE_INDEX: u32 = 1;
/// Index of the published / admitted HS_ADMIN value.
pub const ADMIN_INDEX: u32 = 100;
/// Change-log actor of the writes made here.
pub const ACTOR: &str = "federation";

/// Permissions of the enterprise administrator on its prefix handle:
/// everything except creating/deleting derived prefixes and listing.
pub const ENTERPRISE_ADMIN_PERMS: u16 =
    admin_perm::ALL & !(admin_perm::ADD_NA | admin_perm::DELETE_NA | admin_perm::LIST_HANDLES);
/// Permissions of an admitted secondary on `0.NA/<prefix>` at a top node:
/// everything except listing (it creates and updates the prefix handles below).
pub const SECONDARY_PERMS: u16 = admin_perm::ALL & !admin_perm::LIST_HANDLES;

/// The canonical store key of a prefix handle: `0.NA/` + the upper-cased prefix.
pub fn prefix_handle_key(prefix: &str) -> Vec<u8> {
    let mut k = b"0.NA/".to_vec();
    k.extend(prefix.bytes().map(|b| b.to_ascii_uppercase()));
    k
}

/// The prefix a `0.NA/<prefix>` key stands for (`None` for other keys).
pub fn prefix_of_handle_key(key: &[u8]) -> Option<&[u8]> {
    let rest = key.strip_prefix(b"0.NA/").or_else(|| key.strip_prefix(b"0.na/"))?;
    (!rest.is_empty() && !rest.contains(&b'/')).then_some(rest)
}

/// Whether `p` is an enterprise prefix: it has an enterprise, or a proper
/// ancestor of it is homed here (a node prefix).
pub fn is_enterprise_prefix(store: &dyn Store, p: &Prefix) -> bool {
    if p.enterprise_id.is_some() {
        return true;
    }
    match crate::ident::parent_prefix(&p.prefix) {
        Some(parent) => store.longest_homed(parent.as_bytes()).is_some(),
        None => false,
    }
}

/// The values `0.NA/<prefix>` must carry at indexes [`SITE_INDEX`] and
/// [`ADMIN_INDEX`], or `None` when it must not be published. `own_site` is
/// this node's HS_SITE (handle-protocol.md §4.3 bytes).
pub fn published_values(p: &Prefix, own_site: &[u8]) -> Option<Vec<Value>> {
    if p.state != PrefixState::Enabled {
        return None;
    }
    let site: &[u8] = if p.homed || p.hosting == HostingState::Hosted { own_site } else { p.site.as_deref()? };
    if site.is_empty() {
        return None;
    }
    let admin = AdminRecord::new(ENTERPRISE_ADMIN_PERMS, prefix_handle(&p.prefix).into_bytes(), 300);
    Some(vec![
        Value::new(SITE_INDEX, "HS_SITE", site.to_vec()).with_permissions(perm::DEFAULT),
        Value::new(ADMIN_INDEX, "HS_ADMIN", admin.to_bytes()).with_permissions(perm::DEFAULT),
    ])
}

/// What [`Registrar::publish_prefix`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The prefix handle was created or its values updated.
    Written,
    /// The published values were removed (or the record deleted).
    Removed,
    /// Nothing to change.
    Unchanged,
    /// Not an enterprise prefix: left alone.
    NotEnterprise,
}

/// Same value ignoring the timestamp (which the store stamps).
fn same_value(a: &Value, b: &Value) -> bool {
    a.index == b.index
        && a.value_type == b.value_type
        && a.data == b.data
        && a.permissions == b.permissions
        && a.ttl_type == b.ttl_type
        && a.ttl == b.ttl
        && a.references == b.references
}

fn current_values(store: &dyn Store, key: &[u8]) -> Result<Option<Vec<Value>>, StoreError> {
    match store.get_record(key)? {
        None => Ok(None),
        Some(r) => Ok(Some(r.values().map_err(|e| StoreError::Corrupt { tree: "handles", detail: e.to_string() })?)),
    }
}

/// Makes the values at `want`'s indexes of record `key` equal to `want`
/// (creating the record if needed), leaving other values alone. Returns
/// whether it wrote.
fn ensure_values(store: &dyn Store, key: &[u8], want: Vec<Value>, ctx: &WriteCtx) -> Result<bool, StoreError> {
    match current_values(store, key)? {
        None => {
            store.write(RecordOp::Create { key: key.to_vec(), values: want, overwrite: false }, ctx)?;
            Ok(true)
        }
        Some(cur) => {
            let differs = want.iter().any(|w| !cur.iter().any(|c| same_value(c, w)));
            if differs {
                store.write(RecordOp::AddValues { key: key.to_vec(), values: want, overwrite: true }, ctx)?;
            }
            Ok(differs)
        }
    }
}

impl Registrar {
    /// Reconciles `0.NA/<prefix>` with the prefix's state (see the module
    /// docs). `own_site` is this node's HS_SITE. A prefix that no longer
    /// exists has its published values removed.
    pub fn publish_prefix(&self, prefix: &str, own_site: &[u8], now: u64) -> Result<Published, ServiceError> {
        let store = self.store();
        let key = prefix_handle_key(prefix);
        let ctx = WriteCtx::new(now, ACTOR);
        let p = store.get_prefix(prefix)?;
        if let Some(p) = &p
            && !is_enterprise_prefix(store, p)
        {
            return Ok(Published::NotEnterprise);
        }
        match p.as_ref().and_then(|p| published_values(p, own_site)) {
            Some(want) => {
                Ok(if ensure_values(store, &key, want, &ctx)? { Published::Written } else { Published::Unchanged })
            }
            None => {
                let Some(cur) = current_values(store, &key)? else { return Ok(Published::Unchanged) };
                let ours: Vec<u32> = cur
                    .iter()
                    .filter(|v| {
                        (v.index == SITE_INDEX && v.value_type.eq_ignore_ascii_case(b"HS_SITE"))
                            || (v.index == ADMIN_INDEX && v.value_type.eq_ignore_ascii_case(b"HS_ADMIN"))
                    })
                    .map(|v| v.index)
                    .collect();
                if ours.is_empty() {
                    return Ok(Published::Unchanged);
                }
                if ours.len() == cur.len() {
                    store.write(RecordOp::Delete { key }, &ctx)?;
                } else {
                    store.write(RecordOp::RemoveValues { key, indexes: ours }, &ctx)?;
                }
                Ok(Published::Removed)
            }
        }
    }

    /// Reconciles every known prefix (start-up, or after this node's
    /// HS_SITE changed). Returns how many prefix handles were written or
    /// removed.
    pub fn publish_all_prefixes(&self, own_site: &[u8], now: u64) -> Result<usize, ServiceError> {
        let mut n = 0;
        for p in self.store().list_prefixes()? {
            if matches!(self.publish_prefix(&p.prefix, own_site, now)?, Published::Written | Published::Removed) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Top node: homes the derived-prefix marker `0.NA/0.NA/<prefix>`,
    /// administered by `admin` (`index:handle` of the top's administrator,
    /// all permissions). Idempotent.
    pub fn home_derived_prefix(
        &self,
        prefix: &str,
        admin_handle: &str,
        admin_index: u32,
        now: u64,
    ) -> Result<bool, ServiceError> {
        crate::ident::check_prefix_chars(prefix).map_err(|e| ServiceError::invalid("derived prefix", e.to_string()))?;
        let mut key = b"0.NA/0.NA/".to_vec();
        key.extend(prefix.bytes().map(|b| b.to_ascii_uppercase()));
        let admin = AdminRecord::new(admin_perm::ALL, admin_handle.as_bytes().to_vec(), admin_index);
        let want = vec![Value::new(ADMIN_INDEX, "HS_ADMIN", admin.to_bytes()).with_permissions(perm::DEFAULT)];
        Ok(ensure_values(self.store(), &key, want, &WriteCtx::new(now, ACTOR))?)
    }

    /// Top node: admits a secondary. Its identity `identity_index:identity_handle`
    /// gets `secret` as HS_SECKEY (admin-readable only), and each
    /// `0.NA/<prefix>` of `prefixes` an HS_ADMIN at [`ADMIN_INDEX`] granting
    /// it [`SECONDARY_PERMS`]. Idempotent.
    pub fn admit_secondary(
        &self,
        identity_handle: &str,
        identity_index: u32,
        secret: &[u8],
        prefixes: &[String],
        now: u64,
    ) -> Result<usize, ServiceError> {
        if identity_index == 0 || identity_handle.is_empty() {
            return Err(ServiceError::invalid("identity", "needs an index and a handle"));
        }
        let ctx = WriteCtx::new(now, ACTOR);
        let store = self.store();
        let mut written = 0;
        for prefix in prefixes {
            crate::ident::check_prefix_chars(prefix).map_err(|e| ServiceError::invalid("prefixes", e.to_string()))?;
            let admin = AdminRecord::new(SECONDARY_PERMS, identity_handle.as_bytes().to_vec(), identity_index);
            let want = vec![Value::new(ADMIN_INDEX, "HS_ADMIN", admin.to_bytes()).with_permissions(perm::DEFAULT)];
            written += usize::from(ensure_values(store, &prefix_handle_key(prefix), want, &ctx)?);
        }
        let key = store.canonical_key(identity_handle.as_bytes());
        let want = vec![Value::new(identity_index, "HS_SECKEY", secret.to_vec()).with_permissions(perm::SECRET)];
        written += usize::from(ensure_values(store, &key, want, &ctx)?);
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::site::HsSite;
    use crate::service::Limits;
    use crate::service::prefixes::{Hosting, enterprise_site};
    use crate::service::testutil::*;

    const OWN_SITE: &[u8] = b"own-site-bytes";

    fn values(f: &Fixture, prefix: &str) -> Option<Vec<Value>> {
        current_values(&*f.store, &prefix_handle_key(prefix)).unwrap()
    }

    #[test]
    fn hosted_self_hosted_disabled() {
        let f = fixture(Limits::default());
        // 88.1.1 is hosted and enabled: published with this node's site.
        assert_eq!(f.reg.publish_prefix("88.1.1", OWN_SITE, NOW).unwrap(), Published::Written);
        let v = values(&f, "88.1.1").unwrap();
        assert_eq!(v[0].data, OWN_SITE);
        assert_eq!(v[0].value_type, b"HS_SITE");
        let hs_admin = AdminRecord::from_bytes(&v[1].data).unwrap();
        assert_eq!(hs_admin.admin_handle, b"0.NA/88.1.1");
        assert_eq!(hs_admin.admin_index, 300);
        assert!(!hs_admin.has(admin_perm::ADD_NA));
        // Again: nothing to do, no change-log entry.
        let seq = f.store.last_seq();
        assert_eq!(f.reg.publish_prefix("88.1.1", OWN_SITE, NOW + 5).unwrap(), Published::Unchanged);
        assert_eq!(f.store.last_seq(), seq);
        // The node prefix itself is not an enterprise prefix.
        assert_eq!(f.reg.publish_prefix("88.1", OWN_SITE, NOW).unwrap(), Published::NotEnterprise);

        // Pointed at the enterprise's own node: that node's site.
        let h = Hosting::SelfHosted {
            prefix: "88.1.2".into(),
            ip: "192.0.2.7".parse().unwrap(),
            tcp: Some(2641),
            udp: None,
            http: None,
        };
        f.reg.configure_hosting(&admin(), &h, NOW).unwrap();
        assert_eq!(f.reg.publish_prefix("88.1.2", OWN_SITE, NOW).unwrap(), Published::Written);
        let site = HsSite::from_bytes(&values(&f, "88.1.2").unwrap()[0].data).unwrap();
        assert_eq!(site.servers[0].ip(), "192.0.2.7".parse::<std::net::IpAddr>().unwrap());
        assert_ne!(enterprise_site("x", "192.0.2.7".parse().unwrap(), None, None, None, 1).to_bytes(), OWN_SITE);

        // Disabled: the published values go; other values stay.
        f.store
            .write(
                RecordOp::AddValues {
                    key: prefix_handle_key("88.1.1"),
                    values: vec![Value::new(7, "DESC", "kept")],
                    overwrite: false,
                },
                &WriteCtx::new(NOW, "t"),
            )
            .unwrap();
        f.reg.set_prefix_state(&admin(), "88.1.1", PrefixState::Disabled, NOW).unwrap();
        assert_eq!(f.reg.publish_prefix("88.1.1", OWN_SITE, NOW).unwrap(), Published::Removed);
        let left = values(&f, "88.1.1").unwrap();
        assert_eq!(left.iter().map(|v| v.index).collect::<Vec<_>>(), [7]);
        // A deleted prefix loses its record entirely.
        f.store.delete_prefix("88.1.2", &WriteCtx::new(NOW, "t")).unwrap();
        assert_eq!(f.reg.publish_prefix("88.1.2", OWN_SITE, NOW).unwrap(), Published::Removed);
        assert!(values(&f, "88.1.2").is_none());
        assert_eq!(f.reg.publish_prefix("88.1.2", OWN_SITE, NOW).unwrap(), Published::Unchanged);
    }

    #[test]
    fn top_records() {
        let f = fixture(Limits::default());
        assert!(f.reg.home_derived_prefix("88", "0.NA/88", 300, NOW).unwrap());
        assert!(!f.reg.home_derived_prefix("88", "0.NA/88", 300, NOW).unwrap());
        assert!(f.store.get_record(b"0.NA/0.NA/88").unwrap().is_some());
        let n = f.reg.admit_secondary("0.NA/88.118.8", 300, b"s3cret", &["88.118.8".into()], NOW).unwrap();
        assert_eq!(n, 2);
        let v = current_values(&*f.store, b"0.NA/88.118.8").unwrap().unwrap();
        assert_eq!(v.len(), 2, "one record holds the HS_ADMIN and the key");
        let key = v.iter().find(|v| v.value_type == b"HS_SECKEY").unwrap();
        assert_eq!((key.index, key.permissions, key.data.as_slice()), (300, perm::SECRET, &b"s3cret"[..]));
        assert_eq!(f.reg.admit_secondary("0.NA/88.118.8", 300, b"s3cret", &["88.118.8".into()], NOW).unwrap(), 0);
        assert!(f.reg.admit_secondary("0.NA/88.118.8", 300, b"s3cret", &["8 8".into()], NOW).is_err());
    }

    #[test]
    fn handle_keys() {
        assert_eq!(prefix_handle_key("88.a"), b"0.NA/88.A");
        assert_eq!(prefix_of_handle_key(b"0.NA/88.A"), Some(&b"88.A"[..]));
        assert_eq!(prefix_of_handle_key(b"0.NA/0.NA/88"), None);
        assert_eq!(prefix_of_handle_key(b"88.1/x"), None);
    }
}
