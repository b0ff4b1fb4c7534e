//! List handles (OC 105), home / unhome a prefix (OC 300 / 301) and list
//! homed prefixes (OC 302) — handle-protocol.md §3 — plus the checks made
//! *before* a challenge for every admin request: a request that must fail
//! whoever authenticates (prefix not homed here, handle missing or already
//! there, no HS_ADMIN anywhere granting the permission, a stream operation
//! over UDP) is answered at once with its own response code.
//!
//! List answers are streamed: several complete messages of at most
//! [`LIST_CHUNK`] handles, all but the last with the CN flag (stored,
//! upper-cased names, as the reference server returns them).

use idnode_registry::ident::{GLOBAL_NA, prefix_handle, prefix_of};
use idnode_registry::model::Value;
use idnode_registry::store::WriteCtx;

use super::admin::Reply;
use super::{Engine, NOT_HOMED_MESSAGE, Outcome, Transport};
use crate::auth::Identity;
use crate::auth::authz::{Action, RecordSource, StoreRecords, anyone_may, authorize};
use crate::wire::{Body, HandleListResponse, Message, OpFlags, ResponseCode, SuccessResponse};

/// Handles per streamed list message.
pub const LIST_CHUNK: usize = 50;
/// Keys read from the store per scan page.
const SCAN_PAGE: usize = 1000;

/// The prefix a list / home / unhome body names: `0.NA/P` or a bare `P`.
fn named_prefix(handle: &[u8]) -> &[u8] {
    match handle.iter().position(|&c| c == b'/') {
        Some(i) if handle[..i].eq_ignore_ascii_case(GLOBAL_NA.as_bytes()) => &handle[i + 1..],
        _ => handle,
    }
}

impl Engine {
    /// Refusals the request alone decides, or `None` to go on with
    /// authentication.
    pub(super) fn precheck(&self, msg: &Message, transport: Transport) -> Option<(ResponseCode, &'static [u8])> {
        let src = StoreRecords(self.store.as_ref());
        let policy = self.policy();
        let overwrite = msg.header.op_flags.contains(OpFlags::OVRW);
        let (target, action, must_exist): (&[u8], Action, Option<bool>) = match &msg.body {
            Body::CreateHandle(b) => (&b.handle, Action::CreateHandle, (!overwrite).then_some(false)),
            Body::DeleteHandle(b) => (&b.handle, Action::DeleteHandle, Some(true)),
            Body::AddValue(b) => (&b.handle, Action::AddValue { admin: false }, Some(true)),
            Body::ModifyValue(b) => (&b.handle, Action::ModifyValue { admin: false }, Some(true)),
            Body::RemoveValue(b) => (&b.handle, Action::RemoveValue { admin: false }, Some(true)),
            Body::ListHandles(b) => {
                if transport == Transport::Udp {
                    return Some((ResponseCode::PROTOCOL_ERROR, b"Listing handles needs a stream transport (TCP)"));
                }
                let prefix = named_prefix(&b.handle);
                if prefix.is_empty() || self.store.longest_homed(prefix).is_none() {
                    return Some((ResponseCode::SERVER_NOT_RESP, NOT_HOMED_MESSAGE));
                }
                let target = prefix_handle(&String::from_utf8_lossy(prefix));
                let values = src.values(&target).ok().flatten();
                return match anyone_may(&src, &target, values.as_deref(), Action::ListHandles, &policy) {
                    Ok(true) => None,
                    Ok(false) => Some((
                        ResponseCode::INSUFFICIENT_PERMISSIONS,
                        b"No administrator of this prefix may list its handles",
                    )),
                    Err(_) => Some((ResponseCode::ERROR, b"Internal error")),
                };
            }
            Body::HomeNa(_) | Body::UnhomeNa(_) | Body::ListHomedNas(_) => {
                if self.cfg.server_admins.is_empty() {
                    return Some((
                        ResponseCode::INSUFFICIENT_PERMISSIONS,
                        b"Homing prefixes needs a server administrator ([handle] admins)",
                    ));
                }
                if let Body::UnhomeNa(b) = &msg.body
                    && !self.store.is_homed(&named_prefix(&b.handle).to_ascii_uppercase())
                    && !self.store.is_homed(named_prefix(&b.handle))
                {
                    return Some((ResponseCode::SERVER_NOT_RESP, NOT_HOMED_MESSAGE));
                }
                return None;
            }
            _ => return None,
        };
        let Ok(target) = std::str::from_utf8(target) else {
            return Some((ResponseCode::INVALID_HANDLE, b"Invalid handle"));
        };
        if target.is_empty() {
            return Some((ResponseCode::INVALID_HANDLE, b"Invalid handle"));
        }
        let prefix = prefix_of(target.as_bytes());
        let is_na = prefix.eq_ignore_ascii_case(GLOBAL_NA.as_bytes()) || !target.contains('/');
        if !is_na && self.store.longest_homed(prefix).is_none() {
            return Some((ResponseCode::SERVER_NOT_RESP, NOT_HOMED_MESSAGE));
        }
        let current: Option<Vec<Value>> = match src.values(target) {
            Ok(v) => v,
            Err(_) => return Some((ResponseCode::ERROR, b"Internal error")),
        };
        match (must_exist, current.is_some()) {
            (Some(true), false) => return Some((ResponseCode::HANDLE_NOT_FOUND, b"Handle not found")),
            (Some(false), true) => return Some((ResponseCode::HANDLE_ALREADY_EXISTS, b"Handle already exists")),
            _ => {}
        }
        // For value changes either the plain or the admin bit may apply.
        let alternatives: &[Action] = match action {
            Action::AddValue { .. } => &[Action::AddValue { admin: false }, Action::AddValue { admin: true }],
            Action::ModifyValue { .. } => &[Action::ModifyValue { admin: false }, Action::ModifyValue { admin: true }],
            Action::RemoveValue { .. } => &[Action::RemoveValue { admin: false }, Action::RemoveValue { admin: true }],
            _ => std::slice::from_ref(&action),
        };
        let mut possible = false;
        for a in alternatives {
            match anyone_may(&src, target, current.as_deref(), *a, &policy) {
                Ok(true) => possible = true,
                Ok(false) => {}
                Err(_) => return Some((ResponseCode::ERROR, b"Internal error")),
            }
        }
        if !possible {
            return Some((ResponseCode::INSUFFICIENT_PERMISSIONS, b"No administrator may do this here"));
        }
        None
    }

