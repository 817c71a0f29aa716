//! Optimizers. Adam, AdamW and SGD are libtorch's own C++ implementations (through tch);
//! RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond") and
//! Adadelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method"), which tch lacks, are
//! implemented here step for step as PyTorch's `torch.optim.RAdam` and `torch.optim.Adadelta`
//! (single-tensor path, L2 weight decay), and checked against them in `tests/it/optim.rs`.
//! `fused: true` Adam and AdamW call PyTorch's own fused kernel (`_fused_adam_`, through the
//! shim in `csrc/`), as `torch.optim.Adam(fused=True)` does: bit for bit its numbers.
//!
//! Gradient-norm clipping is `torch.nn.utils.clip_grad_norm_`'s foreach path, also through the
//! shim: one multi-tensor norm and one multi-tensor multiply, where a loop over the parameters
//! would launch two kernels per tensor on a GPU.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};

use tch::nn::{self, OptimizerConfig};
use tch::{Kind as DType, TchError, Tensor};

unsafe extern "C" {
    fn repro_clip_grad_norm(
        grads: *const *mut c_void,
        n: c_int,
        max_norm: f64,
        err: *mut c_char,
        len: c_int,
    ) -> c_int;
    #[allow(clippy::too_many_arguments)]
    fn repro_fused_adam(
        params: *const *mut c_void,
        grads: *const *mut c_void,
        exp_avgs: *const *mut c_void,
        exp_avg_sqs: *const *mut c_void,
        steps: *const *mut c_void,
        n: c_int,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        decoupled: c_int,
        err: *mut c_char,
        len: c_int,
    ) -> c_int;
}

use crate::spec::Optimizer;

/// An arm's optimizer over its trainable parameters, with the gradient clipping it applies.
pub struct Optim {
    kind: Kind,
    /// The trainable parameters (handles sharing storage and gradients with the model's).
    params: Vec<Tensor>,
}

enum Kind {
    Torch(nn::Optimizer),
    Fused(FusedAdam),
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
        Optim::stacked(spec, weight_decay, lr, vs, 1)
    }

    /// The optimizer of `copies` stacked seeds: every variable of `vs` is `[copies, ...]`, one
    /// copy per seed, and each copy's update is exactly its separate run's.
    pub fn stacked(
        spec: &Optimizer,
        weight_decay: f64,
        lr: f64,
        vs: &nn::VarStore,
        copies: i64,
    ) -> Result<Optim, TchError> {
        let kind = match *spec {
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                fused: true,
            }
            | Optimizer::Adamw {
                beta1,
                beta2,
                eps,
                fused: true,
            } => Kind::Fused(FusedAdam::new(
                vs.trainable_variables(),
                Hyper {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    lr,
                },
                matches!(spec, Optimizer::Adamw { .. }),
                copies,
            )),
            Optimizer::Adam {
                beta1, beta2, eps, ..
            } => Kind::Torch(
                nn::Adam {
                    beta1,
                    beta2,
                    wd: weight_decay,
                    eps,
                    amsgrad: false,
                }
                .build(vs, lr)?,
            ),
            Optimizer::Adamw {
                beta1, beta2, eps, ..
            } => Kind::Torch(
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
            Kind::Fused(_) | Kind::Radam(_) | Kind::Adadelta(_) => {
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
            Kind::Fused(f) => f.hyper.lr = lr,
            Kind::Radam(r) => r.lr = lr,
            Kind::Adadelta(a) => a.lr = lr,
        }
    }

    pub fn step(&mut self) {
        match &mut self.kind {
            Kind::Torch(o) => o.step(),
            Kind::Fused(f) => f.step(),
            Kind::Radam(r) => r.step(),
            Kind::Adadelta(a) => a.step(),
        }
    }
}

/// Global-norm clipping as `torch.nn.utils.clip_grad_norm_` computes it (its foreach path, the
/// one PyTorch takes on CPU and CUDA): `_foreach_norm` of the gradients, the norm of those
/// norms, `coef = max / (norm + 1e-6)` clamped at 1, and one `_foreach_mul_` by it. All of it
/// stays on the device (tch's `Optimizer::clip_grad_norm` reads the norm back to the host, a
/// synchronisation per step on a GPU); multiplying by exactly 1 changes no bit. On the CPU the
/// foreach ops run tensor by tensor, the same kernels as a loop over the parameters.
fn clip_norm(params: &[Tensor], max: f64) {
    let grads: Vec<Tensor> = params
        .iter()
        .map(Tensor::grad)
        .filter(Tensor::defined)
        .collect();
    let ptrs = pointers(&grads);
    let mut err = [0 as c_char; 512];
    // SAFETY: `ptrs` point at the live `grads` handles for the whole call; the shim copies
    // them (sharing storage) and writes at most `err.len()` bytes into `err`.
    let rc = unsafe {
        repro_clip_grad_norm(
            ptrs.as_ptr(),
            ptrs.len() as c_int,
            max,
            err.as_mut_ptr(),
            err.len() as c_int,
        )
    };
    check(rc, &err, "clip_grad_norm_");
}

