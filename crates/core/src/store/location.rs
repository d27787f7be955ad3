//! Which store a server root uses: SQLite under the root (the default), or a PostgreSQL database named by a URL
//! `postgresql://USER@HOST:PORT/DB?passfile=FILE&sslmode=...&sslrootcert=FILE&schema=NAME`.
//!
//! A URL never holds the password (it would show in `ps`, shell histories and messages): one that does is
//! refused, and shown with the password masked. The password comes from a password file in PostgreSQL's
//! `.pgpass` format (`host:port:database:user:password`, `*` matches anything, mode 0600), read at each
//! connection.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::StoreError;

/// The file under a server root's `config/` that names its store, so that it is set once.
pub const STORE_FILE: &str = "store";

/// Where a server root's configuration and sync state live.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StoreLocation {
    /// `ROOT/config/config.db`.
    #[default]
    Sqlite,
    Postgres(PostgresUrl),
}

impl StoreLocation {
    /// `sqlite` (the server root's own file) or a `postgresql://` (or `postgres://`) URL.
    pub fn parse(text: &str) -> Result<StoreLocation, StoreError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("sqlite") {
            return Ok(StoreLocation::Sqlite);
        }
        PostgresUrl::parse(text).map(StoreLocation::Postgres)
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite => f.write_str("sqlite"),
            StoreLocation::Postgres(url) => url.fmt(f),
        }
    }
}

/// How the connection to PostgreSQL is protected, with libpq's names and meanings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, without checking its certificate (libpq's default).
    #[default]
    Prefer,
    /// TLS always; the certificate is checked against `sslrootcert` when one is given.
    Require,
    /// TLS, the certificate signed by a trusted CA (`sslrootcert`, else the system's), any host name.
    VerifyCa,
    /// TLS, the certificate signed by a trusted CA and issued for the host named in the URL.
    VerifyFull,
}

impl SslMode {
    /// The mode of a libpq `sslmode` name (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`).
    pub fn from_name(name: &str) -> Option<SslMode> {
        SslMode::NAMES.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    const NAMES: [(&'static str, SslMode); 5] = [
        ("disable", SslMode::Disable),
        ("prefer", SslMode::Prefer),
        ("require", SslMode::Require),
        ("verify-ca", SslMode::VerifyCa),
        ("verify-full", SslMode::VerifyFull),
    ];
    fn name(self) -> &'static str {
        SslMode::NAMES.iter().find(|(_, m)| *m == self).map(|(n, _)| *n).unwrap_or("prefer")
    }
}

/// A PostgreSQL store's coordinates: never a password (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresUrl {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub dbname: String,
    /// The schema that holds ferrosync's tables (created when missing): several stores can share a database.
    pub schema: String,
    /// The password file (`.pgpass` format); `None`: no password is sent (trust or peer authentication).
    pub passfile: Option<PathBuf>,
    pub sslmode: SslMode,
    /// The CA certificates (PEM) that sign the server's certificate.
    pub sslrootcert: Option<PathBuf>,
    pub connect_timeout: Duration,
}

/// The query parameters a store URL takes.
const PARAMETERS: &str = "passfile, sslmode, sslrootcert, schema, connect_timeout";
pub const DEFAULT_SCHEMA: &str = "ferrosync";

