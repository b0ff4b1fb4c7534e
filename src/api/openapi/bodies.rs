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
    #[schema(required = false)]
    pub prefixes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RestSiteStatus200 {
    #[serde(rename = "responseCode")]
    #[schema(required = false)]
    pub response_code: i64,
    #[schema(required = false)]
    pub site: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsLoginBody {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsLoginStatus200Data {
    #[schema(required = false)]
    pub token: String,
}

/// Declares the answers of SNMS operations: each the envelope
/// ([`SnmsEnvelope`]) with that operation's `data`, a named schema of its own.
macro_rules! snms_answers {
    ($($name:ident => $data:ty,)*) => {$(
        #[derive(Serialize, ToSchema)]
        pub struct $name {
            #[serde(flatten)]
            pub base0: SnmsEnvelope,
            #[schema(required = false)]
            pub data: $data,
        }
    )*};
}

snms_answers! {
    SnmsLoginStatus200 => SnmsLoginStatus200Data,
    SnmsLoginV1Status200 => SnmsLoginV1Status200Data,
    SnmsRegistryStatus200 => serde_json::Value,
    SnmsDataCreateStatus200 => serde_json::Value,
    SnmsDataUpdateStatus200 => serde_json::Value,
    SnmsDataDeleteStatus200 => serde_json::Value,
    SnmsDataDetailStatus200 => serde_json::Map<String, serde_json::Value>,
    SnmsBatchCreateStatus200 => serde_json::Value,
    SnmsBatchUpdateStatus200 => serde_json::Value,
    SnmsBatchDeleteStatus200 => serde_json::Value,
    SnmsTemplateGetV5Status200 => serde_json::Map<String, serde_json::Value>,
    SnmsTemplateCreateV5Status200 => serde_json::Value,
    SnmsTemplateEditV5Status200 => serde_json::Value,
    SnmsTemplateDeleteV5Status200 => serde_json::Value,
    SnmsTemplateGetV3Status200 => serde_json::Map<String, serde_json::Value>,
    SnmsTemplateCreateV3Status200 => serde_json::Value,
    SnmsTemplateDeleteV3Status200 => serde_json::Value,
    SnmsPrefixQueryStatus200 => serde_json::Map<String, serde_json::Value>,
    SnmsPrefixPageStatus200 => SnmsPage,
    SnmsEntConfigStatus200 => serde_json::Value,
    SnmsEntApplyV3Status200 => serde_json::Value,
    SnmsEntApplyStatus200 => serde_json::Value,
    SnmsEntUpgradeApplyStatus200 => serde_json::Value,
    SnmsEntPageStatus200 => SnmsPage,
    SnmsEntDetailStatus200 => serde_json::Map<String, serde_json::Value>,
    SnmsFileUploadStatus200 => i64,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsLoginV1Body {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsLoginV1Status200Data {
    #[schema(required = false)]
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct SnmsFileUploadBody {
    #[schema(required = false)]
    pub file: String,
}

#[derive(Serialize, ToSchema)]
pub struct AdminRecordPutStatus200 {
    #[schema(required = false)]
    pub handle: String,
    /// Change-log sequence of the write.
    #[schema(required = false)]
    pub seq: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AdminRecordDeleteStatus200 {
    #[schema(required = false)]
    pub handle: String,
    #[schema(required = false)]
    pub deleted: bool,
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
    #[schema(required = false)]
    pub prefixes: Vec<AdminPrefix>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminEnterpriseListStatus200 {
    #[schema(required = false)]
    pub enterprises: Vec<AdminEnterprise>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminTemplateListStatus200 {
    #[schema(required = false)]
    pub templates: Vec<AdminTemplate>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminTemplateDeleteStatus200 {
    #[schema(required = false)]
    pub prefix: String,
    #[schema(required = false)]
    pub version: String,
    #[schema(required = false)]
    pub deleted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AdminUserListStatus200 {
    #[schema(required = false)]
    pub users: Vec<AdminUser>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminStatsPersistStatus200 {
    #[schema(required = false)]
    pub persisted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AdminAuditStatus200 {
    #[schema(required = false)]
    pub entries: Vec<AuditEntry>,
}
