//! The OpenAPI 3.1 document of every HTTP API of the node (Handle REST,
//! SNMS, admin, trace and label, operational endpoints), generated with
//! `utoipa` from the operations in `paths_*` and the body types in
//! [`schemas`]. `docs/openapi.json` is this generator's output, committed
//! and served at `GET /openapi.json` ([`crate::api::admin::openapi`]); the
//! tests check that the file matches [`to_json`] and that every route the
//! axum routers register is documented. Rewrite the file with
//! `UPDATE_OPENAPI=1 cargo test -p idnode --bin idnode api::openapi`.

mod bodies;
mod params;
mod paths_admin;
mod paths_alias;
mod paths_ops;
mod paths_rest;
mod paths_snms;
mod paths_trace;
mod responses;
pub mod schemas;
#[cfg(test)]
mod tests;

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};

use schemas::*;

/// The document's head: info, servers, tags, security schemes and the
/// named schemas; the operations are merged in by [`document`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "idnode HTTP APIs",
        version = "0.1.0",
        description = "The HTTP(S) door of an idnode secondary node (二级节点) of the industrial-internet identifier resolution system, one port for HTTP and HTTPS: the CNRI-compatible Handle REST API (`/api/...`), the SNMS-compatible API (`/identity...`, `/identityv2/...`, `/snms/api/...`, mounted under `snms.base_path` when set), the admin API used by the `idnode` CLI (`/admin/v1/...`), and the operational endpoints. Credentials are accepted over HTTPS; over plain HTTP only from loopback clients (admin API always; Handle REST when `http.allow_plain_http_auth` is set).",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    servers((url = "http://127.0.0.1:8000", description = "The default `http.listen` (HTTPS on the same port).")),
    tags(
        (name = "admin", description = "The admin API (`admin.api_enabled`). Authentication: `Authorization: Bearer <admin secret>` (the file named by `admin.secret_file`) or HTTP Basic as `300:0.NA/<node_prefix>` (or an `admin.server_admins` identity) with its secret. Errors: `{\"error\": {\"code\", \"message\", \"field\"}}`. Every write appends an audit entry."),
        (name = "handle-rest", description = "The Handle HTTP JSON REST API, CNRI-compatible (handle-protocol.md §8)."),
        (name = "snms", description = "The SNMS-compatible API (shared/spec/snms-api.md): `Authorization: Bearer <token>` from a login; every answer with a JSON envelope `{message, status, data}` is HTTP 200 (snms-api.md §1.3): `status` 1 success, -1 not logged in, -2 business failure, -3 no permission, -4 internal error, 21000 type mismatch; unknown path 404, wrong method 405, body too large 413."),
        (name = "trace", description = "Chains of linked identifiers and printable labels (`/api/trace/...`, `/api/label/...`): no authentication, public values only. Errors: `{\"responseCode\", \"message\"}`."),
        (name = "operations", description = "Health, readiness, metrics and this document.")
    ),
    components(schemas(
        AdminError, JsonValue, JsonRecord, ImportResult, ImportSummaryLine, AdminStatus, PrefixStateInput,
        AdminPrefix, AdminEnterprise, AdminTemplateItem, AdminTemplate,
        AdminTemplateInput, AdminUser, DayStat, PrefixStats, AdminStats, AuditEntry, HandleValue,
        HandleValues, HandleValuesInput, HandleOk, HandleList, HandleSession, HandleErrorBody, SnmsEnvelope, SnmsPage
    )),
    modifiers(&SecuritySchemes)
)]
struct Head;

/// The security schemes the operations name.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let http = |scheme: HttpAuthScheme, description: &str| {
            SecurityScheme::Http(HttpBuilder::new().scheme(scheme).description(Some(description)).build())
        };
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme("adminBearer", http(HttpAuthScheme::Bearer, "The admin secret."));
        c.add_security_scheme(
            "adminBasic",
            http(
                HttpAuthScheme::Basic,
                "User `300:0.NA/<node_prefix>` (percent-encoded `300%3A0.NA%2F...` or plain), password = its HS_SECKEY.",
            ),
        );
        c.add_security_scheme(
            "handleBasic",
            http(
                HttpAuthScheme::Basic,
                "User `index:handle` (e.g. `300%3A0.NA/88.118.8`), password = the HS_SECKEY at that index.",
            ),
        );
        c.add_security_scheme(
            "handleAuth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Handle sessionId=\"...\", id=\"index:handle\", type=\"HS_SECKEY|HS_PUBKEY\", cnonce=\"...\", alg=\"...\", signature=\"...\"` over the session's nonce (CNRI).",
            ))),
        );
        c.add_security_scheme(
            "snmsBearer",
            http(HttpAuthScheme::Bearer, "A token from /identity/token or /identity/token/v1."),
        );
    }
}

/// The authentication a door's operations take unless one names its own
/// `security(...)`: any one of `schemes`, or none at all when `anonymous`.
/// A modifier of each door's `Paths`.
struct DoorSecurity {
    anonymous: bool,
    schemes: &'static [&'static str],
}

/// The admin API: the admin secret or the node's admin identity.
const ADMIN_SECURITY: DoorSecurity = DoorSecurity { anonymous: false, schemes: &["adminBearer", "adminBasic"] };
/// Handle REST: anonymous, Basic or an `Authorization: Handle` session.
const REST_SECURITY: DoorSecurity = DoorSecurity { anonymous: true, schemes: &["handleBasic", "handleAuth"] };
/// SNMS (and its alias extension): a login token.
const SNMS_SECURITY: DoorSecurity = DoorSecurity { anonymous: false, schemes: &["snmsBearer"] };

impl Modify for DoorSecurity {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let requirements = || {
            let anonymous = self.anonymous.then(SecurityRequirement::default);
            let schemes = self.schemes.iter().map(|s| SecurityRequirement::new(*s, Vec::<String>::new()));
            anonymous.into_iter().chain(schemes).collect::<Vec<_>>()
        };
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
                &mut item.query,
            ];
            for operation in operations.into_iter().flatten() {
                operation.security.get_or_insert_with(requirements);
            }
        }
    }
}

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Head::openapi();
    doc.merge(paths_ops::Paths::openapi());
    doc.merge(paths_rest::Paths::openapi());
    doc.merge(paths_snms::Paths::openapi());
    doc.merge(paths_alias::Paths::openapi());
    doc.merge(paths_trace::Paths::openapi());
    doc.merge(paths_admin::Paths::openapi());
    doc
}

/// The document as `docs/openapi.json` holds it (pretty JSON, final newline).
pub fn to_json() -> String {
    let mut s = serde_json::to_string_pretty(&document()).expect("the document serializes");
    s.push('\n');
    s
}
