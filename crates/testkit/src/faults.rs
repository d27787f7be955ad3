//! Fault plans: which calls of a fake endpoint fail, and how.
//!
//! A [`FaultPlan`] holds rules. Each rule names an operation ([`Op`]), when it fires (the Nth call of that
//! operation, every call from the Nth on for a number of calls, or each call with a probability drawn from a
//! seeded generator, so a failing case replays exactly) and what happens ([`Fault`]). Every call of a fake
//! endpoint asks the plan first; the plan counts calls per operation whether or not a rule fires.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrosync::endpoint::EndpointError;

/// An operation of a fake endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`ferrosync::endpoint::EntrySource::fetch`] and `fetch_by_unique_id`.
    SourceFetch,
    /// [`ferrosync::endpoint::EntrySource::fetch_many_by_unique_id`].
    SourceFetchMany,
    /// [`ferrosync::endpoint::EntrySource::stream`].
    SourceStream,
    /// [`ferrosync::endpoint::ChangeDetector::poll`].
    Poll,
    /// [`ferrosync::endpoint::ChangeDetector::start_point`].
    StartPoint,
    DestCorrelate,
    DestFetch,
    DestCreate,
    DestModify,
    DestRename,
    DestDelete,
    DestStream,
}

/// What a rule does to the call it fires on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// [`EndpointError::Unavailable`]: no server reachable.
    Unavailable,
    /// [`EndpointError::Retryable`]: a busy server.
    Retryable,
    /// [`EndpointError::Rejected`]: refused for good.
    Rejected,
    /// The call sleeps this long (past any deadline the caller keeps), then fails as
    /// [`EndpointError::Retryable`] ("timed out"), as a response timeout does.
    Timeout(Duration),
    /// A poll returns at most this many changes (fewer than asked for), though more are waiting. Other
    /// operations ignore it.
    ShortPage(usize),
    /// The call sleeps this long, then goes on as usual (a slow server, not a failing one).
    Latency(Duration),
}

impl Fault {
    fn error(&self, op: Op, call: u64) -> Option<EndpointError> {
        let what = format!("injected fault: call {call} of {op:?}");
        match self {
            Fault::Unavailable => Some(EndpointError::Unavailable(format!("{what}: no server is available"))),
            Fault::Retryable => Some(EndpointError::Retryable(format!("{what}: the server is busy"))),
            Fault::Rejected => Some(EndpointError::Rejected(format!("{what}: unwilling to perform"))),
            Fault::Timeout(_) => Some(EndpointError::Retryable(format!("{what}: the response timed out"))),
            Fault::ShortPage(_) | Fault::Latency(_) => None,
        }
    }
}

/// When a rule fires.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    /// The Nth call (1-based) of the operation.
    Nth(u64),
    /// `count` calls from the Nth (1-based) on.
    From { nth: u64, count: u64 },
    /// Each call with this probability (0..=1), drawn from the plan's seeded generator.
    Probability(f64),
}

/// One rule of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub op: Op,
    pub when: When,
    pub fault: Fault,
}

/// The faults to inject, shared by the fakes that use it (clone it: clones share rules and counters).
#[derive(Clone, Default)]
pub struct FaultPlan {
    inner: Arc<PlanInner>,
}

#[derive(Default)]
struct PlanInner {
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<std::collections::HashMap<Op, u64>>,
    rng: Mutex<SplitMix>,
    fired: AtomicU64,
}

impl FaultPlan {
    /// A plan that injects nothing (yet), whose probabilities draw from `seed`.
    pub fn seeded(seed: u64) -> FaultPlan {
        let plan = FaultPlan::default();
        *lock(&plan.inner.rng) = SplitMix(seed);
        plan
    }

    /// Adds a rule.
    pub fn add(&self, rule: Rule) -> &Self {
        lock(&self.inner.rules).push(rule);
        self
    }

    /// The Nth call (1-based) of `op` fails with `fault`.
    pub fn nth(&self, op: Op, nth: u64, fault: Fault) -> &Self {
        self.add(Rule { op, when: When::Nth(nth), fault })
    }

