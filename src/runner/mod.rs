//! Planning and executing runs.
//!
//! - [`plan`] expands specs into runs (arm × seed) with content-addressed keys ([`run_key`]).
//! - [`execute_local`] trains the pending ones in a pool of `repro worker` processes.
//! - [`worker`] is what one such process does for one run directory.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::data::{self, DataError, FileDigest};
use crate::device::{DeviceError, DeviceKind};
use crate::numerics::{self, Mode, Numerics};
use crate::provenance;
use crate::record::{Record, RunConfig};
use crate::spec::{ResolvedArm, Spec};
use crate::store::{self, RunDir, Store, StoreError};

mod local;
mod queue;
pub mod slurm;
mod stacked;
#[cfg(torch)]
mod worker;
#[cfg(torch)]
pub use worker::worker;
#[cfg(torch)]
pub(crate) use worker::{hold, record_of, Held};

pub use local::{execute_local, Finished, LocalOptions, RunResult};
pub use stacked::grouped as stacked_grouped;
pub use stacked::groups;
#[cfg(torch)]
pub use stacked::worker_stacked;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("cannot start worker `{exe}`: {source}")]
    Spawn {
        exe: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("slurm: {0}")]
    Slurm(String),
    #[error("{0}: done, or locked by another live process")]
    Held(PathBuf),
    #[error(
        "{dir}: planned for numerics class `{planned}`, but this process computes with `{mine}` \
         (a different kind of machine?); plan it on a machine like the workers', or use \
         `numerics: portable` / `--portable`"
    )]
    NumericsMismatch {
        dir: PathBuf,
        planned: String,
        mine: String,
    },
    #[error(
        "{dir}: planned by a repro built from code {planned:.12}, but this binary is code {mine:.12} \
         (rebuilt since planning?); plan it again with this binary (`repro run` resubmits it)"
    )]
    CodeMismatch {
        dir: PathBuf,
        planned: String,
        mine: String,
    },
}

/// The binary a pool or a Slurm task runs `worker` with: this one, or beside the `repro` front
/// (which has no libtorch) the torch binary, `repro-torch`.
pub fn worker_exe() -> Result<PathBuf, RunError> {
    #[cfg(torch)]
    let exe = std::env::current_exe();
    #[cfg(not(torch))]
    let exe = Ok::<_, std::io::Error>(crate::front::torch_binary());
    exe.map_err(|source| RunError::Spawn {
        exe: PathBuf::from("repro"),
        source,
    })
}

/// Exit status of a worker that found its run done or locked by another process.
pub const EXIT_HELD: i32 = 3;

/// sha256 over the canonical resolved arm, seed, dataset digests, the binary's code digest,
/// libtorch version, device kind and numerics class: the same key means the same computation.
pub fn run_key(
    arm: &ResolvedArm,
    seed: i64,
    data: &[FileDigest],
    code: &str,
    libtorch: &str,
    device: DeviceKind,
    numerics: &Numerics,
) -> String {
    KeyMaterial::new(arm, data, code, libtorch, device, numerics).key(seed)
}

/// What [`run_key`] hashes but the seed, serialised once for all of an arm's seeds (planning
/// 10,000 runs serialised each arm 10,000 times). The hashed text is the compact JSON object
/// of `arm`, `code`, `data`, `device`, `libtorch`, `numerics` and `seed`, keys sorted, so
/// `seed` comes last and is appended.
struct KeyMaterial(String);

impl KeyMaterial {
    fn new(
        arm: &ResolvedArm,
        data: &[FileDigest],
        code: &str,
        libtorch: &str,
        device: DeviceKind,
        numerics: &Numerics,
    ) -> KeyMaterial {
        let mut text = serde_json::json!({
            "arm": serde_json::to_value(arm).unwrap_or_default(),
            "data": data,
            "code": code,
            "libtorch": libtorch,
            "device": device.name(),
            "numerics": numerics,
        })
        .to_string();
        text.pop(); // the closing brace; `seed` follows
        KeyMaterial(text)
    }

