//! Compare-and-swap for sled entities: the [`Version`] of a stored entity
//! is a digest of its stored bytes ([`version_of_bytes`]), checked under the
//! writer lock that every sled write already takes, so a check and the
//! write that follows it cannot be separated by another writer of this
//! process (and sled allows no other process).

use super::*;
use crate::store::{ABSENT, version_of_bytes};

/// What an entity change-log op is about (for conflict errors).
pub(super) fn op_entity(op: ChangeOp) -> &'static str {
    match op {
        ChangeOp::EnterprisePut | ChangeOp::EnterpriseDelete => "enterprise",
        ChangeOp::IdentityPut | ChangeOp::IdentityDelete => "identity",
        ChangeOp::TemplatePut | ChangeOp::TemplateDelete => "template",
        ChangeOp::AliasPut | ChangeOp::AliasDelete => "alias",
        ChangeOp::PrefixPut | ChangeOp::PrefixDelete => "prefix",
        _ => "record",
    }
}

impl SledStore {
    /// The current version of `key` in `tree` (call under the writer lock).
    pub(super) fn check_version(
        &self,
        tree: &sled::Tree,
        key: &[u8],
        expected: Version,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let cur = tree.get(key).map_err(backend)?.map_or(ABSENT, |v| version_of_bytes(&v));
        if cur != expected {
            return Err(StoreError::Conflict { what, key: String::from_utf8_lossy(key).into_owned() });
        }
        Ok(())
    }

    /// An entity and the version of its stored bytes.
    pub(super) fn get_versioned<T: Stored>(
        &self,
        tree: &sled::Tree,
        name: &'static str,
        key: &[u8],
    ) -> Result<Option<(T, Version)>, StoreError> {
        match tree.get(key).map_err(backend)? {
            None => Ok(None),
            Some(v) => Ok(Some((decode(name, &v)?, version_of_bytes(&v)))),
        }
    }

    pub(super) fn put_prefix_cas(
        &self,
        p: &Prefix,
        expected: Version,
        ctx: &WriteCtx,
    ) -> Result<WriteReceipt, StoreError> {
        check_prefix_chars(&p.prefix).map_err(|e| StoreError::Invalid(format!("prefix {:?}: {e}", p.prefix)))?;
        self.write_prefix(upper(&p.prefix), Some(p.to_stored()), ctx, Some(expected))
    }

    pub(super) fn put_enterprise_cas(&self, e: &Enterprise, expected: Version) -> Result<(), StoreError> {
        self.write_entity_if(
            &self.t.enterprises,
            &e.id.to_be_bytes(),
            Some(e.to_stored()),
            ChangeOp::EnterprisePut,
            e.updated.max(e.created),
            || unreachable_missing("enterprise"),
            Some(expected),
        )
    }

    pub(super) fn put_identity_cas(&self, i: &Identity, expected: Version) -> Result<(), StoreError> {
        if i.username.is_empty() {
            return Err(StoreError::Invalid("empty username".into()));
        }
        self.write_entity_if(
            &self.t.identities,
            i.username.as_bytes(),
            Some(i.to_stored()),
            ChangeOp::IdentityPut,
            i.created,
            || unreachable_missing("identity"),
            Some(expected),
        )
    }
}
