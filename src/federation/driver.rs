//! The outbox's thin tokio task: reads the durable change log into the
//! [`Outbox`] state machine, performs the step it asks for (load a record,
//! send over the [`TopLink`], store the position, wait) and publishes its
//! state as metrics and [`OutboxStatus`]. All decisions are the machine's.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use idnode_registry::ident::parent_prefix;
use idnode_registry::model::Value;
use idnode_registry::service::federation::prefix_of_handle_key;
use idnode_registry::store::Store;
use tokio_util::sync::CancellationToken;

use super::link::TopLink;
use super::outbox::{Answer, Handled, Outbox, OutboxConfig, Step};
use super::{OUTBOX_CONSUMER, OutboxStatus, POLL};
use crate::telemetry::{names, outbox_reason};

/// Changes read from the log per batch.
const READ_BATCH: usize = 4096;
/// Stop reading ahead while this many handles are queued.
const MAX_QUEUED: usize = 16_384;

/// Whether a change of record `key` is one the outbox reports: a prefix
/// handle `0.NA/<P>` where a proper ancestor of `P` is homed here (an
/// enterprise prefix under this node's prefix).
pub fn reportable(store: &dyn Store, key: &[u8]) -> bool {
    let Some(p) = prefix_of_handle_key(key) else { return false };
    let Ok(p) = std::str::from_utf8(p) else { return false };
    parent_prefix(p).is_some_and(|parent| store.longest_homed(parent.as_bytes()).is_some())
}

/// The values sent upward: publicly readable ones only, never a key.
pub fn shareable(values: Vec<Value>) -> Vec<Value> {
    values
        .into_iter()
        .filter(|v| {
            v.is_public_read()
                && !v.value_type.eq_ignore_ascii_case(b"HS_SECKEY")
                && !v.value_type.eq_ignore_ascii_case(b"HS_PRIVKEY")
        })
        .collect()
}

