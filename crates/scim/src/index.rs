//! The correlation index of a full resync: every resource of the destination's endpoints, read by one paged
//! listing (`startIndex`/`count`, RFC 7644 section 3.4.2.4), keyed by the values of each endpoint's search
//! attribute mappings, without case; a lookup that finds a resource whose value differs from the searched one
//! only in case asks how the service's `eq` filter compares (the schema's `caseExact`, then one search), so a
//! lookup finds exactly the resources that the filter `search eq value and ...` would: none, one, or several
//! (which correlation reports as ambiguous, as it does for a search). The index answers while the listing
//! runs what no later page can change (a unique key's resource); other lookups wait for the end of the
//! listing. The destination's own writes keep it current while the resync runs.

use std::collections::HashMap;

use ferrosync::entry::Entry;
use serde_json::Value as Json;

use crate::mapping::{AttrMap, Endpoint, Kind};

/// How many resources the index holds at most; a larger destination is correlated by searches.
pub(crate) const MAX_INDEXED: u64 = 2_000_000;

/// The index of one endpoint.
#[derive(Default)]
pub(crate) struct EndpointIndex {
    /// Whether each search mapping compares case-exactly, once known (from the schema, or by asking the service
    /// how its filter compares); `None` until a lookup needs it.
    case_exact: Vec<Option<bool>>,
    /// The ids of the resources of each key, compared without case.
    by_key: HashMap<Vec<String>, Vec<String>>,
    /// The keys of each resource with their case, to tell which of a key's resources a case-exact filter finds.
    exact_keys: HashMap<String, Vec<Vec<String>>>,
    /// The resource of each id, as listed or as last written; absent when this destination wrote it without
    /// learning its new state (it is read by id then).
    by_id: HashMap<String, Json>,
    /// Every resource of the endpoint is in (the listing is over); until then, a lookup answers only what no
    /// later page can change.
    complete: bool,
    /// The search mappings find at most one resource (they include the User's `userName`, which RFC 7643
    /// section 4.1.1 says is unique at the service): a lookup that finds one while the listing runs is the
    /// answer.
    unique: bool,
}

/// What a lookup in the index found.
#[derive(Debug, PartialEq)]
pub(crate) enum Lookup {
    /// The resources the search filter would find: their ids and the state each was listed or written in.
    Found(Vec<(String, Option<Json>)>),
    /// A resource whose value for search mapping `k` differs from the searched one only in case, and whether
    /// that mapping compares case-exactly is not known yet: its id and that value.
    CaseUnknown { k: usize, id: String, value: String },
    /// The listing is still running and may give more resources of the key.
    Incomplete,
}

/// Why the search mappings of `ep` cannot be answered from a listing, if they cannot: a mapping whose filter
/// the index could not reproduce exactly (a sub-attribute path, a date compared by the service's rules).
pub(crate) fn unindexable(ep: &Endpoint) -> Option<String> {
    for m in &ep.search {
        let simple = matches!(m.kind, Kind::Str | Kind::Number | Kind::Bool { .. });
        if !simple || m.is_members() || m.scim.contains('.') {
            return Some(format!(
                "the search attribute mapping '{}' of endpoint {} is not a simple string, number or boolean",
                m.name, ep.path
            ));
        }
    }
    None
}

/// A value as a key part, with its case: strings `s...`, numbers `n...`, booleans `b...`.
fn norm(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(format!("s{s}")),
        Json::Number(n) => Some(format!("n{n}")),
        Json::Bool(b) => Some(format!("b{b}")),
        _ => None,
    }
}

impl EndpointIndex {
    /// An empty index of endpoint `ep`, whose search mappings compare case-exactly as `case_exact` says
    /// (`None`: not known yet).
    pub(crate) fn new(ep: &Endpoint, case_exact: Vec<Option<bool>>) -> Self {
        EndpointIndex { case_exact, unique: unique_key(ep), ..Default::default() }
    }

    /// The keys a resource is found by, with their case: one per combination of the values it holds at the
    /// search paths (a multi-valued attribute matches `eq` on any of its values; a complex one by its `value`).
    fn keys_of(ep: &Endpoint, res: &Json) -> Vec<Vec<String>> {
        let mut keys: Vec<Vec<String>> = vec![Vec::new()];
        for m in &ep.search {
            let vals: Vec<String> = match ep.get(res, &m.scim) {
                None | Some(Json::Null) => Vec::new(),
                Some(Json::Array(a)) => a
                    .iter()
                    .filter_map(|x| match x {
                        Json::Object(o) => o.get("value").and_then(norm),
                        x => norm(x),
                    })
                    .collect(),
                Some(x) => norm(x).into_iter().collect(),
            };
            if vals.is_empty() {
                return Vec::new();
            }
            keys = keys
                .into_iter()
                .flat_map(|k| {
                    vals.iter().map(move |v| {
                        let mut k = k.clone();
                        k.push(v.clone());
                        k
                    })
                })
                .take(64)
                .collect();
        }
        keys
    }