    fn key(&self, seed: i64) -> String {
        self.key_in(seed, None)
    }

    /// The key of `seed` trained in `group` (`RunConfig::stack_group`): `stack_group` follows
    /// `seed` in the hashed object, keys still sorted; without a group, [`KeyMaterial::key`].
    fn key_in(&self, seed: i64, group: Option<&[i64]>) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.0.as_bytes());
        hasher.update(format!(",\"seed\":{seed}").as_bytes());
        if let Some(g) = group {
            let list: Vec<String> = g.iter().map(i64::to_string).collect();
            hasher.update(format!(",\"stack_group\":[{}]", list.join(",")).as_bytes());
        }
        hasher.update(b"}");
        hex::encode(hasher.finalize())
    }
}

#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub spec_id: String,
    pub arm_id: String,
    /// The arm's id as written in the spec, and the sweep point (empty without a sweep).
    pub arm_base: String,
    pub point: Vec<crate::spec::SweepValue>,
    pub seed: i64,
    pub dir: RunDir,
    pub config: RunConfig,
    pub done: bool,
    /// The arm's `seeds.stack`: the local pool trains up to this many of its pending runs in
    /// one worker, as one stacked model (1: each alone). Not in the key, except as the group
    /// where stacking moves bits (`config.stack_group`).
    pub stack: u32,
}

/// Seeds per arm beyond the spec's own count, for adaptive seeding: `(spec id, arm id) → n`.
pub type SeedCounts = std::collections::HashMap<(String, String), u32>;

