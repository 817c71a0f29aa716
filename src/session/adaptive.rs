//! Adaptive seeds (`seeds: { min, max, until: decisive }`): after each round, an arm whose
//! claim is still INCONCLUSIVE and may use more seeds gets a round of `step` more. Shared by
//! the local pool and the Slurm executor.

use crate::audit::{self, Verdict};
use crate::runner::{self, PlannedRun, SeedCounts};
use crate::spec::Spec;

use super::spec_records;

/// Grows `counts` for every arm that needs another round; false when no arm grew.
pub fn next_round(
    specs: &[Spec],
    runs: &[PlannedRun],
    quick: bool,
    step: u32,
    counts: &mut SeedCounts,
) -> bool {
    let records = runner::load_records(runs);
    let mut grew = false;
    for spec in specs.iter().filter(|s| s.seeds(quick).max.is_some()) {
        let seeds = spec.seeds(quick);
        let results = audit::arm_results(spec, &spec_records(spec, runs, &records));
        for r in &results {
            let n = r.planned as u32;
            if r.verdict == Some(Verdict::Inconclusive) && n < seeds.limit() {
                counts.insert(
                    (spec.id.clone(), r.arm_id.clone()),
                    (n + step).min(seeds.limit()),
                );
                grew = true;
            }
        }
    }
    grew
}
