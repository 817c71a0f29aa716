"""PyTorch eager side of lstm.yaml: a 2-layer LSTM (hidden 128) on MNIST-1D read out at the
last step, trained as a strong recurrent baseline: Xavier input weights, orthogonal recurrent
weights (each gate's block), zero biases; AdamW 1e-3, weight decay 1e-4, cosine over the run,
gradient norm clipped at 1, shuffled batches of 100, 1200 steps, evaluation every 250.

Usage: .venv/bin/python benches/vs_pytorch/lstm.py [--steps N] [--threads T]  (one JSON line)
"""
import math

import torch
import torch.nn as nn

from common import load_mnist1d, main

HIDDEN, LAYERS, CLASSES = 128, 2, 10
CONFIG = {
    "optimizer": "adamw", "lr": 1e-3, "eps": 1e-8, "weight_decay": 1e-4, "batch_size": 100,
    "steps": 1200, "order": "shuffle", "eval_every": 250, "clip_grad_norm": 1.0,
    "schedule": {"kind": "cosine", "t_max": 1200}, "selection": "last", "normalize": "none",
    "threads": 1, "seed": 42,
}


class LSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(1, HIDDEN, num_layers=LAYERS, batch_first=True)
        self.out = nn.Linear(HIDDEN, CLASSES)
        self.init_xavier()

    @torch.no_grad()
    def init_xavier(self):
        """repro's `init: xavier` (src/model/rnn.rs), in its draw order: per layer, the input
        weights U(±√(6 / (fan_in + fan_out))), then each gate's recurrent block orthogonal (QR
        of a Gaussian, signs from R's diagonal), zero biases; the head last."""
        torch.manual_seed(torch.initial_seed())  # the run's seed, as before nn.LSTM drew
        for layer in range(LAYERS):
            w_ih = getattr(self.rnn, f"weight_ih_l{layer}")
            w_hh = getattr(self.rnn, f"weight_hh_l{layer}")
            fan_out, fan_in = w_ih.shape
            b = math.sqrt(6.0 / (fan_in + fan_out))
            w_ih.uniform_(-b, b)
            for g in range(4):
                q, r = torch.linalg.qr(torch.randn(HIDDEN, HIDDEN), mode="reduced")
                w_hh[g * HIDDEN:(g + 1) * HIDDEN].copy_(q * r.diagonal().sign().unsqueeze(0))
            getattr(self.rnn, f"bias_ih_l{layer}").zero_()
            getattr(self.rnn, f"bias_hh_l{layer}").zero_()
        b = math.sqrt(6.0 / (HIDDEN + CLASSES))
        self.out.weight.uniform_(-b, b)
        self.out.bias.zero_()

    def forward(self, x):
        out, _ = self.rnn(x.transpose(1, 2))  # [B, 40, 1] → [B, 40, H]
        return self.out(out[:, -1])


if __name__ == "__main__":
    main("lstm", CONFIG, load_mnist1d, LSTM)
