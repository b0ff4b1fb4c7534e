//! idnode-registry: the system of record.
//!
//! Owns the identifier grammar (`ident`), the data model (`model`) and the
//! storage (`store`), plus the pure export/import conversions (`transfer`)
//! and bootstrap helpers (`seed`), and the registration service (`service`:
//! permissions, template validation, quotas, audit, statistics). It never binds a socket, reads a config file or the
//! environment, or installs global state: the daemon in `src/` does that and
//! hands this crate paths and values.
#![forbid(unsafe_code)]

pub mod backup;
pub mod ident;
pub mod model;
pub mod replica;
pub mod seed;
pub mod service;
pub mod store;
pub mod topids;
pub mod transfer;
