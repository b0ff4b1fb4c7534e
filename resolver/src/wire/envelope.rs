//! The 20-byte message envelope and protocol-version negotiation
//! (handle-protocol.md §1 "Transport, ports, message envelope" and
//! "Version negotiation"). Pure functions over bytes; no I/O.

use std::fmt;

use idnode_registry::model::wire::{MAX_MESSAGE, WriteExt};

use super::error::DecodeError;

/// Bytes of the envelope.
pub const ENVELOPE_LEN: usize = 20;

/// Flag bits of envelope byte 2 (§1). The low two bits of that byte are the
/// suggested major version, not flags.
pub mod envelope_flags {
    /// CP: the message is compressed.
    pub const CP: u8 = 0x80;
    /// EC: the message is encrypted with the session key.
    pub const EC: u8 = 0x40;
    /// TC: one packet of a multi-packet UDP message (CNRI sets it on
    /// multi-packet requests only; never on responses).
    pub const TC: u8 = 0x20;
    /// The bits of byte 2 that hold the suggested major version.
    pub const SUGGESTED_MAJOR_MASK: u8 = 0x03;
}

/// A Handle protocol version, ordered (`2.3 < 2.10 < 2.11`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    pub major: u8,
    pub minor: u8,
}

impl fmt::Debug for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl ProtocolVersion {
    pub const fn new(major: u8, minor: u8) -> Self {
        ProtocolVersion { major, minor }
    }

    /// The version we speak: 2.11 (CNRI 9.x `Common.MAJOR/MINOR_VERSION`).
    pub const OURS: ProtocolVersion = ProtocolVersion::new(2, 11);
    /// The compatibility version CNRI clients send before they know the
    /// server's, and CNRI servers answer undecodable requests with (§12).
    pub const COMPAT: ProtocolVersion = ProtocolVersion::new(2, 3);
    /// 2.1: typed request digests and the new challenge format.
    pub const V2_1: ProtocolVersion = ProtocolVersion::new(2, 1);
    /// 2.5: RC 303 means PREFIX_REFERRAL, RC 202 INVALID_VALUE exists.
    pub const V2_5: ProtocolVersion = ProtocolVersion::new(2, 5);
    /// 2.7: SHA-256 digests, HMAC-SHA256 MACs.
    pub const V2_7: ProtocolVersion = ProtocolVersion::new(2, 7);
    /// 2.8: signatures cover the suggested-version bytes.
    pub const V2_8: ProtocolVersion = ProtocolVersion::new(2, 8);
    /// 2.10: clients understand RC_PREFIX_REFERRAL (303).
    pub const V2_10: ProtocolVersion = ProtocolVersion::new(2, 10);

    /// Request digests carry a hash-type byte (≥ 2.1); older peers use a
    /// length-prefixed MD5 (§2 "Request digest").
    pub fn has_typed_digest(self) -> bool {
        self >= Self::V2_1
    }

    /// Digests are SHA-256 and MACs HMAC-SHA256 (≥ 2.7); SHA-1 before.
    pub fn uses_sha256(self) -> bool {
        self >= Self::V2_7
    }

    /// RC 202 INVALID_VALUE exists (≥ 2.5; older peers get 201).
    pub fn knows_invalid_value(self) -> bool {
        self >= Self::V2_5
    }

    /// RC 303 means PREFIX_REFERRAL (≥ 2.5; before, it meant SERVER_BACKUP).
    pub fn rc303_is_prefix_referral(self) -> bool {
        self >= Self::V2_5
    }

    /// Message credentials cover the suggested-version bytes (≥ 2.8).
    pub fn signs_suggested_version(self) -> bool {
        self >= Self::V2_8
    }

    /// SHA256withDSA is allowed (≥ 2.11).
    pub fn allows_sha256_with_dsa(self) -> bool {
        self >= Self::OURS
    }
}

