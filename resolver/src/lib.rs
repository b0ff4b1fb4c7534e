//! resolver

pub mod auth;
pub mod wire;
pub mod engine;
