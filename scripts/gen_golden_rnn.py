"""Golden RNN classifier outputs from PyTorch for tests/it/golden.rs.

For each configuration, an nn.LSTM/nn.GRU (batch_first) and a Linear readout are drawn with
torch.manual_seed(0); their state_dict, an input batch and the logits are stored. repro loads the
same weights by name and must produce the same logits to 1e-5, for full-length input and for
padded input, where PyTorch's reference is pack_padded_sequence (each sequence run to its own
length, the reverse direction starting at its own last step).

Usage: .venv/bin/python scripts/gen_golden_rnn.py > tests/golden/rnn_pytorch.json
"""
import json
import sys

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CONFIGS = [
    {"cell": "lstm", "input": 3, "hidden": 5, "layers": 2, "bidirectional": True},
    {"cell": "gru", "input": 2, "hidden": 4, "layers": 1, "bidirectional": True},
    {"cell": "lstm", "input": 3, "hidden": 6, "layers": 1, "bidirectional": False},
    {"cell": "gru", "input": 3, "hidden": 5, "layers": 3, "bidirectional": False},
]
B, L, CLASSES = 3, 6, 4
LENGTHS = [6, 4, 1]


class Classifier(nn.Module):
    def __init__(self, c):
        super().__init__()
        cls = nn.LSTM if c["cell"] == "lstm" else nn.GRU
        self.rnn = cls(c["input"], c["hidden"], num_layers=c["layers"],
                       bidirectional=c["bidirectional"], batch_first=True)
        self.dirs = 2 if c["bidirectional"] else 1
        self.h = c["hidden"]
        self.out = nn.Linear(self.h * self.dirs, CLASSES)

    def forward(self, x, lengths, readout):
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        lengths_t = torch.tensor(lengths)
        if readout == "mean":
            feats = out.sum(1) / lengths_t.unsqueeze(1)
        else:
            fwd = out[torch.arange(x.shape[0]), lengths_t - 1, : self.h]
            feats = torch.cat([fwd, out[:, 0, self.h:]], 1) if self.dirs == 2 else fwd
        return self.out(feats)


def main():
    torch.set_num_threads(1)
    cases = []
    for c in CONFIGS:
        torch.manual_seed(0)
        model = Classifier(c)
        x = torch.randn(B, L, c["input"])
        # Padding is zeros, as repro's preprocessing leaves it.
        for b, n in enumerate(LENGTHS):
            x[b, n:] = 0
        with torch.no_grad():
            logits = {f"{r}/{'full' if lengths == [L] * B else 'padded'}": model(x, lengths, r).flatten().tolist()
                      for r in ("last", "mean") for lengths in ([L] * B, LENGTHS)}
        cases.append({
            "config": c,
            "x": x.transpose(1, 2).flatten().tolist(),  # repro's layout: [B, C, L]
            "state": {k: v.flatten().tolist() for k, v in model.state_dict().items()},
            "logits": logits,
        })
    json.dump({"generator": "scripts/gen_golden_rnn.py", "torch": torch.__version__,
               "batch": B, "length": L, "classes": CLASSES, "lengths": LENGTHS, "cases": cases},
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
