//! The schemas of the JSON bodies the HTTP APIs take and give (generated
//! document: `components.schemas`). Most bodies are built with
//! `serde_json::json!` by the handlers, so their shapes are described here
//! as types; nothing constructs them.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminErrorErrorCode {
    Invalid,
    Limit,
    Unauthenticated,
    InsecureChannel,
    Forbidden,
    NotFound,
    AlreadyExists,
    Rejected,
    IllegalState,
    MethodNotAllowed,
    TooLarge,
    Quota,
    RateLimited,
    Internal,
}

#[derive(Serialize, ToSchema)]
pub struct AdminErrorError {
    pub code: AdminErrorErrorCode,
    pub message: String,
    /// The request field at fault, when there is one.
    #[schema(required = true)]
    pub field: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "already_exists", "message": "88.118.8.1001/X already exists (overwrite=true replaces it)", "field": null}}))]
pub struct AdminError {
    pub error: AdminErrorError,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JsonValueDataV1Format {
    Base64,
    Hex,
    String,
}

#[derive(Serialize, ToSchema)]
pub struct JsonValueDataV1 {
    pub format: JsonValueDataV1Format,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum JsonValueData {
    V0(String),
    V1(JsonValueDataV1),
}

#[derive(Serialize, ToSchema)]
pub struct JsonValueReferencesItem {
    #[schema(required = false)]
    pub handle: String,
    #[schema(required = false)]
    pub index: i64,
}

/// One handle value in the export format (idnode_registry::transfer).
#[derive(Serialize, ToSchema)]
pub struct JsonValue {
    #[schema(minimum = 0)]
    pub index: u64,
    #[serde(rename = "type")]
    pub type_: String,
    pub data: JsonValueData,
    #[schema(default = json!(86400), required = false)]
    pub ttl: i64,
    /// Bits admin-read 8, admin-write 4, public-read 2, public-write 1.
    #[schema(default = json!(14), minimum = 0, maximum = 15, required = false)]
    pub permissions: u64,
    /// Unix seconds; absent = the write time.
    #[schema(required = false)]
    pub timestamp: i64,
    #[schema(default = json!(0), required = false)]
    pub ttl_type: i64,
    #[schema(required = false)]
    pub references: Vec<JsonValueReferencesItem>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"handle": "88.118.8.1001/LOT2026-000451", "values": [{"index": 1, "type": "URL", "data": "https://www.example.com/p/LOT2026-000451", "ttl": 86400, "permissions": 14, "timestamp": 1767225600}]}))]
