//! K copies of one plain `cnn1d` classifier (ReLU, no batch norm, no dropout, `head: flatten`)
//! as one set of batched tensors (`seeds: { stack: K }`): a convolution's weights are
//! `[K, out, in, kernel]`, its biases `[K, out]`, the head's `[K, classes, features]`.
//!
//! A step runs each convolution once for all copies, as a grouped convolution (`groups = K`):
//! the copies' batches side by side along the channels (`[B, K·in, L]`), their weights
//! concatenated along the output channels (a view of the `[K, ...]` variable). With oneDNN off
//! (`numerics: portable`), ATen computes a grouped convolution group by group with the kernels
//! of an ungrouped one, so each copy gets the bits of its own convolution, forward and backward
//! (`scripts/probe_grouped_conv.py`; with oneDNN on the rounding differs, and the trainer
//! refuses). The head is each copy's own `linear` on its own flattened features, as a separate
//! run computes it; autograd gives every gradient.

use tch::nn::VarStore;
use tch::Tensor;

use super::stacked::{stack_var, write_var, Tape};
use super::ModelError;
use crate::spec::{ModelSpec, Padding};

/// One stacked convolution.
struct Conv {
    /// `[K, out, in, kernel]`.
    w: Tensor,
    /// `[K, out]`.
    b: Tensor,
    stride: i64,
    /// Zeros added on the left and right (as `model::cnn`'s `Conv1d`).
    pad: (i64, i64),
}

/// K copies of a plain CNN classifier as batched tensors.
pub struct StackedCnn {
    convs: Vec<Conv>,
    /// `[K, classes, features]`.
    out_w: Tensor,
    /// `[K, classes]`.
    out_b: Tensor,
    /// Variable names in each copy's `VarStore`, weight then bias, layer by layer.
    names: Vec<String>,
}

impl StackedCnn {
    /// Stacks the weights of `copies` (as [`super::stacked::StackedMlp::stack`]) for a
    /// `cnn1d` spec that [`crate::spec::stack_model_refusal`] accepts.
    pub fn stack(
        spec: &ModelSpec,
        copies: &[&VarStore],
        target: &VarStore,
    ) -> Result<StackedCnn, ModelError> {
        let ModelSpec::Cnn1d {
            channels,
            kernel,
            stride,
            padding,
            ..
        } = spec
        else {
            return Err(ModelError::Shape("not a `cnn1d`".into()));
        };
        let vars: Vec<_> = copies.iter().map(|vs| vs.variables()).collect();
        let mut names = Vec::new();
        let mut convs = Vec::new();
        for (i, &k) in kernel.iter().enumerate().take(channels.len()) {
            let prefix = format!("conv{i}");
            let pad = match padding {
                Padding::Fixed(n) => (*n, *n),
                Padding::Same => ((k - 1) / 2, k - 1 - (k - 1) / 2),
            };
            convs.push(Conv {
                w: stack_var(&vars, target, &prefix, "weight")?,
                b: stack_var(&vars, target, &prefix, "bias")?,
                stride: *stride,
                pad,
            });
            names.extend([format!("{prefix}.weight"), format!("{prefix}.bias")]);
        }
        names.extend(["out.weight".to_string(), "out.bias".to_string()]);
        Ok(StackedCnn {
            convs,
            out_w: stack_var(&vars, target, "out", "weight")?,
            out_b: stack_var(&vars, target, "out", "bias")?,
            names,
        })
    }

    /// Every weight and bias (variables of the stacking `VarStore`), in the order
    /// [`StackedCnn::gradients`] returns their gradients.
    pub fn params(&self) -> Vec<&Tensor> {
        self.convs
            .iter()
            .flat_map(|c| [&c.w, &c.b])
            .chain([&self.out_w, &self.out_b])
            .collect()
    }