impl PostgresUrl {
    /// Parses a store URL; an error shows it with any password masked, says what is wrong and what is valid.
    pub fn parse(text: &str) -> Result<PostgresUrl, StoreError> {
        let bad = |reason: String| StoreError::Url { url: mask_password(text), reason };
        let rest = ["postgresql://", "postgres://"]
            .iter()
            .find_map(|scheme| strip_prefix_ignore_case(text, scheme))
            .ok_or_else(|| {
                bad("a store is 'sqlite' or a URL postgresql://USER@HOST:PORT/DATABASE?passfile=FILE".into())
            })?;
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
        let (userinfo, hostport) = authority.rsplit_once('@').ok_or_else(|| {
            bad("the URL names no role: postgresql://USER@HOST:PORT/DATABASE (USER is the PostgreSQL role)".into())
        })?;
        if userinfo.contains(':') {
            return Err(bad(
                "a store URL must not hold the password (it would show in ps, shell histories and logs): put it in \
                 a password file (host:port:database:user:password, mode 0600) and name it with ?passfile=FILE"
                    .into(),
            ));
        }
        let user = decode(userinfo).map_err(&bad)?;
        if user.is_empty() {
            return Err(bad("the role is empty: postgresql://USER@HOST:PORT/DATABASE".into()));
        }
        let (host, port) = split_host_port(hostport).map_err(&bad)?;
        let dbname = match decode(path).map_err(&bad)? {
            d if d.is_empty() => user.clone(),
            d => d,
        };
        let mut url = PostgresUrl {
            user,
            host,
            port,
            dbname,
            schema: DEFAULT_SCHEMA.to_string(),
            passfile: None,
            sslmode: SslMode::default(),
            sslrootcert: None,
            connect_timeout: Duration::from_secs(10),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value).map_err(&bad)?;
            match key {
                "passfile" => url.passfile = Some(PathBuf::from(value)),
                "sslrootcert" => url.sslrootcert = Some(PathBuf::from(value)),
                "sslmode" => {
                    url.sslmode =
                        SslMode::NAMES.iter().find(|(n, _)| *n == value).map(|(_, m)| *m).ok_or_else(|| {
                            bad(format!(
                                "sslmode '{value}' is not one of {}",
                                SslMode::NAMES.map(|(n, _)| n).join(", ")
                            ))
                        })?
                }
                "schema" => {
                    let valid = value.len() <= 63
                        && value.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                    if !valid {
                        return Err(bad(format!(
                            "schema '{value}' is not a plain lower-case name (a-z, 0-9 and _, at most 63)"
                        )));
                    }
                    url.schema = value;
                }
                "connect_timeout" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| bad(format!("connect_timeout '{value}' is not a number of seconds")))?;
                    url.connect_timeout = Duration::from_secs(secs.max(1));
                }
                "password" => {
                    return Err(bad(
                        "a store URL must not hold the password (it would show in ps, shell histories and logs): \
                         put it in a password file (host:port:database:user:password, mode 0600) and name it \
                         with ?passfile=FILE"
                            .into(),
                    ))
                }
                other => return Err(bad(format!("unknown parameter '{other}' (valid: {PARAMETERS})"))),
            }
        }
        if url.sslrootcert.is_some() && url.sslmode == SslMode::Disable {
            return Err(bad("sslrootcert is given but sslmode is disable".into()));
        }
        Ok(url)
    }

    /// The password for this URL's host, port, database and role from its password file (read now, so a
    /// password changed in the file is used at the next connection).
    pub fn password(&self) -> Result<Option<String>, StoreError> {
        let Some(path) = &self.passfile else { return Ok(None) };
        let bad = |reason: String| StoreError::PassFile { path: path.clone(), reason };
        crate::private_file::check_private(path).map_err(|r| bad(format!("{r} (it holds a password)")))?;
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let port = self.port.to_string();
        let wanted = [self.host.as_str(), port.as_str(), self.dbname.as_str(), self.user.as_str()];
        for line in text.lines() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = pgpass_fields(line);
            if fields.len() != 5 {
                continue;
            }
            if fields[..4].iter().zip(wanted).all(|(f, w)| f == "*" || f == w) {
                return Ok(fields.into_iter().nth(4));
            }
        }
        Err(bad(format!(
            "no line matches {}:{}:{}:{} (each line is host:port:database:user:password; * matches anything)",
            self.host, self.port, self.dbname, self.user
        )))
    }

    /// Where this store is, for messages (it holds no password).
    pub fn location(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        write!(f, "postgresql://{}@{host}:{}/{}", encode(&self.user), self.port, encode(&self.dbname))?;
        let mut params = Vec::new();
        if let Some(p) = &self.passfile {
            params.push(format!("passfile={}", encode(&p.to_string_lossy())));
        }
        if self.sslmode != SslMode::default() {
            params.push(format!("sslmode={}", self.sslmode.name()));
        }
        if let Some(p) = &self.sslrootcert {
            params.push(format!("sslrootcert={}", encode(&p.to_string_lossy())));
        }
        if self.schema != DEFAULT_SCHEMA {
            params.push(format!("schema={}", self.schema));
        }
        if self.connect_timeout != Duration::from_secs(10) {
            params.push(format!("connect_timeout={}", self.connect_timeout.as_secs()));
        }
        if !params.is_empty() {
            write!(f, "?{}", params.join("&"))?;
        }
        Ok(())
    }
}