    /// The key a mapped entry is searched by (the values `filter_of` puts in the filter), with its case, or
    /// `None` when it lacks a value.
    pub(crate) fn key_for(maps: &[AttrMap], e: &Entry) -> Option<Vec<String>> {
        let mut key = Vec::new();
        for m in maps {
            let v = m.to_json(e, &mut |_| None)?;
            let v = match v {
                Json::Array(a) => a.into_iter().next()?,
                v => v,
            };
            key.push(norm(&v)?);
        }
        (!key.is_empty()).then_some(key)
    }

    /// The resources the filter `search eq value and ...` finds for the key `key` (as [`EndpointIndex::key_for`]
    /// gives it).
    pub(crate) fn lookup(&self, key: &[String]) -> Lookup {
        let lower = lowered(key);
        let mut out = Vec::new();
        let mut exact_hits = 0;
        let mut unknown = None;
        for id in self.by_key.get(&lower).into_iter().flatten() {
            let keys = self.exact_keys.get(id).map(Vec::as_slice).unwrap_or_default();
            let mut found = false;
            for kk in keys.iter().filter(|kk| lowered(kk) == lower) {
                // The mappings whose values differ in case from the searched ones.
                let differ: Vec<usize> = (0..key.len()).filter(|&j| kk.get(j) != key.get(j)).collect();
                if differ.is_empty() {
                    exact_hits += 1;
                    found = true;
                    break;
                }
                match differ.iter().find(|&&j| self.case_exact.get(j).copied().flatten().is_none()) {
                    Some(&k) => {
                        let value = kk.get(k).and_then(|v| v.strip_prefix('s')).unwrap_or_default().to_string();
                        unknown.get_or_insert((k, id.clone(), value));
                    }
                    None if differ.iter().all(|&j| self.case_exact.get(j).copied().flatten() == Some(false)) => {
                        found = true;
                        break;
                    }
                    None => {}
                }
            }
            if found {
                out.push((id.clone(), self.by_id.get(id).cloned()));
            }
        }
        if !self.complete {
            // Only a unique key's one resource of exactly the searched value is the answer before the end.
            return if self.unique && exact_hits == 1 && out.len() == 1 && unknown.is_none() {
                Lookup::Found(out)
            } else {
                Lookup::Incomplete
            };
        }
        match unknown {
            Some((k, id, value)) => Lookup::CaseUnknown { k, id, value },
            None => Lookup::Found(out),
        }
    }

    /// Adds or replaces the resource `res` (by its `id`).
    pub(crate) fn put(&mut self, ep: &Endpoint, res: &Json) {
        let Some(id) = res.get("id").and_then(Json::as_str).map(str::to_string) else { return };
        self.remove(&id);
        let keys = Self::keys_of(ep, res);
        for k in &keys {
            let ids = self.by_key.entry(lowered(k)).or_default();
            if !ids.contains(&id) {
                ids.push(id.clone());
            }
        }
        self.exact_keys.insert(id.clone(), keys);
        self.by_id.insert(id, res.clone());
    }

    /// Forgets the state of resource `id` but keeps it findable (read by id when found).
    pub(crate) fn forget_state(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// Removes resource `id` from the index.
    pub(crate) fn remove(&mut self, id: &str) {
        self.by_id.remove(id);
        let Some(keys) = self.exact_keys.remove(id) else { return };
        for k in keys {
            let k = lowered(&k);
            if let Some(ids) = self.by_key.get_mut(&k) {
                ids.retain(|i| i != id);
                if ids.is_empty() {
                    self.by_key.remove(&k);
                }
            }
        }
    }

    /// Says whether search mapping `k` compares case-exactly.
    pub(crate) fn set_case_exact(&mut self, k: usize, exact: bool) {
        if let Some(e) = self.case_exact.get_mut(k) {
            *e = Some(exact);
        }
    }

    /// The listing is over: every resource is in.
    pub(crate) fn set_complete(&mut self) {
        self.complete = true;
    }

    pub(crate) fn len(&self) -> usize {
        self.exact_keys.len()
    }
}

/// A key as compared without case.
fn lowered(key: &[String]) -> Vec<String> {
    key.iter().map(|v| v.to_lowercase()).collect()
}

/// Whether the search mappings of `ep` find at most one resource: they include the core User's `userName`,
/// which RFC 7643 section 4.1.1 says the service keeps unique.
pub(crate) fn unique_key(ep: &Endpoint) -> bool {
    ep.core().eq_ignore_ascii_case(USER_SCHEMA) && ep.search.iter().any(|m| m.scim.eq_ignore_ascii_case("userName"))
}

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
