//! The hot path: resolution requests decoded without allocating, and
//! resolution answers written by copying values the store already keeps in
//! §4.1 wire encoding (handle-protocol.md §3 "Resolution request / response",
//! idis-extensions.md §1.2). No I/O, no clock.

use idnode_registry::model::wire::{MAX_ARRAY, MAX_HANDLE_LEN, MAX_VALUES, Reader, WireError, WriteExt};

use super::body::ResolutionRequest;
use super::digest::{DigestAlg, RequestDigest};
use super::envelope::{Envelope, placeholder_u32};
use super::error::{DecodeError, EncodeError};
use super::header::{Header, OpCode, OpFlags, Responder, ResponseCode};
use super::message::{Frame, finish_message, fits, write_head};

/// The borrowed parts of a resolution-request body. The one parser of that
/// body: [`Body::decode`](super::Body::decode) uses it too, so the fast and
/// the general decoder cannot disagree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResolutionBodyRef<'a> {
    handle: &'a [u8],
    index_bytes: &'a [u8],
    type_bytes: &'a [u8],
    type_count: u32,
    auth_token: Option<&'a [u8]>,
}

impl<'a> ResolutionBodyRef<'a> {
    /// `bytes handle`, `list<u32>`, `list<bytes>`, optional IDIS `bytes
    /// authToken`; nothing after that.
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let handle = r.bytes_limited("handle", MAX_HANDLE_LEN)?;
        let n = r.count("index list", MAX_ARRAY, 4)?;
        let index_bytes = r.take(n * 4)?;
        let m = r.count("type list", MAX_ARRAY, 4)?;
        let types_start = r.position();
        for _ in 0..m {
            r.bytes("type")?;
        }
        let type_bytes = &body[types_start..r.position()];
        let auth_token = if r.is_empty() { None } else { Some(r.bytes("auth token")?) };
        r.finish("resolution request")?;
        Ok(ResolutionBodyRef { handle, index_bytes, type_bytes, type_count: m as u32, auth_token })
    }

    fn indexes(&self) -> Indexes<'a> {
        Indexes { chunks: self.index_bytes.chunks_exact(4) }
    }

    fn types(&self) -> Types<'a> {
        Types { rest: self.type_bytes, left: self.type_count }
    }

    pub(crate) fn to_owned(self) -> ResolutionRequest {
        ResolutionRequest {
            handle: self.handle.to_vec(),
            indexes: self.indexes().collect(),
            types: self.types().map(<[u8]>::to_vec).collect(),
            auth_token: self.auth_token.map(<[u8]>::to_vec),
        }
    }
}

/// The requested indexes, decoded lazily.
#[derive(Debug, Clone)]
pub struct Indexes<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for Indexes<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        self.chunks.next().map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for Indexes<'_> {}

/// The requested types, borrowed from the request.
#[derive(Debug, Clone)]
pub struct Types<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> Iterator for Types<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        // Validated when the request was parsed; stop rather than panic if
        // that somehow did not hold.
        let mut r = Reader::new(self.rest);
        match r.bytes("type") {
            Ok(t) => {
                self.rest = r.rest();
                self.left -= 1;
                Some(t)
            }
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Types<'_> {}

/// A resolution request decoded without allocating: everything borrows the
/// received buffer.
#[derive(Debug, Clone, Copy)]
pub struct ResolutionRequestRef<'a> {
    pub envelope: Envelope,
    pub header: Header,
    /// The handle exactly as asked (echo it in the answer).
    pub handle: &'a [u8],
    /// The IDIS trailer (idis-extensions.md §1.2), if present.
    pub auth_token: Option<&'a [u8]>,
    /// What the request digest covers.
    pub header_and_body: &'a [u8],
    /// Credential bytes, as in [`Frame::credential`].
    pub credential: Option<&'a [u8]>,
    body: ResolutionBodyRef<'a>,
}

impl<'a> ResolutionRequestRef<'a> {
    /// Decodes a complete envelope+message buffer that must hold an
    /// OC_RESOLUTION request (response code 0).
    pub fn decode(buf: &'a [u8]) -> Result<Self, DecodeError> {
        Self::from_frame(&Frame::parse(buf)?)
    }

    /// The same from an already split [`Frame`] (check its op code first to
    /// route other requests to [`Frame::to_message`]).
    pub fn from_frame(frame: &Frame<'a>) -> Result<Self, DecodeError> {
        if frame.header.op_code != OpCode::RESOLUTION || frame.header.is_response() {
            return Err(DecodeError::NotResolutionRequest {
                op_code: frame.header.op_code.0,
                response_code: frame.header.response_code.0,
            });
        }
        let body = ResolutionBodyRef::parse(frame.body)?;
        Ok(ResolutionRequestRef {
            envelope: frame.envelope,
            header: frame.header,
            handle: body.handle,
            auth_token: body.auth_token,
            header_and_body: frame.header_and_body,
            credential: frame.credential,
            body,
        })
    }

