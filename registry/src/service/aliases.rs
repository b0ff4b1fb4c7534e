//! Aliases (idis-node.md §7.4 "mapping"): an OID, Ecode or GS1 code bound to
//! a VAA identifier. Binding needs write access to the target's prefix and
//! an existing target record; the code is stored in its canonical text
//! ([`Scheme::canonical`]) so every door finds it under one spelling.
//! [`resolve`] is the read path every front door shares.

use super::{Actor, Registrar, ServiceError, access, identifiers::parse_handle};
use crate::ident::scheme::{Scheme, split_alias};
use crate::model::Alias;
use crate::store::{Store, StoreError};

use std::collections::HashSet;

/// One binding of a batch ([`Registrar::bind_aliases`]): the body of
/// `POST /identityv2/alias`, one JSON line of `idnode id import-aliases`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AliasInput {
    pub scheme: String,
    pub code: String,
    /// The bound identifier.
    #[serde(alias = "target")]
    pub handle: String,
}

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

    /// Binds many aliases at once (bulk loading): each item is checked as
    /// [`bind_alias`](Self::bind_alias) checks it (scheme, canonical code,
    /// write access to the target's prefix and to a replaced binding's, an
    /// existing target record); the accepted ones are written in one store
    /// batch, with one audit entry for the batch. One result per item.
    pub fn bind_aliases(
        &self,
        actor: &Actor,
        items: &[AliasInput],
        now: u64,
    ) -> Result<Vec<Result<Alias, ServiceError>>, ServiceError> {
        // Prefixes the actor was found to write, checked once per batch.
        let mut writable: HashSet<String> = HashSet::new();
        let mut check = |prefix: &str| -> Result<(), ServiceError> {
            if !writable.contains(prefix) {
                access::check_write(actor, &access::governing(self.store(), prefix)?)?;
                writable.insert(prefix.to_owned());
            }
            Ok(())
        };
        let mut results = Vec::with_capacity(items.len());
        let mut accepted = Vec::with_capacity(items.len());
        for it in items {
            let one = (|| {
                let scheme = scheme_of(&it.scheme)?;
                let code = canonical(scheme, &it.code)?;
                let id = parse_handle(&it.handle).map_err(|e| ServiceError::invalid("target", e.to_string()))?;
                check(id.prefix())?;
                if let Some(old) = self.store().get_alias(scheme.as_str(), &code)? {
                    check(parse_handle(&old.target)?.prefix())?;
                }
                if self.store().get_record(&self.store().canonical_key(id.as_bytes()))?.is_none() {
                    return Err(ServiceError::NotFound);
                }
                Ok(Alias { scheme: scheme.as_str().to_owned(), code, target: it.handle.clone(), created: now })
            })();
            if let Ok(a) = &one {
                accepted.push(a.clone());
            }
            results.push(one);
        }
        if !accepted.is_empty() {
            self.store().put_aliases(&accepted)?;
        }
        let n = items.len();
        let ok = accepted.len();
        let outcome = if ok == n { "ok".to_owned() } else { format!("ok {ok}, failed {}", n - ok) };
        self.audit(actor, "alias.bind_batch", format!("{n} aliases"), outcome, now)?;
        Ok(results)
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
    Ok(store.alias_target(scheme.as_str(), &code)?.map(|t| t.to_string()))
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

    fn input(scheme: &str, code: &str, handle: &str) -> AliasInput {
        AliasInput { scheme: scheme.into(), code: code.into(), handle: handle.into() }
    }

    #[test]
    fn bind_aliases_checks_each_item_and_writes_the_rest() {
        let f = fixture(Default::default());
        create(&f, "88.1.1/p1");
        create(&f, "88.1.1/p2");
        create(&f, "88.1.2/q");
        let seq0 = f.store.last_seq();
        let items = [
            input("gs1", "6901234567892", "88.1.1/p1"),
            input("oid", "1.2.156.3001.1", "88.1.1/p2"),
            input("oid", "1..2", "88.1.1/p1"),
            input("gs1", "6901234567885", "88.1.1/none"),
            input("gs1", "6901234567878", "88.1.2/q"),
        ];
        let r = f.reg.bind_aliases(&user(1), &items, NOW).unwrap();
        assert_eq!(r.len(), 5);
        assert_eq!(r[0].as_ref().unwrap().code, "06901234567892");
        assert!(r[1].is_ok());
        assert!(matches!(&r[2], Err(ServiceError::Invalid { field, .. }) if field == "code"));
        assert!(matches!(r[3], Err(ServiceError::NotFound)));
        assert!(matches!(r[4], Err(ServiceError::Forbidden(_))));
        assert_eq!(resolve_asked(&*f.store, "gs1:6901234567892").as_deref(), Some("88.1.1/p1"));
        assert_eq!(resolve_asked(&*f.store, "oid:1.2.156.3001.1").as_deref(), Some("88.1.1/p2"));
        assert_eq!(resolve_asked(&*f.store, "gs1:6901234567878"), None);
        // One change-log entry per written alias (mirrors replay them).
        let changes = f.store.changes_since(seq0, 100).unwrap();
        let aliases: Vec<_> = changes.iter().filter(|c| c.op == crate::model::ChangeOp::AliasPut).collect();
        assert_eq!(aliases.len(), 2);
        // Another enterprise may not rebind a code it does not own.
        let r = f.reg.bind_aliases(&user(2), &[input("gs1", "6901234567892", "88.1.2/q")], NOW).unwrap();
        assert!(matches!(r[0], Err(ServiceError::Forbidden(_))));
        assert_eq!(resolve_asked(&*f.store, "gs1:6901234567892").as_deref(), Some("88.1.1/p1"));
    }
}
