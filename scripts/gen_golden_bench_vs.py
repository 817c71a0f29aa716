"""Golden numbers of the side-by-side benchmark's PyTorch half, for tests/it/bench_vs.rs.

`make bench-vs` compares repro with PyTorch scripts (benches/vs_pytorch/) that must train the
same work. Two things there are replayed by hand rather than shared, and this script records
them so that the test can check repro against them:
- `orders`: the batches `common.Batches` gives (repro's SplitMix64 Fisher-Yates per epoch, or
  sequential cuts) for a few (order, seed, n, batch, steps); repro's
  `train::order::batch_indices` must give the same.
- `init`: each workload's initial weights as its script draws them after
  `torch.manual_seed(seed)` (PyTorch's default initialisation for the CNN and GRU, repro's
  Xavier-and-orthogonal order for the LSTM and FCN), per variable under repro's name: shape,
  sum, sum of squares and the first 8 values; repro's model built under the same seed must
  match to 1e-6.

Usage: .venv/bin/python scripts/gen_golden_bench_vs.py > tests/golden/bench_vs.json
"""
import json
import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benches" / "vs_pytorch"))
from common import Batches  # noqa: E402
from cnn import CNN  # noqa: E402
from fcn import FCN  # noqa: E402
from gru import GRU  # noqa: E402
from lstm import LSTM  # noqa: E402

ORDERS = [
    # MNIST-1D as the LSTM workload takes it: 4000 series in 100s, into the second epoch.
    {"order": "shuffle", "seed": 42, "n": 4000, "batch": 100, "steps": 45},
    # GunPoint as the FCN workload takes it: 50 series in 5s, three epochs.
    {"order": "shuffle", "seed": 0, "n": 50, "batch": 5, "steps": 30},
    # A short last batch in every epoch, and a negative seed (two's complement, as `seed as u64`).
    {"order": "shuffle", "seed": -3, "n": 10, "batch": 4, "steps": 7},
    # The paper's sequential cuts, with a short batch at the end of the split.
    {"order": "sequential", "seed": 42, "n": 10, "batch": 4, "steps": 6},
]

# workload: (model class, seed of its spec, the script's variable names → repro's)
MODELS = {
    "cnn": (CNN, 42, [(r"^conv(\d)\.", lambda m: f"conv{int(m[1]) - 1}."), (r"^linear\.", "out.")]),
    "gru": (GRU, 42, [(r"^gru\.", "rnn."), (r"^linear\.", "out.")]),
    "lstm": (LSTM, 42, []),
    "fcn": (FCN, 0, [(r"^body\.(\d+)\.", lambda m: f"{'conv' if int(m[1]) % 3 == 0 else 'bn'}{int(m[1]) // 3}.")]),
}


def repro_name(name, renames):
    for pattern, to in renames:
        name = re.sub(pattern, to, name)
    return name


def initial_weights(cls, seed, renames):
    torch.manual_seed(seed)
    model = cls()
    return {repro_name(k, renames): {"shape": list(p.shape), "sum": p.double().sum().item(),
                                     "sum_sq": p.double().square().sum().item(),
                                     "head": p.flatten()[:8].tolist()}
            for k, p in model.named_parameters()}


def main():
    orders = []
    for c in ORDERS:
        b = Batches(c["order"], c["seed"], c["n"], c["batch"])
        orders.append({**c, "batches": [b.indices(step) for step in range(c["steps"])]})
    torch.set_num_threads(1)
    init = {name: {"seed": seed, "variables": initial_weights(cls, seed, renames)}
            for name, (cls, seed, renames) in MODELS.items()}
    json.dump({"generator": "scripts/gen_golden_bench_vs.py", "torch": torch.__version__,
               "orders": orders, "init": init}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
