"""PyTorch eager side of gru.yaml: the MNIST-1D GRU (greydanus/mnist1d models.py: one
bidirectional GRU layer of hidden 6, its 40 steps' outputs flattened into a linear classifier;
the class scripts/gen_golden.py checks repro's GRU against), the paper's protocol: Adam 1e-2,
batches of 100 in order, 6001 steps, the test split evaluated every 250 steps.

Usage: .venv/bin/python benches/vs_pytorch/gru.py [--steps N] [--threads T]  (one JSON line)
"""
from common import load_mnist1d, main
from gen_golden import GRU

CONFIG = {
    "optimizer": "adam", "lr": 1e-2, "eps": 1e-8, "weight_decay": 0.0, "batch_size": 100,
    "steps": 6001, "order": "sequential", "eval_every": 250, "clip_grad_norm": None,
    "schedule": {"kind": "constant"}, "selection": "last", "normalize": "none",
    "threads": 1, "seed": 42,
}

if __name__ == "__main__":
    main("gru", CONFIG, load_mnist1d, GRU)
