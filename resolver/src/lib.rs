//! resolver

pub mod wire;
pub mod engine;
