//! The operations of the `admin` tag, one `#[utoipa::path]` per route and
//! method (the route tables are in the API modules; a test checks both agree).
//! Every one takes [`ADMIN_SECURITY`] and answers the failures of
//! [`AdminErrors`] (with [`AdminNotFound`], [`AdminConflict`] where they apply).
#![allow(dead_code)]

use super::ADMIN_SECURITY;
#[allow(unused_imports)]
use super::bodies::*;
use super::params::{AdminEnterprisePath, AdminPrefixPath, AdminRecordPath, AdminTemplatePath, AdminUserPath};
use super::responses::{AdminConflict, AdminErrors, AdminNotFound};
#[allow(unused_imports)]
use super::schemas::*;

#[utoipa::path(
    get,
    path = "/admin/v1/status",
    tag = "admin",
    operation_id = "adminStatus",
    summary = "Node status",
    description = "Version, node prefix, role and the store's last change-log sequence.",
    responses(
        (status = 200, description = "Status.", body = AdminStatus, content_type = "application/json"),
        AdminErrors
    )
)]
pub(super) fn admin_status() {}

#[utoipa::path(
    get,
    path = "/admin/v1/records/{handle}",
    tag = "admin",
    operation_id = "adminRecordGet",
    summary = "One record",
    description = "The record in the export format.",
    params(AdminRecordPath),
    responses(
        (status = 200, description = "The record.", body = JsonRecord, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_record_get() {}

#[utoipa::path(
    put,
    path = "/admin/v1/records/{handle}",
    tag = "admin",
    operation_id = "adminRecordPut",
    summary = "Create or replace a record",
    description = "Creates the record; 409 `already_exists` when it exists unless `overwrite=true`. Values without `timestamp` (or 0) get the write time. Audited as `record.put`.",
    params(
        AdminRecordPath,
        ("overwrite" = Option<bool>, Query, description = "Replace an existing record.")
    ),
    request_body(content = crate::api::admin::records::PutBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored.", body = AdminRecordPutStatus200, content_type = "application/json"),
        AdminErrors,
        AdminConflict
    )
)]
pub(super) fn admin_record_put() {}

#[utoipa::path(
    delete,
    path = "/admin/v1/records/{handle}",
    tag = "admin",
    operation_id = "adminRecordDelete",
    summary = "Delete a record",
    description = "Audited as `record.delete`.",
    params(AdminRecordPath),
    responses(
        (status = 200, description = "Deleted.", body = AdminRecordDeleteStatus200, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_record_delete() {}

#[utoipa::path(
    post,
    path = "/admin/v1/import",
    tag = "admin",
    operation_id = "adminImport",
    summary = "Import records (JSON lines)",
    description = "The body is JSON lines in the export format (blank lines and `#` comments skipped), read as it arrives and committed `batch` records per transaction. The answer streams one result line per record (only failures with `errors_only=true`), in input order, written after each batch commits, then a summary line. Timestamps are kept as given (absent = now). A client sending more than `batch` records in one request must read the answer while it writes. Audited as `records.import`.",
    params(
        ("overwrite" = Option<bool>, Query, description = "Replace existing records instead of reporting them."),
        ("batch" = Option<u64>, Query, description = "Records per transaction (1..=100000, default 5000).", minimum = 1, maximum = 100000),
        ("errors_only" = Option<bool>, Query, description = "Report only failed lines.")
    ),
    request_body(content = JsonRecord, content_type = "application/x-ndjson", description = "One JSON record per line."),
    responses(
        (status = 200, description = "Per-line results, then the summary.", body = AdminImportStatus200, content_type = "application/x-ndjson"),
        AdminErrors
    )
)]
pub(super) fn admin_import() {}

#[utoipa::path(
    get,
    path = "/admin/v1/backup",
    tag = "admin",
    operation_id = "adminBackup",
    summary = "Online backup (gzip archive)",
    description = "One consistent archive of the store (records, prefixes, enterprises, accounts, templates, aliases and the change-log position it was taken at), gzip-compressed, ending with a SHA-256 over its content; streamed (chunked) while it is written. The copy runs beside the writers; a short final pause of the writers makes it the state after one change-log sequence, so every batch is in it whole or not at all. With `secrets=true` it also carries the server key, the admin secret, the credentials key and HS_SECKEY values. A failure mid-stream aborts the connection without the final chunk. `idnode backup` is the client; the format is described in docs/operations.md. On a backend that cannot pause its writers (PostgreSQL: use `pg_dump`) the stream aborts. Audited as `backup`.",
    params(
        ("secrets" = Option<bool>, Query, description = "Include keys and secrets (`true`/`false`, default false).")
    ),
    responses(
        (status = 200, description = "The archive (gzip).", content((Vec<u8> = "application/gzip"))),
        AdminErrors,
        // Replaces the 400 of AdminErrors (a later entry wins): a backup has no `limit`.
        (status = 400, description = "Invalid request (`invalid`): `field` names what is wrong.", body = AdminError, content_type = "application/json")
    )
)]
pub(super) fn admin_backup() {}

