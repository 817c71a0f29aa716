//! Which pending run the local pool starts next: the longest first.
//!
//! A pool that starts runs in plan order ends with the spec's last arm, often its longest (the
//! strong LSTM baseline after the paper's small models): one core trains it while the others
//! idle. Starting the longest runs first (Graham's longest-processing-time rule) packs the same
//! work into less wall time. Nothing is known about an arm's runs until one of them has run, so
//! the queue learns as it goes:
//!
//! 1. an arm with no estimate and no run in flight comes first, in plan order (its first run
//!    measures it, and an arm that turns out long has started early);
//! 2. then the group with the largest estimate: the arm's mean seconds per finished run (the
//!    runs already in the store count, whatever code version trained them), at least as long as
//!    the oldest run of that arm still in flight, times the runs in the group (stacked seeds).
//!
//! Ties keep plan order. The order changes what finishes when, never what a run computes.

use std::collections::HashMap;

/// One pending group (a run, or the stacked seeds one worker trains together) as the queue
/// sees it: its arm and how many runs it trains (a keyed stacked group: all its copies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub spec: String,
    pub arm: String,
    pub runs: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct Seconds {
    sum: f64,
    n: u32,
}

#[derive(Debug, Default)]
pub struct Queue {
    /// The pending items, in plan order; `None` once started.
    items: Vec<Option<Item>>,
    /// Seconds per run of each `(spec, arm)` seen finish.
    seen: HashMap<(String, String), Seconds>,
}

impl Queue {
    pub fn new(items: Vec<Item>) -> Queue {
        Queue {
            items: items.into_iter().map(Some).collect(),
            seen: HashMap::new(),
        }
    }

    /// Records that one run of `spec`/`arm` took `seconds` (a finished run, here or earlier).
    pub fn observe(&mut self, spec: &str, arm: &str, seconds: f64) {
        if !seconds.is_finite() || seconds < 0.0 {
            return;
        }
        let s = self
            .seen
            .entry((spec.to_string(), arm.to_string()))
            .or_default();
        s.sum += seconds;
        s.n += 1;
    }

