//! The pages pushes asked a sync of, between the webhook and the daemon's loop, and the
//! projects with a compare in flight.
//!
//! Pushes come as fast as their sender likes, so what is kept is a set, not a queue of
//! requests: asking for a page already asked for costs nothing, and the loop takes
//! every page asked for at once, for one sync (of every page, when a `[[discover]]`
//! block's file changed). Only configured pages are ever asked for, and only configured
//! projects compared (the webhook matches an event against the configuration before it
//! asks), so neither set grows with what an event says.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

/// Pages asked for and not yet taken, and compares in flight.
#[derive(Default)]
pub struct Asked {
    state: Mutex<State>,
    /// Wakes the loop when pages are asked for.
    wake: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    /// Pages asked for and not yet taken by the loop.
    pages: BTreeSet<String>,
    /// Every page is asked for (a `[[discover]]` block's file changed), not yet taken.
    all: bool,
    /// Projects (lower case) with a compare in flight.
    comparing: BTreeSet<String>,
}

impl Asked {
    /// Asks for a sync of `pages`.
    pub fn ask(&self, pages: impl IntoIterator<Item = String>) {
        self.state().pages.extend(pages);
        self.wake.notify_one();
    }

    /// Asks for a sync of every page, discovered ones included.
    pub fn ask_all(&self) {
        self.state().all = true;
        self.wake.notify_one();
    }

    /// Every page asked for since the last call, as soon as there is one; none when
    /// every page is (the loop's word for all of them).
    ///
    /// Cancel-safe (the loop waits for it beside its schedule and the signal): pages
    /// leave the set only in the poll that returns them.
    pub async fn take(&self) -> Vec<String> {
        loop {
            // Made before the look, so a page asked for after it wakes this wait: a
            // notification with no task waiting is kept as a permit.
            let woken = self.wake.notified();
            {
                let mut state = self.state();
                if std::mem::take(&mut state.all) {
                    state.pages.clear();
                    return Vec::new();
                }
                if !state.pages.is_empty() {
                    return std::mem::take(&mut state.pages).into_iter().collect();
                }
            }
            woken.await;
        }
    }

    /// True when every one of `pages` is asked for and not yet taken: the sync that
    /// takes them starts after this call, and reads what was pushed before it.
    pub fn waiting<'p>(&self, mut pages: impl Iterator<Item = &'p str>) -> bool {
        let state = self.state();
        state.all || pages.all(|p| state.pages.contains(p))
    }

    /// True when every page is asked for and not yet taken.
    pub fn all_waiting(&self) -> bool {
        self.state().all
    }

    /// A compare of `project` in flight until the guard is dropped, or `None` when one
    /// is already.
    pub fn compare(&self, project: &str) -> Option<Comparing<'_>> {
        let project = project.to_lowercase();
        // Made only for the first: dropping a guard ends the compare.
        let first = self.state().comparing.insert(project.clone());
        first.then_some(Comparing {
            asked: self,
            project,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held.
        self.state
            .lock()
            .expect("the asked pages' lock is never poisoned")
    }
}

/// A compare in flight; dropped when it ends, or when the request is cut off.
pub struct Comparing<'a> {
    asked: &'a Asked,
    project: String,
}

impl Drop for Comparing<'_> {
    fn drop(&mut self) {
        self.asked.state().comparing.remove(&self.project);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pages(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn pages_asked_many_times_are_taken_once_together() {
        let asked = Asked::default();
        asked.ask(pages(&["b", "a"]));
        asked.ask(pages(&["a"]));
        assert_eq!(asked.take().await, pages(&["a", "b"]));
        assert!(!asked.waiting(["a"].into_iter()), "taken");
        let next = tokio::time::timeout(Duration::from_millis(10), asked.take()).await;
        assert!(next.is_err(), "nothing more was asked: {next:?}");
    }

    /// The loop's `select!` drops the wait when the schedule or the signal wins, in any
    /// state: woken and not yet polled again included.
    #[tokio::test]
    async fn a_wait_dropped_before_it_returns_loses_no_page() {
        let asked = Asked::default();
        let mut waiting = Box::pin(asked.take());
        assert!(
            tokio::time::timeout(Duration::ZERO, waiting.as_mut())
                .await
                .is_err()
        );
        asked.ask(pages(&["a"]));
        drop(waiting);
        assert!(asked.waiting(["a"].into_iter()));
        assert_eq!(asked.take().await, pages(&["a"]));
    }

    #[tokio::test]
    async fn a_page_asked_for_while_the_loop_waits_wakes_it() {
        let asked = std::sync::Arc::new(Asked::default());
        let taker = tokio::spawn({
            let asked = asked.clone();
            async move { asked.take().await }
        });
        tokio::task::yield_now().await;
        asked.ask(pages(&["a"]));
        let taken = tokio::time::timeout(Duration::from_secs(5), taker).await;
        assert_eq!(taken.unwrap().unwrap(), pages(&["a"]));
    }

    #[test]
    fn waiting_means_every_page_asked_for() {
        let asked = Asked::default();
        asked.ask(pages(&["a"]));
        assert!(asked.waiting(["a"].into_iter()));
        assert!(!asked.waiting(["a", "b"].into_iter()));
        assert!(!asked.all_waiting());
        asked.ask_all();
        assert!(asked.waiting(["a", "b"].into_iter()));
        assert!(asked.all_waiting());
    }

    /// The loop syncs every page when it takes none: every page asked for wins over
    /// some, before or after them, and is taken once.
    #[tokio::test]
    async fn every_page_asked_for_is_taken_as_none_and_covers_the_pages_asked_too() {
        let asked = Asked::default();
        asked.ask(pages(&["a"]));
        asked.ask_all();
        asked.ask(pages(&["b"]));
        assert_eq!(asked.take().await, Vec::<String>::new());
        assert!(!asked.all_waiting());
        assert!(
            !asked.waiting(["b"].into_iter()),
            "covered by the sync of all"
        );
        let next = tokio::time::timeout(Duration::from_millis(10), asked.take()).await;
        assert!(next.is_err(), "nothing more was asked: {next:?}");
    }

    #[test]
    fn one_compare_per_project_at_a_time_until_it_ends() {
        let asked = Asked::default();
        let first = asked.compare("Acme/Roadmap");
        assert!(first.is_some());
        assert!(asked.compare("acme/roadmap").is_none(), "paths ignore case");
        assert!(asked.compare("acme/other").is_some(), "and its guard ends");
        drop(first);
        assert!(asked.compare("acme/roadmap").is_some());
    }
}
