//! Signed answers (handle-protocol.md §6.2): when a request sets CT, every
//! message of its answer carries a credential — an `HS_MAC` with the session
//! key when the answer belongs to a live session (except session setup and
//! key exchange, whose answers establish that key), otherwise an `HS_SIGNED`
//! signature with the server key whose public half HS_SITE publishes. Works
//! on the encoded answer bytes, so every answer path is covered the same way.

use idnode_registry::model::wire::WriteExt;

use super::Engine;
use crate::auth::sign::{MacHash, session_mac, signature_alg_id};
use crate::wire::{
    Credential, CredentialParts, ENVELOPE_LEN, Envelope, HEADER_LEN, OpCode, credential_type, signed_input,
};

impl Engine {
    /// Re-encodes every message in `out[start..]` with a credential. A
    /// message that cannot be signed (no server key, an unsupported peer
    /// version) is left unsigned, as the reference server does.
    pub(super) fn certify(&self, out: &mut Vec<u8>, start: usize, now: u64) {
        let tail = out.split_off(start);
        let mut pos = 0;
        while pos + ENVELOPE_LEN + HEADER_LEN <= tail.len() {
            let Ok(env) = Envelope::decode(&tail[pos..]) else { break };
            let end = pos + ENVELOPE_LEN + env.message_length as usize;
            if end > tail.len() {
                break;
            }
            let msg = &tail[pos + ENVELOPE_LEN..end];
            let op = OpCode(u32::from_be_bytes([msg[0], msg[1], msg[2], msg[3]]));
            let body_len = u32::from_be_bytes([msg[20], msg[21], msg[22], msg[23]]) as usize;
            let hb_end = (HEADER_LEN + body_len).min(msg.len());
            let header_and_body = &msg[..hb_end];
            match self.credential_for(&env, op, header_and_body, now) {
                Some(cred) => {
                    let mut env = env;
                    env.message_length = (hb_end + 4 + cred.raw().len()) as u32;
                    env.encode(out);
                    out.extend_from_slice(header_and_body);
                    out.put_bytes(cred.raw());
                }
                None => out.extend_from_slice(&tail[pos..end]),
            }
            pos = end;
        }
        out.extend_from_slice(&tail[pos..]);
    }

    fn credential_for(&self, env: &Envelope, op: OpCode, header_and_body: &[u8], now: u64) -> Option<Credential> {
        let in_session = op != OpCode::SESSION_SETUP && op != OpCode::SESSION_EXCHANGEKEY;
        if in_session && let Some(s) = self.sessions.get(env.session_id, now) {
            let counter = self.sessions.next_out_counter(s.id)?;
            let mut input = Vec::with_capacity(header_and_body.len() + 16);
            if !signed_input(env, counter, header_and_body, &mut input) {
                return None;
            }
            let mac = session_mac(MacHash::HmacSha256, &s.key, &input);
            return Some(Credential::from_parts(CredentialParts::new(
                credential_type::HS_MAC,
                counter,
                MacHash::HmacSha256.name(),
                &mac,
            )));
        }
        let signer = self.cfg.signer.as_ref()?;
        let mut input = Vec::with_capacity(header_and_body.len() + 16);
        if !signed_input(env, 0, header_and_body, &mut input) {
            return None;
        }
        let hash = signer.hash_for(env.version);
        match signer.sign(hash, &input) {
            Ok(sig) => Some(Credential::from_parts(CredentialParts::new(
                credential_type::HS_SIGNED,
                0,
                signature_alg_id(hash),
                &sig,
            ))),
            Err(e) => {
                tracing::warn!(error = %e, "signing a certified answer failed; sending it unsigned");
                None
            }
        }
    }
}
