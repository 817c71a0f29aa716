//! LSTM/GRU classifiers (Hochreiter & Schmidhuber 1997; Cho et al. 2014) over `[B, C, L]` input.
//!
//! Weights are laid out and named exactly as PyTorch's `nn.LSTM`/`nn.GRU`
//! (`weight_ih_l{k}[_reverse]`, gates stacked i,f,g,o / r,z,n) and the fused `at::lstm`/`at::gru`
//! kernels run the recurrence. Unlike `tch::nn::gru`, the train flag is passed on every call,
//! so evaluation never runs with inter-layer dropout. On CUDA the weights are made views of one
//! flat buffer once they are on the device (PyTorch's `flatten_parameters`): cuDNN wants them
//! in one contiguous chunk and otherwise copies them, with a warning, on every call.

use tch::nn::{self, Init};
use tch::{Device, Kind, Tensor};

use super::ModelError;
use super::{bias_init, weight_init, Head, InputShape, Net};
use crate::spec::{Cell, Embedding, InitScheme, Readout};

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
    pub dropout: f64,
    pub layer_norm: bool,
    pub output_dropout: f64,
    pub forget_bias: Option<f64>,
    pub embedding: Option<Embedding>,
    /// The width of an embedding head in place of the class head.
    pub embedding_dim: Option<i64>,
    /// [`InputShape::full_length`]: no batch is padded, so a bidirectional net takes the
    /// fused kernel without asking (a read back to the host every forward pass).
    pub full_length: bool,
}

/// The recurrent backbone: embedding, stacked layers, layer norms, readout and output dropout;
/// [`RnnClassifier`] puts a [`Head`] on it, LSTM-FCN uses it as its LSTM branch.
pub(crate) struct Recurrent {
    config: RnnConfig,
    flat_weights: Vec<Tensor>,
    /// (weight, bias) of each layer's layer norm, when on.
    norms: Vec<(Tensor, Tensor)>,
    /// The token embedding table, `[vocab, dim]`.
    embedding: Option<Tensor>,
}

pub struct RnnClassifier {
    rnn: Recurrent,
    out: Head,
}

/// Makes each `[H, H]` gate block of a recurrent weight `[G·H, H]` orthogonal, as
/// `torch.nn.init.orthogonal_` does for one matrix (QR of a Gaussian, signs fixed by R's diagonal).
fn orthogonal_blocks(w: &Tensor, gates: i64) {
    let h = w.size()[1];
    tch::no_grad(|| {
        for g in 0..gates {
            let a = Tensor::randn([h, h], (w.kind(), w.device()));
            let (q, r) = Tensor::linalg_qr(&a, "reduced");
            let q = &q * r.diagonal(0, 0, 1).sign().unsqueeze(0);
            w.narrow(0, g * h, h).copy_(&q);
        }
    });
}

impl RnnClassifier {
    pub fn new(
        root: &nn::Path,
        config: RnnConfig,
        init: InitScheme,
    ) -> Result<RnnClassifier, ModelError> {
        let rnn = Recurrent::new(root, config, init)?;
        let shape = InputShape {
            channels: config.input,
            length: config.length,
            classes: config.classes,
            full_length: config.full_length,
        };
        let out = Head::new(root / "out", rnn.width(), shape, config.embedding_dim, init);
        Ok(RnnClassifier { rnn, out })
    }
}

