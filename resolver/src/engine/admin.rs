//! Administration over the binary protocol: the answer to a challenge
//! (OC_RESPONSE_TO_CHALLENGE, handle-protocol.md §6.1) is verified against
//! the identity's HS_SECKEY / HS_PUBKEY, the identity is checked against the
//! HS_ADMIN values of the target or its prefix handles (`auth::authz`), and
//! the original request — kept with the challenge — is executed: create,
//! delete, add / modify / remove values, or a resolution of non-public
//! values. Writes are durable when answered (the store's group commit);
//! the TCP door runs this path off the async workers.
//!
//! The answer carries the original op code and the challenge answer's
//! request id (§6.1 step 4).

use idnode_registry::model::Role;
use idnode_registry::model::Value;
use idnode_registry::model::value::type_matches;
use idnode_registry::service::Actor;
use idnode_registry::store::{RecordOp, StoreError, WriteCtx};

use super::challenge::TakeError;
use super::{Engine, Outcome};
use crate::auth::authz::{Action, RecordSource, StoreRecords, authorize, is_listed_admin};
use crate::auth::{AuthType, Identity, authenticate_answer};
use crate::wire::{
    Body, CreateResponse, Envelope, Frame, HandleBody, HandleValues, Message, OpCode, OpFlags, RemoveValues,
    RequestDigest, ResolutionResponse, ResponseCode, SuccessResponse,
};

/// What the original request asks, once authenticated.
enum Job {
    Write { target: Vec<u8>, op: RecordOp, action: Action, create: bool },
    Read { handle: Vec<u8>, indexes: Vec<u32>, types: Vec<Vec<u8>> },
}

fn rc_of(e: &StoreError) -> ResponseCode {
    match e {
        StoreError::AlreadyExists => ResponseCode::HANDLE_ALREADY_EXISTS,
        StoreError::NotFound => ResponseCode::HANDLE_NOT_FOUND,
        StoreError::ValueExists(_) => ResponseCode::VALUE_ALREADY_EXISTS,
        StoreError::ValueNotFound(_) => ResponseCode::VALUES_NOT_FOUND,
        StoreError::Unavailable(_) | StoreError::Conflict { .. } => ResponseCode::SERVER_TOO_BUSY,
        e if e.is_client_error() => ResponseCode::INVALID_VALUE,
        _ => ResponseCode::ERROR,
    }
}

/// How to answer an authenticated request: the envelope the answer copies
/// (request id, version), the session it belongs to, and the request
/// digest when RD was set.
pub(super) struct Reply<'a> {
    pub env: &'a Envelope,
    pub session_id: i32,
    pub digest: Option<RequestDigest>,
}

impl Engine {
    /// OC 200: verify the answer to an outstanding challenge and run the
    /// request it authenticates.
    pub(super) fn challenge_answer(&self, frame: &Frame<'_>, now: u64, out: &mut Vec<u8>) -> Outcome {
        let answer = match frame.to_message() {
            Ok(Message { body: Body::ChallengeAnswer(a), .. }) => a,
            Ok(_) => return self.error(frame, ResponseCode::PROTOCOL_ERROR, b"Not a challenge answer", now, out),
            Err(e) => return self.error(frame, ResponseCode::PROTOCOL_ERROR, e.to_string().as_bytes(), now, out),
        };
        let pending = match self.challenges.take_checked(frame.envelope.session_id, now) {
            Ok(p) => p,
            Err(TakeError::Expired) => {
                return self.error(
                    frame,
                    ResponseCode::AUTHEN_TIMEOUT,
                    b"No outstanding challenge for this session (expired or never issued)",
                    now,
                    out,
                );
            }
            Err(TakeError::Answered) => {
                return self.error(
                    frame,
                    ResponseCode::SESSION_MESSAGE_REJECTED,
                    b"This challenge was already answered",
                    now,
                    out,
                );
            }
        };
        let original = match Message::decode(&pending.request) {
            Ok(m) => m,
            Err(e) => return self.error(frame, ResponseCode::PROTOCOL_ERROR, e.to_string().as_bytes(), now, out),
        };
        let digest = original.header.op_flags.contains(OpFlags::RD).then_some(pending.digest);
        let reply = Reply { env: &frame.envelope, session_id: frame.envelope.session_id, digest };
        let (Some(auth_type), Ok(handle)) =
            (AuthType::parse(&answer.auth_type), std::str::from_utf8(&answer.identity_handle))
        else {
            return self.reply_error(
                &reply,
                &original,
                ResponseCode::AUTHENTICATION_FAILED,
                "Unknown authentication type or identity",
                now,
                out,
            );
        };
        let identity = Identity::new(answer.identity_index, handle);
        let src = StoreRecords(self.store.as_ref());
        match authenticate_answer(
            &src,
            &identity,
            auth_type,
            &pending.nonce,
            pending.digest.as_bytes(),
            &answer.signed_response,
        ) {
            Ok(Some(_)) => {}
            Ok(None) => {
                return self.reply_error(
                    &reply,
                    &original,
                    ResponseCode::AUTHENTICATION_FAILED,
                    "Authentication failed",
                    now,
                    out,
                );
            }
            Err(e) => {
                return self.reply_error(
                    &reply,
                    &original,
                    ResponseCode::AUTHENTICATION_FAILED,
                    &format!("Authentication failed: {e}"),
                    now,
                    out,
                );
            }
        }
        // Inside a session, the session is now authenticated as this identity.
        if let Some(sid) = pending.session {
            self.sessions.authenticate(sid, identity.clone());
            // The original request's counter is spent (its MAC was checked
            // when it arrived).
            if let Some(p) = original.credential.as_ref().and_then(|c| c.parts()) {
                let _ = self.sessions.admit_counter(sid, p.session_counter);
            }
        }
        self.execute(&reply, original, &identity, now, out)
    }

