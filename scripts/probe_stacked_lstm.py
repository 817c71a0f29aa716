"""Probe for stacked LSTM seeds: can K copies of a 2-layer LSTM classifier, trained as one batched
model, give each copy the bits of its own separate (portable) run on the CPU, and does it pay?

Separate run = what repro's `Recurrent::single` does: per layer `torch._VF.lstm` (ATen's CPU loop
with oneDNN off), batch first, h0 = c0 = 0; readout `last` (gather at L-1); Linear head;
cross-entropy (mean). Stacked = the same ops on weights stacked along a new first axis
(`baddbmm`/`bmm` for the projections, the cell's elementwise ops in ATen's order, in place
where ATen is), each copy's loss on its own logits, summed.

Usage: .venv/bin/python scripts/probe_stacked_lstm.py            (everything; runs the native
       timing in a second process)
       .venv/bin/python scripts/probe_stacked_lstm.py native     (native timing only)
Output of the committed run: scripts/probe_stacked_lstm.txt

Findings, 2026-11-27, AMD EPYC, torch 2.11 (portable: ATEN_CPU_CAPABILITY=default,
MKL_CBWR=COMPATIBLE, oneDNN off), one thread:
- ATen's CPU LSTM as autograd records it: layer 1's input projection is matmul (fold, mm) + add_
  (the time-first input is not contiguous), layer 2's is addmm (_flatten_nd_linear); each step
  addmm(b_hh, h, w_hh^T).add_(precomputed), unsafe_chunk, sigmoid_/sigmoid_/tanh_/sigmoid_,
  (f*c).add_(i*g), o*tanh(c); outputs stacked. One call per layer == one num_layers=2 call.
- (a) plain autograd through the stacked replica is bit-identical (loss, logits, all 10
  gradients, K=4 and K=8) at MNIST-1D shapes, but NOT at JapaneseVowels shapes (C=12): layer 1's
  w_ih gradient differs (2.7e-9) because bmm's backward computes (x^T g)^T where mm's computes
  g^T x, which MKL rounds differently for a 12-wide output.
- (b) autograd to the gate pre-activations, weights/biases as g^T h per step (bmm) summed from
  the last step back to the first (autograd's order; the forward order differs), input weights
  g^T x over all L*B rows: bit-identical everywhere, and after 20 Adam steps with per-copy norm
  clipping (active or not).
- Stacking does not pay on the CPU: one stacked portable step costs about what 8 separate
  portable steps cost (0.9x-1.2x), and 8 separate native steps (oneDNN LSTM) are ~4x faster.
"""
import os
import sys

MODE = sys.argv[1] if len(sys.argv) > 1 else "portable"
if MODE in ("portable", "check"):
    # repro's portable numerics; must be set before torch loads.
    os.environ["ATEN_CPU_CAPABILITY"] = "default"
    os.environ["MKL_CBWR"] = "COMPATIBLE"
    os.environ["ONEDNN_MAX_CPU_ISA"] = "SSE41"

import json
import math
import subprocess
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.backends.mkldnn.enabled = MODE == "native"

CLASSES = 10
LAYERS = 2
HIDDEN = 128


# ----------------------------------------------------------------------------------------------
# weights and data
def make_copy(k, C, H=HIDDEN, layers=LAYERS, classes=CLASSES):
    """Copy k's weights, nn.LSTM/nn.Linear-style uniform(-1/sqrt(H), 1/sqrt(H)), own generator."""
    g = torch.Generator().manual_seed(1000 + k)
    s = 1.0 / math.sqrt(H)

    def u(*shape):
        return (torch.rand(*shape, generator=g) * 2 - 1) * s

    ps, cin = [], C
    for _ in range(layers):
        ps += [u(4 * H, cin), u(4 * H, H), u(4 * H), u(4 * H)]  # w_ih, w_hh, b_ih, b_hh
        cin = H
    ps += [u(classes, H), u(classes)]
    return ps


