//! The schemas of the JSON bodies the HTTP APIs take and give (generated
//! document: `components.schemas`). Most bodies are built with
//! `serde_json::json!` by the handlers, so their shapes are described here
//! as types; nothing constructs them.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub enum AdminErrorErrorCode {
    #[serde(rename = "invalid")]
    Invalid,
    #[serde(rename = "limit")]
    Limit,
    #[serde(rename = "unauthenticated")]
    Unauthenticated,
    #[serde(rename = "insecure_channel")]
    InsecureChannel,
    #[serde(rename = "forbidden")]
    Forbidden,
    #[serde(rename = "not_found")]
    NotFound,
    #[serde(rename = "already_exists")]
    AlreadyExists,
    #[serde(rename = "rejected")]
    Rejected,
    #[serde(rename = "illegal_state")]
    IllegalState,
    #[serde(rename = "method_not_allowed")]
    MethodNotAllowed,
    #[serde(rename = "too_large")]
    TooLarge,
    #[serde(rename = "quota")]
    Quota,
    #[serde(rename = "rate_limited")]
    RateLimited,
    #[serde(rename = "internal")]
    Internal,
}

#[derive(Serialize, ToSchema)]
pub struct AdminErrorError {
    #[serde(rename = "code")]
    pub code: AdminErrorErrorCode,
    #[serde(rename = "message")]
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(rename = "field")]
    #[schema(required = true)]
    pub field: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "already_exists", "message": "88.118.8.1001/X already exists (overwrite=true replaces it)", "field": null}}))]
pub struct AdminError {
    #[serde(rename = "error")]
    pub error: AdminErrorError,
}

#[derive(Serialize, ToSchema)]
pub enum JsonValueDataV1Format {
    #[serde(rename = "base64")]
    Base64,
    #[serde(rename = "hex")]
    Hex,
    #[serde(rename = "string")]
    String,
}

#[derive(Serialize, ToSchema)]
pub struct JsonValueDataV1 {
    #[serde(rename = "format")]
    pub format: JsonValueDataV1Format,
    #[serde(rename = "value")]
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
    #[serde(rename = "handle")]
    #[schema(required = false)]
    pub handle: String,
    #[serde(rename = "index")]
    #[schema(required = false)]
    pub index: i64,
}

/// One handle value in the export format (idnode_registry::transfer).
#[derive(Serialize, ToSchema)]
pub struct JsonValue {
    #[serde(rename = "index")]
    #[schema(minimum = 0)]
    pub index: u64,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(rename = "data")]
    pub data: JsonValueData,
    #[serde(rename = "ttl")]
    #[schema(default = json!(86400), required = false)]
    pub ttl: i64,
    /// Bits admin-read 8, admin-write 4, public-read 2, public-write 1.
    #[serde(rename = "permissions")]
    #[schema(default = json!(14), minimum = 0, maximum = 15, required = false)]
    pub permissions: u64,
    /// Unix seconds; absent = the write time.
    #[serde(rename = "timestamp")]
    #[schema(required = false)]
    pub timestamp: i64,
    #[serde(rename = "ttl_type")]
    #[schema(default = json!(0), required = false)]
    pub ttl_type: i64,
    #[serde(rename = "references")]
    #[schema(required = false)]
    pub references: Vec<JsonValueReferencesItem>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"handle": "88.118.8.1001/LOT2026-000451", "values": [{"index": 1, "type": "URL", "data": "https://www.example.com/p/LOT2026-000451", "ttl": 86400, "permissions": 14, "timestamp": 1767225600}]}))]
