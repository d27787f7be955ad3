//! The real PostgreSQL that `tests/run.sh` starts (`tests/servers/start-postgresql.sh`), for tests of the
//! PostgreSQL store: each test gets a schema of its own, so runs never see each other's data.

use std::sync::atomic::{AtomicU32, Ordering};

use ferrosync::store::PostgresUrl;

/// The variable `tests/run.sh` sets to the store URL of its PostgreSQL (with `?passfile=`).
pub const URL_ENV: &str = "FERROSYNC_TEST_POSTGRES_URL";

/// The URL `tests/run.sh` exported, as it is.
///
/// # Panics
/// When it is not set: a test of the PostgreSQL store fails, never skips, without its server.
pub fn url_text() -> String {
    std::env::var(URL_ENV).unwrap_or_else(|_| {
        panic!(
            "{URL_ENV} is not set: run the tests with tests/run.sh, which starts PostgreSQL (or start it with \
             tests/servers/start-postgresql.sh DIR and export its URL with SUMMARY_PREFIX=FERROSYNC_TEST_POSTGRES_)"
        )
    })
}

/// A schema name no other test or run uses: `t_<label>_<pid>_<n>_<time>`.
pub fn fresh_schema(label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let label: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(24).collect();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("t_{label}_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The test server's store URL with a fresh schema (see [`fresh_schema`]), as text.
///
/// # Panics
/// When [`URL_ENV`] is not set.
pub fn fresh_url_text(label: &str) -> String {
    let base = url_text();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}schema={}", fresh_schema(label))
}

/// [`fresh_url_text`], parsed.
///
/// # Panics
/// When [`URL_ENV`] is not set or does not parse.
pub fn fresh_url(label: &str) -> PostgresUrl {
    let text = fresh_url_text(label);
    PostgresUrl::parse(&text).unwrap_or_else(|e| panic!("{URL_ENV}: {e}"))
}