/// The 20-byte envelope (§1).
///
/// | off | field |
/// |---|---|
/// | 0 | majorVersion |
/// | 1 | minorVersion |
/// | 2 | flags CP/EC/TC + suggested major in the low 2 bits |
/// | 3 | suggested minor |
/// | 4 | i32 sessionId |
/// | 8 | i32 requestId |
/// | 12 | i32 sequenceNumber |
/// | 16 | i32 messageLength (whole message, not this packet) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// The version *of this message*.
    pub version: ProtocolVersion,
    /// [`envelope_flags`] bits of byte 2 (the two low bits are ignored).
    pub flags: u8,
    /// The suggested version exactly as on the wire: `major` is the low two
    /// bits of byte 2 (0 = "none"), `minor` is byte 3. Read it through
    /// [`Envelope::suggested_version`].
    pub suggested: ProtocolVersion,
    /// 0 = none; assigned by servers in challenges and session setup.
    pub session_id: i32,
    /// Chosen by the client, echoed in the response.
    pub request_id: i32,
    /// UDP packet number, 0-based; 0 on TCP.
    pub sequence_number: i32,
    /// Length of the whole message after the envelope. [`Message::encode`]
    /// fills it in.
    ///
    /// [`Message::encode`]: super::Message::encode
    pub message_length: u32,
}

impl Envelope {
    /// An envelope for a request from a client that does not know the
    /// server yet: version `version`, suggesting [`ProtocolVersion::OURS`].
    pub fn request(version: ProtocolVersion, request_id: i32) -> Self {
        Envelope {
            version,
            flags: 0,
            suggested: ProtocolVersion::OURS,
            session_id: 0,
            request_id,
            sequence_number: 0,
            message_length: 0,
        }
    }

    /// The envelope of the answer to `request` (§1 "Version negotiation"):
    /// version [`negotiate`](Envelope::negotiate)d, suggesting ours, same
    /// session and request id, no flags.
    pub fn response_to(request: &Envelope) -> Self {
        Envelope {
            version: request.negotiate(),
            flags: 0,
            suggested: ProtocolVersion::OURS,
            session_id: request.session_id,
            request_id: request.request_id,
            sequence_number: 0,
            message_length: 0,
        }
    }

    /// The suggested version, applying the decoder rule of §1: when the low
    /// two bits of byte 2 are 0 the suggested version is the message's own.
    pub fn suggested_version(&self) -> ProtocolVersion {
        if self.suggested.major & envelope_flags::SUGGESTED_MAJOR_MASK == 0 {
            self.version
        } else {
            ProtocolVersion::new(self.suggested.major & envelope_flags::SUGGESTED_MAJOR_MASK, self.suggested.minor)
        }
    }

    /// The version to answer this message with: min(suggested, ours).
    /// "Version 5.0" is the ancient dialect also called 2.0 (§1).
    pub fn negotiate(&self) -> ProtocolVersion {
        let s = self.suggested_version();
        let s = if s.major == 5 { ProtocolVersion::new(2, 0) } else { s };
        s.min(ProtocolVersion::OURS)
    }

    /// The client understands RC 303 PREFIX_REFERRAL: it suggested ≥ 2.10
    /// (a CNRI server recurses or errors for older clients, §1, §7).
    pub fn accepts_prefix_referral(&self) -> bool {
        self.suggested_version() >= ProtocolVersion::V2_10
    }

    pub fn is_compressed(&self) -> bool {
        self.flags & envelope_flags::CP != 0
    }

    pub fn is_encrypted(&self) -> bool {
        self.flags & envelope_flags::EC != 0
    }

    pub fn is_truncated(&self) -> bool {
        self.flags & envelope_flags::TC != 0
    }

    /// The 20 wire bytes.
    pub fn to_bytes(&self) -> [u8; ENVELOPE_LEN] {
        let mut b = [0u8; ENVELOPE_LEN];
        b[0] = self.version.major;
        b[1] = self.version.minor;
        b[2] = (self.flags & !envelope_flags::SUGGESTED_MAJOR_MASK)
            | (self.suggested.major & envelope_flags::SUGGESTED_MAJOR_MASK);
        b[3] = self.suggested.minor;
        b[4..8].copy_from_slice(&self.session_id.to_be_bytes());
        b[8..12].copy_from_slice(&self.request_id.to_be_bytes());
        b[12..16].copy_from_slice(&self.sequence_number.to_be_bytes());
        b[16..20].copy_from_slice(&self.message_length.to_be_bytes());
        b
    }

