//! The operations of the `operations` tag, one `#[utoipa::path]` per route and
//! method (the route tables are in the API modules; a test checks both agree).
#![allow(dead_code)]

#[allow(unused_imports)]
use super::bodies::*;
#[allow(unused_imports)]
use super::schemas::*;

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    summary = "Liveness",
    description = "Answers `ok` while the process runs.",
    responses(
        (status = 200, description = "The process is alive.", body = String, content_type = "text/plain")
    )
)]
pub(super) fn healthz() {}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    summary = "Readiness",
    description = "200 once every door is bound and serving; 503 before that and during the shutdown drain.",
    responses(
        (status = 200, description = "Ready.", body = String, content_type = "text/plain"),
        (status = 503, description = "Starting or shutting down.", body = String, content_type = "text/plain")
    )
)]
pub(super) fn readyz() {}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    description = "Prometheus text exposition format 0.0.4: `idnode_requests_total{door,opcode,rc}`, `idnode_request_duration_seconds{door}`, `idnode_udp_dropped_total{reason}`, `idnode_tcp_refused_total{door}`, `idnode_tcp_connections{door}`, `idnode_store_records`.",
    responses(
        (status = 200, description = "Metrics.", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8")
    )
)]
pub(super) fn metrics() {}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    summary = "This document",
    description = "The OpenAPI 3.1 document of every HTTP API of the node (the committed file docs/openapi.json).",
    responses(
        (status = 200, description = "The document.", body = serde_json::Map<String, serde_json::Value>, content_type = "application/json")
    )
)]
pub(super) fn openapi() {}

/// The `operations` operations.
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz, metrics, openapi))]
pub(super) struct Paths;
