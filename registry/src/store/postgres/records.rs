//! The SQL of [`super::PgStore`]: the record write transaction (ops computed
//! against the committed state under the change-log row lock), entity
//! writes with compare-and-swap, and the store's meta row.

use std::collections::HashMap;

use tokio_postgres::{GenericClient, Transaction};

use super::pg_err;
use crate::model::{Change, ChangeOp, Record, Stored, Value};
use crate::store::sled_store::{check_key, encode_checked, prepare_values};
use crate::store::{ABSENT, ConsumerPosition, RecordOp, StoreError, StoreMeta, Version, WriteCtx, WriteReceipt};

const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/// Locks the change-log counter row (the cross-process writer lock) and
/// returns the last sequence number and the time of its change.
pub(super) async fn lock_log(tx: &Transaction<'_>) -> Result<(u64, u64), StoreError> {
    let seq: i64 =
        tx.query_one("SELECT v FROM seqs WHERE name = 'changelog' FOR UPDATE", &[]).await.map_err(pg_err)?.get(0);
    let t: Option<i64> =
        tx.query_opt("SELECT t FROM changelog WHERE seq = $1", &[&seq]).await.map_err(pg_err)?.map(|r| r.get(0));
    Ok((seq as u64, t.unwrap_or(0) as u64))
}

/// Appends `changes` to the log and advances the counter (call after
/// [`lock_log`], in the same transaction).
pub(super) async fn append_log(tx: &Transaction<'_>, changes: &[Change]) -> Result<(), StoreError> {
    let Some(last) = changes.last() else { return Ok(()) };
    let seqs: Vec<i64> = changes.iter().map(|c| c.seq as i64).collect();
    let times: Vec<i64> = changes.iter().map(|c| c.time as i64).collect();
    let bodies: Vec<Vec<u8>> = changes.iter().map(Stored::to_stored).collect();
    tx.execute(
        &format!(
            "INSERT INTO changelog (seq, t, c, committed_ms) \
             SELECT s, t, c, {NOW_MS} FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BYTEA[]) AS u(s, t, c)"
        ),
        &[&seqs, &times, &bodies],
    )
    .await
    .map_err(pg_err)?;
    tx.execute("UPDATE seqs SET v = $1 WHERE name = 'changelog'", &[&(last.seq as i64)]).await.map_err(pg_err)?;
    Ok(())
}

type State = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// One computed op: key, new stored bytes (`None` = deleted), change op,
/// whether a record was created.
type Computed = (Vec<u8>, Option<Vec<u8>>, ChangeOp, bool);

fn current(state: &State, key: &[u8]) -> Result<Option<Vec<Value>>, StoreError> {
    match state.get(key).and_then(|v| v.as_ref()) {
        None => Ok(None),
        Some(b) => Ok(Some(Record::decode(b).map_err(|e| StoreError::corrupt("handles", e))?.values)),
    }
}

fn exists(state: &State, key: &[u8]) -> bool {
    state.get(key).is_some_and(Option::is_some)
}

