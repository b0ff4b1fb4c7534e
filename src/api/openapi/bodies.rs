//! The request and response bodies of single operations (inline in the
//! document), built on [`super::schemas`]. Most bodies are built with
//! `serde_json::json!` by the handlers, so their shapes are described here
//! as types; nothing constructs them.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

use super::schemas::*;

#[derive(Serialize, ToSchema)]
pub struct RestPrefixesStatus200 {
    #[serde(rename = "responseCode")]
    #[schema(required = false)]
    pub response_code: i64,
    #[serde(rename = "prefixes")]
    #[schema(required = false)]
    pub prefixes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RestSiteStatus200 {
    #[serde(rename = "responseCode")]
    #[schema(required = false)]
    pub response_code: i64,
    #[serde(rename = "site")]
    #[schema(required = false)]
    pub site: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsLoginBody {
    #[serde(rename = "username")]
    pub username: String,
    #[serde(rename = "password")]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsLoginStatus200Data {
    #[serde(rename = "token")]
    #[schema(required = false)]
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsLoginStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: SnmsLoginStatus200Data,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsLoginV1Body {
    #[serde(rename = "username")]
    pub username: String,
    #[serde(rename = "password")]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsLoginV1Status200Data {
    #[serde(rename = "token")]
    #[schema(required = false)]
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsLoginV1Status200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: SnmsLoginV1Status200Data,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsRegistryStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsDataCreateStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsDataUpdateStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsDataDeleteStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsDataDetailStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsBatchCreateStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsBatchUpdateStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsBatchDeleteStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsTemplateGetV5Status200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsTemplateCreateV5Status200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsTemplateEditV5Status200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsTemplateDeleteV5Status200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsTemplateGetV3Status200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsTemplateCreateV3Status200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsTemplateDeleteV3Status200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsPrefixQueryStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsPrefixPageStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: SnmsPage,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsEntConfigStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsEntApplyV3Status200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsEntApplyStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsEntUpgradeApplyStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsEntPageStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: SnmsPage,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsEntDetailStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsFileUploadBody {
    #[serde(rename = "file")]
    #[schema(required = false)]
    pub file: String,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsFileUploadStatus200 {
    #[serde(flatten)]
    pub base0: SnmsEnvelope,
    #[serde(rename = "data")]
    #[schema(required = false)]
    pub data: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AdminRecordPutStatus200 {
    #[serde(rename = "handle")]
    #[schema(required = false)]
    pub handle: String,
    /// Change-log sequence of the write.
    #[serde(rename = "seq")]
    #[schema(required = false)]
    pub seq: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AdminRecordDeleteStatus200 {
    #[serde(rename = "handle")]
    #[schema(required = false)]
    pub handle: String,
    #[serde(rename = "deleted")]
    #[schema(required = false)]
    pub deleted: bool,
    #[serde(rename = "seq")]
    #[schema(required = false)]
    pub seq: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum AdminImportStatus200 {
    V0(ImportResult),
    V1(ImportSummaryLine),
}

#[derive(Serialize, ToSchema)]
pub struct AdminPrefixListStatus200 {
    #[serde(rename = "prefixes")]
    #[schema(required = false)]
    pub prefixes: Vec<AdminPrefix>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminEnterpriseListStatus200 {
    #[serde(rename = "enterprises")]
    #[schema(required = false)]
    pub enterprises: Vec<AdminEnterprise>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminTemplateListStatus200 {
    #[serde(rename = "templates")]
    #[schema(required = false)]
    pub templates: Vec<AdminTemplate>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminTemplateDeleteStatus200 {
    #[serde(rename = "prefix")]
    #[schema(required = false)]
    pub prefix: String,
    #[serde(rename = "version")]
    #[schema(required = false)]
    pub version: String,
    #[serde(rename = "deleted")]
    #[schema(required = false)]
    pub deleted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AdminUserListStatus200 {
    #[serde(rename = "users")]
    #[schema(required = false)]
    pub users: Vec<AdminUser>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminStatsPersistStatus200 {
    #[serde(rename = "persisted")]
    #[schema(required = false)]
    pub persisted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AdminAuditStatus200 {
    #[serde(rename = "entries")]
    #[schema(required = false)]
    pub entries: Vec<AuditEntry>,
}
