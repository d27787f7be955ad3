//! The mass-delete guard (`mass-delete-threshold`, `mass-delete-interval`): when more deletes than the threshold
//! would start within the interval, the pipe holds every delete from then on (their lanes wait, so the start
//! point stays before the first held one and nothing is lost) until an operator releases them with
//! `realtime-sync release-deletes`. The held state is kept in the store, so a restart holds them again.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What the guard says about one delete that is about to start.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// It may start.
    Pass,
    /// Deletes are held: it waits.
    Hold,
    /// This delete is one too many: the guard trips (with the alert to raise) and it waits.
    Trip(String),
}

pub(super) struct DeleteGuard {
    /// The pipe's name, for the alert.
    pipe: String,
    threshold: u64,
    interval: Duration,
    /// When the deletes counted in the interval started.
    recent: VecDeque<Instant>,
    /// While deletes are held: the alert raised when the guard tripped.
    pub(super) held: Option<String>,
    /// Released by an operator: deletes before this sequence number pass uncounted (`u64::MAX` until the pipe
    /// next catches up with its source, which fixes the bound at the end of what it had read).
    released_before: Option<u64>,
}

impl DeleteGuard {
    /// A guard holding deletes when more than `threshold` start within `interval` (0: never); `held` is the alert
    /// of a guard that tripped before the pipe (re)started.
    pub(super) fn new(pipe: &str, threshold: u64, interval: Duration, held: Option<String>) -> DeleteGuard {
        DeleteGuard {
            pipe: pipe.to_string(),
            threshold,
            interval,
            recent: VecDeque::new(),
            held,
            released_before: None,
        }
    }

    /// Decides about the delete with log sequence number `seq`, about to start at `now`; counts it when it passes.
    pub(super) fn admit(&mut self, seq: u64, now: Instant) -> Admit {
        match self.released_before {
            Some(bound) if seq < bound => return Admit::Pass,
            Some(_) => {
                // Past what was released: counted again from zero.
                self.released_before = None;
                self.recent.clear();
            }
            None => {}
        }
        if self.threshold == 0 {
            return Admit::Pass;
        }
        if self.held.is_some() {
            return Admit::Hold;
        }
        while self.recent.front().is_some_and(|t| now.duration_since(*t) > self.interval) {
            self.recent.pop_front();
        }
        if (self.recent.len() as u64) < self.threshold {
            self.recent.push_back(now);
            return Admit::Pass;
        }
        let alert = format!(
            "more than {} deletes (mass-delete-threshold) within {} (mass-delete-interval): the pipe holds its deletes \
             from {}; nothing is lost (the start point stays before the first held delete). Check the source, then \
             release them with 'realtime-sync release-deletes --pipe-name \"{}\"', or drop them by setting the \
             start point past them (realtime-sync set-startpoint)",
            self.threshold,
            humantime::format_duration(self.interval),
            crate::util::timestamp_now(),
            self.pipe,
        );
        self.held = Some(alert.clone());
        Admit::Trip(alert)
    }

    /// An operator released the held deletes: they, and every delete read until the pipe catches up with its
    /// source, pass.
    pub(super) fn release(&mut self) {
        self.held = None;
        self.released_before = Some(u64::MAX);
        self.recent.clear();
    }

    /// The pipe has read everything its source had, up to sequence number `end` (exclusive): a release covers
    /// the deletes read so far and no later one.
    pub(super) fn caught_up(&mut self, end: u64) {
        if self.released_before == Some(u64::MAX) {
            self.released_before = Some(end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delete_past_the_threshold_trips_the_guard_and_every_later_one_waits() {
        let now = Instant::now();
        let mut g = DeleteGuard::new("p", 3, Duration::from_secs(60), None);
        for seq in 0..3 {
            assert_eq!(g.admit(seq, now), Admit::Pass);
        }
        assert!(matches!(g.admit(3, now), Admit::Trip(a) if a.contains("more than 3 deletes")));
        assert_eq!(g.admit(4, now), Admit::Hold);
        // Still held however long it waits.
        assert_eq!(g.admit(4, now + Duration::from_secs(3600)), Admit::Hold);
    }

    #[test]
    fn deletes_older_than_the_interval_no_longer_count() {
        let now = Instant::now();
        let mut g = DeleteGuard::new("p", 2, Duration::from_secs(10), None);
        assert_eq!(g.admit(0, now), Admit::Pass);
        assert_eq!(g.admit(1, now), Admit::Pass);
        assert_eq!(g.admit(2, now + Duration::from_secs(11)), Admit::Pass);
        assert_eq!(g.admit(3, now + Duration::from_secs(11)), Admit::Pass);
        assert!(matches!(g.admit(4, now + Duration::from_secs(12)), Admit::Trip(_)));
    }

    #[test]
    fn a_release_passes_what_was_read_until_caught_up_then_counts_again() {
        let now = Instant::now();
        let mut g = DeleteGuard::new("p", 1, Duration::from_secs(60), Some("held before the restart".into()));
        assert_eq!(g.admit(0, now), Admit::Hold);
        g.release();
        for seq in 0..100 {
            assert_eq!(g.admit(seq, now), Admit::Pass);
        }
        g.caught_up(150);
        assert_eq!(g.admit(149, now), Admit::Pass);
        // Past the release: counted from zero.
        assert_eq!(g.admit(150, now), Admit::Pass);
        assert!(matches!(g.admit(151, now), Admit::Trip(_)));
    }

    #[test]
    fn a_threshold_of_0_never_holds() {
        let now = Instant::now();
        let mut g = DeleteGuard::new("p", 0, Duration::from_secs(60), None);
        for seq in 0..10_000 {
            assert_eq!(g.admit(seq, now), Admit::Pass);
        }
    }
}