/// One op against `state` (the committed rows plus the batch's earlier
/// ops): the key, its new stored bytes (`None` = deleted), the change op
/// and whether a record was created. Same semantics as the sled store.
fn compute(state: &State, op: RecordOp, now: u32, keep: bool) -> Result<Computed, StoreError> {
    check_key(op.key())?;
    match op {
        RecordOp::Create { key, mut values, overwrite } => {
            prepare_values(&mut values, now, keep)?;
            let existed = exists(state, &key);
            if existed && !overwrite {
                return Err(StoreError::AlreadyExists);
            }
            let new = encode_checked(&values)?;
            Ok((key, Some(new), ChangeOp::Create, !existed))
        }
        RecordOp::Replace { key, mut values } => {
            prepare_values(&mut values, now, keep)?;
            if !exists(state, &key) {
                return Err(StoreError::NotFound);
            }
            let new = encode_checked(&values)?;
            Ok((key, Some(new), ChangeOp::Replace, false))
        }
        RecordOp::Delete { key } => {
            if !exists(state, &key) {
                return Err(StoreError::NotFound);
            }
            Ok((key, None, ChangeOp::Delete, false))
        }
        RecordOp::AddValues { key, mut values, overwrite } => {
            prepare_values(&mut values, now, keep)?;
            let mut cur = current(state, &key)?.ok_or(StoreError::NotFound)?;
            for v in values {
                match cur.iter_mut().find(|c| c.index == v.index) {
                    Some(_) if !overwrite => return Err(StoreError::ValueExists(v.index)),
                    Some(c) => *c = v,
                    None => cur.push(v),
                }
            }
            Ok((key, Some(encode_checked(&cur)?), ChangeOp::AddValues, false))
        }
        RecordOp::ModifyValues { key, mut values } => {
            prepare_values(&mut values, now, keep)?;
            let mut cur = current(state, &key)?.ok_or(StoreError::NotFound)?;
            for v in values {
                match cur.iter_mut().find(|c| c.index == v.index) {
                    Some(c) => *c = v,
                    None => return Err(StoreError::ValueNotFound(v.index)),
                }
            }
            Ok((key, Some(encode_checked(&cur)?), ChangeOp::ModifyValues, false))
        }
        RecordOp::RemoveValues { key, indexes } => {
            let mut cur = current(state, &key)?.ok_or(StoreError::NotFound)?;
            for (i, idx) in indexes.iter().enumerate() {
                if indexes[..i].contains(idx) {
                    return Err(StoreError::DuplicateIndex(*idx));
                }
                if !cur.iter().any(|c| c.index == *idx) {
                    return Err(StoreError::ValueNotFound(*idx));
                }
            }
            cur.retain(|c| !indexes.contains(&c.index));
            Ok((key, Some(encode_checked(&cur)?), ChangeOp::RemoveValues, false))
        }
    }
}

/// What a committed record batch did.
pub(super) struct Applied {
    pub results: Vec<Result<WriteReceipt, StoreError>>,
    pub changes: Vec<Change>,
    /// Prefixes of created records (registration counters).
    pub created: Vec<Vec<u8>>,
}

