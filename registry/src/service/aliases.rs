//! Aliases (idis-node.md §7.4 "mapping"): an OID, Ecode or GS1 code bound to
//! a VAA identifier. Binding needs write access to the target's prefix and
//! an existing target record; the code is stored in its canonical text
//! ([`Scheme::canonical`]) so every door finds it under one spelling.
//! [`resolve`] is the read path every front door shares.

use super::{Actor, Registrar, ServiceError, access, identifiers::parse_handle};
use crate::ident::scheme::{Scheme, split_alias};
use crate::model::Alias;
use crate::store::{Store, StoreError};

fn scheme_of(text: &str) -> Result<Scheme, ServiceError> {
    text.parse().map_err(|e: crate::ident::scheme::CodeError| ServiceError::invalid("scheme", e.to_string()))
}

fn canonical(scheme: Scheme, code: &str) -> Result<String, ServiceError> {
    scheme.canonical(code).map_err(|e| ServiceError::invalid("code", e.to_string()))
}

impl Registrar {
    /// Binds `scheme`/`code` to the existing identifier `target` (replacing
    /// an earlier binding of the same code, if the actor may write both).
    pub fn bind_alias(
        &self,
        actor: &Actor,
        scheme: &str,
        code: &str,
        target: &str,
        now: u64,
    ) -> Result<Alias, ServiceError> {
        let scheme = scheme_of(scheme)?;
        let code = canonical(scheme, code)?;
        let id = parse_handle(target).map_err(|e| ServiceError::invalid("target", e.to_string()))?;
        let g = access::governing(self.store(), id.prefix())?;
        access::check_write(actor, &g)?;
        if let Some(old) = self.store().get_alias(scheme.as_str(), &code)? {
            let old = parse_handle(&old.target)?;
            access::check_write(actor, &access::governing(self.store(), old.prefix())?)?;
        }
        let key = self.store().canonical_key(id.as_bytes());
        if self.store().get_record(&key)?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let alias =
            Alias { scheme: scheme.as_str().to_owned(), code: code.clone(), target: target.to_owned(), created: now };
        self.store().put_alias(&alias)?;
        self.audit(actor, "alias.bind", format!("{scheme}:{code}"), format!("-> {target}"), now)?;
        Ok(alias)
    }

    /// Removes a binding.
    pub fn unbind_alias(&self, actor: &Actor, scheme: &str, code: &str, now: u64) -> Result<(), ServiceError> {
        let alias = self.alias(actor, scheme, code)?;
        let id = parse_handle(&alias.target)?;
        access::check_write(actor, &access::governing(self.store(), id.prefix())?)?;
        self.store().delete_alias(&alias.scheme, &alias.code)?;
        self.audit(actor, "alias.unbind", format!("{}:{}", alias.scheme, alias.code), "ok", now)?;
        Ok(())
    }

    /// The binding of `scheme`/`code`, if the actor may read its target.
    pub fn alias(&self, actor: &Actor, scheme: &str, code: &str) -> Result<Alias, ServiceError> {
        let scheme = scheme_of(scheme)?;
        let code = canonical(scheme, code)?;
        let alias = self
            .store()
            .get_alias(scheme.as_str(), &code)?
            .ok_or(ServiceError::EntityNotFound { what: "alias", key: format!("{scheme}:{code}") })?;
        let id = parse_handle(&alias.target)?;
        access::check_read(actor, &access::governing(self.store(), id.prefix())?)?;
        Ok(alias)
    }
}

/// The target of `scheme`/`code` (canonicalised first); `None` when the code
/// is malformed or unbound. A malformed code never reaches the store.
pub fn resolve(store: &dyn Store, scheme: Scheme, code: &str) -> Result<Option<String>, StoreError> {
    let Ok(code) = scheme.canonical(code) else { return Ok(None) };
    Ok(store.get_alias(scheme.as_str(), &code)?.map(|a| a.target))
}

/// For the identifier doors: when `asked` is the alias form
/// `<scheme>:<code>` ([`split_alias`]) and bound, the target identifier.
pub fn resolve_asked(store: &dyn Store, asked: &str) -> Option<String> {
    let (scheme, code) = split_alias(asked)?;
    resolve(store, scheme, code).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::super::identifiers::{IdInput, IdValue};
    use super::super::testutil::*;
    use super::*;

    fn create(f: &Fixture, handle: &str) {
        let item = IdInput {
            handle: handle.into(),
            template_version: "1.0.0".into(),
            values: vec![IdValue { index: 2000, value_type: "model".into(), auth: String::new(), data: "M1".into() }],
        };
        f.reg.create_identifiers(&admin(), &[item], NOW).unwrap().into_iter().for_each(|r| r.unwrap());
    }

    #[test]
    fn bind_resolve_unbind() {
        let f = fixture(Default::default());
        create(&f, "88.1.1/p1");
        let a = f.reg.bind_alias(&user(1), "GS1", "6901234567892", "88.1.1/p1", NOW).unwrap();
        assert_eq!(a.code, "06901234567892");
        assert_eq!(resolve(&*f.store, Scheme::Gs1, "(01)06901234567892").unwrap().as_deref(), Some("88.1.1/p1"));
        assert_eq!(resolve_asked(&*f.store, "gs1:6901234567892").as_deref(), Some("88.1.1/p1"));
        assert_eq!(resolve_asked(&*f.store, "gs1:6901234567891"), None);
        // Another enterprise may neither rebind nor read it.
        create(&f, "88.1.2/q");
        assert!(matches!(
            f.reg.bind_alias(&user(2), "gs1", "6901234567892", "88.1.2/q", NOW),
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(f.reg.alias(&user(2), "gs1", "6901234567892"), Err(ServiceError::Forbidden(_))));
        // Bad input names the field; a missing target is NotFound.
        assert!(
            matches!(f.reg.bind_alias(&admin(), "isbn", "1", "88.1.1/p1", NOW), Err(ServiceError::Invalid { field, .. }) if field == "scheme")
        );
        assert!(
            matches!(f.reg.bind_alias(&admin(), "oid", "1..2", "88.1.1/p1", NOW), Err(ServiceError::Invalid { field, .. }) if field == "code")
        );
        assert!(matches!(
            f.reg.bind_alias(&admin(), "oid", "1.2.156.9", "88.1.1/none", NOW),
            Err(ServiceError::NotFound)
        ));
        f.reg.unbind_alias(&user(1), "gs1", "06901234567892", NOW).unwrap();
        assert_eq!(resolve_asked(&*f.store, "gs1:6901234567892"), None);
    }
}
