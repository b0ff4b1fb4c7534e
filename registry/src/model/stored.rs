//! The at-rest encoding of every non-record type: one schema-version byte
//! followed by postcard (crates.md: "a version byte in front of every value").
//! Records use the wire encoding instead (see [`super::record`]).

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// Current schema version of postcard-encoded entities.
pub const ENTITY_SCHEMA: u8 = 1;

/// Stored bytes that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("empty stored value")]
    Empty,
    #[error("schema version {found} is not supported (this build reads {supported})")]
    Schema { found: u8, supported: u8 },
    #[error("postcard: {0}")]
    Postcard(String),
}

/// A type stored as version byte + postcard.
pub trait Stored: Serialize + DeserializeOwned {
    /// Encodes with the version byte in front.
    fn to_stored(&self) -> Vec<u8> {
        // Serialising plain data into a Vec cannot fail (postcard only fails
        // on unsupported serde features, which our types do not use).
        postcard::to_extend(self, vec![ENTITY_SCHEMA]).expect("postcard serialisation into a Vec")
    }

    /// Decodes bytes written by [`to_stored`](Self::to_stored).
    fn from_stored(b: &[u8]) -> Result<Self, DecodeError> {
        let (&ver, rest) = b.split_first().ok_or(DecodeError::Empty)?;
        if ver != ENTITY_SCHEMA {
            return Err(DecodeError::Schema { found: ver, supported: ENTITY_SCHEMA });
        }
        postcard::from_bytes(rest).map_err(|e| DecodeError::Postcard(e.to_string()))
    }
}
