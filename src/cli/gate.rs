//! `repro bless` and `repro check`: the regression gate.

use std::path::{Path, PathBuf};

use crate::audit::{Outcome, CONFIDENCE, NOISE_SDS};
use crate::report::junit;
use crate::session::gate::regressions;
use crate::session::Session;

use super::ui::Terminal;
use super::{Failure, GateArgs};

#[cfg(torch)]
pub fn bless(session: &Session, gate: &GateArgs) -> Result<(), Failure> {
    Ok(session.bless(&gate.blessed, gate.tolerance, &Terminal::default())?)
}

/// `repro check --junit FILE --summary FILE`: where to write the result for CI as well.
pub struct CheckOutputs {
    pub junit: Option<PathBuf>,
    pub summary: Option<PathBuf>,
}

/// Writes `text` to `path` (its directory created), an error naming the path.
fn write_output(path: &Path, text: &str) -> Result<(), Failure> {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text)
    };
    write().map_err(|e| Failure::failed(format!("{}: cannot write: {e}", path.display())))
}

pub fn check(
    session: &Session,
    gate: &GateArgs,
    jobs: Option<usize>,
    outputs: &CheckOutputs,
) -> Result<(), Failure> {
    let results = session.check(&gate.blessed, jobs, &Terminal::default())?;
    if let Some(path) = &outputs.junit {
        write_output(path, &junit::junit(&results))?;
    }
    if let Some(path) = &outputs.summary {
        write_output(path, &junit::summary(&results))?;
    }
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
