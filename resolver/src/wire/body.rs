//! Message bodies of every op code, requests and responses
//! (handle-protocol.md §3 "Bodies", §6; idis-extensions.md §1.2, §2.2).
//!
//! Which body a message carries follows from its header: response code 0 →
//! the request body of its op code; otherwise the response body of (op code,
//! response code). Responses that may start with a request digest carry it
//! when the response's RD flag is set (always for a 402 challenge).
//! Unknown op codes keep their body raw so the server can answer RC 5.
//! Pure codec; no I/O.

use idnode_registry::model::HsSite;
use idnode_registry::model::value::{Value, decode_value_list, encode_value_list};
use idnode_registry::model::wire::{MAX_ARRAY, MAX_HANDLE_LEN, Reader, WireError, WriteExt};

use super::digest::RequestDigest;
use super::envelope::ProtocolVersion;
use super::error::DecodeError;
use super::fast::ResolutionBodyRef;
use super::header::{Header, OpCode, OpFlags, ResponseCode};

/// OC_RESOLUTION request (§3): `bytes handle`, `list<u32> indexes`,
/// `list<bytes> types`, and — from IDIS clients (idis-extensions.md §1.2) —
/// a trailing `bytes authToken`. Empty lists = all values; index and type
/// filters are OR-ed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionRequest {
    pub handle: Vec<u8>,
    pub indexes: Vec<u32>,
    pub types: Vec<Vec<u8>>,
    /// `None`: no trailer (CNRI clients); `Some(empty)`: the 4 zero bytes the
    /// IDIS SDK sends by default; otherwise a JWT (with op flag RECU_AUTH).
    pub auth_token: Option<Vec<u8>>,
}

/// A body that is just `bytes handle`: GET_SITE_INFO (CNRI sends "/"),
/// DELETE_HANDLE, LIST_HANDLES, HOME_NA, UNHOME_NA, LIST_HOMED_NAS,
/// SESSION_TERMINATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandleBody {
    pub handle: Vec<u8>,
}

/// `bytes handle` + `list<value>`: CREATE_HANDLE, ADD_VALUE, MODIFY_VALUE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandleValues {
    pub handle: Vec<u8>,
    pub values: Vec<Value>,
}

/// REMOVE_VALUE: `bytes handle` + `list<u32 index>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveValues {
    pub handle: Vec<u8>,
    pub indexes: Vec<u32>,
}

/// OC_RESPONSE_TO_CHALLENGE (200, §6.1): `bytes authType`, `bytes
/// identityHandle`, `u32 identityIndex`, `bytes signedResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeAnswer {
    /// `"HS_PUBKEY"` or `"HS_SECKEY"`.
    pub auth_type: Vec<u8>,
    pub identity_handle: Vec<u8>,
    pub identity_index: u32,
    /// HS_PUBKEY: `bytes hashAlgId` + `bytes signature`
    /// ([`ChallengeAnswer::pubkey_signature`]); HS_SECKEY: a code byte + MAC.
    pub signed_response: Vec<u8>,
}

impl ChallengeAnswer {
    /// `(hashAlgId, signature)` when `signed_response` is exactly two
    /// `bytes` (the HS_PUBKEY layout; the CNRI client sends "SHA-256").
    pub fn pubkey_signature(&self) -> Option<(&[u8], &[u8])> {
        let mut r = Reader::new(&self.signed_response);
        let alg = r.bytes("hash algorithm").ok()?;
        let sig = r.bytes("signature").ok()?;
        r.finish("signed response").ok()?;
        Some((alg, sig))
    }
}

/// The request-digest field of OC_VERIFY_CHALLENGE (§6.1): a first byte 0
/// means a length-prefixed digest (the u32 length's high byte; the only
/// form CNRI emits); otherwise a hash-type byte and a fixed-length digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestField {
    LengthPrefixed(Vec<u8>),
    Typed(RequestDigest),
}

/// OC_VERIFY_CHALLENGE (201, §6.1): `bytes identityHandle`, `u32 index`,
/// `bytes nonce`, request digest ([`DigestField`]), `bytes signedResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyChallengeRequest {
    pub identity_handle: Vec<u8>,
    pub identity_index: u32,
    pub nonce: Vec<u8>,
    pub request_digest: DigestField,
    pub signed_response: Vec<u8>,
}

