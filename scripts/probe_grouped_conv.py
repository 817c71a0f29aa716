"""Probe for stacked CNN seeds (#15 item 3b): is a grouped convolution (groups = K, the K copies'
channels concatenated) bit for bit the K separate convolutions, forward and weight gradients?

MNIST-1D's CNN (3 layers: 1->25 k5, 25->25 k3, 25->25 k3; stride 2, padding 1, ReLU), K = 4,
batch 100, one thread, deterministic algorithms. Usage: .venv/bin/python scripts/probe_grouped_conv.py on|off
(oneDNN on or off). 2026-11-27, AMD EPYC (AVX-512), torch 2.11: with oneDNN off (repro's portable
numerics) forward and weight gradients are identical, also under ATEN_CPU_CAPABILITY=default
MKL_CBWR=COMPATIBLE; with oneDNN on they differ in rounding.
"""
import torch, sys
torch.set_num_threads(1); torch.use_deterministic_algorithms(True)
mk = sys.argv[1] == "on"
torch.backends.mkldnn.enabled = mk
K, B, C, L = 4, 100, 1, 40
chans = [(1,25,5),(25,25,3),(25,25,3)]
torch.manual_seed(0)
xs = [torch.randn(B, 1, L) for _ in range(K)]
ws = [[(torch.randn(o, i, k, requires_grad=True), torch.randn(o, requires_grad=True)) for (i,o,k) in chans] for _ in range(K)]
def sep(x, w):
    h = x
    for (W, b) in w: h = torch.relu(torch.nn.functional.conv1d(h, W, b, stride=2, padding=1))
    return h
outs = [sep(xs[k], ws[k]) for k in range(K)]
loss = sum(o.square().sum() for o in outs); loss.backward()
gsep = [[W.grad.clone() for (W, b) in w] for w in ws]
for w in ws:
    for (W, b) in w: W.grad = None; b.grad = None
# stacked: channels concatenated, groups=K
Ws = [torch.cat([ws[k][j][0] for k in range(K)], 0).detach().requires_grad_() for j in range(3)]
bs = [torch.cat([ws[k][j][1] for k in range(K)], 0).detach().requires_grad_() for j in range(3)]
h = torch.cat(xs, 1)
for j in range(3): h = torch.relu(torch.nn.functional.conv1d(h, Ws[j], bs[j], stride=2, padding=1, groups=K))
o = h.reshape(B, K, -1, h.shape[-1])
fwd_eq = all(torch.equal(o[:, k], outs[k]) for k in range(K))
loss2 = sum(o[:, k].square().sum() for k in range(K)); loss2.backward()
gst = [Ws[j].grad.reshape(K, -1, *Ws[j].shape[1:]) for j in range(3)]
bwd_eq = all(torch.equal(gst[j][k], gsep[k][j]) for j in range(3) for k in range(K))
maxdiff = max((gst[j][k] - gsep[k][j]).abs().max().item() for j in range(3) for k in range(K))
print(f"mkldnn={mk}: forward identical {fwd_eq}, weight grads identical {bwd_eq}, max grad diff {maxdiff:.2e}")