/// `text` with the password of a URL (`user:PASSWORD@`, `password=PASSWORD`) replaced by `*****`.
pub fn mask_password(text: &str) -> String {
    let (head, query) = match text.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (text, None),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (rest, None),
            };
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:*****@{host}"),
                    None => authority.to_string(),
                },
                None => authority.to_string(),
            };
            match path {
                Some(p) => format!("{scheme}://{authority}/{p}"),
                None => format!("{scheme}://{authority}"),
            }
        }
        None => head.to_string(),
    };
    match query {
        None => head,
        Some(q) => {
            let pairs: Vec<String> = q
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some(("password", _)) => "password=*****".to_string(),
                    _ => p.to_string(),
                })
                .collect();
            format!("{head}?{}", pairs.join("&"))
        }
    }
}

/// The fields of a `.pgpass` line: split at `:`, with `\:` and `\\` as escapes.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("an IPv6 host lacks its closing ']'")?;
        (host.to_string(), after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("the URL names no host: postgresql://USER@HOST:PORT/DATABASE".into());
    }
    let port = match port {
        None | Some("") => 5432,
        Some(p) => p.parse().map_err(|_| format!("port '{p}' is not a number from 1 to 65535"))?,
    };
    Ok((host, port))
}

/// Percent-decoding of a URL part.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| format!("'{text}' has a '%' that is not followed by two hex digits"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{text}' does not decode to UTF-8"))
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The store named in `ROOT/config/store`, when that file exists (its first line that is not empty or a `#`
/// comment).
pub fn read_store_file(config_dir: &Path) -> Result<Option<String>, StoreError> {
    let path = config_dir.join(STORE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io { action: "read", path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_parsed_and_shown_without_surprises() {
        let url = PostgresUrl::parse(
            "postgresql://sync@127.0.0.1:15432/ferro?passfile=/tmp/pw%20file&sslmode=verify-full&sslrootcert=/ca.pem&schema=t1",
        )
        .unwrap();
        assert_eq!(
            (url.user.as_str(), url.host.as_str(), url.port, url.dbname.as_str()),
            ("sync", "127.0.0.1", 15432, "ferro")
        );
        assert_eq!(url.passfile.as_deref(), Some(Path::new("/tmp/pw file")));
        assert_eq!(url.sslmode, SslMode::VerifyFull);
        assert_eq!(url.schema, "t1");
        assert_eq!(PostgresUrl::parse(&url.to_string()).unwrap(), url, "{url}");
        let short = PostgresUrl::parse("postgres://sync@[::1]").unwrap();
        assert_eq!((short.host.as_str(), short.port, short.dbname.as_str()), ("::1", 5432, "sync"));
        assert_eq!(StoreLocation::parse(" SQLite ").unwrap(), StoreLocation::Sqlite);
    }

    #[test]
    fn a_url_with_a_password_is_refused_with_the_password_masked() {
        for text in ["postgresql://sync:S3cret@host/db", "postgresql://sync@host/db?password=S3cret"] {
            let e = PostgresUrl::parse(text).unwrap_err().to_string();
            assert!(!e.contains("S3cret"), "{e}");
            assert!(
                e.contains("*****") && e.contains("passfile=FILE") && e.contains("must not hold the password"),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_urls_say_what_is_valid() {
        let cases = [
            ("mysql://x@h/db", "postgresql://USER@HOST"),
            ("postgresql://host/db", "names no role"),
            ("postgresql://u@h:99999/db", "not a number from 1 to 65535"),
            ("postgresql://u@h/db?sslmode=on", "disable, prefer, require, verify-ca, verify-full"),
            ("postgresql://u@h/db?schema=Bad-Name", "plain lower-case name"),
            ("postgresql://u@h/db?user=x", "valid: passfile, sslmode"),
        ];
        for (text, want) in cases {
            let e = StoreLocation::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn the_password_comes_from_the_first_matching_passfile_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(
            &path,
            "# comment\nother:5432:*:*:nope\n127.0.0.1:15432:*:sync:pa\\:ss\\\\word\n*:*:*:*:fallback\n",
        )
        .unwrap();
        crate::store::set_mode(&path, 0o600).unwrap();
        let mut url = PostgresUrl::parse("postgresql://sync@127.0.0.1:15432/db").unwrap();
        assert_eq!(url.password().unwrap(), None, "no passfile, no password");
        url.passfile = Some(path.clone());
        assert_eq!(url.password().unwrap().as_deref(), Some("pa:ss\\word"));
        url.user = "else".into();
        assert_eq!(url.password().unwrap().as_deref(), Some("fallback"));
        crate::store::set_mode(&path, 0o644).unwrap();
        let e = url.password().unwrap_err().to_string();
        assert!(e.contains("chmod 600") && !e.contains("fallback"), "{e}");
    }
}
