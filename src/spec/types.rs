//! Validated spec types. Closed choices are enums; every field of a resolved arm is explicit, so
//! its canonical JSON (sorted keys, shortest float form) fully determines what gets trained.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use super::loss::{Distance, LossSpec, Mining, Sampler};
use sha2::{Digest, Sha256};

pub use super::data_types::*;
pub use super::metric::{Evaluate, Metric};
pub use super::model_types::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub url: String,
    #[serde(rename = "where")]
    pub location: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// The checkpoint after the last training step.
    Last,
    /// The evaluation point with the lowest validation loss (needs `data.val`).
    BestVal,
    /// The evaluation point with the lowest training loss (Fawaz et al. 2019's protocol).
    MinTrainLoss,
    /// The evaluation point with the highest test accuracy: optimistic, and flagged as such in
    /// every report (LSTM-FCN's protocol).
    BestTest,
}

impl Selection {
    pub fn name(self) -> &'static str {
        match self {
            Selection::Last => "last",
            Selection::BestVal => "best-val",
            Selection::MinTrainLoss => "min-train-loss",
            Selection::BestTest => "best-test",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protocol {
    pub selection: Selection,
    pub split: Split,
    /// `evaluate: embedding`: also measure retrieval on the test split's embeddings. Left out
    /// of the canonical JSON at its default, so arms without it keep their run keys.
    #[serde(default, skip_serializing_if = "Evaluate::is_default")]
    pub evaluate: Evaluate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seeds {
    /// Seeds trained up front (`count`, or `min` when adaptive).
    pub count: u32,
    pub base: i64,
    /// Adaptive (`until: decisive`): add seeds to an arm whose claim is still INCONCLUSIVE,
    /// up to this many.
    pub max: Option<u32>,
    /// How the i-th seed is derived from `base`.
    #[serde(default)]
    pub derive: SeedDerive,
    /// `stack: K`: the local pool trains up to K seeds of an arm in one process, as one
    /// stacked model. On the CPU each seed's results are its separate run's
    /// (`train::train_stacked`); where stacking moves bits (a GPU, a `cnn1d` with native
    /// kernels) the seeds are grouped by their order and each run's key names its group
    /// (`train::train_stacked_grouped`, `RunConfig::stack_group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<u32>,
}

/// `index` (default): seed i is `base + i` for every arm, so arms compared with `compare:`
/// share data order and splits seed by seed. `arm`: a stable hash of (base, arm id, i), so arms
/// draw independent seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedDerive {
    #[default]
    Index,
    Arm,
}

impl Seeds {
    /// The seeds trained up front for arm `arm_id`.
    pub fn list(&self, arm_id: &str) -> Vec<i64> {
        (0..self.count).map(|i| self.seed(arm_id, i)).collect()
    }

    /// The `i`-th seed of arm `arm_id` (in [0, 2^31)).
    pub fn seed(&self, arm_id: &str, i: u32) -> i64 {
        match self.derive {
            SeedDerive::Index => self.base + i64::from(i),
            SeedDerive::Arm => {
                let digest = Sha256::digest(format!("{}\0{arm_id}\0{i}", self.base).as_bytes());
                let mut word = [0u8; 8];
                word.copy_from_slice(&digest[..8]);
                (u64::from_le_bytes(word) >> 33) as i64
            }
        }
    }

    /// The most seeds an arm may use.
    pub fn limit(&self) -> u32 {
        self.max.unwrap_or(self.count).max(self.count)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Optimizer {
    /// Adam (Kingma & Ba 2015); `weight_decay` is an L2 term added to the gradient. `fused`:
    /// PyTorch's single-kernel step (`torch.optim.Adam(fused=True)`), one call for every
    /// parameter instead of about ten ops each; it rounds otherwise than the per-parameter step.
    Adam {
        beta1: f64,
        beta2: f64,
        eps: f64,
        #[serde(default, skip_serializing_if = "is_false")]
        fused: bool,
    },
    /// AdamW (Loshchilov & Hutter 2019): weight decay decoupled from the gradient; `fused` as
    /// for Adam (`torch.optim.AdamW(fused=True)`).
    Adamw {
        beta1: f64,
        beta2: f64,
        eps: f64,
        #[serde(default, skip_serializing_if = "is_false")]
        fused: bool,
    },
    /// RAdam (Liu et al. 2020), rectified warm-up of Adam's adaptive learning rate.
    Radam {
        beta1: f64,
        beta2: f64,
        eps: f64,
    },
    Sgd {
        momentum: f64,
        nesterov: bool,
    },
    /// Adadelta (Zeiler 2012), the optimizer of Wang et al.'s and Fawaz et al.'s MLP (Keras's
    /// `Adadelta()`: lr 1.0, rho 0.95); `weight_decay` is an L2 term added to the gradient.
    Adadelta {
        rho: f64,
        eps: f64,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Optimizer {
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Adam { .. } => "adam",
            Optimizer::Adamw { .. } => "adamw",
            Optimizer::Radam { .. } => "radam",
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::Adadelta { .. } => "adadelta",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleUnit {
    Steps,
    /// The learning rate changes at epoch boundaries only, like a per-epoch `scheduler.step()`.
    Epochs,
}

/// The learning-rate schedule; `t` counts steps or epochs as `unit` says.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    Constant,
    /// Linear warm-up over `warmup` units, then cosine annealing from lr to `eta_min` over
    /// `t_max` units (Loshchilov & Hutter 2017, without restarts; PyTorch's CosineAnnealingLR).
    Cosine {
        t_max: i64,
        eta_min: f64,
        warmup: i64,
        unit: ScheduleUnit,
    },
    /// lr · gamma^⌊t / step_size⌋ (PyTorch's StepLR).
    Step {
        step_size: i64,
        gamma: f64,
        unit: ScheduleUnit,
    },
    /// Multiply lr by `factor` when the `monitor`ed loss has not improved by `threshold`
    /// (relative by default, 1e-4) for more than `patience` evaluations (PyTorch's
    /// ReduceLROnPlateau, mode min, no cooldown). The threshold is in the arm's hash only
    /// where it differs from PyTorch's default, so older keys stay as they were.
    Plateau {
        factor: f64,
        patience: i64,
        min_lr: f64,
        monitor: Monitor,
        #[serde(
            default = "default_plateau_threshold",
            skip_serializing_if = "is_default_plateau_threshold"
        )]
        threshold: f64,
        #[serde(default, skip_serializing_if = "ThresholdMode::is_rel")]
        threshold_mode: ThresholdMode,
    },
}

/// PyTorch's ReduceLROnPlateau `threshold` default.
pub const PLATEAU_THRESHOLD: f64 = 1e-4;

fn default_plateau_threshold() -> f64 {
    PLATEAU_THRESHOLD
}

fn is_default_plateau_threshold(t: &f64) -> bool {
    *t == PLATEAU_THRESHOLD
}

/// How a plateau schedule's `threshold` counts an improvement (PyTorch's `threshold_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMode {
    /// Better than `best · (1 − threshold)` (PyTorch's default).
    #[default]
    Rel,
    /// Better than `best − threshold` (Keras's `min_delta`, the protocol of Wang et al. 2017
    /// and Fawaz et al. 2019).
    Abs,
}

impl ThresholdMode {
    fn is_rel(&self) -> bool {
        *self == ThresholdMode::Rel
    }
}

/// The loss a plateau schedule watches. Never the test loss: a decision taken on the test
/// split makes the test score optimistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// The mean training loss since the previous evaluation (Keras's `monitor='loss'`, the
    /// protocol of Fawaz et al. 2019).
    TrainLoss,
    /// The validation split's loss (needs `data.val`).
    ValLoss,
}

impl Monitor {
    pub fn name(self) -> &'static str {
        match self {
            Monitor::TrainLoss => "train_loss",
            Monitor::ValLoss => "val_loss",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchOrder {
    /// Batch k starts at `k·batch mod n` of the stored order (MNIST-1D's `train.py`).
    Sequential,
    /// A fresh seeded permutation every epoch.
    Shuffle,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    pub optimizer: Optimizer,
    pub lr: f64,
    pub weight_decay: f64,
    pub batch_size: i64,
    /// Optimizer steps; exactly one of `steps` and `epochs` is set.
    pub steps: Option<i64>,
    /// Passes over the (preprocessed) training split.
    pub epochs: Option<i64>,
    pub order: BatchOrder,
    /// Evaluate (and append to the curve) every this many steps.
    pub eval_every: i64,
    pub schedule: Schedule,
    /// Rescale gradients so their global L2 norm is at most this.
    pub clip_grad_norm: Option<f64>,
    /// Clamp every gradient element to ±this.
    pub clip_grad_value: Option<f64>,
    /// Cross-entropy label smoothing (Szegedy et al. 2016); evaluation never smooths.
    pub label_smoothing: f64,
    pub early_stopping: Option<EarlyStopping>,
    /// Intra-op CPU threads the run trains with. Part of the key: the reduction order, hence
    /// the numbers, depend on it, so it comes from the spec (default 1), never from `--jobs`.
    pub threads: i64,
    /// What the step minimises; `cross_entropy` is not serialised (existing keys unchanged).
    #[serde(default, skip_serializing_if = "LossSpec::is_cross_entropy")]
    pub loss: LossSpec,
    /// Class-balanced P × K batches in place of `order` (`batch_size` is P × K).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler: Option<Sampler>,
}

/// Stop when the validation loss has not improved by `min_delta` for `patience` evaluations,
/// and restore the weights of the best one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    pub patience: i64,
    pub min_delta: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Method,
    Baseline,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub metric: Metric,
    pub reported: f64,
    pub tolerance: f64,
}

/// A claim's band `reported ± tolerance`: what its verdict, findings and plots measure against
/// (not `report::svg::Band`, a curve's min–max band).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClaimBand {
    pub lo: f64,
    pub hi: f64,
    pub reported: f64,
}

impl Claim {
    pub fn band(&self) -> ClaimBand {
        ClaimBand {
            lo: self.reported - self.tolerance,
            hi: self.reported + self.tolerance,
            reported: self.reported,
        }
    }
}

/// One arm with defaults merged in: everything needed to train it, given a seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedArm {
    pub spec_id: String,
    pub spec_version: u32,
    pub arm_id: String,
    pub dataset: String,
    pub protocol: Protocol,
    pub data: DataSpec,
    pub model: ModelSpec,
    pub init: InitScheme,
    pub train: TrainSpec,
}

impl ResolvedArm {
    /// Canonical JSON: keys sorted (serde_json's map is ordered), floats in shortest form.
    pub fn canonical_json(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        value.to_string()
    }

    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }
}

