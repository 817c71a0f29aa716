//! Model builders: linear, MLP, 1-D CNN and LSTM/GRU classifiers, with explicit initialisation.
//!
//! - [`build`] turns a [`ModelSpec`] into a [`Built`] model (its `VarStore`, forward, and
//!   parameter count) for an input of `[batch, channels, length]`.
//! - Initialisation is never tch's implicit default (which differs from PyTorch's): see
//!   [`InitScheme`] and [`weight_init`]. Weights are drawn on the CPU and then moved to the
//!   device, so a seed gives PyTorch's (CPU) initial weights on any device.
//!
//! The MNIST-1D models follow Greydanus 2020, "Scaling down deep learning" (arXiv:2011.14439),
//! `models.py` of greydanus/mnist1d: their parameter counts are checked in tests.

mod cnn;
mod norm;
mod rnn;

use tch::nn::{self, Init, Module};
use tch::{Device, Tensor};

use crate::spec::{Activation, InitScheme, ModelSpec};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model does not fit the input: {0}")]
    Shape(String),
}

/// What the data looks like to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputShape {
    pub channels: i64,
    pub length: i64,
    pub classes: i64,
}

/// A forward pass over `[B, C, L]` inputs whose true lengths are `lengths` (`[B]`, int64):
/// pooling and RNN readouts ignore the padding beyond them. `train` switches dropout.
pub trait Net: Send {
    fn forward(&self, xs: &Tensor, lengths: &Tensor, train: bool) -> Tensor;

    /// Called once after the weights moved from the CPU to `device` (not called for the CPU):
    /// a model that needs its weights laid out for the device's kernels does it here.
    fn placed(&self, _device: Device) {}

    // Default until models implement it (the embedding heads' branch replaces these two).
    /// L2-normalised `[N, d]` embeddings: the embedding head's output for embedding models,
    /// the penultimate features for classifiers. Default: the normalised logits.
    fn embed(&self, xs: &Tensor, lengths: &Tensor, train: bool) -> Tensor {
        crate::train::retrieval::normalize(&self.forward(xs, lengths, train))
    }

    /// Whether the model ends in an embedding head (no class logits). Default: false.
    fn is_embedding(&self) -> bool {
        false
    }
}

pub struct Built {
    pub vs: nn::VarStore,
    pub net: Box<dyn Net>,
    pub params: i64,
}

/// Initialiser for a weight with the given fan-in and fan-out.
///
/// `Torch` reproduces PyTorch's `reset_parameters` for `nn.Linear`/`nn.Conv1d`:
/// kaiming_uniform with a = √5, i.e. U(±1/√fan_in).
pub fn weight_init(scheme: InitScheme, fan_in: i64, fan_out: i64) -> Init {
    let (fan_in, fan_out) = (fan_in as f64, fan_out as f64);
    match scheme {
        InitScheme::Torch => {
            let b = 1.0 / fan_in.sqrt();
            Init::Uniform { lo: -b, up: b }
        }
        InitScheme::He => Init::Randn {
            mean: 0.0,
            stdev: (2.0 / fan_in).sqrt(),
        },
        InitScheme::Xavier => {
            let b = (6.0 / (fan_in + fan_out)).sqrt();
            Init::Uniform { lo: -b, up: b }
        }
    }
}

/// Initialiser for a bias: PyTorch's U(±1/√fan_in) under `Torch`, zero otherwise.
pub fn bias_init(scheme: InitScheme, fan_in: i64) -> Init {
    match scheme {
        InitScheme::Torch => {
            let b = 1.0 / (fan_in as f64).sqrt();
            Init::Uniform { lo: -b, up: b }
        }
        InitScheme::He | InitScheme::Xavier => Init::Const(0.0),
    }
}

/// A fully connected layer. Weight before bias: PyTorch draws them in that order, tch's
/// `nn::linear` the other way round, and the order decides the initial values under a seed.
#[derive(Debug)]
pub(crate) struct Dense {
    ws: Tensor,
    bs: Tensor,
}

impl Dense {
    fn fan_in(&self) -> i64 {
        self.ws.size()[1]
    }

    fn fan_out(&self) -> i64 {
        self.ws.size()[0]
    }
}

impl Module for Dense {
    fn forward(&self, xs: &Tensor) -> Tensor {
        xs.linear(&self.ws, Some(&self.bs))
    }
}

pub(crate) fn linear(p: nn::Path, fan_in: i64, fan_out: i64, scheme: InitScheme) -> Dense {
    let ws = p.var(
        "weight",
        &[fan_out, fan_in],
        weight_init(scheme, fan_in, fan_out),
    );
    let bs = p.var("bias", &[fan_out], bias_init(scheme, fan_in));
    Dense { ws, bs }
}

pub(crate) fn activate(a: Activation, xs: &Tensor) -> Tensor {
    match a {
        Activation::Relu => xs.relu(),
        // tch's `leaky_relu` has no slope argument: max(x, slope·x) for slope < 1.
        Activation::LeakyRelu(slope) => xs.maximum(&(xs * slope)),
        Activation::Elu => xs.elu(),
        Activation::Selu => xs.selu(),
        Activation::Gelu => xs.gelu("none"),
        Activation::Silu => xs.silu(),
        Activation::Tanh => xs.tanh(),
        Activation::Sigmoid => xs.sigmoid(),
    }
}

