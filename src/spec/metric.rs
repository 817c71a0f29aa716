//! The metrics a claim, comparison or gate can be measured in (their direction, range and
//! name), and `protocol.evaluate`: whether an arm is also measured as an embedding.

use serde::{Deserialize, Serialize};

use super::types::{Arm, Claim, ResolvedArm};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Accuracy,
    Error,
    MacroF1,
    /// Mean negative log-likelihood (cross-entropy) per example.
    Nll,
    Perplexity,
    /// Retrieval on the test split's embeddings (`crate::train::retrieval`, pml's
    /// definitions): the nearest other item shares the query's class.
    PrecisionAt1,
    /// Fraction of the query's class among its R nearest (R = other items of its class).
    RPrecision,
    /// MAP@R (Musgrave et al. 2020): average precision within the R nearest, over R.
    MapAtR,
}

impl Metric {
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::Error | Metric::Nll | Metric::Perplexity)
    }

    /// Whether values are fractions in [0, 1].
    pub fn is_fraction(self) -> bool {
        !matches!(self, Metric::Nll | Metric::Perplexity)
    }

    /// Measured on the test split's embeddings rather than the classifier's outputs.
    pub fn is_retrieval(self) -> bool {
        matches!(
            self,
            Metric::PrecisionAt1 | Metric::RPrecision | Metric::MapAtR
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Error => "error",
            Metric::MacroF1 => "macro_f1",
            Metric::Nll => "nll",
            Metric::Perplexity => "perplexity",
            Metric::PrecisionAt1 => "precision_at_1",
            Metric::RPrecision => "r_precision",
            Metric::MapAtR => "map_at_r",
        }
    }

    /// Every metric with its spec name (claims accept these).
    pub const ALL: [Metric; 8] = [
        Metric::Accuracy,
        Metric::Error,
        Metric::MacroF1,
        Metric::Nll,
        Metric::Perplexity,
        Metric::PrecisionAt1,
        Metric::RPrecision,
        Metric::MapAtR,
    ];

    /// The metric an arm with `claim` is measured in: the claim's, else accuracy.
    pub fn of(claim: Option<Claim>) -> Metric {
        claim.map_or(Metric::Accuracy, |c| c.metric)
    }

    /// The metric `arm` is measured in: its claim's; else `map_at_r` for an arm evaluated as
    /// an embedding (an embedding model, a class-disjoint split, `protocol.evaluate:
    /// embedding`: so "classification first" sits in the same table as triplet arms), and
    /// accuracy otherwise.
    pub fn of_arm(arm: &Arm) -> Metric {
        match arm.claim {
            Some(c) => c.metric,
            None if arm.resolved.has_retrieval() => Metric::MapAtR,
            None => Metric::Accuracy,
        }
    }
}

/// `protocol.evaluate`: what the final metrics measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evaluate {
    /// The classifier's outputs on the test split (accuracy, NLL, macro-F1); embedding models
    /// and class-disjoint splits are measured by retrieval all the same.
    #[default]
    Classification,
    /// Retrieval on the test split's embeddings as well ("classification first" arms sit in
    /// the same table as embedding arms: their penultimate features, L2-normalised).
    Embedding,
}

impl Evaluate {
    pub fn is_default(&self) -> bool {
        *self == Evaluate::Classification
    }
}

impl ResolvedArm {
    /// Whether the model ends in an embedding head rather than a classifier. Read from the
    /// canonical JSON (`model.embedding_dim`), so it needs nothing from the model builders.
    pub fn is_embedding_model(&self) -> bool {
        serde_json::to_value(&self.model)
            .ok()
            .and_then(|m| m.get("embedding_dim").cloned())
            .is_some_and(|d| !d.is_null())
    }

    /// Whether test metrics include retrieval on the test split's embeddings.
    pub fn has_retrieval(&self) -> bool {
        self.protocol.evaluate == Evaluate::Embedding
            || self.is_embedding_model()
            || self.data.classes.is_some()
    }

    /// Whether test metrics include the classifier's accuracy: not for embedding models, nor
    /// where the test classes are not the ones the head was trained on.
    pub fn has_classification(&self) -> bool {
        !self.is_embedding_model() && self.data.classes.is_none()
    }

    /// The triplet margin, where the arm trains with a triplet loss (`train.loss: {kind:
    /// triplet, margin}`): read from the canonical JSON, `None` for any other loss.
    pub fn triplet_margin(&self) -> Option<f64> {
        let train = serde_json::to_value(&self.train).ok()?;
        let loss = train.get("loss")?;
        (loss.get("kind")?.as_str()? == "triplet")
            .then(|| loss.get("margin")?.as_f64())
            .flatten()
    }
}
