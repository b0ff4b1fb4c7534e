//! The sans-IO Handle / IDIS binary protocol codec (handle-protocol.md §1–§6,
//! idis-extensions.md §1).
//!
//! This module owns the bytes of the protocol: the 20-byte envelope, the
//! 24-byte header and its op flags, every request and response body, the
//! request digest, the credential section, version negotiation and UDP
//! fragmentation / reassembly. It does **no I/O**: it never touches a socket,
//! a file or the clock (callers pass `now` and expiration times in), never
//! panics on any input, and never allocates from a length it has not checked
//! against the spec limits and the bytes actually present.
//!
//! Two ways in:
//! * the general path — [`Frame::parse`] splits and validates a complete
//!   envelope+message buffer without copying; [`Message::decode`] /
//!   [`Message::encode`] give an owned [`Message`] for every op code;
//! * the hot path — [`ResolutionRequestRef`] decodes a resolution request
//!   without allocating, and [`encode_resolution_response`] writes the answer
//!   by copying values that are already in §4.1 wire encoding.
//!
//! The value, HS_SITE, HS_ADMIN, HS_PUBKEY and HS_VLIST encodings live in
//! `idnode_registry::model` (the store keeps values in wire form); this module
//! reuses them.

mod body;
mod credential;
mod digest;
mod envelope;
mod error;
mod fast;
pub mod framing;
pub mod fuzzing;
mod header;
mod message;
mod udp;

pub use body::{
    Body, ChallengeAnswer, ChallengeResponse, CreateResponse, DigestField, ErrorResponse, HandleBody,
    HandleListResponse, HandleValues, LoginRequest, ReferralResponse, RemoveValues, ResolutionRequest,
    ResolutionResponse, SessionSetupRequest, SessionSetupResponse, SiteInfoResponse, SuccessResponse,
    VerifyChallengeRequest, VerifyChallengeResponse,
};
pub use credential::{Credential, CredentialParts, credential_type, signed_input};
pub use digest::{DigestAlg, RequestDigest};
pub use envelope::{ENVELOPE_LEN, Envelope, ProtocolVersion, envelope_flags};
pub use error::{DecodeError, EncodeError, UdpError};
pub use fast::{
    Indexes, ResolutionRequestRef, ResponseHead, Types, encode_error_response, encode_resolution_response,
    encode_resolution_response_list,
};
pub use header::{HEADER_LEN, Header, OpCode, OpFlags, Responder, ResponseCode};
pub use message::{Frame, Message};
pub use udp::{
    Reassembled, Reassembler, ReassemblyLimits, UDP_MAX_DATAGRAM, UDP_MAX_PAYLOAD, UdpFragment, UdpFragments,
    udp_fragments,
};

pub use idnode_registry::model::wire::{MAX_ARRAY, MAX_HANDLE_LEN, MAX_MESSAGE, MAX_VALUES, WireError};