def make_batches(k, steps, B, C, L):
    """Copy k's own batches: x [B, C, L] (repro's layout), labels [B]."""
    g = torch.Generator().manual_seed(5000 + k)
    return [(torch.randn(B, C, L, generator=g), torch.randint(0, CLASSES, (B,), generator=g))
            for _ in range(steps)]


# ----------------------------------------------------------------------------------------------
# reference: one copy, as a separate run computes it
def ref_forward(ps, x, y, fused_layers=False):
    B, C, L = x.shape
    H = ps[1].shape[1]
    seq = x.transpose(1, 2)  # [B, L, C], batch first, as rnn.rs
    if fused_layers:  # rnn.rs's unidirectional path: one call for all layers
        h0 = torch.zeros(LAYERS, B, H)
        seq = torch._VF.lstm(seq, (h0, torch.zeros_like(h0)), ps[:4 * LAYERS], True, LAYERS, 0.0,
                             True, False, True)[0]
    else:  # Recurrent::single: one call per layer
        for l in range(LAYERS):
            h0 = torch.zeros(1, B, H)
            seq = torch._VF.lstm(seq, (h0, torch.zeros_like(h0)), ps[4 * l:4 * l + 4], True, 1, 0.0,
                                 True, False, True)[0]
    last = torch.full((B, 1, 1), L - 1, dtype=torch.long).expand(B, 1, H)
    feat = seq.narrow(2, 0, H).gather(1, last).squeeze(1)
    logits = F.linear(feat, ps[-2], ps[-1])
    return F.cross_entropy(logits, y), logits


def ref_step(ps, x, y, fused_layers=False):
    """Forward, loss, backward on fresh leaves; returns loss, logits, grads."""
    leaves = [p.detach().clone().requires_grad_() for p in ps]
    loss, logits = ref_forward(leaves, x, y, fused_layers)
    loss.backward()
    return loss.detach(), logits.detach(), [p.grad for p in leaves]


def graph_ops(t):
    """Counts of autograd node types below t (what ATen's LSTM recorded)."""
    seen, stack, counts = set(), [t.grad_fn], {}
    while stack:
        n = stack.pop()
        if n is None or n in seen:
            continue
        seen.add(n)
        counts[type(n).__name__] = counts.get(type(n).__name__, 0) + 1
        stack.extend(f for f, _ in n.next_functions)
    return counts


# ----------------------------------------------------------------------------------------------
# stacked: K copies as batched tensors, ATen's CPU loop replicated
def stacked_forward(P, X):
    """P: stacked weights [K, ...]; X: [K, B, C, L]. Returns logits [K, B, classes] and a tape of
    what the manual gradients need."""
    K, B, C, L = X.shape
    H = P[1].shape[2]
    inp = X.transpose(2, 3).transpose(1, 2)  # [K, L, B, C]: each copy's time-first view
    tape = []
    for l in range(LAYERS):
        w_ih, w_hh, b_ih, b_hh = P[4 * l:4 * l + 4]
        cin = inp.shape[3]
        per_copy_contiguous = inp[0].is_contiguous()
        xin = inp.reshape(K, L * B, cin)  # matmul folds (copy) / _flatten_nd_linear views
        if per_copy_contiguous:  # at::linear -> _flatten_nd_linear -> addmm
            pre = torch.baddbmm(b_ih.unsqueeze(1), xin, w_ih.transpose(1, 2))
        else:  # at::linear -> matmul (fold, mm), then output.add_(bias)
            pre = torch.bmm(xin, w_ih.transpose(1, 2)).add_(b_ih.unsqueeze(1))
        pre = pre.view(K, L, B, 4 * H)
        steps = pre.unbind(1)
        h = torch.zeros(K, B, H)
        c = torch.zeros(K, B, H)
        outs, gates_l, hprev_l = [], [], []
        for t in range(L):
            hprev_l.append(h)
            # LSTMCell (CPU): linear_hh(hx).add_(precomputed); unsafe_chunk; in-place activations
            gates = torch.baddbmm(b_hh.unsqueeze(1), h, w_hh.transpose(1, 2)).add_(steps[t])
            gates_l.append(gates)
            i, f, g, o = gates.unsafe_chunk(4, 2)
            i = i.sigmoid_()
            f = f.sigmoid_()
            g = g.tanh_()
            o = o.sigmoid_()
            c = (f * c).add_(i * g)
            h = o * c.tanh()
            outs.append(h)
        tape.append(dict(xin=xin, pre=pre, gates=gates_l, hprev=hprev_l))
        inp = torch.stack(outs, 1)  # at::stack(outputs, 0) per copy: [K, L, B, H]
    feat = inp.select(1, L - 1)
    logits = torch.baddbmm(P[-1].unsqueeze(1), feat, P[-2].transpose(1, 2))
    return logits, tape, feat


