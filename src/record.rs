//! The two files every run directory holds, shared by the runner that writes them and the
//! audit, baseline table and reports that read them: `config.json` ([`RunConfig`]: what the
//! key was computed from) and `record.json` ([`Record`]: what the run measured).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::audit::curves::{self, Curve, Diagnosis};
use crate::data::FileDigest;
use crate::device::DeviceKind;
use crate::numerics::Numerics;
use crate::provenance::CodeIdentity;
use crate::spec::LossSpec;
use crate::spec::ResolvedArm;
use crate::train::{CurvePoint, Metrics, Status};

/// `config.json`: everything a worker needs, and everything the key was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub key: String,
    pub spec_path: PathBuf,
    pub spec_sha256: String,
    pub arm: ResolvedArm,
    pub arm_sha256: String,
    pub seed: i64,
    pub quick: bool,
    pub data: Vec<FileDigest>,
    /// The arm's dataset when it is declared by files (where they are, what they must hash
    /// to), so a worker on any node loads the same bytes; absent for catalogued datasets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<crate::data::UserDataset>,
    /// The code digest of the binary that planned it ([`crate::provenance::code_digest`]).
    pub code: String,
    pub libtorch: String,
    pub device: DeviceKind,
    /// The numerics mode and the class of the kernels the run must compute with.
    #[serde(default)]
    pub numerics: Numerics,
    /// `model.kind: torchscript`: the module file to load. Outside the key (its sha256 is in
    /// `arm`); the worker checks the file still has that digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<ModuleFile>,
    /// Stacked seeds whose stacked kernels may round otherwise than separate runs' (on a GPU,
    /// or a `cnn1d` with oneDNN's convolutions): the seeds trained together with this one, in
    /// order, this one among them: always `stack` seeds by index (those past the arm's count
    /// trained and not kept). Part of the key (the result is the group's), so a worker
    /// trains the whole group, whichever of its runs it writes. `None`: trained alone, or
    /// stacked where that changes no bit (then stacking is not in the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_group: Option<Vec<i64>>,
}

/// A TorchScript module file and its sha256, as planned (`config.json`) and as trained
/// (`provenance.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleFile {
    pub path: PathBuf,
    pub sha256: String,
}

impl RunConfig {
    /// The arm's module file, from its resolved model (`None` for a built-in model).
    pub fn module_of(arm: &ResolvedArm) -> Option<ModuleFile> {
        match &arm.model {
            crate::spec::ModelSpec::Torchscript { path, sha256, .. } => Some(ModuleFile {
                path: std::path::absolute(path).unwrap_or_else(|_| path.clone()),
                sha256: sha256.clone(),
            }),
            _ => None,
        }
    }
}

/// `record.json`: the result of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub key: String,
    pub spec_id: String,
    pub arm_id: String,
    pub seed: i64,
    pub quick: bool,
    /// The resolved arm that was trained (also in `config.json`).
    pub config: ResolvedArm,
    #[serde(flatten)]
    pub status: Status,
    pub metrics: Option<Metrics>,
    pub params: i64,
    pub steps: i64,
    /// The step whose weights were evaluated (the protocol's choice) and whether training
    /// stopped early.
    pub selected_step: i64,
    pub stopped_early: bool,
    /// Series in the training split after `data:` preprocessing, and their length.
    pub train_size: i64,
    /// Examples in the test split the metrics were measured on: the resolution of accuracy
    /// (records written before this field: unknown).
    #[serde(default)]
    pub test_size: Option<i64>,
    pub length: i64,
    /// Series in the dataset's whole test split: `test_size` is fewer only under
    /// `data.subset.test`, which flags every verdict (0: an older record).
    #[serde(default)]
    pub test_total: i64,
    /// The split the curve's eval columns come from (`val` or `test`).
    pub eval_split: String,
    /// Class names in label-index order.
    pub class_names: Vec<String>,
    pub wall_time_s: f64,
    /// CPU seconds (user + system, all threads) the worker spent on this run: its share of a
    /// stacked group's. Unlike `wall_time_s`, a paused worker, or one waiting for a core at one
    /// intra-op thread, does not inflate it (threads spinning in a parallel region do count);
    /// `None` for records written before this field. Not in the run key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time_s: Option<f64>,
    /// The worker process's peak resident memory in MiB (`VmHWM`; `None` off Linux and for
    /// records written before this field). Not in the run key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_mib: Option<f64>,
    pub weights_sha256: String,
    pub arm_sha256: String,
    pub spec_sha256: String,
    pub data: Vec<FileDigest>,
    pub code: CodeIdentity,
    pub libtorch: String,
    pub device: String,
    /// The numerics mode and class the run computed with (also in its key).
    #[serde(default)]
    pub numerics: Numerics,
    pub curve: Vec<CurvePoint>,
    /// What the curve says ([`crate::audit::curves::diagnose`]); not in the run key. Records
    /// written before this field get it computed from `curve` when read
    /// ([`Record::diagnosis`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve_diagnosis: Option<Diagnosis>,
}

impl Record {
    /// The stored curve diagnosis, or for an older record, the one its curve gives; a run
    /// whose embeddings collapsed is [`Diagnosis::Collapsed`] whatever was stored.
    pub fn diagnosis(&self) -> Diagnosis {
        if matches!(self.status, Status::Collapsed { .. }) {
            return Diagnosis::Collapsed;
        }
        self.curve_diagnosis.unwrap_or_else(|| {
            curves::diagnose(&curve_of(
                &self.config,
                &self.curve,
                self.class_names.len(),
                &self.status,
            ))
        })
    }

    /// `metric`'s value for the statistics: `None` when the run diverged or collapsed, or
    /// does not measure `metric` (never read as 0).
    pub fn value(&self, metric: crate::spec::Metric) -> Option<f64> {
        match self.status {
            Status::Ok => self.metrics.and_then(|m| m.get(metric)),
            Status::Diverged { .. } | Status::Collapsed { .. } => None,
        }
    }
}

/// `curve` of a run of `arm` on a dataset of `classes` classes, as the curve diagnosis reads
/// it: ln C is the chance loss of a cross-entropy classifier over all the dataset's classes.
pub fn curve_of<'a>(
    arm: &ResolvedArm,
    curve: &'a [CurvePoint],
    classes: usize,
    status: &Status,
) -> Curve<'a> {
    let classifier = arm.model.embedding_dim().is_none()
        && arm.train.loss == LossSpec::CrossEntropy
        && arm.data.classes.is_none()
        && classes >= 2;
    Curve {
        points: curve,
        chance_loss: classifier.then(|| (classes as f64).ln()),
        diverged: matches!(status, Status::Diverged { .. }),
    }
}

/// This process's peak resident set size in MiB, from `/proc/self/status` (`VmHWM`); `None`
/// where that file does not exist.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
