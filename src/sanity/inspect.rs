//! `repro inspect`: what the model does to a real batch: each layer's output shape, the
//! parameters per layer, and the padding and masking in effect.

use serde::Serialize;

use super::{ModelFactory, Setup};
use crate::spec::{CnnHead, ModelSpec, Pad, Readout};
use crate::train::TrainError;

/// Examples in the batch traced (the arm's batch size, at most this): shapes need few.
pub const BATCH: i64 = 8;

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub arm_id: String,
    /// `(layer, output shape)` from the input to the head.
    pub shapes: Vec<(String, Vec<i64>)>,
    /// `(layer, parameters)`, layers named by their variables' path without the last part.
    pub params: Vec<(String, i64)>,
    pub total_params: i64,
    /// One line each: the pad length and where it came from, which examples are padded, how
    /// the model ignores the padding.
    pub padding: Vec<String>,
}

/// Traces a model from `factory` on the first training batch of `setup`.
pub fn inspect(setup: &Setup, factory: &ModelFactory) -> Result<Inspection, TrainError> {
    let built = factory(setup.input())?;
    let train = super::on(&setup.prepared.train, setup.device);
    let n = setup.arm.train.batch_size.min(BATCH).min(train.len());
    let (x, lengths) = (train.x.narrow(0, 0, n), train.lengths.narrow(0, 0, n));
    let shapes = built.net.trace(&x, &lengths);
    let trainable = built.vs.trainable_variables();
    let mut vars: Vec<(String, tch::Tensor)> = built
        .vs
        .variables()
        .into_iter()
        .filter(|(_, t)| trainable.iter().any(|p| p.data_ptr() == t.data_ptr()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let mut params: Vec<(String, i64)> = Vec::new();
    for (name, t) in &vars {
        let layer = name.rsplit_once('.').map_or(name.as_str(), |(l, _)| l);
        match params.last_mut() {
            Some((l, count)) if l == layer => *count += t.numel() as i64,
            _ => params.push((layer.to_string(), t.numel() as i64)),
        }
    }
    Ok(Inspection {
        arm_id: setup.arm.arm_id.clone(),
        shapes,
        total_params: params.iter().map(|(_, c)| c).sum(),
        params,
        padding: padding(setup),
    })
}

fn padding(setup: &Setup) -> Vec<String> {
    let p = setup.prepared;
    let lengths = super::labels(&p.train.lengths);
    let padded = lengths.iter().filter(|&&l| l < p.length).count();
    let pad = match setup.arm.data.pad {
        Pad::Max => "max (the longest training series)".to_string(),
        Pad::Length(l) => format!("length {l} (longer series truncated)"),
        Pad::Percentile(q) => format!("percentile {q} of the training lengths"),
    };
    let mut out = vec![
        format!("data.pad: {pad}; the model sees length {}", p.length),
        format!(
            "{padded} of {} training series are shorter and zero-padded after their end",
            lengths.len()
        ),
    ];
    let masking = match &setup.arm.model {
        ModelSpec::Linear { .. } | ModelSpec::Mlp { .. } => {
            "none: a dense model reads every position, padding included".to_string()
        }
        ModelSpec::Cnn1d { head, .. } => format!(
            "padded positions zeroed after every convolution, batch norm counts valid positions \
             only; head {}",
            match head {
                CnnHead::Flatten => "flatten (reads every position, zeros included)",
                CnnHead::Gap => "masked global average pooling",
            }
        ),
        ModelSpec::Resnet1d { .. } => "padded positions zeroed after every block, batch norm \
                                        counts valid positions only, masked global average pooling"
            .to_string(),
        ModelSpec::Rnn {
            readout,
            bidirectional,
            ..
        } => format!(
            "readout {}; {}",
            match readout {
                Readout::Flatten => "flatten, outputs past each length zeroed",
                Readout::Mean => "mean over each sequence's own steps",
                Readout::Last => "each sequence's last real step",
            },
            if *bidirectional {
                "the reverse direction starts at each sequence's own end"
            } else {
                "padding comes after the real steps"
            }
        ),
        ModelSpec::LstmFcn { .. } => "the LSTM reads the dimension-shuffled series (channels as \
                                      steps, every position a feature, padding included); the \
                                      FCN branch zeroes padded positions after every convolution \
                                      and pools over valid positions only"
            .to_string(),
        ModelSpec::Torchscript { .. } => "the module's own: it reads the padded batch without \
                                          the lengths"
            .to_string(),
    };
    out.push(format!("masking: {masking}"));
    out
}
