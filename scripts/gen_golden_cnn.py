"""Golden outputs of 1-D CNNs with batch norm on variable-length input, for tests/it/model.rs.

repro's CNNs are padding-invariant: after every convolution the positions past each sequence's
length are zeroed, batch-norm statistics in training count only valid positions, and global
average pooling averages over valid positions. This script computes the same models WITHOUT any
padding or masks: every convolution runs on each sequence alone, cut to its own length (the
layer's own zero padding is then the only padding it sees), and batch norm in training mode runs
PyTorch's F.batch_norm over the valid positions of the whole batch laid end to end ([1, C, N]),
which also updates the running statistics as nn.BatchNorm1d does (momentum 0.1, unbiased
variance). Evaluation uses the running statistics.

For each model: its state (named as repro names its variables), a padded input batch [B, C, L]
with its lengths, the logits of one forward pass in training mode, the running statistics after
it, and the logits of a forward pass in evaluation mode after that. repro loads the state by
name and must match to 1e-5.

Usage: .venv/bin/python scripts/gen_golden_cnn.py > tests/golden/cnn_pytorch.json
"""
import json
import sys

import torch
import torch.nn.functional as F

B, C, L, CLASSES = 4, 2, 12, 3
LENGTHS = [12, 9, 5, 3]
MOMENTUM, EPS = 0.1, 1e-5

# repro's ModelSpec for each case: cnn1d (gap head, batch norm, relu) and resnet1d (relu).
CASES = [
    {"name": "fcn", "kind": "cnn1d", "channels": [4, 5, 3], "kernel": [5, 4, 3], "stride": 1, "padding": "same"},
    {"name": "strided", "kind": "cnn1d", "channels": [4, 3], "kernel": [3, 3], "stride": 2, "padding": 1},
    {"name": "resnet", "kind": "resnet1d", "channels": [4, 4], "kernel": [5, 3]},
]


def pads(k, padding):
    """(left, right) zeros, as repro's Conv1d: `same` puts the odd one on the right."""
    if padding == "same":
        return (k - 1) // 2, k - 1 - (k - 1) // 2
    return padding, padding


def conv(state, name, parts, k, stride, padding):
    """Each sequence [C, len] alone through the convolution."""
    left, right = pads(k, padding)
    return [F.conv1d(F.pad(p.unsqueeze(0), (left, right)), state[f"{name}.weight"],
                     state[f"{name}.bias"], stride=stride)[0] for p in parts]


def batch_norm(state, name, parts, train):
    """Statistics over every valid position of the batch: the sequences laid end to end."""
    flat = torch.cat(parts, 1).unsqueeze(0)
    out = F.batch_norm(flat, state[f"{name}.running_mean"], state[f"{name}.running_var"],
                       state[f"{name}.weight"], state[f"{name}.bias"], training=train,
                       momentum=MOMENTUM, eps=EPS)[0]
    return list(out.split([p.shape[1] for p in parts], 1))


def relu(parts):
    return [p.relu() for p in parts]


def forward(case, state, x, train):
    parts = [x[b, :, :n] for b, n in enumerate(LENGTHS)]
    if case["kind"] == "cnn1d":
        for i, k in enumerate(case["kernel"]):
            parts = conv(state, f"conv{i}", parts, k, case["stride"], case["padding"])
            parts = relu(batch_norm(state, f"bn{i}", parts, train))
    else:
        c_in = C
        for b, c_out in enumerate(case["channels"]):
            h = parts
            last = len(case["kernel"]) - 1
            for i, k in enumerate(case["kernel"]):
                h = batch_norm(state, f"block{b}.bn{i}", conv(state, f"block{b}.conv{i}", h, k, 1, "same"), train)
                if i < last:
                    h = relu(h)
            s = conv(state, f"block{b}.shortcut", parts, 1, 1, 0) if c_in != c_out else parts
            s = batch_norm(state, f"block{b}.shortcut_bn", s, train)
            parts = relu([a + c for a, c in zip(h, s)])
            c_in = c_out
    features = torch.stack([p.mean(1) for p in parts])
    return F.linear(features, state["out.weight"], state["out.bias"])


def make_state(case):
    state = {}

    def conv_vars(name, c_in, c_out, k):
        state[f"{name}.weight"] = torch.randn(c_out, c_in, k) / (c_in * k) ** 0.5
        state[f"{name}.bias"] = 0.1 * torch.randn(c_out)

    def bn_vars(name, c):
        state[f"{name}.weight"] = 1 + 0.2 * torch.randn(c)
        state[f"{name}.bias"] = 0.2 * torch.randn(c)
        state[f"{name}.running_mean"] = 0.1 * torch.randn(c)
        state[f"{name}.running_var"] = 1 + 0.5 * torch.rand(c)

    c_in = C
    if case["kind"] == "cnn1d":
        for i, (c_out, k) in enumerate(zip(case["channels"], case["kernel"])):
            conv_vars(f"conv{i}", c_in, c_out, k)
            bn_vars(f"bn{i}", c_out)
            c_in = c_out
    else:
        for b, c_out in enumerate(case["channels"]):
            c = c_in
            for i, k in enumerate(case["kernel"]):
                conv_vars(f"block{b}.conv{i}", c, c_out, k)
                bn_vars(f"block{b}.bn{i}", c_out)
                c = c_out
            if c_in != c_out:
                conv_vars(f"block{b}.shortcut", c_in, c_out, 1)
            bn_vars(f"block{b}.shortcut_bn", c_out)
            c_in = c_out
    state["out.weight"] = torch.randn(CLASSES, c_in) / c_in ** 0.5
    state["out.bias"] = 0.1 * torch.randn(CLASSES)
    return state


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(B, C, L)
    for b, n in enumerate(LENGTHS):
        x[b, :, n:] = 0  # padding is zeros, as repro's preprocessing leaves it
    cases = []
    for case in CASES:
        state = make_state(case)
        initial = {k: v.flatten().tolist() for k, v in state.items()}
        with torch.no_grad():
            train_logits = forward(case, state, x, True)  # updates the running statistics
            running = {k: v.flatten().tolist() for k, v in state.items() if ".running_" in k}
            eval_logits = forward(case, state, x, False)
        cases.append({**case, "state": initial, "train_logits": train_logits.flatten().tolist(),
                      "running": running, "eval_logits": eval_logits.flatten().tolist()})
    json.dump({"generator": "scripts/gen_golden_cnn.py", "torch": torch.__version__,
               "batch": B, "channels": C, "length": L, "classes": CLASSES, "lengths": LENGTHS,
               "x": x.flatten().tolist(), "cases": cases}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
