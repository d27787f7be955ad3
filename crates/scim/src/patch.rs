//! Changes to a SCIM resource: the engine's modifications applied to the entry read back, and the fewest PATCH
//! operations that turn a resource into the desired one.

use ferrosync::endpoint::Modification;
use ferrosync::entry::{Entry, Value};
use serde_json::{json, Value as Json};

use crate::mapping::{self, filter_escape, get_ci, Endpoint, Usage};

pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Applies one engine modification to an entry, values compared by `key`.
pub(crate) fn apply(e: &mut Entry, m: &Modification, key: &dyn Fn(&str) -> String) {
    match m {
        Modification::Replace(a, v) => e.set(a, v.clone()),
        Modification::Add(a, v) => {
            let mut cur = e.values(a).to_vec();
            for x in v {
                let k = key(&x.as_text());
                if !cur.iter().any(|c| key(&c.as_text()) == k) {
                    cur.push(x.clone());
                }
            }
            e.set(a, cur);
        }
        Modification::Delete(a, v) if v.is_empty() => e.set(a, Vec::new()),
        Modification::Delete(a, v) => {
            let gone: Vec<String> = v.iter().map(|x| key(&x.as_text())).collect();
            let keep: Vec<Value> = e.values(a).iter().filter(|x| !gone.contains(&key(&x.as_text()))).cloned().collect();
            e.set(a, keep);
        }
    }
}

/// Whether `new` is what `old` holds, ignoring what the service adds (sub-attributes such as `display`).
pub(crate) fn same(old: Option<&Json>, new: Option<&Json>) -> bool {
    match (old, new) {
        (None | Some(Json::Null), None) => true,
        (Some(Json::Array(a)), None) | (None, Some(Json::Array(a))) => a.is_empty(),
        (Some(o), Some(n)) => covers(o, n),
        _ => false,
    }
}

pub(crate) fn covers(o: &Json, n: &Json) -> bool {
    match (o, n) {
        (Json::Object(_), Json::Object(nm)) => nm.iter().all(|(k, v)| get_ci(o, k).is_some_and(|ov| covers(ov, v))),
        (Json::Array(oa), Json::Array(na)) => {
            oa.len() == na.len() && na.iter().all(|x| oa.iter().any(|y| covers(y, x)))
        }
        (Json::String(a), Json::String(b)) => a == b,
        (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
        _ => o == n,
    }
}

/// The fewest PATCH operations that turn `old` into `desired`, for the mappings used for updates.
pub(crate) fn patch_ops(ep: &Endpoint, old: &Json, desired: &Json) -> Vec<Json> {
    let mut ops = Vec::new();
    for m in ep.attrs.iter().filter(|m| m.used_for(Usage::Update)) {
        let o = ep.get(old, &m.scim);
        let n = ep.get(desired, &m.scim);
        if same(o, n) {
            continue;
        }
        let path = m.scim.clone();
        let Some(n) = n else {
            ops.push(json!({"op": "remove", "path": path}));
            continue;
        };
        if m.always_replace {
            ops.push(json!({"op": "replace", "path": path, "value": n}));
            continue;
        }
        match (o, n, &m.kind) {
            (_, Json::Array(na), _) if m.is_members() => {
                let ids = |a: Option<&Json>| -> Vec<String> {
                    a.and_then(Json::as_array)
                        .map(|a| {
                            a.iter().filter_map(|x| x.get("value").and_then(Json::as_str)).map(str::to_string).collect()
                        })
                        .unwrap_or_default()
                };
                let old_ids = ids(o);
                let new_ids = ids(Some(n));
                let added: Vec<Json> = na
                    .iter()
                    .filter(|x| x.get("value").and_then(Json::as_str).is_some_and(|v| !old_ids.iter().any(|o| o == v)))
                    .cloned()
                    .collect();
                if !added.is_empty() {
                    ops.push(json!({"op": "add", "path": path, "value": added}));
                }
                for id in old_ids.iter().filter(|i| !new_ids.contains(i)) {
                    ops.push(json!({"op": "remove", "path": format!("{path}[value eq \"{}\"]", filter_escape(id))}));
                }
            }
            (Some(Json::Object(_)), Json::Object(nm), mapping::Kind::Composed { subs, .. }) => {
                for s in subs {
                    let so = o.and_then(|o| get_ci(o, &s.scim));
                    let sn = nm.get(&s.scim);
                    if same(so, sn) {
                        continue;
                    }
                    let sp = format!("{path}.{}", s.scim);
                    match sn {
                        None => ops.push(json!({"op": "remove", "path": sp})),
                        Some(v) => ops.push(json!({"op": "replace", "path": sp, "value": v})),
                    }
                }
            }
            (Some(Json::Array(oa)), Json::Array(na), _) if oa.iter().all(|x| na.iter().any(|y| covers(x, y))) => {
                let added: Vec<Json> = na.iter().filter(|y| !oa.iter().any(|x| covers(x, y))).cloned().collect();
                if added.is_empty() {
                    ops.push(json!({"op": "replace", "path": path, "value": n}));
                } else {
                    ops.push(json!({"op": "add", "path": path, "value": added}));
                }
            }
            _ => ops.push(json!({"op": "replace", "path": path, "value": n})),
        }
    }
    ops
}