def stacked_loss(logits, Y):
    losses = [F.cross_entropy(logits[k], Y[k]) for k in range(logits.shape[0])]
    return torch.stack(losses).sum(), losses


def fold(terms, order):
    """Left fold of a list of tensors in the given index order."""
    acc = terms[order[0]].clone()
    for i in order[1:]:
        acc = acc + terms[i]
    return acc


def stacked_step(P, X, Y, mode, acc_order="reverse"):
    """mode 'a': plain autograd through the stacked ops; 'b': autograd to the gate
    pre-activations, weight/bias gradients computed as a separate run's addmm backward does."""
    leaves = [p.detach().clone().requires_grad_() for p in P]
    logits, tape, feat = stacked_forward(leaves, X)
    total, losses = stacked_loss(logits, Y)
    if mode == "a":
        total.backward()
        return torch.stack([l.detach() for l in losses]), logits.detach(), [p.grad for p in leaves]
    # b: gradients of each step's gates, of each layer's precomputed input projection, of logits
    L = len(tape[0]["gates"])
    wanted = [logits]
    for tp in tape:
        wanted += [tp["pre"]] + tp["gates"]
    gs = torch.autograd.grad(total, wanted)
    g_logits, rest = gs[0], gs[1:]
    grads = []
    order = list(range(L - 1, -1, -1)) if acc_order == "reverse" else list(range(L))
    with torch.no_grad():
        for l, tp in enumerate(tape):
            g_pre, g_gates = rest[0], rest[1:1 + L]
            rest = rest[1 + L:]
            K, _, B, G4 = g_pre.shape
            gp = g_pre.reshape(K, L * B, G4)
            # input projection: mm/addmm backward, weight = g^T x, bias = sum over rows
            g_wih = gp.transpose(1, 2).bmm(tp["xin"])
            g_bih = gp.sum(1)
            # recurrent projection: per step addmm backward, accumulated over steps
            g_whh = fold([g.transpose(1, 2).bmm(h) for g, h in zip(g_gates, tp["hprev"])], order)
            g_bhh = fold([g.sum(1) for g in g_gates], order)
            grads += [g_wih, g_whh, g_bih, g_bhh]
        grads += [g_logits.transpose(1, 2).bmm(feat), g_logits.sum(1)]
    return torch.stack([l.detach() for l in losses]), logits.detach(), grads


# ----------------------------------------------------------------------------------------------
# comparison helpers
NAMES = []
for _l in range(LAYERS):
    NAMES += [f"w_ih_l{_l}", f"w_hh_l{_l}", f"b_ih_l{_l}", f"b_hh_l{_l}"]
NAMES += ["head.w", "head.b"]


def compare(refs, st):
    """refs: per copy (loss, logits, grads); st: (losses[K], logits[K..], grads[K..]).
    Returns rows (quantity, identical for all copies, max abs diff)."""
    K = len(refs)
    rows = []

    def row(name, a_of, b_of):
        eq = all(torch.equal(a_of(k), b_of(k)) for k in range(K))
        d = max((a_of(k) - b_of(k)).abs().max().item() for k in range(K))
        rows.append((name, eq, d))

    row("loss", lambda k: refs[k][0], lambda k: st[0][k])
    row("logits", lambda k: refs[k][1], lambda k: st[1][k])
    for j, n in enumerate(NAMES):
        row("grad " + n, lambda k, j=j: refs[k][2][j], lambda k, j=j: st[2][j][k])
    return rows