/// One coordinate of a sweep point: `model.cell = gru`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepValue {
    /// The dotted key, e.g. `model.cell`.
    pub key: String,
    /// The value as written (flow style for lists and mappings).
    pub value: String,
    /// The value as a number, when it is one (sweep plots put it on a numeric axis).
    pub number: Option<f64>,
}

/// Two arms compared seed by seed (`compare:`): `b − a` is what the report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arm {
    /// The arm's id; for a sweep point, the arm's own id followed by `@key=value,...`.
    pub id: String,
    /// The arm's id as written in the spec (the same for every point of its sweep).
    pub base: String,
    /// The sweep point this arm trains (empty without a sweep).
    pub point: Vec<SweepValue>,
    /// Configurations tried for this arm's `base`: its number of sweep points (1 without a
    /// sweep) or its `tuning.trials` when the spec declares a search done elsewhere.
    pub tuning_trials: u32,
    pub claim: Option<Claim>,
    /// The regression gate's tolerance (`gate.tolerance`, the arm's own or the spec's); `None`
    /// for the default (`crate::audit::default_tolerance`). Not part of the run key.
    pub gate_tolerance: Option<f64>,
    /// `method` (a paper's claimed method; the default for arms with a claim) or `baseline`
    /// (a strong baseline run beside it; the default otherwise).
    pub role: Role,
    pub resolved: ResolvedArm,
    /// The same arm with the spec's `quick:` overrides applied.
    pub resolved_quick: ResolvedArm,
    /// `requires: { device, why }`: trained only on that device (a GPU-scale budget); elsewhere
    /// it is validated, planned with no runs and reported with the reason. Not in the run key.
    pub requires: Option<Requirement>,
}

