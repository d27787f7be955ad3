//! The PingOne sync source: users as entries.

use std::collections::HashSet;

use async_trait::async_trait;
use ferrosync::config::Config;
use ferrosync::endpoint::{EndpointError, EndpointResult, EntrySource};
use ferrosync::entry::{Entry, Value};
use ferrosync::secret::SecretBox;
use ferrosync::settings::PingOneSourceSettings;
use ferrosync::store::ServerRoot;
use ferrosync::syntax::Filter;
use serde_json::Value as Json;
use tokio::sync::{mpsc, OnceCell};

use crate::client::{encode, quote, status_error, Client, Settings};
use crate::{id_from_dn, time, user_dn};

/// The intermediate attribute for `enabled: false`.
pub const DISABLED_ATTR: &str = "ds-pwp-account-disabled-from-pingone";
/// The intermediate attribute for a locked account.
pub const LOCKED_TIME_ATTR: &str = "pwdAccountLockedTimeFromPingOne";
/// The value of [`LOCKED_TIME_ATTR`] when PingOne gives no `lockedAt`: locked until an administrator unlocks.
pub const LOCKED_FOREVER: &str = "000001010000Z";

/// Top-level fields that are not user data.
const SKIPPED: &[&str] = &["_links", "_embedded"];

/// A user as an entry: DN `id=<id>`, top-level fields as attributes (strings and arrays of strings as text,
/// everything else as JSON), plus the account-status intermediate attributes.
pub fn user_to_entry(user: &Json) -> Option<Entry> {
    let obj = user.as_object()?;
    let id = obj.get("id")?.as_str()?;
    let mut e = Entry::new(user_dn(id));
    for (k, v) in obj {
        if SKIPPED.contains(&k.as_str()) {
            continue;
        }
        match v {
            Json::Null => {}
            Json::String(s) => e.set(k, vec![Value::Text(s.clone())]),
            Json::Array(items) if items.iter().all(Json::is_string) => {
                let vals = items.iter().filter_map(Json::as_str).map(|s| Value::Text(s.to_string())).collect();
                e.set(k, vals);
            }
            other => e.set(k, vec![Value::Json(other.clone())]),
        }
    }
    if let Some(enabled) = obj.get("enabled").and_then(Json::as_bool) {
        e.set(DISABLED_ATTR, vec![Value::Text((!enabled).to_string())]);
    }
    let account = obj.get("account");
    let locked =
        account.and_then(|a| a.get("status")).and_then(Json::as_str).is_some_and(|s| s.eq_ignore_ascii_case("LOCKED"));
    if locked {
        let at = account
            .and_then(|a| a.get("lockedAt"))
            .and_then(Json::as_str)
            .and_then(time::parse_iso)
            .map(time::format_generalized)
            .unwrap_or_else(|| LOCKED_FOREVER.to_string());
        e.set(LOCKED_TIME_ATTR, vec![Value::Text(at)]);
    }
    Some(e)
}

/// The population ids of `population-to-synchronize` (names or ids), looked up once.
pub(crate) struct Populations {
    configured: Vec<String>,
    resolved: OnceCell<Option<HashSet<String>>>,
}

impl Populations {
    pub(crate) fn new(configured: Vec<String>) -> Populations {
        Populations { configured, resolved: OnceCell::new() }
    }

    /// `None` when every population is synchronized.
    pub(crate) async fn ids(&self, client: &Client) -> EndpointResult<Option<&HashSet<String>>> {
        if self.configured.is_empty() {
            return Ok(None);
        }
        let set = self
            .resolved
            .get_or_try_init(|| async {
                let mut all: Vec<(String, String)> = Vec::new();
                client
                    .list_pages(client.env_url("populations?limit=1000"), "populations", |p| {
                        let id = p.get("id").and_then(Json::as_str).unwrap_or_default().to_string();
                        let name = p.get("name").and_then(Json::as_str).unwrap_or_default().to_string();
                        all.push((id, name));
                        true
                    })
                    .await?;
                let mut ids = HashSet::new();
                for want in &self.configured {
                    let found = all
                        .iter()
                        .find(|(id, _)| id.eq_ignore_ascii_case(want))
                        .or_else(|| all.iter().find(|(_, name)| name.eq_ignore_ascii_case(want)));
                    match found {
                        Some((id, _)) => {
                            ids.insert(id.to_ascii_lowercase());
                        }
                        None => {
                            return Err(EndpointError::Config(format!(
                                "population-to-synchronize '{want}' of the {} names no population of environment {} (neither an id nor a name)",
                                client.settings().label,
                                client.settings().environment_id
                            )))
                        }
                    }
                }
                Ok::<_, EndpointError>(Some(ids))
            })
            .await?;
        Ok(set.as_ref())
    }

    /// Whether a population id is synchronized.
    pub(crate) async fn contains(&self, client: &Client, id: Option<&str>) -> EndpointResult<bool> {
        Ok(match self.ids(client).await? {
            None => true,
            Some(set) => id.is_some_and(|i| set.contains(&i.to_ascii_lowercase())),
        })
    }
}

/// PingOne users read through the API.
pub struct PingOneSource {
    name: String,
    client: Client,
    populations: Populations,
}