def show(title, rows):
    print(f"\n{title}")
    print(f"  {'quantity':<16} {'bit-identical':<14} max |diff|")
    for n, eq, d in rows:
        print(f"  {n:<16} {str(eq):<14} {d:.3e}")


# ----------------------------------------------------------------------------------------------
# training: Adam + per-copy norm clipping
ADAM = dict(lr=1e-3)
MAX_NORM = 1.0


def ref_train(ps, batches, max_norm=MAX_NORM):
    leaves = [p.detach().clone().requires_grad_() for p in ps]
    opt = torch.optim.Adam(leaves, **ADAM)
    norms = []
    for x, y in batches:
        opt.zero_grad()
        loss, _ = ref_forward(leaves, x, y)
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(leaves, max_norm).item())
        opt.step()
    return [p.detach() for p in leaves], norms


def clip_per_copy(grads, max_norm):
    """repro's clip_norm_per_copy (src/train/stacked.rs): per copy, the norm of its per-tensor
    norms, coef = max / (norm + 1e-6) clamped at 1."""
    norms = [g.flatten(1).norm(2, dim=1) for g in grads]
    totals = torch.stack(norms, 1).norm(2, dim=1)
    coef = ((totals + 1e-6).reciprocal() * max_norm).clamp_max(1.0)
    for g in grads:
        g.mul_(coef.view([-1] + [1] * (g.dim() - 1)))
    return totals


def clip_per_copy_slices(grads, max_norm):
    """clip_grad_norm_'s own arithmetic on each copy's slices (one vector_norm per tensor)."""
    K = grads[0].shape[0]
    totals = []
    for k in range(K):
        gk = [g[k] for g in grads]
        total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, 2) for g in gk]), 2)
        coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
        torch._foreach_mul_(gk, coef)
        totals.append(total)
    return torch.stack(totals)


def stacked_train(P, batches_per_copy, mode, clip, max_norm=MAX_NORM):
    leaves = [p.detach().clone().requires_grad_() for p in P]
    opt = torch.optim.Adam(leaves, **ADAM)
    steps = len(batches_per_copy[0])
    for s in range(steps):
        X = torch.stack([b[s][0] for b in batches_per_copy])
        Y = torch.stack([b[s][1] for b in batches_per_copy])
        _, _, grads = stacked_step(leaves, X, Y, mode)
        grads = [g.clone() for g in grads]
        clip(grads, max_norm)
        for p, g in zip(leaves, grads):
            p.grad = g
        opt.step()
    return [p.detach() for p in leaves]