/// Builds `spec` on `device` for inputs shaped like `input`.
///
/// The weights are drawn on the CPU, whatever `device` is, and then moved: libtorch's CUDA
/// generator gives other numbers than its CPU generator under the same seed, so drawing on the
/// device would make the initial weights (and every number after them) depend on it. On the
/// CPU nothing moves and the draws are the ones PyTorch makes after `torch.manual_seed`.
pub fn build(
    spec: &ModelSpec,
    init: InitScheme,
    input: InputShape,
    device: Device,
) -> Result<Built, ModelError> {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = build_on(&vs.root(), spec, init, input)?;
    if device != Device::Cpu {
        vs.set_device(device);
        net.placed(device);
    }
    let params = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    Ok(Built { vs, net, params })
}

/// The model's variables under `root`, drawn in PyTorch's order on `root`'s device.
fn build_on(
    root: &nn::Path,
    spec: &ModelSpec,
    init: InitScheme,
    input: InputShape,
) -> Result<Box<dyn Net>, ModelError> {
    let root = root.clone();
    let net: Box<dyn Net> = match spec {
        ModelSpec::Linear => {
            let fan_in = input.channels * input.length;
            Box::new(Mlp {
                layers: vec![],
                out: linear(&root / "linear", fan_in, input.classes, init),
                activation: Activation::Relu,
                residual: false,
                input_dropout: 0.0,
                dropout: vec![],
            })
        }
        ModelSpec::Mlp {
            hidden,
            activation,
            residual,
            input_dropout,
            dropout,
        } => {
            let mut width = input.channels * input.length;
            let mut layers = Vec::new();
            for (i, &h) in hidden.iter().enumerate() {
                layers.push(linear(&root / format!("hidden{i}"), width, h, init));
                width = h;
            }
            Box::new(Mlp {
                layers,
                out: linear(&root / "out", width, input.classes, init),
                activation: *activation,
                residual: *residual,
                input_dropout: *input_dropout,
                dropout: dropout.clone(),
            })
        }
        ModelSpec::Cnn1d { .. } | ModelSpec::Resnet1d { .. } => {
            cnn::build(&root, spec, init, input)?
        }
        ModelSpec::Rnn {
            cell,
            hidden,
            layers,
            bidirectional,
            readout,
            dropout,
            layer_norm,
            output_dropout,
            forget_bias,
            embedding,
        } => Box::new(rnn::RnnClassifier::new(
            &root,
            rnn::RnnConfig {
                cell: *cell,
                input: input.channels,
                hidden: *hidden,
                layers: *layers,
                bidirectional: *bidirectional,
                readout: *readout,
                length: input.length,
                classes: input.classes,
                dropout: *dropout,
                layer_norm: *layer_norm,
                output_dropout: *output_dropout,
                forget_bias: *forget_bias,
                embedding: *embedding,
            },
            init,
        )?),
    };
    Ok(net)
}

/// Linear model when `layers` is empty; otherwise hidden layers with optional shortcuts.
struct Mlp {
    layers: Vec<Dense>,
    out: Dense,
    activation: Activation,
    residual: bool,
    input_dropout: f64,
    dropout: Vec<f64>,
}

impl Net for Mlp {
    fn forward(&self, xs: &Tensor, _lengths: &Tensor, train: bool) -> Tensor {
        let mut h = dropout(&xs.flatten(1, -1), self.input_dropout, train);
        for (i, layer) in self.layers.iter().enumerate() {
            let next = activate(self.activation, &layer.forward(&h));
            h = if self.residual && layer.fan_in() == layer.fan_out() {
                h + next
            } else {
                next
            };
            h = dropout(&h, self.dropout.get(i).copied().unwrap_or(0.0), train);
        }
        self.out.forward(&h)
    }
}

/// Dropout that is a no-op (and draws nothing from the generator) at rate 0 or in evaluation.
pub(crate) fn dropout(xs: &Tensor, p: f64, train: bool) -> Tensor {
    if p > 0.0 && train {
        xs.dropout(p, true)
    } else {
        xs.shallow_clone()
    }
}

/// Mean over the time axis of `[B, T, F]`, counting only steps `t < lengths[b]`.
pub(crate) fn masked_mean(h: &Tensor, lengths: &Tensor) -> Tensor {
    let mask = crate::data::prep::mask(lengths, h.size()[1]).unsqueeze(-1);
    (h * &mask).sum_dim_intlist(1, false, tch::Kind::Float)
        / lengths
            .to_kind(tch::Kind::Float)
            .clamp_min(1.0)
            .unsqueeze(-1)
}

/// SHA-256 over every variable's name, shape and float32 bytes, in name order.
pub fn weights_sha256(vs: &nn::VarStore) -> String {
    use sha2::{Digest, Sha256};
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = Sha256::new();
    for (name, t) in vars {
        hasher.update(name.as_bytes());
        for d in t.size() {
            hasher.update(d.to_le_bytes());
        }
        let flat = t
            .detach()
            .to_device(Device::Cpu)
            .to_kind(tch::Kind::Float)
            .flatten(0, -1);
        let values = Vec::<f32>::try_from(&flat).unwrap_or_default();
        for v in values {
            hasher.update(v.to_le_bytes());
        }
    }
    hex::encode(hasher.finalize())
}
