//! Gets a PostgreSQL database ready to be a `jdbc` sync source (`prepare-endpoint-server --isSource`): the
//! change log table, the trigger function that fills it, and a trigger on each table whose changes are read
//! (the source's table and its child tables). Every step is idempotent: what is in place is left alone, and the
//! result is checked at the end.
//!
//! The change log (Ping's documented approach for JDBC sources, with ferrosync's columns):
//!
//! ```sql
//! CREATE TABLE ubid_changelog (
//!     change_number   bigserial PRIMARY KEY,
//!     table_name      text NOT NULL,            -- schema.table of the changed row
//!     key_values      text[] NOT NULL,          -- the row's key (before an update), as text
//!     new_key_values  text[],                   -- an update that changed the key: the key after it
//!     change_type     text NOT NULL,            -- insert, update or delete
//!     changed_columns text[],                   -- an update: the columns whose values changed
//!     modifiers_name  text,                     -- the session's role
//!     change_time     timestamptz NOT NULL DEFAULT clock_timestamp()
//! );
//! ```
//!
//! The trigger function runs with its owner's rights (`SECURITY DEFINER`), so the applications that write the
//! tables need no right on the change log. Its arguments name the key columns (for a child table: the
//! columns that hold its parent's key).

use tokio_postgres::Client;

use crate::sql::quote;

/// A table whose changes are logged, and the columns whose values the log records as its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedTable {
    pub schema: String,
    pub table: String,
    /// Empty: the table's primary key.
    pub key_columns: Vec<String>,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    /// It was in place already.
    InPlace,
    /// This run made it.
    Changed,
    /// A check passed.
    Checked,
    /// A check failed.
    Failed,
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StepStatus::InPlace => "in place",
            StepStatus::Changed => "done",
            StepStatus::Checked => "checked",
            StepStatus::Failed => "FAILED",
        })
    }
}

/// One line of the report.
#[derive(Clone, Debug)]
pub struct Step {
    pub status: StepStatus,
    pub text: String,
}

/// Why the database could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The role lacks a right it needs; the message says which and how to grant it.
    #[error("{0}")]
    Rights(String),
    /// A table or column named in the configuration does not exist.
    #[error("{0}")]
    Missing(String),
    #[error("{what}: {source}")]
    Database {
        what: String,
        #[source]
        source: tokio_postgres::Error,
    },
}

/// What to prepare.
#[derive(Clone, Debug)]
pub struct PrepareSource {
    /// The change log table's schema and name.
    pub change_log: (String, String),
    pub tables: Vec<LoggedTable>,
    /// The role the sync source connects as, given SELECT on the change log and the tables (when it is not the
    /// role that prepares).
    pub sync_role: Option<String>,
}

/// The function that the triggers call: `SCHEMA.LOG_record`.
fn function_name(change_log: &(String, String)) -> (String, String) {
    (change_log.0.clone(), format!("{}_record", change_log.1))
}

/// The body of the trigger function, which inserts into `log` (a quoted, qualified name).
fn function_body(log: &str) -> String {
    format!(
        "
DECLARE
    old_row jsonb;
    new_row jsonb;
    old_key text[];
    new_key text[];
    changed text[];
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_row := to_jsonb(OLD);
        old_key := ARRAY(SELECT old_row ->> a.k FROM unnest(TG_ARGV) WITH ORDINALITY AS a(k, n) ORDER BY a.n);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_row := to_jsonb(NEW);
        new_key := ARRAY(SELECT new_row ->> a.k FROM unnest(TG_ARGV) WITH ORDINALITY AS a(k, n) ORDER BY a.n);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        changed := ARRAY(SELECT e.key FROM jsonb_each(new_row) e WHERE e.value IS DISTINCT FROM old_row -> e.key
                         ORDER BY e.key);
        IF cardinality(changed) = 0 THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO {log} (table_name, key_values, new_key_values, change_type, changed_columns, modifiers_name,
                       change_time)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, COALESCE(old_key, new_key),
            CASE WHEN TG_OP = 'UPDATE' AND new_key IS DISTINCT FROM old_key THEN new_key END,
            lower(TG_OP), changed, session_user, clock_timestamp());
    RETURN NULL;
END
"
    )
}