#[utoipa::path(
    get,
    path = "/admin/v1/export",
    tag = "admin",
    operation_id = "adminExport",
    summary = "Export records (JSON lines)",
    description = "Every record (under `prefix`) in canonical key order, one JSON record per line, streamed (chunked). A store failure mid-stream aborts the connection without the final chunk.",
    params(
        ("prefix" = Option<String>, Query, description = "Only records under this prefix.")
    ),
    responses(
        (status = 200, description = "JSON lines.", body = JsonRecord, content_type = "application/x-ndjson"),
        AdminErrors
    )
)]
pub(super) fn admin_export() {}

#[utoipa::path(
    get,
    path = "/admin/v1/prefixes",
    tag = "admin",
    operation_id = "adminPrefixList",
    summary = "List prefixes",
    description = "Every known prefix with its owner and all-time registration and resolution counts (persisted + in memory).",
    responses(
        (status = 200, description = "Prefixes.", body = AdminPrefixListStatus200, content_type = "application/json"),
        AdminErrors
    )
)]
pub(super) fn admin_prefix_list() {}

#[utoipa::path(
    post,
    path = "/admin/v1/prefixes",
    tag = "admin",
    operation_id = "adminPrefixCreate",
    summary = "Create a prefix",
    description = "409 when it exists; 404 (field `enterpriseId`) for an unknown enterprise. Audited as `prefix.create`.",
    request_body(content = crate::api::admin::prefixes::NewPrefix, content_type = "application/json"),
    responses(
        (status = 200, description = "The prefix.", body = AdminPrefix, content_type = "application/json"),
        AdminErrors,
        AdminNotFound,
        AdminConflict
    )
)]
pub(super) fn admin_prefix_create() {}

#[utoipa::path(
    get,
    path = "/admin/v1/prefixes/{prefix}",
    tag = "admin",
    operation_id = "adminPrefixGet",
    summary = "One prefix",
    description = "Adds the record count and today's counters (UTC day).",
    params(AdminPrefixPath),
    responses(
        (status = 200, description = "The prefix.", body = AdminPrefix, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_prefix_get() {}

#[utoipa::path(
    post,
    path = "/admin/v1/prefixes/{prefix}/state",
    tag = "admin",
    operation_id = "adminPrefixState",
    summary = "Change a prefix's state",
    description = "One step of the review state machine: awaiting-review -> under-review | rejected; under-review -> enabled | rejected; rejected -> awaiting-review; enabled -> disabled | pending-deletion; disabled -> enabled | pending-deletion; pending-deletion -> enabled | disabled. An illegal step is 409 `rejected`. Audited as `prefix.state`.",
    params(AdminPrefixPath),
    request_body(content = crate::api::admin::prefixes::StateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The prefix.", body = AdminPrefix, content_type = "application/json"),
        AdminErrors,
        AdminNotFound,
        AdminConflict
    )
)]
pub(super) fn admin_prefix_state() {}

#[utoipa::path(
    post,
    path = "/admin/v1/prefixes/{prefix}/home",
    tag = "admin",
    operation_id = "adminPrefixHome",
    summary = "Home a prefix",
    description = "This node answers for the prefix (created enabled and hosted when unknown). Audited as `prefix.home`.",
    params(AdminPrefixPath),
    responses(
        (status = 200, description = "The prefix.", body = AdminPrefix, content_type = "application/json"),
        AdminErrors
    )
)]
pub(super) fn admin_prefix_home() {}

#[utoipa::path(
    post,
    path = "/admin/v1/prefixes/{prefix}/unhome",
    tag = "admin",
    operation_id = "adminPrefixUnhome",
    summary = "Unhome a prefix",
    description = "This node stops answering for it; records are kept. Audited as `prefix.unhome`.",
    params(AdminPrefixPath),
    responses(
        (status = 200, description = "The prefix.", body = AdminPrefix, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_prefix_unhome() {}

#[utoipa::path(
    get,
    path = "/admin/v1/enterprises",
    tag = "admin",
    operation_id = "adminEnterpriseList",
    summary = "List enterprises",
    description = "Every enterprise with its prefixes (without the filing fields).",
    responses(
        (status = 200, description = "Enterprises.", body = AdminEnterpriseListStatus200, content_type = "application/json"),
        AdminErrors
    )
)]
pub(super) fn admin_enterprise_list() {}

