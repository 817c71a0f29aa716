"""Scripts a small 1-D CNN for MNIST-1D into models/cnn.pt, next to this file.

    .venv/bin/python examples/torchscript/make_model.py            # the model as it is
    .venv/bin/python examples/torchscript/make_model.py --narrow   # one layer changed

Any PyTorch model whose forward takes a float batch [batch, channels, length] and returns
logits [batch, classes] (or an embedding, with `embedding_dim` in the spec) works the same
way: `torch.jit.script(model).save(path)`. `repro` draws its weights again from each run's
seed (`init: torch`, PyTorch's own initialisation), unless the spec says `init: as_saved`.
"""

import os
import sys

import torch
from torch import nn


class Cnn(nn.Module):
    def __init__(self, first: int = 25):
        super().__init__()
        self.conv0 = nn.Conv1d(1, first, 5, stride=2, padding=1)
        self.conv1 = nn.Conv1d(first, 25, 3, stride=2, padding=1)
        self.conv2 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.out = nn.Linear(25 * 5, 10)  # MNIST-1D: length 40 -> 19 -> 10 -> 5; 10 classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv0(x))
        h = torch.relu(self.conv1(h))
        h = torch.relu(self.conv2(h))
        return self.out(h.flatten(1))


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "models"), exist_ok=True)
    torch.manual_seed(0)  # the saved weights (used under `init: as_saved`), and a stable file
    model = Cnn(first=2 if "--narrow" in sys.argv else 25)
    path = os.path.join(here, "models", "cnn.pt")
    torch.jit.script(model).save(path)
    print(f"wrote {path}")