    /// The forward pass on `xs` (`[K, B, C, L]`, every sequence at full length), training mode.
    pub fn forward(&self, xs: &Tensor) -> Tape {
        let size = xs.size();
        let (copies, batch, length) = (size[0], size[1], size[3]);
        // The copies' batches side by side along the channels: copy k's are channels
        // `k·C .. (k+1)·C`, the group its weights see.
        let mut h = xs.transpose(0, 1).reshape([batch, -1, length]);
        for c in &self.convs {
            let ws = c.w.size();
            let w = c.w.view([-1, ws[2], ws[3]]);
            let b = c.b.view([-1]);
            h = if c.pad.0 == c.pad.1 {
                h.conv1d(&w, Some(&b), c.stride, c.pad.0, 1, copies)
            } else {
                h.constant_pad_nd([c.pad.0, c.pad.1])
                    .conv1d(&w, Some(&b), c.stride, 0, 1, copies)
            };
            h = h.relu();
        }
        let l = h.size()[2];
        let h = h.view([batch, copies, -1, l]);
        let (ws, bs) = (self.out_w.unbind(0), self.out_b.unbind(0));
        let logits: Vec<Tensor> = (0..copies)
            .map(|k| {
                // Contiguous as the single run's features are: `flatten` of the slice is a
                // view with a batch stride of K·features, and `addmm` rounds otherwise on it.
                let features = h.select(1, k).flatten(1, -1).contiguous();
                features.linear(&ws[k as usize], Some(&bs[k as usize]))
            })
            .collect();
        Tape {
            inputs: Vec::new(),
            pre: Vec::new(),
            logits: Tensor::stack(&logits, 0),
        }
    }

    /// The gradients of `loss` (the sum of the copies' losses) with respect to every weight and
    /// bias, as autograd computes them through the grouped convolutions and the heads.
    pub fn gradients(&self, loss: &Tensor) -> Vec<Tensor> {
        Tensor::run_backward(&[loss], &self.params(), false, false)
    }

    /// Copies copy `k`'s weights into `vs` (built from the same spec).
    pub fn write_into(&self, k: i64, vs: &VarStore) -> Result<(), ModelError> {
        let vars = vs.variables();
        for (name, t) in self.names.iter().zip(self.params()) {
            write_var(&vars, name, &t.get(k))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind, Tensor};

    use super::StackedCnn;
    use crate::spec::{Activation, CnnHead, ModelSpec, Padding};

    /// oneDNN off while it lives (as `numerics: portable` runs), on again after, panic or not.
    struct OnednnOff;

    impl Drop for OnednnOff {
        fn drop(&mut self) {
            crate::numerics::set_onednn(true);
        }
    }

    /// MNIST-1D's paper CNN, batch 100, one intra-op thread, oneDNN off: the stacked forward
    /// (grouped convolutions, each copy's own head), each copy's own cross-entropy and
    /// autograd give every copy the logits, loss and gradients of its own step, bit for bit.
    #[test]
    fn stacked_cnn_step_is_each_copys_own_step_bit_for_bit() {
        tch::set_num_threads(1);
        crate::numerics::set_onednn(false);
        let _on_again = OnednnOff;
        let spec = ModelSpec::Cnn1d {
            channels: vec![25, 25, 25],
            kernel: vec![5, 3, 3],
            stride: 2,
            padding: Padding::Fixed(1),
            activation: Activation::Relu,
            batch_norm: false,
            head: CnnHead::Flatten,
            dropout: 0.0,
            embedding_dim: None,
        };
        let (copies, xs, ys, target) = crate::model::stacked::tests::three_copies(&spec);
        let vss: Vec<_> = copies.iter().map(|c| &c.vs).collect();
        let stacked = StackedCnn::stack(&spec, &vss, &target).unwrap();
        let tape = stacked.forward(&xs);
        let losses: Vec<Tensor> = (0..3)
            .map(|k| tape.logits.get(k).cross_entropy_for_logits(&ys.get(k)))
            .collect();
        let grads = stacked.gradients(&Tensor::stack(&losses, 0).sum(Kind::Float));
        let mut bad = Vec::new();
        for (k, c) in copies.iter().enumerate() {
            let k = k as i64;
            let logits = c.net.forward(
                &xs.get(k),
                &Tensor::full([100], 40, (Kind::Int64, Device::Cpu)),
                true,
            );
            assert!(logits.equal(&tape.logits.get(k)), "logits of copy {k}");
            let loss = logits.cross_entropy_for_logits(&ys.get(k));
            assert!(loss.equal(&losses[k as usize]), "loss of copy {k}");
            loss.backward();
            let vars = c.vs.variables();
            for (name, g) in stacked.names.iter().zip(&grads) {
                if !vars[name].grad().equal(&g.get(k)) {
                    bad.push(format!("{name} of copy {k}"));
                }
            }
        }
        assert!(bad.is_empty(), "{bad:?}");
    }
}
