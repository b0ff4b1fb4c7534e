//! A whole message: envelope + header + body + credential section
//! (handle-protocol.md §1, §2). [`Frame`] is the validated, borrowed split
//! of a received buffer; [`Message`] the owned, fully decoded form. No I/O.

use idnode_registry::model::wire::{MAX_MESSAGE, Reader, WireError, WriteExt};

use super::body::{Body, ErrorResponse};
use super::credential::Credential;
use super::digest::{DigestAlg, RequestDigest};
use super::envelope::{ENVELOPE_LEN, Envelope, ProtocolVersion, patch_u32};
use super::error::DecodeError;
use super::header::{HEADER_LEN, Header, OpCode, OpFlags, Responder, ResponseCode};

/// A complete envelope+message buffer, checked and split without copying.
///
/// Checks: envelope present, `messageLength` ≤ 256 KiB and equal to the
/// bytes that follow (TCP framing and UDP reassembly are the caller's job),
/// not encrypted or compressed, header present, `bodyLength` fits, and the
/// credential section is either absent (idis-extensions.md §1.3) or a `u32`
/// length followed by exactly that many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub envelope: Envelope,
    pub header: Header,
    /// The 24-byte header and the body: what a request digest covers (§2).
    pub header_and_body: &'a [u8],
    /// The body alone (`bodyLength` bytes).
    pub body: &'a [u8],
    /// The credential bytes after the u32 length; `None` when the message
    /// ends after the body, `Some(&[])` for the usual zero length.
    pub credential: Option<&'a [u8]>,
}

impl<'a> Frame<'a> {
    /// Splits `buf` (envelope + exactly `messageLength` bytes).
    pub fn parse(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let envelope = Envelope::decode(buf)?;
        let msg = &buf[ENVELOPE_LEN..];
        let expected = envelope.message_length as usize;
        if msg.len() < expected {
            return Err(DecodeError::Incomplete { expected, received: msg.len() });
        }
        if msg.len() > expected {
            return Err(DecodeError::TrailingData { expected, extra: msg.len() - expected });
        }
        if envelope.is_encrypted() {
            return Err(DecodeError::Encrypted);
        }
        if envelope.is_compressed() {
            return Err(DecodeError::Compressed);
        }
        let Some(head) = msg.first_chunk::<HEADER_LEN>() else {
            return Err(DecodeError::Wire(WireError::Truncated {
                offset: 0,
                needed: HEADER_LEN,
                available: msg.len(),
            }));
        };
        let (header, body_length) = Header::decode(head);
        let available = msg.len() - HEADER_LEN;
        if body_length as usize > available {
            return Err(DecodeError::BodyLength { body_length, available });
        }
        let end = HEADER_LEN + body_length as usize;
        let after = &msg[end..];
        let credential = if after.is_empty() {
            None
        } else {
            let mut r = Reader::new(after);
            let c = r.bytes("credential")?;
            r.finish("credential section")?;
            Some(c)
        };
        Ok(Frame { envelope, header, header_and_body: &msg[..end], body: &msg[HEADER_LEN..end], credential })
    }

    /// Decodes the body and credential into an owned [`Message`].
    pub fn to_message(&self) -> Result<Message, DecodeError> {
        let body = Body::decode(&self.header, self.envelope.version, self.body)?;
        let credential = match self.credential {
            None | Some([]) => None,
            Some(c) => Some(Credential::from_raw(c.to_vec())),
        };
        Ok(Message { envelope: self.envelope, header: self.header, body, credential })
    }

    /// The digest of this request for its response: the algorithm follows
    /// the negotiated version (SHA-256 for ≥ 2.7, §2).
    pub fn response_digest(&self) -> RequestDigest {
        RequestDigest::compute(DigestAlg::for_version(self.envelope.negotiate()), self.header_and_body)
    }
}

/// An owned message. [`Message::encode`] produces the TCP form (envelope +
/// message); UDP senders split that with
/// [`udp_fragments`](super::udp_fragments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub envelope: Envelope,
    pub header: Header,
    pub body: Body,
    /// `None` = unsigned (the 4-byte zero length is still written, §2).
    pub credential: Option<Credential>,
}

