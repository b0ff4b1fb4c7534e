//! Authorisation: may an authenticated identity do this to that handle?
//! (handle-protocol.md §4.4 permission bits, §6.1 "Authorisation").
//!
//! The rule, in order (first match allows):
//!
//! 1. The identity is a server administrator ([`Policy::server_admins`]).
//! 2. An HS_ADMIN value **of the target record** (not for create: there is
//!    none yet) has the needed permission bit and references the identity.
//! 3. An HS_ADMIN value of a **prefix handle above the target** has the
//!    needed bit and references the identity. For `P/suffix` that is
//!    `0.NA/P`, then `0.NA/<parent of P>`, ... up to the first segment
//!    (`88.118.8.1001/x` -> `0.NA/88.118.8.1001`, `0.NA/88.118.8`,
//!    `0.NA/88.118`, `0.NA/88`); for a prefix handle `0.NA/P` it is the
//!    prefix handles of P's proper ancestors. This is CNRI's
//!    `allow_na_admins` (prefix administrators administer every handle under
//!    the prefix) extended up the derived-prefix chain, so the node
//!    administrator `300:0.NA/<node_prefix>` (HS_ADMIN 0x0FFF at index 100
//!    of that record, written by `idnode init`) administers the node prefix
//!    and every enterprise prefix below it.
//!
//! "References the identity": the HS_ADMIN's `index:handle` equals the
//! identity's (admin index 0 = any index of that handle), or names an
//! HS_VLIST value whose members reference it, recursively up to
//! [`Policy::max_depth`] levels with cycle detection.
//!
//! Needed bits ([`Action::permission`]): create ADD_HANDLE (ADD_NA for a
//! `0.NA/...` prefix handle), delete DELETE_HANDLE (DELETE_NA), add / modify
//! / remove a value ADD_VALUE / MODIFY_VALUE / REMOVE_VALUE (the *_ADMIN
//! bits when the value is an HS_ADMIN), read a non-public value READ_VALUE,
//! list handles LIST_HANDLES.
//!
//! No I/O besides reading records through [`RecordSource`].

use std::collections::HashSet;

use idnode_registry::ident::{GLOBAL_NA, prefix_chain};
use idnode_registry::model::{AdminRecord, Value, ValueList, admin_perm};
use idnode_registry::store::Store;

use super::{AuthError, HS_ADMIN, HS_VLIST, Identity};

/// Read access to records, by handle as text.
pub trait RecordSource {
    /// The decoded values of `handle`, or `None` when it does not exist.
    fn values(&self, handle: &str) -> Result<Option<Vec<Value>>, AuthError>;

    /// Whether two handles name the same record. Default: the prefix (text
    /// before the first `/`) ASCII-case-insensitively, the rest exactly;
    /// `0.NA/...` handles case-insensitively as a whole.
    fn same_handle(&self, a: &str, b: &str) -> bool {
        default_same_handle(a, b)
    }
}

fn default_same_handle(a: &str, b: &str) -> bool {
    let split = |h: &str| match h.split_once('/') {
        Some((p, s)) => (p.to_owned(), Some(s.to_owned())),
        None => (h.to_owned(), None),
    };
    let (pa, sa) = split(a);
    let (pb, sb) = split(b);
    if !pa.eq_ignore_ascii_case(&pb) {
        return false;
    }
    if pa.eq_ignore_ascii_case(GLOBAL_NA) {
        return match (sa, sb) {
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(&y),
            (x, y) => x == y,
        };
    }
    sa == sb
}

/// [`RecordSource`] over the store: canonical keys with the case policy of
/// each handle's longest homed prefix.
#[derive(Debug, Clone, Copy)]
pub struct StoreRecords<'a>(pub &'a dyn Store);

impl RecordSource for StoreRecords<'_> {
    fn values(&self, handle: &str) -> Result<Option<Vec<Value>>, AuthError> {
        let key = self.0.canonical_key(handle.as_bytes());
        match self.0.get_record(&key)? {
            None => Ok(None),
            Some(rec) => rec.values().map(Some).map_err(|e| {
                AuthError::Store(idnode_registry::store::StoreError::Corrupt { tree: "handles", detail: e.to_string() })
            }),
        }
    }

    fn same_handle(&self, a: &str, b: &str) -> bool {
        self.0.canonical_key(a.as_bytes()) == self.0.canonical_key(b.as_bytes())
    }
}

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateHandle,
    DeleteHandle,
    /// Add a value; `admin` when it is an HS_ADMIN value.
    AddValue {
        admin: bool,
    },
    ModifyValue {
        admin: bool,
    },
    RemoveValue {
        admin: bool,
    },
    /// Read values without PUBLIC_READ.
    ReadValue,
    ListHandles,
}