    /// An error answer shaped as the answer to `original`.
    pub(super) fn reply_error(
        &self,
        reply: &Reply<'_>,
        original: &Message,
        rc: ResponseCode,
        msg: &str,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Outcome {
        self.reply(
            reply,
            original,
            rc,
            Body::Error(crate::wire::ErrorResponse { digest: reply.digest, message: msg.as_bytes().to_vec() }),
            now,
            out,
        )
    }

    /// One answer message to `original`.
    pub(super) fn reply(
        &self,
        reply: &Reply<'_>,
        original: &Message,
        rc: ResponseCode,
        body: Body,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let mut m = Message::response_to(reply.env, &original.header, rc, &self.responder(now), body);
        m.envelope.session_id = reply.session_id;
        m.encode_into(out);
        Outcome::new(original.header.op_code, rc)
    }

    /// Runs an authenticated request (`identity` proved its key) and
    /// appends its answer.
    pub(super) fn execute(
        &self,
        reply: &Reply<'_>,
        original: Message,
        identity: &Identity,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let digest = reply.digest;
        let fail =
            |out: &mut Vec<u8>, rc: ResponseCode, msg: &str| self.reply_error(reply, &original, rc, msg, now, out);
        let ok = |out: &mut Vec<u8>, body: Body| self.reply(reply, &original, ResponseCode::SUCCESS, body, now, out);
        let src = StoreRecords(self.store.as_ref());
        let policy = self.policy();
        match &original.body {
            Body::ListHandles(_) | Body::HomeNa(_) | Body::UnhomeNa(_) | Body::ListHomedNas(_) => {
                return self.execute_listing(reply, &original, identity, now, out);
            }
            Body::Replication(_) => return self.execute_replication(reply, &original, identity, now, out),
            _ => {}
        }
        let overwrite = original.header.op_flags.contains(OpFlags::OVRW);
        let key = |h: &[u8]| self.store.canonical_key(h);
        let is_admin = |vs: &[Value]| vs.iter().any(|v| v.value_type.eq_ignore_ascii_case(b"HS_ADMIN"));
        let job = match original.body.clone() {
            Body::CreateHandle(HandleValues { handle, values }) => Job::Write {
                op: RecordOp::Create { key: key(&handle), values, overwrite },
                target: handle,
                action: Action::CreateHandle,
                create: true,
            },
            Body::DeleteHandle(HandleBody { handle }) => Job::Write {
                op: RecordOp::Delete { key: key(&handle) },
                target: handle,
                action: Action::DeleteHandle,
                create: false,
            },
            Body::AddValue(HandleValues { handle, values }) => Job::Write {
                action: Action::AddValue { admin: is_admin(&values) },
                op: RecordOp::AddValues { key: key(&handle), values, overwrite },
                target: handle,
                create: false,
            },
            Body::ModifyValue(HandleValues { handle, values }) => Job::Write {
                action: Action::ModifyValue { admin: is_admin(&values) },
                op: RecordOp::ModifyValues { key: key(&handle), values },
                target: handle,
                create: false,
            },
            Body::RemoveValue(RemoveValues { handle, indexes }) => Job::Write {
                // Removing an HS_ADMIN needs REMOVE_ADMIN: decided below
                // against the current record.
                action: Action::RemoveValue { admin: false },
                op: RecordOp::RemoveValues { key: key(&handle), indexes },
                target: handle,
                create: false,
            },
            Body::Resolution(r) => Job::Read { handle: r.handle, indexes: r.indexes, types: r.types },
            _ => {
                return fail(out, ResponseCode::OPERATION_NOT_SUPPORTED, "Operation not supported over this protocol");
            }
        };

        match job {
            Job::Read { handle, indexes, types } => {
                let Ok(h) = std::str::from_utf8(&handle) else {
                    return fail(out, ResponseCode::INVALID_HANDLE, "Invalid handle");
                };
                let current = match src.values(h) {
                    Ok(Some(v)) => v,
                    Ok(None) => return fail(out, ResponseCode::HANDLE_NOT_FOUND, ""),
                    Err(e) => return fail(out, ResponseCode::ERROR, &e.to_string()),
                };
                match authorize(&src, identity, h, Some(&current), Action::ReadValue, &policy) {
                    Ok(true) => {}
                    Ok(false) => {
                        return fail(out, ResponseCode::INSUFFICIENT_PERMISSIONS, "Not an admin with READ_VALUE");
                    }
                    Err(e) => return fail(out, ResponseCode::ERROR, &e.to_string()),
                }
                let unfiltered = indexes.is_empty() && types.is_empty();
                let values: Vec<Value> = current
                    .into_iter()
                    .filter(|v| {
                        unfiltered || indexes.contains(&v.index) || types.iter().any(|t| type_matches(t, &v.value_type))
                    })
                    .collect();
                if values.is_empty() {
                    return fail(out, ResponseCode::VALUES_NOT_FOUND, "");
                }
                ok(out, Body::ResolutionResponse(ResolutionResponse { digest, handle, values }))
            }
            Job::Write { target, op, mut action, create } => {
                let Ok(t) = std::str::from_utf8(&target) else {
                    return fail(out, ResponseCode::INVALID_HANDLE, "Invalid handle");
                };
                let current = match src.values(t) {
                    Ok(v) => v,
                    Err(e) => return fail(out, ResponseCode::ERROR, &e.to_string()),
                };
                if let (RecordOp::RemoveValues { indexes, .. }, Some(cur)) = (&op, &current) {
                    let removes_admin = cur
                        .iter()
                        .any(|v| indexes.contains(&v.index) && v.value_type.eq_ignore_ascii_case(b"HS_ADMIN"));
                    action = Action::RemoveValue { admin: removes_admin };
                }
                match authorize(&src, identity, t, current.as_deref(), action, &policy) {
                    Ok(true) => {}
                    Ok(false) => {
                        return match is_listed_admin(&src, identity, t, current.as_deref(), &policy) {
                            Ok(true) => fail(
                                out,
                                ResponseCode::INSUFFICIENT_PERMISSIONS,
                                "Administrator lacks the permission for this operation",
                            ),
                            _ => fail(out, ResponseCode::INVALID_ADMIN, "Identity is not an administrator here"),
                        };
                    }
                    Err(e) => return fail(out, ResponseCode::ERROR, &e.to_string()),
                }
                // The registry service: quotas (the daemon's one ledger),
                // the store write with its change-log entry, the audit entry.
                let who = format!("{}:{}", identity.index, identity.handle);
                let actor = Actor::new(who.clone(), Role::EnterpriseUser, None, "handle");
                let ctx = WriteCtx::new(now, format!("handle:{who}"));
                let result = self.registrar.write_record(&actor, op, &ctx);
                match result {
                    Ok(_) if create => ok(out, Body::CreateResponse(CreateResponse { digest, handle: Some(target) })),
                    Ok(_) => ok(out, Body::Success(SuccessResponse { digest })),
                    Err(e) => match e.as_store() {
                        Some(se) => fail(out, rc_of(se), &se.to_string()),
                        None => fail(out, ResponseCode(e.idis_rc()), &e.to_string()),
                    },
                }
            }
        }
    }
}

/// Op codes whose requests go through a challenge first.
pub(super) fn needs_authentication(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::CREATE_HANDLE
            | OpCode::DELETE_HANDLE
            | OpCode::ADD_VALUE
            | OpCode::REMOVE_VALUE
            | OpCode::MODIFY_VALUE
            | OpCode::LIST_HANDLES
            | OpCode::HOME_NA
            | OpCode::UNHOME_NA
            | OpCode::LIST_HOMED_NAS
    ) || super::replication::is_replication(op)
}
