//! 1-D convolutional classifiers: a plain CNN (MNIST-1D's CNN, Greydanus 2020; the FCN of Wang,
//! Yan & Oates 2017, "Time Series Classification from Scratch with Deep Neural Networks: A
//! Strong Baseline", arXiv:1611.06455) and the residual CNN of the same paper (its ResNet), with
//! depth as the number of residual blocks.
//!
//! Padding-invariant on padded batches: the positions past each sequence's (per-layer) length
//! are zeroed after every layer, so the next convolution sees zeros there exactly as when the
//! sequence runs alone; batch norm counts only valid positions ([`super::norm`]); global
//! pooling averages over valid positions. A batch without padding skips the masks and runs
//! libtorch's kernels unchanged.

use tch::nn;
use tch::Tensor;

use super::norm::{batch_norm, BatchNorm1d};
use super::InputShape;
use super::{activate, bias_init, dropout, masked_mean, weight_init, Head, ModelError, Net, Trace};
use crate::data::prep;
use crate::spec::{Activation, CnnHead, InitScheme, ModelSpec, Padding};

/// A 1-D convolution, weight drawn before bias as in PyTorch; `same` padding may be asymmetric.
#[derive(Debug)]
pub(crate) struct Conv1d {
    ws: Tensor,
    bs: Tensor,
    stride: i64,
    /// Zeros added on the left and right.
    pad: (i64, i64),
}

impl Conv1d {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: nn::Path,
        c_in: i64,
        c_out: i64,
        k: i64,
        stride: i64,
        padding: Padding,
        init: InitScheme,
    ) -> Conv1d {
        let fan_in = c_in * k;
        let ws = p.var(
            "weight",
            &[c_out, c_in, k],
            weight_init(init, fan_in, c_out * k),
        );
        let bs = p.var("bias", &[c_out], bias_init(init, fan_in));
        let pad = match padding {
            Padding::Fixed(n) => (n, n),
            Padding::Same => ((k - 1) / 2, k - 1 - (k - 1) / 2),
        };
        Conv1d {
            ws,
            bs,
            stride,
            pad,
        }
    }

    fn kernel(&self) -> i64 {
        self.ws.size()[2]
    }

    fn out_len(&self, length: i64) -> i64 {
        (length + self.pad.0 + self.pad.1 - self.kernel()).div_euclid(self.stride) + 1
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        if self.pad.0 == self.pad.1 {
            xs.conv1d(&self.ws, Some(&self.bs), self.stride, self.pad.0, 1, 1)
        } else {
            xs.constant_pad_nd([self.pad.0, self.pad.1]).conv1d(
                &self.ws,
                Some(&self.bs),
                self.stride,
                0,
                1,
                1,
            )
        }
    }

    /// True lengths after this layer: outputs that saw at least one real input step.
    fn lengths(&self, lengths: &Tensor, out_len: i64) -> Tensor {
        ((lengths + self.pad.0 + self.pad.1 - self.kernel())
            .clamp_min(0)
            .divide_scalar_mode(self.stride, "floor")
            + 1)
        .clamp(1, out_len)
    }
}

