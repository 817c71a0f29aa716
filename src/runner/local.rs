//! The local pool: `repro worker` processes on this machine, a run each, their progress lines
//! feeding the bars and their standard error drained while they run.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::queue::{Item, Queue};
use super::{PlannedRun, RunError, EXIT_HELD};
use crate::record::Record;
use crate::store;

/// How much of a worker's standard error is kept for its error message (the end of it).
const STDERR_TAIL: usize = 16 * 1024;

/// Reads `from` to its end on a thread, keeping the last `keep` bytes (whole lines where it
/// can), and returns them trimmed, after a note of how much was left out. Memory stays bounded
/// however much a worker writes, and the writer never blocks on a full pipe.
pub fn drain(mut from: impl Read + Send + 'static, keep: usize) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut tail: Vec<u8> = Vec::new();
        let mut dropped = 0usize;
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    tail.extend_from_slice(&buf[..n]);
                    if tail.len() > 2 * keep {
                        let cut = tail.len() - keep;
                        dropped += cut;
                        tail.drain(..cut);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if tail.len() > keep {
            let cut = tail.len() - keep;
            dropped += cut;
            tail.drain(..cut);
        }
        let mut text = String::from_utf8_lossy(&tail).into_owned();
        if dropped > 0 {
            // Start at a line boundary when one is near.
            if let Some(i) = text.find('\n').filter(|&i| i < 200) {
                dropped += text[..=i].len();
                text = text[i + 1..].to_string();
            }
            text = format!("[{dropped} earlier bytes of standard error left out]\n{text}");
        }
        text.trim().to_string()
    })
}

pub struct LocalOptions {
    pub jobs: usize,
    pub data_dir: PathBuf,
    pub force: bool,
    /// CUDA devices to spread workers over (each worker gets the least busy one); 0 on CPU.
    pub gpus: usize,
}

/// A worker process in flight, training one run or a group of stacked ones.
struct Active {
    started: std::time::Instant,
    runs: Vec<PlannedRun>,
    child: std::process::Child,
    gpu: Option<usize>,
    bar: crate::progress::RunBar,
    reader: Option<std::thread::JoinHandle<()>>,
    /// The tail of the worker's standard error, read while it runs.
    errors: Option<std::thread::JoinHandle<String>>,
}

/// What happened to one planned run in this invocation.
pub struct Finished {
    pub run: PlannedRun,
    pub result: RunResult,
}

pub enum RunResult {
    Trained(Box<Record>),
    /// Another runner had locked it (or finished it) first: not trained here.
    Skipped,
    /// The worker process could not finish (its error, or its exit status).
    Error(String),
}

