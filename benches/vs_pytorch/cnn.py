"""PyTorch eager side of cnn.yaml: the MNIST-1D CNN (greydanus/mnist1d models.py, the class
scripts/gen_golden.py checks repro's CNN against), the paper's protocol: Adam 1e-2, batches
of 100 in order, 6001 steps, the test split evaluated every 250 steps, last checkpoint.

Usage: .venv/bin/python benches/vs_pytorch/cnn.py [--steps N] [--threads T]  (one JSON line)
"""
from common import load_mnist1d, main
from gen_golden import CNN

CONFIG = {
    "optimizer": "adam", "lr": 1e-2, "eps": 1e-8, "weight_decay": 0.0, "batch_size": 100,
    "steps": 6001, "order": "sequential", "eval_every": 250, "clip_grad_norm": None,
    "schedule": {"kind": "constant"}, "selection": "last", "normalize": "none",
    "threads": 1, "seed": 42,
}

if __name__ == "__main__":
    # PyTorch's default initialisation (`init: torch`), drawn in the order repro draws it.
    main("cnn", CONFIG, load_mnist1d, CNN)
