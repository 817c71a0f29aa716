//! Model builders: linear, MLP, 1-D CNN, LSTM/GRU and LSTM-FCN classifiers, with explicit
//! initialisation.
//!
//! - [`build`] turns a [`ModelSpec`] into a [`Built`] model (its `VarStore`, forward, and
//!   parameter count) for an input of `[batch, channels, length]`.
//! - Every [`Net`] is a backbone and a [`Head`]: class logits, or with `embedding_dim` an
//!   L2-normalised embedding; [`Net::embed`] gives either kind's embedding.
//! - Initialisation is never tch's implicit default (which differs from PyTorch's): see
//!   [`InitScheme`] and [`weight_init`]. Weights are drawn on the CPU and then moved to the
//!   device, so a seed gives PyTorch's (CPU) initial weights on any device.
//!
//! The MNIST-1D models follow Greydanus 2020, "Scaling down deep learning" (arXiv:2011.14439),
//! `models.py` of greydanus/mnist1d: their parameter counts are checked in tests.

mod cnn;
mod gru_pair;
mod lstm_fcn;
mod norm;
mod rnn;
pub mod stacked;
mod stacked_cnn;
pub mod torchscript;

use tch::nn::{self, Init, Module};
use tch::{Device, Tensor};

use crate::spec::{Activation, InitScheme, ModelSpec};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model does not fit the input: {0}")]
    Shape(String),
    /// A TorchScript module that cannot be loaded, initialised or run on the task's data.
    #[error("{}: {message}", path.display())]
    Module {
        path: std::path::PathBuf,
        message: String,
    },
}

/// What the data looks like to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputShape {
    pub channels: i64,
    pub length: i64,
    pub classes: i64,
    /// Every series of every split fills `length` ([`crate::data::prep::Prepared::input`]),
    /// so no batch is padded: the models that mask padding then skip asking whether a batch
    /// is, a read back to the host (on a GPU, a wait) every forward pass. `false` (the
    /// default) asks every time, which is always right.
    pub full_length: bool,
}

/// A forward pass over `[B, C, L]` inputs whose true lengths are `lengths` (`[B]`, int64):
/// pooling and RNN readouts ignore the padding beyond them. `train` switches dropout.
///
/// Every model is a backbone ([`Net::features`]) and a [`Head`]: class logits, or with
/// `model.embedding_dim` a linear map to d and an L2 normalisation.
pub trait Net: Send {
    /// The backbone's output `[B, F]`: the head's input, with the dropout before the head
    /// applied when `train`.
    fn features(&self, xs: &Tensor, lengths: &Tensor, train: bool) -> Tensor {
        self.traced_features(xs, lengths, train, &mut Trace::default())
    }

    /// [`Net::features`], recording each layer's output shape into `trace` when it is on.
    fn traced_features(
        &self,
        xs: &Tensor,
        lengths: &Tensor,
        train: bool,
        trace: &mut Trace,
    ) -> Tensor;

    /// Each layer's output shape on `xs` (evaluation mode), the head's last.
    fn trace(&self, xs: &Tensor, lengths: &Tensor) -> Vec<(String, Vec<i64>)> {
        let mut trace = Trace {
            on: true,
            layers: vec![("input".into(), xs.size())],
        };
        let features = tch::no_grad(|| self.traced_features(xs, lengths, false, &mut trace));
        let out = tch::no_grad(|| self.head().forward(&features));
        trace.record(|| "head".into(), &out);
        trace.layers
    }

    fn head(&self) -> &Head;

    /// The head on the features: class logits `[B, classes]`, or for an embedding model its
    /// L2-normalised embedding `[B, d]`.
    fn forward(&self, xs: &Tensor, lengths: &Tensor, train: bool) -> Tensor {
        self.head().forward(&self.features(xs, lengths, train))
    }

    /// An L2-normalised embedding `[B, d]`: an embedding model's output, or a classifier's
    /// penultimate features (the input of its class head), normalised, so a classification
    /// arm is evaluated by retrieval like an embedding arm.
    fn embed(&self, xs: &Tensor, lengths: &Tensor, train: bool) -> Tensor {
        let features = self.features(xs, lengths, train);
        if self.is_embedding() {
            self.head().forward(&features)
        } else {
            l2_normalize(&features)
        }
    }

    /// Whether the model ends in an embedding (`model.embedding_dim`) rather than a class head.
    fn is_embedding(&self) -> bool {
        self.head().embedding
    }

    /// Called once after the weights moved from the CPU to `device` (not called for the CPU):
    /// a model that needs its weights laid out for the device's kernels does it here.
    fn placed(&self, _device: Device) {}

    /// The TorchScript module behind a `model.kind: torchscript` net, for the checks it gets
    /// before training ([`torchscript::check_built`]).
    fn as_scripted(&self) -> Option<&torchscript::Scripted> {
        None
    }
}