/// The shim's tensor handles (`at::Tensor*`) of `tensors`, valid while they live.
fn pointers(tensors: &[Tensor]) -> Vec<*mut c_void> {
    tensors.iter().map(|t| t.as_ptr() as *mut c_void).collect()
}

/// Panics with libtorch's message when a shim call failed: as tch's own ops do on a shape or
/// device error, which here can only be a bug (the tensors are the optimizer's own).
fn check(rc: c_int, err: &[c_char], what: &str) {
    if rc != 0 {
        // SAFETY: the shim wrote a NUL-terminated string into `err` (or left it zeroed).
        let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
        panic!("{what}: {msg}");
    }
}

/// Adam's hyper-parameters; `lr` follows the schedule.
struct Hyper {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    lr: f64,
}

/// `torch.optim.Adam(fused=True)` / `AdamW(fused=True)`: its state (first and second moments,
/// and a float32 step count per parameter on the parameter's device, as PyTorch keeps it for
/// the fused kernel) and one `_fused_adam_` call per step for all parameters with a gradient.
pub struct FusedAdam {
    params: Vec<Tensor>,
    exp_avgs: Vec<Tensor>,
    exp_avg_sqs: Vec<Tensor>,
    steps: Vec<Tensor>,
    hyper: Hyper,
    decoupled: bool,
    /// Stacked seeds: the leading dimension of every variable, one copy each (1: not stacked).
    copies: i64,
}

impl FusedAdam {
    fn new(params: Vec<Tensor>, hyper: Hyper, decoupled: bool, copies: i64) -> FusedAdam {
        let zeros = |p: &Tensor| tch::no_grad(|| p.zeros_like());
        // One step count per copy: `[K]`, whose elements the per-copy calls count up.
        let count: &[i64] = if copies == 1 { &[] } else { &[copies] };
        FusedAdam {
            exp_avgs: params.iter().map(zeros).collect(),
            exp_avg_sqs: params.iter().map(zeros).collect(),
            steps: params
                .iter()
                .map(|p| Tensor::zeros(count, (DType::Float, p.device())))
                .collect(),
            params,
            hyper,
            decoupled,
            copies,
        }
    }

    fn step(&mut self) {
        let _guard = tch::no_grad_guard();
        // PyTorch skips parameters without a gradient, and so does their state.
        let with_grad: Vec<(usize, Tensor)> = self
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.grad()))
            .filter(|(_, g)| g.defined())
            .collect();
        // Stacked seeds: one call per copy, over its slices. The kernel computes the last
        // `numel % lanes` elements of a tensor outside its vector loop, and those round
        // otherwise; slicing per copy puts each copy's elements where its own run has them.
        let parts: Vec<Option<i64>> = if self.copies == 1 {
            vec![None]
        } else {
            (0..self.copies).map(Some).collect()
        };
        for k in parts {
            let part = |t: &Tensor| match k {
                Some(k) => t.get(k),
                None => t.shallow_clone(),
            };
            let pick = |ts: &[Tensor]| -> Vec<Tensor> {
                with_grad.iter().map(|(i, _)| part(&ts[*i])).collect()
            };
            let grads: Vec<Tensor> = with_grad.iter().map(|(_, g)| part(g)).collect();
            let (p, m, v, t) = (
                pick(&self.params),
                pick(&self.exp_avgs),
                pick(&self.exp_avg_sqs),
                pick(&self.steps),
            );
            self.call(&p, &grads, &m, &v, &t);
        }
    }

    /// One `_fused_adam_` (or `_fused_adamw_`) call over these tensors.
    fn call(&self, p: &[Tensor], g: &[Tensor], m: &[Tensor], v: &[Tensor], t: &[Tensor]) {
        let h = &self.hyper;
        let (p, g, m, v, t) = (
            pointers(p),
            pointers(g),
            pointers(m),
            pointers(v),
            pointers(t),
        );
        let mut err = [0 as c_char; 512];
        // SAFETY: every pointer is a live handle owned by the caller for the whole call; the
        // shim copies them (sharing storage) and writes at most `err.len()` bytes into `err`.
        let rc = unsafe {
            repro_fused_adam(
                p.as_ptr(),
                g.as_ptr(),
                m.as_ptr(),
                v.as_ptr(),
                t.as_ptr(),
                p.len() as c_int,
                h.lr,
                h.beta1,
                h.beta2,
                h.weight_decay,
                h.eps,
                c_int::from(self.decoupled),
                err.as_mut_ptr(),
                err.len() as c_int,
            )
        };
        check(rc, &err, "fused Adam step");
    }
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
