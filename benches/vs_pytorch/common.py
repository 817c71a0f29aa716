"""The PyTorch half of the side-by-side benchmark: what every workload script shares.

Each workload script (cnn.py, gru.py, lstm.py, fcn.py) defines its model and hyper-parameters
and calls `main`; this module loads the data as repro does, replays repro's batch order,
trains with repro's loop (src/train/run.rs) written the way a PyTorch user writes it, times it
and prints one JSON line. What repro does, step for step:

- threads: `torch.set_num_threads(threads)`, one inter-op thread, deterministic algorithms on
  (`provenance::configure`);
- the model is built after `torch.manual_seed(seed)`, weights drawn in repro's order (see each
  script's `build`), so under the same seed both sides start from the same weights;
- batch k: `sequential` takes x[(b k) mod n :][:b] (a short batch at the end of the split);
  `shuffle` a fresh Fisher-Yates permutation of the training split per epoch from SplitMix64
  seeded with `seed ^ 0xBA7C0D3E5EED0001` (src/train/order.rs), the epoch's last batch short;
- each step: the learning rate of the schedule, forward, cross-entropy, the loss read back
  (repro checks every loss for NaN/Inf), zero grads, backward, clipping, the update;
- every `eval_every` steps and after the last: the test split without autograd in evaluation
  mode (chunks of 1024), the curve point (mean training loss since the last point, test loss
  and accuracy), the plateau schedule fed the training loss, the selection protocol's copy of
  the best weights (`min-train-loss`);
- at the end: the selected weights restored and the final test metrics.

Timed (`train_s`): from the tensors in memory to the final metrics, as repro's `wall_time_s`
(src/runner/mod.rs): preprocessing, model build, the step loop with its evaluations, the final
evaluation. Not timed: interpreter and torch start-up, reading the data files.
"""
import argparse
import copy
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))  # gen_golden.py: the MNIST-1D models

MASK = (1 << 64) - 1
# src/train/order.rs: the batch-order stream's constant, mixed into the run seed.
ORDER_STREAM = 0xBA7C0D3E5EED0001
EVAL_CHUNK = 1024
# `padding="same"` with an even kernel (the FCN's 8) pads a copy of the input, as repro's
# asymmetric `same` padding does too; PyTorch warns about it on every call.
warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")


