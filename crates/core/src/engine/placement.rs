//! Where each pipe of a topology runs.
//!
//! Ping's rule comes first: a pipe runs on the live server of the best (lowest) `sync-server-priority-index`.
//! Beyond Ping, the pipes spread: when several live servers share the best priority, the pipes are divided
//! between them, as evenly as they go (no server gets more than `ceil(pipes / servers)`), each pipe on the server
//! that ranks highest for it by rendezvous hashing among those with room. So servers of one priority run the
//! pipes side by side; a server of a worse priority is a standby; and a server that comes and goes moves only
//! about its share of the pipes.
//!
//! Every server computes the same placement from the same topology (the live servers read from the store, the
//! started pipes of the shared configuration), so they agree without talking to each other; while they see the
//! topology differently for a moment (a heartbeat on the edge of its time), the leases keep a pipe on one
//! server at a time.

use std::collections::HashMap;

/// A live server of the topology: its name and priority index.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub priority: i64,
}

/// The server each of `pipes` runs on, among `servers` (the live ones). Empty when `servers` is.
pub fn place<'a>(pipes: &[String], servers: &[Candidate<'a>]) -> HashMap<String, &'a str> {
    let Some(best) = servers.iter().map(|s| s.priority).min() else { return HashMap::new() };
    let mut group: Vec<&str> = servers.iter().filter(|s| s.priority == best).map(|s| s.name).collect();
    group.sort_unstable();
    group.dedup();
    let mut pipes: Vec<&String> = pipes.iter().collect();
    pipes.sort_unstable_by_key(|p| p.to_ascii_lowercase());
    pipes.dedup_by_key(|p| p.to_ascii_lowercase());
    let room = pipes.len().div_ceil(group.len());
    let mut load: HashMap<&str, usize> = HashMap::new();
    let mut placed = HashMap::new();
    for pipe in pipes {
        let mut ranked = group.clone();
        // Highest weight first; names break the (unlikely) ties, so the order is total.
        ranked.sort_by_key(|server| (std::cmp::Reverse(weight(pipe, server)), *server));
        let Some(server) = ranked.into_iter().find(|s| load.get(s).copied().unwrap_or(0) < room) else { continue };
        *load.entry(server).or_default() += 1;
        placed.insert(pipe.clone(), server);
    }
    placed
}

/// The rendezvous weight of `server` for `pipe`: XXH3, a fixed algorithm, so servers built apart agree.
fn weight(pipe: &str, server: &str) -> u64 {
    let key = format!("{}\u{0}{server}", pipe.to_ascii_lowercase());
    xxhash_rust::xxh3::xxh3_64(key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipes(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("pipe-{i}")).collect()
    }

    fn servers<'a>(list: &[(&'a str, i64)]) -> Vec<Candidate<'a>> {
        list.iter().map(|&(name, priority)| Candidate { name, priority }).collect()
    }

    fn counts<'a>(placed: &HashMap<String, &'a str>) -> HashMap<&'a str, usize> {
        let mut c = HashMap::new();
        for s in placed.values() {
            *c.entry(*s).or_default() += 1;
        }
        c
    }

    #[test]
    fn the_best_priority_runs_everything_as_in_ping() {
        let placed = place(&pipes(7), &servers(&[("b", 2), ("a", 1), ("c", 3)]));
        assert_eq!(placed.len(), 7);
        assert!(placed.values().all(|s| *s == "a"), "{placed:?}");
    }

    #[test]
    fn servers_of_one_priority_share_the_pipes_evenly_and_a_worse_one_stands_by() {
        for n in 1..=12 {
            let placed = place(&pipes(n), &servers(&[("a", 1), ("b", 1), ("c", 1), ("standby", 5)]));
            assert_eq!(placed.len(), n);
            let c = counts(&placed);
            assert!(!c.contains_key("standby"), "{c:?}");
            let (min, max) =
                (["a", "b", "c"].map(|s| c.get(s).copied().unwrap_or(0)).into_iter().min(), c.values().max());
            assert!(max.copied().unwrap_or(0) - min.unwrap_or(0) <= 1, "{n} pipes: {c:?}");
        }
    }

    #[test]
    fn every_server_computes_the_same_placement_whatever_order_it_reads_in() {
        let mut names = pipes(9);
        let one = place(&names, &servers(&[("a", 1), ("b", 1), ("c", 1)]));
        names.reverse();
        let two = place(&names, &servers(&[("c", 1), ("a", 1), ("b", 1)]));
        assert_eq!(one, two);
    }

    #[test]
    fn a_server_that_leaves_moves_little_more_than_its_own_pipes() {
        let names = pipes(30);
        let before = place(&names, &servers(&[("a", 1), ("b", 1), ("c", 1)]));
        let after = place(&names, &servers(&[("a", 1), ("b", 1)]));
        assert!(after.values().all(|s| *s != "c"));
        let moved_others = names.iter().filter(|p| before[*p] != "c" && before[*p] != after[*p]).count();
        // c's ten pipes move; of the twenty others, only those bumped by the bound of 15 per server may.
        assert!(moved_others <= 10, "{moved_others} pipes of the remaining servers moved");
        assert_eq!(counts(&after).values().copied().max(), Some(15));
    }

    #[test]
    fn no_server_no_placement() {
        assert!(place(&pipes(3), &[]).is_empty());
        assert!(place(&[], &servers(&[("a", 1)])).is_empty());
    }
}
