//! Records: one at a time (`/admin/v1/records/{handle}`: GET, PUT,
//! DELETE), and in bulk as JSON lines (`POST /admin/v1/import`, `GET
//! /admin/v1/export`) in the format of `idnode id export`
//! (`idnode_registry::transfer`).
//!
//! Import reads the request body as it arrives, commits `batch` records per
//! store transaction (one durable flush each, as the offline import), and
//! streams one result line per record back (`?errors_only=true`: failures
//! only), then a summary line. Results of a batch are written after the
//! batch is committed, so a client that sends at most `batch` records per
//! request may write the whole body before reading the answer; larger
//! bodies need a client that reads while it writes. Export streams every
//! record (or those under `?prefix=`) from a blocking scan; a store failure
//! mid-stream aborts the body (the client sees a truncated chunked body,
//! never a silently short export).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use idnode_registry::ident::{Identifier, check_prefix_chars};
use idnode_registry::service::ServiceError;
use idnode_registry::store::{RecordOp, StoreError, WriteCtx};
use idnode_registry::transfer::{self, JsonRecord, JsonValue};
use serde::Deserialize;
use serde_json::{Value as JsonAny, json};
use tokio::sync::mpsc;

use super::{AdminError, Query, St, Who, blocking, read_json};

/// Largest record batch per transaction on import.
pub const MAX_BATCH: u64 = 100_000;
/// Default records per transaction on import.
pub const DEFAULT_BATCH: u64 = 5_000;
/// Longest import line (a record is at most 256 KiB on the wire; its JSON
/// with base64 data stays well below this).
const MAX_LINE: usize = 8 << 20;
/// Export sends chunks of about this size.
const EXPORT_CHUNK: usize = 256 << 10;
/// Records per export scan page.
const EXPORT_PAGE: usize = 10_000;

/// A response body fed by a channel (streamed JSON lines). An `Err` item
/// aborts the body: the connection is closed without the final chunk.
pub(crate) struct ChannelBody(pub(crate) mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|o| o.map(|r| r.map(http_body::Frame::data)))
    }
}

