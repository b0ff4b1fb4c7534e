//! Permissions (snms-api.md §1.5): a platform admin may act on every prefix
//! this node knows or homes; an enterprise user only on the prefixes of its
//! own enterprise (exact match, ASCII-case-insensitive); an auditor reads
//! everything and writes nothing. Also the "may identifiers be written
//! here" rule: the prefix must be enabled and served (homed) by this node.

use std::sync::Arc;

use super::{Actor, ServiceError};
use crate::model::{Prefix, PrefixState, Role};
use crate::store::Store;

/// The prefix record that governs a handle prefix.
#[derive(Debug, Clone)]
pub struct Governing {
    /// The prefix as the client wrote it.
    pub asked: String,
    /// The known prefix: the exact one, or the nearest homed ancestor
    /// (e.g. the node prefix for `88.118.8/x`).
    pub prefix: Arc<Prefix>,
    /// `prefix` is exactly `asked` (not an ancestor).
    pub exact: bool,
}

impl Governing {
    /// The canonical (upper-cased) text of the governing prefix.
    pub fn key(&self) -> String {
        self.prefix.canonical()
    }
}

/// Finds the prefix record that governs `asked` (memory only): the exact
/// known prefix, else the longest homed ancestor.
pub fn governing(store: &dyn Store, asked: &str) -> Result<Governing, ServiceError> {
    if let Some(m) = store.longest_known(asked.as_bytes())
        && m.matched == asked.len()
    {
        return Ok(Governing { asked: asked.to_owned(), prefix: m.prefix, exact: true });
    }
    match store.longest_homed(asked.as_bytes()) {
        Some(m) => Ok(Governing { asked: asked.to_owned(), prefix: m.prefix, exact: false }),
        None => Err(ServiceError::EntityNotFound { what: "前缀", key: asked.to_owned() }),
    }
}

fn owns(actor: &Actor, g: &Governing) -> bool {
    actor.role == Role::EnterpriseUser
        && actor.enterprise_id.is_some()
        && g.exact
        && g.prefix.enterprise_id == actor.enterprise_id
}

fn not_yours(asked: &str) -> ServiceError {
    ServiceError::forbidden(format!(
        "无权操作前缀{asked}：只能操作本企业的前缀 (prefix {asked} does not belong to your enterprise)"
    ))
}

/// May `actor` read data under `g`?
pub fn check_read(actor: &Actor, g: &Governing) -> Result<(), ServiceError> {
    if actor.can_read_all() || owns(actor, g) { Ok(()) } else { Err(not_yours(&g.asked)) }
}

/// May `actor` write anything (auditors may not)?
pub fn check_writer(actor: &Actor) -> Result<(), ServiceError> {
    if actor.role == Role::Auditor {
        return Err(ServiceError::forbidden("审计员只能查看，不能修改 (auditors are read-only)"));
    }
    Ok(())
}

/// May `actor` write (templates, identifiers, configuration) under `g`?
pub fn check_write(actor: &Actor, g: &Governing) -> Result<(), ServiceError> {
    check_writer(actor)?;
    if actor.is_admin() || owns(actor, g) { Ok(()) } else { Err(not_yours(&g.asked)) }
}

/// May identifiers be registered/changed under `g` on this node: the
/// prefix is enabled and this node serves it.
pub fn check_servable(store: &dyn Store, g: &Governing) -> Result<(), ServiceError> {
    if g.prefix.state != PrefixState::Enabled {
        return Err(ServiceError::rejected(format!(
            "前缀{}未启用 (prefix state {}), 不能操作标识",
            g.asked,
            g.prefix.state.code()
        )));
    }
    if store.longest_homed(g.asked.as_bytes()).is_none() || (g.exact && !g.prefix.homed && g.prefix.site.is_some()) {
        return Err(ServiceError::rejected(format!(
            "前缀{}未托管在本节点，请在企业节点上操作标识 (prefix is not hosted on this node)",
            g.asked
        )));
    }
    Ok(())
}

/// May `actor` manage enterprise `id` (filing, hosting)?
pub fn check_enterprise(actor: &Actor, id: Option<u64>) -> Result<(), ServiceError> {
    check_writer(actor)?;
    if actor.is_admin() || (actor.enterprise_id.is_some() && actor.enterprise_id == id) {
        Ok(())
    } else {
        Err(ServiceError::forbidden("无权操作其他企业 (not your enterprise)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Limits;
    use crate::service::testutil::*;

    #[test]
    fn roles() {
        let f = fixture(Limits::default());
        let s = &*f.store;
        let own = governing(s, "88.1.1").unwrap();
        assert!(own.exact);
        let lower = governing(s, "88.1.1".to_ascii_lowercase().as_str()).unwrap();
        assert!(lower.exact);
        let other = governing(s, "88.1.2").unwrap();
        let node_child = governing(s, "88.1.77").unwrap();
        assert!(!node_child.exact);
        assert_eq!(node_child.prefix.prefix, "88.1");
        assert!(governing(s, "99.9").is_err());

        check_write(&admin(), &other).unwrap();
        check_write(&user(1), &own).unwrap();
        assert!(matches!(check_write(&user(1), &other), Err(ServiceError::Forbidden(_))));
        assert!(matches!(check_write(&user(1), &node_child), Err(ServiceError::Forbidden(_))));
        assert!(matches!(check_write(&auditor(), &own), Err(ServiceError::Forbidden(_))));
        check_read(&auditor(), &other).unwrap();
        assert!(check_read(&user(2), &own).is_err());
        check_servable(s, &own).unwrap();
        check_enterprise(&user(1), Some(1)).unwrap();
        assert!(check_enterprise(&user(1), Some(2)).is_err());
    }
}