    /// Requested indexes (empty = no index filter).
    pub fn indexes(&self) -> Indexes<'a> {
        self.body.indexes()
    }

    /// Requested types (empty = no type filter); match them with
    /// `idnode_registry::model::value::type_matches`.
    pub fn types(&self) -> Types<'a> {
        self.body.types()
    }

    /// Neither an index nor a type filter: every value is asked for.
    pub fn is_unfiltered(&self) -> bool {
        self.body.index_bytes.is_empty() && self.body.type_count == 0
    }

    /// PO: public values only.
    pub fn public_only(&self) -> bool {
        self.header.op_flags.contains(OpFlags::PO)
    }

    /// An owned copy of the body.
    pub fn to_request(&self) -> ResolutionRequest {
        self.body.to_owned()
    }

    /// The digest the answer must carry: `Some` when the request set RD,
    /// with the negotiated version's algorithm.
    pub fn response_digest(&self) -> Option<RequestDigest> {
        self.header
            .op_flags
            .contains(OpFlags::RD)
            .then(|| RequestDigest::compute(DigestAlg::for_version(self.envelope.negotiate()), self.header_and_body))
    }

    /// Envelope and header of an answer with `rc`.
    pub fn response_head(&self, rc: ResponseCode, responder: &Responder) -> ResponseHead {
        ResponseHead::for_request(&self.envelope, &self.header, rc, responder)
    }

    /// Appends the RC 1 answer: the handle as asked, `values` copied (each
    /// one complete §4.1 encoding, e.g. `ValueView::raw`), the digest when
    /// RD was set. Returns the number of values written.
    pub fn encode_response<I>(&self, out: &mut Vec<u8>, responder: &Responder, values: I) -> Result<u32, EncodeError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let head = self.response_head(ResponseCode::SUCCESS, responder);
        let digest = self.response_digest();
        encode_resolution_response(out, &head, digest.as_ref(), self.handle, values)
    }
}

/// Envelope and header of a response, before lengths are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub envelope: Envelope,
    pub header: Header,
}

impl ResponseHead {
    /// See [`Envelope::response_to`] and [`Header::response_to`].
    pub fn for_request(
        request_envelope: &Envelope,
        request_header: &Header,
        rc: ResponseCode,
        responder: &Responder,
    ) -> Self {
        ResponseHead {
            envelope: Envelope::response_to(request_envelope),
            header: Header::response_to(request_header, rc, responder),
        }
    }

    fn write(&self, out: &mut Vec<u8>, digest: Option<&RequestDigest>) {
        let flags = self.header.op_flags.with(OpFlags::RD, digest.is_some());
        write_head(out, &self.envelope, &self.header, flags);
        if let Some(d) = digest {
            d.encode(out);
        }
    }
}

fn finish_checked(out: &mut Vec<u8>, start: usize) -> Result<(), EncodeError> {
    let len = finish_message(out, start, &[]);
    if fits(len) {
        Ok(())
    } else {
        out.truncate(start);
        Err(EncodeError::TooLarge { len, limit: idnode_registry::model::wire::MAX_MESSAGE })
    }
}

/// Appends a resolution answer (TCP form) to `out`: `head` (RD set exactly
/// when `digest` is given), \[digest\] `bytes handle` `list<value>` with each
/// item of `values` copied verbatim (it must be one complete §4.1 value),
/// and the zero credential length. Returns the number of values. On error
/// `out` is left as it was.
pub fn encode_resolution_response<I>(
    out: &mut Vec<u8>,
    head: &ResponseHead,
    digest: Option<&RequestDigest>,
    handle: &[u8],
    values: I,
) -> Result<u32, EncodeError>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let start = out.len();
    head.write(out, digest);
    out.put_bytes(handle);
    let count_pos = placeholder_u32(out);
    let mut count = 0usize;
    for v in values {
        if count == MAX_VALUES {
            out.truncate(start);
            return Err(EncodeError::TooManyValues { count: count + 1, limit: MAX_VALUES });
        }
        out.extend_from_slice(v.as_ref());
        count += 1;
    }
    super::envelope::patch_u32(out, count_pos, count as u32);
    finish_checked(out, start)?;
    Ok(count as u32)
}

/// Like [`encode_resolution_response`] for an answer with every value of a
/// record: `value_list` is a complete `list<value>` (u32 count + values, as
/// `RecordBytes::value_list` returns) and is copied in one piece.
pub fn encode_resolution_response_list(
    out: &mut Vec<u8>,
    head: &ResponseHead,
    digest: Option<&RequestDigest>,
    handle: &[u8],
    value_list: &[u8],
) -> Result<(), EncodeError> {
    let start = out.len();
    head.write(out, digest);
    out.put_bytes(handle);
    out.extend_from_slice(value_list);
    finish_checked(out, start)
}

/// Appends an error answer (`head`'s response code; \[digest\] `bytes
/// message`) — the other answers of the hot path (100, 200, 301, 402...
/// except that a 402 challenge needs [`ChallengeResponse`]).
///
/// [`ChallengeResponse`]: super::ChallengeResponse
pub fn encode_error_response(
    out: &mut Vec<u8>,
    head: &ResponseHead,
    digest: Option<&RequestDigest>,
    message: &[u8],
) -> Result<(), EncodeError> {
    let start = out.len();
    head.write(out, digest);
    out.put_bytes(message);
    finish_checked(out, start)
}
