"""PyTorch eager side of `benches/train_step.rs`: the same MNIST-1D step, same batch, one thread.

Prints `model  median µs/step` so `make bench` can set it next to criterion's numbers.
Usage: .venv/bin/python benches/pytorch_eager.py
"""
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, "scripts")
from gen_golden import CNN, GRU, MLP, Linear  # noqa: E402  (the paper's models)


def main():
    torch.set_num_threads(1)
    # repro trains with deterministic algorithms on; so does this side.
    torch.use_deterministic_algorithms(True)
    d = np.load("data/mnist1d.npz")
    xb = torch.from_numpy(d["x"][:100]).unsqueeze(1)
    yb = torch.from_numpy(d["y"][:100])
    for name, cls in [("logistic", Linear), ("mlp", MLP), ("cnn", CNN), ("gru", GRU)]:
        torch.manual_seed(0)
        model = cls()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)

        def step():
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

        for _ in range(50):
            step()
        samples = []
        for _ in range(30):
            n = 50
            t = time.perf_counter()
            for _ in range(n):
                step()
            samples.append((time.perf_counter() - t) / n)
        print(f"pytorch-eager  {name:<9} {np.median(samples) * 1e6:9.1f} µs/step")


if __name__ == "__main__":
    main()