/// OC_SESSION_SETUP (400, §6.3): `u16 keyExchangeMode`, `u32 timeout`,
/// `bytes identityHandle`, `u32 identityIndex`, then mode-dependent key
/// exchange data kept raw (observed for mode 4 / DH: `bytes` HS_PUBKEY
/// DH key + 2 zero bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupRequest {
    pub key_exchange_mode: u16,
    /// Seconds.
    pub timeout: u32,
    pub identity_handle: Vec<u8>,
    pub identity_index: u32,
    /// Everything after the identity index, uninterpreted.
    pub exchange_data: Vec<u8>,
}

impl SessionSetupRequest {
    /// Client public key (mode 1).
    pub const KEY_EXCHANGE_CIPHER_CLIENT: u16 = 1;
    /// Server public key (mode 2).
    pub const KEY_EXCHANGE_CIPHER_SERVER: u16 = 2;
    /// Key from a handle value (mode 3).
    pub const KEY_EXCHANGE_CIPHER_HDL: u16 = 3;
    /// Diffie–Hellman (mode 4; what CNRI admin tools send).
    pub const KEY_EXCHANGE_DH: u16 = 4;

    /// The leading `bytes` of [`exchange_data`](Self::exchange_data) (the
    /// HS_PUBKEY-encoded client key for modes 1 and 4), if present.
    pub fn exchange_key(&self) -> Option<&[u8]> {
        Reader::new(&self.exchange_data).bytes("exchange key").ok()
    }
}

/// IDIS OC_LOGIN_ID_SYSTEM (2001, idis-extensions.md §2.2): `bytes
/// identityHandle`, `u32 identityIndex`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRequest {
    pub identity_handle: Vec<u8>,
    pub identity_index: u32,
}

/// Resolution response (RC 1): \[digest\] `bytes handle` (as asked),
/// `list<value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionResponse {
    pub digest: Option<RequestDigest>,
    pub handle: Vec<u8>,
    pub values: Vec<Value>,
}

/// GET_SITE_INFO response (RC 1): \[digest\] + the HS_SITE record filling the
/// rest of the body, kept as bytes ([`SiteInfoResponse::site`] parses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteInfoResponse {
    pub digest: Option<RequestDigest>,
    pub site: Vec<u8>,
}

impl SiteInfoResponse {
    /// Parses the record (trailing bytes rejected, as CNRI does).
    pub fn site(&self) -> Result<HsSite, WireError> {
        HsSite::from_bytes(&self.site)
    }
}

/// CREATE_HANDLE response (RC 1): \[digest\] + optionally `bytes handle`:
/// the created handle — the minted one when MINT was set (CNRI ≥ 8). CNRI
/// 9.2 sends it on every create (admin-batch vector).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateResponse {
    pub digest: Option<RequestDigest>,
    pub handle: Option<Vec<u8>>,
}

/// Generic success (RC 1 to delete, add, remove, modify, home, unhome,
/// session terminate, IDIS login): \[digest\] only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuccessResponse {
    pub digest: Option<RequestDigest>,
}

/// LIST_HANDLES / LIST_HOMED_NAS response (RC 1): \[digest\]
/// `list<bytes handle>`; streamed with CN on all but the last message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandleListResponse {
    pub digest: Option<RequestDigest>,
    pub handles: Vec<Vec<u8>>,
}

/// VERIFY_CHALLENGE response (RC 1): \[digest\] `u8` 1 = valid, 0 = not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyChallengeResponse {
    pub digest: Option<RequestDigest>,
    pub result: u8,
}

impl VerifyChallengeResponse {
    pub fn is_valid(&self) -> bool {
        self.result == 1
    }
}

/// SESSION_SETUP response (RC 1): \[digest\] `u16 keyExchangeMode`, then
/// mode-dependent data kept raw (observed for DH: `bytes` server key data +
/// 2 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupResponse {
    pub digest: Option<RequestDigest>,
    pub key_exchange_mode: u16,
    pub exchange_data: Vec<u8>,
}

/// Service referral (RC 302) / prefix referral (RC 303, for peers ≥ 2.5):
/// \[digest\] `bytes handle` [+ `list<value>`]. CNRI's prefix referral has an
/// empty handle and the HS_SITE.PREFIX / HS_SERV.PREFIX values (§3, §12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralResponse {
    pub digest: Option<RequestDigest>,
    pub handle: Vec<u8>,
    /// `None` when the body ends after the handle.
    pub values: Option<Vec<Value>>,
}

