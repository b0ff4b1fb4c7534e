//! The 24-byte message header, op codes, response codes and op flags
//! (handle-protocol.md §2, §3, §5; IDIS flag bits from idis-extensions.md
//! §1.1). Pure functions over bytes; no I/O, no clock (expiration times are
//! passed in).

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

use idnode_registry::model::wire::WriteExt;

/// Bytes of the header.
pub const HEADER_LEN: usize = 24;

/// An op code (§3 "Op codes"). Unknown values are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpCode(pub u32);

impl OpCode {
    pub const RESERVED: OpCode = OpCode(0);
    pub const RESOLUTION: OpCode = OpCode(1);
    pub const GET_SITE_INFO: OpCode = OpCode(2);
    pub const CREATE_HANDLE: OpCode = OpCode(100);
    pub const DELETE_HANDLE: OpCode = OpCode(101);
    pub const ADD_VALUE: OpCode = OpCode(102);
    pub const REMOVE_VALUE: OpCode = OpCode(103);
    pub const MODIFY_VALUE: OpCode = OpCode(104);
    pub const LIST_HANDLES: OpCode = OpCode(105);
    /// RFC 3652 OC_LIST_NA; not implemented by CNRI.
    pub const LIST_NAS: OpCode = OpCode(106);
    pub const RESPONSE_TO_CHALLENGE: OpCode = OpCode(200);
    pub const VERIFY_CHALLENGE: OpCode = OpCode(201);
    pub const HOME_NA: OpCode = OpCode(300);
    pub const UNHOME_NA: OpCode = OpCode(301);
    pub const LIST_HOMED_NAS: OpCode = OpCode(302);
    pub const SESSION_SETUP: OpCode = OpCode(400);
    pub const SESSION_TERMINATE: OpCode = OpCode(401);
    pub const SESSION_EXCHANGEKEY: OpCode = OpCode(402);
    pub const GET_NEXT_TXN_ID: OpCode = OpCode(1000);
    pub const RETRIEVE_TXN_LOG: OpCode = OpCode(1001);
    pub const DUMP_HANDLES: OpCode = OpCode(1002);
    pub const BACKUP_SERVER: OpCode = OpCode(1003);
    /// IDIS password login (old SDK only, idis-extensions.md §2.5).
    pub const LOGIN: OpCode = OpCode(2000);
    /// IDIS key-pair login (idis-extensions.md §2.2).
    pub const LOGIN_ID_SYSTEM: OpCode = OpCode(2001);

    /// The CNRI name, or `None` for codes we do not know.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "OC_RESERVED",
            1 => "OC_RESOLUTION",
            2 => "OC_GET_SITE_INFO",
            100 => "OC_CREATE_HANDLE",
            101 => "OC_DELETE_HANDLE",
            102 => "OC_ADD_VALUE",
            103 => "OC_REMOVE_VALUE",
            104 => "OC_MODIFY_VALUE",
            105 => "OC_LIST_HANDLES",
            106 => "OC_LIST_NAS",
            200 => "OC_RESPONSE_TO_CHALLENGE",
            201 => "OC_VERIFY_CHALLENGE",
            300 => "OC_HOME_NA",
            301 => "OC_UNHOME_NA",
            302 => "OC_LIST_HOMED_NAS",
            400 => "OC_SESSION_SETUP",
            401 => "OC_SESSION_TERMINATE",
            402 => "OC_SESSION_EXCHANGEKEY",
            1000 => "OC_GET_NEXT_TXN_ID",
            1001 => "OC_RETRIEVE_TXN_LOG",
            1002 => "OC_DUMP_HANDLES",
            1003 => "OC_BACKUP_SERVER",
            2000 => "OC_LOGIN",
            2001 => "OC_LOGIN_ID_SYSTEM",
            _ => return None,
        })
    }

    /// A fixed label for metrics: the name, or `"unknown"`.
    pub fn label(self) -> &'static str {
        self.name().unwrap_or("unknown")
    }
}

impl fmt::Debug for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({})", self.0),
            None => write!(f, "OpCode({})", self.0),
        }
    }
}

