//! LSTM-FCN: Karim, Majumdar, Darabi & Chen 2017, "LSTM Fully Convolutional Networks for Time
//! Series Classification" (arXiv:1709.05206, IEEE Access 6), as its official code builds it
//! (titu1994/LSTM-FCN, `generate_lstmfcn` in `all_datasets_training.py`).
//!
//! Two branches over the same `[B, C, L]` input, concatenated into the class head:
//! - the LSTM branch reads the *dimension-shuffled* series: C steps of L features (a univariate
//!   series is one step of L features), its last output dropped out at `lstm_dropout` (0.8 in
//!   the paper); it is [`Recurrent`], the LSTM of `rnn.rs`, with PyTorch's layout;
//! - the FCN branch is [`ConvStack`], the plain CNN of `cnn.rs` (`same` padding, batch norm,
//!   ReLU, zeroed padding after every layer) with global average pooling over valid positions.
//!
//! Variables are drawn in the official model's layer order, which is also the order a PyTorch
//! module that declares them so draws them: `lstm`, then `fcn` (`conv{i}`, `bn{i}`), then `out`.
//! Padding-invariant: padded steps are zero in the input, so they add nothing to the LSTM's
//! input projection, and the FCN branch masks them.

use tch::nn;
use tch::{Kind, Tensor};

use super::cnn::ConvStack;
use super::rnn::{Recurrent, RnnConfig};
use super::{masked_mean, Head, InputShape, ModelError, Net};
use crate::spec::{Activation, Cell, InitScheme, Padding, Readout};

/// LSTM-FCN's knobs (the `lstm_fcn` model kind).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LstmFcnConfig<'a> {
    pub cells: i64,
    pub lstm_dropout: f64,
    pub channels: &'a [i64],
    pub kernel: &'a [i64],
    pub embedding_dim: Option<i64>,
}

pub(crate) struct LstmFcn {
    lstm: Recurrent,
    fcn: ConvStack,
    out: Head,
}

impl LstmFcn {
    pub(crate) fn new(
        root: &nn::Path,
        config: LstmFcnConfig,
        init: InitScheme,
        input: InputShape,
    ) -> Result<LstmFcn, ModelError> {
        let lstm = Recurrent::new(
            &(root / "lstm"),
            RnnConfig {
                cell: Cell::Lstm,
                // Dimension shuffle: the series' length is the LSTM's feature width and its
                // channels are the LSTM's steps.
                input: input.length,
                hidden: config.cells,
                layers: 1,
                bidirectional: false,
                readout: Readout::Last,
                length: input.channels,
                classes: input.classes,
                dropout: 0.0,
                layer_norm: false,
                output_dropout: config.lstm_dropout,
                forget_bias: None,
                embedding: None,
                embedding_dim: None,
                // Unidirectional: it never asks whether a batch is padded.
                full_length: input.full_length,
            },
            init,
        )?;
        let (fcn, _) = ConvStack::new(
            &(root / "fcn"),
            config.channels,
            config.kernel,
            1,
            Padding::Same,
            Activation::Relu,
            true,
            init,
            input,
        )?;
        let width = lstm.width() + fcn.width();
        let out = Head::new(root / "out", width, input, config.embedding_dim, init);
        Ok(LstmFcn { lstm, fcn, out })
    }
}

impl Net for LstmFcn {
    fn placed(&self, device: tch::Device) {
        self.lstm.placed(device);
    }

    fn head(&self) -> &Head {
        &self.out
    }

    fn traced_features(
        &self,
        xs: &Tensor,
        lengths: &Tensor,
        train: bool,
        trace: &mut super::Trace,
    ) -> Tensor {
        let size = xs.size();
        // `Recurrent` reads `[B, features, steps]`: the shuffled series is `[B, L, C]`, and
        // every one of its C steps is real.
        let steps = Tensor::full([size[0]], size[1], (Kind::Int64, xs.device()));
        let lstm = self
            .lstm
            .features(&xs.transpose(1, 2), &steps, train, trace);
        let (h, lengths) = self.fcn.forward(xs, lengths, train, trace, "fcn ");
        let fcn = masked_mean(&h.transpose(1, 2), &lengths);
        trace.record(|| "fcn masked mean".into(), &fcn);
        let features = Tensor::cat(&[lstm, fcn], 1);
        trace.record(|| "concat".into(), &features);
        features
    }
}