pub(crate) fn build(
    root: &nn::Path,
    spec: &ModelSpec,
    init: InitScheme,
    input: InputShape,
) -> Result<Box<dyn Net>, ModelError> {
    match spec {
        ModelSpec::Cnn1d {
            channels,
            kernel,
            stride,
            padding,
            activation,
            batch_norm: bn,
            head,
            dropout,
            embedding_dim,
        } => {
            let (convs, length) = ConvStack::new(
                root,
                channels,
                kernel,
                *stride,
                *padding,
                *activation,
                *bn,
                init,
                input,
            )?;
            let features = match head {
                CnnHead::Flatten => convs.width() * length,
                CnnHead::Gap => convs.width(),
            };
            Ok(Box::new(Cnn1d {
                convs,
                out: Head::new(root / "out", features, input, *embedding_dim, init),
                head: *head,
                dropout: *dropout,
            }))
        }
        ModelSpec::Resnet1d {
            channels,
            kernel,
            activation,
            dropout,
            embedding_dim,
        } => {
            let mut blocks = Vec::new();
            let mut c_in = input.channels;
            for (b, &c_out) in channels.iter().enumerate() {
                let p = root / format!("block{b}");
                let mut convs = Vec::new();
                let mut c = c_in;
                for (i, &k) in kernel.iter().enumerate() {
                    let conv =
                        Conv1d::new(&p / format!("conv{i}"), c, c_out, k, 1, Padding::Same, init);
                    convs.push((conv, batch_norm(&p / format!("bn{i}"), c_out)));
                    c = c_out;
                }
                let shortcut = (c_in != c_out).then(|| {
                    Conv1d::new(&p / "shortcut", c_in, c_out, 1, 1, Padding::Fixed(0), init)
                });
                let shortcut_bn = batch_norm(&p / "shortcut_bn", c_out);
                blocks.push(ResBlock {
                    convs,
                    shortcut,
                    shortcut_bn,
                });
                c_in = c_out;
            }
            Ok(Box::new(Resnet1d {
                blocks,
                out: Head::new(root / "out", c_in, input, *embedding_dim, init),
                activation: *activation,
                dropout: *dropout,
                full_length: input.full_length,
            }))
        }
        _ => Err(ModelError::Shape("not a convolutional model".into())),
    }
}

/// Plain convolutions, each `conv{i}` → [`bn{i}`] → activation, zeroing padded positions
/// after every layer: the body of [`Cnn1d`] and the FCN branch of LSTM-FCN.
pub(crate) struct ConvStack {
    layers: Vec<(Conv1d, Option<BatchNorm1d>)>,
    activation: Activation,
    /// [`InputShape::full_length`]: no batch is padded, so none is asked about.
    full_length: bool,
}

impl ConvStack {
    /// The layers under `root`, weight before bias, layer by layer; with the output length.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        root: &nn::Path,
        channels: &[i64],
        kernel: &[i64],
        stride: i64,
        padding: Padding,
        activation: Activation,
        bn: bool,
        init: InitScheme,
        input: InputShape,
    ) -> Result<(ConvStack, i64), ModelError> {
        let mut layers = Vec::new();
        let (mut c_in, mut length) = (input.channels, input.length);
        for (i, (&c_out, &k)) in channels.iter().zip(kernel).enumerate() {
            let conv = Conv1d::new(
                root / format!("conv{i}"),
                c_in,
                c_out,
                k,
                stride,
                padding,
                init,
            );
            let out_len = conv.out_len(length);
            if out_len < 1 {
                return Err(ModelError::Shape(format!(
                    "conv layer {i} (kernel {k}, stride {stride}, padding {padding:?}) gets length {length}, leaving nothing"
                )));
            }
            let norm = bn.then(|| batch_norm(root / format!("bn{i}"), c_out));
            layers.push((conv, norm));
            c_in = c_out;
            length = out_len;
        }
        Ok((
            ConvStack {
                layers,
                activation,
                full_length: input.full_length,
            },
            length,
        ))
    }

    /// Channels out of the last layer.
    pub(crate) fn width(&self) -> i64 {
        self.layers.last().map_or(0, |(conv, _)| conv.ws.size()[0])
    }

    /// `[B, C, L]` in, the last layer's `[B, width, L']` out with the true lengths after it;
    /// positions past those lengths are zero when the batch is padded. Each layer's output
    /// shape goes into `trace` (as `{prefix}conv{i}`) when it is on.
    pub(crate) fn forward(
        &self,
        xs: &Tensor,
        lengths: &Tensor,
        train: bool,
        trace: &mut Trace,
        prefix: &str,
    ) -> (Tensor, Tensor) {
        let padded = padding_mask(xs, lengths, self.full_length);
        let mut h = match &padded {
            Some(mask) => xs * mask,
            None => xs.shallow_clone(),
        };
        let mut lengths = lengths.shallow_clone();
        for (i, (conv, norm)) in self.layers.iter().enumerate() {
            h = conv.forward(&h);
            lengths = conv.lengths(&lengths, h.size()[2]);
            let mask = padded
                .as_ref()
                .map(|_| prep::mask(&lengths, h.size()[2]).unsqueeze(1));
            if let Some(bn) = norm {
                h = bn.forward(&h, mask.as_ref(), train);
            }
            h = activate(self.activation, &h);
            if let Some(mask) = &mask {
                h = &h * mask; // not `*=`: the activation's backward reads its output
            }
            trace.record(|| format!("{prefix}conv{i}"), &h);
        }
        (h, lengths)
    }
}