/// Runs the outbox until `token` is cancelled. The position is read from
/// (and stored to) the store's consumer `outbox`; a new outbox starts at 0
/// and registers itself, so retention keeps every change it has not sent.
pub async fn run<L: TopLink>(
    store: Arc<dyn Store>,
    link: L,
    cfg: OutboxConfig,
    status: Arc<OutboxStatus>,
    token: CancellationToken,
) {
    let start = Instant::now();
    let now_ms = move || start.elapsed().as_millis() as u64;
    let position = loop {
        let st = store.clone();
        let r = tokio::task::spawn_blocking(move || -> Result<u64, String> {
            match st.consumer_position(OUTBOX_CONSUMER).map_err(|e| e.to_string())? {
                Some(p) => Ok(p),
                None => {
                    st.set_consumer_position(OUTBOX_CONSUMER, 0, crate::unix_now()).map_err(|e| e.to_string())?;
                    Ok(0)
                }
            }
        })
        .await;
        match r {
            Ok(Ok(p)) => break p,
            Ok(Err(e)) => tracing::warn!(error = %e, "reading the outbox position failed; retrying"),
            Err(e) => {
                tracing::error!(error = %e, "outbox start panicked");
                return;
            }
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    };
    tracing::info!(position, top = %status.top, "outbox started");
    let mut ob = Outbox::new(cfg, position);
    loop {
        if token.is_cancelled() {
            break;
        }
        // Read ahead when the log has more and the queue has room.
        if ob.depth() < MAX_QUEUED && store.durable_seq() > ob.read_to() {
            let (st, after) = (store.clone(), ob.read_to());
            let r = tokio::task::spawn_blocking(move || {
                st.changes_since(after, READ_BATCH).map(|cs| {
                    let last = cs.last().map_or(after, |c| c.seq);
                    let keep: Vec<(u64, Vec<u8>)> = cs
                        .into_iter()
                        .filter(|c| c.op.is_record() && reportable(st.as_ref(), &c.key))
                        .map(|c| (c.seq, c.key))
                        .collect();
                    (keep, last)
                })
            })
            .await;
            match r {
                Ok(Ok((keep, last))) => ob.feed(keep, last),
                Ok(Err(e)) => tracing::warn!(error = %e, "reading the change log failed"),
                Err(e) => {
                    tracing::error!(error = %e, "outbox reader panicked");
                    break;
                }
            }
        }
        publish(&ob, &status);
        match ob.next(now_ms()) {
            Step::Idle | Step::Waiting { .. } => {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
            Step::Backoff { until_ms } => {
                let wait = Duration::from_millis(until_ms.saturating_sub(now_ms()).max(1));
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Step::Persist { position } => {
                if persist(&store, position).await {
                    ob.persisted(position);
                } else {
                    tokio::select! {
                        _ = token.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
            Step::Load { key } => {
                let st = store.clone();
                let r = tokio::task::spawn_blocking(move || {
                    st.get_record(&key).and_then(|r| match r {
                        None => Ok(None),
                        Some(r) => r
                            .values()
                            .map(|v| Some(shareable(v)))
                            .map_err(|e| idnode_registry::store::StoreError::Backend(e.to_string())),
                    })
                })
                .await;
                match r {
                    Ok(Ok(v)) => ob.loaded(v),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "reading a prefix handle for the outbox failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "outbox load panicked");
                        break;
                    }
                }
            }
            Step::Send { token: t, request } => {
                let answer = tokio::select! {
                    _ = token.cancelled() => break,
                    a = link.exchange(&request) => a,
                };
                let reason = match &answer {
                    Answer::Unreachable(_) => outbox_reason::UNREACHABLE,
                    Answer::Rc(..) => outbox_reason::ERROR,
                };
                let handled = ob.answer(t, answer, now_ms());
                match handled {
                    Handled::Delivered => {
                        metrics::counter!(names::OUTBOX_DELIVERED).increment(1);
                        tracing::debug!(handle = %String::from_utf8_lossy(request.handle()), op = request.name(), "delivered to the top node");
                    }
                    Handled::Failed => {
                        metrics::counter!(names::OUTBOX_FAILURES, "reason" => reason).increment(1);
                        status.failures.fetch_add(1, Ordering::Relaxed);
                        let msg = ob.last_error().unwrap_or_default().to_owned();
                        tracing::warn!(handle = %String::from_utf8_lossy(request.handle()), op = request.name(), error = %msg, failures = ob.failures(), "delivery to the top node failed; will retry");
                        *status.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some((crate::unix_now(), msg));
                    }
                    Handled::NextPhase | Handled::Ignored => {}
                }
            }
        }
    }
    // Keep what was delivered for the next start.
    if ob.position() > ob.stored_position() {
        let _ = persist(&store, ob.position()).await;
    }
    publish(&ob, &status);
}

async fn persist(store: &Arc<dyn Store>, position: u64) -> bool {
    let st = store.clone();
    match tokio::task::spawn_blocking(move || st.set_consumer_position(OUTBOX_CONSUMER, position, crate::unix_now()))
        .await
    {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "storing the outbox position failed");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "storing the outbox position panicked");
            false
        }
    }
}

fn publish(ob: &Outbox, status: &OutboxStatus) {
    let depth = ob.depth() as u64;
    status.depth.store(depth, Ordering::Relaxed);
    status.delivered.store(ob.delivered_count(), Ordering::Relaxed);
    status.position.store(ob.position(), Ordering::Relaxed);
    let reachable = match ob.reachable() {
        Some(true) => 1,
        Some(false) => 0,
        None => -1,
    };
    status.reachable.store(reachable, Ordering::Relaxed);
    metrics::gauge!(names::OUTBOX_DEPTH).set(depth as f64);
    metrics::gauge!(names::OUTBOX_POSITION).set(ob.position() as f64);
    if reachable >= 0 {
        metrics::gauge!(names::OUTBOX_TOP_REACHABLE).set(reachable as f64);
    }
}