/// Per-layer output shapes of one forward pass ([`Net::trace`], `repro inspect`); records
/// nothing when off, so training pays nothing for it.
#[derive(Debug, Default)]
pub struct Trace {
    pub on: bool,
    pub layers: Vec<(String, Vec<i64>)>,
}

impl Trace {
    pub fn record(&mut self, name: impl FnOnce() -> String, t: &Tensor) {
        if self.on {
            self.layers.push((name(), t.size()));
        }
    }
}

/// PyTorch's `F.normalize(x, p=2, dim=1)`: `x / max(‖x‖, 1e-12)` per row.
pub fn l2_normalize(xs: &Tensor) -> Tensor {
    xs / xs
        .norm_scalaropt_dim(2, [1].as_slice(), true)
        .clamp_min(1e-12)
}

/// A model's last layer: a class head (`features → classes` logits) or an embedding head
/// (`features → d`, then L2 normalisation); without a linear map (`out: None`) for a module
/// whose own output is the logits or the embedding.
pub struct Head {
    out: Option<Dense>,
    embedding: bool,
}

impl Head {
    /// Drawn like any linear layer (weight before bias) under `p`; `embedding_dim` replaces
    /// the class count as its width.
    pub(crate) fn new(
        p: nn::Path,
        features: i64,
        input: InputShape,
        embedding_dim: Option<i64>,
        init: InitScheme,
    ) -> Head {
        Head {
            out: Some(linear(
                p,
                features,
                embedding_dim.unwrap_or(input.classes),
                init,
            )),
            embedding: embedding_dim.is_some(),
        }
    }

    /// No weights: the features are the logits, or (`embedding`) the embedding to normalise.
    pub(crate) fn identity(embedding: bool) -> Head {
        Head {
            out: None,
            embedding,
        }
    }

    pub fn forward(&self, features: &Tensor) -> Tensor {
        let z = match &self.out {
            Some(out) => out.forward(features),
            None => features.shallow_clone(),
        };
        if self.embedding {
            l2_normalize(&z)
        } else {
            z
        }
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
        // `as_saved` draws nothing (a TorchScript module keeps its weights); built-in models
        // never get it (the spec refuses it), and would be drawn as `torch`.
        InitScheme::Torch | InitScheme::AsSaved => {
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
        InitScheme::Torch | InitScheme::AsSaved => {
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
        ModelSpec::Linear { embedding_dim } => {
            let fan_in = input.channels * input.length;
            Box::new(Mlp {
                layers: vec![],
                out: Head::new(&root / "linear", fan_in, input, *embedding_dim, init),
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
            embedding_dim,
        } => {
            let mut width = input.channels * input.length;
            let mut layers = Vec::new();
            for (i, &h) in hidden.iter().enumerate() {
                layers.push(linear(&root / format!("hidden{i}"), width, h, init));
                width = h;
            }
            Box::new(Mlp {
                layers,
                out: Head::new(&root / "out", width, input, *embedding_dim, init),
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
            embedding_dim,
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
                embedding_dim: *embedding_dim,
                full_length: input.full_length,
            },
            init,
        )?),
        ModelSpec::LstmFcn {
            cells,
            lstm_dropout,
            channels,
            kernel,
            embedding_dim,
        } => Box::new(lstm_fcn::LstmFcn::new(
            &root,
            lstm_fcn::LstmFcnConfig {
                cells: *cells,
                lstm_dropout: *lstm_dropout,
                channels,
                kernel,
                embedding_dim: *embedding_dim,
            },
            init,
            input,
        )?),
        ModelSpec::Torchscript {
            path,
            embedding_dim,
            ..
        } => torchscript::load(&root, path, init, *embedding_dim)?,
    };
    Ok(net)
}

/// Linear model when `layers` is empty; otherwise hidden layers with optional shortcuts.
struct Mlp {
    layers: Vec<Dense>,
    out: Head,
    activation: Activation,
    residual: bool,
    input_dropout: f64,
    dropout: Vec<f64>,
}

impl Net for Mlp {
    fn head(&self) -> &Head {
        &self.out
    }

    fn traced_features(
        &self,
        xs: &Tensor,
        _lengths: &Tensor,
        train: bool,
        trace: &mut Trace,
    ) -> Tensor {
        let mut h = dropout(&xs.flatten(1, -1), self.input_dropout, train);
        trace.record(|| "flatten".into(), &h);
        for (i, layer) in self.layers.iter().enumerate() {
            let next = activate(self.activation, &layer.forward(&h));
            h = if self.residual && layer.fan_in() == layer.fan_out() {
                h + next
            } else {
                next
            };
            h = dropout(&h, self.dropout.get(i).copied().unwrap_or(0.0), train);
            trace.record(|| format!("hidden{i}"), &h);
        }
        h
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