struct Cnn1d {
    convs: ConvStack,
    out: Head,
    head: CnnHead,
    dropout: f64,
}

impl Net for Cnn1d {
    fn head(&self) -> &Head {
        &self.out
    }

    fn traced_features(
        &self,
        xs: &Tensor,
        lengths: &Tensor,
        train: bool,
        trace: &mut Trace,
    ) -> Tensor {
        let (h, lengths) = self.convs.forward(xs, lengths, train, trace, "");
        let features = match self.head {
            CnnHead::Flatten => h.flatten(1, -1),
            CnnHead::Gap => masked_mean(&h.transpose(1, 2), &lengths),
        };
        trace.record(|| format!("{:?}", self.head).to_lowercase(), &features);
        dropout(&features, self.dropout, train)
    }
}

/// `[B, 1, L]` mask of valid positions when some sequence of the batch is padded; `None` when
/// every sequence fills the whole length (no masking needed, nothing changes). Asking reads
/// the shortest length back to the host; with `full_length` (the data has no shorter series)
/// nothing is asked.
fn padding_mask(xs: &Tensor, lengths: &Tensor, full_length: bool) -> Option<Tensor> {
    let length = xs.size()[2];
    (!full_length && lengths.numel() > 0 && lengths.min().int64_value(&[]) < length)
        .then(|| prep::mask(lengths, length).unsqueeze(1))
}

struct ResBlock {
    convs: Vec<(Conv1d, BatchNorm1d)>,
    shortcut: Option<Conv1d>,
    shortcut_bn: BatchNorm1d,
}

struct Resnet1d {
    blocks: Vec<ResBlock>,
    out: Head,
    activation: Activation,
    dropout: f64,
    /// [`InputShape::full_length`].
    full_length: bool,
}

impl Net for Resnet1d {
    fn head(&self) -> &Head {
        &self.out
    }

    fn traced_features(
        &self,
        xs: &Tensor,
        lengths: &Tensor,
        train: bool,
        trace: &mut Trace,
    ) -> Tensor {
        // `same` padding at stride 1 keeps every length, so one mask serves every layer.
        let mask = padding_mask(xs, lengths, self.full_length);
        let masked = |h: Tensor| match &mask {
            Some(m) => h * m,
            None => h,
        };
        let mut x = masked(xs.shallow_clone());
        for (b, block) in self.blocks.iter().enumerate() {
            let mut h = x.shallow_clone();
            let last = block.convs.len() - 1;
            for (i, (conv, bn)) in block.convs.iter().enumerate() {
                h = bn.forward(&conv.forward(&h), mask.as_ref(), train);
                if i < last {
                    h = masked(activate(self.activation, &h));
                }
            }
            let s = match &block.shortcut {
                Some(conv) => conv.forward(&x),
                None => x.shallow_clone(),
            };
            let s = block.shortcut_bn.forward(&s, mask.as_ref(), train);
            x = masked(activate(self.activation, &(h + s)));
            trace.record(|| format!("block{b}"), &x);
        }
        let features = masked_mean(&x.transpose(1, 2), lengths);
        trace.record(|| "masked mean".into(), &features);
        dropout(&features, self.dropout, train)
    }
}
