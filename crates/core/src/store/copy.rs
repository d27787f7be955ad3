//! [`copy_sqlite_to_postgres`]: a server root's SQLite store copied whole into an empty PostgreSQL store, in one
//! PostgreSQL transaction: the configuration (objects in their order, values sealed as they are), the
//! generation, every pipe's start point, the id map, the server values and the counters.

use super::postgres::PostgresBackend;
use super::sqlite::SqliteBackend;
use super::{PostgresUrl, StoreBackend};
use crate::error::StoreError;

/// What a copy wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub objects: usize,
    pub start_points: usize,
    pub id_map_records: usize,
    pub server_values: usize,
    pub generation: i64,
}

/// Id-map records written per statement.
const BATCH: usize = 1000;

/// Copies the SQLite store at `sqlite` into the PostgreSQL store at `url`, which must hold nothing yet (a new
/// database or schema). The source is only read. Sealed values are copied sealed: the servers that use the
/// copy need the key file of the source's server root.
pub fn copy_sqlite_to_postgres(sqlite: &std::path::Path, url: &PostgresUrl) -> Result<CopyReport, StoreError> {
    if !sqlite.is_file() {
        return Err(StoreError::Copy(format!("there is no SQLite store at {}", sqlite.display())));
    }
    let mut source = SqliteBackend::open(sqlite)?;
    let config = source.load()?;
    let generation = source.generation()?;
    let path = source.path().to_path_buf();
    let sql = |source| StoreError::Sqlite { path: path.clone(), source };
    let conn = source.connection();
    let rows3 = |query: &str| -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = conn.prepare(query).map_err(sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(sql)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sql)
    };
    let start_points = rows3("SELECT pipe, start_point, updated FROM pipe_state ORDER BY pipe")?;
    let stats = rows3("SELECT pipe, stats, updated FROM pipe_stats ORDER BY pipe")?;
    let server_values = rows3("SELECT key, value, '' FROM server_state ORDER BY key")?;
    let seeded: bool =
        conn.query_row("SELECT count(*) FROM meta WHERE key = 'seeded'", [], |r| r.get::<_, i64>(0)).map_err(sql)? > 0;

    let mut target = PostgresBackend::open(url)?;
    let (client, location) = target.raw()?;
    let pg = |source| StoreError::Postgres { location: location.clone(), source };
    let mut report = CopyReport {
        objects: config.objects().len(),
        start_points: start_points.len(),
        server_values: server_values.len(),
        generation,
        ..CopyReport::default()
    };
    futures_executor::block_on(async {
        let tx = client.transaction().await.map_err(pg)?;
        tx.query("SELECT value FROM meta WHERE key = 'generation' FOR UPDATE", &[]).await.map_err(pg)?;
        let held: i64 = tx
            .query_one(
                "SELECT (SELECT count(*) FROM objects) + (SELECT count(*) FROM pipe_state)
                      + (SELECT count(*) FROM id_map) + (SELECT count(*) FROM meta WHERE key = 'seeded')",
                &[],
            )
            .await
            .map_err(pg)?
            .try_get(0)
            .map_err(pg)?;
        if held > 0 {
            return Err(StoreError::Copy(format!(
                "{location} holds a store already (configuration or sync state): copy into an empty one, such as \
                 a new schema (?schema=NAME in the URL)"
            )));
        }
        for obj in config.objects() {
            super::postgres::insert_object(&tx, obj).await.map_err(pg)?;
        }
        tx.execute("UPDATE meta SET value = $1 WHERE key = 'generation'", &[&generation.to_string()])
            .await
            .map_err(pg)?;
        if seeded {
            tx.execute("INSERT INTO meta (key, value) VALUES ('seeded', '1')", &[]).await.map_err(pg)?;
        }
        for (pipe, start_point, updated) in &start_points {
            tx.execute(
                "INSERT INTO pipe_state (pipe, start_point, updated) VALUES ($1, $2, $3)",
                &[pipe, start_point, updated],
            )
            .await
            .map_err(pg)?;
        }
        for (pipe, value, updated) in &stats {
            tx.execute("INSERT INTO pipe_stats (pipe, stats, updated) VALUES ($1, $2, $3)", &[pipe, value, updated])
                .await
                .map_err(pg)?;
        }
        for (key, value, _) in &server_values {
            tx.execute("INSERT INTO server_state (key, value) VALUES ($1, $2)", &[key, value]).await.map_err(pg)?;
        }
        // The id map may be large: read in order and written a batch at a time.
        let insert = tx
            .prepare(
                "INSERT INTO id_map (pipe, source_id, source_dn, dest_dn, digest, class, renaming_to)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])",
            )
            .await
            .map_err(pg)?;
        let mut stmt = conn
            .prepare(
                "SELECT pipe, source_id, source_dn, dest_dn, digest, class, renaming_to FROM id_map
                 ORDER BY pipe, source_id",
            )
            .map_err(sql)?;
        let mut rows = stmt.query([]).map_err(sql)?;
        let mut batch: [Vec<Option<String>>; 7] = Default::default();
        loop {
            let row = rows.next().map_err(sql)?;
            if let Some(row) = row {
                for (i, column) in batch.iter_mut().enumerate() {
                    column.push(row.get(i).map_err(sql)?);
                }
            }
            let full = batch[0].len() >= BATCH;
            if (row.is_none() || full) && !batch[0].is_empty() {
                let [a, b, c, d, e, f, g] = &batch;
                tx.execute(&insert, &[a, b, c, d, e, f, g]).await.map_err(pg)?;
                report.id_map_records += batch[0].len();
                batch.iter_mut().for_each(Vec::clear);
            }
            if row.is_none() {
                break;
            }
        }
        tx.commit().await.map_err(pg)
    })?;
    Ok(report)
}
