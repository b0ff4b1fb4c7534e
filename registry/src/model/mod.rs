//! The data model: values in their wire encoding, records, HS_ADMIN, HS_SITE,
//! prefixes, enterprises, identities and templates.

pub mod account;
pub mod admin;
pub mod link;
pub mod log;
pub mod prefix;
pub mod pubkey;
pub mod record;
pub mod site;
pub mod stored;
pub mod template;
pub mod value;
pub mod vlist;
pub mod wire;

pub use account::{Contact, Enterprise, EnterpriseStatus, Identity, Role, TokenHash};
pub use admin::{AdminRecord, admin_perm};
pub use log::{Alias, AuditEntry, Change, ChangeOp, DayCounters, day_of};
pub use prefix::{HostingState, Prefix, PrefixState, Quota, StateError};
pub use pubkey::PublicKey;
pub use record::{Record, RecordBytes, ValueIter, ValueView, encode_record};
pub use site::{HsSite, Interface, SiteAttribute, SiteServer};
pub use stored::{DecodeError, Stored};
pub use template::{ItemMetadata, Template, TemplateItem, TemplateViolation};
pub use value::{Reference, TtlType, Value, perm};
pub use vlist::ValueList;