/// Trains every pending run in `runs` with up to `jobs` worker processes, calling
/// `on_finish` as each one ends. Runs already `DONE` are skipped unless `force`. The longest
/// runs start first ([`queue`](super::queue)); the order never changes what a run computes.
pub fn execute_local(
    runs: &[PlannedRun],
    opts: &LocalOptions,
    progress: &crate::progress::Progress,
    mut on_finish: impl FnMut(usize, usize, &Finished),
) -> Result<Vec<Finished>, RunError> {
    let exe = super::worker_exe()?;
    let pending: Vec<&PlannedRun> = runs.iter().filter(|r| opts.force || !r.done).collect();
    let total = pending.len();
    // Runs of an arm with `seeds.stack` go to one worker per group; the longest start first
    // (queue.rs), estimated from the arm's runs already in the store and those finished here.
    let mut groups: Vec<Option<Vec<&PlannedRun>>> =
        super::groups(&pending).into_iter().map(Some).collect();
    let mut queue = Queue::new(
        groups
            .iter()
            .flatten()
            .map(|g| Item {
                spec: g[0].spec_id.clone(),
                arm: g[0].arm_id.clone(),
                // A keyed group trains all its copies, however few of its runs are pending.
                runs: g[0].config.stack_group.as_ref().map_or(g.len(), Vec::len),
            })
            .collect(),
    );
    if !pending.is_empty() {
        for run in runs.iter().filter(|r| r.done) {
            if let Ok(r) = run.dir.read_json::<Record>(store::RECORD) {
                queue.observe(&run.spec_id, &run.arm_id, r.wall_time_s);
            }
        }
    }
    let mut active: Vec<Active> = Vec::new();
    let mut finished = Vec::new();
    loop {
        while active.len() < opts.jobs.max(1) {
            let running: Vec<(&str, &str, f64)> = active
                .iter()
                .map(|a| {
                    let r = &a.runs[0];
                    (
                        r.spec_id.as_str(),
                        r.arm_id.as_str(),
                        a.started.elapsed().as_secs_f64(),
                    )
                })
                .collect();
            let Some(group) = queue.next(&running).and_then(|i| groups[i].take()) else {
                break;
            };
            let run = group[0];
            let config = if group.len() == 1 {
                serde_json::to_vec(&run.config)
            } else {
                serde_json::to_vec(&group.iter().map(|r| &r.config).collect::<Vec<_>>())
            };
            let config = config.map_err(|e| RunError::Config {
                path: run.dir.path().join(store::CONFIG),
                message: e.to_string(),
            })?;
            // Round-robin by load: the GPU with the fewest workers on it (with `--jobs-per-gpu K`
            // each GPU ends up with K).
            let gpu = (opts.gpus > 0).then(|| {
                (0..opts.gpus)
                    .min_by_key(|g| active.iter().filter(|a| a.gpu == Some(*g)).count())
                    .unwrap_or(0)
            });
            let mut child = Command::new(&exe)
                .arg("worker")
                .arg(run.dir.path())
                .args(
                    group[1..]
                        .iter()
                        .flat_map(|r| [std::ffi::OsStr::new("--with"), r.dir.path().as_os_str()]),
                )
                .arg("--stdin-config")
                .arg("--progress")
                .args(opts.force.then_some("--force"))
                .arg("--gpu")
                .arg(gpu.unwrap_or(0).to_string())
                .env("REPRO_DATA", &opts.data_dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|source| RunError::Spawn {
                    exe: exe.clone(),
                    source,
                })?;
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write;
                // A worker that dies before reading reports through its exit status.
                let _ = stdin.write_all(&config);
            }
            let seeds: Vec<String> = group.iter().map(|r| r.seed.to_string()).collect();
            let bar = progress.run_bar(&format!(
                "{}/{} seed{} {}",
                run.spec_id,
                run.arm_id,
                if group.len() > 1 { "s" } else { "" },
                seeds.join(",")
            ));
            // Progress lines on the worker's stdout feed its bar; reading them also keeps the
            // pipe from filling up.
            let reader = child.stdout.take().map(|out| {
                let bar = bar.clone();
                std::thread::spawn(move || {
                    use std::io::BufRead;
                    for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                        if let Some((done, total, loss)) = crate::progress::parse_step(&line) {
                            bar.update(done, total, loss);
                        }
                    }
                })
            });
            // Standard error is read while the worker runs, or a chatty libtorch fills the pipe
            // and blocks the worker; its tail becomes the error message if the run fails.
            let errors = child.stderr.take().map(|e| drain(e, STDERR_TAIL));
            active.push(Active {
                started: std::time::Instant::now(),
                runs: group.into_iter().cloned().collect(),
                child,
                gpu,
                bar,
                reader,
                errors,
            });
        }
        if active.is_empty() {
            break;
        }
        // Poll: children finish in any order; a short sleep keeps this loop off the CPU.
        let mut i = 0;
        let mut any = false;
        while i < active.len() {
            let exited = active[i].child.try_wait().ok().flatten();
            if let Some(status) = exited {
                let Active {
                    started,
                    runs,
                    child,
                    bar,
                    reader,
                    errors,
                    ..
                } = active.swap_remove(i);
                let _ = child.wait_with_output();
                if let Some(r) = reader {
                    let _ = r.join();
                }
                let stderr = errors
                    .map(|e| e.join().unwrap_or_default())
                    .unwrap_or_default();
                bar.finish();
                let several = runs.len() > 1;
                if status.success() {
                    let each = started.elapsed().as_secs_f64() / runs.len() as f64;
                    queue.observe(&runs[0].spec_id, &runs[0].arm_id, each);
                }
                for run in runs {
                    let result = if status.code() == Some(EXIT_HELD) {
                        RunResult::Skipped
                    } else if status.success() && run.dir.is_done() {
                        match run.dir.read_json::<Record>(store::RECORD) {
                            Ok(r) => RunResult::Trained(Box::new(r)),
                            Err(e) => RunResult::Error(e.to_string()),
                        }
                    } else if status.success() && several {
                        // A stacked worker leaves a run another process holds to that one.
                        RunResult::Skipped
                    } else {
                        RunResult::Error(if stderr.is_empty() {
                            format!("worker exited with {status}")
                        } else {
                            stderr.clone()
                        })
                    };
                    let done = Finished { run, result };
                    progress.inc();
                    on_finish(finished.len() + 1, total, &done);
                    finished.push(done);
                }
                any = true;
            } else {
                i += 1;
            }
        }
        if !any {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker that writes far more than a pipe holds (64 KiB on Linux) before it exits: read
    /// only after the exit, it would block forever; drained, it ends, and the tail is bounded.
    #[test]
    fn a_chatty_child_is_drained_while_it_runs() {
        let mut child = Command::new("sh")
            .args([
                "-c",
                "i=0; while [ $i -lt 20000 ]; do echo \"warning line $i\" >&2; i=$((i+1)); done; \
                 echo last >&2",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let tail = drain(child.stderr.take().unwrap(), 1024);
        let start = std::time::Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "the child blocked on its full pipe"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let text = tail.join().unwrap();
        assert!(text.ends_with("warning line 19999\nlast"), "{text}");
        assert!(text.len() <= 1024 + 64, "{}", text.len());
        let note = text.lines().next().unwrap();
        assert!(
            note.starts_with('[') && note.ends_with("earlier bytes of standard error left out]")
        );
        let dropped: usize = note[1..].split(' ').next().unwrap().parse().unwrap();
        let total: usize = (0..20000)
            .map(|i| format!("warning line {i}\n").len())
            .sum::<usize>()
            + 5;
        let kept = text.len() - note.len() - 1;
        assert_eq!(
            dropped + kept + 1,
            total,
            "every byte is either kept or counted"
        );
    }

    #[test]
    fn a_quiet_child_keeps_all_of_it() {
        let mut child = Command::new("sh")
            .args(["-c", "echo one >&2; echo two >&2"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let tail = drain(child.stderr.take().unwrap(), 1024);
        child.wait().unwrap();
        assert_eq!(tail.join().unwrap(), "one\ntwo");
    }
}
