//! `repro sanity` (and the checks of `repro run --sanity`): prints each arm's checks, PASS /
//! WARN / FAIL / SKIP with the reason and the advice; exit 1 when one fails.

use crate::sanity::ArmSanity;
use crate::session::Session;

use super::Failure;

pub fn sanity(session: &Session, arm: Option<&str>, verbose: bool) -> Result<(), Failure> {
    let checked = session.sanity(arm, |a| print_arm(a, verbose))?;
    let failed: Vec<&str> = checked
        .iter()
        .filter(|a| a.failed())
        .map(|a| a.arm_id.as_str())
        .collect();
    if failed.is_empty() {
        println!("sanity: all {} arm(s) pass", checked.len());
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "sanity checks failed for {}",
            failed.join(", ")
        )))
    }
}

/// `repro run --sanity`: the checks of the arms to train; an error (nothing trained) on FAIL.
pub fn before_run(session: &Session) -> Result<(), Failure> {
    session.sanity_before_training(|a| print_arm(a, false))?;
    Ok(())
}

/// One arm's checks with the data sample; every check's details (the per-layer gradient
/// norms) with `verbose`.
pub fn print_arm(a: &ArmSanity, verbose: bool) {
    println!("{}/{}", a.spec_id, a.arm_id);
    for c in &a.checks {
        println!("  {:<4} {}: {}", c.outcome.label(), c.name, c.reason);
        if !c.advice.is_empty() {
            println!("       advice: {}", c.advice);
        }
        if verbose || c.name == crate::sanity::sample::NAME {
            for d in &c.details {
                println!("       {d}");
            }
        }
    }
}