#[utoipa::path(
    post,
    path = "/admin/v1/enterprises",
    tag = "admin",
    operation_id = "adminEnterpriseCreate",
    summary = "Create an enterprise",
    description = "Files an enterprise directly (approved unless `status` is `pending`), optionally with a prefix (created, or an existing prefix without an owner). 409 for a known credit code or an owned prefix. Audited as `enterprise.create`.",
    request_body(content = crate::api::admin::enterprises::NewEnterprise, content_type = "application/json"),
    responses(
        (status = 200, description = "The enterprise.", body = AdminEnterprise, content_type = "application/json"),
        AdminErrors,
        AdminConflict
    )
)]
pub(super) fn admin_enterprise_create() {}

#[utoipa::path(
    get,
    path = "/admin/v1/enterprises/{id}",
    tag = "admin",
    operation_id = "adminEnterpriseGet",
    summary = "One enterprise",
    description = "With its filing fields (`extra`).",
    params(AdminEnterprisePath),
    responses(
        (status = 200, description = "The enterprise.", body = AdminEnterprise, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_enterprise_get() {}

#[utoipa::path(
    post,
    path = "/admin/v1/enterprises/{id}/approve",
    tag = "admin",
    operation_id = "adminEnterpriseApprove",
    summary = "Approve a filing",
    description = "The enterprise becomes approved and its prefixes awaiting review become enabled. Audited as `enterprise.approve`.",
    params(AdminEnterprisePath),
    responses(
        (status = 200, description = "The enterprise.", body = AdminEnterprise, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_enterprise_approve() {}

#[utoipa::path(
    get,
    path = "/admin/v1/templates",
    tag = "admin",
    operation_id = "adminTemplateList",
    summary = "List templates",
    description = "Templates (of `prefix`) in the SNMS v5 shape.",
    params(
        ("prefix" = Option<String>, Query, description = "Only this prefix's templates.")
    ),
    responses(
        (status = 200, description = "Templates.", body = AdminTemplateListStatus200, content_type = "application/json"),
        AdminErrors
    )
)]
pub(super) fn admin_template_list() {}

#[utoipa::path(
    get,
    path = "/admin/v1/templates/{prefix}/{version}",
    tag = "admin",
    operation_id = "adminTemplateGet",
    summary = "One template",
    params(AdminTemplatePath),
    responses(
        (status = 200, description = "The template.", body = AdminTemplate, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_template_get() {}

#[utoipa::path(
    put,
    path = "/admin/v1/templates/{prefix}/{version}",
    tag = "admin",
    operation_id = "adminTemplatePut",
    summary = "Create or edit a template version",
    description = "Creates the version (201) or edits it (200) with the registration service's rules (snms-api.md §3.3, §3.4: items added or changed, never removed). Audited as `template.create` / `template.edit`.",
    params(AdminTemplatePath),
    request_body(content = AdminTemplateInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Edited.", body = AdminTemplate, content_type = "application/json"),
        (status = 201, description = "Created.", body = AdminTemplate, content_type = "application/json"),
        AdminErrors,
        AdminNotFound,
        AdminConflict
    )
)]
pub(super) fn admin_template_put() {}

#[utoipa::path(
    delete,
    path = "/admin/v1/templates/{prefix}/{version}",
    tag = "admin",
    operation_id = "adminTemplateDelete",
    summary = "Delete a template version",
    description = "Refused (409 `rejected`) while an identifier uses it. Audited as `template.delete`.",
    params(AdminTemplatePath),
    responses(
        (status = 200, description = "Deleted.", body = AdminTemplateDeleteStatus200, content_type = "application/json"),
        AdminErrors,
        AdminNotFound,
        AdminConflict
    )
)]
pub(super) fn admin_template_delete() {}

#[utoipa::path(
    get,
    path = "/admin/v1/users",
    tag = "admin",
    operation_id = "adminUserList",
    summary = "List accounts",
    description = "API accounts (never their hashes or tokens).",
    responses(
        (status = 200, description = "Accounts.", body = AdminUserListStatus200, content_type = "application/json"),
        AdminErrors
    )
)]
pub(super) fn admin_user_list() {}

#[utoipa::path(
    post,
    path = "/admin/v1/users",
    tag = "admin",
    operation_id = "adminUserCreate",
    summary = "Create an account",
    description = "The password (8..=64 characters) is stored as an Argon2id PHC of its SHA-256 (plus the hashed-login verifier when snms.hashed_login is on); when absent one is generated and returned once in `password`. Audited as `account.create`.",
    request_body(content = crate::api::admin::users::NewUser, content_type = "application/json"),
    responses(
        (status = 201, description = "The account.", body = AdminUser, content_type = "application/json"),
        AdminErrors,
        AdminNotFound,
        AdminConflict
    )
)]
pub(super) fn admin_user_create() {}