/// Challenge (RC 402, §3, §6.1): the request digest (always present) +
/// `bytes nonce` (16 random bytes). The envelope carries the session id the
/// server allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeResponse {
    pub digest: RequestDigest,
    pub nonce: Vec<u8>,
}

/// Error (every other response code): \[digest\] `bytes message` (UTF-8,
/// may be empty). A body that ends after the digest decodes as an empty
/// message (and re-encodes with the 4-byte zero length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub digest: Option<RequestDigest>,
    pub message: Vec<u8>,
}

/// The body of a message. The header decides which variant a buffer decodes
/// to (see the module docs); the encoder writes the variant it is given, so
/// keep header and body consistent (the `Message` constructors do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    // ---- requests (response code 0) ----
    /// OC 1.
    Resolution(ResolutionRequest),
    /// OC 2.
    GetSiteInfo(HandleBody),
    /// OC 100.
    CreateHandle(HandleValues),
    /// OC 101.
    DeleteHandle(HandleBody),
    /// OC 102.
    AddValue(HandleValues),
    /// OC 103.
    RemoveValue(RemoveValues),
    /// OC 104 (values matched by index).
    ModifyValue(HandleValues),
    /// OC 105: the prefix handle (`0.NA/xyz`).
    ListHandles(HandleBody),
    /// OC 200.
    ChallengeAnswer(ChallengeAnswer),
    /// OC 201.
    VerifyChallenge(VerifyChallengeRequest),
    /// OC 300.
    HomeNa(HandleBody),
    /// OC 301.
    UnhomeNa(HandleBody),
    /// OC 302 (handle ignored).
    ListHomedNas(HandleBody),
    /// OC 400.
    SessionSetup(SessionSetupRequest),
    /// OC 401.
    SessionTerminate(HandleBody),
    /// OC 402: the encrypted session key, raw.
    SessionExchangeKey(Vec<u8>),
    /// OC 2001 (IDIS).
    LoginIdSystem(LoginRequest),
    // ---- responses (response code ≠ 0) ----
    /// RC 1 to OC 1.
    ResolutionResponse(ResolutionResponse),
    /// RC 1 to OC 2.
    SiteInfoResponse(SiteInfoResponse),
    /// RC 1 to OC 100.
    CreateResponse(CreateResponse),
    /// RC 1 to OC 101–104, 300, 301, 401, 2001.
    Success(SuccessResponse),
    /// RC 1 to OC 105 and 302.
    HandleList(HandleListResponse),
    /// RC 1 to OC 201.
    VerifyResponse(VerifyChallengeResponse),
    /// RC 1 to OC 400.
    SessionSetupResponse(SessionSetupResponse),
    /// RC 302, and RC 303 in messages ≥ 2.5.
    Referral(ReferralResponse),
    /// RC 402.
    Challenge(ChallengeResponse),
    /// Any other response code.
    Error(ErrorResponse),
    // ---- raw ----
    /// OC 1000–1003 (replication; request or RC 1), body uninterpreted.
    Replication(Vec<u8>),
    /// An op code we do not know (request, or its RC 1 response), body
    /// uninterpreted: answer RC 5 OPERATION_NOT_SUPPORTED.
    Unknown(Vec<u8>),
}

fn handle<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], WireError> {
    r.bytes_limited("handle", MAX_HANDLE_LEN)
}

fn u32_list(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<u32>, WireError> {
    let n = r.count(what, MAX_ARRAY, 4)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(r.u32()?);
    }
    Ok(v)
}

fn put_u32_list(out: &mut Vec<u8>, v: &[u32]) {
    out.put_u32(v.len() as u32);
    for &i in v {
        out.put_u32(i);
    }
}

fn rest(r: &mut Reader<'_>) -> Vec<u8> {
    let v = r.rest().to_vec();
    // Cannot fail: exactly the remaining bytes.
    let _ = r.take(v.len());
    v
}

fn put_opt_digest(out: &mut Vec<u8>, d: &Option<RequestDigest>) {
    if let Some(d) = d {
        d.encode(out);
    }
}

