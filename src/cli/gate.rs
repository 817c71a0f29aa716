//! `repro bless` and `repro check`: the regression gate.

use crate::session::gate::regressions;
use crate::session::Session;

use super::ui::Terminal;
use super::{Failure, GateArgs};

pub fn bless(session: &Session, gate: &GateArgs) -> Result<(), Failure> {
    Ok(session.bless(&gate.blessed, gate.tolerance, &Terminal::default())?)
}

pub fn check(session: &Session, gate: &GateArgs, jobs: Option<usize>) -> Result<(), Failure> {
    let results = session.check(&gate.blessed, jobs, &Terminal::default())?;
    for r in &results {
        let g = &r.gate;
        let verdict = if g.regression { "REGRESSION" } else { "ok" };
        println!("{verdict:<10} {}/{}: {}", r.spec_id, g.arm_id, g.reason);
        if g.same_fingerprint {
            for (seed, old, new) in &g.changed {
                println!("           seed {seed}: {old} -> {new} (same configuration, data, libtorch and device)");
            }
        }
    }
    Ok(regressions(&results)?)
}
