"""TorchScript modules for the `model.kind: torchscript` tests (tests/it/torchscript.rs).

Run with the project's PyTorch: `.venv/bin/python scripts/gen_torchscript_fixtures.py`
(torch 2.11). Writes small files into tests/fixtures/torchscript/ (committed):

- mnist1d_cnn.pt          a scripted copy of papers/mnist1d.yaml's built-in `cnn` arm:
                          the same layers in the same order (conv0, conv1, conv2, out), so
                          `repro` draws the same initial weights into it under a seed;
- mnist1d_cnn_narrow.pt   the same with one layer changed: conv0 has 2 channels, not 25
                          (conv1 takes 2 in): the "change one layer, `repro check` fails" case;
- wrong_classes.pt        the same CNN with 7 outputs (MNIST-1D has 10 classes);
- three_channels.pt       a CNN whose first layer expects 3 input channels (MNIST-1D has 1):
                          its forward fails on a real batch;
- no_params.pt            a module without parameters.

The weights saved in the files are PyTorch's defaults under torch.manual_seed(0); `repro`
draws them again from the run's seed unless the spec says `init: as_saved`.
"""

import os

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torchscript")


class Cnn(nn.Module):
    """MNIST-1D's CNN (greydanus/mnist1d models.py) as the built-in `cnn1d` arm builds it:
    channels [25, 25, 25], kernel [5, 3, 3], stride 2, padding 1, ReLU, flatten, linear."""

    def __init__(self, c_in=1, first=25, classes=10, length=40):
        super().__init__()
        self.conv0 = nn.Conv1d(c_in, first, 5, stride=2, padding=1)
        self.conv1 = nn.Conv1d(first, 25, 3, stride=2, padding=1)
        self.conv2 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
        n = length
        for k in (5, 3, 3):
            n = (n + 2 - k) // 2 + 1
        self.out = nn.Linear(25 * n, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv0(x))
        h = torch.relu(self.conv1(h))
        h = torch.relu(self.conv2(h))
        return self.out(h.flatten(1))


class NoParams(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :10]


def save(module: nn.Module, name: str) -> None:
    torch.jit.script(module).save(os.path.join(OUT, name))


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    save(Cnn(), "mnist1d_cnn.pt")
    save(Cnn(first=2), "mnist1d_cnn_narrow.pt")
    save(Cnn(classes=7), "wrong_classes.pt")
    save(Cnn(c_in=3), "three_channels.pt")
    save(NoParams(), "no_params.pt")
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