    /// The index (in the order given to [`Queue::new`]) of the item to start next, taken out of
    /// the queue; `running` holds the arm and elapsed seconds of every run in flight.
    pub fn next(&mut self, running: &[(&str, &str, f64)]) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for (i, item) in self.items.iter().enumerate() {
            let Some(item) = item else { continue };
            let mean = self
                .seen
                .get(&(item.spec.clone(), item.arm.clone()))
                .map(|s| s.sum / f64::from(s.n));
            let in_flight = running
                .iter()
                .filter(|(s, a, _)| *s == item.spec && *a == item.arm)
                .map(|r| r.2)
                .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))));
            let estimate = match (mean, in_flight) {
                // Never seen and not running: measure it now.
                (None, None) => {
                    best = Some((i, f64::INFINITY));
                    break;
                }
                (m, f) => m.unwrap_or(0.0).max(f.unwrap_or(0.0)) * item.runs as f64,
            };
            if best.is_none_or(|(_, b)| estimate > b) {
                best = Some((i, estimate));
            }
        }
        let (i, _) = best?;
        self.items[i] = None;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(arms: &[(&str, usize)]) -> Vec<Item> {
        arms.iter()
            .map(|(a, runs)| Item {
                spec: "s".into(),
                arm: a.to_string(),
                runs: *runs,
            })
            .collect()
    }

    /// Simulates a pool of `jobs` workers over runs whose true seconds come from `cost`,
    /// returning the order runs started in and the wall time.
    fn simulate(
        arms: &[&str],
        seeds: usize,
        jobs: usize,
        cost: impl Fn(&str) -> f64,
    ) -> (Vec<String>, f64) {
        let plan: Vec<(&str, usize)> = arms
            .iter()
            .flat_map(|a| std::iter::repeat_n((*a, 1), seeds))
            .collect();
        let mut q = Queue::new(items(&plan));
        let mut started = Vec::new();
        let mut active: Vec<(usize, f64)> = Vec::new(); // (item, start time)
        let mut now = 0.0;
        loop {
            while active.len() < jobs {
                let running: Vec<(&str, &str, f64)> = active
                    .iter()
                    .map(|&(i, t0)| ("s", plan[i].0, now - t0))
                    .collect();
                let Some(i) = q.next(&running) else { break };
                started.push(plan[i].0.to_string());
                active.push((i, now));
            }
            if active.is_empty() {
                return (started, now);
            }
            // The run that ends first.
            let (k, end) = active
                .iter()
                .enumerate()
                .map(|(k, &(i, t0))| (k, t0 + cost(plan[i].0)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            now = end;
            let (i, t0) = active.swap_remove(k);
            q.observe("s", plan[i].0, now - t0);
        }
    }

    /// MNIST-1D's default audit as measured on 2 cores (seconds per run), 5 seeds per arm: in
    /// plan order the pool ends on the tuned LSTM's last seed alone; longest-first does not.
    #[test]
    fn the_long_arm_at_the_end_of_the_plan_starts_early() {
        let cost = |a: &str| match a {
            "logistic" => 0.8,
            "mlp" => 4.4,
            "cnn" => 20.7,
            "gru" => 58.0,
            "lstm" => 90.0,
            _ => unreachable!(),
        };
        let arms = ["logistic", "mlp", "cnn", "gru", "lstm"];
        let (order, wall) = simulate(&arms, 5, 2, cost);
        let total: f64 = arms.iter().map(|a| 5.0 * cost(a)).sum();
        // Plan order: the last LSTM seed runs alone after the others.
        let plan_order = {
            let mut free = [0.0f64; 2];
            for a in arms {
                for _ in 0..5 {
                    let k = if free[0] <= free[1] { 0 } else { 1 };
                    free[k] += cost(a);
                }
            }
            free[0].max(free[1])
        };
        assert!(
            plan_order > total / 2.0 + 20.0,
            "plan order {plan_order} vs {total}"
        );
        assert!(
            wall < total / 2.0 + 5.0,
            "longest-first took {wall} of ideal {}",
            total / 2.0
        );
        // Each arm is measured once first, in plan order; the smallest runs fill the end.
        assert_eq!(&order[..5], &arms.map(String::from));
        assert!(
            order[20..].iter().all(|a| a == "logistic" || a == "mlp"),
            "{order:?}"
        );
        eprintln!(
            "plan order {plan_order:.1} s, longest first {wall:.1} s, ideal {:.1} s",
            total / 2.0
        );
    }

    #[test]
    fn a_run_in_flight_bounds_its_arm_from_below() {
        let mut q = Queue::new(items(&[
            ("short", 1),
            ("long", 1),
            ("long", 1),
            ("short", 1),
        ]));
        q.observe("s", "short", 5.0);
        // `long` has one run in flight for 30 s already: it beats `short`'s 5 s.
        assert_eq!(q.next(&[("s", "long", 30.0)]), Some(1));
        assert_eq!(q.next(&[("s", "long", 30.0)]), Some(2));
        assert_eq!(q.next(&[]), Some(0));
        assert_eq!(q.next(&[]), Some(3));
        assert_eq!(q.next(&[]), None);
    }

    #[test]
    fn history_orders_a_resumed_pool_and_groups_weigh_by_their_runs() {
        let mut q = Queue::new(items(&[("a", 1), ("b", 1), ("c", 4)]));
        q.observe("s", "a", 10.0);
        q.observe("s", "a", 30.0);
        q.observe("s", "b", 25.0);
        q.observe("s", "c", 8.0);
        q.observe("s", "c", f64::NAN); // ignored
                                       // c: 4 stacked runs × 8 s = 32 > b 25 > a's mean 20.
        assert_eq!(q.next(&[]), Some(2));
        assert_eq!(q.next(&[]), Some(1));
        assert_eq!(q.next(&[]), Some(0));
    }
}
