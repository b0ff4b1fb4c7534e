//! The SNMS alias operations (`/identityv2/alias`, an idnode extension:
//! idis-node.md §7.4 "mapping"; handlers in `api::snms::alias`), with the
//! SNMS door's [`SNMS_SECURITY`] and [`SnmsRouteErrors`].
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

use super::SNMS_SECURITY;
use super::responses::SnmsRouteErrors;
use super::schemas::SnmsEnvelope;

/// An alias binding: `scheme:code` names `handle`.
#[derive(Serialize, ToSchema)]
pub struct SnmsAlias {
    /// The alias scheme, e.g. `gs1` (at most 255 bytes).
    scheme: String,
    /// The code in that scheme, e.g. a GTIN (at most 255 bytes).
    code: String,
    /// The handle the alias resolves to.
    handle: String,
    /// Unix seconds of the binding.
    created: u64,
}

/// `POST /identityv2/alias` and the body form of `DELETE`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"scheme": "gs1", "code": "06901234567892", "handle": "88.118.8.1001/LOT2026-000451"}))]
pub struct SnmsAliasInput {
    scheme: String,
    code: String,
    /// The handle to bind (not needed to unbind).
    #[schema(required = false)]
    handle: String,
}

/// The envelope with one binding as `data`.
#[derive(Serialize, ToSchema)]
pub struct SnmsAliasAnswer {
    #[serde(flatten)]
    base: SnmsEnvelope,
    data: Option<SnmsAlias>,
}

#[utoipa::path(
    post,
    path = "/identityv2/alias",
    tag = "snms",
    operation_id = "snmsAliasBind",
    summary = "Bind an alias",
    description = "Binds `scheme:code` to a handle (an idnode extension, not in snms-api.md). The bound record is read with `GET /identityv2/data/detail?handle=<scheme>:<code>`.",
    request_body(content = SnmsAliasInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope; `data` is the binding.", body = SnmsAliasAnswer),
        SnmsRouteErrors,
        (status = 413, description = "Body larger than `http.limits.max_body_bytes`.")
    )
)]
pub(super) fn snms_alias_bind() {}

#[utoipa::path(
    get,
    path = "/identityv2/alias",
    tag = "snms",
    operation_id = "snmsAliasDetail",
    summary = "Read an alias binding",
    description = "The binding of `scheme:code` (an idnode extension).",
    params(
        ("scheme" = String, Query, description = "The alias scheme, e.g. `gs1`."),
        ("code" = String, Query, description = "The code in that scheme.")
    ),
    responses(
        (status = 200, description = "The envelope; `data` is the binding.", body = SnmsAliasAnswer),
        SnmsRouteErrors
    )
)]
pub(super) fn snms_alias_detail() {}

#[utoipa::path(
    delete,
    path = "/identityv2/alias",
    tag = "snms",
    operation_id = "snmsAliasUnbind",
    summary = "Remove an alias binding",
    description = "Removes the binding of `scheme:code`, named in the query or in a JSON body (an idnode extension). `data` is `true`.",
    params(
        ("scheme" = Option<String>, Query, description = "The alias scheme (when there is no body)."),
        ("code" = Option<String>, Query, description = "The code in that scheme (when there is no body).")
    ),
    request_body(content = Option<SnmsAliasInput>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsEnvelope),
        SnmsRouteErrors,
        (status = 413, description = "Body larger than `http.limits.max_body_bytes`.")
    )
)]
pub(super) fn snms_alias_unbind() {}

/// The alias operations.
#[derive(utoipa::OpenApi)]
#[openapi(modifiers(&SNMS_SECURITY), paths(snms_alias_bind, snms_alias_detail, snms_alias_unbind))]
pub(super) struct Paths;
