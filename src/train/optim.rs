//! Optimizers. Adam, AdamW and SGD are libtorch's own C++ implementations (through tch);
//! RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond") and
//! Adadelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method"), which tch lacks, are
//! implemented here step for step as PyTorch's `torch.optim.RAdam` and `torch.optim.Adadelta`
//! (single-tensor path, L2 weight decay), and checked against them in `tests/it/optim.rs`.

use tch::nn::{self, OptimizerConfig};
use tch::{TchError, Tensor};

use crate::spec::Optimizer;

pub enum Optim {
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
        Ok(match *spec {
            Optimizer::Adam { beta1, beta2, eps } => Optim::Torch(
                nn::Adam {
                    beta1,
                    beta2,
                    wd: weight_decay,
                    eps,
                    amsgrad: false,
                }
                .build(vs, lr)?,
            ),
            Optimizer::Adamw { beta1, beta2, eps } => Optim::Torch(
                nn::AdamW {
                    beta1,
                    beta2,
                    wd: weight_decay,
                    eps,
                    amsgrad: false,
                }
                .build(vs, lr)?,
            ),
            Optimizer::Sgd { momentum, nesterov } => Optim::Torch(
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
                Optim::Radam(Radam {
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
                Optim::Adadelta(Adadelta {
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
        })
    }

    /// The parameters of an optimizer implemented here; `None` for libtorch's.
    fn own_params(&self) -> Option<&[Tensor]> {
        match self {
            Optim::Torch(_) => None,
            Optim::Radam(r) => Some(&r.params),
            Optim::Adadelta(a) => Some(&a.params),
        }
    }

    pub fn zero_grad(&mut self) {
        match self {
            Optim::Torch(o) => o.zero_grad(),
            Optim::Radam(Radam { params, .. }) | Optim::Adadelta(Adadelta { params, .. }) => {
                for p in params {
                    p.zero_grad();
                }
            }
        }
    }

    pub fn clip_grad_norm(&self, max: f64) {
        match (self, self.own_params()) {
            (Optim::Torch(o), _) => o.clip_grad_norm(max),
            (_, Some(params)) => clip_norm(params, max),
            (_, None) => {}
        }
    }

    pub fn clip_grad_value(&self, max: f64) {
        match (self, self.own_params()) {
            (Optim::Torch(o), _) => o.clip_grad_value(max),
            (_, Some(params)) => tch::no_grad(|| {
                for p in params {
                    let mut g = p.grad();
                    if g.defined() {
                        let _ = g.clamp_(-max, max);
                    }
                }
            }),
            (_, None) => {}
        }
    }

    pub fn set_lr(&mut self, lr: f64) {
        match self {
            Optim::Torch(o) => o.set_lr(lr),
            Optim::Radam(r) => r.lr = lr,
            Optim::Adadelta(a) => a.lr = lr,
        }
    }

    pub fn step(&mut self) {
        match self {
            Optim::Torch(o) => o.step(),
            Optim::Radam(r) => r.step(),
            Optim::Adadelta(a) => a.step(),
        }
    }
}

/// Global-norm clipping as `torch.nn.utils.clip_grad_norm_` (norm of the per-tensor norms).
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
        let coef = (max / (total.double_value(&[]) + 1e-6)).min(1.0);
        if coef < 1.0 {
            for mut g in grads {
                let _ = g.g_mul_scalar_(coef);
            }
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
