//! The HTTP APIs on the HTTP(S) door: the Handle REST API (`rest`), the
//! SNMS-compatible API (`snms`) and the admin API used by the CLI (`admin`).
//! Each submodule exposes `router(ApiDeps) -> axum::Router` with its state
//! already applied; [`router`] merges them. Handlers stay thin: parse and
//! validate input, call the registry service / store under
//! `spawn_blocking`, map errors to the API's own error body at one place.

use std::sync::Arc;

use axum::Router;
use idnode_registry::store::Store;

use crate::config::Config;

/// What every API handler may use.
#[derive(Clone, Debug)]
pub struct ApiDeps {
    pub store: Arc<dyn Store>,
    pub cfg: Arc<Config>,
}

/// Every API route, merged.
pub fn router(deps: ApiDeps) -> Router {
    let _ = deps;
    Router::new()
}
