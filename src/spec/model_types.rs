//! The validated `model:` and `init:` types: architectures, their knobs and initialisation
//! schemes (re-exported by `types`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    /// Leaky ReLU with this negative slope (`negative_slope` in the spec, default 0.01).
    LeakyRelu(f64),
    Elu,
    Selu,
    Gelu,
    Silu,
    Tanh,
    Sigmoid,
}

/// Convolution padding: a fixed count on both sides, or `same` (output length = input length
/// at stride 1; odd total padding puts the extra step on the right, as Keras and PyTorch do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    Same,
    Fixed(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    Gru,
    Lstm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// Output at the last time step (both directions' final states when bidirectional).
    Last,
    /// Mean over time steps.
    Mean,
    /// All time steps' outputs concatenated (MNIST-1D's GRU).
    Flatten,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CnnHead {
    /// Flatten channels × remaining length into the classifier.
    Flatten,
    /// Global average pooling over time.
    Gap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    /// Logistic regression: one linear layer on the flattened input. Every kind takes
    /// `embedding_dim` (see `ModelSpec::embedding_dim`): a linear map to it and an L2
    /// normalisation in place of the class head.
    Linear {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        embedding_dim: Option<i64>,
    },
    Mlp {
        hidden: Vec<i64>,
        activation: Activation,
        /// `h + act(W h)` on hidden layers whose input and output widths agree.
        residual: bool,
        /// Dropout on the flattened input.
        input_dropout: f64,
        /// Dropout after each hidden layer (one rate per layer).
        dropout: Vec<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        embedding_dim: Option<i64>,
    },
    /// Plain 1-D CNN: conv → [batch norm] → activation per layer, then a head. Wang et al.
    /// 2017's FCN is `channels: [128, 256, 128], kernel: [8, 5, 3], padding: same,
    /// batch_norm: true, head: gap`.
    Cnn1d {
        channels: Vec<i64>,
        kernel: Vec<i64>,
        stride: i64,
        padding: Padding,
        activation: Activation,
        batch_norm: bool,
        head: CnnHead,
        /// Dropout before the output layer.
        dropout: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        embedding_dim: Option<i64>,
    },
    /// Residual 1-D CNN (Wang et al. 2017's ResNet): one block per entry of `channels`, each
    /// block one `same`-padded conv + batch norm per entry of `kernel` (activation between),
    /// plus a shortcut (1×1 conv + batch norm where the width changes, batch norm otherwise),
    /// then the activation; global average pooling; depth = number of blocks.
    Resnet1d {
        channels: Vec<i64>,
        kernel: Vec<i64>,
        activation: Activation,
        dropout: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        embedding_dim: Option<i64>,
    },
    Rnn {
        cell: Cell,
        hidden: i64,
        layers: i64,
        bidirectional: bool,
        readout: Readout,
        /// Dropout between stacked layers (training only).
        dropout: f64,
        /// Layer normalisation of each layer's outputs (over features, per time step).
        layer_norm: bool,
        /// Dropout before the output layer.
        output_dropout: f64,
        /// LSTM only: the forget gates' bias (Jozefowicz et al. 2015 recommend 1).
        forget_bias: Option<f64>,
        /// Token input: one channel of integer ids looked up in an embedding table.
        embedding: Option<Embedding>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        embedding_dim: Option<i64>,
    },
    /// LSTM-FCN (Karim et al. 2017): an LSTM of `cells` units over the dimension-shuffled
    /// series (C steps of L features: one step for a univariate series), its last output
    /// dropped out at `lstm_dropout`, beside a plain CNN (`same` padding, batch norm, ReLU,
    /// global average pooling); the two concatenated into the class head. The paper's FCN
    /// branch is `channels: [128, 256, 128], kernel: [8, 5, 3]`.
    LstmFcn {
        cells: i64,
        lstm_dropout: f64,
        channels: Vec<i64>,
        kernel: Vec<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        embedding_dim: Option<i64>,
    },
    /// A team's own model: a TorchScript module (`torch.jit.script(net).save(path)`) whose
    /// output is the class logits, or with `embedding_dim` an embedding of that size (L2
    /// normalised by `repro`). The key hashes the file's `sha256`, never its `path`: the same
    /// module under another name is the same computation, a changed file a new one.
    Torchscript {
        sha256: String,
        /// Resolved when the spec is loaded (relative to the spec's directory); carried to
        /// the worker in `RunConfig::module`, outside the key.
        #[serde(skip)]
        path: std::path::PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        embedding_dim: Option<i64>,
    },
}

/// A token embedding in front of an RNN: ids in `[0, vocab)` → `dim` features (N(0, 1) init,
/// as PyTorch's `nn.Embedding`), then dropout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    pub vocab: i64,
    pub dim: i64,
    pub dropout: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitScheme {
    /// PyTorch's defaults: U(±1/√fan_in) for linear/conv weights and biases, U(±1/√hidden)
    /// for every recurrent parameter. What papers trained with plain PyTorch used.
    Torch,
    /// He (Kaiming) normal for weights, zero biases.
    He,
    /// Xavier (Glorot) uniform for weights, zero biases.
    Xavier,
    /// `model.kind: torchscript` only: keep the weights saved in the module file (no draws).
    AsSaved,
}
