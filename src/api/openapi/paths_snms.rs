//! The operations of the `snms` tag, one `#[utoipa::path]` per route and
//! method (the route tables are in the API modules; a test checks both agree).
//! Each takes [`SNMS_SECURITY`] unless it names its own `security(...)` (the
//! logins), and answers [`SnmsErrors`] besides its envelope.
#![allow(dead_code)]

use super::SNMS_SECURITY;
#[allow(unused_imports)]
use super::bodies::*;
use super::params::SnmsTemplateKey;
use super::responses::SnmsErrors;
#[allow(unused_imports)]
use super::schemas::*;

#[utoipa::path(
    post,
    path = "/identity/token",
    tag = "snms",
    operation_id = "snmsLogin",
    summary = "Plain login",
    description = "Username and clear password; `data.token` is the session token (24 h).",
    request_body(content = SnmsLoginBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsLoginStatus200, content_type = "application/json"),
        SnmsErrors
    ),
    security(())
)]
pub(super) fn snms_login() {}

#[utoipa::path(
    post,
    path = "/identity/token/v1",
    tag = "snms",
    operation_id = "snmsLoginV1",
    summary = "Hashed login",
    description = "`password` = SHA-256(SHA-256(password) + yyyy-MM-dd) in the deployment's UTC offset (snms.hashed_login).",
    request_body(content = SnmsLoginV1Body, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsLoginV1Status200, content_type = "application/json"),
        SnmsErrors
    ),
    security(())
)]
pub(super) fn snms_login_v1() {}

#[utoipa::path(
    post,
    path = "/identity/registry",
    tag = "snms",
    operation_id = "snmsRegistry",
    summary = "Create a user (administrators)",
    description = "Appendix A of snms-api.md.",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsRegistryStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_registry() {}

#[utoipa::path(
    post,
    path = "/identityv2/data",
    tag = "snms",
    operation_id = "snmsDataCreate",
    summary = "Register one identifier",
    description = "snms-api.md §4.3; values validated against the prefix's template.",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsDataCreateStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_data_create() {}

#[utoipa::path(
    put,
    path = "/identityv2/data",
    tag = "snms",
    operation_id = "snmsDataUpdate",
    summary = "Update one identifier",
    description = "snms-api.md §4.4.",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsDataUpdateStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_data_update() {}