pub struct JsonRecord {
    pub handle: String,
    pub values: Vec<JsonValue>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResultError {
    #[schema(required = false)]
    pub code: String,
    #[schema(required = false)]
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    /// 1-based line of the request body.
    pub line: i64,
    pub handle: Option<String>,
    pub ok: bool,
    #[schema(required = false)]
    pub error: ImportResultError,
}

#[derive(Serialize, ToSchema)]
pub struct ImportSummaryLineSummary {
    #[schema(required = false)]
    pub ok: i64,
    #[schema(required = false)]
    pub failed: i64,
    #[schema(required = false)]
    pub seconds: f64,
    /// Present when the node stopped the import (a batch could not be committed).
    #[schema(required = false)]
    pub error: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportSummaryLine {
    pub summary: ImportSummaryLineSummary,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminStatusRole {
    Secondary,
    Top,
    Mirror,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminStatus {
    #[schema(required = false)]
    pub version: String,
    #[schema(required = false)]
    pub node_prefix: String,
    #[schema(required = false)]
    pub role: AdminStatusRole,
    #[schema(required = false)]
    pub last_seq: i64,
    #[schema(required = false)]
    pub schema: i64,
    #[schema(required = false)]
    pub node_id: String,
    #[schema(required = false)]
    pub store_created: i64,
    #[schema(required = false)]
    pub time: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PrefixStateInputV0 {
    Disabled,
    Enabled,
    PendingDeletion,
    Rejected,
    AwaitingReview,
    UnderReview,
}

/// A state name or its SNMS code 0..=5.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum PrefixStateInput {
    V0(PrefixStateInputV0),
    V1(u64),
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AdminPrefixState {
    Disabled,
    Enabled,
    PendingDeletion,
    Rejected,
    AwaitingReview,
    UnderReview,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AdminPrefixHosting {
    NotHosted,
    HostingRequested,
    HostingRejected,
    Hosted,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminPrefixCasePolicy {
    Sensitive,
    Insensitive,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminPrefixQuota {
    pub max_registrations: Option<i64>,
    pub daily_requests: Option<i64>,
}

/// GET of one prefix only.
#[derive(Serialize, ToSchema)]
pub struct AdminPrefixToday {
    #[schema(required = false)]
    pub registrations: i64,
    #[schema(required = false)]
    pub resolutions: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminPrefix {
    #[schema(required = false)]
    pub prefix: String,
    #[schema(required = false)]
    pub state: AdminPrefixState,
    #[schema(required = false)]
    pub state_code: i64,
    #[schema(required = false)]
    pub hosting: AdminPrefixHosting,
    #[schema(required = false)]
    pub hosting_code: i64,
    #[schema(required = false)]
    pub homed: bool,
    #[schema(required = false)]
    pub self_hosted_site: bool,
    pub enterprise_id: Option<i64>,
    pub enterprise_name: Option<String>,
    #[schema(required = false)]
    pub case_policy: AdminPrefixCasePolicy,
    pub proxy_server_id: Option<i64>,
    #[schema(required = false)]
    pub quota: AdminPrefixQuota,
    #[schema(required = false)]
    pub description: String,
    #[schema(required = false)]
    pub created: i64,
    #[schema(required = false)]
    pub updated: i64,
    /// All-time registrations.
    #[schema(required = false)]
    pub registrations: i64,
    /// All-time resolutions.
    #[schema(required = false)]
    pub resolutions: i64,
    /// GET of one prefix only.
    #[schema(required = false)]
    pub records: i64,
    /// GET of one prefix only.
    #[schema(required = false)]
    pub today: AdminPrefixToday,
}

#[derive(Serialize, ToSchema)]
pub struct AdminEnterpriseContact {
    #[schema(required = false)]
    pub name: String,
    #[schema(required = false)]
    pub email: String,
    #[schema(required = false)]
    pub phone: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminEnterpriseStatus {
    Pending,
    Approved,
    Rejected,
    Disabled,
}

#[derive(Serialize, ToSchema)]
pub struct AdminEnterprise {
    #[schema(required = false)]
    pub id: i64,
    #[schema(required = false)]
    pub name: String,
    #[serde(rename = "creditCode")]
    #[schema(required = false)]
    pub credit_code: String,
    #[schema(required = false)]
    pub nature: i64,
    #[schema(required = false)]
    pub address: String,
    #[schema(required = false)]
    pub region: Vec<String>,
    #[schema(required = false)]
    pub website: String,
    #[schema(required = false)]
    pub industry: String,
    #[schema(required = false)]
    pub description: String,
    #[schema(required = false)]
    pub contact: AdminEnterpriseContact,
    #[schema(required = false)]
    pub status: AdminEnterpriseStatus,
    #[schema(required = false)]
    pub created: i64,
    #[schema(required = false)]
    pub updated: i64,
    #[schema(required = false)]
    pub prefixes: Vec<String>,
    /// Filing fields (GET of one enterprise).
    #[schema(required = false)]
    pub extra: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub enum AdminTemplateItemMetadataType {
    #[serde(rename = "string")]
    String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminTemplateItemMetadata {
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub type_: AdminTemplateItemMetadataType,
    pub min_length: Option<i64>,
    pub max_length: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminTemplateItem {
    #[schema(required = false)]
    pub name: String,
    #[schema(required = false)]
    pub id_type: String,
    #[schema(minimum = 2000, required = false)]
    pub id_index: u64,
    #[schema(required = false)]
    pub required: bool,
    #[schema(required = false)]
    pub state: i64,
    #[schema(required = false)]
    pub metadata_id: i64,
    #[schema(required = false)]
    pub metadata: AdminTemplateItemMetadata,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminTemplate {
    #[schema(required = false)]
    pub id: i64,
    #[schema(required = false)]
    pub prefix: String,
    #[schema(required = false)]
    pub version: String,
    #[schema(required = false)]
    pub description: String,
    #[schema(required = false)]
    pub industry_category: String,
    #[schema(required = false)]
    pub industry_specific: String,
    #[schema(required = false)]
    pub industry_trade: String,
    #[schema(required = false)]
    pub industry_subclass: String,
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub type_: i64,
    pub handle: Option<String>,
    #[schema(required = false)]
    pub created: i64,
    #[schema(required = false)]
    pub updated: i64,
    #[schema(required = false)]
    pub items: Vec<AdminTemplateItem>,
}

/// SNMS v5 template fields; `prefix`/`version` may repeat the path's; `id`, `handle`, `created`, `updated` and items' `metadataId` are ignored (a template read with GET can be put back).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct AdminTemplateInput {
    #[schema(required = false)]
    pub prefix: String,
    #[schema(required = false)]
    pub version: String,
    #[schema(required = false)]
    pub description: String,
    #[schema(required = false)]
    pub industry_category: String,
    #[schema(required = false)]
    pub industry_specific: String,
    #[schema(required = false)]
    pub industry_trade: String,
    #[schema(required = false)]
    pub industry_subclass: String,
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub type_: i64,
    #[schema(required = false)]
    pub items: Vec<AdminTemplateItem>,
    #[schema(required = false)]
    pub id: serde_json::Value,
    #[schema(required = false)]
    pub handle: serde_json::Value,
    #[schema(required = false)]
    pub created: serde_json::Value,
    #[schema(required = false)]
    pub updated: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminUserRole {
    Admin,
    Enterprise,
    Auditor,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUser {
    #[schema(required = false)]
    pub username: String,
    #[schema(required = false)]
    pub role: AdminUserRole,
    pub enterprise_id: Option<i64>,
    #[schema(required = false)]
    pub email: String,
    #[schema(required = false)]
    pub mobile: String,
    #[schema(required = false)]
    pub disabled: bool,
    #[schema(required = false)]
    pub created: i64,
    /// Live SNMS sessions.
    #[schema(required = false)]
    pub sessions: i64,
    #[schema(required = false)]
    pub hashed_login: bool,
    /// Only when the node generated it (create, password); shown once.
    #[schema(required = false)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct DayStat {
    /// Days since 1970-01-01 (UTC).
    #[schema(required = false)]
    pub day: i64,
    #[schema(required = false)]
    pub date: String,
    #[schema(required = false)]
    pub registrations: i64,
    #[schema(required = false)]
    pub resolutions: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PrefixStats {
    #[schema(required = false)]
    pub prefix: String,
    #[schema(required = false)]
    pub registrations: i64,
    #[schema(required = false)]
    pub resolutions: i64,
    #[schema(required = false)]
    pub days: Vec<DayStat>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminStats {
    #[schema(required = false)]
    pub from: String,
    #[schema(required = false)]
    pub to: String,
    #[schema(required = false)]
    pub from_day: i64,
    #[schema(required = false)]
    pub to_day: i64,
    #[schema(required = false)]
    pub prefixes: Vec<PrefixStats>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    #[schema(required = false)]
    pub seq: i64,
    #[schema(required = false)]
    pub time: i64,
    #[schema(required = false)]
    pub actor: String,
    #[schema(required = false)]
    pub action: String,
    #[schema(required = false)]
    pub target: String,
    #[schema(required = false)]
    pub outcome: String,
    /// Client address (or `cli`).
    #[schema(required = false)]
    pub client: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandleValueDataFormat {
    String,
    Base64,
    Hex,
    Admin,
    Vlist,
    Site,
    Key,
}

#[derive(Serialize, ToSchema)]
pub struct HandleValueData {
    #[schema(required = false)]
    pub format: HandleValueDataFormat,
    #[schema(required = false)]
    pub value: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum HandleValueTtl {
    V0(i64),
    V1(String),
}

/// A value as CNRI's REST API writes it (handle-protocol.md §8).
#[derive(Serialize, ToSchema)]
pub struct HandleValue {
    #[schema(required = false)]
    pub index: i64,
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub type_: String,
    #[schema(required = false)]
    pub data: HandleValueData,
    /// Four bits AR AW PR PW, e.g. `1110` (omitted when default).
    #[schema(required = false)]
    pub permissions: String,
    #[schema(required = false)]
    pub ttl: HandleValueTtl,
    #[schema(format = DateTime, required = false)]
    pub timestamp: String,
    #[schema(required = false)]
    pub references: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize, ToSchema)]
pub struct HandleValues {
    #[serde(rename = "responseCode")]
    #[schema(required = false)]
    pub response_code: i64,
    #[schema(required = false)]
    pub handle: String,
    #[schema(required = false)]
    pub values: Vec<HandleValue>,
}

#[derive(Serialize, ToSchema)]
pub struct HandleValuesInputV1 {
    #[schema(required = false)]
    pub values: Vec<HandleValue>,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum HandleValuesInput {
    V0(Vec<HandleValue>),
    V1(HandleValuesInputV1),
}

#[derive(Serialize, ToSchema)]
pub struct HandleOk {
    #[serde(rename = "responseCode")]
    #[schema(required = false)]
    pub response_code: i64,
    #[schema(required = false)]
    pub handle: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandleList {
    #[schema(required = false)]
    pub response_code: i64,
    #[schema(required = false)]
    pub prefix: String,
    #[schema(required = false)]
    pub total_count: String,
    #[schema(required = false)]
    pub page: i64,
    #[schema(required = false)]
    pub page_size: i64,
    #[schema(required = false)]
    pub handles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HandleSession {
    #[serde(rename = "sessionId")]
    #[schema(required = false)]
    pub session_id: String,
    #[schema(required = false)]
    pub nonce: String,
    #[schema(required = false)]
    pub authenticated: bool,
    #[schema(required = false)]
    pub id: String,
}

#[derive(Serialize, ToSchema)]
pub struct HandleErrorBody {
    /// Handle response code: 2 error, 4 protocol error, 100 not found, 101 exists, 102 invalid handle, 200 value not found, 201 value exists, 202 invalid value, 301 not homed here, 401 insufficient permissions, 402 authentication needed, 403 authentication failed.
    #[serde(rename = "responseCode")]
    #[schema(required = false)]
    pub response_code: i64,
    #[schema(required = false)]
    pub handle: String,
    #[schema(required = false)]
    pub message: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"message": "success", "status": 1, "data": null}))]
pub struct SnmsEnvelope {
    /// `success`, or the reason.
    pub message: String,
    pub status: i64,
    /// Endpoint-specific; null on failure.
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnmsPage {
    #[schema(required = false)]
    pub first: bool,
    #[schema(required = false)]
    pub last: bool,
    #[schema(required = false)]
    pub total_pages: i64,
    #[schema(required = false)]
    pub total_elements: i64,
    /// 1-based page number.
    #[schema(required = false)]
    pub number: i64,
    #[schema(required = false)]
    pub size: i64,
    #[schema(required = false)]
    pub sort: serde_json::Value,
    #[schema(required = false)]
    pub number_of_elements: i64,
    #[schema(required = false)]
    pub content: Vec<serde_json::Map<String, serde_json::Value>>,
}