/// Expands `specs` into runs; datasets are verified first, so nothing starts on bad data.
///
/// An arm trains the spec's seed count, or `counts`' entry for it; under adaptive seeding at
/// least as many as the store already holds from the base seed on, so a report sees them all.
pub fn plan(
    specs: &[Spec],
    quick: bool,
    portable: bool,
    store: &Store,
    device: DeviceKind,
    data_dir: &Path,
    counts: &SeedCounts,
) -> Result<Vec<PlannedRun>, RunError> {
    let libtorch = provenance::torch_version();
    let fingerprint = provenance::code_digest().to_string();
    let classes = [Mode::Native, Mode::Portable].map(|m| numerics::planned(m, device));
    let mut runs = Vec::new();
    // Each dataset is verified once, before any of its runs is planned (a name may stand for
    // other files in another spec's own declaration).
    let mut verified: Vec<(&str, Option<&data::UserDataset>, Vec<data::FileDigest>)> = Vec::new();
    // Datasets loaded to try TorchScript modules on (only arms that have one load theirs).
    #[cfg(torch)]
    let mut loaded = data::DatasetCache::default();
    for spec in specs {
        let mode = if portable {
            Mode::Portable
        } else {
            spec.numerics
        };
        let numerics = &classes[mode as usize];
        let seeds = spec.seeds(quick);
        for arm in &spec.arms {
            // An arm that needs another device (`requires:`) is reported, not planned.
            if arm.requires.as_ref().is_some_and(|r| !r.met_by(device)) {
                continue;
            }
            let resolved = arm.resolved(quick);
            let user = spec.user_dataset(&resolved.dataset);
            let digests = match verified
                .iter()
                .find(|(name, u, _)| *name == resolved.dataset && *u == user)
            {
                Some((_, _, d)) => d.clone(),
                None => {
                    let d = data::verify_named(&resolved.dataset, user, data_dir)?;
                    verified.push((&resolved.dataset, user, d.clone()));
                    d
                }
            };
            // A team's module is loaded and run on a real batch before any run is planned.
            // (The front hands a spec with a TorchScript arm to `repro-torch` before planning.)
            #[cfg(torch)]
            if matches!(resolved.model, crate::spec::ModelSpec::Torchscript { .. }) {
                let ds = loaded.get(&resolved.dataset, user, data_dir)?;
                crate::train::probe(resolved, ds, seeds.seed(&arm.base, 0)).map_err(|e| {
                    RunError::Config {
                        path: spec.path.clone(),
                        message: format!("arm `{}`: {e}", arm.id),
                    }
                })?;
            }
            let material = KeyMaterial::new(
                resolved,
                &digests,
                &fingerprint,
                &libtorch,
                device,
                numerics,
            );
            let arm_sha256 = resolved.sha256();
            let stack = seeds.stack.unwrap_or(1);
            // Stacked where that moves bits: each run's key names its group.
            let grouped = stack > 1 && stacked::grouped(&resolved.model, device, mode);
            // Seed index i's group: the `stack` seeds at indices [i - i % stack, … + stack),
            // whatever the count (a group the count stops inside is trained whole all the same),
            // so raising the count, or adaptive seeding adding seeds, keeps every key.
            let group_of = |i: u32| -> Option<Vec<i64>> {
                grouped.then(|| {
                    let start = i - i % stack;
                    (start..start + stack)
                        .map(|j| seeds.seed(&arm.base, j))
                        .collect()
                })
            };
            let make = |seed: i64, group: Option<&[i64]>| {
                let mut numerics = numerics.clone();
                let mut key = material.key_in(seed, group);
                // A planner that cannot see the device (a CUDA store read on a machine without
                // one) takes the class of the results the store already holds for this run.
                if numerics.class == numerics::UNOBSERVED {
                    if let Some(found) = stored_class(store, &spec.id, &arm.id, |class| {
                        let n = Numerics {
                            mode: numerics.mode,
                            class: class.to_string(),
                        };
                        KeyMaterial::new(resolved, &digests, &fingerprint, &libtorch, device, &n)
                            .key_in(seed, group)
                    }) {
                        (key, numerics) = found;
                    }
                }
                let dir = store.run_dir(&spec.id, &arm.id, &key);
                PlannedRun {
                    spec_id: spec.id.clone(),
                    arm_id: arm.id.clone(),
                    arm_base: arm.base.clone(),
                    point: arm.point.clone(),
                    seed,
                    done: dir.is_done(),
                    stack,
                    dir,
                    config: RunConfig {
                        key,
                        spec_path: spec.path.clone(),
                        spec_sha256: spec.file_sha256.clone(),
                        arm: resolved.clone(),
                        arm_sha256: arm_sha256.clone(),
                        seed,
                        quick,
                        data: digests.clone(),
                        dataset: user.cloned(),
                        code: fingerprint.clone(),
                        libtorch: libtorch.clone(),
                        device,
                        numerics,
                        module: RunConfig::module_of(resolved),
                        stack_group: group.map(<[i64]>::to_vec),
                    },
                }
            };
            let mut n = counts
                .get(&(spec.id.clone(), arm.id.clone()))
                .copied()
                .unwrap_or(seeds.count);
            if seeds.max.is_some() {
                while n < seeds.limit()
                    && make(seeds.seed(&arm.base, n), group_of(n).as_deref()).done
                {
                    n += 1;
                }
            }
            let list: Vec<i64> = (0..n.min(seeds.limit()))
                .map(|i| seeds.seed(&arm.base, i))
                .collect();
            let mut sorted = list.clone();
            sorted.sort_unstable();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                return Err(RunError::Config {
                    path: spec.path.clone(),
                    message: format!("arm `{}` derives seed {} twice", arm.id, w[0]),
                });
            }
            runs.extend(
                list.into_iter()
                    .enumerate()
                    .map(|(i, s)| make(s, group_of(i as u32).as_deref())),
            );
        }
    }
    Ok(runs)
}

