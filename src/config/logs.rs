//! `[logs]`: operator logs beyond the daemon's own messages. Request log
//! lines (sampled, off by default) go to the target `idnode::request`
//! (`crate::ops::request_log`); the audit trail (every administrative write
//! through `registry::service`) goes to `idnode::audit` at info level
//! whenever the log filter lets it through. Both are written by the one log
//! subscriber (`[telemetry]`), so journald or a file rotation takes them
//! like any other line.

use serde::{Deserialize, Serialize};

use super::Problems;

/// `[logs]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Write a log line for sampled requests on every door. Default false.
    pub requests: bool,
    /// Log one request in this many (1 = every request). Default 100.
    pub request_sample: u32,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig { requests: false, request_sample: 100 }
    }
}

impl LogsConfig {
    pub(super) fn validate(&self, p: &mut Problems) {
        if self.request_sample == 0 {
            p.add("logs.request_sample", "must be at least 1 (1 = log every request)");
        }
    }
}