/// A response code (§5). 0 in every request.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResponseCode(pub u32);

impl ResponseCode {
    pub const RESERVED: ResponseCode = ResponseCode(0);
    pub const SUCCESS: ResponseCode = ResponseCode(1);
    pub const ERROR: ResponseCode = ResponseCode(2);
    pub const SERVER_TOO_BUSY: ResponseCode = ResponseCode(3);
    pub const PROTOCOL_ERROR: ResponseCode = ResponseCode(4);
    pub const OPERATION_NOT_SUPPORTED: ResponseCode = ResponseCode(5);
    pub const RECURSION_COUNT_TOO_HIGH: ResponseCode = ResponseCode(6);
    pub const SERVER_BACKUP: ResponseCode = ResponseCode(7);
    pub const HANDLE_NOT_FOUND: ResponseCode = ResponseCode(100);
    pub const HANDLE_ALREADY_EXISTS: ResponseCode = ResponseCode(101);
    pub const INVALID_HANDLE: ResponseCode = ResponseCode(102);
    pub const VALUES_NOT_FOUND: ResponseCode = ResponseCode(200);
    pub const VALUE_ALREADY_EXISTS: ResponseCode = ResponseCode(201);
    /// Only for peers ≥ 2.5 ([`ProtocolVersion::knows_invalid_value`]).
    ///
    /// [`ProtocolVersion::knows_invalid_value`]: super::ProtocolVersion::knows_invalid_value
    pub const INVALID_VALUE: ResponseCode = ResponseCode(202);
    pub const OUT_OF_DATE_SITE_INFO: ResponseCode = ResponseCode(300);
    pub const SERVER_NOT_RESP: ResponseCode = ResponseCode(301);
    pub const SERVICE_REFERRAL: ResponseCode = ResponseCode(302);
    /// Only for clients suggesting ≥ 2.10
    /// ([`Envelope::accepts_prefix_referral`]).
    ///
    /// [`Envelope::accepts_prefix_referral`]: super::Envelope::accepts_prefix_referral
    pub const PREFIX_REFERRAL: ResponseCode = ResponseCode(303);
    pub const INVALID_ADMIN: ResponseCode = ResponseCode(400);
    pub const INSUFFICIENT_PERMISSIONS: ResponseCode = ResponseCode(401);
    pub const AUTHENTICATION_NEEDED: ResponseCode = ResponseCode(402);
    pub const AUTHENTICATION_FAILED: ResponseCode = ResponseCode(403);
    pub const INVALID_CREDENTIAL: ResponseCode = ResponseCode(404);
    pub const AUTHEN_TIMEOUT: ResponseCode = ResponseCode(405);
    pub const AUTHEN_ERROR: ResponseCode = ResponseCode(406);
    pub const SESSION_TIMEOUT: ResponseCode = ResponseCode(500);
    pub const SESSION_FAILED: ResponseCode = ResponseCode(501);
    pub const INVALID_SESSION_KEY: ResponseCode = ResponseCode(502);
    pub const NEED_RSAKEY_FOR_SESSIONEXCHANGE: ResponseCode = ResponseCode(503);
    pub const INVALID_SESSIONSETUP_REQUEST: ResponseCode = ResponseCode(504);
    pub const SESSION_MESSAGE_REJECTED: ResponseCode = ResponseCode(505);

