//! Requests and answers for the generator, through idnode's own codec.

use idnode_resolver::wire::{Body, Envelope, Header, Message, OpCode, OpFlags, ProtocolVersion, ResolutionRequest};

/// Encodes a resolution request for `handle` into `out` (cleared first).
pub fn resolution(out: &mut Vec<u8>, request_id: u32, handle: &[u8], public_only: bool, recursive: bool) {
    out.clear();
    let mut flags = OpFlags::CA;
    if recursive {
        flags |= OpFlags::REC;
    }
    if public_only {
        flags |= OpFlags::PO;
    }
    let msg = Message {
        envelope: Envelope::request(ProtocolVersion::OURS, request_id as i32),
        header: Header::request(OpCode::RESOLUTION, flags, 0x6b00_0000),
        body: Body::Resolution(ResolutionRequest {
            handle: handle.to_vec(),
            indexes: Vec::new(),
            types: Vec::new(),
            auth_token: None,
        }),
        credential: None,
    };
    msg.encode_into(out);
}

/// Request id, sequence number and response code of an answer datagram
/// (response code only in the first datagram; 0 for later ones).
pub fn parse_answer(d: &[u8]) -> Option<(u32, u32, u32)> {
    if d.len() < 20 {
        return None;
    }
    let word = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    let seq = word(12);
    let rc = if seq == 0 && d.len() >= 28 { word(24) } else { 0 };
    Some((word(8), seq, rc))
}
