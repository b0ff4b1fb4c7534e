//! The overview page (`/console`) and its live refresh (`/console/events`,
//! server-sent events every [`super::figures::SAMPLE_EVERY`]). One view
//! struct, [`Overview`], feeds both: the page renders it, the stream sends
//! its `[data-k]` figures as JSON, which the static `live.js` writes into
//! the page. With JavaScript off the page is complete; only the refresh is
//! missing.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde_json::json;

use super::chart::{Bar, bars};
use super::figures::{OVERVIEW_DAYS, SAMPLE_EVERY};
use super::page::bytes;
use super::{Console, Web, frame, operator};
use crate::telemetry::names;
use idnode_registry::service::dates;

/// Everything the overview shows (counters and gauges only).
#[derive(Debug, Clone, Default)]
pub struct Overview {
    /// door -> (resolutions/s now, resolutions/s over the last hour, total).
    pub doors: BTreeMap<String, (f64, f64, f64)>,
    /// rc -> requests.
    pub rc_mix: BTreeMap<u32, f64>,
    /// door -> (p50, p99) in seconds.
    pub latency: BTreeMap<String, (Option<f64>, Option<f64>)>,
    pub registrations: Vec<(u32, u64)>,
    pub resolutions_per_day: Vec<(u32, u64)>,
    pub identifiers: Option<f64>,
    pub prefixes: usize,
    pub store_bytes: u64,
    pub free_bytes: Option<u64>,
    pub uptime_s: u64,
    pub version: &'static str,
    /// (label, value) of federation figures; empty = not configured.
    pub outbox: Vec<(String, String)>,
    pub mirror: Vec<(String, String)>,
}

/// Builds the overview from the sampler (no store scan): blocking, the
/// slow figures are re-read if the store changed (one counter range read
/// per prefix).
pub fn build(st: &Console) -> Overview {
    let snap = st.sampler.snapshot();
    let slow = st.sampler.slow_fresh();
    let identifiers = st.sampler.identifiers(snap.get(names::STORE_RECORDS), &slow);
    let current = snap.resolutions_by_door();
    let rates = st.sampler.rates(&current);
    let doors = current.iter().map(|(d, &t)| (d.clone(), (rates[d].0, rates[d].1, t))).collect();
    let latency = snap.buckets.keys().map(|d| (d.clone(), (snap.quantile(d, 0.5), snap.quantile(d, 0.99)))).collect();
    let outbox = match &st.deps.outbox {
        None => Vec::new(),
        Some(_) => [
            ("outbox depth", names::OUTBOX_DEPTH),
            ("delivered", names::OUTBOX_DELIVERED),
            ("failures", names::OUTBOX_FAILURES),
            ("top node reachable (1 = yes)", names::OUTBOX_TOP_REACHABLE),
            ("outbox position", names::OUTBOX_POSITION),
        ]
        .iter()
        .map(|(l, n)| (l.to_string(), snap.get(n).map(|v| format!("{v}")).unwrap_or_else(|| "-".into())))
        .collect(),
    };
    // Mirror figures appear when the node exports them (mirror role).
    let mirror = snap
        .totals
        .iter()
        .filter(|(k, _)| k.starts_with("idnode_mirror_") && !k.ends_with("_bucket"))
        .map(|(k, v)| (k.clone(), format!("{v}")))
        .collect();
    Overview {
        doors,
        rc_mix: snap.rc_mix(),
        latency,
        registrations: slow.registrations,
        resolutions_per_day: slow.resolutions,
        identifiers,
        prefixes: slow.prefixes,
        store_bytes: slow.store_bytes,
        free_bytes: slow.free_bytes,
        uptime_s: st.started.elapsed().as_secs(),
        version: env!("CARGO_PKG_VERSION"),
        outbox,
        mirror,
    }
}

fn ms(v: Option<f64>) -> String {
    v.map(|s| format!("{:.3} ms", s * 1000.0)).unwrap_or_else(|| "-".into())
}

fn uptime(s: u64) -> String {
    format!("{}d {:02}h {:02}m {:02}s", s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60)
}

impl Overview {
    /// The live figures by `data-k` key (what SSE sends).
    pub fn live(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        for (d, (now, hour, total)) in &self.doors {
            m.insert(format!("rate-now-{d}"), json!(format!("{now:.1}")));
            m.insert(format!("rate-hour-{d}"), json!(format!("{hour:.1}")));
            m.insert(format!("total-{d}"), json!(format!("{total}")));
        }
        for (d, (p50, p99)) in &self.latency {
            m.insert(format!("p50-{d}"), json!(ms(*p50)));
            m.insert(format!("p99-{d}"), json!(ms(*p99)));
        }
        for (rc, n) in &self.rc_mix {
            m.insert(format!("rc-{rc}"), json!(format!("{n}")));
        }
        m.insert("identifiers".into(), json!(self.identifiers.map(|v| format!("{v}")).unwrap_or("-".into())));
        m.insert("uptime".into(), json!(uptime(self.uptime_s)));
        m.insert("reg-today".into(), json!(self.registrations.last().map(|x| x.1).unwrap_or(0).to_string()));
        m
    }
}