    /// The CNRI name, or `None` for codes we do not know.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "RC_RESERVED",
            1 => "RC_SUCCESS",
            2 => "RC_ERROR",
            3 => "RC_SERVER_TOO_BUSY",
            4 => "RC_PROTOCOL_ERROR",
            5 => "RC_OPERATION_NOT_SUPPORTED",
            6 => "RC_RECURSION_COUNT_TOO_HIGH",
            7 => "RC_SERVER_BACKUP",
            100 => "RC_HANDLE_NOT_FOUND",
            101 => "RC_HANDLE_ALREADY_EXISTS",
            102 => "RC_INVALID_HANDLE",
            200 => "RC_VALUES_NOT_FOUND",
            201 => "RC_VALUE_ALREADY_EXISTS",
            202 => "RC_INVALID_VALUE",
            300 => "RC_OUT_OF_DATE_SITE_INFO",
            301 => "RC_SERVER_NOT_RESP",
            302 => "RC_SERVICE_REFERRAL",
            303 => "RC_PREFIX_REFERRAL",
            400 => "RC_INVALID_ADMIN",
            401 => "RC_INSUFFICIENT_PERMISSIONS",
            402 => "RC_AUTHENTICATION_NEEDED",
            403 => "RC_AUTHENTICATION_FAILED",
            404 => "RC_INVALID_CREDENTIAL",
            405 => "RC_AUTHEN_TIMEOUT",
            406 => "RC_AUTHEN_ERROR",
            500 => "RC_SESSION_TIMEOUT",
            501 => "RC_SESSION_FAILED",
            502 => "RC_INVALID_SESSION_KEY",
            503 => "RC_NEED_RSAKEY_FOR_SESSIONEXCHANGE",
            504 => "RC_INVALID_SESSIONSETUP_REQUEST",
            505 => "RC_SESSION_MESSAGE_REJECTED",
            _ => return None,
        })
    }

    /// A fixed label for metrics: the name, or `"unknown"`.
    pub fn label(self) -> &'static str {
        self.name().unwrap_or("unknown")
    }
}

impl fmt::Debug for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({})", self.0),
            None => write!(f, "ResponseCode({})", self.0),
        }
    }
}

/// The 32 op-flag bits of the header (§2 "opFlags", idis-extensions.md §1.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OpFlags(pub u32);

impl OpFlags {
    pub const NONE: OpFlags = OpFlags(0);
    /// AT (AUTH): request: primary only, bypass caches; response: from a primary.
    pub const AT: OpFlags = OpFlags(0x8000_0000);
    /// CT (CERT): request: sign the response; response: is signed.
    pub const CT: OpFlags = OpFlags(0x4000_0000);
    /// ENC: encrypt the response with the session key.
    pub const ENC: OpFlags = OpFlags(0x2000_0000);
    /// REC: the server may recurse.
    pub const REC: OpFlags = OpFlags(0x1000_0000);
    /// CA (CACR): caches must authenticate upstream answers.
    pub const CA: OpFlags = OpFlags(0x0800_0000);
    /// CN (CONT): more messages follow for this request/response.
    pub const CN: OpFlags = OpFlags(0x0400_0000);
    /// KC (KPAL): keep the connection open.
    pub const KC: OpFlags = OpFlags(0x0200_0000);
    /// PO (PUBL): public values only.
    pub const PO: OpFlags = OpFlags(0x0100_0000);
    /// RD (RRDG): the response starts with a digest of the request.
    pub const RD: OpFlags = OpFlags(0x0080_0000);
    /// OVRW: create/add overwrite existing (CNRI, ≥ 2.3).
    pub const OVRW: OpFlags = OpFlags(0x0040_0000);
    /// MINT: create mints a new suffix (CNRI).
    pub const MINT: OpFlags = OpFlags(0x0020_0000);
    /// DNRF: do not send referrals (CNRI).
    pub const DNRF: OpFlags = OpFlags(0x0010_0000);
    /// IDIS `MSG_FLAG_RECU_AUTH` (new SDK): pass the user's identity on;
    /// set with a resolution-request auth token (idis-extensions.md §1.1).
    pub const RECU_AUTH: OpFlags = OpFlags(0x0000_0004);
    /// IDIS "trusted query" (old SDK): ask for a trust-verified result.
    pub const TRUSTED_QUERY: OpFlags = OpFlags(0x0000_0002);
    /// IDIS "trusted result" (old SDK, responses): verification succeeded;
    /// only meaningful together with [`TRUSTED_QUERY`](Self::TRUSTED_QUERY).
    pub const TRUSTED_RESULT: OpFlags = OpFlags(0x0000_0001);