/// A 200 answer streaming JSON lines.
fn ndjson(body: ChannelBody) -> Response {
    let mut r = Response::new(Body::new(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    r
}

fn parse_handle(handle: &str) -> Result<Identifier, AdminError> {
    Identifier::parse(handle).map_err(|e| AdminError::invalid("handle", format!("{handle:?}: {e}")))
}

/// `GET /admin/v1/records/{handle}`: the record as one export line object.
pub async fn get(State(st): State<St>, _who: Who, Path(handle): Path<String>) -> Result<Json<JsonRecord>, AdminError> {
    let id = parse_handle(&handle)?;
    let store = st.store_arc();
    blocking(move || {
        let key = store.canonical_key(id.as_bytes());
        let rec = store.get_record(&key)?.ok_or_else(|| AdminError::not_found(format!("{} not found", id.as_str())))?;
        let values = rec.values().map_err(|e| {
            tracing::error!(error = %e, "admin API: stored record undecodable");
            AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "stored record undecodable")
        })?;
        Ok(Json(JsonRecord {
            handle: id.as_str().to_owned(),
            values: values.iter().map(JsonValue::from_value).collect(),
        }))
    })
    .await
}

/// Body of `PUT /admin/v1/records/{handle}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminRecordPutBody)]
pub(crate) struct PutBody {
    /// Optional; must equal the path's handle when present.
    #[serde(default)]
    handle: Option<String>,
    #[schema(value_type = Vec<crate::api::openapi::schemas::JsonValue>, min_items = 1)]
    values: Vec<JsonValue>,
}

/// `PUT /admin/v1/records/{handle}[?overwrite=true]`: creates the record
/// (409 when it exists, unless `overwrite`).
pub async fn put(
    State(st): State<St>,
    who: Who,
    Path(handle): Path<String>,
    q: Query,
    body: Body,
) -> Result<Json<JsonAny>, AdminError> {
    let overwrite = q.flag("overwrite")?;
    let id = parse_handle(&handle)?;
    let b: PutBody = read_json(body, st.max_body()).await?;
    if b.handle.as_deref().is_some_and(|h| h != id.as_str()) {
        return Err(AdminError::invalid("handle", "the body's handle differs from the path's"));
    }
    if b.values.is_empty() {
        return Err(AdminError::invalid("values", "at least one value is required"));
    }
    let values = b
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| v.to_value(&format!("values[{i}]")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| match e {
            transfer::TransferError::Field { field, reason } => AdminError::invalid(field, reason),
            other => AdminError::invalid("values", other.to_string()),
        })?;
    let st2 = st.clone();
    blocking(move || {
        let ctx = WriteCtx::new(crate::unix_now(), who.actor.username.clone());
        let key = st2.store().canonical_key(id.as_bytes());
        // The registry service: quota, write, change log, audit entry.
        let op = RecordOp::Create { key, values, overwrite };
        let receipt = st2.reg().write_record(&who.actor, op, &ctx).map_err(|e| match e {
            ServiceError::Store(StoreError::AlreadyExists) => AdminError::new(
                StatusCode::CONFLICT,
                "already_exists",
                format!("{} already exists (overwrite=true replaces it)", id.as_str()),
            ),
            e => e.into(),
        })?;
        Ok(Json(json!({"handle": id.as_str(), "seq": receipt.seq})))
    })
    .await
}

/// `DELETE /admin/v1/records/{handle}`.
pub async fn delete(State(st): State<St>, who: Who, Path(handle): Path<String>) -> Result<Json<JsonAny>, AdminError> {
    let id = parse_handle(&handle)?;
    let st2 = st.clone();
    blocking(move || {
        let ctx = WriteCtx::new(crate::unix_now(), who.actor.username.clone());
        let key = st2.store().canonical_key(id.as_bytes());
        let op = RecordOp::Delete { key };
        let receipt = st2.reg().write_record(&who.actor, op, &ctx).map_err(|e| match e {
            ServiceError::Store(StoreError::NotFound) => AdminError::not_found(format!("{} not found", id.as_str())),
            e => e.into(),
        })?;
        Ok(Json(json!({"handle": id.as_str(), "deleted": true, "seq": receipt.seq})))
    })
    .await
}

// ------------------------------------------------------------------ export

/// `GET /admin/v1/export[?prefix=P]`: JSON lines, streamed.
pub async fn export(State(st): State<St>, _who: Who, q: Query) -> Result<Response, AdminError> {
    let prefix = q.get("prefix").map(str::to_owned);
    if let Some(p) = &prefix {
        check_prefix_chars(p).map_err(|e| AdminError::invalid("prefix", format!("{p:?}: {e}")))?;
    }
    let (tx, rx) = mpsc::channel(8);
    let store = st.store_arc();
    tokio::task::spawn_blocking(move || export_into(&*store, prefix.as_deref(), &tx));
    Ok(ndjson(ChannelBody(rx)))
}

fn export_into(
    store: &dyn idnode_registry::store::Store,
    prefix: Option<&str>,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let mut after: Option<Vec<u8>> = None;
    let mut buf = Vec::with_capacity(EXPORT_CHUNK + (64 << 10));
    let fail = |msg: String| {
        tracing::error!(error = %msg, "admin API: export aborted");
        let _ = tx.blocking_send(Err(std::io::Error::other(msg)));
    };
    loop {
        let page = match store.scan_records(prefix, after.as_deref(), EXPORT_PAGE) {
            Ok(p) => p,
            Err(e) => return fail(e.to_string()),
        };
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (k, rec) in &page {
            if let Err(e) = transfer::write_json_line(k, rec, &mut buf) {
                return fail(format!("record {}: {e}", String::from_utf8_lossy(k)));
            }
            if buf.len() >= EXPORT_CHUNK && tx.blocking_send(Ok(Bytes::from(std::mem::take(&mut buf)))).is_err() {
                return; // the client went away
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.blocking_send(Ok(Bytes::from(buf)));
    }
}

// ------------------------------------------------------------------ import

/// One import line waiting for its result.
struct Slot {
    line: u64,
    handle: Option<String>,
    /// `None`: the result comes from the batch write.
    failed: Option<(&'static str, String)>,
}

/// The import in progress.
struct Import {
    st: St,
    who: Who,
    ctx: WriteCtx,
    overwrite: bool,
    errors_only: bool,
    batch: usize,
    now: u32,
    slots: Vec<Slot>,
    ops: Vec<RecordOp>,
    line: u64,
    ok: u64,
    failed: u64,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    /// The store refused a whole batch: stop.
    aborted: Option<String>,
}

/// `POST /admin/v1/import[?overwrite=true&batch=N&errors_only=true]`.
pub async fn import(State(st): State<St>, who: Who, q: Query, body: Body) -> Result<Response, AdminError> {
    let overwrite = q.flag("overwrite")?;
    let errors_only = q.flag("errors_only")?;
    let batch = q.u64_in("batch", 1..=MAX_BATCH, DEFAULT_BATCH)? as usize;
    let (tx, rx) = mpsc::channel(16);
    let now = crate::unix_now();
    // Timestamps are kept as the lines give them; absent ones are "now".
    let ctx = WriteCtx::new(now, who.actor.username.clone()).keeping_timestamps();
    let imp = Import {
        st,
        who,
        ctx,
        overwrite,
        errors_only,
        batch,
        now: u32::try_from(now).unwrap_or(u32::MAX),
        slots: Vec::new(),
        ops: Vec::new(),
        line: 0,
        ok: 0,
        failed: 0,
        tx,
        aborted: None,
    };
    tokio::spawn(imp.run(body));
    Ok(ndjson(ChannelBody(rx)))
}

impl Import {
    async fn run(mut self, mut body: Body) {
        let t0 = Instant::now();
        let mut buf: Vec<u8> = Vec::new();
        let mut skipping = false;
        let mut gone = false;
        loop {
            let frame = std::future::poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut body), cx)).await;
            let data = match frame {
                None => None,
                Some(Ok(f)) => match f.into_data() {
                    Ok(d) => Some(d),
                    Err(_) => continue, // trailers
                },
                Some(Err(e)) => {
                    self.aborted = Some(format!("reading the request body: {e}"));
                    None
                }
            };
            let Some(data) = data else { break };
            buf.extend_from_slice(&data);
            let mut start = 0;
            while let Some(off) = buf[start..].iter().position(|&b| b == b'\n') {
                if std::mem::take(&mut skipping) {
                    // The rest of an over-long line (already reported).
                } else {
                    self.take_line(&buf[start..start + off]);
                }
                start += off + 1;
                if self.ops.len() >= self.batch || self.slots.len() >= 2 * self.batch {
                    if !self.commit().await {
                        gone = true;
                        break;
                    }
                    if self.aborted.is_some() {
                        break;
                    }
                }
            }
            buf.drain(..start);
            if gone || self.aborted.is_some() {
                break;
            }
            if buf.len() > MAX_LINE && !skipping {
                self.line += 1;
                self.slots.push(Slot {
                    line: self.line,
                    handle: None,
                    failed: Some(("invalid", format!("line longer than {MAX_LINE} bytes"))),
                });
                skipping = true;
            }
            if skipping {
                buf.clear();
            }
        }
        if !gone && self.aborted.is_none() && !skipping && !buf.is_empty() {
            let last = std::mem::take(&mut buf);
            self.take_line(&last);
        }
        if !gone && self.aborted.is_none() {
            gone = !self.commit().await;
        }
        let (ok, failed) = (self.ok, self.failed);
        let st = self.st.clone();
        let who = self.who.clone();
        let _ = tokio::task::spawn_blocking(move || {
            super::audit(
                &st,
                &who,
                "records.import",
                &format!("{} records", ok + failed),
                &format!("ok={ok} failed={failed}"),
            );
        })
        .await;
        if gone {
            tracing::info!(ok, failed, "admin API: import client went away");
            return;
        }
        let mut summary = json!({"ok": ok, "failed": failed, "seconds": t0.elapsed().as_secs_f64()});
        if let Some(e) = &self.aborted {
            summary["error"] = json!(e);
        }
        let mut line = json!({"summary": summary}).to_string();
        line.push('\n');
        let _ = self.tx.send(Ok(Bytes::from(line))).await;
    }

    /// Parses one line into a pending op or a failure.
    fn take_line(&mut self, raw: &[u8]) {
        self.line += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.trim(),
            Err(_) => {
                self.slots.push(Slot {
                    line: self.line,
                    handle: None,
                    failed: Some(("invalid", "not valid UTF-8".into())),
                });
                return;
            }
        };
        if text.is_empty() || text.starts_with('#') {
            return;
        }
        match transfer::parse_json_line_stamped(text, self.now) {
            Ok((id, values)) => {
                let key = self.st.store().canonical_key(id.as_bytes());
                self.ops.push(RecordOp::Create { key, values, overwrite: self.overwrite });
                self.slots.push(Slot { line: self.line, handle: Some(id.as_str().to_owned()), failed: None });
            }
            Err(e) => self.slots.push(Slot { line: self.line, handle: None, failed: Some(("invalid", e.to_string())) }),
        }
    }

    /// Commits the pending ops and sends the results of the pending lines.
    /// False when the client is gone.
    async fn commit(&mut self) -> bool {
        let slots = std::mem::take(&mut self.slots);
        if slots.is_empty() {
            return true;
        }
        let ops = std::mem::take(&mut self.ops);
        let n_ops = ops.len();
        let results: Vec<Result<(), (&'static str, String)>> = if ops.is_empty() {
            Vec::new()
        } else {
            let (st, actor) = (self.st.clone(), self.who.actor.clone());
            let ctx = self.ctx.clone();
            // The registry service: quotas per item, one batch write, audit.
            match tokio::task::spawn_blocking(move || st.reg().write_records(&actor, ops, &ctx)).await {
                Ok(Ok(rs)) => rs
                    .into_iter()
                    .map(|r| {
                        r.map(|_| ()).map_err(|e| match e {
                            ServiceError::Store(StoreError::AlreadyExists) => {
                                ("already_exists", "already exists (overwrite=true replaces it)".to_owned())
                            }
                            e => {
                                let e = AdminError::from(e);
                                (e.code, e.message)
                            }
                        })
                    })
                    .collect(),
                Ok(Err(e)) => {
                    let msg = format!("committing a batch failed (nothing of it was written): {e}");
                    tracing::error!(error = %e, "admin API: import batch failed");
                    self.aborted = Some(msg.clone());
                    vec![Err(("internal", msg)); n_ops]
                }
                Err(e) => {
                    let msg = format!("import task failed: {e}");
                    self.aborted = Some(msg.clone());
                    vec![Err(("internal", msg)); n_ops]
                }
            }
        };
        let mut results = results.into_iter();
        let mut out = String::new();
        for s in slots {
            let outcome = match s.failed {
                Some(f) => Err(f),
                None => results.next().unwrap_or(Err(("internal", "missing result".into()))),
            };
            let v = match outcome {
                Ok(()) => {
                    self.ok += 1;
                    if self.errors_only {
                        continue;
                    }
                    json!({"line": s.line, "handle": s.handle, "ok": true})
                }
                Err((code, msg)) => {
                    self.failed += 1;
                    json!({"line": s.line, "handle": s.handle, "ok": false, "error": {"code": code, "message": msg}})
                }
            };
            out.push_str(&v.to_string());
            out.push('\n');
        }
        out.is_empty() || self.tx.send(Ok(Bytes::from(out))).await.is_ok()
    }
}
