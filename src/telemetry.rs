//! Logs and metrics: the tracing subscriber, the Prometheus recorder, and the
//! metric names, which are an interface (style.md §6): dashboards and alerts
//! depend on them, so they are constants here, described once in
//! [`describe`], and carry labels from small fixed sets only (door, opcode,
//! rc, reason, action, phase) — never an identifier or a client address.
//!
//! Only the binary installs global state, and only once: [`init_tracing`]
//! and [`install_prometheus`] are called from `main`/`serve`. Logs go to
//! stderr; stdout is kept for command output and the machine-readable
//! "listening" line. Nothing here may log a secret.

use anyhow::{Context, Result, anyhow};
use metrics::{Unit, describe_counter, describe_gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, TelemetryConfig};

pub mod latency;

#[allow(unused_imports, reason = "used by the Handle listeners (serve/handle_*.rs)")]
pub use crate::serve::door_metrics::DoorMetrics;

/// Metric names. Changing one is a breaking change for operators.
pub mod names {
    /// Counter `{door, opcode, rc}`: requests answered, by front door,
    /// Handle opcode (or HTTP route group) and response code.
    pub const REQUESTS: &str = "idnode_requests_total";
    /// Histogram `{door}`: time from a complete request to its answer.
    pub const REQUEST_DURATION: &str = "idnode_request_duration_seconds";
    /// Counter `{reason}`: UDP datagrams dropped without an answer.
    pub const UDP_DROPPED: &str = "idnode_udp_dropped_total";
    /// Counter `{door}`: TCP connections closed at once because the
    /// listener was at `tcp_max_connections`.
    pub const TCP_REFUSED: &str = "idnode_tcp_refused_total";
    /// Gauge `{door}`: open TCP connections.
    pub const TCP_CONNECTIONS: &str = "idnode_tcp_connections";
    /// Counter `{door, action}`: Handle requests over their client
    /// network's rate (`limits.per_client_rps`); action `drop` (no answer),
    /// `slip` (UDP: short "retry over TCP" answer) or `busy` (TCP: RC 3).
    pub const RATE_LIMITED: &str = "idnode_rate_limited_total";
    /// Counter: UDP answers larger than `limits.udp_max_amplification`
    /// times their request, to a source not proven by TCP, replaced by a
    /// short "retry over TCP" answer.
    pub const UDP_AMPLIFICATION_CAPPED: &str = "idnode_udp_amplification_capped_total";
    /// Counter `{door}`: TCP connections closed at once because their
    /// address already held `tcp_max_connections_per_address`.
    pub const TCP_REFUSED_PER_ADDRESS: &str = "idnode_tcp_refused_per_address_total";
    /// Counter `{door, phase}`: TCP connections closed because a request's
    /// bytes (`read`) or the client's taking of an answer (`write`) took
    /// longer than its timeout.
    pub const TCP_TIMEOUTS: &str = "idnode_tcp_timeouts_total";
    /// Counter `{door}`: DNS answers sent empty with TC set (too large for UDP).
    pub const DNS_TRUNCATED: &str = "idnode_dns_truncated_total";
    /// Gauge: identifier records in the store.
    pub const STORE_RECORDS: &str = "idnode_store_records";
    /// Counter `{source, rc}`: recursive resolutions answered, by where the
    /// answer came from (hit, miss, shared, refused) and response code.
    pub const RECURSION: &str = "idnode_recursion_total";
    /// Gauge: prefix handles waiting in the outbox for the top node.
    pub const OUTBOX_DEPTH: &str = "idnode_outbox_depth";
    /// Counter: prefix handles delivered to the top node.
    pub const OUTBOX_DELIVERED: &str = "idnode_outbox_delivered_total";
    /// Counter `{reason}` (`unreachable`, `error`): failed deliveries (each is retried).
    pub const OUTBOX_FAILURES: &str = "idnode_outbox_failures_total";
    /// Gauge: 1 when the top node answered the last exchange, 0 when not.
    pub const OUTBOX_TOP_REACHABLE: &str = "idnode_outbox_top_reachable";
    /// Gauge: change-log position the outbox has delivered up to.
    pub const OUTBOX_POSITION: &str = "idnode_outbox_position";
    /// Gauge: changes of the primary's log a mirror has not applied yet.
    pub const MIRROR_LAG_CHANGES: &str = "idnode_mirror_lag_changes";
    /// Gauge: seconds between the primary's newest change and the newest
    /// one the mirror applied (0 when caught up).
    pub const MIRROR_LAG_SECONDS: &str = "idnode_mirror_lag_seconds";
    /// Counter: changes (and dumped entries) a mirror applied.
    pub const MIRROR_APPLIED: &str = "idnode_mirror_applied_total";
    /// Counter: failed exchanges with the primary (each is retried).
    pub const MIRROR_FAILURES: &str = "idnode_mirror_failures_total";
}

/// Values of the `reason` label of [`names::OUTBOX_FAILURES`].
pub mod outbox_reason {
    pub const UNREACHABLE: &str = "unreachable";
    pub const ERROR: &str = "error";
}

/// Values of the `door` label (also the listener names in the "listening" line).
#[allow(dead_code, reason = "one constant per door; doors are added one by one")]
pub mod door {
    pub const HANDLE_UDP: &str = "handle-udp";
    pub const HANDLE_TCP: &str = "handle-tcp";
    pub const HANDLE_QUIC: &str = "handle-quic";
    pub const HTTP: &str = "http";
    /// The admin door (admin API, `/metrics`).
    pub const ADMIN: &str = "admin";
    pub const DNS: &str = "dns";
    pub const DNS_UDP: &str = "dns-udp";
    pub const DNS_TCP: &str = "dns-tcp";
    pub const DNS_TLS: &str = "dns-tls";
    pub const DNS_QUIC: &str = "dns-quic";
}

