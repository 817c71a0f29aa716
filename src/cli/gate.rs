//! `repro bless` and `repro check`: the regression gate.

use crate::audit::{Outcome, CONFIDENCE, NOISE_SDS};
use crate::session::gate::regressions;
use crate::session::Session;

use super::ui::Terminal;
use super::{Failure, GateArgs};

pub fn bless(session: &Session, gate: &GateArgs) -> Result<(), Failure> {
    Ok(session.bless(&gate.blessed, gate.tolerance, &Terminal::default())?)
}

pub fn check(session: &Session, gate: &GateArgs, jobs: Option<usize>) -> Result<(), Failure> {
    let results = session.check(&gate.blessed, jobs, &Terminal::default())?;
    println!(
        "gate: an arm fails when the one-sided {:.0}% worst case of its change (paired by seed, \
         else Welch) is worse than the blessed mean by more than max(gate tolerance, {NOISE_SDS} × \
         blessed sd, resolution); a diverged seed fails; fewer than 3 seeds or a missing blessed \
         seed cannot be decided and fails",
        CONFIDENCE * 100.0
    );
    for r in &results {
        let g = &r.gate;
        println!(
            "{:<10} {}/{}: {}",
            g.outcome.label(),
            r.spec_id,
            g.arm_id,
            g.reason
        );
        if g.same_fingerprint && g.outcome != Outcome::Identical {
            for (seed, old, new) in &g.changed {
                println!("           seed {seed}: {old} -> {new} (same configuration, data, libtorch and device)");
            }
        }
        if let (Some(now), Some(m)) = (r.spec_tolerance, g.margin) {
            println!(
                "           the spec's gate tolerance is now {now}, blessed with {}: `repro bless` to use it",
                m.tolerance
            );
        }
    }
    Ok(regressions(&results)?)
}