impl Action {
    /// The HS_ADMIN bit needed (§4.4). `prefix_handle` = the target is a
    /// `0.NA/...` handle (creating / deleting it is adding / deleting a
    /// derived prefix).
    pub fn permission(self, prefix_handle: bool) -> u16 {
        use admin_perm::*;
        match self {
            Action::CreateHandle if prefix_handle => ADD_NA,
            Action::CreateHandle => ADD_HANDLE,
            Action::DeleteHandle if prefix_handle => DELETE_NA,
            Action::DeleteHandle => DELETE_HANDLE,
            Action::AddValue { admin: true } => ADD_ADMIN,
            Action::AddValue { admin: false } => ADD_VALUE,
            Action::ModifyValue { admin: true } => MODIFY_ADMIN,
            Action::ModifyValue { admin: false } => MODIFY_VALUE,
            Action::RemoveValue { admin: true } => REMOVE_ADMIN,
            Action::RemoveValue { admin: false } => REMOVE_VALUE,
            Action::ReadValue => READ_VALUE,
            Action::ListHandles => LIST_HANDLES,
        }
    }
}

/// Server-wide settings of the decision.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// Identities allowed everything on this server (config).
    pub server_admins: &'a [Identity],
    /// Deepest HS_VLIST nesting followed.
    pub max_depth: usize,
}

impl Default for Policy<'_> {
    fn default() -> Self {
        Policy { server_admins: &[], max_depth: DEFAULT_MAX_DEPTH }
    }
}

/// HS_VLIST nesting followed by default (CNRI does not bound it; cycles and
/// depth are bounded here so a hostile group cannot make us loop).
pub const DEFAULT_MAX_DEPTH: usize = 8;

/// Most records read while following groups for one decision.
const MAX_LOOKUPS: usize = 256;

/// The prefix handles whose administrators administer `target`, nearest
/// first (see the module docs).
pub fn prefix_admin_chain(target: &str) -> Vec<String> {
    let (prefix, rest) = match target.split_once('/') {
        Some((p, r)) => (p, Some(r)),
        None => (target, None),
    };
    let (base, skip) = match rest {
        // `0.NA/P`: the ancestors of P.
        Some(derived) if prefix.eq_ignore_ascii_case(GLOBAL_NA) => (derived, 1),
        Some(_) => (prefix, 0),
        // A bare prefix stands for `0.NA/<it>`.
        None => (prefix, 1),
    };
    prefix_chain(base).skip(skip).map(idnode_registry::ident::prefix_handle).collect()
}

/// Decides whether `identity` may do `action` to `target`. `target_values`
/// are the target record's current values (`None` when it does not exist).
pub fn authorize(
    src: &dyn RecordSource,
    identity: &Identity,
    target: &str,
    target_values: Option<&[Value]>,
    action: Action,
    policy: &Policy<'_>,
) -> Result<bool, AuthError> {
    if policy.server_admins.iter().any(|a| a.index == identity.index && src.same_handle(&a.handle, &identity.handle)) {
        return Ok(true);
    }
    let is_na = match target.split_once('/') {
        Some((p, _)) => p.eq_ignore_ascii_case(GLOBAL_NA),
        None => true,
    };
    let perm = action.permission(is_na);
    grants_perm(src, identity, target, target_values, action, perm, policy)
}

/// Whether `identity` is listed at all (any permission) in an HS_ADMIN of
/// `target` or of its prefix handles — to tell "not an administrator" (RC
/// 400) from "an administrator without that permission" (RC 401).
pub fn is_listed_admin(
    src: &dyn RecordSource,
    identity: &Identity,
    target: &str,
    target_values: Option<&[Value]>,
    policy: &Policy<'_>,
) -> Result<bool, AuthError> {
    grants_perm(src, identity, target, target_values, Action::ReadValue, 0, policy)
}

