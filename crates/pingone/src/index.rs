//! The correlation index of a full resync into PingOne: every user of the environment, read by one paged
//! listing, so that correlation answers without a search per entry. A correlation list (`username`,
//! `externalId`, `name.family`, ...) is looked up by the values the mapped entry holds for its attributes, as
//! PingOne's `eq` filter compares them: without case, a multi-valued field matching on any of its values. The
//! key map of a list is built the first time the list is used. The destination's own writes keep it current.

use std::collections::HashMap;

use serde_json::Value as Json;

/// How many users the index holds at most; a larger environment is correlated by searches.
pub(crate) const MAX_INDEXED: u64 = 2_000_000;

#[derive(Default)]
pub(crate) struct UserIndex {
    /// Each user by id, as listed or as last written.
    users: HashMap<String, Json>,
    /// For each correlation list (lower case): the ids of the users with each combination of values.
    by_list: HashMap<Vec<String>, HashMap<Vec<String>, Vec<String>>>,
    /// Every user is in (the listing is over); until then, a lookup answers only what no later page can
    /// change.
    complete: bool,
}

/// The values of `path` (dotted, without case) in `user`, as compared: lower case text.
fn values(user: &Json, path: &str) -> Vec<String> {
    let mut cur = user;
    for part in path.split('.') {
        let Some(next) = cur.as_object().and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(part))) else {
            return Vec::new();
        };
        cur = next.1;
    }
    let one = |v: &Json| match v {
        Json::String(s) => Some(s.to_lowercase()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match cur {
        Json::Array(a) => a.iter().filter_map(one).collect(),
        v => one(v).into_iter().collect(),
    }
}

/// Every key of `user` for `list`: one per combination of its values.
fn keys(user: &Json, list: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for a in list {
        let vals = values(user, a);
        if vals.is_empty() {
            return Vec::new();
        }
        out = out.into_iter().flat_map(|k| vals.iter().map(move |v| [k.clone(), vec![v.clone()]].concat())).collect();
    }
    out
}

fn id_of(user: &Json) -> Option<&str> {
    user.get("id").and_then(Json::as_str)
}

impl UserIndex {
    pub(crate) fn put(&mut self, user: Json) {
        let Some(id) = id_of(&user).map(str::to_string) else { return };
        self.remove(&id);
        for (list, map) in self.by_list.iter_mut() {
            for k in keys(&user, list) {
                map.entry(k).or_default().push(id.clone());
            }
        }
        self.users.insert(id, user);
    }

    pub(crate) fn remove(&mut self, id: &str) {
        let Some(old) = self.users.remove(id) else { return };
        for (list, map) in self.by_list.iter_mut() {
            for k in keys(&old, list) {
                if let Some(ids) = map.get_mut(&k) {
                    ids.retain(|i| i != id);
                    if ids.is_empty() {
                        map.remove(&k);
                    }
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }

    /// The listing is over: every user is in.
    pub(crate) fn set_complete(&mut self) {
        self.complete = true;
    }

    /// The users whose values for `list` are `key` (lower case), as `eq` filters joined by `and` find them,
    /// each made into what `f` makes of it (without copying the user first); `None` while the listing runs and
    /// a later page may change the answer. A list that includes `username` (unique in an environment) has its
    /// answer once the one user is in.
    pub(crate) fn lookup<T>(
        &mut self,
        list: &[String],
        key: &[String],
        f: impl Fn(&Json) -> Option<T>,
    ) -> Option<Vec<T>> {
        let list: Vec<String> = list.iter().map(|a| a.to_ascii_lowercase()).collect();
        let users = &self.users;
        if !self.by_list.contains_key(&list) {
            let mut m: HashMap<Vec<String>, Vec<String>> = HashMap::new();
            for (id, u) in users {
                for k in keys(u, &list) {
                    m.entry(k).or_default().push(id.clone());
                }
            }
            self.by_list.insert(list.clone(), m);
        }
        let key: Vec<String> = key.iter().map(|v| v.to_lowercase()).collect();
        let ids = self.by_list.get(&list).and_then(|m| m.get(&key));
        let found: Vec<T> =
            ids.map(|ids| ids.iter().filter_map(|id| users.get(id).and_then(&f)).collect()).unwrap_or_default();
        let unique = list.iter().any(|a| a == "username");
        (self.complete || (unique && found.len() == 1)).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    impl UserIndex {
        fn lookup_json(&mut self, list: &[String], key: &[String]) -> Option<Vec<Json>> {
            self.lookup(list, key, |u| Some(u.clone()))
        }
    }

    #[test]
    fn lookups_compare_without_case_and_follow_writes() {
        let mut ix = UserIndex::default();
        ix.set_complete();
        ix.put(json!({"id": "1", "username": "JDoe", "name": {"family": "Doe"}, "externalId": "e1"}));
        ix.put(json!({"id": "2", "username": "asmith", "name": {"family": "Doe"}}));
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ids = |v: Option<Vec<Json>>| {
            v.unwrap_or_default().iter().filter_map(|u| id_of(u).map(str::to_string)).collect::<Vec<_>>()
        };
        assert_eq!(ids(ix.lookup_json(&list(&["username"]), &list(&["jdoe"]))), ["1"]);
        let mut both = ids(ix.lookup_json(&list(&["name.family"]), &list(&["DOE"])));
        both.sort();
        assert_eq!(both, ["1", "2"]);
        assert_eq!(ids(ix.lookup_json(&list(&["name.family", "externalId"]), &list(&["doe", "E1"]))), ["1"]);
        ix.put(json!({"id": "3", "username": "new"}));
        assert_eq!(ids(ix.lookup_json(&list(&["username"]), &list(&["NEW"]))), ["3"]);
        ix.put(json!({"id": "1", "username": "renamed"}));
        assert_eq!(ix.lookup_json(&list(&["username"]), &list(&["jdoe"])), Some(vec![]));
        ix.remove("3");
        assert_eq!(ix.lookup_json(&list(&["username"]), &list(&["new"])), Some(vec![]));
        assert_eq!(ix.len(), 2);
    }

    #[test]
    fn while_the_listing_runs_only_a_unique_key_with_its_one_user_is_answered() {
        let mut ix = UserIndex::default();
        ix.put(json!({"id": "1", "username": "jdoe", "name": {"family": "Doe"}}));
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(ix.lookup_json(&list(&["username"]), &list(&["JDOE"])).map(|v| v.len()), Some(1));
        // Not there yet, or not unique: a later page may hold it.
        assert_eq!(ix.lookup_json(&list(&["username"]), &list(&["asmith"])), None);
        assert_eq!(ix.lookup_json(&list(&["name.family"]), &list(&["doe"])), None);
        ix.set_complete();
        assert_eq!(ix.lookup_json(&list(&["username"]), &list(&["asmith"])), Some(vec![]));
        assert_eq!(ix.lookup_json(&list(&["name.family"]), &list(&["doe"])).map(|v| v.len()), Some(1));
    }
}
