//! The data model: values in their wire encoding, records, HS_ADMIN, HS_SITE,
//! prefixes, enterprises, identities and templates.

pub mod value;
pub mod wire;

pub use value::{Reference, TtlType, Value, perm};