    /// Each call of `op` fails with `fault` with probability `p`.
    pub fn probability(&self, op: Op, p: f64, fault: Fault) -> &Self {
        self.add(Rule { op, when: When::Probability(p), fault })
    }

    /// Removes every rule (calls are still counted).
    pub fn clear(&self) {
        lock(&self.inner.rules).clear();
    }

    /// How many calls of `op` were made.
    pub fn calls(&self, op: Op) -> u64 {
        lock(&self.inner.calls).get(&op).copied().unwrap_or(0)
    }

    /// How many faults fired.
    pub fn fired(&self) -> u64 {
        self.inner.fired.load(Ordering::Relaxed)
    }

    /// Counts a call of `op` and returns the fault that fires on it, if any.
    pub fn next(&self, op: Op) -> Option<(u64, Fault)> {
        let call = {
            let mut calls = lock(&self.inner.calls);
            let c = calls.entry(op).or_insert(0);
            *c += 1;
            *c
        };
        let rules = lock(&self.inner.rules).clone();
        for r in rules.iter().filter(|r| r.op == op) {
            let fires = match r.when {
                When::Nth(n) => call == n,
                When::From { nth, count } => call >= nth && call < nth.saturating_add(count),
                When::Probability(p) => lock(&self.inner.rng).unit() < p,
            };
            if fires {
                self.inner.fired.fetch_add(1, Ordering::Relaxed);
                return Some((call, r.fault.clone()));
            }
        }
        None
    }

    /// Asks the plan about a call of `op`: sleeps for a timeout, and returns the error to fail with. A
    /// [`Fault::ShortPage`] is returned as `Ok(Some(n))` for polls to shorten their page.
    pub async fn check(&self, op: Op) -> Result<Option<usize>, EndpointError> {
        let Some((call, fault)) = self.next(op) else {
            return Ok(None);
        };
        if let Fault::Timeout(d) | Fault::Latency(d) = &fault {
            tokio::time::sleep(*d).await;
        }
        if let Fault::ShortPage(n) = fault {
            return Ok(Some(n));
        }
        match fault.error(op, call) {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// SplitMix64: a small seeded generator (enough for fault draws; no dependency).
#[derive(Default)]
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_and_ranges_fire_on_their_calls_only() {
        let plan = FaultPlan::seeded(1);
        plan.nth(Op::DestCreate, 2, Fault::Rejected);
        plan.add(Rule { op: Op::Poll, when: When::From { nth: 2, count: 2 }, fault: Fault::ShortPage(1) });
        assert_eq!(plan.next(Op::DestCreate), None);
        assert_eq!(plan.next(Op::DestCreate), Some((2, Fault::Rejected)));
        assert_eq!(plan.next(Op::DestCreate), None);
        let polls: Vec<bool> = (0..5).map(|_| plan.next(Op::Poll).is_some()).collect();
        assert_eq!(polls, [false, true, true, false, false]);
        assert_eq!(plan.calls(Op::DestCreate), 3);
        assert_eq!(plan.fired(), 3);
    }

    #[test]
    fn probabilities_replay_with_the_seed() {
        let draw = |seed| {
            let plan = FaultPlan::seeded(seed);
            plan.probability(Op::DestModify, 0.5, Fault::Unavailable);
            (0..64).map(|_| plan.next(Op::DestModify).is_some()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let fired = draw(7).iter().filter(|f| **f).count();
        assert!((16..48).contains(&fired), "{fired}");
    }

    #[tokio::test]
    async fn a_timeout_sleeps_then_fails_as_retryable() {
        let plan = FaultPlan::seeded(1);
        plan.nth(Op::DestFetch, 1, Fault::Timeout(Duration::from_millis(30)));
        let t = std::time::Instant::now();
        let e = plan.check(Op::DestFetch).await.unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert!(matches!(e, EndpointError::Retryable(_)), "{e:?}");
        assert!(plan.check(Op::DestFetch).await.unwrap().is_none());
    }
}
