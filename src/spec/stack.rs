//! What stacked seeds (`seeds: { stack: K }`) can train: the arms whose K copies, trained as
//! one set of batched tensors, give each seed the bits of its own separate run on CPU
//! (`model::stacked`, `train::stacked`; where the kernels still round otherwise, a GPU or
//! oneDNN's convolutions, the runner keys each run by its group instead). Everything else is
//! refused, by the spec decoder with file and line, and by the trainer for arms built in code.

use super::types::{Activation, CnnHead, ModelSpec, ResolvedArm, Schedule};

/// Why a model cannot be stacked, or `None`: an MLP or linear classifier without dropout and
/// without an embedding head, or a plain `cnn1d` with ReLU, no batch norm, no dropout and a
/// `flatten` head (whose grouped convolutions are each copy's own bit for bit only with oneDNN
/// off, `numerics: portable`; with it on, the runner keys the runs by their group:
/// `runner::stacked::grouped`).
pub fn model_refusal(model: &ModelSpec) -> Option<String> {
    let kind = match model {
        ModelSpec::Linear { embedding_dim }
        | ModelSpec::Mlp { embedding_dim, .. }
        | ModelSpec::Cnn1d { embedding_dim, .. }
            if embedding_dim.is_some() =>
        {
            return Some("an embedding head (`model.embedding_dim`)".into())
        }
        ModelSpec::Linear { .. } => return None,
        ModelSpec::Mlp {
            input_dropout,
            dropout,
            ..
        } => {
            return (*input_dropout > 0.0 || dropout.iter().any(|&p| p > 0.0))
                .then(|| "dropout (each copy would need its own generator)".into())
        }
        ModelSpec::Cnn1d {
            activation,
            batch_norm,
            head,
            dropout,
            ..
        } => {
            return if *batch_norm {
                Some("a `cnn1d` with `batch_norm` (its statistics would span the copies)".into())
            } else if *dropout > 0.0 {
                Some("dropout (each copy would need its own generator)".into())
            } else if !matches!(head, CnnHead::Flatten) {
                Some("a `cnn1d` with `head: gap` (only `head: flatten` stacks)".into())
            } else if !matches!(activation, Activation::Relu) {
                Some("a `cnn1d` with an activation other than `relu`".into())
            } else {
                None
            }
        }
        ModelSpec::Resnet1d { .. } => "resnet1d",
        ModelSpec::Rnn { .. } => {
            // Probed (scripts/probe_stacked_lstm.py): an exact stacked LSTM needs ATen's loop,
            // portable kernels and hand-made weight gradients, and is then no faster than K
            // separate portable runs, about 4x slower than K separate native ones.
            return Some(
                "`model.kind: rnn` (only `mlp`, `linear` and `cnn1d` stack: a stacked LSTM \
                 that keeps each seed's bits is about 4x slower on the CPU than separate native \
                 runs, README \"Stacked seeds\")"
                    .into(),
            );
        }
        ModelSpec::LstmFcn { .. } => "lstm_fcn",
        ModelSpec::Torchscript { .. } => "torchscript",
    };
    Some(format!(
        "`model.kind: {kind}` (only `mlp`, `linear` and `cnn1d` stack)"
    ))
}

impl ResolvedArm {
    /// Why this arm's seeds cannot be stacked, or `None` when they can.
    pub fn stack_refusal(&self) -> Option<String> {
        if let Some(why) = model_refusal(&self.model) {
            return Some(why);
        }
        let t = &self.train;
        if matches!(t.schedule, Schedule::Plateau { .. }) {
            // Each copy would reduce its own learning rate; the copies share one.
            Some("`schedule: plateau` (the copies share one learning rate)".into())
        } else if t.sampler.is_some() {
            Some("`train.sampler`".into())
        } else if !t.loss.is_cross_entropy() {
            Some("a loss other than `cross_entropy`".into())
        } else {
            None
        }
    }
}