class SplitMix64:
    """src/rng.rs (scripts/gen_golden_budget.py has the same generator, but runs on import)."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next_u64() % max(n, 1)


def set_threads(threads):
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)


def load_mnist1d(data_dir):
    """`data/mnist1d.npz` as repro reads it: x [N, 1, 40] float32, integer labels."""
    d = np.load(Path(data_dir) / "mnist1d.npz")
    to_x = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).unsqueeze(1)  # noqa: E731
    to_y = lambda a: torch.from_numpy(np.asarray(a, dtype=np.int64))  # noqa: E731
    return to_x(d["x"]), to_y(d["y"]), to_x(d["x_test"]), to_y(d["y_test"])


def read_ts(path):
    """A univariate, equal-length UCR `.ts` file: (values [N, L], labels as strings, the
    header's class labels in declaration order)."""
    rows, labels, classes = [], [], None
    in_data = False
    for line_no, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            low = line.lower()
            if low.startswith("@classlabel"):
                classes = line.split()[2:]
            elif low.startswith("@data"):
                in_data = True
            continue
        values, sep, label = line.rpartition(":")
        if not sep or ":" in values:
            raise SystemExit(f"{path}:{line_no}: expected one univariate series `v1,...,vL:label`")
        rows.append([float(v) for v in values.split(",")])
        labels.append(label.strip())
    if classes is None:
        raise SystemExit(f"{path}: no `@classLabel true ...` header line")
    return rows, labels, classes


def load_ucr(data_dir, name):
    """`data/ucr/<name>/<name>_{TRAIN,TEST}.ts`: x [N, 1, L] float32, labels indexed in the
    order of the training file's `@classLabel` line (as repro's `.ts` loader does)."""
    base = Path(data_dir) / "ucr" / name
    out = []
    classes = None
    for split in ("TRAIN", "TEST"):
        rows, labels, declared = read_ts(base / f"{name}_{split}.ts")
        classes = classes or declared
        index = {c: i for i, c in enumerate(classes)}
        out.append(torch.tensor(rows, dtype=torch.float32).unsqueeze(1))
        out.append(torch.tensor([index[label] for label in labels], dtype=torch.int64))
    return tuple(out)


def normalize_dataset(x, x_test):
    """`data: { normalize: dataset }`: one mean and (population) sd per channel from the
    training split, applied to both splits (src/data/prep.rs `channel_stats`)."""
    mean = x.mean(dim=(0, 2), keepdim=True)
    sd = ((x - mean).square().mean(dim=(0, 2), keepdim=True)).sqrt()
    sd = torch.where(sd > 1e-8, sd, torch.ones_like(sd))
    return (x - mean) / sd, (x_test - mean) / sd


class Batches:
    """repro's batch order (src/train/order.rs), step by step."""

    def __init__(self, order, seed, n, batch):
        self.order, self.n, self.batch = order, n, max(1, min(batch, n))
        self.rng = SplitMix64((seed & MASK) ^ ORDER_STREAM)
        self.epoch = None

    def next_epoch(self):
        perm = list(range(self.n))
        for i in range(self.n - 1, 0, -1):
            j = self.rng.below(i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        return perm

    def indices(self, step):
        n, b = self.n, self.batch
        if self.order == "sequential":
            start = (step * b) % n
            return list(range(start, start + min(b, n - start)))
        per_epoch = (n + b - 1) // b
        k = step % per_epoch
        if k == 0 or self.epoch is None:
            self.epoch = self.next_epoch()
        return self.epoch[k * b:min(k * b + b, n)]

    def slice(self, step, x, y):
        """Batch `step`: a contiguous view in order, a gather when shuffled."""
        idx = self.indices(step)
        if self.order == "sequential":
            return x[idx[0]:idx[0] + len(idx)], y[idx[0]:idx[0] + len(idx)]
        idx = torch.tensor(idx, dtype=torch.int64)
        return x.index_select(0, idx), y.index_select(0, idx)


def evaluate(model, x, y):
    """Test loss and accuracy, without autograd, in evaluation mode."""
    model.eval()
    with torch.no_grad():
        loss_sum, correct = 0.0, 0
        for start in range(0, len(x), EVAL_CHUNK):
            logits = model(x[start:start + EVAL_CHUNK])
            yb = y[start:start + EVAL_CHUNK]
            loss_sum += F.cross_entropy(logits, yb).item() * len(yb)
            correct += (logits.argmax(-1) == yb).sum().item()
    model.train()
    return loss_sum / len(x), correct / len(x)


def train(cfg, build, data):
    """Trains `build()`'s model on `data` = (x, y, x_test, y_test) as `cfg` says; the timed
    part. Returns (seconds, result dict)."""
    start = time.perf_counter()
    x, y, x_test, y_test = data
    if cfg["normalize"] == "dataset":
        x, x_test = normalize_dataset(x, x_test)
    torch.manual_seed(cfg["seed"])
    model = build()
    params = model.parameters()
    fused = cfg["fused"] or None  # None: PyTorch's default (single-tensor on CPU)
    if cfg["optimizer"] == "adam":
        opt = torch.optim.Adam(params, lr=cfg["lr"], eps=cfg["eps"], weight_decay=cfg["weight_decay"], fused=fused)
    elif cfg["optimizer"] == "adamw":
        opt = torch.optim.AdamW(params, lr=cfg["lr"], eps=cfg["eps"], weight_decay=cfg["weight_decay"], fused=fused)
    else:
        raise SystemExit(f"optimizer {cfg['optimizer']!r} is not in this benchmark")
    schedule = cfg["schedule"]
    sched = None
    if schedule["kind"] == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=schedule["t_max"])
    elif schedule["kind"] == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=schedule["factor"], patience=schedule["patience"],
            threshold=schedule["threshold"], threshold_mode=schedule["threshold_mode"],
            min_lr=schedule["min_lr"])
    batches = Batches(cfg["order"], cfg["seed"], len(x), cfg["batch_size"])
    steps, every, clip = cfg["steps"], cfg["eval_every"], cfg["clip_grad_norm"]
    curve, window, best, done = [], [], None, 0
    model.train()
    for step in range(steps):
        xb, yb = batches.slice(step, x, y)
        loss = F.cross_entropy(model(xb), yb)
        value = loss.item()
        if not math.isfinite(value):
            break
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if schedule["kind"] == "cosine":
            sched.step()
        window.append(value)
        done = step + 1
        if done % every == 0 or done == steps:
            lr = opt.param_groups[0]["lr"]
            eval_loss, eval_acc = evaluate(model, x_test, y_test)
            train_loss = sum(window) / len(window)
            window = []
            curve.append({"step": done, "train_loss": train_loss, "eval_loss": eval_loss,
                          "eval_accuracy": eval_acc, "lr": lr})
            if schedule["kind"] == "plateau":
                sched.step(train_loss)
            if cfg["selection"] == "min-train-loss" and (best is None or train_loss < best[0]):
                best = (train_loss, done, copy.deepcopy(model.state_dict()))
    selected = done
    if best is not None:
        model.load_state_dict(best[2])
        selected = best[1]
    test_loss, test_acc = evaluate(model, x_test, y_test)
    seconds = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters())
    return seconds, {"steps": done, "selected_step": selected, "params": params,
                     "test_accuracy": test_acc, "test_loss": test_loss, "test_size": len(x_test),
                     "curve": curve}


def main(name, cfg, load, build):
    """Command line of a workload script: its defaults are the repro spec beside it; the
    runner passes the steps, evaluation cadence, threads, seed and fused optimizer step of the
    repro run it pairs with (`--steps`, `--eval-every`, `--t-max`, `--threads`, `--seed`,
    `--fused`)."""
    p = argparse.ArgumentParser(description=f"PyTorch eager side of benches/vs_pytorch/{name}.yaml")
    p.add_argument("--steps", type=int, default=cfg["steps"])
    p.add_argument("--eval-every", type=int, default=cfg["eval_every"])
    p.add_argument("--t-max", type=int, default=cfg["schedule"].get("t_max"))
    p.add_argument("--threads", type=int, default=cfg["threads"])
    p.add_argument("--seed", type=int, default=cfg["seed"])
    p.add_argument("--data-dir", default=str(ROOT / "data"))
    p.add_argument("--fused", action="store_true", help="Adam/AdamW with fused=True")
    a = p.parse_args()
    cfg = dict(cfg, steps=a.steps, eval_every=a.eval_every, threads=a.threads, seed=a.seed,
               fused=a.fused)
    if cfg["schedule"]["kind"] == "cosine":
        cfg["schedule"] = dict(cfg["schedule"], t_max=a.t_max)
    set_threads(cfg["threads"])
    t0 = time.perf_counter()
    data = load(a.data_dir)
    load_s = time.perf_counter() - t0
    seconds, result = train(cfg, build, data)
    print(json.dumps({"side": "pytorch", "workload": name, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "load_s": load_s, "train_s": seconds,
                      "config": cfg, **result}))
