//! The error responses each door shares between its operations, as
//! `utoipa::IntoResponses` sets named in the `responses(...)` lists of the
//! `paths_*` operations (an operation's own responses are tuples beside them).
#![allow(dead_code)]

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::{RefOr, Response};

use super::schemas::{AdminError, HandleErrorBody};

/// The failures every admin operation can answer.
#[derive(IntoResponses)]
pub(super) enum AdminErrors {
    #[response(
        status = 400,
        description = "Invalid request (`invalid`, `limit`): `field` names what is wrong.",
        content_type = "application/json"
    )]
    Invalid(AdminError),
    #[response(
        status = 401,
        description = "No or wrong credentials (`unauthenticated`).",
        content_type = "application/json",
        headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"idnode-admin\"` and `Basic realm=\"idnode-admin\"`."))
    )]
    Unauthenticated(AdminError),
    #[response(
        status = 403,
        description = "Plain HTTP from a non-loopback client (`insecure_channel`): use HTTPS on the same port.",
        content_type = "application/json"
    )]
    InsecureChannel(AdminError),
    #[response(
        status = 429,
        description = "Too many failed authentications from the client's network (`rate_limited`).",
        content_type = "application/json",
        headers(("Retry-After" = u64))
    )]
    RateLimited(AdminError),
    #[response(
        status = 500,
        description = "The node failed (`internal`); details are in its log.",
        content_type = "application/json"
    )]
    Internal(AdminError),
}

/// An admin operation naming a record, prefix, enterprise, template or account.
#[derive(IntoResponses)]
pub(super) enum AdminNotFound {
    #[response(
        status = 404,
        description = "No such record, prefix, enterprise, template or account (`not_found`).",
        content_type = "application/json"
    )]
    NotFound(AdminError),
}

/// An admin operation that creates or changes state.
#[derive(IntoResponses)]
pub(super) enum AdminConflict {
    #[response(
        status = 409,
        description = "Exists already (`already_exists`), illegal state change or refused by a rule (`rejected`, `illegal_state`).",
        content_type = "application/json"
    )]
    Conflict(AdminError),
}

/// The failures every Handle REST operation can answer (CNRI: the status
/// carries the failure, the body its `responseCode`).
#[derive(IntoResponses)]
pub(super) enum RestErrors {
    #[response(status = 400, description = "A Handle REST failure.", content_type = "application/json")]
    BadRequest(HandleErrorBody),
    #[response(
        status = 401,
        description = "Authentication needed or failed (responseCode 402/403); `WWW-Authenticate` offers Basic and a Handle session challenge.",
        content_type = "application/json"
    )]
    Unauthorized(HandleErrorBody),
    #[response(status = 403, description = "A Handle REST failure.", content_type = "application/json")]
    Forbidden(HandleErrorBody),
    #[response(status = 404, description = "A Handle REST failure.", content_type = "application/json")]
    NotFound(HandleErrorBody),
    #[response(status = 405, description = "A Handle REST failure.", content_type = "application/json")]
    MethodNotAllowed(HandleErrorBody),
    #[response(status = 501, description = "A Handle REST failure.", content_type = "application/json")]
    NotImplemented(HandleErrorBody),
}

/// The HTTP-level failures of every SNMS route of snms-api.md (the others
/// are HTTP 200 with an envelope `status`): [`SnmsRouteErrors`] and
/// [`SnmsTooLarge`].
pub(super) struct SnmsErrors;

impl IntoResponses for SnmsErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut all = SnmsRouteErrors::responses();
        all.extend(SnmsTooLarge::responses());
        all
    }
}

/// No such route, or not with this method.
#[derive(IntoResponses)]
pub(super) enum SnmsRouteErrors {
    #[response(status = 404, description = "Unknown path.")]
    UnknownPath,
    #[response(status = 405, description = "Wrong method.")]
    WrongMethod,
}

/// The body limit of the snms-api.md routes.
#[derive(IntoResponses)]
pub(super) enum SnmsTooLarge {
    #[response(
        status = 413,
        description = "Body larger than the route's limit: `limits.http_max_body_bytes` on the batch routes (`batchCreate`, `batchUpdate`, `batchDelete`), `http.limits.max_body_bytes` on the others."
    )]
    TooLarge,
}
