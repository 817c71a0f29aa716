//! Both directions of a bidirectional GRU layer (Cho et al. 2014, "Learning Phrase
//! Representations using RNN Encoder-Decoder", in PyTorch's formulation: `nn.GRU`) stepped as
//! one recurrence over `[2, B, ·]` tensors, for the CPU.
//!
//! ATen's CPU GRU runs the two directions one after the other, a dozen small ops per time step
//! each, and every one of them is also a node of the backward graph: at MNIST-1D's size (batch
//! 100, hidden 6, 40 steps) the step is that per-op overhead, not arithmetic. Stacking the
//! directions halves the op count (one batched matmul per step for both recurrent projections)
//! and fusing the reset and update gates' sigmoid saves two more; the input projections of every
//! step are one batched matmul up front, as ATen's precomputed input gates are. The arithmetic
//! is nn.GRU's, op for op: r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
//! n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (h − n) ⊙ z + n; the matmuls are MKL's
//! batched ones instead of its single ones, so results agree with ATen's to float rounding
//! (`tests/it/golden.rs`, against `scripts/gen_golden_gru_pair.py`), not bit for bit.

use tch::Tensor;

/// The two directions of one layer over batch-first input: `forward_in` `[B, L, I]` and
/// `reverse_in`, the same sequences reversed (within each length), with `params` the forward
/// direction's `w_ih, w_hh, b_ih, b_hh` followed by the reverse direction's. Returns each
/// direction's outputs `[B, L, H]`, the reverse direction's in the order it read `reverse_in`.
pub(super) fn both_directions(
    forward_in: &Tensor,
    reverse_in: &Tensor,
    params: &[Tensor],
    hidden: i64,
) -> (Tensor, Tensor) {
    let size = forward_in.size();
    let (batch, steps, input) = (size[0], size[1], size[2]);
    let pair = |k: usize| Tensor::stack(&[&params[k], &params[4 + k]], 0);
    let (w_ih, w_hh, b_ih, b_hh) = (pair(0), pair(1), pair(2), pair(3));
    // Time-major input of both directions, [2, L·B, I], projected at once: [2, L, B, 3H].
    let xs = Tensor::stack(&[forward_in.transpose(0, 1), reverse_in.transpose(0, 1)], 0).reshape([
        2,
        steps * batch,
        input,
    ]);
    let input_gates = b_ih
        .unsqueeze(1)
        .baddbmm(&xs, &w_ih.transpose(1, 2), 1, 1)
        .view([2, steps, batch, 3 * hidden]);
    let w_hh_t = w_hh.transpose(1, 2);
    let b_hh = b_hh.unsqueeze(1);
    let mut h = Tensor::zeros([2, batch, hidden], (forward_in.kind(), forward_in.device()));
    let mut outputs = Vec::with_capacity(steps as usize);
    for gi in input_gates.unbind(1) {
        let gh = b_hh.baddbmm(&h, &w_hh_t, 1, 1);
        let gh = gh.split_with_sizes([2 * hidden, hidden], 2);
        let gi = gi.split_with_sizes([2 * hidden, hidden], 2);
        let rz = (&gh[0] + &gi[0]).sigmoid().chunk(2, 2);
        let n = (&gi[1] + &gh[1] * &rz[0]).tanh();
        h = (&h - &n) * &rz[1] + &n;
        outputs.push(h.shallow_clone());
    }
    let out = Tensor::stack(&outputs, 2); // [2, B, L, H]
    (out.select(0, 0), out.select(0, 1))
}
