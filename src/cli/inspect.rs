//! Commands that read the store without training: `plan`, `status`, `report`.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use crate::runner::{self, RunState, SeedCounts};
use crate::session::Session;

use super::ui::print_audit;
use super::{Common, Failure};

pub fn plan(session: &Session) -> Result<(), Failure> {
    let runs = session.plan(&SeedCounts::new())?;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "index",
        "key",
        "spec",
        "arm",
        "sweep point",
        "seed",
        "state",
    ]);
    for (i, r) in runs.iter().enumerate() {
        let point: Vec<String> = r
            .point
            .iter()
            .map(|p| format!("{}={}", p.key, p.value))
            .collect();
        table.add_row(vec![
            i.to_string(),
            r.config.key[..16].to_string(),
            r.spec_id.clone(),
            r.arm_base.clone(),
            point.join(" "),
            r.seed.to_string(),
            runner::state(r).name().to_string(),
        ]);
    }
    println!("{table}");
    for spec in &session.specs {
        for arm in &spec.arms {
            if let Some(r) = arm.requires.as_ref().filter(|r| !r.met_by(session.device)) {
                println!(
                    "{}/{}: not planned on {} ({})",
                    spec.id,
                    arm.id,
                    session.device.name(),
                    r.text()
                );
            }
        }
    }
    let unobserved = runs
        .iter()
        .filter(|r| r.config.numerics.class == crate::numerics::UNOBSERVED)
        .count();
    if unobserved > 0 {
        eprintln!(
            "note: {unobserved} run(s) have no numerics class yet: this machine cannot see the \
             device and the store holds no result of theirs; their keys are fixed when `repro \
             run` plans them on a machine with the device"
        );
    }
    Ok(())
}

pub fn status(session: &Session) -> Result<(), Failure> {
    let runs = session.plan(&SeedCounts::new())?;
    let columns = [
        RunState::Done,
        RunState::Running,
        RunState::Diverged,
        RunState::Collapsed,
        RunState::Unreadable,
        RunState::Missing,
    ];
    let mut table = Table::new();
    let mut header = vec!["spec", "arm"];
    header.extend(columns.iter().map(|s| s.name()));
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for arm in session.arm_states(&runs) {
        let mut row = vec![arm.spec_id.clone(), arm.arm_id.clone()];
        row.extend(columns.iter().map(|&s| arm.count(s).to_string()));
        table.add_row(row);
    }
    println!("store {}\n{table}", session.store.root().display());
    Ok(())
}

pub fn report(session: &Session, common: &Common) -> Result<(), Failure> {
    let runs = session.plan(&SeedCounts::new())?;
    let done = runs.iter().filter(|r| r.done).count();
    if done < runs.len() {
        eprintln!(
            "{done} of {} planned runs are done in {} (keys include the code version: \
             run `repro run` to train the rest)",
            runs.len(),
            session.store.root().display()
        );
    }
    print_audit(session, &runs, common.out.as_deref())
}
