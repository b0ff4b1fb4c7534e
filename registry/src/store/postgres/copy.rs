//! Bulk paths of [`super::PgStore`]: change-log retention and `COPY`
//! loading of records (import, restore, `idnode store copy`).

use std::sync::atomic::Ordering;

use futures_util::pin_mut;
use tokio_postgres::GenericClient;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use super::records::lock_log;
use super::{PgStore, pg_err};
use crate::model::{Change, ChangeOp, DayCounters, RecordBytes, day_of};
use crate::store::{PruneReport, Retention, StoreError, WriteCtx};

/// Removes the oldest change-log rows while they are older than the age
/// limit or the log is over its byte limit, never past `held_at` (the
/// lowest consumer position).
pub(super) async fn prune(
    c: &impl GenericClient,
    r: Retention,
    now: u64,
    held_at: Option<u64>,
) -> Result<PruneReport, StoreError> {
    let rows = c.query("SELECT seq, t, length(c) FROM changelog ORDER BY seq", &[]).await.map_err(pg_err)?;
    let mut kept_bytes: u64 = rows.iter().map(|r| r.get::<_, i32>(2) as u64 + 8).sum();
    let cutoff = r.max_age_secs.map(|a| now.saturating_sub(a));
    let floor = held_at.unwrap_or(u64::MAX);
    let mut report = PruneReport::default();
    let mut cut: Option<i64> = None;
    for row in &rows {
        let (seq, t, len) = (row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64, row.get::<_, i32>(2) as u64 + 8);
        let too_old = cutoff.is_some_and(|c| t < c);
        let too_big = r.max_bytes.is_some_and(|m| kept_bytes > m);
        if !(too_old || too_big) {
            break;
        }
        if seq > floor {
            report.held_for_consumers += 1;
            continue;
        }
        cut = Some(seq as i64);
        report.removed += 1;
        kept_bytes -= len;
    }
    if let Some(cut) = cut {
        c.execute("DELETE FROM changelog WHERE seq <= $1", &[&cut]).await.map_err(pg_err)?;
    }
    report.kept = rows.len() as u64 - report.removed;
    report.kept_bytes = kept_bytes;
    Ok(report)
}

impl PgStore {
    /// Loads records (stored bytes, already validated) with `COPY`: one
    /// transaction under the change-log lock, records copied into a
    /// temporary table and merged into `handles` (existing keys are
    /// replaced), one `Create` change per record copied straight into the
    /// change log. Returns the number of records loaded.
    pub fn copy_records(&self, records: Vec<(Vec<u8>, RecordBytes)>, ctx: &WriteCtx) -> Result<u64, StoreError> {
        if records.is_empty() {
            return Ok(0);
        }
        for (k, _) in &records {
            crate::store::sled_store::check_key(k)?;
        }
        let ctx2 = ctx.clone();
        let n = records.len() as u64;
        let records = std::sync::Arc::new(records);
        let (created, last) = self.s.with_client(move |mut c| {
            let (records, ctx2) = (records.clone(), ctx2.clone());
            async move {
                let tx = c.transaction().await.map_err(pg_err)?;
                let (seq0, _) = lock_log(&tx).await?;
                tx.batch_execute("CREATE TEMPORARY TABLE idnode_load (k BYTEA, v BYTEA) ON COMMIT DROP")
                    .await
                    .map_err(pg_err)?;
                let sink = tx.copy_in("COPY idnode_load (k, v) FROM STDIN (FORMAT binary)").await.map_err(pg_err)?;
                let w = BinaryCopyInWriter::new(sink, &[Type::BYTEA, Type::BYTEA]);
                pin_mut!(w);
                for (k, v) in records.iter() {
                    w.as_mut().write(&[k, &v.stored()]).await.map_err(pg_err)?;
                }
                w.finish().await.map_err(pg_err)?;
                // Keys new to the table count as registrations.
                let created: Vec<Vec<u8>> = tx
                    .query("SELECT l.k FROM idnode_load l LEFT JOIN handles h ON h.k = l.k WHERE h.k IS NULL", &[])
                    .await
                    .map_err(pg_err)?
                    .into_iter()
                    .map(|r| r.get(0))
                    .collect();
                tx.execute(
                "INSERT INTO handles (k, v) SELECT k, v FROM idnode_load ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                &[],
            )
            .await
            .map_err(pg_err)?;
                let changes: Vec<Change> = records
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| Change {
                        seq: seq0 + 1 + i as u64,
                        time: ctx2.now,
                        op: ChangeOp::Create,
                        key: k.clone(),
                        actor: ctx2.actor.clone(),
                    })
                    .collect();
                copy_changes(&tx, &changes).await?;
                append_log_counter(&tx, changes.last().map_or(seq0, |c| c.seq)).await?;
                tx.commit().await.map_err(pg_err)?;
                Ok((created, changes.last().map_or(seq0, |c| c.seq)))
            }
        })?;
        self.s.last.fetch_max(last, Ordering::AcqRel);
        let day = day_of(ctx.now);
        for k in &created {
            self.s.counters.add(crate::ident::prefix_of(k), day, DayCounters { registrations: 1, resolutions: 0 });
        }
        // Cached copies of replaced records are stale.
        if let Some(cache) = &self.s.cache {
            cache.clear();
        }
        Ok(n)
    }
}

/// Copies change-log rows with `COPY` (bulk loads; `records::append_log`
/// for the rest).
async fn copy_changes(tx: &tokio_postgres::Transaction<'_>, changes: &[Change]) -> Result<(), StoreError> {
    use crate::model::Stored;
    let now_ms: i64 = tx
        .query_one("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT", &[])
        .await
        .map_err(pg_err)?
        .get(0);
    let sink =
        tx.copy_in("COPY changelog (seq, t, c, committed_ms) FROM STDIN (FORMAT binary)").await.map_err(pg_err)?;
    let w = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT8, Type::BYTEA, Type::INT8]);
    pin_mut!(w);
    for c in changes {
        w.as_mut().write(&[&(c.seq as i64), &(c.time as i64), &c.to_stored(), &now_ms]).await.map_err(pg_err)?;
    }
    w.finish().await.map_err(pg_err)?;
    Ok(())
}

async fn append_log_counter(tx: &tokio_postgres::Transaction<'_>, last: u64) -> Result<(), StoreError> {
    tx.execute("UPDATE seqs SET v = $1 WHERE name = 'changelog'", &[&(last as i64)]).await.map_err(pg_err)?;
    Ok(())
}
