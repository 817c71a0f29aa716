//! K copies of one MLP (or linear) classifier, each with its own weights, held as one set of
//! batched tensors (`seeds: { stack: K }`): a layer's weights are `[K, out, in]`, its biases
//! `[K, out]`, and a step over K batches is one `baddbmm` per layer instead of K `addmm`s.
//!
//! Each copy computes the bits a separate run computes (tested in `tests/it/stacked.rs`), which
//! decides how the step is written (measured with libtorch 2.11 on CPU, one intra-op thread,
//! `native` and `portable` numerics):
//! - forward: `baddbmm(b[K,1,out], h[K,B,in], W[K,out,in]ᵀ)` gives each copy the bits of
//!   `linear` (`addmm`), and so do the ReLU/residual elementwise ops;
//! - the weight gradient must be `gᵀ·h` per copy, as `addmm`'s backward computes it for a
//!   transposed weight. `bmm`'s own backward computes `(hᵀ·g)ᵀ`, which MKL's native kernels
//!   round differently for narrow outputs (10 classes), so weight and bias gradients are
//!   computed here from the gradients of the pre-activations (autograd gives those);
//! - products of fewer than 400 multiply-adds (`batch × in × out`) take ATen's small-`bmm`
//!   kernel and are not bit-identical to `addmm`: [`StackedMlp::check_sizes`] refuses them;
//! - a batched cross-entropy (`reduction: none`, then a mean per copy) is not bit-identical to
//!   the per-copy mean: the caller computes each copy's loss on its own logits.

use std::collections::HashMap;

use tch::nn::VarStore;
use tch::{Kind, Tensor};

use super::stacked_cnn::StackedCnn;
use super::ModelError;
use crate::spec::{Activation, ModelSpec};

/// One stacked fully connected layer.
struct Layer {
    /// `[K, out, in]`.
    w: Tensor,
    /// `[K, out]`.
    b: Tensor,
    /// Variable names in each copy's `VarStore`.
    names: (String, String),
}

/// K copies of an MLP classifier as batched tensors. Autograd never sees the weights: the
/// step's gradients are computed by [`StackedMlp::gradients`].
pub struct StackedMlp {
    /// Hidden layers, then the class head.
    layers: Vec<Layer>,
    activation: Activation,
    residual: bool,
}

/// What a forward pass keeps for the gradients: each layer's input and pre-activation (an
/// MLP's; a CNN's gradients come from autograd and keep nothing).
pub struct Tape {
    pub(super) inputs: Vec<Tensor>,
    pub(super) pre: Vec<Tensor>,
    /// `[K, B, classes]`.
    pub logits: Tensor,
}

