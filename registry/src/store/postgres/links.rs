//! The link index on PostgreSQL (issue 12; the `links` table of schema
//! version 2): one row per (target, source, relation). [`set_links`]
//! replaces a source's rows in one transaction; [`links_to`] reads a
//! target's rows in (source, relation) byte order, the order sled's
//! `links_rev` tree gives. Not logged in the change log: the index is
//! derived from it (`service::refs`).

use tokio_postgres::GenericClient;

use super::pg_err;
use crate::store::StoreError;

/// Replaces the links of `source` by `links` (relation, target).
pub(super) async fn set_links(
    c: &mut deadpool_postgres::Object,
    source: Vec<u8>,
    links: Vec<(String, Vec<u8>)>,
) -> Result<(), StoreError> {
    let tx = c.transaction().await.map_err(pg_err)?;
    tx.execute("DELETE FROM links WHERE src = $1", &[&source]).await.map_err(pg_err)?;
    if !links.is_empty() {
        let rels: Vec<&[u8]> = links.iter().map(|(r, _)| r.as_bytes()).collect();
        let dsts: Vec<&[u8]> = links.iter().map(|(_, t)| t.as_slice()).collect();
        tx.execute(
            "INSERT INTO links (dst, src, rel) SELECT d, $1, r FROM UNNEST($2::BYTEA[], $3::BYTEA[]) AS u(d, r) \
             ON CONFLICT (dst, src, rel) DO NOTHING",
            &[&source, &dsts, &rels],
        )
        .await
        .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)
}

/// Sources linking to `target`, as (source, relation), strictly after
/// `after`, at most `limit`.
pub(super) async fn links_to(
    c: &impl GenericClient,
    target: Vec<u8>,
    after: Option<(Vec<u8>, Vec<u8>)>,
    limit: i64,
) -> Result<Vec<(Vec<u8>, String)>, StoreError> {
    let rows = match &after {
        None => c
            .query("SELECT src, rel FROM links WHERE dst = $1 ORDER BY src, rel LIMIT $2", &[&target, &limit])
            .await
            .map_err(pg_err)?,
        Some((src, rel)) => c
            .query(
                "SELECT src, rel FROM links WHERE dst = $1 AND (src > $2 OR (src = $2 AND rel > $3)) \
                 ORDER BY src, rel LIMIT $4",
                &[&target, src, rel, &limit],
            )
            .await
            .map_err(pg_err)?,
    };
    rows.into_iter()
        .map(|r| {
            let rel: Vec<u8> = r.get(1);
            let rel = String::from_utf8(rel).map_err(|e| StoreError::corrupt("links", e))?;
            Ok((r.get(0), rel))
        })
        .collect()
}
