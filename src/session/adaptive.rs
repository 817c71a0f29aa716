//! Adaptive seeds (`seeds: { min, max, until: decisive }`): after each round, an arm whose
//! verdict is not yet decisive (TOO FEW SEEDS, INCONCLUSIVE, REPRODUCED OR BETTER) and may use
//! more seeds gets a round of `step` more. Each look's interval is at the Bonferroni-corrected
//! level of [`audit::seeds_level`], so stopping at the first decisive look keeps the overall
//! error at 5%. Quick runs get no verdict and so no further rounds. Shared by the local pool and
//! the Slurm executor.

use crate::audit;
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
        let results = audit::arm_results(spec, &spec_records(spec, runs, &records), quick);
        for r in &results {
            let n = r.planned as u32;
            if r.verdict.is_some_and(|v| !v.is_decisive()) && n < seeds.limit() {
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