impl StackedMlp {
    /// Stacks the weights of `copies` (one `VarStore` per seed, each built by
    /// [`super::build`] from `spec` under its own seed) into variables of `target`, under the
    /// copies' names: the initial weights are each seed's, and an optimizer built on `target`
    /// updates every copy at once.
    pub fn stack(
        spec: &ModelSpec,
        copies: &[&VarStore],
        target: &VarStore,
    ) -> Result<StackedMlp, ModelError> {
        if let Some(why) = crate::spec::stack_model_refusal(spec) {
            return Err(ModelError::Shape(format!(
                "stacked seeds cannot train {why}"
            )));
        }
        if !matches!(spec, ModelSpec::Mlp { .. } | ModelSpec::Linear { .. }) {
            return Err(ModelError::Shape("not an `mlp` or `linear` model".into()));
        }
        let (mut prefixes, activation, residual) = match spec {
            ModelSpec::Mlp {
                hidden,
                activation,
                residual,
                ..
            } => (
                (0..hidden.len())
                    .map(|i| format!("hidden{i}"))
                    .collect::<Vec<_>>(),
                *activation,
                *residual,
            ),
            _ => (vec![], Activation::Relu, false),
        };
        prefixes.push(if prefixes.is_empty() { "linear" } else { "out" }.into());
        let vars: Vec<_> = copies.iter().map(|vs| vs.variables()).collect();
        let layers = prefixes
            .into_iter()
            .map(|n| {
                Ok(Layer {
                    w: stack_var(&vars, target, &n, "weight")?,
                    b: stack_var(&vars, target, &n, "bias")?,
                    names: (format!("{n}.weight"), format!("{n}.bias")),
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(StackedMlp {
            layers,
            activation,
            residual,
        })
    }

    /// Every weight and bias (variables of the stacking `VarStore`), in the order
    /// [`StackedMlp::gradients`] returns their gradients.
    pub fn params(&self) -> Vec<&Tensor> {
        self.layers.iter().flat_map(|l| [&l.w, &l.b]).collect()
    }

    /// Refuses a batch of `batch` rows whose products are too small for `bmm` to match `addmm`
    /// bit for bit (ATen computes `bmm`s under 400 multiply-adds with its own small kernel).
    pub fn check_sizes(&self, batch: i64) -> Result<(), ModelError> {
        for l in &self.layers {
            let (out, inp) = (l.w.size()[1], l.w.size()[2]);
            if batch * out * inp < 400 {
                return Err(ModelError::Shape(format!(
                    "stacked seeds need batch × in × out ≥ 400 for every layer (ATen's small \
                     batched kernel differs from a separate run's); layer `{}` gives {batch} × \
                     {inp} × {out}",
                    l.names.0
                )));
            }
        }
        Ok(())
    }

    /// The forward pass on `xs` (`[K, B, ...]`, flattened per example), training mode.
    pub fn forward(&self, xs: &Tensor) -> Tape {
        let mut h = xs.flatten(2, -1);
        let (mut inputs, mut pre) = (Vec::new(), Vec::new());
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            // The variables are used detached: their gradients come from `gradients`.
            let (w, b) = (l.w.detach(), l.b.detach());
            let z = Tensor::baddbmm(&b.unsqueeze(1), &h, &w.transpose(1, 2), 1, 1);
            // The first pre-activation is a leaf: autograd follows the graph from there.
            let z = if i == 0 { z.set_requires_grad(true) } else { z };
            inputs.push(h.shallow_clone());
            pre.push(z.shallow_clone());
            if i == last {
                return Tape {
                    inputs,
                    pre,
                    logits: z,
                };
            }
            let next = super::activate(self.activation, &z);
            let (out, inp) = (l.w.size()[1], l.w.size()[2]);
            h = if self.residual && out == inp {
                h + next
            } else {
                next
            };
        }
        unreachable!("a stacked MLP has at least its head")
    }

    /// The gradients of `loss` (the sum of the copies' losses, each a function of its own
    /// logits only) with respect to every weight and bias, as a separate run's `addmm`
    /// backward computes them: `∂W = gᵀ·h` and `∂b = Σ_batch g` per copy.
    pub fn gradients(&self, tape: &Tape, loss: &Tensor) -> Vec<Tensor> {
        let g = Tensor::run_backward(&[loss], &tape.pre, false, false);
        tch::no_grad(|| {
            g.iter()
                .zip(&tape.inputs)
                .flat_map(|(g, h)| {
                    [
                        g.transpose(1, 2).bmm(h),
                        g.sum_dim_intlist(1, false, Kind::Float),
                    ]
                })
                .collect()
        })
    }

    /// Copies copy `k`'s weights into `vs` (built from the same spec), so the ordinary model
    /// evaluates, selects and digests them as a separate run would.
    pub fn write_into(&self, k: i64, vs: &VarStore) -> Result<(), ModelError> {
        let vars = vs.variables();
        for l in &self.layers {
            for (name, t) in [(&l.names.0, &l.w), (&l.names.1, &l.b)] {
                write_var(&vars, name, &t.get(k))?;
            }
        }
        Ok(())
    }
}

/// The copies' variable `{prefix}.{leaf}` stacked along a new first axis, as a variable of
/// `target` under the same name.
pub(super) fn stack_var(
    vars: &[HashMap<String, Tensor>],
    target: &VarStore,
    prefix: &str,
    leaf: &str,
) -> Result<Tensor, ModelError> {
    let name = format!("{prefix}.{leaf}");
    let parts = vars
        .iter()
        .map(|v| {
            v.get(&name)
                .map(Tensor::detach)
                .ok_or_else(|| ModelError::Shape(format!("stacked copy has no variable `{name}`")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((target.root() / prefix).var_copy(leaf, &Tensor::stack(&parts, 0)))
}

/// Copies `value` into the variable `name` of `vars` (a copy's `VarStore`).
pub(super) fn write_var(
    vars: &HashMap<String, Tensor>,
    name: &str,
    value: &Tensor,
) -> Result<(), ModelError> {
    let mut v = vars
        .get(name)
        .map(Tensor::shallow_clone)
        .ok_or_else(|| ModelError::Shape(format!("stacked copy has no variable `{name}`")))?;
    tch::no_grad(|| v.copy_(value));
    Ok(())
}

/// K copies of a model that stacks: an MLP (or linear classifier), or a plain CNN
/// ([`super::stacked_cnn`]).
pub enum Stacked {
    Mlp(StackedMlp),
    Cnn(StackedCnn),
}

impl Stacked {
    /// The stacked form of `spec`'s copies (see [`StackedMlp::stack`]).
    pub fn stack(
        spec: &ModelSpec,
        copies: &[&VarStore],
        target: &VarStore,
    ) -> Result<Stacked, ModelError> {
        if let Some(why) = crate::spec::stack_model_refusal(spec) {
            return Err(ModelError::Shape(format!(
                "stacked seeds cannot train {why}"
            )));
        }
        Ok(match spec {
            ModelSpec::Cnn1d { .. } => Stacked::Cnn(StackedCnn::stack(spec, copies, target)?),
            _ => Stacked::Mlp(StackedMlp::stack(spec, copies, target)?),
        })
    }

    /// Whether its convolutions are grouped ones (bit for bit each copy's only with oneDNN off).
    pub fn convolves(&self) -> bool {
        matches!(self, Stacked::Cnn(_))
    }

    pub fn params(&self) -> Vec<&Tensor> {
        match self {
            Stacked::Mlp(m) => m.params(),
            Stacked::Cnn(c) => c.params(),
        }
    }

    /// See [`StackedMlp::check_sizes`]; a CNN's head is each copy's own `linear`.
    pub fn check_sizes(&self, batch: i64) -> Result<(), ModelError> {
        match self {
            Stacked::Mlp(m) => m.check_sizes(batch),
            Stacked::Cnn(_) => Ok(()),
        }
    }

    pub fn forward(&self, xs: &Tensor) -> Tape {
        match self {
            Stacked::Mlp(m) => m.forward(xs),
            Stacked::Cnn(c) => c.forward(xs),
        }
    }

    pub fn gradients(&self, tape: &Tape, loss: &Tensor) -> Vec<Tensor> {
        match self {
            Stacked::Mlp(m) => m.gradients(tape, loss),
            Stacked::Cnn(c) => c.gradients(loss),
        }
    }

    pub fn write_into(&self, k: i64, vs: &VarStore) -> Result<(), ModelError> {
        match self {
            Stacked::Mlp(m) => m.write_into(k, vs),
            Stacked::Cnn(c) => c.write_into(k, vs),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use tch::{Device, Kind, Tensor};

    use super::StackedMlp;
    use crate::model::{build, Built, InputShape};
    use crate::spec::{Activation, InitScheme, ModelSpec};

    /// The stacked-step experiments' setup: three copies of `spec` on MNIST-1D's shapes (seeds
    /// 0, 1, 2), each copy's own batch of 100 (`[3, 100, 1, 40]` inputs, `[3, 100]` labels,
    /// seed 7) and an empty variable store to stack them into.
    pub(in crate::model) fn three_copies(
        spec: &ModelSpec,
    ) -> (Vec<Built>, Tensor, Tensor, tch::nn::VarStore) {
        let input = InputShape {
            channels: 1,
            length: 40,
            classes: 10,
            full_length: true,
        };
        let copies = (0..3)
            .map(|seed| {
                tch::manual_seed(seed);
                build(spec, InitScheme::Torch, input, Device::Cpu).unwrap()
            })
            .collect();
        tch::manual_seed(7);
        let xs = Tensor::randn([3, 100, 1, 40], (Kind::Float, Device::Cpu));
        let ys = Tensor::randint(10, [3, 100], (Kind::Int64, Device::Cpu));
        (copies, xs, ys, tch::nn::VarStore::new(Device::Cpu))
    }

    /// The experiment behind this file's design, at MNIST-1D's sizes (40 → 100 → 100 → 10,
    /// residual, batch 100), one intra-op thread: the stacked forward, each copy's own
    /// cross-entropy and [`StackedMlp::gradients`] give every copy the logits, loss and
    /// gradients of its own `linear`/autograd step, bit for bit.
    #[test]
    fn stacked_step_is_each_copys_own_step_bit_for_bit() {
        tch::set_num_threads(1);
        let spec = ModelSpec::Mlp {
            hidden: vec![100, 100],
            activation: Activation::Relu,
            residual: true,
            input_dropout: 0.0,
            dropout: vec![],
            embedding_dim: None,
        };
        let (copies, xs, ys, target) = three_copies(&spec);
        let vss: Vec<_> = copies.iter().map(|c| &c.vs).collect();
        let stacked = StackedMlp::stack(&spec, &vss, &target).unwrap();
        let tape = stacked.forward(&xs);
        let losses: Vec<Tensor> = (0..3)
            .map(|k| tape.logits.get(k).cross_entropy_for_logits(&ys.get(k)))
            .collect();
        let grads = stacked.gradients(&tape, &Tensor::stack(&losses, 0).sum(Kind::Float));
        let names = ["hidden0", "hidden1", "out"];
        for (k, c) in copies.iter().enumerate() {
            let k = k as i64;
            let (x, y) = (xs.get(k), ys.get(k));
            let logits = c
                .net
                .forward(&x, &Tensor::zeros([100], (Kind::Int64, Device::Cpu)), true);
            assert!(logits.equal(&tape.logits.get(k)), "logits of copy {k}");
            let loss = logits.cross_entropy_for_logits(&y);
            assert!(loss.equal(&losses[k as usize]), "loss of copy {k}");
            loss.backward();
            let vars = c.vs.variables();
            for (i, name) in names.iter().enumerate() {
                for (j, leaf) in ["weight", "bias"].iter().enumerate() {
                    let own = vars[&format!("{name}.{leaf}")].grad();
                    assert!(
                        own.equal(&grads[2 * i + j].get(k)),
                        "{name}.{leaf} of copy {k}"
                    );
                }
            }
        }
    }
}