impl Body {
    /// Decodes `body` (exactly `bodyLength` bytes) of a message with
    /// `header`, whose envelope version is `version` (it decides the digest
    /// format). Trailing bytes are an error, except the IDIS
    /// resolution-request trailer.
    pub fn decode(header: &Header, version: ProtocolVersion, body: &[u8]) -> Result<Body, DecodeError> {
        let mut r = Reader::new(body);
        let b = if header.is_response() {
            Self::decode_response(header, version, &mut r)?
        } else {
            Self::decode_request(header.op_code, body, &mut r)?
        };
        r.finish("message body")?;
        Ok(b)
    }

    fn decode_request(op: OpCode, body: &[u8], r: &mut Reader<'_>) -> Result<Body, DecodeError> {
        let handle_body =
            |r: &mut Reader<'_>| -> Result<HandleBody, WireError> { Ok(HandleBody { handle: handle(r)?.to_vec() }) };
        let handle_values = |r: &mut Reader<'_>| -> Result<HandleValues, WireError> {
            let handle = handle(r)?.to_vec();
            let values = decode_value_list(r)?;
            Ok(HandleValues { handle, values })
        };
        Ok(match op {
            OpCode::RESOLUTION => {
                let b = ResolutionBodyRef::parse(body)?;
                let _ = r.take(body.len());
                Body::Resolution(b.to_owned())
            }
            OpCode::GET_SITE_INFO => Body::GetSiteInfo(handle_body(r)?),
            OpCode::CREATE_HANDLE => Body::CreateHandle(handle_values(r)?),
            OpCode::DELETE_HANDLE => Body::DeleteHandle(handle_body(r)?),
            OpCode::ADD_VALUE => Body::AddValue(handle_values(r)?),
            OpCode::REMOVE_VALUE => {
                let handle = handle(r)?.to_vec();
                let indexes = u32_list(r, "index list")?;
                Body::RemoveValue(RemoveValues { handle, indexes })
            }
            OpCode::MODIFY_VALUE => Body::ModifyValue(handle_values(r)?),
            OpCode::LIST_HANDLES => Body::ListHandles(handle_body(r)?),
            OpCode::RESPONSE_TO_CHALLENGE => {
                let auth_type = r.bytes("auth type")?.to_vec();
                let identity_handle = handle(r)?.to_vec();
                let identity_index = r.u32()?;
                let signed_response = r.bytes("signed response")?.to_vec();
                Body::ChallengeAnswer(ChallengeAnswer { auth_type, identity_handle, identity_index, signed_response })
            }
            OpCode::VERIFY_CHALLENGE => {
                let identity_handle = handle(r)?.to_vec();
                let identity_index = r.u32()?;
                let nonce = r.bytes("nonce")?.to_vec();
                let request_digest = if r.rest().first() == Some(&0) {
                    DigestField::LengthPrefixed(r.bytes("request digest")?.to_vec())
                } else {
                    DigestField::Typed(RequestDigest::decode(r, ProtocolVersion::OURS)?)
                };
                let signed_response = r.bytes("signed response")?.to_vec();
                Body::VerifyChallenge(VerifyChallengeRequest {
                    identity_handle,
                    identity_index,
                    nonce,
                    request_digest,
                    signed_response,
                })
            }
            OpCode::HOME_NA => Body::HomeNa(handle_body(r)?),
            OpCode::UNHOME_NA => Body::UnhomeNa(handle_body(r)?),
            OpCode::LIST_HOMED_NAS => Body::ListHomedNas(handle_body(r)?),
            OpCode::SESSION_SETUP => {
                let key_exchange_mode = r.u16()?;
                let timeout = r.u32()?;
                let identity_handle = handle(r)?.to_vec();
                let identity_index = r.u32()?;
                Body::SessionSetup(SessionSetupRequest {
                    key_exchange_mode,
                    timeout,
                    identity_handle,
                    identity_index,
                    exchange_data: rest(r),
                })
            }
            OpCode::SESSION_TERMINATE => Body::SessionTerminate(handle_body(r)?),
            OpCode::SESSION_EXCHANGEKEY => Body::SessionExchangeKey(rest(r)),
            OpCode::LOGIN_ID_SYSTEM => {
                let identity_handle = handle(r)?.to_vec();
                let identity_index = r.u32()?;
                Body::LoginIdSystem(LoginRequest { identity_handle, identity_index })
            }
            OpCode(1000..=1003) => Body::Replication(rest(r)),
            _ => Body::Unknown(rest(r)),
        })
    }

    fn decode_response(header: &Header, version: ProtocolVersion, r: &mut Reader<'_>) -> Result<Body, DecodeError> {
        let rd = header.op_flags.contains(OpFlags::RD);
        let rc = header.response_code;
        let op = header.op_code;
        let has_digest_slot = match rc {
            ResponseCode::SUCCESS => matches!(
                op.0,
                1 | 2 | 100..=105 | 201 | 300..=302 | 400 | 401 | 2001
            ),
            ResponseCode::AUTHENTICATION_NEEDED => false, // read below, always
            _ => true,
        };
        let digest = if rd && has_digest_slot { Some(RequestDigest::decode(r, version)?) } else { None };
        let body = match rc {
            ResponseCode::SUCCESS => match op {
                OpCode::RESOLUTION => {
                    let handle = handle(r)?.to_vec();
                    let values = decode_value_list(r)?;
                    Body::ResolutionResponse(ResolutionResponse { digest, handle, values })
                }
                OpCode::GET_SITE_INFO => Body::SiteInfoResponse(SiteInfoResponse { digest, site: rest(r) }),
                OpCode::CREATE_HANDLE => {
                    let handle = if r.is_empty() { None } else { Some(handle(r)?.to_vec()) };
                    Body::CreateResponse(CreateResponse { digest, handle })
                }
                OpCode::LIST_HANDLES | OpCode::LIST_HOMED_NAS => {
                    let n = r.count("handle list", MAX_ARRAY, 4)?;
                    let mut handles = Vec::with_capacity(n);
                    for _ in 0..n {
                        handles.push(handle(r)?.to_vec());
                    }
                    Body::HandleList(HandleListResponse { digest, handles })
                }
                OpCode::VERIFY_CHALLENGE => Body::VerifyResponse(VerifyChallengeResponse { digest, result: r.u8()? }),
                OpCode::SESSION_SETUP => {
                    let key_exchange_mode = r.u16()?;
                    Body::SessionSetupResponse(SessionSetupResponse {
                        digest,
                        key_exchange_mode,
                        exchange_data: rest(r),
                    })
                }
                OpCode(101..=104 | 300 | 301 | 401 | 2001) => Body::Success(SuccessResponse { digest }),
                OpCode(1000..=1003) => Body::Replication(rest(r)),
                _ => Body::Unknown(rest(r)),
            },
            ResponseCode::SERVICE_REFERRAL => Self::referral(digest, r)?,
            ResponseCode::PREFIX_REFERRAL if version.rc303_is_prefix_referral() => Self::referral(digest, r)?,
            ResponseCode::AUTHENTICATION_NEEDED => {
                let digest = RequestDigest::decode(r, version)?;
                let nonce = r.bytes("nonce")?.to_vec();
                Body::Challenge(ChallengeResponse { digest, nonce })
            }
            _ => {
                let message = if r.is_empty() { Vec::new() } else { r.bytes("error message")?.to_vec() };
                Body::Error(ErrorResponse { digest, message })
            }
        };
        Ok(body)
    }

    fn referral(digest: Option<RequestDigest>, r: &mut Reader<'_>) -> Result<Body, DecodeError> {
        let handle = handle(r)?.to_vec();
        let values = if r.is_empty() { None } else { Some(decode_value_list(r)?) };
        Ok(Body::Referral(ReferralResponse { digest, handle, values }))
    }

    /// The request digest a response body carries, if any.
    pub fn digest(&self) -> Option<&RequestDigest> {
        match self {
            Body::ResolutionResponse(b) => b.digest.as_ref(),
            Body::SiteInfoResponse(b) => b.digest.as_ref(),
            Body::CreateResponse(b) => b.digest.as_ref(),
            Body::Success(b) => b.digest.as_ref(),
            Body::HandleList(b) => b.digest.as_ref(),
            Body::VerifyResponse(b) => b.digest.as_ref(),
            Body::SessionSetupResponse(b) => b.digest.as_ref(),
            Body::Referral(b) => b.digest.as_ref(),
            Body::Error(b) => b.digest.as_ref(),
            Body::Challenge(b) => Some(&b.digest),
            _ => None,
        }
    }

    /// How the encoder treats a response's RD flag: `Some(on)` for bodies
    /// with an optional digest (RD is set exactly when the digest is
    /// present, which is what the decoder relies on), `None` otherwise
    /// (requests, raw bodies, and challenges, whose digest is always read).
    pub(crate) fn rd_flag(&self) -> Option<bool> {
        match self {
            Body::Challenge(_) => None,
            b => match b.digest() {
                Some(_) => Some(true),
                None if b.has_optional_digest() => Some(false),
                None => None,
            },
        }
    }

    fn has_optional_digest(&self) -> bool {
        matches!(
            self,
            Body::ResolutionResponse(_)
                | Body::SiteInfoResponse(_)
                | Body::CreateResponse(_)
                | Body::Success(_)
                | Body::HandleList(_)
                | Body::VerifyResponse(_)
                | Body::SessionSetupResponse(_)
                | Body::Referral(_)
                | Body::Error(_)
        )
    }

    /// Appends the body bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Body::Resolution(b) => {
                out.put_bytes(&b.handle);
                put_u32_list(out, &b.indexes);
                out.put_u32(b.types.len() as u32);
                for t in &b.types {
                    out.put_bytes(t);
                }
                if let Some(t) = &b.auth_token {
                    out.put_bytes(t);
                }
            }
            Body::GetSiteInfo(b)
            | Body::DeleteHandle(b)
            | Body::ListHandles(b)
            | Body::HomeNa(b)
            | Body::UnhomeNa(b)
            | Body::ListHomedNas(b)
            | Body::SessionTerminate(b) => out.put_bytes(&b.handle),
            Body::CreateHandle(b) | Body::AddValue(b) | Body::ModifyValue(b) => {
                out.put_bytes(&b.handle);
                encode_value_list(&b.values, out);
            }
            Body::RemoveValue(b) => {
                out.put_bytes(&b.handle);
                put_u32_list(out, &b.indexes);
            }
            Body::ChallengeAnswer(b) => {
                out.put_bytes(&b.auth_type);
                out.put_bytes(&b.identity_handle);
                out.put_u32(b.identity_index);
                out.put_bytes(&b.signed_response);
            }
            Body::VerifyChallenge(b) => {
                out.put_bytes(&b.identity_handle);
                out.put_u32(b.identity_index);
                out.put_bytes(&b.nonce);
                match &b.request_digest {
                    DigestField::LengthPrefixed(d) => out.put_bytes(d),
                    DigestField::Typed(d) => d.encode(out),
                }
                out.put_bytes(&b.signed_response);
            }
            Body::SessionSetup(b) => {
                out.put_u16(b.key_exchange_mode);
                out.put_u32(b.timeout);
                out.put_bytes(&b.identity_handle);
                out.put_u32(b.identity_index);
                out.extend_from_slice(&b.exchange_data);
            }
            Body::SessionExchangeKey(raw) | Body::Replication(raw) | Body::Unknown(raw) => out.extend_from_slice(raw),
            Body::LoginIdSystem(b) => {
                out.put_bytes(&b.identity_handle);
                out.put_u32(b.identity_index);
            }
            Body::ResolutionResponse(b) => {
                put_opt_digest(out, &b.digest);
                out.put_bytes(&b.handle);
                encode_value_list(&b.values, out);
            }
            Body::SiteInfoResponse(b) => {
                put_opt_digest(out, &b.digest);
                out.extend_from_slice(&b.site);
            }
            Body::CreateResponse(b) => {
                put_opt_digest(out, &b.digest);
                if let Some(h) = &b.handle {
                    out.put_bytes(h);
                }
            }
            Body::Success(b) => put_opt_digest(out, &b.digest),
            Body::HandleList(b) => {
                put_opt_digest(out, &b.digest);
                out.put_u32(b.handles.len() as u32);
                for h in &b.handles {
                    out.put_bytes(h);
                }
            }
            Body::VerifyResponse(b) => {
                put_opt_digest(out, &b.digest);
                out.put_u8(b.result);
            }
            Body::SessionSetupResponse(b) => {
                put_opt_digest(out, &b.digest);
                out.put_u16(b.key_exchange_mode);
                out.extend_from_slice(&b.exchange_data);
            }
            Body::Referral(b) => {
                put_opt_digest(out, &b.digest);
                out.put_bytes(&b.handle);
                if let Some(v) = &b.values {
                    encode_value_list(v, out);
                }
            }
            Body::Challenge(b) => {
                b.digest.encode(out);
                out.put_bytes(&b.nonce);
            }
            Body::Error(b) => {
                put_opt_digest(out, &b.digest);
                out.put_bytes(&b.message);
            }
        }
    }
}
