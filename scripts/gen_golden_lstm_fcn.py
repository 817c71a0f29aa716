"""Golden numbers of LSTM-FCN (Karim et al. 2017, arXiv:1709.05206) for tests/it/lstm_fcn.rs.

The model as the official Keras code builds it (titu1994/LSTM-FCN, `generate_lstmfcn`), written in
PyTorch with repro's variable names and in the official layer order, which is the order PyTorch
draws the initial weights in:

    lstm.rnn  nn.LSTM(L, cells, batch_first=True) over the dimension-shuffled input: the
              [B, C, L] batch read as C steps of L features; its last output, dropout 0.8
    fcn       conv0 (128, k8, same) bn0 relu, conv1 (256, k5) bn1 relu, conv2 (128, k3) bn2
              relu, global average pooling
    out       nn.Linear(cells + 128, classes) on the concatenation [lstm, fcn]

`same` padding puts the odd zero on the right (as Keras and repro do). For each case:
torch.manual_seed(0) then the model is built (its initial state is stored: repro must draw the
same under the same seed: its first values, sums and sums of squares are stored), then with torch.manual_seed(1) one training-mode forward pass (the
dropout mask comes from the generator) with its cross-entropy loss, one Adam step (lr 1e-3), and
the evaluation-mode logits after the step (running statistics updated by the training pass).

Cases (each with the sum of its input, `x_sum`): the first 16 series of GunPoint's training split as stored (a real batch, univariate, one
LSTM step of 150 features; the paper's FCN widths and 8 cells) and a random 3-channel batch
(three LSTM steps) with narrow layers, drawn from `torch.Generator().manual_seed(5)`
(stored as `x`).

Usage: .venv/bin/python scripts/gen_golden_lstm_fcn.py > tests/golden/lstm_fcn_pytorch.json
"""
import json
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent


def read_ts(path, n):
    """The first `n` univariate series of a `.ts` file and their class indices."""
    rows, labels, classes, data = [], [], None, False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("@classlabel"):
            classes = line.split()[2:]
        elif line.lower() == "@data":
            data = True
        elif data:
            *values, label = line.split(":")
            rows.append([float(v) for v in values[0].split(",")])
            labels.append(classes.index(label))
            if len(rows) == n:
                break
    return torch.tensor(rows).unsqueeze(1), torch.tensor(labels)


class Same(nn.Module):
    """Conv1d with `same` padding, the odd zero on the right."""

    def __init__(self, c_in, c_out, k):
        super().__init__()
        self.k = k
        self.conv = nn.Conv1d(c_in, c_out, k)

    def forward(self, x):
        left = (self.k - 1) // 2
        return self.conv(F.pad(x, (left, self.k - 1 - left)))


class LstmBranch(nn.Module):
    def __init__(self, length, cells):
        super().__init__()
        self.rnn = nn.LSTM(length, cells, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0][:, -1]  # x [B, C, L] is already C steps of L features


class Fcn(nn.Module):
    def __init__(self, c_in, channels, kernel):
        super().__init__()
        for i, (c_out, k) in enumerate(zip(channels, kernel)):
            self.add_module(f"conv{i}", Same(c_in, c_out, k))
            self.add_module(f"bn{i}", nn.BatchNorm1d(c_out))
            c_in = c_out
        self.layers = len(channels)

    def forward(self, x):
        for i in range(self.layers):
            x = getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)).relu()
        return x.mean(2)


class LstmFcn(nn.Module):
    def __init__(self, channels_in, length, classes, cells, channels, kernel, dropout):
        super().__init__()
        self.lstm = LstmBranch(length, cells)
        self.fcn = Fcn(channels_in, channels, kernel)
        self.out = nn.Linear(cells + channels[-1], classes)
        self.dropout = dropout

    def forward(self, x):
        lstm = F.dropout(self.lstm(x), self.dropout, self.training)
        return self.out(torch.cat([lstm, self.fcn(x)], 1))


def state(model):
    """Each variable under repro's name (`conv{i}.conv.weight` is `conv{i}.weight`; no batch
    counters) as its first 8 values, its sum and its sum of squares: enough to show the same
    draws without storing 270,000 numbers."""
    return {k.replace(".conv.", "."): {"head": v.flatten()[:8].tolist(), "sum": v.double().sum().item(),
                                       "sumsq": v.double().square().sum().item()}
            for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def run(name, x, y, classes, cells, channels, kernel):
    torch.manual_seed(0)
    model = LstmFcn(x.shape[1], x.shape[2], classes, cells, channels, kernel, 0.8)
    initial = state(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.manual_seed(1)
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    return {"name": name, "batch": x.shape[0], "channels": x.shape[1], "length": x.shape[2],
            "classes": classes, "cells": cells, "fcn_channels": channels, "kernel": kernel,
            "params": sum(p.numel() for p in model.parameters()),
            "x_sum": x.double().sum().item(), "y": y.tolist(), "state": initial,
            "train_logits": logits.detach().flatten().tolist(), "train_loss": loss.item(),
            "eval_logits_after_step": eval_logits.flatten().tolist()}


def main():
    torch.set_num_threads(1)
    x, y = read_ts(ROOT / "data/ucr/GunPoint/GunPoint_TRAIN.ts", 16)
    cases = [run("gunpoint", x, y, 2, 8, [128, 256, 128], [8, 5, 3])]
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 3, 20, generator=g)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    cases.append({**run("three_channels", x, y, 4, 5, [6, 7, 5], [4, 3, 2]), "x": x.flatten().tolist()})
    json.dump({"generator": "scripts/gen_golden_lstm_fcn.py", "torch": torch.__version__,
               "cases": cases}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
