//! The HTTP APIs on the HTTP(S) door: the Handle REST API (`rest`), the
//! SNMS-compatible API (`snms`) and the admin API used by the CLI (`admin`).
//! Each submodule exposes `router(ApiDeps) -> axum::Router` with its state
//! already applied; [`router`] merges them. Handlers stay thin: parse and
//! validate input, call the registry service / store under
//! `spawn_blocking`, map errors to the API's own error body at one place.
//! `auth` extracts and checks HTTP credentials for the APIs that take them.

pub mod admin;
pub mod auth;
pub mod rest;
pub mod snms;

use std::sync::Arc;

use axum::Router;
use idnode_registry::store::Store;

use crate::config::Config;

/// What every API handler may use.
#[derive(Clone, Debug)]
pub struct ApiDeps {
    pub store: Arc<dyn Store>,
    pub cfg: Arc<Config>,
    /// This node's HS_SITE record (handle-protocol.md §4.3 bytes), as the
    /// Handle doors publish it; empty when not known (in-process tests).
    pub site_record: Arc<[u8]>,
    /// The federation outbox's status (`idnode stats`), when it runs.
    pub outbox: Option<Arc<crate::federation::OutboxStatus>>,
}

impl ApiDeps {
    /// Deps with an empty site record.
    pub fn new(store: Arc<dyn Store>, cfg: Arc<Config>) -> Self {
        ApiDeps { store, cfg, site_record: Arc::from(Vec::new()), outbox: None }
    }
}

/// Every API route, merged.
pub fn router(deps: ApiDeps) -> Router {
    Router::new().merge(rest::router(deps.clone())).merge(snms::router(deps.clone())).merge(admin::router(deps))
}

/// The pairs of a URL query string, percent-decoded (`+` is a space, as in
/// forms); a key without `=` has an empty value. Shared by the REST and
/// admin APIs.
pub(crate) fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let dec = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    q.unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (dec(k), dec(v)),
            None => (dec(kv), String::new()),
        })
        .collect()
}