impl PingOneSource {
    pub fn new(name: &str, client: Client, populations: Vec<String>) -> PingOneSource {
        PingOneSource { name: name.to_string(), client, populations: Populations::new(populations) }
    }

    /// The sync source `source` (its pipe is not needed: PingOne has no per-pipe settings).
    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        _pipe: &str,
        source: &str,
    ) -> Result<PingOneSource, EndpointError> {
        let s = PingOneSourceSettings::of(config, source).map_err(|e| EndpointError::Config(e.to_string()))?;
        let settings = Settings::from_settings(config, secrets, root, &s.common)?;
        Ok(PingOneSource::new(source, Client::new(settings)?, s.populations))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The user filter limiting a list to the synchronized populations.
    async fn population_filter(&self) -> EndpointResult<Option<String>> {
        Ok(self.populations.ids(&self.client).await?.map(|ids| {
            let mut ids: Vec<&String> = ids.iter().collect();
            ids.sort();
            ids.iter().map(|i| format!("population.id eq {}", quote(i))).collect::<Vec<_>>().join(" or ")
        }))
    }
}

#[async_trait]
impl EntrySource for PingOneSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> EndpointResult<()> {
        self.client.check().await
    }

    async fn fetch(&self, dn: &str) -> EndpointResult<Option<Entry>> {
        match id_from_dn(dn) {
            Some(id) => self.fetch_by_unique_id(&id).await,
            None => Ok(None),
        }
    }

    async fn fetch_by_unique_id(&self, id: &str) -> EndpointResult<Option<Entry>> {
        let a = self.client.call("GET", self.client.env_url(&format!("users/{}", encode(id))), None).await?;
        match a.status {
            404 => Ok(None),
            s if (200..300).contains(&s) => {
                let pop = a.body.pointer("/population/id").and_then(Json::as_str);
                if !self.populations.contains(&self.client, pop).await? {
                    return Ok(None);
                }
                Ok(user_to_entry(&a.body))
            }
            _ => Err(status_error(&self.client.settings().label, &format!("read user {id}"), &a)),
        }
    }

    fn unique_id(&self, entry: &Entry) -> Option<String> {
        entry.first_text("id").or_else(|| id_from_dn(&entry.dn))
    }

    /// Every user (of the synchronized populations), page by page. `filter` is an LDAP filter tested on the
    /// entries (`resync --sourceSearchFilter`), or a PingOne filter (`username sw "a"`) when it does not start
    /// with `(`.
    async fn stream(&self, filter: Option<&str>, tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        let mut scim = self.population_filter().await?;
        let mut ldap = None;
        if let Some(f) = filter.map(str::trim).filter(|f| !f.is_empty()) {
            if f.starts_with('(') {
                ldap = Some(Filter::parse(f).map_err(|e| EndpointError::Config(format!("bad filter '{f}': {e}")))?);
            } else {
                scim = Some(match scim {
                    Some(p) => format!("({p}) and ({f})"),
                    None => f.to_string(),
                });
            }
        }
        let mut url = "users?limit=1000".to_string();
        if let Some(f) = &scim {
            url.push_str(&format!("&filter={}", encode(f)));
        }
        let mut batch = Vec::new();
        let mut next = Some(self.client.env_url(&url));
        while let Some(u) = next.take() {
            let a = self.client.call("GET", u, None).await?;
            if !a.ok() {
                return Err(status_error(&self.client.settings().label, "list users", &a));
            }
            batch.clear();
            let users = crate::client::page_items(&self.client.settings().label, "users", &a)?;
            batch.extend(users.iter().filter_map(user_to_entry));
            for e in batch.drain(..) {
                if ldap.as_ref().is_some_and(|f| !f.matches(&e)) {
                    continue;
                }
                if tx.send(Ok(e)).await.is_err() {
                    return Ok(());
                }
            }
            next = a.body.pointer("/_links/next/href").and_then(Json::as_str).map(str::to_string);
        }
        Ok(())
    }

    async fn count(&self, filter: Option<&str>) -> EndpointResult<Option<u64>> {
        if filter.is_some() {
            return Ok(None);
        }
        let mut url = "users?limit=1".to_string();
        if let Some(f) = self.population_filter().await? {
            url.push_str(&format!("&filter={}", encode(&f)));
        }
        let a = self.client.call("GET", self.client.env_url(&url), None).await?;
        Ok(if a.ok() { a.body.get("count").and_then(Json::as_u64) } else { None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_as_entry() {
        let u = serde_json::json!({"id": "U1", "username": "ada", "name": {"given": "Ada"}, "enabled": false,
            "account": {"status": "LOCKED", "lockedAt": "2026-11-21T16:00:00Z"}, "_links": {}});
        let e = user_to_entry(&u).unwrap_or_default();
        assert_eq!(e.dn, "id=U1");
        assert_eq!(e.first_text("username").as_deref(), Some("ada"));
        assert_eq!(e.first_text(DISABLED_ATTR).as_deref(), Some("true"));
        assert_eq!(e.first_text(LOCKED_TIME_ATTR).as_deref(), Some("20261121160000Z"));
        assert!(!e.has("_links"));
    }
}