/// Describes every metric to the installed recorder (call once, after
/// installing it).
pub fn describe() {
    describe_counter!(names::REQUESTS, Unit::Count, "Requests answered, by front door, opcode and response code.");
    describe_counter!(names::UDP_DROPPED, Unit::Count, "UDP datagrams dropped without an answer, by reason.");
    describe_counter!(names::TCP_REFUSED, Unit::Count, "TCP connections refused at the connection limit.");
    describe_gauge!(names::TCP_CONNECTIONS, Unit::Count, "Open TCP connections, by front door.");
    describe_counter!(
        names::RATE_LIMITED,
        Unit::Count,
        "Requests over their client network's rate, by door and action."
    );
    describe_counter!(
        names::UDP_AMPLIFICATION_CAPPED,
        Unit::Count,
        "UDP answers to unproven sources replaced by a retry-over-TCP answer."
    );
    describe_counter!(names::TCP_REFUSED_PER_ADDRESS, Unit::Count, "TCP connections refused at the per-address limit.");
    describe_counter!(names::TCP_TIMEOUTS, Unit::Count, "TCP connections closed on a read or write timeout.");
    describe_gauge!(names::STORE_RECORDS, Unit::Count, "Identifier records in the store.");
    describe_gauge!(names::OUTBOX_DEPTH, Unit::Count, "Prefix handles waiting in the outbox for the top node.");
    describe_counter!(names::OUTBOX_DELIVERED, Unit::Count, "Prefix handles delivered to the top node.");
    describe_counter!(names::OUTBOX_FAILURES, Unit::Count, "Failed deliveries to the top node (retried), by reason.");
    describe_gauge!(names::OUTBOX_TOP_REACHABLE, Unit::Count, "1 when the top node answered the last exchange.");
    describe_gauge!(names::OUTBOX_POSITION, Unit::Count, "Change-log position the outbox has delivered up to.");
    describe_gauge!(names::MIRROR_LAG_CHANGES, Unit::Count, "Changes of the primary a mirror has not applied yet.");
    describe_gauge!(
        names::MIRROR_LAG_SECONDS,
        Unit::Seconds,
        "Primary's newest change time minus the newest applied one's (0 when caught up)."
    );
    describe_counter!(names::MIRROR_APPLIED, Unit::Count, "Changes and dumped entries a mirror applied.");
    describe_counter!(names::MIRROR_FAILURES, Unit::Count, "Failed exchanges of a mirror with its primary.");
    describe_counter!(names::DNS_TRUNCATED, Unit::Count, "DNS answers truncated (TC) because they did not fit UDP.");
    describe_counter!(names::RECURSION, Unit::Count, "Recursive resolutions answered, by source and response code.");
}

/// Builds the Prometheus recorder (no HTTP listener of its own: `/metrics`
/// is served by our axum router), installs it globally and describes the
/// metrics. The caller must call [`PrometheusHandle::run_upkeep`]
/// periodically.
pub fn install_prometheus() -> Result<PrometheusHandle> {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| anyhow!("installing the metrics recorder: {e}"))?;
    describe();
    Ok(handle)
}

/// The `/metrics` text: the recorder's metrics, then the request-duration
/// histograms ([`latency`]).
pub fn render(handle: &PrometheusHandle) -> String {
    let mut out = handle.render();
    latency::render(&mut out);
    out
}

/// Installs the global tracing subscriber: text or JSON lines on stderr,
/// filtered by `RUST_LOG` when set, else by `telemetry.log_level`.
pub fn init_tracing(cfg: &TelemetryConfig) -> Result<()> {
    let directives = match std::env::var("RUST_LOG") {
        Ok(s) if !s.trim().is_empty() => s,
        _ => cfg.log_level.clone(),
    };
    let filter = EnvFilter::builder().parse(&directives).with_context(|| format!("log filter {directives:?}"))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let installed = match cfg.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| anyhow!("installing the log subscriber: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    #[test]
    fn door_metrics_count_through_a_debugging_recorder() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            describe();
            let m = DoorMetrics::new(door::HANDLE_UDP);
            m.observe(1, 1, std::time::Duration::from_micros(50));
            m.observe(1, 1, std::time::Duration::from_micros(70));
            m.observe(1, 100, std::time::Duration::from_micros(70));
            m.udp_dropped("too_large");
            m.rate_limited(crate::serve::door_metrics::LimitAction::Slip);
            m.amplification_capped();
        });
        let snap = snapshotter.snapshot().into_vec();
        let requests: u64 = snap
            .iter()
            .filter(|(k, ..)| k.key().name() == names::REQUESTS)
            .filter(|(k, ..)| k.key().labels().any(|l| l.key() == "rc" && l.value() == "1"))
            .map(|(.., v)| if let DebugValue::Counter(n) = v { *n } else { 0 })
            .sum();
        assert_eq!(requests, 2);
        assert!(snap.iter().any(|(k, ..)| k.key().name() == names::UDP_DROPPED));
        let slipped: u64 = snap
            .iter()
            .filter(|(k, ..)| k.key().name() == names::RATE_LIMITED)
            .filter(|(k, ..)| k.key().labels().any(|l| l.key() == "action" && l.value() == "slip"))
            .map(|(.., v)| if let DebugValue::Counter(n) = v { *n } else { 0 })
            .sum();
        assert_eq!(slipped, 1);
        for (k, ..) in &snap {
            for label in k.key().labels() {
                assert!(
                    ["door", "opcode", "rc", "reason", "action", "phase"].contains(&label.key()),
                    "unexpected label {}",
                    label.key()
                );
            }
        }
    }
}
