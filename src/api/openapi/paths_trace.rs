//! `/api/trace/{identifier}` and `/api/label/{identifier}` (handlers in
//! `web::trace_api` and `web::label`; on the public door when `web.pages`
//! is on, and always on the admin door).
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

/// Which links a trace follows.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TraceDirection {
    Up,
    Down,
    Both,
}

/// A node's state in the graph.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TraceNodeStatus {
    /// Stored here.
    Found,
    /// Linked from here but stored nowhere we know.
    Missing,
    /// Stored under a prefix another node serves.
    Foreign,
}

/// A value's data: UTF-8 text as `string`, anything else as `hex`.
#[derive(Serialize, ToSchema)]
pub struct TraceData {
    #[schema(example = "string")]
    format: String,
    value: String,
}

/// A public value of a node.
#[derive(Serialize, ToSchema)]
pub struct TraceValue {
    index: u32,
    #[serde(rename = "type")]
    kind: String,
    data: TraceData,
    /// Unix seconds.
    timestamp: i64,
}

/// An identifier in the chain.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceNode {
    id: String,
    /// Links from the root.
    depth: u32,
    status: TraceNodeStatus,
    values: Vec<TraceValue>,
    /// More links than `fanout` leave this node.
    fanout_truncated: bool,
    /// Its links were followed.
    expanded: bool,
}

/// A link between two nodes.
#[derive(Serialize, ToSchema)]
pub struct TraceEdge {
    from: String,
    to: String,
    relation: String,
}

/// The chain around an identifier.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceGraph {
    /// Always 1.
    response_code: u32,
    root: String,
    direction: TraceDirection,
    depth: u32,
    nodes: Vec<TraceNode>,
    edges: Vec<TraceEdge>,
    /// A link leads back to a node already in the graph.
    cycle: bool,
    /// The walk stopped at a limit.
    truncated: bool,
    offset: u64,
    /// The `offset` of the next page, when there is one.
    next_offset: Option<u64>,
}

/// The error body of the trace and label endpoints.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceError {
    /// 2 bad request or internal error, 100 not found.
    response_code: u32,
    #[schema(required = false)]
    handle: String,
    message: String,
}

#[utoipa::path(
    get,
    path = "/api/trace/{identifier}",
    tag = "trace",
    operation_id = "traceChain",
    summary = "Trace an identifier's chain",
    description = "The chain query of `registry::service::trace`: the identifiers linked to and from this one (nodes with their public values, edges with their relations), as JSON or as an EPCIS 2.0 document (`format=epcis`). Bad parameters are 400 naming the parameter; an identifier neither stored here nor linked from here is 404.",
    params(
        ("identifier" = String, Path, description = "The identifier, raw after `/api/trace/` (slashes unencoded)."),
        ("direction" = Option<TraceDirection>, Query, description = "Follow links up (to parents), down (to children) or both (default)."),
        ("depth" = Option<u32>, Query, description = "Links to follow from the root, 0..=10.", maximum = 10),
        ("relations" = Option<String>, Query, description = "Only these relations, comma-separated."),
        ("fanout" = Option<u32>, Query, description = "Links followed per node, 1..=1000.", maximum = 1000),
        ("offset" = Option<u32>, Query, description = "Nodes to skip (paging), 0..=10000.", maximum = 10000),
        ("limit" = Option<u32>, Query, description = "Nodes per page, 1..=1000.", maximum = 1000),
        ("format" = Option<String>, Query, description = "`graph` (default, also `json`) or `epcis`.")
    ),
    responses(
        (status = 200, description = "The graph (or, with `format=epcis`, an EPCIS 2.0 document).", body = TraceGraph),
        (status = 400, description = "A bad parameter or identifier; `message` names it.", body = TraceError),
        (status = 404, description = "The identifier is neither stored here nor linked from here.", body = TraceError),
        (status = 500, description = "Store failure.", body = TraceError)
    )
)]
pub(super) fn trace_chain() {}

#[utoipa::path(
    get,
    path = "/api/label/{identifier}",
    tag = "trace",
    operation_id = "traceLabel",
    summary = "A printable QR label",
    description = "A QR code of the identifier's landing-page URL with the identifier printed under it, as SVG (default) or PNG. 404 when the identifier has no record here.",
    params(
        ("identifier" = String, Path, description = "The identifier, raw after `/api/label/` (slashes unencoded)."),
        ("format" = Option<String>, Query, description = "`svg` (default) or `png`.")
    ),
    responses(
        (status = 200, description = "The label.", content(
            (String = "image/svg+xml"),
            (Vec<u8> = "image/png")
        )),
        (status = 400, description = "Bad `format`, malformed identifier, or too long for a QR code.", body = TraceError),
        (status = 404, description = "No record for the identifier here.", body = TraceError)
    )
)]
pub(super) fn trace_label() {}

/// The trace and label operations.
#[derive(utoipa::OpenApi)]
#[openapi(paths(trace_chain, trace_label))]
pub(super) struct Paths;
