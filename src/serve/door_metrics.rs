//! Per-door request metrics, pre-registered so the hot path does not hash
//! label sets on every request.
//!
//! Labels come from small fixed sets only (door, opcode, response code,
//! reason) — never an identifier or a client address (style.md §6).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use metrics::{Counter, counter, gauge};

use crate::telemetry::latency::{self, Latency, Local};
use crate::telemetry::names;

/// Opcodes and response codes that get a pre-registered counter; anything
/// else is counted through the (slower) macro path.
const HOT_OPCODES: [u32; 3] = [1, 2, 0];
const HOT_RCS: [u32; 8] = [1, 2, 4, 100, 200, 301, 303, 402];

pub struct DoorMetrics {
    door: &'static str,
    hot: Vec<Counter>,
    latency: Arc<Latency>,
    open: AtomicI64,
    /// `RATE_LIMITED` by action: drop, slip, busy.
    limited: [Counter; 3],
    capped: Counter,
}

/// What a door did with a rate-limited request.
#[derive(Debug, Clone, Copy)]
pub enum LimitAction {
    Drop = 0,
    Slip = 1,
    Busy = 2,
}

impl std::fmt::Debug for DoorMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoorMetrics").field("door", &self.door).finish()
    }
}

impl DoorMetrics {
    pub fn new(door: &'static str) -> Self {
        let mut hot = Vec::with_capacity(HOT_OPCODES.len() * HOT_RCS.len());
        for op in HOT_OPCODES {
            for rc in HOT_RCS {
                hot.push(counter!(names::REQUESTS, "door" => door, "opcode" => op.to_string(), "rc" => rc.to_string()));
            }
        }
        let limited =
            ["drop", "slip", "busy"].map(|action| counter!(names::RATE_LIMITED, "door" => door, "action" => action));
        DoorMetrics {
            door,
            hot,
            latency: latency::for_door(door),
            open: AtomicI64::new(0),
            limited,
            capped: counter!(names::UDP_AMPLIFICATION_CAPPED),
        }
    }

    /// Counts one answered request and its latency.
    #[inline]
    pub fn observe(&self, opcode: u32, rc: u32, elapsed: Duration) {
        let op_i = HOT_OPCODES.iter().position(|&o| o == opcode);
        let rc_i = HOT_RCS.iter().position(|&r| r == rc);
        match (op_i, rc_i) {
            (Some(o), Some(r)) => self.hot[o * HOT_RCS.len() + r].increment(1),
            _ => counter!(names::REQUESTS, "door" => self.door, "opcode" => opcode.to_string(), "rc" => rc.to_string())
                .increment(1),
        }
        self.latency.record(elapsed);
    }

    /// Records one request's latency (doors that count requests themselves).
    #[inline]
    pub fn record_latency(&self, elapsed: Duration) {
        self.latency.record(elapsed);
    }

    /// Records the latencies a batching door kept (and empties `local`).
    pub fn add_latencies(&self, local: &mut Local) {
        self.latency.add(local);
    }

    /// A UDP datagram we could not use.
    pub fn udp_dropped(&self, reason: &'static str) {
        counter!(names::UDP_DROPPED, "reason" => reason).increment(1);
    }

    /// A request over its client network's rate.
    #[inline]
    pub fn rate_limited(&self, action: LimitAction) {
        self.limited[action as usize].increment(1);
    }

    /// A UDP answer replaced by "retry over TCP" (amplification cap).
    pub fn amplification_capped(&self) {
        self.capped.increment(1);
    }

    /// A TCP connection refused because its address holds too many.
    pub fn tcp_refused_per_address(&self) {
        counter!(names::TCP_REFUSED_PER_ADDRESS, "door" => self.door).increment(1);
    }

    /// A TCP connection closed on a timeout (`phase`: read or write).
    pub fn tcp_timeout(&self, phase: &'static str) {
        counter!(names::TCP_TIMEOUTS, "door" => self.door, "phase" => phase).increment(1);
    }

    /// A TCP connection refused because the listener is at its limit.
    pub fn tcp_refused(&self) {
        counter!(names::TCP_REFUSED, "door" => self.door).increment(1);
    }

    /// Tracks open TCP connections.
    pub fn tcp_open(&self, delta: i64) {
        let now = self.open.fetch_add(delta, Ordering::Relaxed) + delta;
        gauge!(names::TCP_CONNECTIONS, "door" => self.door).set(now as f64);
    }
}