impl Message {
    /// Decodes a complete envelope+message buffer.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        Frame::parse(buf)?.to_message()
    }

    /// The answer to a request with `request_envelope` and `request_header`:
    /// negotiated version, echoed ids, op code and flags
    /// ([`Envelope::response_to`], [`Header::response_to`]).
    pub fn response_to(
        request_envelope: &Envelope,
        request_header: &Header,
        rc: ResponseCode,
        responder: &Responder,
        body: Body,
    ) -> Self {
        Message {
            envelope: Envelope::response_to(request_envelope),
            header: Header::response_to(request_header, rc, responder),
            body,
            credential: None,
        }
    }

    /// An error answer with `message`, carrying `digest` when given.
    pub fn error_response(
        request_envelope: &Envelope,
        request_header: &Header,
        rc: ResponseCode,
        responder: &Responder,
        digest: Option<RequestDigest>,
        message: impl Into<Vec<u8>>,
    ) -> Self {
        let body = Body::Error(ErrorResponse { digest, message: message.into() });
        Self::response_to(request_envelope, request_header, rc, responder, body)
    }

    /// What CNRI answers to a request it could not decode (§12
    /// `tcp-truncated-body`, `tcp-garbage`): version 2.3 suggesting 2.11,
    /// request id -1, op 0, RC 4 PROTOCOL_ERROR, flags REC|CA|PO, serial
    /// 0xFFFF, body = `message` (e.g. the [`DecodeError`] text).
    pub fn undecodable_request_error(message: impl Into<Vec<u8>>, expiration: u32) -> Self {
        Message {
            envelope: Envelope {
                version: ProtocolVersion::COMPAT,
                flags: 0,
                suggested: ProtocolVersion::OURS,
                session_id: 0,
                request_id: -1,
                sequence_number: 0,
                message_length: 0,
            },
            header: Header {
                op_code: OpCode::RESERVED,
                response_code: ResponseCode::PROTOCOL_ERROR,
                op_flags: OpFlags::REC | OpFlags::CA | OpFlags::PO,
                site_info_serial: 0xFFFF,
                recursion_count: 0,
                expiration_time: expiration,
            },
            body: Body::Error(ErrorResponse { digest: None, message: message.into() }),
            credential: None,
        }
    }

    /// The op flags [`encode`](Self::encode) writes: the header's, with RD
    /// set exactly when a response body carries its optional digest (the
    /// decoder reads a digest only when RD is set).
    pub fn effective_op_flags(&self) -> OpFlags {
        match self.body.rd_flag() {
            Some(on) if self.header.is_response() => self.header.op_flags.with(OpFlags::RD, on),
            _ => self.header.op_flags,
        }
    }

    /// The TCP form: envelope + header + body + credential section, with
    /// `messageLength` and `bodyLength` computed.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.encode_into(&mut out);
        out
    }

    /// Appends the TCP form to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        write_head(out, &self.envelope, &self.header, self.effective_op_flags());
        self.body.encode(out);
        let cred = self.credential.as_ref().map(Credential::raw).unwrap_or(&[]);
        finish_message(out, start, cred);
    }
}

/// Appends the envelope and header with zero lengths (patched by
/// [`finish_message`]).
pub(crate) fn write_head(out: &mut Vec<u8>, env: &Envelope, header: &Header, flags: OpFlags) {
    let mut env = *env;
    env.message_length = 0;
    env.encode(out);
    header.encode_with(flags, 0, out);
}

/// Appends the credential section and patches `bodyLength` and
/// `messageLength` of the message that starts at `start`; returns the
/// message length (after the envelope).
pub(crate) fn finish_message(out: &mut Vec<u8>, start: usize, credential: &[u8]) -> usize {
    let header_start = start + ENVELOPE_LEN;
    let body_len = out.len() - header_start - HEADER_LEN;
    out.put_bytes(credential);
    let message_len = out.len() - header_start;
    patch_u32(out, header_start + 20, body_len as u32);
    patch_u32(out, start + 16, message_len as u32);
    message_len
}

/// True when an encoded message fits the limit CNRI-derived clients accept.
pub(crate) fn fits(message_len: usize) -> bool {
    message_len <= MAX_MESSAGE
}