#[utoipa::path(
    get,
    path = "/admin/v1/users/{username}",
    tag = "admin",
    operation_id = "adminUserGet",
    summary = "One account",
    params(AdminUserPath),
    responses(
        (status = 200, description = "The account.", body = AdminUser, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_user_get() {}

#[utoipa::path(
    post,
    path = "/admin/v1/users/{username}/password",
    tag = "admin",
    operation_id = "adminUserPassword",
    summary = "Set an account's password",
    description = "Sets the given password or generates one (returned once in `password`); the account's sessions end. Audited as `account.password`.",
    params(AdminUserPath),
    request_body(content = crate::api::admin::users::PasswordBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The account.", body = AdminUser, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_user_password() {}

#[utoipa::path(
    post,
    path = "/admin/v1/users/{username}/disable",
    tag = "admin",
    operation_id = "adminUserDisable",
    summary = "Disable an account",
    description = "It can no longer log in; its sessions end. Audited as `account.disable`.",
    params(AdminUserPath),
    responses(
        (status = 200, description = "The account.", body = AdminUser, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_user_disable() {}

#[utoipa::path(
    post,
    path = "/admin/v1/users/{username}/enable",
    tag = "admin",
    operation_id = "adminUserEnable",
    summary = "Enable an account",
    description = "Audited as `account.enable`.",
    params(AdminUserPath),
    responses(
        (status = 200, description = "The account.", body = AdminUser, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_user_enable() {}

#[utoipa::path(
    get,
    path = "/admin/v1/stats",
    tag = "admin",
    operation_id = "adminStats",
    summary = "Registrations and resolutions per prefix per day",
    description = "From the store's counters: persisted counts plus those still in memory, so resolutions over any door (Handle UDP/TCP, REST, SNMS) appear at once. Days are UTC; days without activity are left out. Without `prefix`, every prefix.",
    params(
        ("prefix" = Option<String>, Query, description = "Only this prefix (404 when unknown)."),
        ("from" = Option<String>, Query, description = "First day: yyyy-MM-dd (UTC), `today` or `yesterday`; default 29 days before `to`."),
        ("to" = Option<String>, Query, description = "Last day; default today. At most 3660 days in all."),
        ("persist" = Option<bool>, Query, description = "Persist the in-memory counters first.")
    ),
    responses(
        (status = 200, description = "Statistics.", body = AdminStats, content_type = "application/json"),
        AdminErrors,
        AdminNotFound
    )
)]
pub(super) fn admin_stats() {}

#[utoipa::path(
    post,
    path = "/admin/v1/stats/persist",
    tag = "admin",
    operation_id = "adminStatsPersist",
    summary = "Persist the counters now",
    description = "Writes the in-memory counters to the store (the daemon also does every 10 s and at shutdown). Audited as `stats.persist`.",
    responses(
        (status = 200, description = "Persisted.", body = AdminStatsPersistStatus200, content_type = "application/json"),
        AdminErrors
    )
)]
pub(super) fn admin_stats_persist() {}

#[utoipa::path(
    get,
    path = "/admin/v1/audit",
    tag = "admin",
    operation_id = "adminAudit",
    summary = "The audit log",
    description = "Entries oldest first.",
    params(
        ("after" = Option<i64>, Query, description = "Only entries with a larger sequence number."),
        ("limit" = Option<i64>, Query, description = "At most this many (1..=10000, default 100).")
    ),
    responses(
        (status = 200, description = "Entries.", body = AdminAuditStatus200, content_type = "application/json"),
        AdminErrors
    )
)]
pub(super) fn admin_audit() {}

/// The `admin` operations.
#[derive(utoipa::OpenApi)]
#[openapi(
    modifiers(&ADMIN_SECURITY),
    paths(
        admin_status,
        admin_record_get,
        admin_record_put,
        admin_record_delete,
        admin_import,
        admin_backup,
        admin_export,
        admin_prefix_list,
        admin_prefix_create,
        admin_prefix_get,
        admin_prefix_state,
        admin_prefix_home,
        admin_prefix_unhome,
        admin_enterprise_list,
        admin_enterprise_create,
        admin_enterprise_get,
        admin_enterprise_approve,
        admin_template_list,
        admin_template_get,
        admin_template_put,
        admin_template_delete,
        admin_user_list,
        admin_user_create,
        admin_user_get,
        admin_user_password,
        admin_user_disable,
        admin_user_enable,
        admin_stats,
        admin_stats_persist,
        admin_audit
    )
)]
pub(super) struct Paths;
