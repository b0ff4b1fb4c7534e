//! resolver

pub mod auth;
pub mod engine;
pub mod wire;
