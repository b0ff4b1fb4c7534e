//! The parameters several operations of a door share, as `utoipa::IntoParams`
//! types named in the `params(...)` lists of the `paths_*` operations (an
//! operation's own parameters are tuples beside them, in the order given).
#![allow(dead_code)]

use utoipa::IntoParams;

/// `{handle}` of the Handle REST routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct RestHandle {
    /// The handle, e.g. `88.118.8.1001/LOT2026-000451`, taken raw after `/api/handles/` (slashes unencoded, percent-decoded, `+` is not a space).
    handle: String,
}

/// How a Handle REST answer is written.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RestFormat {
    /// Pretty-print the JSON answer.
    pretty: Option<bool>,
    /// JSONP: wrap the answer in this function call.
    callback: Option<String>,
}

/// The template an SNMS template route names.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SnmsTemplateKey {
    /// The prefix.
    prefix: String,
    /// The template version.
    version: String,
}

/// `{handle}` of the admin record routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct AdminRecordPath {
    /// The identifier, slashes unencoded, other reserved characters percent-encoded.
    handle: String,
}

/// `{prefix}` of the admin prefix routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct AdminPrefixPath {
    /// The prefix, e.g. `88.118.8.1001` (any ASCII case).
    prefix: String,
}

/// `{prefix}/{version}` of the admin template routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct AdminTemplatePath {
    /// The prefix, e.g. `88.118.8.1001` (any ASCII case).
    prefix: String,
    /// The template version (percent-encode `/`).
    version: String,
}

/// `{id}` of the admin enterprise routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct AdminEnterprisePath {
    /// The enterprise id.
    id: i64,
}

/// `{username}` of the admin account routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct AdminUserPath {
    /// The account's username.
    username: String,
}
