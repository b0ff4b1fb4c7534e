//! `[http.limits]`: what the HTTP doors (public and admin) allow each client
//! and each connection — timeouts, connection caps, body sizes, concurrency
//! and the login throttle. Every default is safe for a node on the public
//! internet; docs/security.md says what each one defends and how to tune it.
//! Nothing here binds a socket.

use serde::{Deserialize, Serialize};

use super::Problems;

/// `[http.limits]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLimits {
    /// A client must send a whole request header within this time after the
    /// connection opens or the previous answer ends (slowloris). Hyper runs
    /// this timer while a keep-alive connection waits for its next request,
    /// so it is also the idle keep-alive timeout.
    pub header_read_timeout_ms: u64,
    /// A request body must arrive completely within this time.
    pub body_read_timeout_ms: u64,
    /// A request must be answered within this time (handler included);
    /// later, the client gets a JSON 408. Streamed exports are exempt once
    /// their answer has started.
    pub request_timeout_ms: u64,
    /// A TLS client must finish its handshake within this time.
    pub tls_handshake_timeout_ms: u64,
    /// Keep connections open between requests (HTTP/1.1 keep-alive).
    pub keep_alive: bool,
    /// Open connections on one HTTP door; more are closed at once.
    pub max_connections: u32,
    /// Open connections from one client address on one HTTP door.
    pub max_connections_per_address: u32,
    /// Requests handled at once on one door; beyond, a JSON 503 at once.
    pub max_concurrent_requests: u32,
    /// Largest request body of an ordinary route (one record, one login,
    /// one template). Batch routes take up to `limits.http_max_body_bytes`.
    pub max_body_bytes: u32,
    /// Failed logins (wrong password or proof, any API) one client address
    /// may make within `login_window_secs`; the budget refills evenly over
    /// the window. Beyond it: JSON 429 with `Retry-After`.
    pub login_failures_per_address: u32,
    /// Failed logins one account may suffer within `login_window_secs`,
    /// from all addresses together (a distributed guess at one password).
    pub login_failures_per_account: u32,
    pub login_window_secs: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            request_timeout_ms: 120_000,
            tls_handshake_timeout_ms: 10_000,
            keep_alive: true,
            max_connections: 4_096,
            max_connections_per_address: 128,
            max_concurrent_requests: 1_024,
            max_body_bytes: 1 << 20,
            login_failures_per_address: 10,
            login_failures_per_account: 30,
            login_window_secs: 300,
        }
    }
}

impl HttpLimits {
    /// Adds every problem of these settings; `batch_max` is
    /// `limits.http_max_body_bytes`.
    pub(super) fn validate(&self, batch_max: u32, p: &mut Problems) {
        let ms = |p: &mut Problems, name: &str, v: u64, lo: u64, hi: u64| {
            if !(lo..=hi).contains(&v) {
                p.add(format!("http.limits.{name}"), format!("must be between {lo} and {hi}"));
            }
        };
        ms(p, "header_read_timeout_ms", self.header_read_timeout_ms, 100, 600_000);
        ms(p, "body_read_timeout_ms", self.body_read_timeout_ms, 100, 3_600_000);
        ms(p, "request_timeout_ms", self.request_timeout_ms, 100, 3_600_000);
        ms(p, "tls_handshake_timeout_ms", self.tls_handshake_timeout_ms, 100, 600_000);
        ms(p, "login_window_secs", self.login_window_secs, 1, 86_400);
        if self.max_connections == 0 {
            p.add("http.limits.max_connections", "must be at least 1");
        }
        if self.max_connections_per_address == 0 || self.max_connections_per_address > self.max_connections {
            p.add("http.limits.max_connections_per_address", "must be between 1 and http.limits.max_connections");
        }
        if self.max_concurrent_requests == 0 {
            p.add("http.limits.max_concurrent_requests", "must be at least 1");
        }
        if self.max_body_bytes < 1024 || self.max_body_bytes > batch_max {
            p.add("http.limits.max_body_bytes", "must be between 1024 and limits.http_max_body_bytes");
        }
        if self.login_failures_per_address == 0 {
            p.add("http.limits.login_failures_per_address", "must be at least 1");
        }
        if self.login_failures_per_account == 0 {
            p.add("http.limits.login_failures_per_account", "must be at least 1");
        }
    }
}
