//! The PingOne sync destination: users created, updated and deleted through the API.
//!
//! Destination entries have the DN `id=<user id>`. Correlation lists name user attributes (`username`,
//! `externalId`, `email`, `name.family`, ...): each list becomes an `and` of `eq` filters on the users list;
//! a list of `dn` alone finds the user by id. Mapped attributes become the user's top-level fields: JSON
//! values (and text holding a JSON object or array) as JSON, other text as strings, several values as an
//! array. `objectClass`, `resourceType` (PingDataSync's `user` marker), `id`, the account-status intermediate
//! attributes and read-only fields are not sent. New users go to the `population` the mapping gives, or the
//! `default-population-id` / `default-population-name` (old name `ping-one-default-population-id`), or the
//! environment's default population.
//!
//! The engine knows a user it created by the mapped DN (the source's DN, or the class's DN map): the
//! destination remembers the id each such DN got, and for a DN it has not seen (after a restart) it looks for
//! the user whose `username` is the DN's RDN value (`uid=jdoe,...` finds `jdoe`). A delete of a user that
//! cannot be found is taken as done.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use ferrosync::config::Config;
use ferrosync::endpoint::{
    Correlated, CorrelationPath, Destination, EndpointError, EndpointResult, Modification, SourceCount,
};
use ferrosync::entry::{Entry, Value};
use ferrosync::secret::SecretBox;
use ferrosync::store::ServerRoot;
use serde_json::{Map, Value as Json};
use tokio::sync::{mpsc, OnceCell};

use crate::client::{encode, quote, status_error, Body, Client, Settings};
use crate::id_from_dn;
use crate::index::{UserIndex, MAX_INDEXED};
use crate::source::{user_to_entry, DISABLED_ATTR, LOCKED_TIME_ATTR};
use ferrosync::settings::PingOneDestinationSettings;

/// Attributes never sent as user fields.
const NOT_SENT: &[&str] = &[
    "objectclass",
    "resourcetype",
    "id",
    "dn",
    "environment",
    "createdat",
    "updatedat",
    "account",
    "lifecycle",
    "identityprovider",
    "lastsignon",
    "mfaenabled",
    "verifystatus",
    "_links",
];

/// PingOne users written through the API.
pub struct PingOneDestination {
    name: String,
    client: Client,
    default_population_id: Option<String>,
    default_population_name: Option<String>,
    population: OnceCell<Option<String>>,
    /// The user id of each mapped DN this destination created or correlated (normalized DN).
    ids: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// The correlation index of a full resync ([`Destination::prepare_resync_index`]); `None` outside one.
    index: Arc<std::sync::Mutex<Option<UserIndex>>>,
    /// The listing of that index that goes on while the resync runs.
    listing: std::sync::Mutex<Option<Listing>>,
}