impl Recurrent {
    /// The variables under `root` (`embedding`, `rnn`, `layer_norm{l}`), drawn in PyTorch's
    /// order; `config.classes` and `config.embedding_dim` are the head's and unused here.
    pub(crate) fn new(
        root: &nn::Path,
        config: RnnConfig,
        init: InitScheme,
    ) -> Result<Recurrent, ModelError> {
        let directions = if config.bidirectional { 2 } else { 1 };
        let embedding = match config.embedding {
            Some(e) if config.input != 1 => {
                return Err(ModelError::Shape(format!(
                    "a token embedding reads one channel of token ids, but the data has {} channels ({} wide embedding)",
                    config.input, e.dim
                )))
            }
            Some(e) => Some((root / "embedding").var("weight", &[e.vocab, e.dim], Init::Randn { mean: 0.0, stdev: 1.0 })),
            None => None,
        };
        let rnn_input = config.embedding.map_or(config.input, |e| e.dim);
        let gates = match config.cell {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        };
        let h = config.hidden;
        let rnn = root / "rnn";
        let mut flat_weights = Vec::new();
        for layer in 0..config.layers {
            let in_dim = if layer == 0 {
                rnn_input
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
                        Init::Const(0.0), // replaced by orthogonal gate blocks below
                        bias_init(init, in_dim),
                    ),
                };
                let w_ih = rnn.var(
                    &format!("weight_ih_l{layer}{suffix}"),
                    &[gates * h, in_dim],
                    w_ih,
                );
                let w_hh = rnn.var(
                    &format!("weight_hh_l{layer}{suffix}"),
                    &[gates * h, h],
                    w_hh,
                );
                if init != InitScheme::Torch {
                    orthogonal_blocks(&w_hh, gates);
                }
                let b_ih = rnn.var(&format!("bias_ih_l{layer}{suffix}"), &[gates * h], b);
                let b_hh = rnn.var(&format!("bias_hh_l{layer}{suffix}"), &[gates * h], b);
                if let (Cell::Lstm, Some(fb)) = (config.cell, config.forget_bias) {
                    // Gates are stacked i, f, g, o: the forget gate is the second block, and
                    // its total bias is b_ih + b_hh.
                    tch::no_grad(|| {
                        let _ = b_ih.narrow(0, h, h).fill_(fb);
                        let _ = b_hh.narrow(0, h, h).fill_(0.0);
                    });
                }
                flat_weights.extend([w_ih, w_hh, b_ih, b_hh]);
            }
        }
        let norms = if config.layer_norm {
            (0..config.layers)
                .map(|l| {
                    let p = root / format!("layer_norm{l}");
                    (
                        p.var("weight", &[h * directions], Init::Const(1.0)),
                        p.var("bias", &[h * directions], Init::Const(0.0)),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Recurrent {
            config,
            flat_weights,
            norms,
            embedding,
        })
    }

    /// The width of [`Recurrent::features`].
    pub(crate) fn width(&self) -> i64 {
        let c = &self.config;
        let directions = if c.bidirectional { 2 } else { 1 };
        match c.readout {
            Readout::Flatten => c.length * c.hidden * directions,
            Readout::Last | Readout::Mean => c.hidden * directions,
        }
    }

    /// One layer, one direction, over batch-first `input`.
    fn single(&self, input: &Tensor, layer: i64, direction: i64, train: bool) -> Tensor {
        let c = &self.config;
        let directions = if c.bidirectional { 2 } else { 1 };
        let at = ((layer * directions + direction) * 4) as usize;
        let params = &self.flat_weights[at..at + 4];
        let h0 = Tensor::zeros(
            [1, input.size()[0], c.hidden],
            (input.kind(), input.device()),
        );
        match c.cell {
            Cell::Gru => input.gru(&h0, params, true, 1, 0.0, train, false, true).0,
            Cell::Lstm => {
                let c0 = h0.zeros_like();
                let hx = [h0, c0];
                let params: Vec<Tensor> = params.iter().map(Tensor::shallow_clone).collect();
                input.lstm(&hx, &params, true, 1, 0.0, train, false, true).0
            }
        }
    }

    /// Whether a layer over `input` runs as [`super::gru_pair`]'s one loop over both
    /// directions: a bidirectional GRU on the CPU (elsewhere cuDNN's kernel is the fast one).
    fn gru_pair(&self, input: &Tensor) -> bool {
        let c = &self.config;
        c.cell == Cell::Gru && c.bidirectional && input.device() == Device::Cpu
    }

    /// Layer by layer, direction by direction: for padded bidirectional input (the reverse
    /// direction must start at each sequence's own last step, so it reads the input reversed
    /// within each length, as PyTorch's packed sequences do), for layer norm between layers, and
    /// for bidirectional GRUs on the CPU (both directions of a layer in one loop).
    fn layered(&self, seq: &Tensor, lengths: &Tensor, train: bool) -> Tensor {
        let c = &self.config;
        let mut input = seq.shallow_clone();
        for layer in 0..c.layers {
            if self.gru_pair(&input) {
                let reversed = reverse_within(&input, lengths);
                let at = (layer * 8) as usize;
                let (forward, backward) = super::gru_pair::both_directions(
                    &input,
                    &reversed,
                    &self.flat_weights[at..at + 8],
                    c.hidden,
                );
                input = Tensor::cat(&[forward, reverse_within(&backward, lengths)], 2);
                if let Some((w, b)) = self.norms.get(layer as usize) {
                    let width = input.size()[2];
                    input = input.layer_norm([width].as_slice(), Some(w), Some(b), 1e-5, false);
                }
                if layer + 1 < c.layers {
                    input = super::dropout(&input, c.dropout, train);
                }
                continue;
            }
            let forward = self.single(&input, layer, 0, train);
            input = if c.bidirectional {
                let reversed = reverse_within(&input, lengths);
                let backward = reverse_within(&self.single(&reversed, layer, 1, train), lengths);
                Tensor::cat(&[forward, backward], 2)
            } else {
                forward
            };
            if let Some((w, b)) = self.norms.get(layer as usize) {
                let width = input.size()[2];
                input = input.layer_norm([width].as_slice(), Some(w), Some(b), 1e-5, false);
            }
            if layer + 1 < c.layers {
                input = super::dropout(&input, c.dropout, train);
            }
        }
        input
    }
}

/// Reverses each `[L, F]` sequence of batch-first `x` within its first `lengths[b]` steps.
fn reverse_within(x: &Tensor, lengths: &Tensor) -> Tensor {
    let size = x.size();
    let t = Tensor::arange(size[1], (Kind::Int64, x.device())).unsqueeze(0);
    let len = lengths.unsqueeze(1);
    let idx = (&len - 1 - &t).where_self(&t.lt_tensor(&len), &t);
    x.gather(
        1,
        &idx.unsqueeze(-1).expand([size[0], size[1], size[2]], false),
        false,
    )
}

impl Net for RnnClassifier {
    fn placed(&self, device: Device) {
        self.rnn.placed(device);
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
        self.rnn.features(xs, lengths, train, trace)
    }
}

impl Recurrent {
    /// On CUDA with cuDNN, lays the recurrent weights out as views of one flat buffer in
    /// cuDNN's order (`_cudnn_rnn_flatten_weight` sets each weight to its view, keeping the
    /// tensors, so the var store and the optimizer see the same variables).
    pub(crate) fn placed(&self, device: Device) {
        if !device.is_cuda() || !tch::Cuda::cudnn_is_available() {
            return;
        }
        let c = &self.config;
        let mode = match c.cell {
            Cell::Lstm => 2, // at::native's CuDNNMode: RNN_RELU 0, RNN_TANH 1, LSTM 2, GRU 3
            Cell::Gru => 3,
        };
        let input = c.embedding.map_or(c.input, |e| e.dim);
        // A failure leaves the weights as they were: cuDNN then copies them on each call.
        tch::no_grad(|| {
            let _ = Tensor::f_internal_cudnn_rnn_flatten_weight(
                &self.flat_weights,
                4, // weight_ih, weight_hh, bias_ih, bias_hh per layer and direction
                input,
                mode,
                c.hidden,
                0, // no projections
                c.layers,
                true, // batch first
                c.bidirectional,
            );
        });
    }

    /// The readout `[B, width]` over `[B, C, L]` input (L steps of C features), with the output
    /// dropout applied when `train`; each stage's output shape goes into `trace` when it is on.
    pub(crate) fn features(
        &self,
        xs: &Tensor,
        lengths: &Tensor,
        train: bool,
        trace: &mut super::Trace,
    ) -> Tensor {
        let c = &self.config;
        let directions = if c.bidirectional { 2 } else { 1 };
        let batch = xs.size()[0];
        let steps = xs.size()[2];
        let seq = match (&self.embedding, c.embedding) {
            (Some(table), Some(e)) => {
                let ids = xs.select(1, 0).to_kind(Kind::Int64);
                super::dropout(
                    &Tensor::embedding(table, &ids, -1, false, false),
                    e.dropout,
                    train,
                )
            }
            _ => xs.transpose(1, 2), // [B, L, C], batch first
        };
        // Only a bidirectional net asks whether the batch is padded: the answer is a read back
        // to the host (on a GPU, a wait for it every step), and a unidirectional net needs none.
        let padded = || !c.full_length && lengths.min().int64_value(&[]) < steps;
        let output = if c.layer_norm || self.gru_pair(&seq) || (c.bidirectional && padded()) {
            self.layered(&seq, lengths, train)
        } else {
            // Fused kernel. Unidirectionally, padding comes after the real steps, so outputs
            // at t < length are exact; the readouts below never look past them.
            let h0 = Tensor::zeros(
                [c.layers * directions, batch, c.hidden],
                (xs.kind(), xs.device()),
            );
            match c.cell {
                Cell::Gru => {
                    seq.gru(
                        &h0,
                        &self.flat_weights,
                        true,
                        c.layers,
                        c.dropout, // between stacked layers, training only
                        train,
                        c.bidirectional,
                        true,
                    )
                    .0
                }
                Cell::Lstm => {
                    let c0 = h0.zeros_like();
                    seq.lstm(
                        &[h0, c0],
                        &self.flat_weights,
                        true,
                        c.layers,
                        c.dropout,
                        train,
                        c.bidirectional,
                        true,
                    )
                    .0
                }
            }
        };
        trace.record(|| format!("{:?}", c.cell).to_lowercase(), &output);
        let h = c.hidden;
        let features = match c.readout {
            Readout::Flatten => {
                let mask = crate::data::prep::mask(lengths, steps).unsqueeze(-1);
                (output * mask).flatten(1, -1)
            }
            Readout::Mean => super::masked_mean(&output, lengths),
            // The forward direction's state after each sequence's last real step; the reverse
            // direction's after reading back to the first step.
            Readout::Last => {
                let last = (lengths - 1)
                    .clamp_min(0)
                    .view([-1, 1, 1])
                    .expand([batch, 1, h], false);
                let forward = output
                    .narrow(2, 0, h)
                    .gather(1, &last, false)
                    .squeeze_dim(1);
                if c.bidirectional {
                    let backward = output.narrow(2, h, h).select(1, 0);
                    Tensor::cat(&[forward, backward], 1)
                } else {
                    forward
                }
            }
        };
        trace.record(
            || format!("readout {:?}", c.readout).to_lowercase(),
            &features,
        );
        super::dropout(&features, c.output_dropout, train)
    }
}
