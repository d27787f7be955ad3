//! The connection to a `jdbc` external server that sources and destinations share: its URL and password from
//! the configuration, connecting (again after the server dropped the connection), reading a table's columns
//! from the catalog, and database errors as endpoint errors.

use tokio_postgres::Client;

use ferrosync::config::Config;
use ferrosync::endpoint::{EndpointError, EndpointResult};
use ferrosync::secret::{reveal_setting, Secret, SecretBox};
use ferrosync::settings::JdbcServerSettings;
use ferrosync::store::{PostgresUrl, ServerRoot, SslMode};

use ferrosync::settings::{ChildTableMap, ColumnMap};

use crate::sql::{quote, Child, Column, Layout, Table, COLUMNS};
use crate::JdbcConfigError;

pub(crate) fn cfg(e: impl ToString) -> JdbcConfigError {
    JdbcConfigError(e.to_string())
}

/// Where a source or destination connects, and as whom. The password is never shown.
pub(crate) struct Db {
    /// The endpoint's label (`sync source 'hr'`), for messages.
    pub label: String,
    pub url: PostgresUrl,
    password: Option<Secret>,
}

impl Db {
    /// The external server `server` (of type jdbc), for the endpoint labelled `label`.
    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        server: &str,
        schema: &str,
        label: &str,
    ) -> Result<Db, JdbcConfigError> {
        let s = JdbcServerSettings::of(config, server).map_err(cfg)?;
        let password = reveal_setting(config, secrets, root, &s.password).map_err(cfg)?;
        let sslmode = match &s.sslmode {
            None => SslMode::default(),
            Some(m) => SslMode::from_name(m).ok_or_else(|| {
                cfg(format!(
                    "the {}: jdbc-connection-properties sslmode={m} is not one of disable, prefer, require, \
                     verify-ca, verify-full",
                    s.label
                ))
            })?,
        };
        let sslrootcert = s.sslrootcert.as_ref().map(|p| root.resolve(p));
        if sslrootcert.is_some() && sslmode == SslMode::Disable {
            return Err(cfg(format!("the {}: sslrootcert is given but sslmode is disable", s.label)));
        }
        let url = PostgresUrl {
            user: s.user.clone(),
            host: s.host.clone(),
            port: s.port,
            dbname: s.database.clone(),
            schema: schema.to_string(),
            passfile: None,
            sslmode,
            sslrootcert,
            connect_timeout: s.connect_timeout,
        };
        Ok(Db { label: label.to_string(), url, password })
    }

    /// A URL given directly (prepare-endpoint-server), with its password (else its passfile's).
    pub fn from_url(url: PostgresUrl, password: Option<Secret>, label: &str) -> Db {
        Db { label: label.to_string(), url, password }
    }

    pub fn url_and_password(self) -> (PostgresUrl, Option<Secret>) {
        (self.url, self.password)
    }

    /// A new connection. Authentication and authorization failures are configuration errors.
    pub async fn connect(&self) -> EndpointResult<Client> {
        let url = self.url.clone();
        let password = self.password.clone();
        let made = tokio::task::spawn_blocking(move || {
            ferrosync::store::connect_client(&url, password.as_ref().map(Secret::expose))
        })
        .await
        .map_err(|e| EndpointError::Unavailable(format!("cannot connect to {}: {e}", self.url.location())))?;
        made.map_err(|e| match &e {
            ferrosync::error::StoreError::Postgres { source, .. } if source.as_db_error().is_some() => {
                EndpointError::Config(format!("the {}: {e}", self.label))
            }
            _ => EndpointError::Unavailable(format!("the {}: {e}", self.label)),
        })
    }

    /// A database error as an endpoint error, with the server's message and detail.
    pub fn pg(&self, e: tokio_postgres::Error) -> EndpointError {
        let Some(db) = e.as_db_error() else {
            return EndpointError::Unavailable(format!("the {}: {e}", self.label));
        };
        let mut text = format!("the {}: {}", self.label, db.message());
        if let Some(d) = db.detail() {
            text = format!("{text} ({d})");
        }
        match db.code().code() {
            "23505" => EndpointError::AlreadyExists(text),
            "40001" | "40P01" | "55P03" | "57014" => EndpointError::Retryable(text),
            "57P01" | "57P02" | "57P03" => EndpointError::Unavailable(text),
            c if c.starts_with("28") || c.starts_with("42") => EndpointError::Config(text),
            _ => EndpointError::Rejected(text),
        }
    }

    /// The columns of `schema.table` as the catalog describes them (empty: no such table, or not visible).
    pub async fn columns(&self, client: &Client, schema: &str, table: &str) -> EndpointResult<Vec<Column>> {
        let rows = client.query(COLUMNS, &[&schema, &table]).await.map_err(|e| self.pg(e))?;
        let mut columns = Vec::new();
        for r in &rows {
            columns.push(Column {
                name: r.try_get(0).map_err(|e| self.pg(e))?,
                sql_type: r.try_get(1).map_err(|e| self.pg(e))?,
                element_type: r.try_get(2).map_err(|e| self.pg(e))?,
            });
        }
        Ok(columns)
    }

    /// Checks the mapping against the catalog: the table, its mapped and key columns, each child table with its
    /// parent key and value columns, and that the query that reads an entry is valid (a parent key column whose
    /// type cannot be compared with the key column's fails here, naming both).
    pub async fn check_layout(
        &self,
        client: &Client,
        (schema, table): (&str, &str),
        maps: &[ColumnMap],
        key_columns: &[String],
        child_maps: &[ChildTableMap],
    ) -> EndpointResult<Layout> {
        let columns = self.columns(client, schema, table).await?;
        let table =
            Table::check(schema, table, &columns, maps, key_columns, &self.label).map_err(EndpointError::Config)?;
        let mut children = Vec::new();
        for m in child_maps {
            let display = format!("{}.{}", m.schema, m.table);
            let text = format!("{}:{}:{}:{}", m.attribute, display, m.parent_key_columns.join(","), m.value_column);
            let cols = self.columns(client, &m.schema, &m.table).await?;
            if cols.is_empty() {
                return Err(EndpointError::Config(format!(
                    "the {}: child-table-map '{text}': table {display} does not exist in the database (or its user \
                     may not see it)",
                    self.label
                )));
            }
            let find = |name: &str| {
                cols.iter().find(|c| c.name == name).cloned().ok_or_else(|| {
                    EndpointError::Config(format!(
                        "the {}: child-table-map '{text}' names column '{name}', which table {display} does not have \
                         (its columns: {})",
                        self.label,
                        cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })
            };
            let value = find(&m.value_column)?;
            let mut parent_keys = Vec::new();
            for (pk, key) in m.parent_key_columns.iter().zip(table.key_columns()) {
                let pk = find(pk)?;
                parent_keys.push(pk.clone());
                if pk.is_array() != key.column.is_array() {
                    return Err(EndpointError::Config(format!(
                        "the {}: child-table-map '{text}': column '{}' of table {display} ({}) cannot hold the key \
                         column '{}' of table {} ({})",
                        self.label, pk.name, pk.sql_type, key.column.name, table.display, key.column.sql_type
                    )));
                }
            }
            children.push(Child {
                map: m.clone(),
                qualified: format!("{}.{}", quote(&m.schema), quote(&m.table)),
                display,
                parent_keys,
                value,
            });
        }
        let mut exprs: Vec<String> = table.mapped.iter().map(|m| format!("t.{}", m.column.read_expr())).collect();
        for c in &children {
            let cond: Vec<String> = c
                .map
                .parent_key_columns
                .iter()
                .zip(table.key_columns())
                .map(|(pk, k)| format!("c.{} = t.{}", quote(pk), quote(&k.column.name)))
                .collect();
            exprs.push(format!(
                "ARRAY(SELECT c.{v}::text FROM {} c WHERE {} AND c.{v} IS NOT NULL ORDER BY 1)",
                c.qualified,
                cond.join(" AND "),
                v = quote(&c.value.name)
            ));
        }
        let select = format!("SELECT {} FROM {} t", exprs.join(", "), table.qualified);
        // The query is prepared once here, so that a type mismatch between a child table and the table fails
        // at configuration time, naming the columns.
        if let Err(e) = client.prepare(&format!("{select} WHERE {}", table.key_condition(1))).await {
            let why = e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string());
            let children: Vec<String> = children
                .iter()
                .map(|c| format!("{} ({}) of {}", c.map.parent_key_columns.join(", "), c.map.attribute, c.display))
                .collect();
            return Err(EndpointError::Config(format!(
                "the {}: the rows of table {} cannot be read with the mapping: {why} (compare the types of key \
                 column(s) {} with the parent key column(s) {})",
                self.label,
                table.display,
                table
                    .key_columns()
                    .map(|k| format!("{} ({})", k.column.name, k.column.sql_type))
                    .collect::<Vec<_>>()
                    .join(", "),
                children.join("; ")
            )));
        }
        Ok(Layout { table, children, select })
    }
}
