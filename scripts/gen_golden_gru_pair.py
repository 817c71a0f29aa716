"""Golden bidirectional-GRU numbers from PyTorch for tests/it/golden.rs: logits and gradients.

repro runs a bidirectional GRU on the CPU as one loop over both directions
(src/model/gru_pair.rs) instead of ATen's GRU; this is its reference. For each configuration an
nn.GRU (batch_first, bidirectional) and a Linear readout are drawn with torch.manual_seed(0);
their state_dict, an input batch, labels, the logits and the gradient of the mean cross-entropy
with respect to every parameter are stored. Padded input is run through pack_padded_sequence
(each sequence to its own length, the reverse direction starting at its own last step), the
padding being zeros as repro's preprocessing leaves it. repro loads the same weights by name
and must give the same logits and gradients to float rounding.

Usage: .venv/bin/python scripts/gen_golden_gru_pair.py > tests/golden/gru_pair_pytorch.json
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

B, L, CLASSES = 5, 8, 3
FULL = [L] * B
PADDED = [8, 5, 1, 8, 3]
CONFIGS = [
    # The MNIST-1D arm's shape (one channel, flattened outputs), smaller.
    {"input": 1, "hidden": 6, "layers": 1, "readout": "flatten", "lengths": FULL},
    {"input": 1, "hidden": 6, "layers": 1, "readout": "flatten", "lengths": PADDED},
    {"input": 3, "hidden": 5, "layers": 2, "readout": "last", "lengths": PADDED},
    {"input": 2, "hidden": 4, "layers": 2, "readout": "mean", "lengths": FULL},
]


class Classifier(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.rnn = nn.GRU(c["input"], c["hidden"], num_layers=c["layers"], bidirectional=True,
                          batch_first=True)
        self.h, self.readout = c["hidden"], c["readout"]
        width = L * 2 * self.h if self.readout == "flatten" else 2 * self.h
        self.out = nn.Linear(width, CLASSES)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=L)
        n = torch.tensor(lengths)
        if self.readout == "flatten":
            feats = out.flatten(1)
        elif self.readout == "mean":
            feats = out.sum(1) / n.unsqueeze(1)
        else:
            fwd = out[torch.arange(B), n - 1, : self.h]
            feats = torch.cat([fwd, out[:, 0, self.h:]], 1)
        return self.out(feats)


def main():
    torch.set_num_threads(1)
    cases = []
    for c in CONFIGS:
        torch.manual_seed(0)
        model = Classifier(c)
        x = torch.randn(B, L, c["input"])
        for b, n in enumerate(c["lengths"]):
            x[b, n:] = 0
        y = torch.randint(0, CLASSES, (B,))
        logits = model(x, c["lengths"])
        F.cross_entropy(logits, y).backward()
        cases.append({
            "config": c,
            "x": x.transpose(1, 2).flatten().tolist(),  # repro's layout: [B, C, L]
            "y": y.tolist(),
            "state": {k: v.detach().flatten().tolist() for k, v in model.state_dict().items()},
            "logits": logits.detach().flatten().tolist(),
            "grads": {k: p.grad.flatten().tolist() for k, p in model.named_parameters()},
        })
    json.dump({"generator": "scripts/gen_golden_gru_pair.py", "torch": torch.__version__,
               "batch": B, "length": L, "classes": CLASSES, "cases": cases}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
