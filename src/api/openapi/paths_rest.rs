//! The operations of the `handle-rest` tag, one `#[utoipa::path]` per route and
//! method (the route tables are in the API modules; a test checks both agree).
//! Each takes [`REST_SECURITY`] unless it names its own `security(...)`, and
//! answers the failures of [`RestErrors`].
#![allow(dead_code)]

use super::REST_SECURITY;
#[allow(unused_imports)]
use super::bodies::*;
use super::params::{RestFormat, RestHandle};
use super::responses::RestErrors;
#[allow(unused_imports)]
use super::schemas::*;

#[utoipa::path(
    get,
    path = "/api/handles/{handle}",
    tag = "handle-rest",
    operation_id = "restResolve",
    summary = "Resolve a handle",
    description = "CNRI-compatible resolution. Non-public values need authentication and `publicOnly=false`. Counted in the resolution statistics of the handle's prefix.",
    params(
        RestHandle,
        ("index" = Option<i64>, Query, description = "Only values at this index (repeatable)."),
        ("type" = Option<String>, Query, description = "Only values of this type (repeatable; a trailing `.` matches sub-types)."),
        ("publicOnly" = Option<bool>, Query, description = "Only publicly readable values (default: true unless authenticated)."),
        ("auth" = Option<bool>, Query, description = "Bypass caching (accepted for compatibility)."),
        RestFormat
    ),
    responses(
        (status = 200, description = "The handle's values.", body = HandleValues, content_type = "application/json"),
        RestErrors
    )
)]
pub(super) fn rest_resolve() {}

#[utoipa::path(
    post,
    path = "/api/handles/{handle}",
    tag = "handle-rest",
    operation_id = "restResolvePost",
    summary = "Resolve with JSON parameters",
    description = "Same as GET; the query parameters come as a JSON object body.",
    params(RestHandle),
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The handle's values.", body = HandleValues, content_type = "application/json"),
        RestErrors
    )
)]
pub(super) fn rest_resolve_post() {}

#[utoipa::path(
    put,
    path = "/api/handles/{handle}",
    tag = "handle-rest",
    operation_id = "restPut",
    summary = "Create, replace or add values",
    description = "Creates the handle (`overwrite=false`: 409 when it exists), replaces all its values (`overwrite=true`), or adds/replaces the given values of an existing handle (`index=various`, CNRI semantics). Needs HS_ADMIN rights.",
    params(
        RestHandle,
        ("overwrite" = Option<bool>, Query, description = "Replace an existing handle / value."),
        ("mintNewSuffix" = Option<bool>, Query, description = "Create under a newly minted suffix."),
        ("index" = Option<String>, Query, description = "`various` to add or replace only the given values."),
        RestFormat
    ),
    request_body(content = HandleValuesInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced.", body = HandleOk, content_type = "application/json"),
        (status = 201, description = "Created.", body = HandleOk, content_type = "application/json"),
        RestErrors,
        (status = 409, description = "A Handle REST failure.", body = HandleErrorBody, content_type = "application/json")
    )
)]
pub(super) fn rest_put() {}

#[utoipa::path(
    delete,
    path = "/api/handles/{handle}",
    tag = "handle-rest",
    operation_id = "restDelete",
    summary = "Delete a handle or some of its values",
    description = "Deletes the handle, or with `index=` only those values.",
    params(
        RestHandle,
        ("index" = Option<i64>, Query, description = "Delete only the values at these indexes (repeatable)."),
        RestFormat
    ),
    responses(
        (status = 200, description = "Deleted.", body = HandleOk, content_type = "application/json"),
        RestErrors
    )
)]
pub(super) fn rest_delete() {}

#[utoipa::path(
    get,
    path = "/api/handles",
    tag = "handle-rest",
    operation_id = "restList",
    summary = "List handles under a prefix",
    description = "Needs LIST_HANDLES rights on the prefix.",
    params(
        ("prefix" = String, Query, description = "The prefix."),
        ("page" = Option<i64>, Query, description = "0-based page."),
        ("pageSize" = Option<i64>, Query, description = "Handles per page (at most 10000)."),
        RestFormat
    ),
    responses(
        (status = 200, description = "Handles.", body = HandleList, content_type = "application/json"),
        RestErrors
    )
)]
pub(super) fn rest_list() {}

#[utoipa::path(
    get,
    path = "/api/prefixes",
    tag = "handle-rest",
    operation_id = "restPrefixes",
    summary = "Prefixes homed on this node",
    description = "The prefixes this node answers for.",
    params(RestFormat),
    responses(
        (status = 200, description = "Prefixes.", body = RestPrefixesStatus200, content_type = "application/json"),
        RestErrors
    ),
    security(())
)]
pub(super) fn rest_prefixes() {}

#[utoipa::path(
    get,
    path = "/api/site",
    tag = "handle-rest",
    operation_id = "restSite",
    summary = "This node's HS_SITE",
    description = "The site information the Handle doors publish.",
    params(RestFormat),
    responses(
        (status = 200, description = "The site.", body = RestSiteStatus200, content_type = "application/json"),
        RestErrors
    ),
    security(())
)]
pub(super) fn rest_site() {}

#[utoipa::path(
    post,
    path = "/api/sessions",
    tag = "handle-rest",
    operation_id = "restSessionOpen",
    summary = "Open an Authorization: Handle session",
    description = "Answers a session id and a nonce to sign; with authentication parameters in the body or the `Authorization` header the session is authenticated at once.",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 201, description = "The session.", body = HandleSession, content_type = "application/json"),
        RestErrors
    )
)]
pub(super) fn rest_session_open() {}

#[utoipa::path(
    get,
    path = "/api/sessions/this",
    tag = "handle-rest",
    operation_id = "restSessionGet",
    summary = "The current session",
    description = "The session named by `Authorization: Handle sessionId=...`.",
    responses(
        (status = 200, description = "The session.", body = HandleSession, content_type = "application/json"),
        RestErrors
    )
)]
pub(super) fn rest_session_get() {}

#[utoipa::path(
    put,
    path = "/api/sessions/this",
    tag = "handle-rest",
    operation_id = "restSessionPut",
    summary = "Authenticate the current session",
    description = "Authenticates the session with a signature over its nonce.",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The session.", body = HandleSession, content_type = "application/json"),
        RestErrors
    )
)]
pub(super) fn rest_session_put() {}

#[utoipa::path(
    delete,
    path = "/api/sessions/this",
    tag = "handle-rest",
    operation_id = "restSessionDelete",
    summary = "End the current session",
    description = "Ends the session.",
    responses(
        (status = 204, description = "Ended."),
        RestErrors
    )
)]
pub(super) fn rest_session_delete() {}

/// The `handle-rest` operations.
#[derive(utoipa::OpenApi)]
#[openapi(
    modifiers(&REST_SECURITY),
    paths(
        rest_resolve,
        rest_resolve_post,
        rest_put,
        rest_delete,
        rest_list,
        rest_prefixes,
        rest_site,
        rest_session_open,
        rest_session_get,
        rest_session_put,
        rest_session_delete
    )
)]
pub(super) struct Paths;