fn db(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> PrepareError {
    let what = what.into();
    move |source| {
        if source.as_db_error().is_some_and(|d| d.code().code() == "42501") {
            let msg = source.as_db_error().map(|d| d.message().to_string()).unwrap_or_default();
            return PrepareError::Rights(format!("{what}: {msg}"));
        }
        PrepareError::Database { what, source }
    }
}

/// Whether `schema.table` exists (as a table this role may see).
async fn table_exists(client: &Client, schema: &str, table: &str) -> Result<bool, PrepareError> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = \
             c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))",
            &[&schema, &table],
        )
        .await
        .map_err(db(format!("cannot look for table {schema}.{table}")))?;
    row.try_get(0).map_err(db("cannot read the catalog"))
}

/// The primary key columns of a table, in order.
async fn primary_key(client: &Client, schema: &str, table: &str) -> Result<Vec<String>, PrepareError> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN LATERAL unnest(i.indkey) WITH \
             ORDINALITY AS k(attnum, ord) ON true JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND \
             a.attnum = k.attnum WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary ORDER BY k.ord",
            &[&schema, &table],
        )
        .await
        .map_err(db(format!("cannot read the primary key of {schema}.{table}")))?;
    rows.iter().map(|r| r.try_get(0).map_err(db("cannot read the catalog"))).collect()
}

/// The columns of a table.
async fn columns(client: &Client, schema: &str, table: &str) -> Result<Vec<String>, PrepareError> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = \
             a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND \
             c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
            &[&schema, &table],
        )
        .await
        .map_err(db(format!("cannot read the columns of {schema}.{table}")))?;
    rows.iter().map(|r| r.try_get(0).map_err(db("cannot read the catalog"))).collect()
}