    /// Appends the 20 wire bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// Reads the envelope at the start of `buf` (which may hold more). Fails
    /// when `messageLength` is negative or above
    /// [`MAX_MESSAGE`](super::MAX_MESSAGE), so a TCP listener can call this
    /// on the first 20 bytes before reading (and allocating) the rest.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let Some(b) = buf.get(..ENVELOPE_LEN) else {
            return Err(DecodeError::ShortEnvelope { got: buf.len() });
        };
        let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        let message_length = u32::from_be_bytes(word(16));
        if message_length as usize > MAX_MESSAGE {
            return Err(DecodeError::MessageTooLong { len: message_length, limit: MAX_MESSAGE });
        }
        Ok(Envelope {
            version: ProtocolVersion::new(b[0], b[1]),
            flags: b[2] & !envelope_flags::SUGGESTED_MAJOR_MASK,
            suggested: ProtocolVersion::new(b[2] & envelope_flags::SUGGESTED_MAJOR_MASK, b[3]),
            session_id: i32::from_be_bytes(word(4)),
            request_id: i32::from_be_bytes(word(8)),
            sequence_number: i32::from_be_bytes(word(12)),
            message_length,
        })
    }
}

/// Writes `v` big-endian at `pos` of `out` (used to patch lengths).
pub(crate) fn patch_u32(out: &mut [u8], pos: usize, v: u32) {
    if let Some(s) = out.get_mut(pos..pos + 4) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Appends a placeholder u32 and returns its position.
pub(crate) fn placeholder_u32(out: &mut Vec<u8>) -> usize {
    let pos = out.len();
    out.put_u32(0);
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_envelope() {
        let b = hex::decode("020a020b00000000000012340000000000000030").unwrap();
        let e = Envelope::decode(&b).unwrap();
        assert_eq!(e.version, ProtocolVersion::new(2, 10));
        assert_eq!(e.suggested_version(), ProtocolVersion::OURS);
        assert_eq!(e.request_id, 0x1234);
        assert_eq!(e.message_length, 0x30);
        assert_eq!(e.to_bytes().as_slice(), b.as_slice());
        let r = Envelope::response_to(&e);
        assert_eq!(r.version, ProtocolVersion::OURS);
        assert_eq!(&r.to_bytes()[..4], &[2, 11, 2, 11]);
        assert!(e.accepts_prefix_referral());
    }

    #[test]
    fn suggested_defaults_to_own_version() {
        let mut b = hex::decode("0203000000000000000012340000000000000030").unwrap();
        let e = Envelope::decode(&b).unwrap();
        assert_eq!(e.suggested_version(), ProtocolVersion::COMPAT);
        assert_eq!(e.negotiate(), ProtocolVersion::COMPAT);
        assert!(!e.accepts_prefix_referral());
        b[2] = envelope_flags::TC | 2;
        b[3] = 10;
        let e = Envelope::decode(&b).unwrap();
        assert!(e.is_truncated());
        assert_eq!(e.suggested_version(), ProtocolVersion::V2_10);
        assert_eq!(e.to_bytes().as_slice(), b.as_slice());
    }

    #[test]
    fn negotiation_and_switches() {
        let mut e = Envelope::request(ProtocolVersion::COMPAT, 1);
        e.suggested = ProtocolVersion::new(2, 12);
        assert_eq!(e.negotiate(), ProtocolVersion::OURS);
        e.suggested = ProtocolVersion::new(2, 6);
        assert_eq!(e.negotiate(), ProtocolVersion::new(2, 6));
        assert!(!e.negotiate().uses_sha256());
        assert!(e.negotiate().knows_invalid_value());
        assert!(!ProtocolVersion::new(2, 4).rc303_is_prefix_referral());
        assert!(!ProtocolVersion::new(2, 10).allows_sha256_with_dsa());
        assert!(ProtocolVersion::new(2, 8).signs_suggested_version());
        let old = Envelope::request(ProtocolVersion::new(5, 0), 1);
        let mut old = old;
        old.suggested = ProtocolVersion::new(0, 0);
        assert_eq!(old.negotiate(), ProtocolVersion::new(2, 0));
    }

    #[test]
    fn limits() {
        assert!(matches!(Envelope::decode(&[2; 19]), Err(DecodeError::ShortEnvelope { got: 19 })));
        let mut b = [0u8; 20];
        b[16..].copy_from_slice(&(MAX_MESSAGE as u32 + 1).to_be_bytes());
        assert!(matches!(Envelope::decode(&b), Err(DecodeError::MessageTooLong { .. })));
        b[16..].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(Envelope::decode(&b).is_err());
    }
}
