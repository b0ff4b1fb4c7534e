//! Watches a shared store's change-log follower (PostgreSQL): publishes the
//! measured staleness as metrics and takes the node out of `/readyz` while
//! its memory state (read cache, homed prefixes) has not caught up for
//! longer than `store.postgres.staleness_bound_ms`, putting it back when it
//! has. Does nothing on sled (never behind).

use std::sync::Arc;
use std::time::Duration;

use idnode_registry::store::Store;
use tokio_util::sync::CancellationToken;

use crate::serve::http::Readiness;

/// Starts the watcher (returns `None` on a backend that is never behind).
pub fn spawn(
    store: Arc<dyn Store>,
    ready: Readiness,
    bound_ms: u64,
    token: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    if !store.follow_status().shared {
        return None;
    }
    let every = Duration::from_millis((bound_ms / 4).clamp(50, 1000));
    Some(tokio::spawn(async move {
        let mut took_out = false;
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tick.tick() => {}
            }
            let f = store.follow_status();
            metrics::gauge!("idnode_store_follow_behind_seconds").set(f.behind_ms as f64 / 1000.0);
            metrics::gauge!("idnode_store_follow_lag_seconds").set(f.last_lag_ms as f64 / 1000.0);
            metrics::gauge!("idnode_store_follow_applied_seq").set(f.applied_seq as f64);
            metrics::counter!("idnode_store_tx_retries_total").absolute(f.tx_retries);
            let behind = f.behind_ms > bound_ms;
            if behind && !took_out && ready.is_ready() {
                tracing::warn!(behind_ms = f.behind_ms, bound_ms, "store follower too far behind: not ready");
                ready.set(false);
                took_out = true;
            } else if !behind && took_out {
                if token.is_cancelled() {
                    break;
                }
                tracing::info!(behind_ms = f.behind_ms, "store follower caught up: ready again");
                ready.set(true);
                took_out = false;
            }
        }
    }))
}