/// The trigger `name` on a table: its function (schema, name), its arguments, whether it is enabled.
async fn trigger(
    client: &Client,
    schema: &str,
    table: &str,
    name: &str,
) -> Result<Option<((String, String), Vec<String>, bool)>, PrepareError> {
    let row = client
        .query_opt(
            "SELECT pn.nspname::text, p.proname::text, tg.tgargs, tg.tgenabled::text FROM pg_catalog.pg_trigger tg \
             JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = \
             c.relnamespace JOIN pg_catalog.pg_proc p ON p.oid = tg.tgfoid JOIN pg_catalog.pg_namespace pn ON \
             pn.oid = p.pronamespace WHERE n.nspname = $1 AND c.relname = $2 AND tg.tgname = $3",
            &[&schema, &table, &name],
        )
        .await
        .map_err(db(format!("cannot read the triggers of {schema}.{table}")))?;
    let Some(r) = row else { return Ok(None) };
    let err = || db("cannot read the catalog");
    let f: (String, String) = (r.try_get(0).map_err(err())?, r.try_get(1).map_err(err())?);
    let raw: Vec<u8> = r.try_get(2).map_err(err())?;
    let args: Vec<String> =
        raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let enabled: String = r.try_get(3).map_err(err())?;
    Ok(Some((f, args, enabled != "D")))
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Prepares the database for the source: see the [module documentation](self).
pub async fn prepare_source(client: &Client, what: &PrepareSource) -> Result<Vec<Step>, PrepareError> {
    let mut steps = Vec::new();
    let (log_schema, log_table) = &what.change_log;
    let log = format!("{}.{}", quote(log_schema), quote(log_table));
    let log_display = format!("{log_schema}.{log_table}");
    let role: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .map_err(db("cannot read the current role"))?
        .try_get(0)
        .map_err(db("cannot read the current role"))?;
    let rights = |what: &str, e: PrepareError| match e {
        PrepareError::Rights(m) => PrepareError::Rights(format!("{m}: {what}")),
        other => other,
    };

    // The tables and their key columns first: nothing is created for a mapping that names a missing table.
    let mut tables = Vec::new();
    for t in &what.tables {
        let display = format!("{}.{}", t.schema, t.table);
        if !table_exists(client, &t.schema, &t.table).await? {
            return Err(PrepareError::Missing(format!(
                "table {display} does not exist (or role {role} may not see it)"
            )));
        }
        let keys = if t.key_columns.is_empty() {
            primary_key(client, &t.schema, &t.table).await?
        } else {
            t.key_columns.clone()
        };
        if keys.is_empty() {
            return Err(PrepareError::Missing(format!(
                "table {display} has no primary key: name its key columns (--table {display}:COLUMN,...)"
            )));
        }
        let cols = columns(client, &t.schema, &t.table).await?;
        if let Some(k) = keys.iter().find(|k| !cols.contains(k)) {
            return Err(PrepareError::Missing(format!(
                "table {display} has no column '{k}' (its columns: {})",
                cols.join(", ")
            )));
        }
        tables.push((t, display, keys));
    }

    // The change log table.
    if table_exists(client, log_schema, log_table).await? {
        steps.push(Step { status: StepStatus::InPlace, text: format!("change log table {log_display}") });
    } else {
        let sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE {log} (
                 change_number   bigserial PRIMARY KEY,
                 table_name      text NOT NULL,
                 key_values      text[] NOT NULL,
                 new_key_values  text[],
                 change_type     text NOT NULL CHECK (change_type IN ('insert', 'update', 'delete')),
                 changed_columns text[],
                 modifiers_name  text,
                 change_time     timestamptz NOT NULL DEFAULT clock_timestamp()
             );
             CREATE INDEX ON {log} (change_time);",
            schema = quote(log_schema)
        );
        client
            .batch_execute(&sql)
            .await
            .map_err(db(format!("cannot create the change log table {log_display}")))
            .map_err(|e| {
                rights(
                    &format!(
                        "role {role} needs CREATE on schema {log_schema} (GRANT CREATE ON SCHEMA {} TO {})",
                        quote(log_schema),
                        quote(&role)
                    ),
                    e,
                )
            })?;
        steps.push(Step { status: StepStatus::Changed, text: format!("created the change log table {log_display}") });
    }
    let missing: Vec<&str> = {
        let have = columns(client, log_schema, log_table).await?;
        [
            "change_number",
            "table_name",
            "key_values",
            "new_key_values",
            "change_type",
            "changed_columns",
            "modifiers_name",
            "change_time",
        ]
        .into_iter()
        .filter(|c| !have.iter().any(|h| h == c))
        .collect()
    };
    if !missing.is_empty() {
        return Err(PrepareError::Missing(format!(
            "the change log table {log_display} exists but lacks the column(s) {} that ferrosync reads: drop it \
             (or name another with change-log-table) and run again",
            missing.join(", ")
        )));
    }

    // The trigger function.
    let (fschema, fname) = function_name(&what.change_log);
    let fqual = format!("{}.{}", quote(&fschema), quote(&fname));
    let body = function_body(&log);
    let current: Option<String> = client
        .query_opt(
            "SELECT p.prosrc FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = $1 AND p.proname = $2 AND p.pronargs = 0",
            &[&fschema, &fname],
        )
        .await
        .map_err(db("cannot read the catalog"))?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(db("cannot read the catalog"))?;
    if current.as_deref() == Some(body.as_str()) {
        steps.push(Step { status: StepStatus::InPlace, text: format!("trigger function {fschema}.{fname}()") });
    } else {
        let sql = format!(
            "CREATE OR REPLACE FUNCTION {fqual}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER \
             SET search_path = pg_catalog AS {}",
            literal(&body)
        );
        client
            .batch_execute(&sql)
            .await
            .map_err(db(format!("cannot create the trigger function {fschema}.{fname}()")))
            .map_err(|e| rights(&format!("role {role} needs CREATE on schema {fschema}"), e))?;
        steps.push(Step {
            status: StepStatus::Changed,
            text: format!(
                "{} the trigger function {fschema}.{fname}(), which logs each row change in {log_display}",
                if current.is_some() { "replaced" } else { "created" }
            ),
        });
    }

    // A trigger on each table.
    for (t, display, keys) in &tables {
        let found = trigger(client, &t.schema, &t.table, log_table).await?;
        let right = found
            .as_ref()
            .is_some_and(|(f, args, enabled)| *f == (fschema.clone(), fname.clone()) && args == keys && *enabled);
        if right {
            steps.push(Step {
                status: StepStatus::InPlace,
                text: format!("trigger {log_table} on {display} (key {})", keys.join(", ")),
            });
            continue;
        }
        let args: Vec<String> = keys.iter().map(|k| literal(k)).collect();
        let sql = format!(
            "CREATE OR REPLACE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {}.{} FOR EACH ROW EXECUTE FUNCTION \
             {fqual}({})",
            quote(log_table),
            quote(&t.schema),
            quote(&t.table),
            args.join(", ")
        );
        client.batch_execute(&sql).await.map_err(db(format!("cannot create the trigger on {display}"))).map_err(
            |e| {
                rights(
                    &format!(
                    "only the owner of table {display} (or a superuser) may create its triggers: run as the owner, or \
                     ALTER TABLE {}.{} OWNER TO {}",
                    quote(&t.schema),
                    quote(&t.table),
                    quote(&role)
                ),
                    e,
                )
            },
        )?;
        if found.as_ref().is_some_and(|(_, _, enabled)| !enabled) {
            client
                .batch_execute(&format!(
                    "ALTER TABLE {}.{} ENABLE TRIGGER {}",
                    quote(&t.schema),
                    quote(&t.table),
                    quote(log_table)
                ))
                .await
                .map_err(db(format!("cannot enable the trigger on {display}")))?;
        }
        steps.push(Step {
            status: StepStatus::Changed,
            text: format!(
                "{} trigger {log_table} on {display}: inserts, updates and deletes are logged by key {}",
                if found.is_some() { "replaced the" } else { "created the" },
                keys.join(", ")
            ),
        });
    }

    // The sync role may read the change log and the tables.
    if let Some(sync) = what.sync_role.as_ref().filter(|r| **r != role) {
        // The change log is also purged of old rows by the sync user (change-log-maximum-age).
        let mut objects = vec![(log.clone(), log_display.clone(), log_schema.clone(), "SELECT, DELETE")];
        objects.extend(tables.iter().map(|(t, d, _)| {
            (format!("{}.{}", quote(&t.schema), quote(&t.table)), d.clone(), t.schema.clone(), "SELECT")
        }));
        for (q, d, schema, privileges) in objects {
            let has: bool = client
                .query_one(
                    "SELECT (SELECT bool_and(has_table_privilege($1, $2, p)) FROM unnest(string_to_array($4, ', ')) \
                     p) AND has_schema_privilege($1, $3, 'USAGE')",
                    &[sync, &q, &schema, &privileges],
                )
                .await
                .map_err(db(format!("cannot check the rights of role {sync} (does it exist?)")))?
                .try_get(0)
                .map_err(db("cannot read the rights"))?;
            let may = if privileges.contains("DELETE") { "read and purge" } else { "read" };
            if has {
                steps.push(Step { status: StepStatus::InPlace, text: format!("role {sync} may {may} {d}") });
                continue;
            }
            client
                .batch_execute(&format!(
                    "GRANT USAGE ON SCHEMA {} TO {s}; GRANT {privileges} ON {q} TO {s}",
                    quote(&schema),
                    s = quote(sync)
                ))
                .await
                .map_err(db(format!("cannot let role {sync} {may} {d}")))
                .map_err(|e| rights(&format!("role {role} may not grant {privileges} on {d}: run as its owner"), e))?;
            steps.push(Step { status: StepStatus::Changed, text: format!("granted role {sync} {privileges} on {d}") });
        }
    }

    // The check: every trigger is there, enabled, calls the function with the key columns; the change log can
    // be read by the sync role.
    for (t, display, keys) in &tables {
        let found = trigger(client, &t.schema, &t.table, log_table).await?;
        let ok = found
            .as_ref()
            .is_some_and(|(f, args, enabled)| *f == (fschema.clone(), fname.clone()) && args == keys && *enabled);
        steps.push(Step {
            status: if ok { StepStatus::Checked } else { StepStatus::Failed },
            text: if ok {
                format!("changes of {display} are logged in {log_display}")
            } else {
                format!("the trigger {log_table} on {display} is not as it should be after this run")
            },
        });
    }
    let reader = what.sync_role.clone().unwrap_or_else(|| role.clone());
    let readable: bool = client
        .query_one("SELECT has_table_privilege($1, $2, 'SELECT')", &[&reader, &log])
        .await
        .map_err(db("cannot check the rights on the change log"))?
        .try_get(0)
        .map_err(db("cannot read the rights"))?;
    steps.push(Step {
        status: if readable { StepStatus::Checked } else { StepStatus::Failed },
        text: if readable {
            format!("role {reader} may read {log_display}")
        } else {
            format!("role {reader} may not read {log_display}: GRANT SELECT ON {log} TO {}", quote(&reader))
        },
    });
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_writes_into_the_named_log_and_names_are_quoted() {
        let body = function_body("\"hr\".\"ubid_changelog\"");
        assert!(body.contains("INSERT INTO \"hr\".\"ubid_changelog\" (table_name"), "{body}");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(function_name(&("hr".into(), "log".into())), ("hr".to_string(), "log_record".to_string()));
    }
}
