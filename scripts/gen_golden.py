"""Golden trajectories from PyTorch for tests/it/golden.rs.

Trains the four MNIST-1D models exactly as greydanus/mnist1d (models.py, train.py) does:
PyTorch default init after torch.manual_seed(seed), Adam(lr 1e-2), batches of 100 taken in
order, cross-entropy. Records curve points every EVAL_EVERY steps: mean train loss over the
window, test loss and test accuracy. repro must match these to ~1e-4 (same libtorch, same RNG).

Usage: .venv/bin/python scripts/gen_golden.py > tests/golden/mnist1d_pytorch.json
"""
import json
import sys

import numpy as np
import torch
import torch.nn as nn

EVAL_EVERY, SEED, LR, BATCH = 40, 7, 1e-2, 100
STEPS = {"logistic": 320, "mlp": 320, "cnn": 120, "gru": 320}


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(40, 10)

    def forward(self, x):
        return self.linear(x.flatten(1))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1, self.linear2, self.linear3 = nn.Linear(40, 100), nn.Linear(100, 100), nn.Linear(100, 10)

    def forward(self, x):
        h = self.linear1(x.flatten(1)).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 25, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.linear = nn.Linear(125, 10)

    def forward(self, x):
        h = self.conv3(self.conv2(self.conv1(x).relu()).relu()).relu()
        return self.linear(h.flatten(1))


class GRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(1, 6, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(40 * 12, 10)

    def forward(self, x):
        h0 = torch.zeros(2, x.shape[0], 6)
        out, _ = self.gru(x.transpose(1, 2), h0)
        return self.linear(out.flatten(1))


def run(model_cls, steps, data):
    torch.manual_seed(SEED)
    model = model_cls()
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=0.0)
    x, y, xt, yt = data
    curve, window = [], []
    for step in range(steps):
        start = (step * BATCH) % len(x)
        loss = nn.functional.cross_entropy(model(x[start:start + BATCH]), y[start:start + BATCH])
        window.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % EVAL_EVERY == 0:
            with torch.no_grad():
                logits = model(xt)
                curve.append({
                    "step": step + 1,
                    "train_loss": float(np.mean(window)),
                    "eval_loss": nn.functional.cross_entropy(logits, yt).item(),
                    "eval_accuracy": (logits.argmax(-1) == yt).float().mean().item(),
                })
            window = []
    params = sum(p.numel() for p in model.parameters())
    return {"params": params, "steps": steps, "curve": curve}


def main():
    torch.set_num_threads(1)
    d = np.load("data/mnist1d.npz")
    data = (torch.from_numpy(d["x"]).unsqueeze(1), torch.from_numpy(d["y"]),
            torch.from_numpy(d["x_test"]).unsqueeze(1), torch.from_numpy(d["y_test"]))
    out = {
        "generator": "scripts/gen_golden.py",
        "torch": torch.__version__,
        "seed": SEED, "eval_every": EVAL_EVERY, "lr": LR, "batch_size": BATCH,
        "arms": {name: run(cls, STEPS[name], data) for name, cls in
                 [("logistic", Linear), ("mlp", MLP), ("cnn", CNN), ("gru", GRU)]},
    }
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