# ----------------------------------------------------------------------------------------------
# timing
def time_it(fn, reps):
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def separate_step_fn(K, B, C, L):
    ps = [make_copy(k, C) for k in range(K)]
    models = []
    for k in range(K):
        leaves = [p.clone().requires_grad_() for p in ps[k]]
        models.append((leaves, torch.optim.Adam(leaves, **ADAM), make_batches(k, 1, B, C, L)[0]))

    def step():
        for leaves, opt, (x, y) in models:
            opt.zero_grad()
            loss, _ = ref_forward(leaves, x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(leaves, MAX_NORM)
            opt.step()
    return step


def stacked_step_fn(K, B, C, L, mode):
    ps = [make_copy(k, C) for k in range(K)]
    leaves = [torch.stack([ps[k][j] for k in range(K)]).requires_grad_() for j in range(len(ps[0]))]
    opt = torch.optim.Adam(leaves, **ADAM)
    bs = [make_batches(k, 1, B, C, L)[0] for k in range(K)]
    X = torch.stack([b[0] for b in bs])
    Y = torch.stack([b[1] for b in bs])

    def step():
        _, _, grads = stacked_step(leaves, X, Y, mode)
        grads = [g.clone() for g in grads]
        clip_per_copy(grads, MAX_NORM)
        for p, g in zip(leaves, grads):
            p.grad = g
        opt.step()
    return step


SHAPES = [("MNIST-1D-like", 100, 1, 40), ("JapaneseVowels-like", 30, 12, 26)]
KT = 8
REPS = 5


def native_timing(reps):
    out = {}
    for name, B, C, L in SHAPES:
        out[name] = time_it(separate_step_fn(KT, B, C, L), reps)
    return out


def load():
    return open("/proc/loadavg").read().split()[:3]


def main():
    if MODE == "native":
        print(json.dumps(native_timing(int(sys.argv[2]) if len(sys.argv) > 2 else 5)))
        return
    print(f"torch {torch.__version__}, cpu capability {torch.backends.cpu.get_cpu_capability()}, "
          f"mkldnn enabled {torch.backends.mkldnn.enabled}, threads {torch.get_num_threads()}, "
          f"MKL_CBWR={os.environ.get('MKL_CBWR')}, ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA')}")
    K, B, C, L = 4, 100, 1, 40
    ps = [make_copy(k, C) for k in range(K)]
    batches = [make_batches(k, 21, B, C, L) for k in range(K)]
    P = [torch.stack([ps[k][j] for k in range(K)]) for j in range(len(ps[0]))]
    X = torch.stack([batches[k][0][0] for k in range(K)])
    Y = torch.stack([batches[k][0][1] for k in range(K)])

    # 0. what ATen recorded for one separate run (per-layer calls), and per-layer = fused layers
    leaves = [p.clone().requires_grad_() for p in ps[0]]
    loss0, _ = ref_forward(leaves, X[0], Y[0])
    ops = graph_ops(loss0)
    print("\nautograd nodes of one separate run (2 layers, L=40):")
    print("  " + ", ".join(f"{n} {c}" for n, c in sorted(ops.items())))
    print(f"  layer-1 input [L,B,C] contiguous per copy: "
          f"{X[0].transpose(1, 2).transpose(0, 1).is_contiguous()} (-> at::linear takes matmul + add_)")
    refs = [ref_step(ps[k], X[k], Y[k]) for k in range(K)]
    fused = [ref_step(ps[k], X[k], Y[k], fused_layers=True) for k in range(K)]
    same = all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
               and all(torch.equal(p, q) for p, q in zip(a[2], b[2])) for a, b in zip(refs, fused))
    print(f"  one _VF.lstm call per layer == one call with num_layers=2 (loss, logits, grads): {same}")

    # 1-2. one step, stacked vs separate
    sa = stacked_step(P, X, Y, "a")
    rows_a = compare(refs, sa)
    show("(a) plain autograd through the stacked ops, K=4, B=100, L=40, C=1, H=128:", rows_a)
    sb = stacked_step(P, X, Y, "b", "reverse")
    rows_b = compare(refs, sb)
    show("(b) autograd to the gate pre-activations, weight/bias grads manual (g^T h per step, "
         "summed t=L-1 down to 0):", rows_b)
    sbf = stacked_step(P, X, Y, "b", "forward")
    rows_bf = compare(refs, sbf)
    bad_bf = [f"{n} ({d:.1e})" for n, eq, d in rows_bf if not eq]
    print("\n(b') as (b) but the per-step terms summed t=0 up to L-1: "
          + ("also all bit-identical" if not bad_bf else "differs for " + ", ".join(bad_bf))
          + " -> the separate run's autograd sums the steps' terms from the last step back")

    # the same one-step check at K=8 on both timing workloads
    for name, Bt, Ct, Lt in SHAPES:
        pk = [make_copy(k, Ct) for k in range(KT)]
        bk = [make_batches(k, 1, Bt, Ct, Lt)[0] for k in range(KT)]
        Pk = [torch.stack([pk[k][j] for k in range(KT)]) for j in range(len(pk[0]))]
        Xk = torch.stack([b[0] for b in bk])
        Yk = torch.stack([b[1] for b in bk])
        rk = [ref_step(pk[k], bk[k][0], bk[k][1]) for k in range(KT)]
        for mode in ["a", "b"]:
            rows = compare(rk, stacked_step(Pk, Xk, Yk, mode))
            bad = [f"{n} ({d:.1e})" for n, eq, d in rows if not eq]
            print(f"\n({mode}) K={KT}, {name} B={Bt} L={Lt} C={Ct}: loss, logits and all 10 gradients "
                  + ("bit-identical for every copy" if not bad else "differ: " + ", ".join(bad)))

    # diagnostics: the single ops behind any difference
    print("\nop-level checks (copy 0's slice of the batched op vs the separate op):")
    g = torch.Generator().manual_seed(7)
    Kd, Hd = 4, HIDDEN
    h = torch.randn(Kd, B, Hd, generator=g)
    gg = torch.randn(Kd, B, 4 * Hd, generator=g)
    W = torch.randn(Kd, 4 * Hd, Hd, generator=g)
    bb = torch.randn(Kd, 4 * Hd, generator=g)
    chk = {
        "baddbmm(b,h,W^T) vs addmm": (torch.baddbmm(bb.unsqueeze(1), h, W.transpose(1, 2))[0],
                                      torch.addmm(bb[0], h[0], W[0].t())),
        "bmm backward (h^T g)^T vs addmm's g^T h": (h.transpose(1, 2).bmm(gg).transpose(1, 2)[0],
                                                   gg[0].t().mm(h[0])),
        "bmm g^T h vs mm g^T h": (gg.transpose(1, 2).bmm(h)[0], gg[0].t().mm(h[0])),
        "bmm g W vs mm g W (grad of h)": (gg.bmm(W)[0], gg[0].mm(W[0])),
        "sum over B [K,B,4H] dim 1 vs [B,4H] dim 0": (gg.sum(1)[0], gg[0].sum(0)),
        "head: bmm g^T h, 10 classes, vs mm": (gg[:, :, :10].contiguous().transpose(1, 2).bmm(h)[0],
                                               gg[0, :, :10].contiguous().t().mm(h[0])),
        "head: (h^T g)^T, 10 classes, vs g^T h": (h.transpose(1, 2).bmm(gg[:, :, :10].contiguous())
                                                  .transpose(1, 2)[0],
                                                  gg[0, :, :10].contiguous().t().mm(h[0])),
        "one bmm over all steps vs sum of steps": (None, None),
    }
    # W_hh gradient as ONE bmm over all L*B rows (the fast form) vs the per-step sum
    gs_all = torch.randn(Kd, L, B, 4 * Hd, generator=g)
    hs_all = torch.randn(Kd, L, B, Hd, generator=g)
    one = gs_all.reshape(Kd, L * B, -1).transpose(1, 2).bmm(hs_all.reshape(Kd, L * B, -1))[0]
    per = fold([gs_all[0, t].t().mm(hs_all[0, t]) for t in range(L)], list(range(L - 1, -1, -1)))
    chk["one bmm over all steps vs sum of steps"] = (one, per)
    # the layer-1 input weight at C=12 (JapaneseVowels): bmm's backward (x^T g)^T vs addmm's g^T x
    x12 = torch.randn(Kd, 26 * 30, 12, generator=g)
    g12 = torch.randn(Kd, 26 * 30, 4 * Hd, generator=g)
    chk["w_ih C=12: (x^T g)^T (bmm bwd) vs g^T x (mm bwd)"] = (
        x12.transpose(1, 2).bmm(g12).transpose(1, 2)[0], g12[0].t().mm(x12[0]))
    chk["w_ih C=12: bmm g^T x vs mm g^T x"] = (g12.transpose(1, 2).bmm(x12)[0], g12[0].t().mm(x12[0]))
    for n, (a, b_) in chk.items():
        print(f"  {n:<50} identical {str(torch.equal(a, b_)):<5} max |diff| {(a - b_).abs().max().item():.2e}")

    if MODE == "check":  # one step only (development)
        return

    # 3. 20 Adam steps
    print(f"\n20 Adam steps (lr 1e-3), clip_grad_norm_ at {MAX_NORM} per copy, each copy its own batches:")
    trained, norms = [], []
    for k in range(K):
        w, n = ref_train(ps[k], batches[k][1:])
        trained.append(w)
        norms.append(n)
    print(f"  separate runs' total grad norms: min {min(min(n) for n in norms):.3f}, "
          f"max {max(max(n) for n in norms):.3f} (clipping active on "
          f"{sum(x > MAX_NORM for n in norms for x in n)}/{20 * K} copy-steps)")
    train_rows = []
    for mode in ["a", "b"]:
        for cname, clip in [("repro clip_norm_per_copy", clip_per_copy),
                            ("clip_grad_norm_ per slice", clip_per_copy_slices)]:
            sw = stacked_train(P, [b[1:] for b in batches], mode, clip)
            eq = all(torch.equal(sw[j][k], trained[k][j]) for k in range(K) for j in range(len(NAMES)))
            d = max((sw[j][k] - trained[k][j]).abs().max().item() for k in range(K) for j in range(len(NAMES)))
            train_rows.append((mode, cname, eq, d))
            print(f"  stacked ({mode}), {cname:<26}: weights after 20 steps bit-identical {eq}, "
                  f"max |diff| {d:.3e}")

    # the same with clipping active on every step (max norm 0.05, below every copy's norm)
    trained05, norms05 = zip(*[ref_train(ps[k], batches[k][1:], 0.05) for k in range(K)])
    active = sum(x > 0.05 for n in norms05 for x in n)
    for mode in ["a", "b"]:
        for cname, clip in [("repro clip_norm_per_copy", clip_per_copy),
                            ("clip_grad_norm_ per slice", clip_per_copy_slices)]:
            sw = stacked_train(P, [b[1:] for b in batches], mode, clip, 0.05)
            eq = all(torch.equal(sw[j][k], trained05[k][j]) for k in range(K) for j in range(len(NAMES)))
            d = max((sw[j][k] - trained05[k][j]).abs().max().item() for k in range(K) for j in range(len(NAMES)))
            print(f"  max norm 0.05 (clipping active on {active}/{20 * K}): stacked ({mode}), {cname:<26}: "
                  f"bit-identical {eq}, max |diff| {d:.3e}")

    # 4. timing
    print(f"\ntiming, one training step (forward+backward+clip+Adam), K={KT}, 1 thread, median of {REPS} after one warm-up:")
    print(f"  load average before: {' '.join(load())} (2 cores; two nice-19 audit workers running)")
    res = {}
    for name, Bt, Ct, Lt in SHAPES:
        res[name] = dict(
            sep=time_it(separate_step_fn(KT, Bt, Ct, Lt), REPS),
            sta=time_it(stacked_step_fn(KT, Bt, Ct, Lt, "a"), REPS),
            stb=time_it(stacked_step_fn(KT, Bt, Ct, Lt, "b"), REPS),
        )
    env = {k: v for k, v in os.environ.items()
           if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")}
    nat = json.loads(subprocess.run([sys.executable, __file__, "native", str(REPS)], env=env, check=True,
                                    capture_output=True, text=True).stdout)
    print(f"  load average after: {' '.join(load())}")
    print(f"  {'workload':<40} {'8 sep portable':>15} {'stacked (a)':>12} {'stacked (b)':>12} "
          f"{'8 sep native':>13}")
    for name, Bt, Ct, Lt in SHAPES:
        r = res[name]
        print(f"  {name + f' B={Bt} L={Lt} C={Ct} H={HIDDEN}':<40} {r['sep'] * 1e3:>12.0f} ms "
              f"{r['sta'] * 1e3:>9.0f} ms {r['stb'] * 1e3:>9.0f} ms {nat[name] * 1e3:>10.0f} ms")
    for name, *_ in SHAPES:
        r = res[name]
        print(f"  {name}: stacked (b) vs 8 separate portable {r['sep'] / r['stb']:.2f}x, "
              f"vs 8 separate native {nat[name] / r['stb']:.2f}x (>1 = stacking faster)")


if __name__ == "__main__":
    main()