/// Among the runs stored for `spec_id`/`arm_id`, one whose key is `key_for(its class)`: the
/// same computation on a device this planner cannot observe. Finished runs win over
/// unfinished ones; among finished ones, the first class in sorted order.
fn stored_class(
    store: &Store,
    spec_id: &str,
    arm_id: &str,
    key_for: impl Fn(&str) -> String,
) -> Option<(String, Numerics)> {
    let arm_dir = store.root().join(spec_id).join(arm_id);
    let mut found: Vec<(bool, String, Numerics)> = Vec::new();
    for entry in std::fs::read_dir(&arm_dir).ok()?.flatten() {
        let dir = RunDir::from_path(&entry.path());
        let Ok(config) = dir.read_json::<RunConfig>(store::CONFIG) else {
            continue;
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        if config.numerics.class != numerics::UNOBSERVED
            && key_for(&config.numerics.class) == name
            && config.key == name
        {
            found.push((
                !dir.is_done(),
                config.numerics.class.clone(),
                config.numerics,
            ));
        }
    }
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    found
        .into_iter()
        .next()
        .map(|(_, _, n)| (key_for(&n.class), n))
}

/// A TorchScript arm's module file must still be the one planned: its path goes back into the
/// resolved model (the key holds only its sha256), and a file changed since planning is an
/// error naming it.
#[cfg(torch)]
pub(super) fn check_module(config: &mut RunConfig) -> Result<(), RunError> {
    let crate::spec::ModelSpec::Torchscript { path, sha256, .. } = &mut config.arm.model else {
        return Ok(());
    };
    let Some(module) = &config.module else {
        return Err(RunError::Config {
            path: config.spec_path.clone(),
            message: "a torchscript arm planned without its module file".into(),
        });
    };
    let now = match std::fs::read(&module.path) {
        Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
        Err(e) => {
            return Err(RunError::Config {
                path: module.path.clone(),
                message: format!("cannot read the TorchScript module: {e}"),
            })
        }
    };
    if now != *sha256 {
        return Err(RunError::Config {
            path: module.path.clone(),
            message: format!(
                "the TorchScript module changed since the run was planned (sha256 {now:.12}, \
                 planned {sha256:.12}); plan it again"
            ),
        });
    }
    *path = module.path.clone();
    Ok(())
}

/// Where a planned run stands in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Done,
    /// Finished, but training diverged.
    Diverged,
    /// Finished, but its test embeddings collapsed (`Status::Collapsed`).
    Collapsed,
    /// `DONE`, but its record cannot be read.
    Unreadable,
    /// Locked by a live worker.
    Running,
    Missing,
}

impl RunState {
    pub fn name(self) -> &'static str {
        match self {
            RunState::Done => "done",
            RunState::Diverged => "diverged",
            RunState::Collapsed => "collapsed",
            RunState::Unreadable => "unreadable",
            RunState::Running => "running",
            RunState::Missing => "missing",
        }
    }
}

pub fn state(run: &PlannedRun) -> RunState {
    if run.dir.is_done() {
        match run.dir.read_json::<Record>(store::RECORD) {
            Ok(r) if matches!(r.status, crate::train::Status::Collapsed { .. }) => {
                RunState::Collapsed
            }
            Ok(r) if r.metrics.is_some() => RunState::Done,
            Ok(_) => RunState::Diverged,
            Err(_) => RunState::Unreadable,
        }
    } else if run.dir.holder() != store::Holder::Nobody {
        RunState::Running
    } else {
        RunState::Missing
    }
}

/// Loads the finished record of each planned run, in plan order; `None` where not done.
pub fn load_records(runs: &[PlannedRun]) -> Vec<Option<Record>> {
    runs.iter()
        .map(|r| {
            r.dir
                .is_done()
                .then(|| r.dir.read_json::<Record>(store::RECORD).ok())
                .flatten()
        })
        .collect()
}

/// How a worker process runs: CUDA ordinal, and whether it prints progress lines. (Its CPU
/// threads come from the run's config: they are part of the key.)
#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    pub gpu: usize,
    pub progress: bool,
}
