"""Golden optimizer and schedule trajectories from PyTorch for tests/it/optim.rs.

A fixed least-squares problem (W: 4x3, b: 4, X: 16x3, Y: 16x4, drawn once with seed 0 and stored
in the output, so repro needs no RNG agreement) is optimised for STEPS steps by every optimizer
× schedule pair (each optimizer at its own starting lr, stored per case); the final parameters and the learning rate used at each step are recorded.
repro must reach the same parameters to 1e-5, and the fused Adam/AdamW cases bit for bit under
the constant and step schedules (whose learning rates are exact in both).

Usage: .venv/bin/python scripts/gen_golden_optim.py > tests/golden/optim_pytorch.json
"""
import json
import sys

import torch

STEPS, LR = 30, 0.05

OPTIMIZERS = {
    "adam": lambda p: torch.optim.Adam(p, lr=LR, weight_decay=0.01, foreach=False),
    "adamw": lambda p: torch.optim.AdamW(p, lr=LR, weight_decay=0.01, foreach=False),
    # PyTorch's fused kernels (`_fused_adam_`/`_fused_adamw_`): repro calls the same op, so these
    # must match bit for bit wherever the learning rate does.
    "adam_fused": lambda p: torch.optim.Adam(p, lr=LR, weight_decay=0.01, fused=True),
    "adamw_fused": lambda p: torch.optim.AdamW(p, lr=LR, weight_decay=0.01, fused=True),
    "radam": lambda p: torch.optim.RAdam(p, lr=LR, weight_decay=0.01, foreach=False),
    "radam_nowd": lambda p: torch.optim.RAdam(p, lr=LR, weight_decay=0.0, foreach=False),
    "sgd": lambda p: torch.optim.SGD(p, lr=LR, momentum=0.9, weight_decay=0.01, foreach=False),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=LR, momentum=0.9, nesterov=True, weight_decay=0.01, foreach=False),
    # Keras's Adadelta() as Wang et al. 2017 and Fawaz et al. 2019 train their MLP: lr 1.0, rho 0.95.
    "adadelta": lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.95, eps=1e-7, weight_decay=0.01, foreach=False),
}

SCHEDULES = {
    "constant": lambda o: None,
    "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "step": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
    "plateau": lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=2),
    # Keras's ReduceLROnPlateau counts an improvement by an absolute min_delta.
    "plateau_abs": lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
        o, factor=0.5, patience=1, threshold=0.02, threshold_mode="abs", min_lr=0.01),
}

CLIPS = {"none": None, "norm": ("norm", 0.5), "value": ("value", 0.1)}


def run(problem, opt_name, sched_name, clip):
    w = problem["w"].clone().requires_grad_(True)
    b = problem["b"].clone().requires_grad_(True)
    opt = OPTIMIZERS[opt_name]([w, b])
    sched = SCHEDULES[sched_name](opt)
    lrs, losses = [], []
    for _ in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        loss = ((problem["x"] @ w.T + b - problem["y"]) ** 2).mean()
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        if clip and clip[0] == "norm":
            torch.nn.utils.clip_grad_norm_([w, b], clip[1])
        elif clip and clip[0] == "value":
            torch.nn.utils.clip_grad_value_([w, b], clip[1])
        opt.step()
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(loss.item())
        elif sched is not None:
            sched.step()
    return {"optimizer": opt_name, "schedule": sched_name, "clip": clip, "lr": lrs[0], "lrs": lrs,
            "losses": losses, "w": w.detach().flatten().tolist(), "b": b.detach().tolist()}


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    problem = {"w": torch.randn(4, 3), "b": torch.randn(4), "x": torch.randn(16, 3), "y": torch.randn(16, 4)}
    cases = [run(problem, o, s, None) for o in OPTIMIZERS for s in SCHEDULES]
    cases += [run(problem, o, "constant", CLIPS[c]) for o in ("adam", "adam_fused", "radam") for c in ("norm", "value")]
    out = {
        "generator": "scripts/gen_golden_optim.py",
        "torch": torch.__version__,
        "lr": LR,
        "steps": STEPS,
        "problem": {k: v.flatten().tolist() for k, v in problem.items()},
        "cases": cases,
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
