//! `GET /admin/v1/backup[?secrets=true]`: a consistent, gzip-compressed,
//! checksummed archive of the store, streamed as it is written
//! (`crate::backup::archive`, `idnode_registry::backup` for the format and
//! the consistency rule). Audited (`backup`, target `secrets` or
//! `records`); the archive's trailer is in the body, so a cut stream is
//! detected by the client.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tokio::sync::mpsc;

use super::records::ChannelBody;
use super::{AdminError, Query, St, Who, audit};
use crate::backup::archive::{ChannelWriter, write_archive};

/// `GET /admin/v1/backup`.
pub async fn backup(State(st): State<St>, who: Who, q: Query) -> Result<Response, AdminError> {
    let with_secrets = q.flag("secrets")?;
    let target = if with_secrets { "secrets" } else { "records" };
    if with_secrets {
        tracing::warn!(actor = %who.actor.username, "admin API: a backup with the node's keys and secrets was requested");
    }
    let (tx, rx) = mpsc::channel(8);
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter::new(tx);
        let r = write_archive(st2.store(), st2.cfg(), with_secrets, &mut w, &mut |_| {});
        match r {
            Ok(t) => {
                tracing::info!(records = t.records, seq = t.snapshot_seq, with_secrets, "admin API: backup written");
                audit(&st2, &who, "backup", target, "ok");
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "admin API: backup aborted");
                audit(&st2, &who, "backup", target, "error");
                w.abort(format!("{e:#}"));
            }
        }
    });
    let mut r = Response::new(Body::new(ChannelBody(rx)));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/gzip"));
    Ok(r)
}
