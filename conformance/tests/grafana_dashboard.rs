//! `deploy/grafana-dashboard.json` is a valid Grafana dashboard (title,
//! uid, schema version, panels with a type, a grid position and Prometheus
//! targets) and every metric name its queries use is exported on the
//! `/metrics` of a running node (after a few resolutions, so that the
//! request counters and latency histograms have samples).

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use idnode_conformance::{Node, Setup, crate_dir, http_get, resolution_request, tcp_exchange};
use idnode_resolver::wire::{OpFlags, ProtocolVersion};
use serde_json::Value;

/// Metric names (`idnode_…`) in a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if boundary && expr[i..].starts_with("idnode_") {
            let end = expr[i..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(b.len(), |e| i + e);
            out.insert(expr[i..end].to_owned());
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn dashboard_is_valid_and_uses_exported_metrics() -> Result<()> {
    let path = crate_dir().parent().context("workspace")?.join("deploy/grafana-dashboard.json");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&path)?).context("dashboard JSON")?;
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(d["uid"].as_str().is_some_and(|u| !u.is_empty() && u.len() <= 40));
    assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 30));
    let panels = d["panels"].as_array().context("panels")?;
    assert!(!panels.is_empty());
    let mut ids = BTreeSet::new();
    let mut used = BTreeSet::new();
    for p in panels {
        assert!(ids.insert(p["id"].as_u64().context("panel id")?), "panel ids are unique");
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(["timeseries", "stat", "gauge", "table", "bargauge"].contains(&p["type"].as_str().unwrap_or("")));
        for k in ["h", "w", "x", "y"] {
            assert!(p["gridPos"][k].as_u64().is_some(), "gridPos.{k} of {}", p["title"]);
        }
        assert!(p["gridPos"]["x"].as_u64().unwrap() + p["gridPos"]["w"].as_u64().unwrap() <= 24);
        assert_eq!(p["datasource"]["type"], "prometheus");
        let targets = p["targets"].as_array().context("targets")?;
        assert!(!targets.is_empty());
        for t in targets {
            assert!(t["refId"].as_str().is_some());
            let expr = t["expr"].as_str().context("expr")?;
            assert_eq!(expr.matches('(').count(), expr.matches(')').count(), "balanced: {expr}");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "every query uses a node metric: {expr}");
            used.extend(names);
        }
    }

    let node = Node::start(&Setup::default())?;
    for i in 0..5 {
        let v = ProtocolVersion::OURS;
        let req = resolution_request(i + 1, "88.118.8.1001/LOT2026-000451", &[], &[], OpFlags::PO, v, v);
        tcp_exchange(node.handle_tcp, &req, false)?;
    }
    // Some gauges (the record count, the store's size) are set by the
    // node's background upkeep shortly after it starts: scrape until every
    // name is there, for at most 20 s, then report what is missing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let exported = loop {
        let (status, text) = http_get(node.admin, "/metrics")?;
        assert_eq!(status, 200);
        let exported: BTreeSet<String> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split(['{', ' ']).next())
            .map(str::to_owned)
            .collect();
        if used.is_subset(&exported) || std::time::Instant::now() > deadline {
            break exported;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    for name in &used {
        assert!(exported.contains(name), "{name} is used by the dashboard but not exported on /metrics");
    }
    Ok(())
}

#[test]
fn names_are_found_in_expressions() {
    let n = metric_names(
        "histogram_quantile(0.5, sum by (le) (rate(idnode_request_duration_seconds_bucket[5m]))) + x_idnode_no",
    );
    assert_eq!(n.into_iter().collect::<Vec<_>>(), vec!["idnode_request_duration_seconds_bucket".to_owned()]);
}
