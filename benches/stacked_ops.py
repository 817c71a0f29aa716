"""ATen operations per training step: K separate runs of the MNIST-1D MLP (40-100-100-10,
residual, Adam) against the same K seeds stacked as `repro` trains them (`seeds: { stack: K }`,
src/model/stacked.rs, src/train/stacked.rs): forward, loss, backward and optimizer, counted with
a TorchDispatchMode. Each op is one kernel launch on a GPU (views are counted too, as they
still pass through the dispatcher). Run: .venv/bin/python benches/stacked_ops.py [K ...]
"""
import sys
from collections import Counter

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

B, IN, H, C = 100, 40, 100, 10
VIEWS = {"view", "t", "transpose", "unsqueeze", "select", "unbind", "expand", "detach",
         "alias", "_unsafe_view", "as_strided", "flatten", "reshape", "split"}


class Count(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def adam_(params, state, lr=1e-2, b1=0.9, b2=0.999, eps=1e-8, step=1):
    """torch/csrc/api/src/optim/adam.cpp, the optimizer tch's nn::Adam runs."""
    with torch.no_grad():
        for p in params:
            g = p.grad
            m, v = state.setdefault(id(p), (torch.zeros_like(p), torch.zeros_like(p)))
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / (1 - b2**step) ** 0.5).add_(eps)
            p.addcdiv_(m, denom, value=-lr / (1 - b1**step))


def separate_step(params, state, x, y):
    w1, b1, w2, b2, w3, b3 = params
    for p in params:
        p.grad = None
    h = F.linear(x, w1, b1).relu()
    h = h + F.linear(h, w2, b2).relu()
    loss = F.cross_entropy(F.linear(h, w3, b3), y)
    loss.backward()
    adam_(params, state)
    return loss.item()


def stacked_step(params, state, x, y, k):
    lin = lambda h, w, b: torch.baddbmm(b.detach().unsqueeze(1), h, w.detach().transpose(1, 2))
    z1 = lin(x, *params[0:2]).requires_grad_()
    h1 = z1.relu()
    z2 = lin(h1, *params[2:4])
    h2 = h1 + z2.relu()
    z3 = lin(h2, *params[4:6])
    losses = torch.stack([F.cross_entropy(o, t) for o, t in zip(z3.unbind(0), y.unbind(0))])
    grads = torch.autograd.grad(losses.sum(), [z1, z2, z3])
    with torch.no_grad():
        for i, (g, h) in enumerate(zip(grads, (x, h1, h2))):
            params[2 * i].grad.copy_(g.transpose(1, 2).bmm(h))
            params[2 * i + 1].grad.copy_(g.sum(1))
    adam_(params, state)
    return losses.tolist()


def count(fn):
    mode = Count()
    with mode:
        fn()
    total = sum(mode.ops.values())
    views = sum(n for op, n in mode.ops.items() if op in VIEWS)
    return total, total - views


def main():
    torch.manual_seed(0)
    for k in [int(a) for a in sys.argv[1:]] or [4, 8]:
        shapes = [(H, IN), (H,), (H, H), (H,), (C, H), (C,)]
        sep = [[torch.randn(s, requires_grad=True) for s in shapes] for _ in range(k)]
        xs, ys = torch.randn(k, B, IN), torch.randint(0, C, (k, B))
        st = [torch.randn((k, *s), requires_grad=True) for s in shapes]
        for p in st:
            p.grad = torch.zeros_like(p)
        states, stacked_state = [{} for _ in range(k)], {}
        for _ in range(2):  # the second step is the steady state
            a = count(lambda: [separate_step(sep[i], states[i], xs[i], ys[i]) for i in range(k)])
            b = count(lambda: stacked_step(st, stacked_state, xs, ys, k))
        print(f"K={k}: ops per step (all / without views): {k} separate runs {a[0]} / {a[1]}, "
              f"stacked {b[0]} / {b[1]} ({a[1] / b[1]:.1f}x fewer)")


if __name__ == "__main__":
    main()
