//! idnode's read path and protocol: the sans-IO Handle/IDIS codec
//! ([`wire`]), the resolution engine ([`engine`]), authentication
//! ([`auth`]), the cache of upstream answers ([`cache`]) and the Handle
//! client toward other servers ([`upstream`]). No listeners.

pub mod auth;
pub mod cache;
pub mod dns;
pub mod engine;
pub mod upstream;
pub mod wire;