pub struct JsonRecord {
    #[serde(rename = "handle")]
    pub handle: String,
    #[serde(rename = "values")]
    pub values: Vec<JsonValue>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResultError {
    #[serde(rename = "code")]
    #[schema(required = false)]
    pub code: String,
    #[serde(rename = "message")]
    #[schema(required = false)]
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    /// 1-based line of the request body.
    #[serde(rename = "line")]
    pub line: i64,
    #[serde(rename = "handle")]
    pub handle: Option<String>,
    #[serde(rename = "ok")]
    pub ok: bool,
    #[serde(rename = "error")]
    #[schema(required = false)]
    pub error: ImportResultError,
}

#[derive(Serialize, ToSchema)]
pub struct ImportSummaryLineSummary {
    #[serde(rename = "ok")]
    #[schema(required = false)]
    pub ok: i64,
    #[serde(rename = "failed")]
    #[schema(required = false)]
    pub failed: i64,
    #[serde(rename = "seconds")]
    #[schema(required = false)]
    pub seconds: f64,
    /// Present when the node stopped the import (a batch could not be committed).
    #[serde(rename = "error")]
    #[schema(required = false)]
    pub error: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportSummaryLine {
    #[serde(rename = "summary")]
    pub summary: ImportSummaryLineSummary,
}

#[derive(Serialize, ToSchema)]
pub enum AdminStatusRole {
    #[serde(rename = "secondary")]
    Secondary,
    #[serde(rename = "top")]
    Top,
    #[serde(rename = "mirror")]
    Mirror,
}

#[derive(Serialize, ToSchema)]
pub struct AdminStatus {
    #[serde(rename = "version")]
    #[schema(required = false)]
    pub version: String,
    #[serde(rename = "nodePrefix")]
    #[schema(required = false)]
    pub node_prefix: String,
    #[serde(rename = "role")]
    #[schema(required = false)]
    pub role: AdminStatusRole,
    #[serde(rename = "lastSeq")]
    #[schema(required = false)]
    pub last_seq: i64,
    #[serde(rename = "schema")]
    #[schema(required = false)]
    pub schema: i64,
    #[serde(rename = "nodeId")]
    #[schema(required = false)]
    pub node_id: String,
    #[serde(rename = "storeCreated")]
    #[schema(required = false)]
    pub store_created: i64,
    #[serde(rename = "time")]
    #[schema(required = false)]
    pub time: i64,
}

#[derive(Serialize, ToSchema)]
pub enum PrefixStateInputV0 {
    #[serde(rename = "disabled")]
    Disabled,
    #[serde(rename = "enabled")]
    Enabled,
    #[serde(rename = "pending-deletion")]
    PendingDeletion,
    #[serde(rename = "rejected")]
    Rejected,
    #[serde(rename = "awaiting-review")]
    AwaitingReview,
    #[serde(rename = "under-review")]
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
pub enum AdminPrefixState {
    #[serde(rename = "disabled")]
    Disabled,
    #[serde(rename = "enabled")]
    Enabled,
    #[serde(rename = "pending-deletion")]
    PendingDeletion,
    #[serde(rename = "rejected")]
    Rejected,
    #[serde(rename = "awaiting-review")]
    AwaitingReview,
    #[serde(rename = "under-review")]
    UnderReview,
}

#[derive(Serialize, ToSchema)]
pub enum AdminPrefixHosting {
    #[serde(rename = "not-hosted")]
    NotHosted,
    #[serde(rename = "hosting-requested")]
    HostingRequested,
    #[serde(rename = "hosting-rejected")]
    HostingRejected,
    #[serde(rename = "hosted")]
    Hosted,
}

#[derive(Serialize, ToSchema)]
pub enum AdminPrefixCasePolicy {
    #[serde(rename = "sensitive")]
    Sensitive,
    #[serde(rename = "insensitive")]
    Insensitive,
}

#[derive(Serialize, ToSchema)]
pub struct AdminPrefixQuota {
    #[serde(rename = "maxRegistrations")]
    pub max_registrations: Option<i64>,
    #[serde(rename = "dailyRequests")]
    pub daily_requests: Option<i64>,
}

/// GET of one prefix only.
#[derive(Serialize, ToSchema)]
pub struct AdminPrefixToday {
    #[serde(rename = "registrations")]
    #[schema(required = false)]
    pub registrations: i64,
    #[serde(rename = "resolutions")]
    #[schema(required = false)]
    pub resolutions: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AdminPrefix {
    #[serde(rename = "prefix")]
    #[schema(required = false)]
    pub prefix: String,
    #[serde(rename = "state")]
    #[schema(required = false)]
    pub state: AdminPrefixState,
    #[serde(rename = "stateCode")]
    #[schema(required = false)]
    pub state_code: i64,
    #[serde(rename = "hosting")]
    #[schema(required = false)]
    pub hosting: AdminPrefixHosting,
    #[serde(rename = "hostingCode")]
    #[schema(required = false)]
    pub hosting_code: i64,
    #[serde(rename = "homed")]
    #[schema(required = false)]
    pub homed: bool,
    #[serde(rename = "selfHostedSite")]
    #[schema(required = false)]
    pub self_hosted_site: bool,
    #[serde(rename = "enterpriseId")]
    pub enterprise_id: Option<i64>,
    #[serde(rename = "enterpriseName")]
    pub enterprise_name: Option<String>,
    #[serde(rename = "casePolicy")]
    #[schema(required = false)]
    pub case_policy: AdminPrefixCasePolicy,
    #[serde(rename = "proxyServerId")]
    pub proxy_server_id: Option<i64>,
    #[serde(rename = "quota")]
    #[schema(required = false)]
    pub quota: AdminPrefixQuota,
    #[serde(rename = "description")]
    #[schema(required = false)]
    pub description: String,
    #[serde(rename = "created")]
    #[schema(required = false)]
    pub created: i64,
    #[serde(rename = "updated")]
    #[schema(required = false)]
    pub updated: i64,
    /// All-time registrations.
    #[serde(rename = "registrations")]
    #[schema(required = false)]
    pub registrations: i64,
    /// All-time resolutions.
    #[serde(rename = "resolutions")]
    #[schema(required = false)]
    pub resolutions: i64,
    /// GET of one prefix only.
    #[serde(rename = "records")]
    #[schema(required = false)]
    pub records: i64,
    /// GET of one prefix only.
    #[serde(rename = "today")]
    #[schema(required = false)]
    pub today: AdminPrefixToday,
}

#[derive(Serialize, ToSchema)]
pub struct AdminEnterpriseContact {
    #[serde(rename = "name")]
    #[schema(required = false)]
    pub name: String,
    #[serde(rename = "email")]
    #[schema(required = false)]
    pub email: String,
    #[serde(rename = "phone")]
    #[schema(required = false)]
    pub phone: String,
}

#[derive(Serialize, ToSchema)]
pub enum AdminEnterpriseStatus {
    #[serde(rename = "pending")]
    Pending,
    #[serde(rename = "approved")]
    Approved,
    #[serde(rename = "rejected")]
    Rejected,
    #[serde(rename = "disabled")]
    Disabled,
}

#[derive(Serialize, ToSchema)]
pub struct AdminEnterprise {
    #[serde(rename = "id")]
    #[schema(required = false)]
    pub id: i64,
    #[serde(rename = "name")]
    #[schema(required = false)]
    pub name: String,
    #[serde(rename = "creditCode")]
    #[schema(required = false)]
    pub credit_code: String,
    #[serde(rename = "nature")]
    #[schema(required = false)]
    pub nature: i64,
    #[serde(rename = "address")]
    #[schema(required = false)]
    pub address: String,
    #[serde(rename = "region")]
    #[schema(required = false)]
    pub region: Vec<String>,
    #[serde(rename = "website")]
    #[schema(required = false)]
    pub website: String,
    #[serde(rename = "industry")]
    #[schema(required = false)]
    pub industry: String,
    #[serde(rename = "description")]
    #[schema(required = false)]
    pub description: String,
    #[serde(rename = "contact")]
    #[schema(required = false)]
    pub contact: AdminEnterpriseContact,
    #[serde(rename = "status")]
    #[schema(required = false)]
    pub status: AdminEnterpriseStatus,
    #[serde(rename = "created")]
    #[schema(required = false)]
    pub created: i64,
    #[serde(rename = "updated")]
    #[schema(required = false)]
    pub updated: i64,
    #[serde(rename = "prefixes")]
    #[schema(required = false)]
    pub prefixes: Vec<String>,
    /// Filing fields (GET of one enterprise).
    #[serde(rename = "extra")]
    #[schema(required = false)]
    pub extra: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub enum AdminTemplateItemMetadataType {
    #[serde(rename = "string")]
    String,
}

#[derive(Serialize, ToSchema)]
pub struct AdminTemplateItemMetadata {
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub type_: AdminTemplateItemMetadataType,
    #[serde(rename = "minLength")]
    pub min_length: Option<i64>,
    #[serde(rename = "maxLength")]
    pub max_length: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminTemplateItem {
    #[serde(rename = "name")]
    #[schema(required = false)]
    pub name: String,
    #[serde(rename = "idType")]
    #[schema(required = false)]
    pub id_type: String,
    #[serde(rename = "idIndex")]
    #[schema(minimum = 2000, required = false)]
    pub id_index: u64,
    #[serde(rename = "required")]
    #[schema(required = false)]
    pub required: bool,
    #[serde(rename = "state")]
    #[schema(required = false)]
    pub state: i64,
    #[serde(rename = "metadataId")]
    #[schema(required = false)]
    pub metadata_id: i64,
    #[serde(rename = "metadata")]
    #[schema(required = false)]
    pub metadata: AdminTemplateItemMetadata,
}

#[derive(Serialize, ToSchema)]
pub struct AdminTemplate {
    #[serde(rename = "id")]
    #[schema(required = false)]
    pub id: i64,
    #[serde(rename = "prefix")]
    #[schema(required = false)]
    pub prefix: String,
    #[serde(rename = "version")]
    #[schema(required = false)]
    pub version: String,
    #[serde(rename = "description")]
    #[schema(required = false)]
    pub description: String,
    #[serde(rename = "industryCategory")]
    #[schema(required = false)]
    pub industry_category: String,
    #[serde(rename = "industrySpecific")]
    #[schema(required = false)]
    pub industry_specific: String,
    #[serde(rename = "industryTrade")]
    #[schema(required = false)]
    pub industry_trade: String,
    #[serde(rename = "industrySubclass")]
    #[schema(required = false)]
    pub industry_subclass: String,
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub type_: i64,
    #[serde(rename = "handle")]
    pub handle: Option<String>,
    #[serde(rename = "created")]
    #[schema(required = false)]
    pub created: i64,
    #[serde(rename = "updated")]
    #[schema(required = false)]
    pub updated: i64,
    #[serde(rename = "items")]
    #[schema(required = false)]
    pub items: Vec<AdminTemplateItem>,
}

/// SNMS v5 template fields; `prefix`/`version` may repeat the path's; `id`, `handle`, `created`, `updated` and items' `metadataId` are ignored (a template read with GET can be put back).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminTemplateInput {
    #[serde(rename = "prefix")]
    #[schema(required = false)]
    pub prefix: String,
    #[serde(rename = "version")]
    #[schema(required = false)]
    pub version: String,
    #[serde(rename = "description")]
    #[schema(required = false)]
    pub description: String,
    #[serde(rename = "industryCategory")]
    #[schema(required = false)]
    pub industry_category: String,
    #[serde(rename = "industrySpecific")]
    #[schema(required = false)]
    pub industry_specific: String,
    #[serde(rename = "industryTrade")]
    #[schema(required = false)]
    pub industry_trade: String,
    #[serde(rename = "industrySubclass")]
    #[schema(required = false)]
    pub industry_subclass: String,
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub type_: i64,
    #[serde(rename = "items")]
    #[schema(required = false)]
    pub items: Vec<AdminTemplateItem>,
    #[serde(rename = "id")]
    #[schema(required = false)]
    pub id: serde_json::Value,
    #[serde(rename = "handle")]
    #[schema(required = false)]
    pub handle: serde_json::Value,
    #[serde(rename = "created")]
    #[schema(required = false)]
    pub created: serde_json::Value,
    #[serde(rename = "updated")]
    #[schema(required = false)]
    pub updated: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub enum AdminUserRole {
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "enterprise")]
    Enterprise,
    #[serde(rename = "auditor")]
    Auditor,
}

#[derive(Serialize, ToSchema)]
pub struct AdminUser {
    #[serde(rename = "username")]
    #[schema(required = false)]
    pub username: String,
    #[serde(rename = "role")]
    #[schema(required = false)]
    pub role: AdminUserRole,
    #[serde(rename = "enterpriseId")]
    pub enterprise_id: Option<i64>,
    #[serde(rename = "email")]
    #[schema(required = false)]
    pub email: String,
    #[serde(rename = "mobile")]
    #[schema(required = false)]
    pub mobile: String,
    #[serde(rename = "disabled")]
    #[schema(required = false)]
    pub disabled: bool,
    #[serde(rename = "created")]
    #[schema(required = false)]
    pub created: i64,
    /// Live SNMS sessions.
    #[serde(rename = "sessions")]
    #[schema(required = false)]
    pub sessions: i64,
    #[serde(rename = "hashedLogin")]
    #[schema(required = false)]
    pub hashed_login: bool,
    /// Only when the node generated it (create, password); shown once.
    #[serde(rename = "password")]
    #[schema(required = false)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct DayStat {
    /// Days since 1970-01-01 (UTC).
    #[serde(rename = "day")]
    #[schema(required = false)]
    pub day: i64,
    #[serde(rename = "date")]
    #[schema(required = false)]
    pub date: String,
    #[serde(rename = "registrations")]
    #[schema(required = false)]
    pub registrations: i64,
    #[serde(rename = "resolutions")]
    #[schema(required = false)]
    pub resolutions: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PrefixStats {
    #[serde(rename = "prefix")]
    #[schema(required = false)]
    pub prefix: String,
    #[serde(rename = "registrations")]
    #[schema(required = false)]
    pub registrations: i64,
    #[serde(rename = "resolutions")]
    #[schema(required = false)]
    pub resolutions: i64,
    #[serde(rename = "days")]
    #[schema(required = false)]
    pub days: Vec<DayStat>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminStats {
    #[serde(rename = "from")]
    #[schema(required = false)]
    pub from: String,
    #[serde(rename = "to")]
    #[schema(required = false)]
    pub to: String,
    #[serde(rename = "fromDay")]
    #[schema(required = false)]
    pub from_day: i64,
    #[serde(rename = "toDay")]
    #[schema(required = false)]
    pub to_day: i64,
    #[serde(rename = "prefixes")]
    #[schema(required = false)]
    pub prefixes: Vec<PrefixStats>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    #[serde(rename = "seq")]
    #[schema(required = false)]
    pub seq: i64,
    #[serde(rename = "time")]
    #[schema(required = false)]
    pub time: i64,
    #[serde(rename = "actor")]
    #[schema(required = false)]
    pub actor: String,
    #[serde(rename = "action")]
    #[schema(required = false)]
    pub action: String,
    #[serde(rename = "target")]
    #[schema(required = false)]
    pub target: String,
    #[serde(rename = "outcome")]
    #[schema(required = false)]
    pub outcome: String,
    /// Client address (or `cli`).
    #[serde(rename = "client")]
    #[schema(required = false)]
    pub client: String,
}

#[derive(Serialize, ToSchema)]
pub enum HandleValueDataFormat {
    #[serde(rename = "string")]
    String,
    #[serde(rename = "base64")]
    Base64,
    #[serde(rename = "hex")]
    Hex,
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "vlist")]
    Vlist,
    #[serde(rename = "site")]
    Site,
    #[serde(rename = "key")]
    Key,
}

#[derive(Serialize, ToSchema)]
pub struct HandleValueData {
    #[serde(rename = "format")]
    #[schema(required = false)]
    pub format: HandleValueDataFormat,
    #[serde(rename = "value")]
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
    #[serde(rename = "index")]
    #[schema(required = false)]
    pub index: i64,
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub type_: String,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: HandleValueData,
    /// Four bits AR AW PR PW, e.g. `1110` (omitted when default).
    #[serde(rename = "permissions")]
    #[schema(required = false)]
    pub permissions: String,
    #[serde(rename = "ttl")]
    #[schema(required = false)]
    pub ttl: HandleValueTtl,
    #[serde(rename = "timestamp")]
    #[schema(format = DateTime, required = false)]
    pub timestamp: String,
    #[serde(rename = "references")]
    #[schema(required = false)]
    pub references: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize, ToSchema)]
pub struct HandleValues {
    #[serde(rename = "responseCode")]
    #[schema(required = false)]
    pub response_code: i64,
    #[serde(rename = "handle")]
    #[schema(required = false)]
    pub handle: String,
    #[serde(rename = "values")]
    #[schema(required = false)]
    pub values: Vec<HandleValue>,
}

#[derive(Serialize, ToSchema)]
pub struct HandleValuesInputV1 {
    #[serde(rename = "values")]
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
    #[serde(rename = "handle")]
    #[schema(required = false)]
    pub handle: String,
}

#[derive(Serialize, ToSchema)]
pub struct HandleList {
    #[serde(rename = "responseCode")]
    #[schema(required = false)]
    pub response_code: i64,
    #[serde(rename = "prefix")]
    #[schema(required = false)]
    pub prefix: String,
    #[serde(rename = "totalCount")]
    #[schema(required = false)]
    pub total_count: String,
    #[serde(rename = "page")]
    #[schema(required = false)]
    pub page: i64,
    #[serde(rename = "pageSize")]
    #[schema(required = false)]
    pub page_size: i64,
    #[serde(rename = "handles")]
    #[schema(required = false)]
    pub handles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HandleSession {
    #[serde(rename = "sessionId")]
    #[schema(required = false)]
    pub session_id: String,
    #[serde(rename = "nonce")]
    #[schema(required = false)]
    pub nonce: String,
    #[serde(rename = "authenticated")]
    #[schema(required = false)]
    pub authenticated: bool,
    #[serde(rename = "id")]
    #[schema(required = false)]
    pub id: String,
}

#[derive(Serialize, ToSchema)]
pub struct HandleErrorBody {
    /// Handle response code: 2 error, 4 protocol error, 100 not found, 101 exists, 102 invalid handle, 200 value not found, 201 value exists, 202 invalid value, 301 not homed here, 401 insufficient permissions, 402 authentication needed, 403 authentication failed.
    #[serde(rename = "responseCode")]
    #[schema(required = false)]
    pub response_code: i64,
    #[serde(rename = "handle")]
    #[schema(required = false)]
    pub handle: String,
    #[serde(rename = "message")]
    #[schema(required = false)]
    pub message: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"message": "success", "status": 1, "data": null}))]
pub struct SnmsEnvelope {
    /// `success`, or the reason.
    #[serde(rename = "message")]
    pub message: String,
    #[serde(rename = "status")]
    pub status: i64,
    /// Endpoint-specific; null on failure.
    #[serde(rename = "data")]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsPage {
    #[serde(rename = "first")]
    #[schema(required = false)]
    pub first: bool,
    #[serde(rename = "last")]
    #[schema(required = false)]
    pub last: bool,
    #[serde(rename = "totalPages")]
    #[schema(required = false)]
    pub total_pages: i64,
    #[serde(rename = "totalElements")]
    #[schema(required = false)]
    pub total_elements: i64,
    /// 1-based page number.
    #[serde(rename = "number")]
    #[schema(required = false)]
    pub number: i64,
    #[serde(rename = "size")]
    #[schema(required = false)]
    pub size: i64,
    #[serde(rename = "sort")]
    #[schema(required = false)]
    pub sort: serde_json::Value,
    #[serde(rename = "numberOfElements")]
    #[schema(required = false)]
    pub number_of_elements: i64,
    #[serde(rename = "content")]
    #[schema(required = false)]
    pub content: Vec<serde_json::Map<String, serde_json::Value>>,
}