/// The rest of a resync's listing, read by a task of its own while the resync compares the entries that the
/// pages read so far answer; the lookups that cannot be answered yet wait for its end.
struct Listing {
    /// The correlation path once the listing is over: its counts, or why correlation searches instead.
    over: tokio::sync::watch::Receiver<Option<CorrelationPath>>,
    /// Set when the resync's pass is over before the listing: it stops.
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn norm(dn: &str) -> String {
    ferrosync::syntax::normalize_dn(dn).unwrap_or_else(|_| dn.to_ascii_lowercase())
}

fn to_json(values: &[Value]) -> Json {
    let one = |v: &Value| match v {
        Value::Json(j) => j.clone(),
        Value::Text(t) => {
            let s = t.trim_start();
            if s.starts_with('{') || s.starts_with('[') {
                serde_json::from_str(t).unwrap_or_else(|_| Json::String(t.clone()))
            } else {
                Json::String(t.clone())
            }
        }
        Value::Binary(_) => Json::String(v.as_text().into_owned()),
    };
    match values {
        [] => Json::Null,
        [v] => one(v),
        many => Json::Array(many.iter().map(one).collect()),
    }
}

/// Gives the JSON fields of `found` (a user read from PingOne) that are the same JSON as the mapped entry's text
/// (`name` mapped from `{"given":"{givenName}","family":"{sn}"}`) in the mapped entry's form, so that the
/// engine's comparison sees them equal whatever the order of their members or their spacing; and the mapped
/// values of the attributes never sent (`resourceType`), which are no difference.
fn same_json_as_mapped(mapped: &Entry, found: &mut Entry) {
    let names: Vec<String> = found.attributes().map(|a| a.name.clone()).collect();
    for name in names {
        let (Some(Value::Json(j)), [Value::Text(t)]) = (found.values(&name).first(), mapped.values(&name)) else {
            continue;
        };
        if found.values(&name).len() == 1 && serde_json::from_str::<Json>(t).is_ok_and(|m| &m == j) {
            let text = Value::Text(t.clone());
            found.set(&name, vec![text]);
        }
    }
    // What is never sent as a user field (`resourceType`, `objectClass`, ...) is not PingOne's to differ on.
    for a in mapped.attributes() {
        if NOT_SENT.contains(&a.name.to_ascii_lowercase().as_str()) {
            found.set(&a.name, a.values.clone());
        }
    }
}

fn sent(attr: &str) -> bool {
    let a = attr.to_ascii_lowercase();
    !NOT_SENT.contains(&a.as_str())
        && !a.eq_ignore_ascii_case(DISABLED_ATTR)
        && !a.eq_ignore_ascii_case(LOCKED_TIME_ATTR)
        && a != "enabled"
        && a != "population"
        && a != "password"
        && a != "userpassword"
}

impl PingOneDestination {
    pub fn new(
        name: &str,
        client: Client,
        default_population_id: Option<String>,
        default_population_name: Option<String>,
    ) -> PingOneDestination {
        PingOneDestination {
            name: name.to_string(),
            client,
            default_population_id,
            default_population_name,
            population: OnceCell::new(),
            ids: Default::default(),
            index: Default::default(),
            listing: Default::default(),
        }
    }

    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        _pipe: &str,
        destination: &str,
    ) -> Result<PingOneDestination, EndpointError> {
        let d =
            PingOneDestinationSettings::of(config, destination).map_err(|e| EndpointError::Config(e.to_string()))?;
        let settings = Settings::from_settings(config, secrets, root, &d.common)?;
        Ok(PingOneDestination::new(
            destination,
            Client::new(settings)?,
            d.default_population_id,
            d.default_population_name,
        ))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn label(&self) -> &str {
        &self.client.settings().label
    }

    /// The population of new users: the configured id, the id of the configured name, or none (PingOne's default).
    async fn default_population(&self) -> EndpointResult<Option<String>> {
        let v = self
            .population
            .get_or_try_init(|| async {
                if let Some(id) = &self.default_population_id {
                    return Ok(Some(id.clone()));
                }
                let Some(name) = &self.default_population_name else { return Ok(None) };
                let mut found = None;
                self.client
                    .list_pages(self.client.env_url("populations?limit=1000"), "populations", |p| {
                        if p.get("name").and_then(Json::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name)) {
                            found = p.get("id").and_then(Json::as_str).map(str::to_string);
                            return false;
                        }
                        true
                    })
                    .await?;
                found.map(Some).ok_or_else(|| {
                    EndpointError::Config(format!(
                        "default-population-name '{name}' of the {} names no population",
                        self.label()
                    ))
                })
            })
            .await?;
        Ok(v.clone())
    }

    fn user_url(&self, id: &str) -> String {
        self.client.env_url(&format!("users/{}", encode(id)))
    }

    async fn get_user(&self, id: &str) -> EndpointResult<Option<Json>> {
        let a = self.client.call("GET", self.user_url(id), None).await?;
        match a.status {
            404 => Ok(None),
            s if (200..300).contains(&s) => Ok(Some(a.body)),
            _ => Err(status_error(self.label(), &format!("read user {id}"), &a)),
        }
    }

    fn remember(&self, dn: &str, id: &str) {
        if id_from_dn(dn).is_none() {
            self.ids.lock().unwrap_or_else(|p| p.into_inner()).insert(norm(dn), id.to_string());
        }
    }