    /// The request flags a CNRI server copies into its response:
    /// CT, CA, PO, RD, OVRW, MINT, DNRF (§2, observed).
    pub const RESPONSE_ECHO: OpFlags =
        OpFlags(Self::CT.0 | Self::CA.0 | Self::PO.0 | Self::RD.0 | Self::OVRW.0 | Self::MINT.0 | Self::DNRF.0);

    pub fn bits(self) -> u32 {
        self.0
    }

    /// True when every bit of `other` is set.
    pub fn contains(self, other: OpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with `other`'s bits set (`on`) or cleared.
    #[must_use]
    pub fn with(self, other: OpFlags, on: bool) -> OpFlags {
        if on { OpFlags(self.0 | other.0) } else { OpFlags(self.0 & !other.0) }
    }

    /// The flags of a CNRI response to a request with `request` flags:
    /// REC (Java default), AT when this server is a primary, and the echoed
    /// request bits ([`RESPONSE_ECHO`](Self::RESPONSE_ECHO)). Observed:
    /// `0x09000000` → `0x99000000`, `0x01000000` → `0x91000000` (§2).
    pub fn response_to(request: OpFlags, primary: bool) -> OpFlags {
        let mut f = OpFlags((request.0 & Self::RESPONSE_ECHO.0) | Self::REC.0);
        if primary {
            f |= Self::AT;
        }
        f
    }
}

impl BitOr for OpFlags {
    type Output = OpFlags;
    fn bitor(self, rhs: OpFlags) -> OpFlags {
        OpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for OpFlags {
    fn bitor_assign(&mut self, rhs: OpFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for OpFlags {
    type Output = OpFlags;
    fn bitand(self, rhs: OpFlags) -> OpFlags {
        OpFlags(self.0 & rhs.0)
    }
}

impl Not for OpFlags {
    type Output = OpFlags;
    fn not(self) -> OpFlags {
        OpFlags(!self.0)
    }
}

impl fmt::Debug for OpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(OpFlags, &str); 15] = [
            (OpFlags::AT, "AT"),
            (OpFlags::CT, "CT"),
            (OpFlags::ENC, "ENC"),
            (OpFlags::REC, "REC"),
            (OpFlags::CA, "CA"),
            (OpFlags::CN, "CN"),
            (OpFlags::KC, "KC"),
            (OpFlags::PO, "PO"),
            (OpFlags::RD, "RD"),
            (OpFlags::OVRW, "OVRW"),
            (OpFlags::MINT, "MINT"),
            (OpFlags::DNRF, "DNRF"),
            (OpFlags::RECU_AUTH, "RECU_AUTH"),
            (OpFlags::TRUSTED_QUERY, "TRUSTED_QUERY"),
            (OpFlags::TRUSTED_RESULT, "TRUSTED_RESULT"),
        ];
        write!(f, "OpFlags({:#010x}", self.0)?;
        let mut sep = " ";
        for (flag, name) in NAMES {
            if self.contains(flag) {
                write!(f, "{sep}{name}")?;
                sep = "|";
            }
        }
        write!(f, ")")
    }
}

/// What the answering server puts into every response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Responder {
    /// Serial of this server's HS_SITE (`siteInfoSerial`, §2).
    pub site_serial: u16,
    /// This server belongs to a primary site (sets AT in responses).
    pub primary: bool,
    /// `expirationTime` of responses, unix seconds (CNRI: now + 12 h). The
    /// caller computes it from its clock.
    pub expiration: u32,
}

/// The 24-byte header (§2), without `bodyLength`, which is framing:
/// decoders check it and encoders compute it.
///
/// | off | field |
/// |---|---|
/// | 0 | u32 opCode |
/// | 4 | u32 responseCode |
/// | 8 | u32 opFlags |
/// | 12 | u16 siteInfoSerial (0xFFFF = unknown) |
/// | 14 | u8 recursionCount |
/// | 15 | u8 reserved (written 0, ignored) |
/// | 16 | u32 expirationTime |
/// | 20 | u32 bodyLength |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    pub op_code: OpCode,
    /// 0 in every request.
    pub response_code: ResponseCode,
    pub op_flags: OpFlags,
    /// Serial of the HS_SITE the sender used; responses carry the server's.
    /// A u16 (CNRI's Java reader sign-extends; we do not).
    pub site_info_serial: u16,
    pub recursion_count: u8,
    /// Unix seconds.
    pub expiration_time: u32,
}