fn grants_perm(
    src: &dyn RecordSource,
    identity: &Identity,
    target: &str,
    target_values: Option<&[Value]>,
    action: Action,
    perm: u16,
    policy: &Policy<'_>,
) -> Result<bool, AuthError> {
    let mut walk = Walk { src, identity, policy, visited: HashSet::new(), lookups: 0 };
    if action != Action::CreateHandle
        && let Some(values) = target_values
        && walk.grants(values, perm)?
    {
        return Ok(true);
    }
    for handle in prefix_admin_chain(target) {
        if let Some(values) = walk.fetch(&handle)?
            && walk.grants(&values, perm)?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether *anyone* could be allowed `action` on `target`: a server
/// administrator is configured, or some HS_ADMIN value on the target (not for
/// create) or on its prefix handles carries the permission bit. `false`
/// means the request must fail whoever authenticates, so a door can refuse
/// it before issuing a challenge.
pub fn anyone_may(
    src: &dyn RecordSource,
    target: &str,
    target_values: Option<&[Value]>,
    action: Action,
    policy: &Policy<'_>,
) -> Result<bool, AuthError> {
    if !policy.server_admins.is_empty() {
        return Ok(true);
    }
    let is_na = match target.split_once('/') {
        Some((p, _)) => p.eq_ignore_ascii_case(GLOBAL_NA),
        None => true,
    };
    let perm = action.permission(is_na);
    let has = |values: &[Value]| {
        values
            .iter()
            .filter(|v| v.value_type.eq_ignore_ascii_case(HS_ADMIN))
            .any(|v| AdminRecord::from_bytes(&v.data).is_ok_and(|a| a.has(perm)))
    };
    if action != Action::CreateHandle && target_values.is_some_and(has) {
        return Ok(true);
    }
    for handle in prefix_admin_chain(target) {
        if let Some(values) = src.values(&handle)?
            && has(&values)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

struct Walk<'a> {
    src: &'a dyn RecordSource,
    identity: &'a Identity,
    policy: &'a Policy<'a>,
    visited: HashSet<(String, u32)>,
    lookups: usize,
}

impl Walk<'_> {
    fn fetch(&mut self, handle: &str) -> Result<Option<Vec<Value>>, AuthError> {
        if self.lookups >= MAX_LOOKUPS {
            return Ok(None);
        }
        self.lookups += 1;
        self.src.values(handle)
    }

    /// Does an HS_ADMIN among `values` with `perm` reference the identity?
    fn grants(&mut self, values: &[Value], perm: u16) -> Result<bool, AuthError> {
        for v in values.iter().filter(|v| v.value_type.eq_ignore_ascii_case(HS_ADMIN)) {
            let Ok(admin) = AdminRecord::from_bytes(&v.data) else { continue };
            if !admin.has(perm) {
                continue;
            }
            let Ok(handle) = std::str::from_utf8(&admin.admin_handle) else { continue };
            if self.references(handle, admin.admin_index, 0)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Does the reference `index:handle` designate the identity, directly or
    /// through HS_VLIST groups?
    fn references(&mut self, handle: &str, index: u32, depth: usize) -> Result<bool, AuthError> {
        if (index == 0 || index == self.identity.index) && self.src.same_handle(handle, &self.identity.handle) {
            return Ok(true);
        }
        if depth >= self.policy.max_depth || !self.visited.insert((handle.to_ascii_uppercase(), index)) {
            return Ok(false);
        }
        let Some(values) = self.fetch(handle)? else { return Ok(false) };
        for v in
            values.iter().filter(|v| v.value_type.eq_ignore_ascii_case(HS_VLIST) && (index == 0 || v.index == index))
        {
            let Ok(group) = ValueList::from_bytes(&v.data) else { continue };
            for m in &group.members {
                let Ok(mh) = std::str::from_utf8(&m.handle) else { continue };
                if self.references(mh, m.index, depth + 1)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idnode_registry::model::Reference;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Mem(HashMap<String, Vec<Value>>);

    impl Mem {
        fn put(&mut self, h: &str, values: Vec<Value>) {
            self.0.insert(h.to_ascii_uppercase(), values);
        }
    }

    impl RecordSource for Mem {
        fn values(&self, handle: &str) -> Result<Option<Vec<Value>>, AuthError> {
            Ok(self.0.get(&handle.to_ascii_uppercase()).cloned())
        }
    }

    fn admin(index: u32, perms: u16, handle: &str, at: u32) -> Value {
        Value::new(index, "HS_ADMIN", AdminRecord::new(perms, handle, at).to_bytes())
    }

    fn vlist(index: u32, members: &[(&str, u32)]) -> Value {
        let m = members.iter().map(|(h, i)| Reference { handle: h.as_bytes().to_vec(), index: *i }).collect();
        Value::new(index, "HS_VLIST", ValueList::new(m).to_bytes())
    }

    fn node() -> Mem {
        let mut m = Mem::default();
        m.put("0.NA/88.118.8", vec![admin(100, admin_perm::ALL, "0.NA/88.118.8", 300)]);
        m
    }

    #[test]
    fn chain() {
        assert_eq!(
            prefix_admin_chain("88.118.8.1001/x/y"),
            ["0.NA/88.118.8.1001", "0.NA/88.118.8", "0.NA/88.118", "0.NA/88"]
        );
        assert_eq!(prefix_admin_chain("0.na/88.118.8.1001"), ["0.NA/88.118.8", "0.NA/88.118", "0.NA/88"]);
        assert_eq!(prefix_admin_chain("88.118"), ["0.NA/88"]);
        assert!(prefix_admin_chain("0.NA/88").is_empty());
    }

    #[test]
    fn node_admin_rules_the_prefix_and_below() {
        let m = node();
        let me = Identity::new(300, "0.NA/88.118.8");
        let p = Policy::default();
        for target in ["88.118.8/a", "88.118.8.1001/LOT-1", "0.NA/88.118.8.1001"] {
            assert!(authorize(&m, &me, target, None, Action::CreateHandle, &p).unwrap(), "{target}");
            assert!(authorize(&m, &me, target, Some(&[]), Action::DeleteHandle, &p).unwrap(), "{target}");
        }
        // Not above its own prefix or next to it.
        assert!(!authorize(&m, &me, "88.118.9/a", None, Action::CreateHandle, &p).unwrap());
        assert!(!authorize(&m, &me, "0.NA/88.118.8", Some(&[]), Action::DeleteHandle, &p).unwrap());
        // Other index of the same handle: no.
        let other = Identity::new(301, "0.NA/88.118.8");
        assert!(!authorize(&m, &other, "88.118.8/a", None, Action::CreateHandle, &p).unwrap());
    }

    #[test]
    fn record_admins_groups_and_bits() {
        let mut m = node();
        m.put(
            "88.118.8/admins",
            vec![
                vlist(200, &[("88.118.8/alice", 300), ("88.118.8/admins", 201)]),
                vlist(201, &[("88.118.8/bob", 300)]),
            ],
        );
        let target = vec![admin(100, admin_perm::ADD_VALUE | admin_perm::READ_VALUE, "88.118.8/admins", 200)];
        let p = Policy::default();
        let alice = Identity::new(300, "88.118.8/alice");
        let bob = Identity::new(300, "88.118.8/bob");
        let eve = Identity::new(300, "88.118.8/eve");
        assert!(authorize(&m, &alice, "88.118.8/t", Some(&target), Action::AddValue { admin: false }, &p).unwrap());
        assert!(authorize(&m, &bob, "88.118.8/t", Some(&target), Action::ReadValue, &p).unwrap());
        assert!(!authorize(&m, &eve, "88.118.8/t", Some(&target), Action::ReadValue, &p).unwrap());
        // Bit missing.
        assert!(!authorize(&m, &alice, "88.118.8/t", Some(&target), Action::DeleteHandle, &p).unwrap());
        assert!(!authorize(&m, &alice, "88.118.8/t", Some(&target), Action::AddValue { admin: true }, &p).unwrap());
        // Create ignores the (absent) record's own admins.
        assert!(!authorize(&m, &alice, "88.118.8/t", Some(&target), Action::CreateHandle, &p).unwrap());
        // Depth limit.
        let shallow = Policy { max_depth: 1, ..Policy::default() };
        assert!(!authorize(&m, &bob, "88.118.8/t", Some(&target), Action::ReadValue, &shallow).unwrap());
    }

    #[test]
    fn cycles_terminate_and_server_admins() {
        let mut m = Mem::default();
        m.put("x/a", vec![vlist(1, &[("x/b", 1)])]);
        m.put("x/b", vec![vlist(1, &[("x/a", 1)])]);
        let target = vec![admin(100, admin_perm::ALL, "x/a", 1)];
        let who = Identity::new(300, "x/z");
        assert!(!authorize(&m, &who, "x/t", Some(&target), Action::ReadValue, &Policy::default()).unwrap());
        let admins = [Identity::new(300, "X/z")];
        let p = Policy { server_admins: &admins, ..Policy::default() };
        assert!(authorize(&m, &who, "x/t", None, Action::CreateHandle, &p).unwrap());
    }

    #[test]
    fn handle_comparison() {
        assert!(default_same_handle("0.na/abc", "0.NA/ABC"));
        assert!(default_same_handle("ab.c/Suffix", "AB.C/Suffix"));
        assert!(!default_same_handle("ab.c/Suffix", "ab.c/suffix"));
    }
}