    fn is_server_admin(&self, identity: &Identity) -> bool {
        let src = StoreRecords(self.store.as_ref());
        self.cfg.server_admins.iter().any(|a| a.index == identity.index && src.same_handle(&a.handle, &identity.handle))
    }

    /// OC 105 / 300 / 301 / 302 for an authenticated identity.
    pub(super) fn execute_listing(
        &self,
        reply: &Reply<'_>,
        original: &Message,
        identity: &Identity,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let fail =
            |out: &mut Vec<u8>, rc: ResponseCode, msg: &str| self.reply_error(reply, original, rc, msg, now, out);
        let src = StoreRecords(self.store.as_ref());
        let not_admin = "Identity is not an administrator with that permission";
        match &original.body {
            Body::ListHandles(b) => {
                let prefix = String::from_utf8_lossy(named_prefix(&b.handle)).into_owned();
                let target = prefix_handle(&prefix);
                let values = match src.values(&target) {
                    Ok(v) => v,
                    Err(e) => return fail(out, ResponseCode::ERROR, &e.to_string()),
                };
                match authorize(&src, identity, &target, values.as_deref(), Action::ListHandles, &self.policy()) {
                    Ok(true) => {}
                    Ok(false) => return fail(out, ResponseCode::INVALID_ADMIN, not_admin),
                    Err(e) => return fail(out, ResponseCode::ERROR, &e.to_string()),
                }
                let mut handles = Vec::new();
                let mut after: Option<Vec<u8>> = None;
                loop {
                    let page = match self.store.scan_keys(Some(&prefix), after.as_deref(), SCAN_PAGE) {
                        Ok(p) => p,
                        Err(e) => return fail(out, ResponseCode::ERROR, &e.to_string()),
                    };
                    let full = page.len() == SCAN_PAGE;
                    after = page.last().cloned();
                    handles.extend(page);
                    if !full {
                        break;
                    }
                }
                self.stream_list(reply, original, handles, now, out)
            }
            Body::ListHomedNas(_) => {
                if !self.is_server_admin(identity) {
                    return fail(out, ResponseCode::INVALID_ADMIN, not_admin);
                }
                let handles =
                    self.store.homed_prefixes().iter().map(|p| prefix_handle(&p.prefix).into_bytes()).collect();
                self.stream_list(reply, original, handles, now, out)
            }
            Body::HomeNa(b) | Body::UnhomeNa(b) => {
                if !self.is_server_admin(identity) {
                    return fail(out, ResponseCode::INVALID_ADMIN, not_admin);
                }
                let Ok(prefix) = std::str::from_utf8(named_prefix(&b.handle)) else {
                    return fail(out, ResponseCode::INVALID_HANDLE, "Invalid prefix");
                };
                if prefix.is_empty() || idnode_registry::ident::Identifier::parse(&format!("{prefix}/x")).is_err() {
                    return fail(out, ResponseCode::INVALID_HANDLE, "Invalid prefix");
                }
                let ctx = WriteCtx::new(now, format!("handle:{}:{}", identity.index, identity.handle));
                let home = matches!(original.body, Body::HomeNa(_));
                let result = if home {
                    self.store.home_prefix(prefix, &ctx).map(|_| ())
                } else {
                    self.store.unhome_prefix(prefix, &ctx)
                };
                match result {
                    Ok(()) => self.reply(
                        reply,
                        original,
                        ResponseCode::SUCCESS,
                        Body::Success(SuccessResponse { digest: reply.digest }),
                        now,
                        out,
                    ),
                    Err(idnode_registry::store::StoreError::EntityNotFound { .. }) => {
                        fail(out, ResponseCode::SERVER_NOT_RESP, "That prefix doesn't live here")
                    }
                    Err(e) => fail(out, ResponseCode::ERROR, &e.to_string()),
                }
            }
            _ => fail(out, ResponseCode::OPERATION_NOT_SUPPORTED, "Operation not supported"),
        }
    }

    /// Streams `handles` as list messages, CN set on all but the last.
    fn stream_list(
        &self,
        reply: &Reply<'_>,
        original: &Message,
        handles: Vec<Vec<u8>>,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let chunks: Vec<&[Vec<u8>]> =
            if handles.is_empty() { vec![&handles[..]] } else { handles.chunks(LIST_CHUNK).collect() };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let body = Body::HandleList(HandleListResponse { digest: reply.digest, handles: chunk.to_vec() });
            let mut m =
                Message::response_to(reply.env, &original.header, ResponseCode::SUCCESS, &self.responder(now), body);
            m.envelope.session_id = reply.session_id;
            if i < last {
                m.header.op_flags |= OpFlags::CN;
            } else {
                m.header.op_flags = m.header.op_flags.with(OpFlags::CN, false);
            }
            m.encode_into(out);
        }
        Outcome::new(original.header.op_code, ResponseCode::SUCCESS)
    }
}