#[utoipa::path(
    delete,
    path = "/identityv2/data",
    tag = "snms",
    operation_id = "snmsDataDelete",
    summary = "Delete one identifier",
    description = "snms-api.md §4.7.",
    params(
        ("handle" = String, Query, description = "The identifier.")
    ),
    responses(
        (status = 200, description = "The envelope.", body = SnmsDataDeleteStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_data_delete() {}

#[utoipa::path(
    get,
    path = "/identityv2/data/detail",
    tag = "snms",
    operation_id = "snmsDataDetail",
    summary = "Resolve one identifier",
    description = "snms-api.md §4.2.",
    params(
        ("handle" = String, Query, description = "The identifier.")
    ),
    responses(
        (status = 200, description = "The envelope.", body = SnmsDataDetailStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_data_detail() {}

#[utoipa::path(
    post,
    path = "/identityv2/data/batchCreate",
    tag = "snms",
    operation_id = "snmsBatchCreate",
    summary = "Register many identifiers",
    description = "snms-api.md §4.5 (at most snms.batch_limit items, one transaction).",
    request_body(content = Vec<serde_json::Map<String, serde_json::Value>>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsBatchCreateStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_batch_create() {}

#[utoipa::path(
    put,
    path = "/identityv2/data/batchUpdate",
    tag = "snms",
    operation_id = "snmsBatchUpdate",
    summary = "Update many identifiers",
    description = "snms-api.md §4.6.",
    request_body(content = Vec<serde_json::Map<String, serde_json::Value>>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsBatchUpdateStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_batch_update() {}

#[utoipa::path(
    delete,
    path = "/identityv2/data/batchDelete",
    tag = "snms",
    operation_id = "snmsBatchDelete",
    summary = "Delete many identifiers",
    description = "snms-api.md §4.8.",
    request_body(content = Vec<String>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsBatchDeleteStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_batch_delete() {}

#[utoipa::path(
    get,
    path = "/snms/api/v5/template",
    tag = "snms",
    operation_id = "snmsTemplateGetV5",
    summary = "Read a template",
    description = "snms-api.md §3.2.",
    params(SnmsTemplateKey),
    responses(
        (status = 200, description = "The envelope.", body = SnmsTemplateGetV5Status200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_template_get_v5() {}

#[utoipa::path(
    post,
    path = "/snms/api/v5/template",
    tag = "snms",
    operation_id = "snmsTemplateCreateV5",
    summary = "Create a template",
    description = "snms-api.md §3.3.",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsTemplateCreateV5Status200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_template_create_v5() {}

#[utoipa::path(
    put,
    path = "/snms/api/v5/template",
    tag = "snms",
    operation_id = "snmsTemplateEditV5",
    summary = "Edit a template",
    description = "snms-api.md §3.4 (items added or changed, never removed).",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsTemplateEditV5Status200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_template_edit_v5() {}

#[utoipa::path(
    delete,
    path = "/snms/api/v5/template",
    tag = "snms",
    operation_id = "snmsTemplateDeleteV5",
    summary = "Delete a template",
    description = "snms-api.md §3.5 (refused while used).",
    params(SnmsTemplateKey),
    responses(
        (status = 200, description = "The envelope.", body = SnmsTemplateDeleteV5Status200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_template_delete_v5() {}

#[utoipa::path(
    get,
    path = "/snms/api/v3/template",
    tag = "snms",
    operation_id = "snmsTemplateGetV3",
    summary = "Read a template (v3)",
    description = "snms-api.md §3.6.",
    params(SnmsTemplateKey),
    responses(
        (status = 200, description = "The envelope.", body = SnmsTemplateGetV3Status200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_template_get_v3() {}

#[utoipa::path(
    post,
    path = "/snms/api/v3/template",
    tag = "snms",
    operation_id = "snmsTemplateCreateV3",
    summary = "Create a template (v3)",
    description = "snms-api.md §3.6.",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsTemplateCreateV3Status200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_template_create_v3() {}

#[utoipa::path(
    delete,
    path = "/snms/api/v3/template",
    tag = "snms",
    operation_id = "snmsTemplateDeleteV3",
    summary = "Delete a template (v3)",
    description = "snms-api.md §3.6.",
    params(SnmsTemplateKey),
    responses(
        (status = 200, description = "The envelope.", body = SnmsTemplateDeleteV3Status200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_template_delete_v3() {}

#[utoipa::path(
    get,
    path = "/snms/api/prefix/query",
    tag = "snms",
    operation_id = "snmsPrefixQuery",
    summary = "One prefix",
    description = "snms-api.md §5.1.",
    params(
        ("prefix" = String, Query, description = "The prefix.")
    ),
    responses(
        (status = 200, description = "The envelope.", body = SnmsPrefixQueryStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_prefix_query() {}

#[utoipa::path(
    get,
    path = "/snms/api/prefix/page",
    tag = "snms",
    operation_id = "snmsPrefixPage",
    summary = "List prefixes",
    description = "snms-api.md §5.2 (page object §5.3).",
    params(
        ("entName" = Option<String>, Query, description = "Enterprise name substring."),
        ("entPrefix" = Option<String>, Query, description = "Prefix substring."),
        ("startDate" = Option<String>, Query, description = "yyyy-MM-dd HH:mm:ss"),
        ("endDate" = Option<String>, Query, description = "yyyy-MM-dd HH:mm:ss"),
        ("currentPage" = Option<i64>, Query, description = "1-based page."),
        ("pageSize" = Option<i64>, Query, description = "Page size (at most 100).")
    ),
    responses(
        (status = 200, description = "The envelope.", body = SnmsPrefixPageStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_prefix_page() {}

#[utoipa::path(
    post,
    path = "/snms/api/ent/config",
    tag = "snms",
    operation_id = "snmsEntConfig",
    summary = "Configure hosting of a prefix",
    description = "snms-api.md §7 (hosted or self-hosted).",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsEntConfigStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_ent_config() {}

#[utoipa::path(
    post,
    path = "/snms/api/v3/ent/apply",
    tag = "snms",
    operation_id = "snmsEntApplyV3",
    summary = "File an enterprise with a new user",
    description = "snms-api.md §6.2.",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsEntApplyV3Status200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_ent_apply_v3() {}

#[utoipa::path(
    post,
    path = "/snms/api/ent/apply",
    tag = "snms",
    operation_id = "snmsEntApply",
    summary = "File an enterprise with a new user (older path)",
    description = "Same as /snms/api/v3/ent/apply.",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsEntApplyStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_ent_apply() {}

#[utoipa::path(
    post,
    path = "/snms/api/v3/ent/upgrade-apply",
    tag = "snms",
    operation_id = "snmsEntUpgradeApply",
    summary = "File an enterprise for an existing user",
    description = "snms-api.md §6.3.",
    request_body(content = serde_json::Map<String, serde_json::Value>, content_type = "application/json"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsEntUpgradeApplyStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_ent_upgrade_apply() {}

#[utoipa::path(
    get,
    path = "/snms/api/v3/ent/page",
    tag = "snms",
    operation_id = "snmsEntPage",
    summary = "List enterprises",
    description = "snms-api.md §6.4.",
    params(
        ("orgName" = Option<String>, Query, description = "Name substring."),
        ("currentPage" = Option<i64>, Query, description = "1-based page."),
        ("pageSize" = Option<i64>, Query, description = "Page size.")
    ),
    responses(
        (status = 200, description = "The envelope.", body = SnmsEntPageStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_ent_page() {}

#[utoipa::path(
    get,
    path = "/snms/api/v3/ent/detail",
    tag = "snms",
    operation_id = "snmsEntDetail",
    summary = "One enterprise's filing",
    description = "snms-api.md §6.5.",
    params(
        ("id" = Option<i64>, Query, description = "Enterprise id (default: the caller's).")
    ),
    responses(
        (status = 200, description = "The envelope.", body = SnmsEntDetailStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_ent_detail() {}

#[utoipa::path(
    post,
    path = "/snms/api/file/upload",
    tag = "snms",
    operation_id = "snmsFileUpload",
    summary = "Upload an attachment",
    description = "snms-api.md §6.1 (multipart/form-data, field `file`); `data` is the file id.",
    request_body(content = SnmsFileUploadBody, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The envelope.", body = SnmsFileUploadStatus200, content_type = "application/json"),
        SnmsErrors
    )
)]
pub(super) fn snms_file_upload() {}

/// The `snms` operations.
#[derive(utoipa::OpenApi)]
#[openapi(
    modifiers(&SNMS_SECURITY),
    paths(
        snms_login,
        snms_login_v1,
        snms_registry,
        snms_data_create,
        snms_data_update,
        snms_data_delete,
        snms_data_detail,
        snms_batch_create,
        snms_batch_update,
        snms_batch_delete,
        snms_template_get_v5,
        snms_template_create_v5,
        snms_template_edit_v5,
        snms_template_delete_v5,
        snms_template_get_v3,
        snms_template_create_v3,
        snms_template_delete_v3,
        snms_prefix_query,
        snms_prefix_page,
        snms_ent_config,
        snms_ent_apply_v3,
        snms_ent_apply,
        snms_ent_upgrade_apply,
        snms_ent_page,
        snms_ent_detail,
        snms_file_upload
    )
)]
pub(super) struct Paths;
