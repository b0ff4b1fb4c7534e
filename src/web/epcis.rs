//! A chain as a GS1 EPCIS 2.0 JSON document (EPCIS 2.0, §9 JSON binding),
//! so it can feed existing traceability systems. Pure.
//!
//! Mapping (documented in docs/architecture.md):
//! * every node stored here: an `ObjectEvent` (action `ADD`, bizStep
//!   `commissioning`) for its identifier at the time of its oldest value;
//! * links of relation `shipment` (child → container): one
//!   `AggregationEvent` per container (parentID = container, childEPCs =
//!   the children, action `ADD`, bizStep `packing`);
//! * links of relation `batch` or `component` (product → what it was made
//!   from): one `TransformationEvent` per product (inputEPCList = the
//!   batches / components, outputEPCList = the product).
//!
//! Identifiers become URIs under the node's base URL (their landing page),
//! which EPCIS accepts as EPC identifiers (any URI).

use std::collections::BTreeMap;

use idnode_registry::service::trace::{NodeStatus, TraceGraph};
use serde_json::{Value as Json, json};

/// The JSON-LD context of EPCIS 2.0 documents.
pub const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

fn time(t: u64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp(i64::try_from(t).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    dt.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The identifier's URI.
pub fn uri(base: &str, id: &str) -> String {
    format!("{base}{}", super::page_path(id))
}

/// The EPCIS document of `g`; `now` is the creation date.
pub fn document(g: &TraceGraph, base: &str, now: u64) -> Json {
    let node_time = |id: &str| -> u64 {
        g.nodes
            .iter()
            .find(|n| n.id == id)
            .and_then(|n| n.values.iter().map(|v| u64::from(v.timestamp)).filter(|&t| t > 0).min())
            .unwrap_or(now)
    };
    let mut events = Vec::new();
    for n in g.nodes.iter().filter(|n| n.status == NodeStatus::Found) {
        events.push(json!({
            "type": "ObjectEvent",
            "eventTime": time(node_time(&n.id)),
            "eventTimeZoneOffset": "+00:00",
            "epcList": [uri(base, &n.id)],
            "action": "ADD",
            "bizStep": "commissioning",
        }));
    }
    let mut containers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut products: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in &g.edges {
        match e.relation.as_str() {
            "shipment" => containers.entry(&e.to).or_default().push(&e.from),
            "batch" | "component" => products.entry(&e.from).or_default().push(&e.to),
            _ => {}
        }
    }
    for (parent, children) in containers {
        let t = children.iter().map(|c| node_time(c)).max().unwrap_or(now);
        events.push(json!({
            "type": "AggregationEvent",
            "eventTime": time(t),
            "eventTimeZoneOffset": "+00:00",
            "parentID": uri(base, parent),
            "childEPCs": children.iter().map(|c| uri(base, c)).collect::<Vec<_>>(),
            "action": "ADD",
            "bizStep": "packing",
        }));
    }
    for (output, inputs) in products {
        events.push(json!({
            "type": "TransformationEvent",
            "eventTime": time(node_time(output)),
            "eventTimeZoneOffset": "+00:00",
            "inputEPCList": inputs.iter().map(|c| uri(base, c)).collect::<Vec<_>>(),
            "outputEPCList": [uri(base, output)],
        }));
    }
    json!({
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": time(now),
        "epcisBody": {"eventList": events},
    })
}
