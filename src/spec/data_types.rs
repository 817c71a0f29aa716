//! The validated `data:` types: normalisation, padding, subsets, validation and class splits
//! (re-exported by `types`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    None,
    /// Each series (and channel) to zero mean, unit variance over its own true length.
    Series,
    /// Per-channel standardisation with statistics fitted on the training split only.
    Dataset,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pad {
    /// The longest series in the training split (never the test split's).
    Max,
    /// A fixed length; longer series are truncated.
    Length(i64),
    /// The length that covers this percentage of the training split's series (nearest rank).
    Percentile(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subset {
    /// At most this many series per split (stratified, seeded); the test split only when
    /// `test` is given, and then every verdict on it is flagged.
    Count {
        train: Option<i64>,
        test: Option<i64>,
    },
    /// This fraction of the training split (the test split stays whole).
    Fraction(f64),
}

/// The `data:` block: how a dataset is prepared before training (see `data::prep`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    pub normalize: Normalize,
    pub pad: Pad,
    /// Fraction of the training split held out for validation (stratified, seeded).
    pub val_fraction: Option<f64>,
    pub subset: Option<Subset>,
    /// Class-disjoint split (`data.classes`): train on some classes, test retrieval on others.
    /// Absent from the canonical JSON when not set, so other arms keep their run keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassSplit>,
}

/// `data.classes`: which classes train and which are tested (by retrieval only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassSplit {
    /// Class names as the dataset names them (`repro data profile` lists them).
    Lists {
        train: Vec<String>,
        test: Vec<String>,
    },
    /// A seeded half of the classes trains (⌊C/2⌋ of them), the rest are tested; drawn from
    /// the spec's `seed`, the same for every run seed and arm.
    Half { seed: u64 },
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            normalize: Normalize::None,
            pad: Pad::Max,
            val_fraction: None,
            subset: None,
            classes: None,
        }
    }
}
