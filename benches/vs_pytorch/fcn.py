"""PyTorch eager side of fcn.yaml: the FCN of Wang, Yan & Oates 2017 (conv 128-256-128,
kernels 8/5/3, `same` padding, batch norm and ReLU after each, global average pooling, a linear
classifier) on GunPoint z-normalised with the training set's mean and sd; Xavier weights, zero
biases; Adam 1e-3 (eps 1e-7), batches of 5 shuffled, 150 epochs, one evaluation per epoch, the
learning rate halved when the training loss stalls for 50 epochs, the checkpoint with the lowest
training loss.

Usage: .venv/bin/python benches/vs_pytorch/fcn.py [--steps N] [--threads T]  (one JSON line)
"""
import math

import torch
import torch.nn as nn

from common import load_ucr, main

CHANNELS, KERNELS, CLASSES = [128, 256, 128], [8, 5, 3], 2
CONFIG = {
    "optimizer": "adam", "lr": 1e-3, "eps": 1e-7, "weight_decay": 0.0, "batch_size": 5,
    "steps": 1500, "order": "shuffle", "eval_every": 10, "clip_grad_norm": None,
    "schedule": {"kind": "plateau", "factor": 0.5, "patience": 49, "min_lr": 1e-4,
                 "threshold": 1e-4, "threshold_mode": "abs"},
    "selection": "min-train-loss", "normalize": "dataset", "threads": 1, "seed": 0,
}


class FCN(nn.Module):
    def __init__(self):
        super().__init__()
        layers, c_in = [], 1
        for c_out, k in zip(CHANNELS, KERNELS):
            layers += [nn.Conv1d(c_in, c_out, k, padding="same"), nn.BatchNorm1d(c_out), nn.ReLU()]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(c_in, CLASSES)
        self.init_xavier()

    @torch.no_grad()
    def init_xavier(self):
        """repro's `init: xavier` in its draw order: each convolution's weight U(±√(6 /
        (c_in k + c_out k))), zero biases, batch norm 1 and 0; the head last."""
        torch.manual_seed(torch.initial_seed())
        for m in list(self.body) + [self.out]:
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                fan_in = m.weight[0].numel()
                fan_out = m.weight.shape[0] * (m.weight.shape[2] if m.weight.dim() == 3 else 1)
                b = math.sqrt(6.0 / (fan_in + fan_out))
                m.weight.uniform_(-b, b)
                m.bias.zero_()

    def forward(self, x):
        return self.out(self.body(x).mean(2))


def load(data_dir):
    return load_ucr(data_dir, "GunPoint")


if __name__ == "__main__":
    main("fcn", CONFIG, load, FCN)