    /// The user id of a destination DN: `id=<user id>`, a DN this destination created or correlated, or the
    /// user whose username is the DN's RDN value. `None`: no such user.
    async fn resolve(&self, dn: &str) -> EndpointResult<Option<String>> {
        if let Some(id) = id_from_dn(dn) {
            return Ok(Some(id));
        }
        if let Some(id) = self.ids.lock().unwrap_or_else(|p| p.into_inner()).get(&norm(dn)) {
            return Ok(Some(id.clone()));
        }
        let value = ferrosync::syntax::Dn::parse(dn)
            .ok()
            .and_then(|d| d.rdn().and_then(|r| r.avas().first().map(|a| a.value().to_string())));
        let Some(value) = value else {
            return Err(EndpointError::Rejected(format!(
                "'{dn}' is not a PingOne user of the {} (expected id=<user id>, or a DN whose RDN value is the username)",
                self.label()
            )));
        };
        let found = self.search(&format!("username eq {}", quote(&value))).await?;
        match found.as_slice() {
            [one] => {
                let id = id_from_dn(&one.dn);
                if let Some(id) = &id {
                    self.remember(dn, id);
                }
                Ok(id)
            }
            _ => Ok(None),
        }
    }

    async fn search(&self, filter: &str) -> EndpointResult<Vec<Entry>> {
        let mut out = Vec::new();
        let url = self.client.env_url(&format!("users?limit=100&filter={}", encode(filter)));
        self.client
            .list_pages(url, "users", |u| {
                if let Some(e) = user_to_entry(&u) {
                    out.push(e);
                }
                out.len() < 100
            })
            .await?;
        Ok(out)
    }

    /// The resync's index, when there is one.
    fn index(&self) -> std::sync::MutexGuard<'_, Option<UserIndex>> {
        lock(&self.index)
    }

    fn listing(&self) -> std::sync::MutexGuard<'_, Option<Listing>> {
        lock(&self.listing)
    }

    /// Waits for the end of the resync's listing; false when none is running (nothing to wait for).
    async fn wait_listing(&self) -> bool {
        let Some(mut over) = self.listing().as_ref().map(|l| l.over.clone()) else { return false };
        if over.borrow().is_some() {
            return false;
        }
        // An error: the listing task is gone, so the listing is over too.
        let _ = over.wait_for(Option::is_some).await;
        true
    }

    /// Keeps the resync's index current with user `id` as PingOne answered a write (`None`: gone, or its
    /// state unknown).
    fn index_written(&self, id: &str, user: Option<&Json>) {
        if let Some(ix) = self.index().as_mut() {
            match user {
                Some(u) if u.get("id").and_then(Json::as_str) == Some(id) => ix.put(u.clone()),
                _ => ix.remove(id),
            }
        }
    }

    /// Lists every user into the index when that takes fewer requests than a search per source entry.
    async fn prepare_index(&self, entries: SourceCount) -> EndpointResult<CorrelationPath> {
        let searches = |why: String| Ok(CorrelationPath::Searches { why });
        // The first page says how many users there are and how many a page holds (PingOne may give fewer
        // than the limit asked for); it is read while the source is counted.
        let (first, entries) =
            tokio::join!(self.client.call("GET", self.client.env_url("users?limit=1000"), None), entries.get());
        let Some(entries) = entries else {
            return searches("the source cannot count its entries, so a listing may cost more".into());
        };
        let mut first = first?;
        if !first.ok() {
            return searches(format!("PingOne does not list its users (HTTP {})", first.status));
        }
        let Some(total) = first.body.get("count").and_then(Json::as_u64) else {
            return searches("PingOne does not say how many users there are".into());
        };
        if total > MAX_INDEXED {
            return searches(format!("the environment holds {total} users, more than {MAX_INDEXED} to index"));
        }
        let items = crate::client::take_page_items(self.label(), "users", &mut first)?;
        let size = (items.len() as u64).max(1);
        let pages = total.div_ceil(size).max(1);
        if pages >= entries {
            return searches(format!(
                "listing the environment's {total} users takes {pages} requests (pages of {size}), not fewer than \
                 the {entries} searches"
            ));
        }
        let mut ix = UserIndex::default();
        for u in items {
            ix.put(u);
        }
        let Some(next) = first.body.pointer("/_links/next/href").and_then(Json::as_str) else {
            ix.set_complete();
            let listed = ix.len() as u64;
            *self.index() = Some(ix);
            return Ok(CorrelationPath::Listing { listed, requests: 1, entries });
        };
        if !crate::client::same_origin(next, &self.client.settings().api_url) {
            return searches(format!("PingOne gave a next page on another host ({next}): it is not followed"));
        }
        // The rest of the pages are read while the resync runs: each answers the lookups it can at once.
        *self.index() = Some(ix);
        let (tx, over) = tokio::sync::watch::channel(None);
        let stop = Arc::new(AtomicBool::new(false));
        let (client, index, next, halt) = (self.client.clone(), self.index.clone(), next.to_string(), stop.clone());
        let task = tokio::spawn(async move {
            let read = client
                .list_pages_counted(next, "users", |u| {
                    if let Some(ix) = lock(&index).as_mut() {
                        ix.put(u);
                    }
                    !halt.load(Ordering::Relaxed)
                })
                .await;
            let mut ix = lock(&index);
            let path = match read {
                Ok(read) => {
                    if let Some(ix) = ix.as_mut() {
                        ix.set_complete();
                    }
                    let listed = ix.as_ref().map(|ix| ix.len() as u64).unwrap_or(0);
                    CorrelationPath::Listing { listed, requests: 1 + read as u64, entries }
                }
                Err(e) => {
                    *ix = None;
                    CorrelationPath::Searches { why: format!("listing the environment's users failed: {e}") }
                }
            };
            drop(ix);
            tx.send_replace(Some(path));
        });
        *self.listing() = Some(Listing { over, stop, task: Some(task) });
        Ok(CorrelationPath::Listing { listed: total, requests: pages, entries })
    }

    fn write_error(&self, what: &str, a: &crate::client::Answer) -> EndpointError {
        if a.has_detail("UNIQUENESS_VIOLATION") || a.status == 409 {
            EndpointError::AlreadyExists(format!("PingOne ({}) refused to {what}: {}", self.label(), a.describe()))
        } else {
            status_error(self.label(), what, a)
        }
    }
}

