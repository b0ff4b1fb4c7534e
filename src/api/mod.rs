//! The HTTP APIs on the HTTP(S) door: the Handle REST API (`rest`), the
//! SNMS-compatible API (`snms`) and the admin API used by the CLI (`admin`).
//! Each submodule exposes `router(ApiDeps) -> axum::Router` with its state
//! already applied; [`router`] merges them. Handlers stay thin: parse and
//! validate input, call the registry service ([`ApiDeps::reg`]: every
//! write) or read the store under `spawn_blocking`, map errors to the API's own error body at one place.
//! `auth` extracts and checks HTTP credentials for the APIs that take them.

pub mod admin;
pub mod auth;
pub mod errors;
pub mod openapi;
pub mod rest;
pub mod snms;

use std::sync::Arc;

use axum::Router;
use idnode_registry::service::Registrar;
use idnode_registry::store::Store;

use crate::config::Config;
use auth::sealed::Sealer;
use auth::throttle::LoginThrottle;

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
    /// The mirror follower's status (`idnode stats`), on a mirror.
    pub mirror: Option<Arc<crate::federation::mirror::MirrorStatus>>,
    /// Failed-login budgets shared by every API.
    pub throttle: Arc<LoginThrottle>,
    /// Seals the SNMS hashed-login verifiers at rest (key in the data dir,
    /// loaded on first use).
    pub sealer: Arc<Sealer>,
    /// The registry service: the ONE write path (quotas with one
    /// reservation ledger, audit, change log) shared by every door; the
    /// daemon hands the same instance to the Handle engine.
    pub reg: Arc<Registrar>,
    /// The reverse link index (issue 12), one per store.
    pub refs: Arc<idnode_registry::service::refs::RefIndex>,
    /// The node's server key: landing pages are signed with it when set.
    pub signer: Option<Arc<idnode_resolver::auth::sign::ServerSigner>>,
}

impl ApiDeps {
    /// Deps with an empty site record.
    pub fn new(store: Arc<dyn Store>, cfg: Arc<Config>) -> Self {
        let throttle = Arc::new(LoginThrottle::new(&cfg.http.limits));
        let sealer = Arc::new(Sealer::in_data_dir(cfg.data_dir()));
        let reg = Arc::new(Registrar::new(store.clone(), snms::limits_of(&cfg)));
        let refs = Arc::new(idnode_registry::service::refs::RefIndex::new(store.clone()));
        ApiDeps {
            store,
            cfg,
            site_record: Arc::from(Vec::new()),
            outbox: None,
            mirror: None,
            throttle,
            sealer,
            reg,
            refs,
            signer: None,
        }
    }
}

/// The public HTTP door's API routes (REST and SNMS); the admin API is
/// served on its own listener ([`admin::router`]).
pub fn router(deps: ApiDeps) -> Router {
    Router::new()
        .merge(rest::router(deps.clone()))
        .merge(snms::router(deps.clone()))
        .merge(admin::openapi::router())
        .merge(crate::web::router(deps))
}

/// The pairs of a URL's query string through axum's `Query` extractor
/// (percent-decoded, `+` is a space as in forms; a key without `=` has an
/// empty value), in order. Shared by the REST, SNMS and admin APIs.
pub(crate) fn query_pairs(uri: &axum::http::Uri) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri).map(|q| q.0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_like_forms() {
        let uri: axum::http::Uri = "/x?a=1&b=x%2Fy+z&flag&a=2&&c=%E4%B8%AD".parse().unwrap();
        let got = query_pairs(&uri);
        let want = [("a", "1"), ("b", "x/y z"), ("flag", ""), ("a", "2"), ("c", "中")];
        assert_eq!(got, want.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec());
        assert!(query_pairs(&"/x".parse().unwrap()).is_empty());
    }
}
