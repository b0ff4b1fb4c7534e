//! `GET /api/trace/{identifier}?direction=up|down|both&depth=N&relations=a,b
//! &fanout=N&offset=N&limit=N[&format=epcis]`: the chain query of
//! `registry::service::trace` as JSON (nodes with their public values,
//! edges with relations) or as an EPCIS 2.0 document ([`super::epcis`]).
//! Bad parameters are 400 with a JSON body naming the parameter; an
//! identifier neither stored here nor linked from here is 404.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use idnode_registry::model::Value;
use idnode_registry::model::link::check_relation;
use idnode_registry::service::trace::{self, Direction, MAX_DEPTH, MAX_FANOUT, MAX_LIMIT, TraceGraph, TraceRequest};
use serde_json::json;

use super::Deps;

fn bad(param: &str, why: impl std::fmt::Display) -> Box<Response> {
    Box::new(super::json(
        StatusCode::BAD_REQUEST,
        &json!({"responseCode": 2, "message": format!("{param}: {why}"), "field": param}),
    ))
}

/// Parses the query into a request (or a 400 answer).
pub fn parse(identifier: &str, pairs: &[(String, String)]) -> Result<(TraceRequest, bool), Box<Response>> {
    idnode_registry::ident::Identifier::parse_http(identifier).map_err(|e| bad("identifier", e))?;
    let mut req = TraceRequest::new(identifier, Direction::Both);
    let mut epcis = false;
    let num = |k: &str, v: &str, max: usize| -> Result<usize, Box<Response>> {
        match v.parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(bad(k, format!("{v:?} is not a number 0..={max}"))),
        }
    };
    for (k, v) in pairs {
        match k.as_str() {
            "direction" => req.direction = Direction::parse(v).ok_or_else(|| bad(k, "expected up, down or both"))?,
            "depth" => req.depth = num(k, v, MAX_DEPTH as usize)? as u32,
            "fanout" => req.fanout = num(k, v, MAX_FANOUT)?.max(1),
            "limit" => req.limit = num(k, v, MAX_LIMIT)?.max(1),
            "offset" => req.offset = num(k, v, trace::MAX_VISIT)?,
            "relations" => {
                let rels: Vec<String> =
                    v.split(',').map(str::trim).filter(|r| !r.is_empty()).map(String::from).collect();
                for r in &rels {
                    check_relation(r).map_err(|e| bad(k, e))?;
                }
                req.relations = Some(rels);
            }
            "format" => match v.as_str() {
                "epcis" => epcis = true,
                "graph" | "json" => {}
                _ => return Err(bad(k, "expected graph or epcis")),
            },
            _ => return Err(bad(k, "unknown parameter")),
        }
    }
    Ok((req, epcis))
}

/// A value as JSON (REST-like: index, type, data as text or hex, timestamp).
#[derive(serde::Serialize)]
pub struct ValueJson<'a> {
    index: u32,
    #[serde(rename = "type")]
    type_: std::borrow::Cow<'a, str>,
    data: DataJson<'a>,
    timestamp: u32,
}

#[derive(serde::Serialize)]
struct DataJson<'a> {
    format: &'static str,
    value: std::borrow::Cow<'a, str>,
}

impl<'a> ValueJson<'a> {
    pub fn new(v: &'a Value) -> ValueJson<'a> {
        let data = match std::str::from_utf8(&v.data) {
            Ok(s) => DataJson { format: "string", value: s.into() },
            Err(_) => DataJson { format: "hex", value: hex::encode(&v.data).into() },
        };
        ValueJson { index: v.index, type_: v.type_str(), data, timestamp: v.timestamp }
    }
}

/// The graph as JSON, serialised straight from the graph (a chain of a
/// hundred nodes is tens of kilobytes: building a `serde_json::Value` tree
/// first cost most of the query's time).
pub fn graph_body(g: &TraceGraph) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Graph<'a> {
        response_code: u32,
        root: &'a str,
        direction: &'static str,
        depth: u32,
        nodes: Vec<Node<'a>>,
        edges: Vec<Edge<'a>>,
        cycle: bool,
        truncated: bool,
        offset: usize,
        next_offset: Option<usize>,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Node<'a> {
        id: &'a str,
        depth: u32,
        status: &'static str,
        values: Vec<ValueJson<'a>>,
        fanout_truncated: bool,
        expanded: bool,
    }
    #[derive(serde::Serialize)]
    struct Edge<'a> {
        from: &'a str,
        to: &'a str,
        relation: &'a str,
    }
    let graph = Graph {
        response_code: 1,
        root: &g.root,
        direction: g.direction.as_str(),
        depth: g.depth,
        nodes: g
            .nodes
            .iter()
            .map(|n| Node {
                id: &n.id,
                depth: n.depth,
                status: n.status.as_str(),
                values: n.values.iter().map(ValueJson::new).collect(),
                fanout_truncated: n.fanout_truncated,
                expanded: n.expanded,
            })
            .collect(),
        edges: g.edges.iter().map(|e| Edge { from: &e.from, to: &e.to, relation: &e.relation }).collect(),
        cycle: g.cycle,
        truncated: g.truncated,
        offset: g.offset,
        next_offset: g.next_offset,
    };
    serde_json::to_string(&graph).unwrap_or_default()
}

pub async fn trace(
    State(deps): State<Deps>,
    Path(identifier): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Response {
    let pairs = crate::api::query_pairs(&uri);
    let (tr, epcis) = match parse(&identifier, &pairs) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let base = super::base_url(&deps, &headers, super::is_tls(req.extensions()));
    let d = deps.clone();
    let out = tokio::task::spawn_blocking(move || trace::trace(&d.refs, &tr)).await;
    match out {
        Ok(Ok(Some(g))) if epcis => super::json(StatusCode::OK, &super::epcis::document(&g, &base, crate::unix_now())),
        Ok(Ok(Some(g))) => super::json_body(StatusCode::OK, graph_body(&g)),
        Ok(Ok(None)) => super::json(
            StatusCode::NOT_FOUND,
            &json!({"responseCode": 100, "handle": identifier, "message": "identifier not found"}),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "trace: store");
            super::json(StatusCode::INTERNAL_SERVER_ERROR, &json!({"responseCode": 2, "message": "store failure"}))
        }
        Err(e) => {
            tracing::warn!(error = %e, "trace task");
            super::json(StatusCode::INTERNAL_SERVER_ERROR, &json!({"responseCode": 2, "message": "internal error"}))
        }
    }
}
