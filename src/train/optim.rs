//! Optimizers. Adam, AdamW and SGD are libtorch's own C++ implementations (through tch);
//! RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond") and
//! Adadelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method"), which tch lacks, are
//! implemented here step for step as PyTorch's `torch.optim.RAdam` and `torch.optim.Adadelta`
//! (single-tensor path, L2 weight decay), and checked against them in `tests/it/optim.rs`.

use tch::nn::{self, OptimizerConfig};
use tch::{TchError, Tensor};

use crate::spec::Optimizer;

/// An arm's optimizer over its trainable parameters, with the gradient clipping it applies.
pub struct Optim {
    kind: Kind,
    /// The trainable parameters (handles sharing storage and gradients with the model's).
    params: Vec<Tensor>,
}

enum Kind {
    Torch(nn::Optimizer),
    Radam(Radam),
    Adadelta(Adadelta),
}

impl Optim {
    pub fn new(
        spec: &Optimizer,
        weight_decay: f64,
        lr: f64,
        vs: &nn::VarStore,
    ) -> Result<Optim, TchError> {
        let kind = match *spec {
            Optimizer::Adam { beta1, beta2, eps } => Kind::Torch(
                nn::Adam {
                    beta1,
                    beta2,
                    wd: weight_decay,
                    eps,
                    amsgrad: false,
                }
                .build(vs, lr)?,
            ),
            Optimizer::Adamw { beta1, beta2, eps } => Kind::Torch(
                nn::AdamW {
                    beta1,
                    beta2,
                    wd: weight_decay,
                    eps,
                    amsgrad: false,
                }
                .build(vs, lr)?,
            ),
            Optimizer::Sgd { momentum, nesterov } => Kind::Torch(
                nn::Sgd {
                    momentum,
                    dampening: 0.0,
                    wd: weight_decay,
                    nesterov,
                }
                .build(vs, lr)?,
            ),
            Optimizer::Radam { beta1, beta2, eps } => {
                let params = vs.trainable_variables();
                Kind::Radam(Radam {
                    state: params
                        .iter()
                        .map(|p| (p.zeros_like(), p.zeros_like()))
                        .collect(),
                    params,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    lr,
                    step: 0,
                })
            }
            Optimizer::Adadelta { rho, eps } => {
                let params = vs.trainable_variables();
                Kind::Adadelta(Adadelta {
                    state: params
                        .iter()
                        .map(|p| (p.zeros_like(), p.zeros_like()))
                        .collect(),
                    params,
                    rho,
                    eps,
                    weight_decay,
                    lr,
                })
            }
        };
        Ok(Optim {
            kind,
            params: vs.trainable_variables(),
        })
    }

    pub fn zero_grad(&mut self) {
        match &mut self.kind {
            Kind::Torch(o) => o.zero_grad(),
            Kind::Radam(_) | Kind::Adadelta(_) => {
                for p in &mut self.params {
                    p.zero_grad();
                }
            }
        }
    }

    /// Scales the gradients so that their global norm is at most `max`, on the device.
    pub fn clip_grad_norm(&self, max: f64) {
        clip_norm(&self.params, max);
    }

    /// Clamps every gradient element to `[-max, max]`.
    pub fn clip_grad_value(&self, max: f64) {
        tch::no_grad(|| {
            for p in &self.params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.clamp_(-max, max);
                }
            }
        })
    }

    pub fn set_lr(&mut self, lr: f64) {
        match &mut self.kind {
            Kind::Torch(o) => o.set_lr(lr),
            Kind::Radam(r) => r.lr = lr,
            Kind::Adadelta(a) => a.lr = lr,
        }
    }

    pub fn step(&mut self) {
        match &mut self.kind {
            Kind::Torch(o) => o.step(),
            Kind::Radam(r) => r.step(),
            Kind::Adadelta(a) => a.step(),
        }
    }
}

/// Global-norm clipping as `torch.nn.utils.clip_grad_norm_` computes it: the norm of the
/// per-tensor norms, `coef = max / (norm + 1e-6)` clamped at 1, every gradient multiplied by
/// it. All of it stays on the device (tch's `Optimizer::clip_grad_norm` reads the norm back to
/// the host, a synchronisation per step on a GPU); multiplying by exactly 1 changes no bit.
fn clip_norm(params: &[Tensor], max: f64) {
    tch::no_grad(|| {
        let grads: Vec<Tensor> = params
            .iter()
            .map(Tensor::grad)
            .filter(Tensor::defined)
            .collect();
        if grads.is_empty() {
            return;
        }
        let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
        let total = Tensor::stack(&norms, 0).norm();
        // Python's `max / t` is `t.reciprocal() * max`.
        let coef = ((total + 1e-6).reciprocal() * max).clamp_max(1.0);
        for mut g in grads {
            let _ = g.g_mul_(&coef);
        }
    })
}

pub struct Radam {
    params: Vec<Tensor>,
    /// (first moment, second moment) per parameter.
    state: Vec<(Tensor, Tensor)>,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    lr: f64,
    step: i32,
}

impl Radam {
    fn step(&mut self) {
        self.step += 1;
        let (b1, b2, lr) = (self.beta1, self.beta2, self.lr);
        let t = f64::from(self.step);
        let bias1 = 1.0 - b1.powf(t);
        let bias2 = 1.0 - b2.powf(t);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * b2.powf(t) / bias2;
        tch::no_grad(|| {
            for (p, (m, v)) in self.params.iter_mut().zip(self.state.iter_mut()) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let g = if self.weight_decay != 0.0 {
                    g + &*p * self.weight_decay
                } else {
                    g
                };
                let _ = m.lerp_(&g, 1.0 - b1);
                let _ = v.g_mul_scalar_(b2);
                let _ = v.addcmul_(&(&g * (1.0 - b2)), &g);
                let corrected = &*m / bias1;
                let update = if rho_t > 5.0 {
                    let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                        / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                        .sqrt();
                    let adaptive = (v.sqrt() + self.eps).reciprocal() * bias2.sqrt();
                    corrected * lr * adaptive * rect
                } else {
                    corrected * lr
                };
                let _ = p.g_sub_(&update);
            }
        });
    }
}

pub struct Adadelta {
    params: Vec<Tensor>,
    /// (running mean of squared gradients, running mean of squared updates) per parameter.
    state: Vec<(Tensor, Tensor)>,
    rho: f64,
    eps: f64,
    weight_decay: f64,
    lr: f64,
}

impl Adadelta {
    /// One step of `torch.optim.Adadelta` (`_single_tensor_adadelta`), operation for operation.
    fn step(&mut self) {
        let (rho, eps, lr) = (self.rho, self.eps, self.lr);
        tch::no_grad(|| {
            for (p, (square_avg, acc_delta)) in self.params.iter_mut().zip(self.state.iter_mut()) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let g = if self.weight_decay != 0.0 {
                    g + &*p * self.weight_decay
                } else {
                    g
                };
                let _ = square_avg.g_mul_scalar_(rho);
                let _ = square_avg.addcmul_(&(&g * (1.0 - rho)), &g);
                let std = (&*square_avg + eps).sqrt();
                let delta = (&*acc_delta + eps).sqrt() / std * &g;
                let _ = acc_delta.g_mul_scalar_(rho);
                let _ = acc_delta.addcmul_(&(&delta * (1.0 - rho)), &delta);
                let _ = p.g_sub_(&(delta * lr));
            }
        });
    }
}
