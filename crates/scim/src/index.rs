//! The correlation index of a full resync: every resource of the destination's endpoints, read by one paged
//! listing (`startIndex`/`count`, RFC 7644 section 3.4.2.4), keyed by the values of each endpoint's search
//! attribute mappings as the service's `eq` filter compares them (case-insensitively unless the schema says
//! `caseExact`). A lookup finds exactly the resources that the filter `search eq value and ...` would: none,
//! one, or several (which correlation reports as ambiguous, as it does for a search). The destination's own
//! writes keep it current while the resync runs.

use std::collections::HashMap;

use ferrosync::entry::Entry;
use serde_json::Value as Json;

use crate::mapping::{AttrMap, Endpoint, Kind};

/// How many resources the index holds at most; a larger destination is correlated by searches.
pub(crate) const MAX_INDEXED: u64 = 2_000_000;

/// The index of one endpoint.
#[derive(Default)]
pub(crate) struct EndpointIndex {
    /// Whether each search mapping compares case-exactly.
    case_exact: Vec<bool>,
    by_key: HashMap<Vec<String>, Vec<String>>,
    /// The resource of each id, as listed or as last written; absent when this destination wrote it without
    /// learning its new state (it is read by id then).
    by_id: HashMap<String, Json>,
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

fn norm(v: &Json, case_exact: bool) -> Option<String> {
    match v {
        Json::String(s) if case_exact => Some(format!("s{s}")),
        Json::String(s) => Some(format!("s{}", s.to_lowercase())),
        Json::Number(n) => Some(format!("n{n}")),
        Json::Bool(b) => Some(format!("b{b}")),
        _ => None,
    }
}

impl EndpointIndex {
    pub(crate) fn new(case_exact: Vec<bool>) -> Self {
        EndpointIndex { case_exact, ..Default::default() }
    }

    /// The keys a resource is found by: one per combination of the values it holds at the search paths (a
    /// multi-valued attribute matches `eq` on any of its values; a complex one by its `value`).
    fn keys_of(&self, ep: &Endpoint, res: &Json) -> Vec<Vec<String>> {
        let mut keys: Vec<Vec<String>> = vec![Vec::new()];
        for (m, &exact) in ep.search.iter().zip(&self.case_exact) {
            let vals: Vec<String> = match ep.get(res, &m.scim) {
                None | Some(Json::Null) => Vec::new(),
                Some(Json::Array(a)) => a
                    .iter()
                    .filter_map(|x| match x {
                        Json::Object(o) => o.get("value").and_then(|v| norm(v, exact)),
                        x => norm(x, exact),
                    })
                    .collect(),
                Some(x) => norm(x, exact).into_iter().collect(),
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

    /// The key a mapped entry is searched by (the values `filter_of` puts in the filter), or `None` when it
    /// lacks a value.
    pub(crate) fn key_for(&self, maps: &[AttrMap], e: &Entry) -> Option<Vec<String>> {
        let mut key = Vec::new();
        for (m, &exact) in maps.iter().zip(&self.case_exact) {
            let v = m.to_json(e, &mut |_| None)?;
            let v = match v {
                Json::Array(a) => a.into_iter().next()?,
                v => v,
            };
            key.push(norm(&v, exact)?);
        }
        (!key.is_empty()).then_some(key)
    }

    /// The ids of the resources with key `key`, and the state each was listed or written in, if known.
    pub(crate) fn lookup(&self, key: &[String]) -> Vec<(String, Option<Json>)> {
        self.by_key
            .get(key)
            .map(|ids| ids.iter().map(|id| (id.clone(), self.by_id.get(id).cloned())).collect())
            .unwrap_or_default()
    }

    /// Adds or replaces the resource `res` (by its `id`).
    pub(crate) fn put(&mut self, ep: &Endpoint, res: &Json) {
        let Some(id) = res.get("id").and_then(Json::as_str).map(str::to_string) else { return };
        self.remove(ep, &id);
        for k in self.keys_of(ep, res) {
            let ids = self.by_key.entry(k).or_default();
            if !ids.contains(&id) {
                ids.push(id.clone());
            }
        }
        self.by_id.insert(id, res.clone());
    }

    /// Forgets the state of resource `id` but keeps it findable (read by id when found).
    pub(crate) fn forget_state(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// Removes resource `id` from the index.
    pub(crate) fn remove(&mut self, ep: &Endpoint, id: &str) {
        let Some(old) = self.by_id.remove(id) else {
            // Its state is unknown: look through the keys.
            self.by_key.retain(|_, ids| {
                ids.retain(|i| i != id);
                !ids.is_empty()
            });
            return;
        };
        for k in self.keys_of(ep, &old) {
            if let Some(ids) = self.by_key.get_mut(&k) {
                ids.retain(|i| i != id);
                if ids.is_empty() {
                    self.by_key.remove(&k);
                }
            }
        }
    }

    /// Whether search mapping `k` compares case-exactly.
    pub(crate) fn case_exact(&self, k: usize) -> bool {
        self.case_exact.get(k).copied().unwrap_or(true)
    }

    /// A resource whose string value at the path of search mapping `k` changes when its case is swapped: its
    /// id and that value with the case swapped, to ask the service how its filter compares.
    pub(crate) fn case_probe(&self, ep: &Endpoint, k: usize) -> Option<(String, String)> {
        let m = ep.search.get(k)?;
        self.by_id.iter().find_map(|(id, res)| {
            let s = ep.get(res, &m.scim)?.as_str()?;
            let swapped: String = s
                .chars()
                .flat_map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<Vec<_>>()
                    } else {
                        c.to_uppercase().collect::<Vec<_>>()
                    }
                })
                .collect();
            (swapped != s).then(|| (id.clone(), swapped))
        })
    }

    /// This index with search mapping `k` compared case-exactly.
    pub(crate) fn with_case_exact(self, ep: &Endpoint, k: usize) -> EndpointIndex {
        let mut exact = self.case_exact.clone();
        if let Some(e) = exact.get_mut(k) {
            *e = true;
        }
        let mut ix = EndpointIndex::new(exact);
        for res in self.by_id.values() {
            ix.put(ep, res);
        }
        ix
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}