/// Applies `ops` in one transaction; with `mark`, also stores that
/// change-log consumer position in the same transaction
/// ([`crate::store::Store::write_batch_marking`]).
pub(super) async fn apply(
    c: &mut deadpool_postgres::Object,
    ops: Vec<RecordOp>,
    ctx: WriteCtx,
    mark: Option<ConsumerPosition>,
) -> Result<Applied, StoreError> {
    let now32 = u32::try_from(ctx.now).unwrap_or(u32::MAX);
    let tx = c.transaction().await.map_err(pg_err)?;
    let (mut seq, _) = lock_log(&tx).await?;
    let mut keys: Vec<&[u8]> = ops.iter().map(RecordOp::key).collect();
    keys.sort_unstable();
    keys.dedup();
    let rows = tx.query("SELECT k, v FROM handles WHERE k = ANY($1)", &[&keys]).await.map_err(pg_err)?;
    let mut state: State = keys.iter().map(|k| (k.to_vec(), None)).collect();
    for r in rows {
        state.insert(r.get(0), Some(r.get(1)));
    }
    let mut results = Vec::with_capacity(ops.len());
    let mut changes = Vec::new();
    let mut created = Vec::new();
    let mut written: HashMap<Vec<u8>, bool> = HashMap::new();
    for op in ops {
        match compute(&state, op, now32, ctx.keep_timestamps) {
            Ok((key, new, cop, was_created)) => {
                seq += 1;
                changes.push(Change { seq, time: ctx.now, op: cop, key: key.clone(), actor: ctx.actor.clone() });
                if was_created {
                    created.push(crate::ident::prefix_of(&key).to_vec());
                }
                written.insert(key.clone(), new.is_some());
                state.insert(key, new);
                results.push(Ok(WriteReceipt { seq }));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    if let Some(m) = &mark {
        tx.execute(
            "INSERT INTO entities (kind, k, v, ver) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (kind, k) DO UPDATE SET v = EXCLUDED.v, ver = entities.ver + 1",
            &[&super::kind::CONSUMER, &m.name.as_bytes(), &m.to_stored()],
        )
        .await
        .map_err(pg_err)?;
    }
    if changes.is_empty() {
        if mark.is_some() {
            tx.commit().await.map_err(pg_err)?;
        } else {
            tx.rollback().await.map_err(pg_err)?;
        }
        return Ok(Applied { results, changes, created });
    }
    let mut up_k: Vec<&[u8]> = Vec::new();
    let mut up_v: Vec<&[u8]> = Vec::new();
    let mut del: Vec<&[u8]> = Vec::new();
    for (k, present) in &written {
        match state.get(k).and_then(|v| v.as_deref()) {
            Some(v) if *present => {
                up_k.push(k);
                up_v.push(v);
            }
            _ => del.push(k),
        }
    }
    if !up_k.is_empty() {
        tx.execute(
            "INSERT INTO handles (k, v) SELECT k, v FROM UNNEST($1::BYTEA[], $2::BYTEA[]) AS u(k, v) \
             ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
            &[&up_k, &up_v],
        )
        .await
        .map_err(pg_err)?;
    }
    if !del.is_empty() {
        tx.execute("DELETE FROM handles WHERE k = ANY($1)", &[&del]).await.map_err(pg_err)?;
    }
    append_log(&tx, &changes).await?;
    tx.commit().await.map_err(pg_err)?;
    Ok(Applied { results, changes, created })
}

/// One entity write: what, where, and the change it logs.
#[derive(Clone)]
pub(super) struct EntityWrite {
    pub kind: i16,
    pub what: &'static str,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
    pub expected: Option<Version>,
    pub op: ChangeOp,
    pub time_hint: u64,
    pub actor: String,
    /// Error when deleting something absent.
    pub missing_key: String,
}

/// Writes (or removes) one entity with its change-log entry; returns the
/// change.
pub(super) async fn write_entity(c: &mut deadpool_postgres::Object, w: EntityWrite) -> Result<Change, StoreError> {
    let tx = c.transaction().await.map_err(pg_err)?;
    let (seq, last_time) = lock_log(&tx).await?;
    let cur: Version = tx
        .query_opt("SELECT ver FROM entities WHERE kind = $1 AND k = $2", &[&w.kind, &w.key])
        .await
        .map_err(pg_err)?
        .map_or(ABSENT, |r| r.get::<_, i64>(0) as u64);
    if let Some(exp) = w.expected
        && exp != cur
    {
        return Err(StoreError::Conflict { what: w.what, key: String::from_utf8_lossy(&w.key).into_owned() });
    }
    let seq = seq + 1;
    match &w.value {
        Some(v) => {
            tx.execute(
                "INSERT INTO entities (kind, k, v, ver) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (kind, k) DO UPDATE SET v = EXCLUDED.v, ver = EXCLUDED.ver",
                &[&w.kind, &w.key, v, &(seq as i64)],
            )
            .await
            .map_err(pg_err)?;
        }
        None => {
            if cur == ABSENT {
                return Err(StoreError::EntityNotFound { what: w.what, key: w.missing_key });
            }
            tx.execute("DELETE FROM entities WHERE kind = $1 AND k = $2", &[&w.kind, &w.key]).await.map_err(pg_err)?;
        }
    }
    let change = Change { seq, time: last_time.max(w.time_hint), op: w.op, key: w.key, actor: w.actor };
    append_log(&tx, std::slice::from_ref(&change)).await?;
    tx.commit().await.map_err(pg_err)?;
    Ok(change)
}

/// The stored value and version of an entity.
pub(super) async fn get_entity(
    c: &impl GenericClient,
    kind: i16,
    key: Vec<u8>,
) -> Result<Option<(Vec<u8>, Version)>, StoreError> {
    Ok(c.query_opt("SELECT v, ver FROM entities WHERE kind = $1 AND k = $2", &[&kind, &key])
        .await
        .map_err(pg_err)?
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u64)))
}

/// The meta row, written on first open.
pub(super) async fn load_or_init_meta(
    c: &impl GenericClient,
    node_id: String,
    now: u64,
) -> Result<StoreMeta, StoreError> {
    let fresh = StoreMeta { schema: super::PG_SCHEMA_VERSION as u32, node_id, created: now };
    c.execute("INSERT INTO meta (id, v) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", &[&fresh.to_stored()])
        .await
        .map_err(pg_err)?;
    let v: Vec<u8> = c.query_one("SELECT v FROM meta WHERE id = 1", &[]).await.map_err(pg_err)?.get(0);
    StoreMeta::from_stored(&v).map_err(|e| StoreError::decode("meta", e))
}