impl Header {
    /// A request header: response code 0, site serial 0xFFFF (unknown),
    /// recursion count 0.
    pub fn request(op_code: OpCode, op_flags: OpFlags, expiration_time: u32) -> Self {
        Header {
            op_code,
            response_code: ResponseCode::RESERVED,
            op_flags,
            site_info_serial: 0xFFFF,
            recursion_count: 0,
            expiration_time,
        }
    }

    /// The header of the answer to `request` (§2, §3 "Responses always copy
    /// requestId; response header opCode = request opCode"): same op code and
    /// recursion count, [`OpFlags::response_to`] flags, the responder's site
    /// serial and expiration. RD is set later by the encoder when the body
    /// carries a digest.
    pub fn response_to(request: &Header, rc: ResponseCode, responder: &Responder) -> Self {
        Header {
            op_code: request.op_code,
            response_code: rc,
            op_flags: OpFlags::response_to(request.op_flags, responder.primary),
            site_info_serial: responder.site_serial,
            recursion_count: request.recursion_count,
            expiration_time: responder.expiration,
        }
    }

    /// A response (response code ≠ 0).
    pub fn is_response(&self) -> bool {
        self.response_code != ResponseCode::RESERVED
    }

    /// Appends the 24 bytes with `op_flags` and `body_length` as given.
    pub(crate) fn encode_with(&self, op_flags: OpFlags, body_length: u32, out: &mut Vec<u8>) {
        out.put_u32(self.op_code.0);
        out.put_u32(self.response_code.0);
        out.put_u32(op_flags.0);
        out.put_u16(self.site_info_serial);
        out.put_u8(self.recursion_count);
        out.put_u8(0);
        out.put_u32(self.expiration_time);
        out.put_u32(body_length);
    }

    /// Parses the 24 bytes; returns the header and its `bodyLength`.
    pub(crate) fn decode(b: &[u8; HEADER_LEN]) -> (Header, u32) {
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let header = Header {
            op_code: OpCode(word(0)),
            response_code: ResponseCode(word(4)),
            op_flags: OpFlags(word(8)),
            site_info_serial: u16::from_be_bytes([b[12], b[13]]),
            recursion_count: b[14],
            expiration_time: word(16),
        };
        (header, word(20))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_header() {
        let b: [u8; 24] = hex::decode("000000010000000001000000ffff00006b0199870000001f").unwrap().try_into().unwrap();
        let (h, len) = Header::decode(&b);
        assert_eq!(h.op_code, OpCode::RESOLUTION);
        assert_eq!(h.op_flags, OpFlags::PO);
        assert_eq!(h.site_info_serial, 0xffff);
        assert_eq!(len, 31);
        let mut out = Vec::new();
        h.encode_with(h.op_flags, len, &mut out);
        assert_eq!(out, b);
    }

    #[test]
    fn response_flags_match_observed() {
        let cases = [
            (0x0900_0000, 0x9900_0000),
            (0x0100_0000, 0x9100_0000),
            (0x0000_0000, 0x9000_0000),
            (0x0980_0000, 0x9980_0000),
            (0x5980_0000, 0xd980_0000),
            (0x1900_0000, 0x9900_0000),
        ];
        for (req, resp) in cases {
            assert_eq!(OpFlags::response_to(OpFlags(req), true), OpFlags(resp), "{req:#x}");
        }
        assert_eq!(format!("{:?}", OpFlags(0x9980_0000)), "OpFlags(0x99800000 AT|REC|CA|PO|RD)");
        assert_eq!(format!("{:?}", OpCode(1)), "OC_RESOLUTION(1)");
        assert_eq!(ResponseCode(303).label(), "RC_PREFIX_REFERRAL");
        assert_eq!(OpCode(77).label(), "unknown");
    }
}
