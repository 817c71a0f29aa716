//! LSTM/GRU classifiers (Hochreiter & Schmidhuber 1997; Cho et al. 2014) over `[B, C, L]` input.
//!
//! Weights are laid out and named exactly as PyTorch's `nn.LSTM`/`nn.GRU`
//! (`weight_ih_l{k}[_reverse]`, gates stacked i,f,g,o / r,z,n) and the fused `at::lstm`/`at::gru`
//! kernels run the recurrence. Unlike `tch::nn::gru`, the train flag is passed on every call,
//! so evaluation never runs with inter-layer dropout.

use tch::nn::{self, Init, Module};
use tch::Tensor;

use super::{bias_init, linear, weight_init, Dense, Net};
use crate::spec::{Cell, InitScheme, Readout};

#[derive(Debug, Clone, Copy)]
pub struct RnnConfig {
    pub cell: Cell,
    pub input: i64,
    pub hidden: i64,
    pub layers: i64,
    pub bidirectional: bool,
    pub readout: Readout,
    pub length: i64,
    pub classes: i64,
}

pub struct RnnClassifier {
    config: RnnConfig,
    flat_weights: Vec<Tensor>,
    out: Dense,
}

impl RnnClassifier {
    pub fn new(root: &nn::Path, config: RnnConfig, init: InitScheme) -> RnnClassifier {
        let directions = if config.bidirectional { 2 } else { 1 };
        let gates = match config.cell {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        };
        let h = config.hidden;
        let rnn = root / "rnn";
        let mut flat_weights = Vec::new();
        for layer in 0..config.layers {
            let in_dim = if layer == 0 {
                config.input
            } else {
                h * directions
            };
            for direction in 0..directions {
                let suffix = if direction == 1 { "_reverse" } else { "" };
                // PyTorch: every RNN parameter ~ U(±1/√hidden). Otherwise: the scheme for
                // input weights, orthogonal recurrent weights, zero biases.
                let (w_ih, w_hh, b) = match init {
                    InitScheme::Torch => {
                        let b = 1.0 / (h as f64).sqrt();
                        let u = Init::Uniform { lo: -b, up: b };
                        (u, u, u)
                    }
                    _ => (
                        weight_init(init, in_dim, gates * h),
                        Init::Orthogonal { gain: 1.0 },
                        bias_init(init, in_dim),
                    ),
                };
                flat_weights.push(rnn.var(
                    &format!("weight_ih_l{layer}{suffix}"),
                    &[gates * h, in_dim],
                    w_ih,
                ));
                flat_weights.push(rnn.var(
                    &format!("weight_hh_l{layer}{suffix}"),
                    &[gates * h, h],
                    w_hh,
                ));
                flat_weights.push(rnn.var(&format!("bias_ih_l{layer}{suffix}"), &[gates * h], b));
                flat_weights.push(rnn.var(&format!("bias_hh_l{layer}{suffix}"), &[gates * h], b));
            }
        }
        let features = match config.readout {
            Readout::Flatten => config.length * h * directions,
            Readout::Last | Readout::Mean => h * directions,
        };
        let out = linear(root / "out", features, config.classes, init);
        RnnClassifier {
            config,
            flat_weights,
            out,
        }
    }
}

impl Net for RnnClassifier {
    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let c = &self.config;
        let directions = if c.bidirectional { 2 } else { 1 };
        let batch = xs.size()[0];
        let seq = xs.transpose(1, 2); // [B, L, C], batch first
        let h0 = Tensor::zeros(
            [c.layers * directions, batch, c.hidden],
            (xs.kind(), xs.device()),
        );
        let (output, h_n) = match c.cell {
            Cell::Gru => seq.gru(
                &h0,
                &self.flat_weights,
                true,
                c.layers,
                0.0,
                train,
                c.bidirectional,
                true,
            ),
            Cell::Lstm => {
                let c0 = h0.zeros_like();
                let (output, h_n, _c_n) = seq.lstm(
                    &[h0.shallow_clone(), c0],
                    &self.flat_weights,
                    true,
                    c.layers,
                    0.0,
                    train,
                    c.bidirectional,
                    true,
                );
                (output, h_n)
            }
        };
        let features = match c.readout {
            Readout::Flatten => output.flatten(1, -1),
            Readout::Mean => output.mean_dim(1, false, None),
            // The final hidden state of the top layer in each direction: for the reverse
            // direction that is its state after reading the first step, not output[:, -1].
            Readout::Last => h_n
                .narrow(0, (c.layers - 1) * directions, directions)
                .transpose(0, 1)
                .flatten(1, -1),
        };
        self.out.forward(&features)
    }
}
