//! Typed errors of the codec. Every decode error is the peer's fault and not
//! worth retrying; the server maps [`DecodeError`] to RC 4 PROTOCOL_ERROR at
//! its one boundary. No I/O here.

use idnode_registry::model::wire::WireError;
use thiserror::Error;

/// Why a buffer is not a valid Handle message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer than the 20 envelope bytes.
    #[error("envelope needs 20 bytes, got {got}")]
    ShortEnvelope { got: usize },
    /// The envelope announced more bytes than arrived. The text is CNRI's
    /// (§12 malformed-request vectors: "Expecting 48 bytes, only received
    /// 20"), so a server can send it back as the error message.
    #[error("Expecting {expected} bytes, only received {received}")]
    Incomplete { expected: usize, received: usize },
    /// More bytes than the envelope announced.
    #[error("{extra} bytes after the {expected}-byte message")]
    TrailingData { expected: usize, extra: usize },
    /// `messageLength` above [`MAX_MESSAGE`](super::MAX_MESSAGE) (or negative).
    #[error("messageLength {len} exceeds the limit {limit}")]
    MessageTooLong { len: u32, limit: usize },
    /// The message is encrypted with a session key (envelope EC flag); only
    /// a session layer can read it.
    #[error("message is encrypted (EC flag); session encryption is not supported")]
    Encrypted,
    /// The message is compressed (envelope CP flag), which no known peer
    /// emits and we do not support.
    #[error("message is compressed (CP flag), which is not supported")]
    Compressed,
    /// `bodyLength` larger than the message.
    #[error("bodyLength {body_length} exceeds the {available} bytes after the header")]
    BodyLength { body_length: u32, available: usize },
    /// A request digest with a hash type other than 1, 2, 3.
    #[error("unknown request digest type {0}")]
    UnknownDigestType(u8),
    /// [`ResolutionRequestRef`](super::ResolutionRequestRef) was given
    /// something other than an OC_RESOLUTION request.
    #[error("not a resolution request: opCode {op_code}, responseCode {response_code}")]
    NotResolutionRequest { op_code: u32, response_code: u32 },
    /// A field inside the header, body or credential is malformed.
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// Why an answer could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message would exceed [`MAX_MESSAGE`](super::MAX_MESSAGE), which
    /// CNRI-derived clients refuse to read.
    #[error("encoded message of {len} bytes exceeds the limit {limit}")]
    TooLarge { len: usize, limit: usize },
    /// More values than [`MAX_VALUES`](super::MAX_VALUES).
    #[error("{count} values exceed the limit {limit}")]
    TooManyValues { count: usize, limit: usize },
}

/// Why a UDP datagram was dropped by the [`Reassembler`](super::Reassembler).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UdpError {
    /// The datagram's envelope is unusable.
    #[error(transparent)]
    Envelope(#[from] DecodeError),
    /// Larger than 512 bytes.
    #[error("datagram of {len} bytes exceeds 512")]
    TooLarge { len: usize },
    /// `sequenceNumber` outside the message.
    #[error("sequence number {seq} outside a {message_length}-byte message")]
    BadSequence { seq: i32, message_length: u32 },
    /// The payload length does not match the fragment's place in the message.
    #[error("fragment {seq} carries {got} bytes, expected {expected}")]
    BadFragmentLength { seq: i32, got: usize, expected: usize },
    /// A fragment disagrees with earlier fragments of the same request id.
    #[error("fragment {seq} disagrees with earlier fragments (messageLength {message_length})")]
    Inconsistent { seq: i32, message_length: u32 },
}