/// `GET /console`.
pub async fn overview(State(st): State<Console>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let st2 = st.clone();
    let Ok(o) = super::blocking(move || build(&st2)).await else {
        return super::page::error(super::BASE, axum::http::StatusCode::INTERNAL_SERVER_ERROR, "overview failed");
    };
    let reg_bars: Vec<Bar> =
        o.registrations.iter().map(|(d, n)| Bar { label: dates::day_string(*d), value: *n }).collect();
    let res_bars: Vec<Bar> =
        o.resolutions_per_day.iter().map(|(d, n)| Bar { label: dates::day_string(*d), value: *n }).collect();
    let hour: Vec<Bar> = st
        .sampler
        .hour_series()
        .into_iter()
        .map(|(ago, r)| Bar {
            label: if ago == 0 { "now".into() } else { format!("{ago} s ago") },
            value: r.round() as u64,
        })
        .collect();
    let body = html! {
        div.grid {
            div.card { "Identifiers" b data-k="identifiers" { (o.identifiers.map(|v| format!("{v}")).unwrap_or("-".into())) } }
            div.card { "Registrations today" b data-k="reg-today" { (o.registrations.last().map(|x| x.1).unwrap_or(0)) } }
            div.card { "Prefixes" b { (o.prefixes) } }
            div.card { "Store size" b { (bytes(o.store_bytes)) } }
            div.card { "Free disk" b { (o.free_bytes.map(bytes).unwrap_or_else(|| "-".into())) } }
            div.card { "Uptime" b data-k="uptime" { (uptime(o.uptime_s)) } }
            div.card { "Version" b { (o.version) } }
        }
        h2 { "Resolutions per door" }
        table #doors {
            tr { th { "door" } th { "per second now" } th { "per second, last hour" } th { "total" } th { "p50" } th { "p99" } }
            @for (d, (now, hour, total)) in &o.doors {
                @let (p50, p99) = o.latency.get(d).copied().unwrap_or((None, None));
                tr {
                    td { (d) }
                    td data-k=(format!("rate-now-{d}")) { (format!("{now:.1}")) }
                    td data-k=(format!("rate-hour-{d}")) { (format!("{hour:.1}")) }
                    td data-k=(format!("total-{d}")) { (total) }
                    td data-k=(format!("p50-{d}")) { (ms(p50)) }
                    td data-k=(format!("p99-{d}")) { (ms(p99)) }
                }
            }
        }
        (bars("chart-hour", "Resolutions per second, every sample of the last hour", &hour))
        p { "Rates are sampled every " (SAMPLE_EVERY.as_secs()) " s; the hour figure covers the samples kept since start (up to one hour)." }
        h2 { "Response codes" }
        table #rc {
            tr { th { "rc" } th { "requests" } }
            @for (rc, n) in &o.rc_mix { tr { td { (rc) } td data-k=(format!("rc-{rc}")) { (n) } } }
        }
        h2 { "Most-resolved identifiers" }
        (top_table(&idnode_registry::topids::top(TOP_N)))
                h2 { "Per day (last " (OVERVIEW_DAYS) " days, UTC)" }
        (bars("chart-registrations", "Registrations per day", &reg_bars))
        (bars("chart-resolutions", "Resolutions per day", &res_bars))
        h2 { "Federation" }
        @if o.outbox.is_empty() {
            p #outbox { "Outbox to the top node: " em { "not configured" } }
        } @else {
            table #outbox { @for (k, v) in &o.outbox { tr { td { (k) } td { (v) } } } }
        }
        @if o.mirror.is_empty() {
            p #mirror { "Mirror: " em { "not configured" } }
        } @else {
            table #mirror { @for (k, v) in &o.mirror { tr { td { (k) } td { (v) } } } }
        }
    };
    frame(&s, "Overview", Some("/console/events"), body)
}

/// Rows of the most-resolved identifiers tables.
pub const TOP_N: usize = 10;

/// A table of most-resolved identifiers (`#top-identifiers`) with its note.
pub fn top_table(top: &[(String, u64)]) -> maud::Markup {
    html! {
        @if top.is_empty() {
            p #top-identifiers { em { "none yet" } " (an identifier is listed once resolved "
                (idnode_registry::topids::NAME_AT) " times)" }
        } @else {
            table #top-identifiers {
                tr { th { "identifier" } th { "resolutions" } }
                @for (id, n) in top { tr { td { (id) } td.num { (n) } } }
            }
        }
        p.note { "Estimated since the node started, over every door (a bounded in-memory sketch; per-day figures are per prefix)." }
    }
}

/// `GET /console/events`: the live figures as server-sent events.
pub async fn events(State(st): State<Console>, w: Web) -> Response {
    if let Err(r) = operator(&st, &w) {
        return r;
    }
    let stream = futures_util::stream::unfold((st, true), |(st, first)| async move {
        if !first {
            tokio::time::sleep(SAMPLE_EVERY).await;
        }
        let st2 = st.clone();
        let o = tokio::task::spawn_blocking(move || build(&st2)).await.unwrap_or_default();
        let data = serde_json::Value::Object(o.live()).to_string();
        Some((Ok::<Event, Infallible>(Event::default().event("figures").data(data)), (st, false)))
    });
    super::page::secure(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}
