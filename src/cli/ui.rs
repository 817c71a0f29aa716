//! How the CLI shows a session: every [`Event`] as a line on standard error (above the progress
//! bars while they are drawn), and the per-spec audit tables on standard output.

use std::cell::{Cell, RefCell};

use crate::audit::audit_spec;
use crate::progress::Progress;
use crate::record::Record;
use crate::report;
use crate::runner::{PlannedRun, RunResult};
#[cfg(torch)]
use crate::session::determinism::Agreement;
use crate::session::{spec_records, Event, Observer, Session};
use crate::train::{Metrics, Status};

use super::Failure;

/// The terminal observer: remembers the progress display of the round in flight so that run
/// lines print above its bars.
#[derive(Default)]
pub struct Terminal {
    current: RefCell<Option<Progress>>,
    last_waiting: Cell<Option<usize>>,
}

impl Terminal {
    fn line(&self, text: &str) {
        match &*self.current.borrow() {
            Some(p) => p.line(text),
            None => eprintln!("{text}"),
        }
    }

    fn drawing(&self) -> bool {
        self.current
            .borrow()
            .as_ref()
            .is_some_and(Progress::is_drawing)
    }
}

impl Observer for Terminal {
    fn progress(&self, total: u64, label: &str) -> Progress {
        let p = Progress::new(total, label);
        *self.current.borrow_mut() = Some(p.clone());
        p
    }

    fn event(&self, event: Event<'_>) {
        match event {
            Event::Pool(pool) => {
                let gpu_note = if pool.gpus > 0 {
                    format!(", {} GPU(s) round-robin", pool.gpus)
                } else {
                    String::new()
                };
                eprintln!(
                    "{} runs planned, {} already done, {} to train ({} jobs × {} thread(s) each, from the specs{gpu_note}, store {})",
                    pool.planned,
                    pool.planned - pool.pending,
                    pool.pending,
                    pool.jobs,
                    pool.threads_per_job,
                    pool.store.display()
                );
            }
            Event::Finished { index, total, run } => {
                let head = format!(
                    "[{index:>3}/{total}] {}/{} seed {}",
                    run.run.spec_id, run.run.arm_id, run.run.seed
                );
                let text = match &run.result {
                    RunResult::Trained(r) => match (&r.metrics, &r.status) {
                        (_, Status::Collapsed { reason }) => {
                            format!("{head}: COLLAPSED {reason} ({:.1} s)", r.wall_time_s)
                        }
                        (Some(m), _) => format!(
                            "{head}: {} ({:.1} s)",
                            metrics_text(m),
                            r.wall_time_s
                        ),
                        (None, s) => format!("{head}: DIVERGED {s:?}"),
                    },
                    RunResult::Skipped => format!("{head}: skipped (another runner has it)"),
                    RunResult::Error(e) => format!("{head}: ERROR {e}"),
                };
                self.line(&text);
            }
            Event::Submitted {
                planned,
                done,
                submission: Some(sub),
                logs,
            } => eprintln!(
                "{planned} runs planned, {done} done: submitted Slurm job {} with {} array tasks\n  script {}\n  logs   {}",
                sub.job_id,
                sub.indices.len(),
                sub.script.display(),
                logs.display()
            ),
            Event::Submitted {
                planned,
                done,
                submission: None,
                ..
            } => eprintln!(
                "{planned} runs planned, {done} done: nothing to submit (the rest is running or queued)"
            ),
            Event::Waiting {
                finished,
                total,
                running,
            } => {
                if !self.drawing() && self.last_waiting.get() != Some(finished) {
                    eprintln!("{finished}/{total} runs finished, {running} running");
                    self.last_waiting.set(Some(finished));
                }
            }
            #[cfg(torch)]
            Event::DeterminismSetup {
                flags,
                threads,
                device,
                numerics,
            } => eprintln!(
                "determinism: {flags:?}, {threads} threads, device {device:?}, numerics {numerics}"
            ),
            #[cfg(torch)]
            Event::Determinism(d) => {
                let head = format!("{}/{} seed {}", d.spec_id, d.arm_id, d.seed);
                match &d.outcome {
                    Agreement::Identical => println!(
                        "{head}: identical ({} steps, weights sha256 {})",
                        d.steps,
                        &d.weights_sha256[..16]
                    ),
                    Agreement::WeightsDiffer => {
                        println!("{head}: losses agree but final weights differ")
                    }
                    Agreement::LossDiffers { step, a, b } => {
                        println!("{head}: DIFFERS from step {step}: loss {a} vs {b}")
                    }
                }
            }
            Event::Blessed {
                spec_id,
                path,
                diff,
            } => {
                for line in diff {
                    println!("{spec_id}/{line}");
                }
                eprintln!("blessed {}", path.display());
            }
        }
    }
}

/// Prints each spec's audit (claims table, findings, paired comparisons) from the store and,
/// with `out`, writes its Markdown, JSON and HTML report there.
pub fn print_audit(
    session: &Session,
    runs: &[PlannedRun],
    out: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let records: Vec<Option<Record>> = crate::runner::load_records(runs);
    for spec in &session.specs {
        let mine = spec_records(spec, runs, &records);
        let audit = audit_spec(spec, &mine, session.quick);
        println!(
            "{}",
            report::claims_table(spec, &audit.results, session.quick)
        );
        for f in &audit.findings {
            println!("{}", f.sentence);
        }
        for w in &audit.sweeps {
            println!("{}", w.sentence);
        }
        if !audit.comparisons.is_empty() {
            println!("\nPaired comparisons (b − a, on shared seeds)");
            println!("{}", report::comparisons_table(&audit.comparisons));
            for c in &audit.comparisons {
                println!("{}", c.sentence);
            }
        }
        for line in report::budget::tuning_lines(&audit.tuning, &audit.tuning_sentences) {
            println!("{line}");
        }
        println!(
            "{}",
            report::method_text(&audit.results, &audit.comparisons, session.quick)
        );
        if let Some(dir) = out {
            let written = report::bundle::write(dir, spec, &audit, &mine, session.quick)
                .map_err(|e| Failure::failed(e.to_string()))?;
            for path in written {
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}

/// A finished run's metrics on one line: accuracy and loss, then retrieval where measured.
fn metrics_text(m: &Metrics) -> String {
    let parts: Vec<String> = [
        ("accuracy", m.accuracy),
        ("loss", m.loss),
        ("P@1", m.precision_at_1),
        ("MAP@R", m.map_at_r),
    ]
    .iter()
    .filter_map(|(name, v)| v.map(|v| format!("{name} {v:.4}")))
    .collect();
    parts.join(", ")
}
