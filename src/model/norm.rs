//! Batch normalisation (Ioffe & Szegedy 2015, arXiv:1502.03167) over `[B, C, T]` whose
//! statistics count only the valid positions of padded sequences.
//!
//! PyTorch's defaults (weight 1, bias 0, momentum 0.1, eps 1e-5) are set explicitly: tch's own
//! default draws the weight from U(0, 1). In training with a mask the batch statistics are a
//! masked mean and (biased) variance per channel, and the running statistics are updated from
//! them as `nn.BatchNorm1d` does (unbiased variance); evaluation uses the running statistics.
//! Without a mask (every position valid) libtorch's own kernel runs, bit for bit as before.

use tch::nn::{self, Init, ModuleT};
use tch::{Kind, Tensor};

const MOMENTUM: f64 = 0.1;
const EPS: f64 = 1e-5;

#[derive(Debug)]
pub(crate) struct BatchNorm1d(nn::BatchNorm);

pub(crate) fn batch_norm(p: nn::Path, channels: i64) -> BatchNorm1d {
    BatchNorm1d(nn::batch_norm1d(
        p,
        channels,
        nn::BatchNormConfig {
            ws_init: Init::Const(1.0),
            bs_init: Init::Const(0.0),
            momentum: MOMENTUM,
            eps: EPS,
            cudnn_enabled: true,
            affine: true,
        },
    ))
}

impl BatchNorm1d {
    /// Normalises `xs` (`[B, C, T]`). `mask` (`[B, 1, T]`, 1 at valid positions) restricts the
    /// training statistics to valid positions; `None` means every position is valid. Values at
    /// masked positions come out unspecified: the caller zeroes them.
    pub(crate) fn forward(&self, xs: &Tensor, mask: Option<&Tensor>, train: bool) -> Tensor {
        let (Some(mask), true) = (mask, train) else {
            return self.0.forward_t(xs, train);
        };
        let bn = &self.0;
        let channel = |t: &Tensor| t.view([1, -1, 1]);
        let count = mask.sum(Kind::Float); // valid (b, t) positions, the same for every channel
        let mean = (xs * mask).sum_dim_intlist([0, 2].as_slice(), false, Kind::Float) / &count;
        let centred = (xs - channel(&mean)) * mask;
        let var = centred
            .square()
            .sum_dim_intlist([0, 2].as_slice(), false, Kind::Float)
            / &count;
        tch::no_grad(|| {
            let unbiased = &var * &count / (&count - 1.0).clamp_min(1.0);
            let rm = &bn.running_mean;
            let rv = &bn.running_var;
            rm.shallow_clone()
                .copy_(&(rm * (1.0 - MOMENTUM) + mean.detach() * MOMENTUM));
            rv.shallow_clone()
                .copy_(&(rv * (1.0 - MOMENTUM) + unbiased.detach() * MOMENTUM));
        });
        let scale = (&var + EPS).rsqrt();
        let mut ys = (xs - channel(&mean)) * channel(&scale);
        if let Some(w) = &bn.ws {
            ys = &ys * channel(w);
        }
        if let Some(b) = &bn.bs {
            ys = &ys + channel(b);
        }
        ys
    }
}
