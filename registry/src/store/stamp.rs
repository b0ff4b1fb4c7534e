//! Stamped resolution reads: the record an alias or a handle resolves to,
//! with a [`ReadStamp`] the backend can later check in a few loads to tell
//! whether a write may have changed that answer since
//! ([`Store::stamp_is_current`](super::Store::stamp_is_current)). A front
//! door may keep what it built from the record (the DNS front keeps whole
//! answers) for as long as the stamp stays current, with no store lookup
//! per use.
//!
//! A stamp covers every input of the answer, an absent one too (a name
//! that resolves to nothing stays so until a write of its alias or record):
//! the alias's binding, the record's bytes, and the prefix table (the case policy that turns the
//! target into its canonical key). It errs one way only: a write to an
//! unrelated key that shares an epoch slot makes it stale, never the
//! reverse.

use super::read_cache::Epoch;
use super::{Store, StoreError};
use crate::model::RecordBytes;

/// What a stamped resolution read starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution<'a> {
    /// An alias of `scheme` (`oid`, `ecode`, `gs1`, ...) and its canonical code.
    Alias { scheme: &'a str, code: &'a str },
    /// An identifier itself (any case; the store applies its prefix's policy).
    Handle(&'a [u8]),
}

/// See the module docs. Opaque: only the backend that issued it can check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadStamp {
    /// The alias's epoch (`None` for [`Resolution::Handle`]).
    pub(crate) alias: Option<Epoch>,
    /// The record's epoch (`None` when the alias was absent: no record read).
    pub(crate) record: Option<Epoch>,
    /// The prefix table's epoch.
    pub(crate) prefixes: u32,
}

/// The unstamped resolution read (the trait's default
/// [`Store::resolve_stamped`]): the alias's target, then the record at the
/// target's canonical key, through the store's plain reads.
pub fn resolve_plain<S: Store + ?Sized>(store: &S, via: Resolution<'_>) -> Result<Option<RecordBytes>, StoreError> {
    let target;
    let handle = match via {
        Resolution::Alias { scheme, code } => match store.alias_target(scheme, code)? {
            Some(t) => {
                target = t;
                target.as_bytes()
            }
            None => return Ok(None),
        },
        Resolution::Handle(h) => h,
    };
    store.get_record(&store.canonical_key(handle))
}