#[async_trait]
impl Destination for PingOneDestination {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> EndpointResult<()> {
        self.client.check().await
    }

    fn resync_index_needs_count(&self) -> bool {
        true
    }

    /// The listing's first page is read as the check's request is (the users of the environment).
    fn resync_index_checks_access(&self) -> bool {
        true
    }

    /// Lists every user into an index when that takes fewer requests than a search per source entry.
    async fn prepare_resync_index(&self, entries: SourceCount) -> EndpointResult<CorrelationPath> {
        self.prepare_index(entries).await
    }

    async fn end_resync_index(&self) -> Option<CorrelationPath> {
        let listing = self.listing().take();
        let path = match listing {
            Some(mut l) => {
                l.stop.store(true, Ordering::Relaxed);
                if let Some(t) = l.task.take() {
                    // A task that panicked leaves the path unknown.
                    let _ = t.await;
                }
                let path = l.over.borrow().clone();
                path
            }
            None => None,
        };
        *self.index() = None;
        path
    }

    async fn correlate(&self, mapped: &Entry, lists: &[Vec<String>], _attrs: &[String]) -> EndpointResult<Correlated> {
        let default = [vec!["username".to_string()], vec!["externalId".to_string()]];
        let lists = if lists.is_empty() { &default[..] } else { lists };
        let mut many = None;
        'lists: for list in lists {
            let mut parts = Vec::new();
            let mut raw = Vec::new();
            let mut by_id = None;
            for a in list {
                if a.eq_ignore_ascii_case("dn") {
                    match id_from_dn(&mapped.dn) {
                        Some(id) => by_id = Some(id),
                        None => continue 'lists,
                    }
                    continue;
                }
                match mapped.values(a).first() {
                    Some(v) => {
                        parts.push(format!("{a} eq {}", quote(&v.as_text())));
                        raw.push(v.as_text().into_owned());
                    }
                    None => continue 'lists,
                }
            }
            let found = match (by_id, parts.is_empty()) {
                (Some(id), true) => self.get_user(&id).await?.and_then(|u| user_to_entry(&u)).into_iter().collect(),
                (Some(id), false) => {
                    parts.push(format!("id eq {}", quote(&id)));
                    self.search(&parts.join(" and ")).await?
                }
                (None, false) => {
                    let names: Vec<String> = list.to_vec();
                    let indexed = loop {
                        let looked = self.index().as_mut().map(|ix| ix.lookup(&names, &raw, user_to_entry));
                        match looked {
                            Some(Some(users)) => break Some(users),
                            // Not settled by the pages read so far: answered once the listing is over (or, when
                            // it failed, by a search).
                            Some(None) if self.wait_listing().await => {}
                            _ => break None,
                        }
                    };
                    match indexed {
                        Some(entries) => entries,
                        None => self.search(&parts.join(" and ")).await?,
                    }
                }
                (None, true) => continue,
            };
            match found.len() {
                0 => {}
                1 => {
                    let mut one = found.into_iter().next().unwrap_or_default();
                    if let Some(id) = id_from_dn(&one.dn) {
                        self.remember(&mapped.dn, &id);
                    }
                    same_json_as_mapped(mapped, &mut one);
                    // Known by the mapped DN from now on, as a user this destination created is: PingOne users
                    // have no DN to rename, and the engine would take `id=...` for a move.
                    if id_from_dn(&mapped.dn).is_none() {
                        one.dn = mapped.dn.clone();
                    }
                    return Ok(Correlated::One(one));
                }
                _ => many = Some(found.into_iter().map(|e| e.dn).collect()),
            }
        }
        Ok(many.map(Correlated::Many).unwrap_or(Correlated::None))
    }

    async fn fetch(&self, id: &str, _attrs: &[String]) -> EndpointResult<Option<Entry>> {
        let Some(uid) = self.resolve(id).await? else { return Ok(None) };
        Ok(self.get_user(&uid).await?.and_then(|u| user_to_entry(&u)))
    }

    async fn create(&self, entry: &Entry) -> EndpointResult<()> {
        let mut body = Map::new();
        for a in entry.attributes() {
            if sent(&a.name) {
                body.insert(a.name.clone(), to_json(&a.values));
            }
        }
        let population = match entry.values("population").first().map(|v| to_json(std::slice::from_ref(v))) {
            Some(Json::Object(o)) => Some(Json::Object(o)),
            Some(Json::String(id)) if !id.is_empty() => Some(serde_json::json!({ "id": id })),
            _ => self.default_population().await?.map(|id| serde_json::json!({ "id": id })),
        };
        if let Some(p) = population {
            body.insert("population".into(), p);
        }
        let a = self.client.call("POST", self.client.env_url("users"), Some(Body::json(Json::Object(body)))).await?;
        if !a.ok() {
            return Err(self.write_error(&format!("create user {}", entry.dn), &a));
        }
        if let Some(id) = a.body.get("id").and_then(Json::as_str) {
            self.remember(&entry.dn, id);
            self.index_written(id, Some(&a.body));
        }
        Ok(())
    }

    async fn modify(&self, id: &str, mods: &[Modification]) -> EndpointResult<()> {
        let Some(uid) = self.resolve(id).await? else {
            return Err(EndpointError::Rejected(format!("no PingOne user of the {} is known for {id}", self.label())));
        };
        let Some(user) = self.get_user(&uid).await? else {
            return Err(EndpointError::Rejected(format!("the PingOne user {uid} of the {} is gone", self.label())));
        };
        let mut current = user_to_entry(&user).unwrap_or_default();
        let mut touched: BTreeMap<String, String> = BTreeMap::new();
        for m in mods {
            let a = m.attribute().to_string();
            match m {
                Modification::Replace(_, v) => current.set(&a, v.clone()),
                Modification::Add(_, v) => {
                    let mut all = current.values(&a).to_vec();
                    all.extend(v.iter().cloned());
                    current.set(&a, all);
                }
                Modification::Delete(_, v) if v.is_empty() => current.set(&a, Vec::new()),
                Modification::Delete(_, v) => {
                    let keep = current.values(&a).iter().filter(|x| !v.contains(x)).cloned().collect();
                    current.set(&a, keep);
                }
            }
            touched.insert(a.to_ascii_lowercase(), a);
        }
        let mut patch = Map::new();
        for (lower, name) in &touched {
            if lower == "population" {
                if let Some(Json::Object(o)) =
                    current.values("population").first().map(|v| to_json(std::slice::from_ref(v)))
                {
                    let a = self
                        .client
                        .call("PUT", format!("{}/population", self.user_url(&uid)), Some(Body::json(Json::Object(o))))
                        .await?;
                    if !a.ok() {
                        return Err(self.write_error(&format!("move user {uid}"), &a));
                    }
                }
                continue;
            }
            if lower == "enabled" {
                let on = current.first_text("enabled").is_none_or(|v| !v.eq_ignore_ascii_case("false"));
                let a = self
                    .client
                    .call(
                        "PUT",
                        format!("{}/enabled", self.user_url(&uid)),
                        Some(Body::json(serde_json::json!({ "enabled": on }))),
                    )
                    .await?;
                if !a.ok() {
                    return Err(self.write_error(&format!("enable or disable user {uid}"), &a));
                }
                continue;
            }
            if !sent(name) {
                continue;
            }
            patch.insert(name.clone(), to_json(current.values(name)));
        }
        if patch.is_empty() {
            return Ok(());
        }
        let a = self.client.call("PATCH", self.user_url(&uid), Some(Body::json(Json::Object(patch)))).await?;
        if !a.ok() {
            return Err(self.write_error(&format!("update user {uid}"), &a));
        }
        self.index_written(&uid, Some(&a.body));
        Ok(())
    }

    /// PingOne users have no DN to rename: the user keeps its id.
    async fn rename(&self, id: &str, _new_dn: &str) -> EndpointResult<String> {
        Ok(id.to_string())
    }

    async fn delete(&self, id: &str) -> EndpointResult<()> {
        let Some(uid) = self.resolve(id).await? else { return Ok(()) };
        self.ids.lock().unwrap_or_else(|p| p.into_inner()).remove(&norm(id));
        let a = self.client.call("DELETE", self.user_url(&uid), None).await?;
        self.index_written(&uid, None);
        match a.status {
            404 => Ok(()),
            s if (200..300).contains(&s) => Ok(()),
            _ => Err(status_error(self.label(), &format!("delete user {uid}"), &a)),
        }
    }

    async fn stream(&self, _attrs: &[String], tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        let mut next = Some(self.client.env_url("users?limit=1000"));
        while let Some(u) = next.take() {
            let a = self.client.call("GET", u, None).await?;
            if !a.ok() {
                return Err(status_error(self.label(), "list users", &a));
            }
            for user in crate::client::page_items(self.label(), "users", &a)? {
                if let Some(e) = user_to_entry(user) {
                    if tx.send(Ok(e)).await.is_err() {
                        return Ok(());
                    }
                }
            }
            next = a.body.pointer("/_links/next/href").and_then(Json::as_str).map(str::to_string);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_equal_to_the_mapped_text_take_its_form() {
        let mut mapped = Entry::new("uid=a,dc=x");
        mapped.set("name", vec![Value::Text(r#"{"given":"Ann", "family":"Lee"}"#.into())]);
        mapped.set("address", vec![Value::Text(r#"{"locality":"Here"}"#.into())]);
        let mut found = Entry::new("id=1");
        found.set("name", vec![Value::Json(serde_json::json!({"family": "Lee", "given": "Ann"}))]);
        found.set("address", vec![Value::Json(serde_json::json!({"locality": "There"}))]);
        same_json_as_mapped(&mapped, &mut found);
        assert_eq!(found.values("name"), mapped.values("name"));
        assert!(matches!(found.values("address"), [Value::Json(_)]), "a different value stays as read");
    }
}