/// What an arm needs to be trained at all (`requires:`), and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub device: crate::device::DeviceKind,
    pub why: String,
}

impl Requirement {
    pub fn met_by(&self, device: crate::device::DeviceKind) -> bool {
        device == self.device
    }

    /// "needs cuda: <why>", as plan, status and every report show it.
    pub fn text(&self) -> String {
        format!("needs {}: {}", self.device.name(), self.why)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub path: PathBuf,
    /// sha256 of the file's bytes.
    pub file_sha256: String,
    pub id: String,
    pub title: String,
    pub source: Option<Source>,
    pub version: u32,
    /// The default dataset; an arm's own `dataset:` overrides it (`Arm::resolved.dataset`).
    pub dataset: String,
    /// The datasets declared by files that the arms use (inline or from the project
    /// catalog); any other dataset name is the built-in catalog's.
    pub user_datasets: Vec<crate::data::UserDataset>,
    /// The default protocol; an arm's own `protocol:` keys override it (`Arm::resolved.protocol`).
    pub protocol: Protocol,
    /// `numerics: native | portable`: which CPU kernels compute its runs (see
    /// [`crate::numerics`]); `--portable` makes every spec portable.
    pub numerics: crate::numerics::Mode,
    pub seeds: Seeds,
    pub seeds_quick: Seeds,
    pub arms: Vec<Arm>,
    pub compare: Vec<Comparison>,
}

impl Spec {
    /// The declaration of dataset `name` when the spec declares it by files (`None`: the
    /// built-in catalog's).
    pub fn user_dataset(&self, name: &str) -> Option<&crate::data::UserDataset> {
        self.user_datasets.iter().find(|d| d.name == name)
    }

    /// The datasets the arms train on (an arm's own `dataset:` or the spec's), each once, in
    /// arm order.
    pub fn datasets(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for arm in &self.arms {
            if !names.contains(&arm.resolved.dataset.as_str()) {
                names.push(&arm.resolved.dataset);
            }
        }
        names
    }

    pub fn seeds(&self, quick: bool) -> Seeds {
        if quick {
            self.seeds_quick
        } else {
            self.seeds
        }
    }
}

impl Arm {
    pub fn resolved(&self, quick: bool) -> &ResolvedArm {
        if quick {
            &self.resolved_quick
        } else {
            &self.resolved
        }
    }
}
