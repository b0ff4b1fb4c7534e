//! Serving mirrors (OC 1000 next txn id, 1001 retrieve txn log, 1002 dump
//! handles): authenticated like every admin operation (challenge, §6.1),
//! then allowed only to the identities of `EngineConfig::replicas`. The
//! bodies and the state shipped with each change are
//! `idnode_registry::replica`'s. A 1001 request also moves the primary's
//! change-log consumer `mirror:<index>:<handle>` to the position the
//! mirror asks from, so retention never prunes what a mirror still needs.
//!
//! On a mirror (`EngineConfig::read_only`), write operations are refused
//! with RC 7 (server is a backup) and a message naming the primary.

use idnode_registry::replica;

use super::admin::Reply;
use super::{Engine, Outcome};
use crate::auth::Identity;
use crate::wire::{Body, Message, OpCode, ResponseCode};

/// Op codes that write (refused on a read-only mirror).
pub(super) fn is_write(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::CREATE_HANDLE
            | OpCode::DELETE_HANDLE
            | OpCode::ADD_VALUE
            | OpCode::REMOVE_VALUE
            | OpCode::MODIFY_VALUE
            | OpCode::HOME_NA
            | OpCode::UNHOME_NA
    )
}

/// The replication op codes.
pub(super) fn is_replication(op: OpCode) -> bool {
    matches!(op, OpCode::GET_NEXT_TXN_ID | OpCode::RETRIEVE_TXN_LOG | OpCode::DUMP_HANDLES)
}

/// The primary-side consumer name of a mirror identity.
pub fn consumer_name(identity: &Identity) -> String {
    format!("mirror:{}:{}", identity.index, identity.handle)
}

impl Engine {
    /// Runs an authenticated replication request.
    pub(super) fn execute_replication(
        &self,
        reply: &Reply<'_>,
        original: &Message,
        identity: &Identity,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let fail =
            |out: &mut Vec<u8>, rc: ResponseCode, msg: &str| self.reply_error(reply, original, rc, msg, now, out);
        if !self
            .cfg
            .replicas
            .iter()
            .any(|r| r.index == identity.index && r.handle.eq_ignore_ascii_case(&identity.handle))
        {
            return fail(
                out,
                ResponseCode::INSUFFICIENT_PERMISSIONS,
                "Identity is not a configured mirror of this node",
            );
        }
        let Body::Replication(raw) = &original.body else {
            return fail(out, ResponseCode::PROTOCOL_ERROR, "Not a replication request");
        };
        let store = self.store.as_ref();
        let answer = match original.header.op_code {
            OpCode::GET_NEXT_TXN_ID => Ok(replica::next_txn_id(store)),
            OpCode::RETRIEVE_TXN_LOG => {
                let (after, limit) = match replica::decode_log_request(raw) {
                    Ok(x) => x,
                    Err(e) => return fail(out, ResponseCode::PROTOCOL_ERROR, &e.to_string()),
                };
                replica::mark_mirror(store, &consumer_name(identity), after.min(store.durable_seq()), now)
                    .and_then(|()| replica::log_page(store, after, limit))
            }
            OpCode::DUMP_HANDLES => {
                let (after_key, limit) = match replica::decode_dump_request(raw) {
                    Ok(x) => x,
                    Err(e) => return fail(out, ResponseCode::PROTOCOL_ERROR, &e.to_string()),
                };
                replica::dump_page(store, &after_key, limit)
            }
            _ => return fail(out, ResponseCode::OPERATION_NOT_SUPPORTED, "Operation not supported"),
        };
        match answer {
            Ok(body) => self.reply(reply, original, ResponseCode::SUCCESS, Body::Replication(body), now, out),
            Err(e) => fail(out, ResponseCode::ERROR, &e.to_string()),
        }
    }
}
