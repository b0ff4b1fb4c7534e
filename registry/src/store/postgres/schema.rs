//! The PostgreSQL schema and its embedded, versioned migrations.
//!
//! Every migration is plain SQL that PostgreSQL, CockroachDB and YugabyteDB
//! all accept (BYTEA, BIGINT, composite primary keys, `ON CONFLICT`, no
//! sequences, no triggers, no stored procedures). `idnode_migrations` holds
//! one row per applied migration; a database with a version newer than this
//! build knows is refused ([`StoreError::SchemaTooNew`]).
//!
//! Tables:
//! * `handles (k, v)`: canonical key -> the record's stored bytes, exactly
//!   the bytes sled stores (schema byte + wire `list<value>`).
//! * `entities (kind, k, v, ver)`: prefixes, enterprises, identities,
//!   templates, aliases, change-log consumers (postcard with a version byte,
//!   as in sled), `ver` the compare-and-swap version.
//! * `changelog (seq, t, c, committed_ms)`: one row per change; `seq` is
//!   taken from the `seqs` row `changelog` updated in the same transaction,
//!   which makes it gap-free in commit order (see the module docs of
//!   [`super`]).
//! * `seqs (name, v)`: the change-log, audit and id counters.
//! * `counters (p, day, reg, res)`, `audit (seq, e)`, `meta (id, v)`.
//! * `links (dst, src, rel)` (version 2): the link index, see
//!   [`super::links`].

use tokio_postgres::Client;

use crate::store::StoreError;

/// Migrations in order: (version, SQL statements).
pub(super) const MIGRATIONS: &[(i32, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE handles (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)",
            "CREATE TABLE entities (kind SMALLINT NOT NULL, k BYTEA NOT NULL, v BYTEA NOT NULL, ver BIGINT NOT NULL, \
         PRIMARY KEY (kind, k))",
            "CREATE TABLE changelog (seq BIGINT PRIMARY KEY, t BIGINT NOT NULL, c BYTEA NOT NULL, \
         committed_ms BIGINT NOT NULL)",
            "CREATE TABLE seqs (name TEXT PRIMARY KEY, v BIGINT NOT NULL)",
            "INSERT INTO seqs (name, v) VALUES ('changelog', 0), ('audit', 0), ('ids', 0)",
            "CREATE TABLE counters (p BYTEA NOT NULL, day INT NOT NULL, reg BIGINT NOT NULL, res BIGINT NOT NULL, \
         PRIMARY KEY (p, day))",
            "CREATE TABLE audit (seq BIGINT PRIMARY KEY, e BYTEA NOT NULL)",
            "CREATE TABLE meta (id INT PRIMARY KEY, v BYTEA NOT NULL)",
        ],
    ),
    (
        2,
        &[
            // The link index (issue 12, `Store::set_links`): one row per
            // (target, source, relation); the relation as bytes so that its
            // order is byte order under any collation.
            "CREATE TABLE links (dst BYTEA NOT NULL, src BYTEA NOT NULL, rel BYTEA NOT NULL, PRIMARY KEY (dst, src, rel))",
            "CREATE INDEX links_src ON links (src)",
        ],
    ),
];

/// The schema version this build writes.
pub const PG_SCHEMA_VERSION: i32 = 2;

/// The highest applied migration (0 on an empty database).
pub(super) async fn current_version(c: &Client) -> Result<i32, StoreError> {
    // Looked up first rather than `CREATE ... IF NOT EXISTS` on every open,
    // which makes the server send a notice each time.
    let exists: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_name = 'idnode_migrations' AND table_schema = current_schema()",
            &[],
        )
        .await
        .map_err(super::pg_err)?
        .get(0);
    if exists == 0 {
        // `CREATE TABLE IF NOT EXISTS` is not safe against a concurrent
        // CREATE of the same table (42710 / 23505 on its row type) when
        // several nodes open an empty database at once: serialize it with a
        // transaction-scoped advisory lock; the later ones find the table.
        let created = c
            .batch_execute(
                "BEGIN; SELECT pg_advisory_xact_lock(7597679289452816756); \
             CREATE TABLE IF NOT EXISTS idnode_migrations (version INT PRIMARY KEY, applied_ms BIGINT NOT NULL); \
             COMMIT;",
            )
            .await
            .map_err(super::pg_err);
        if created.is_err() {
            let _ = c.batch_execute("ROLLBACK").await;
        }
        created?;
    }
    let row =
        c.query_one("SELECT COALESCE(MAX(version), 0) FROM idnode_migrations", &[]).await.map_err(super::pg_err)?;
    Ok(row.get::<_, i32>(0))
}

/// Applies every migration after the current version, each in its own
/// transaction; returns the versions applied.
pub(super) async fn migrate(c: &mut Client) -> Result<Vec<i32>, StoreError> {
    let cur = current_version(c).await?;
    if cur > PG_SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found: cur as u32, supported: PG_SCHEMA_VERSION as u32 });
    }
    let mut applied = Vec::new();
    for (v, stmts) in MIGRATIONS.iter().filter(|(v, _)| *v > cur) {
        match apply_one(c, *v, stmts).await {
            Ok(()) => applied.push(*v),
            // Several processes starting together on an old schema: one
            // applies the migration, the others fail on its tables or its
            // `idnode_migrations` row; that is success for them too.
            Err(e) if current_version(c).await? >= *v => {
                let _ = e;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(applied)
}

/// Applies migration `v` and records it, in one transaction.
async fn apply_one(c: &mut Client, v: i32, stmts: &[&str]) -> Result<(), StoreError> {
    let tx = c.transaction().await.map_err(super::pg_err)?;
    for s in stmts {
        tx.batch_execute(s).await.map_err(super::pg_err)?;
    }
    tx.execute(
        "INSERT INTO idnode_migrations (version, applied_ms) VALUES ($1, $2)",
        &[&v, &(super::unix_ms() as i64)],
    )
    .await
    .map_err(super::pg_err)?;
    tx.commit().await.map_err(super::pg_err)
}
