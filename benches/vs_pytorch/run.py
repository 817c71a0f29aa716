"""`make bench-vs`: repro and PyTorch eager side by side on the same training work.

For each workload, a repro spec (`<name>.yaml`) and a PyTorch script (`<name>.py`) with the same
model, data, batch order, hyper-parameters, evaluation cadence, intra-op threads and seed. The
two sides run alternating, repro first (repro, PyTorch, repro, PyTorch, ...), REPS times each;
every repro run is `repro run SPEC --jobs 1` in a fresh temporary store, so nothing is reused.

What is timed, on both sides in-process (the primary figure, steps/s = steps / seconds): the
training of one run from its data in memory to its final test metrics: preprocessing, model
build, every step, the protocol's periodic evaluations and the final evaluation. repro's figure
is `wall_time_s` from the run's `record.json` (src/runner/mod.rs: it also covers writing the
curve file at each evaluation); PyTorch's is the same span measured by common.py. Not timed:
process start-up, loading libtorch, reading and checksumming the data files, planning. The
whole-process wall times of both sides are printed beside it for reference (repro's includes
planning, a worker process and the store's files; PyTorch's the interpreter and `import torch`).

Before any figure counts, each pair is checked to be the same work: the PyTorch side reports
its resolved hyper-parameters and parameter count, and they must equal those in repro's record
(exit 2 otherwise); the test accuracies of both sides are printed with their difference in test
examples (same weights at the start, same batches: they agree closely, not bit for bit).

Settings (environment, or `make bench-vs VAR=...`):
  WORKLOADS  comma-separated subset of cnn,gru,lstm,fcn (default: all four)
  REPS       pairs per workload (default 3)
  QUICK      1: each spec's `quick:` steps (a few hundred), to check the plumbing in a minute
  THREADS    intra-op threads on both sides (default: each spec's `train.threads`, 1)
  FUSED      1: Adam/AdamW's fused single-kernel step on both sides (`fused: true` in the spec,
             `fused=True` in PyTorch); default: each side's per-parameter step
  REPRO      the binary (default target/release/repro)

The table goes to stdout and to benches/vs_pytorch/latest.md with the machine, date, commit,
threads, load average and the command. Targets (issue #15): >= 1.0x everywhere, >= 1.3x on the
small-batch RNNs (gru, lstm).
"""
import datetime
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
# name: (target median ratio, what the workload is)
WORKLOADS = {
    "cnn": (1.0, "MNIST-1D CNN, paper protocol"),
    "gru": (1.3, "MNIST-1D GRU, paper protocol (small-batch RNN)"),
    "lstm": (1.3, "MNIST-1D 2-layer LSTM, hidden 128 (small-batch RNN)"),
    "fcn": (1.0, "FCN on GunPoint (Wang et al. 2017), 150 epochs"),
}


def fail(message):
    print(f"bench-vs: {message}", file=sys.stderr)
    sys.exit(2)


def settings():
    env = os.environ
    names = [w.strip() for w in (env.get("WORKLOADS") or ",".join(WORKLOADS)).split(",") if w.strip()]
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown:
        fail(f"WORKLOADS: unknown {', '.join(unknown)} (known: {', '.join(WORKLOADS)})")
    try:
        reps = int(env.get("REPS") or 3)
        threads = int(env["THREADS"]) if env.get("THREADS") else None
    except ValueError as e:
        fail(f"REPS and THREADS must be whole numbers: {e}")
    if reps < 1 or (threads is not None and threads < 1):
        fail("REPS and THREADS must be at least 1")
    quick = (env.get("QUICK") or "0") not in ("0", "")
    fused = (env.get("FUSED") or "0") not in ("0", "")
    repro = Path(env.get("REPRO") or ROOT / "target" / "release" / "repro")
    if not repro.is_file():
        fail(f"{repro}: no repro binary (run `cargo build --release` or `make build`)")
    if not PYTHON.is_file():
        fail(f"{PYTHON}: no virtual environment (run `make setup`)")
    return names, reps, quick, threads, fused, repro


def spec_for(name, threads, fused, tmp):
    """The workload's spec; with THREADS, a copy whose `train.threads` says so; with FUSED, one
    whose optimizer line is followed by `fused: true`."""
    spec = HERE / f"{name}.yaml"
    if threads is None and not fused:
        return spec
    text = spec.read_text()
    if threads is not None:
        text, count = re.subn(r"(?m)^(\s*threads:\s*)\d+\s*$", rf"\g<1>{threads}", text)
        if count != 1:
            fail(f"{spec}: expected one `threads:` line to set THREADS, found {count}")
    if fused:
        text, count = re.subn(r"(?m)^(\s*)(optimizer:\s*adamw?\s*)$", r"\g<1>\g<2>\n\g<1>fused: true", text)
        if count != 1:
            fail(f"{spec}: expected one `optimizer: adam` or `adamw` line to set FUSED, found {count}")
    copy = Path(tmp) / spec.name
    copy.write_text(text)
    return copy


def run_repro(repro, spec, quick):
    """One `repro run` in a fresh store; its record and whole-process seconds."""
    store = tempfile.mkdtemp(prefix="bench-vs-store-")
    try:
        cmd = [str(repro), "run", str(spec), "--store", store, "--jobs", "1",
               "--data-dir", str(ROOT / "data")] + (["--quick"] if quick else [])
        start = time.perf_counter()
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                             env=dict(os.environ, REPRO_PLAIN="1"))
        process_s = time.perf_counter() - start
        if out.returncode != 0:
            fail(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout}{out.stderr}")
        records = glob.glob(os.path.join(store, "**", "record.json"), recursive=True)
        if len(records) != 1:
            fail(f"{spec}: expected one record.json in {store}, found {len(records)}")
        with open(records[0]) as f:
            record = json.load(f)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    if record.get("status") != "ok" or not record.get("metrics"):
        fail(f"{spec}: the repro run did not finish ok: {record.get('status')}")
    return record, process_s


def run_pytorch(name, record):
    """The PyTorch script with the steps, cadence, threads and seed of repro's `record`."""
    train = record["config"]["train"]
    cmd = [str(PYTHON), str(HERE / f"{name}.py"), "--steps", str(record["steps"]),
           "--eval-every", str(train["eval_every"]), "--threads", str(train["threads"]),
           "--seed", str(record["seed"]), "--data-dir", str(ROOT / "data")]
    if train["schedule"]["kind"] == "cosine":
        cmd += ["--t-max", str(train["schedule"]["t_max"])]
    if train["optimizer"].get("fused"):
        cmd += ["--fused"]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    process_s = time.perf_counter() - start
    if out.returncode != 0:
        fail(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout}{out.stderr}")
    try:
        return json.loads(out.stdout.strip().splitlines()[-1]), process_s
    except (json.JSONDecodeError, IndexError):
        fail(f"{' '.join(cmd)}: expected one JSON line on stdout, got:\n{out.stdout}")


def same_work(name, record, py):
    """Differences between what repro trained (its record) and what PyTorch trained."""
    arm, train = record["config"], record["config"]["train"]
    c = py["config"]
    pairs = {
        "optimizer": (train["optimizer"]["name"], c["optimizer"]),
        "eps": (train["optimizer"].get("eps"), c["eps"]),
        "fused": (train["optimizer"].get("fused", False), c["fused"]),
        "lr": (train["lr"], c["lr"]),
        "weight_decay": (train["weight_decay"], c["weight_decay"]),
        "batch_size": (train["batch_size"], c["batch_size"]),
        "order": (train["order"], c["order"]),
        "eval_every": (train["eval_every"], c["eval_every"]),
        "clip_grad_norm": (train["clip_grad_norm"], c["clip_grad_norm"]),
        "schedule": (train["schedule"]["kind"], c["schedule"]["kind"]),
        "threads": (train["threads"], py["threads"]),
        "seed": (record["seed"], c["seed"]),
        "steps": (record["steps"], py["steps"]),
        "selection": (arm["protocol"]["selection"], c["selection"]),
        "normalize": (arm["data"]["normalize"], c["normalize"]),
        "parameters": (record["params"], py["params"]),
        "test examples": (record["test_size"], py["test_size"]),
    }
    if train["schedule"]["kind"] == "cosine":
        # The scripts anneal per step from the first one to zero (CosineAnnealingLR).
        cosine = train["schedule"]
        pairs["t_max"] = (cosine["t_max"], c["schedule"]["t_max"])
        pairs["cosine (unit, warmup, eta_min)"] = (
            (cosine.get("unit", "steps"), cosine.get("warmup", 0), cosine.get("eta_min", 0.0)),
            ("steps", 0, 0.0))
    if train["schedule"]["kind"] == "plateau":
        # record.json leaves out PyTorch's defaults (threshold 1e-4, relative).
        mine = dict({"threshold": 1e-4, "threshold_mode": "rel"}, **train["schedule"])
        for k in ("factor", "patience", "min_lr", "threshold", "threshold_mode"):
            pairs[k] = (mine[k], c["schedule"][k])
    return [f"{k}: repro {a!r}, PyTorch {b!r}" for k, (a, b) in pairs.items() if a != b]


def spread(values, fmt):
    return f"{fmt(min(values))} / {fmt(statistics.median(values))} / {fmt(max(values))}"


def bench(name, spec, repro, reps, quick):
    rows = []
    for rep in range(reps):
        record, repro_process = run_repro(repro, spec, quick)
        py, py_process = run_pytorch(name, record)
        diffs = same_work(name, record, py)
        if diffs:
            fail(f"{spec}: the PyTorch side ({HERE / (name + '.py')}) did other work:\n  " + "\n  ".join(diffs))
        rows.append({
            "steps": record["steps"],
            "repro_s": record["wall_time_s"], "py_s": py["train_s"],
            "repro_process_s": repro_process, "py_process_s": py_process,
            "repro_acc": record["metrics"]["accuracy"], "py_acc": py["test_accuracy"],
            "test_size": record["test_size"], "torch": py["torch"], "threads": py["threads"],
            "repro_loss0": record["curve"][0]["train_loss"] if record["curve"] else float("nan"),
            "py_loss0": py["curve"][0]["train_loss"] if py["curve"] else float("nan"),
        })
        r = rows[-1]
        print(f"  {name} rep {rep + 1}/{reps}: repro {r['steps'] / r['repro_s']:.1f} steps/s "
              f"({r['repro_s']:.2f} s), PyTorch {r['steps'] / r['py_s']:.1f} steps/s ({r['py_s']:.2f} s), "
              f"accuracy {r['repro_acc']:.4f} / {r['py_acc']:.4f}", flush=True)
    return rows


def summary(name, rows):
    target, what = WORKLOADS[name]
    repro_sps = [r["steps"] / r["repro_s"] for r in rows]
    py_sps = [r["steps"] / r["py_s"] for r in rows]
    ratios = [a / b for a, b in zip(repro_sps, py_sps)]
    median = statistics.median(ratios)
    n = rows[0]["test_size"]
    delta = max(round(abs(r["repro_acc"] - r["py_acc"]) * n) for r in rows)
    accuracy = (f"{statistics.median(r['repro_acc'] for r in rows):.4f} / "
                f"{statistics.median(r['py_acc'] for r in rows):.4f} (differ by ≤ {delta} of {n} examples)")
    loss0 = max(abs(r["repro_loss0"] - r["py_loss0"]) for r in rows)
    return {
        "row": (f"| {name} | {rows[0]['steps']} | {spread(repro_sps, lambda v: f'{v:.1f}')} | "
                f"{spread(py_sps, lambda v: f'{v:.1f}')} | {spread(ratios, lambda v: f'{v:.2f}×')} | "
                f"≥ {target:.1f}×: {'met' if median >= target else 'NOT met'} | {accuracy} | {loss0:.1e} |"),
        "process": (f"| {name} | {spread([r['repro_process_s'] for r in rows], lambda v: f'{v:.2f}')} | "
                    f"{spread([r['py_process_s'] for r in rows], lambda v: f'{v:.2f}')} |"),
        "what": f"- `{name}`: {what}",
    }


def sh(cmd):
    try:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def machine():
    model = next((line.split(":", 1)[1].strip() for line in sh(["lscpu"]).splitlines()
                  if line.startswith("Model name")), "unknown CPU")
    commit = sh(["git", "rev-parse", "--short", "HEAD"]) or "unknown"
    # latest.md itself is rewritten by every run: not a change to what was measured.
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                f":!{os.path.relpath(HERE / 'latest.md', ROOT)}"])
    return model, os.cpu_count(), commit + (" (with uncommitted changes)" if dirty else "")


def main():
    names, reps, quick, threads, fused, repro = settings()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-vs-") as tmp:
        for name in names:
            spec = spec_for(name, threads, fused, tmp)
            print(f"{name}: {reps} × (repro, PyTorch){' QUICK' if quick else ''}", flush=True)
            results[name] = bench(name, spec, repro, reps, quick)
    load_after = os.getloadavg()
    model, cores, commit = machine()
    first = next(iter(results.values()))[0]
    settings_used = " ".join(f"{k}={v}" for k, v in [
        ("WORKLOADS", ",".join(names)), ("REPS", reps), ("QUICK", 1 if quick else ""),
        ("THREADS", threads if threads is not None else ""), ("FUSED", 1 if fused else "")] if v != "")
    sums = {n: summary(n, rows) for n, rows in results.items()}
    lines = [
        "# repro vs PyTorch eager, side by side" + (" (QUICK: plumbing check, not a measurement)" if quick else ""),
        "",
        f"- machine: {model}, {cores} cores; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after",
        f"- date: {started}; commit {commit}; repro binary {os.path.relpath(repro, ROOT)}; torch {first['torch']}",
        f"- intra-op threads: {first['threads']} on both sides; deterministic algorithms on both sides; native kernels",
        f"- optimizer step: {'fused (one `_fused_adam_` call) on both sides' if fused else 'per parameter on both sides (repro: libtorch C++ Adam; PyTorch: single-tensor Adam)'}",
        f"- command: `make bench-vs {settings_used}`",
        "",
        "Timed on both sides in-process: one run's training from its data in memory to its final test",
        "metrics (model build, steps, periodic and final evaluation); repro's `wall_time_s` from",
        "`record.json`. Steps/s and ratio (repro / PyTorch, paired by repetition): min / median / max",
        f"over {reps} alternating pairs. Target on the median ratio.",
        "",
        "| workload | steps | repro steps/s | PyTorch steps/s | ratio | target | test accuracy repro / PyTorch | first curve point: train loss difference |",
        "|---|---:|---:|---:|---:|---|---|---:|",
        *[s["row"] for s in sums.values()],
        "",
        "Whole-process wall time (s, min / median / max), start-up and data loading included:",
        "",
        "| workload | repro run | PyTorch script |",
        "|---|---:|---:|",
        *[s["process"] for s in sums.values()],
        "",
        *[s["what"] for s in sums.values()],
        "",
    ]
    text = "\n".join(lines)
    print()
    print(text)
    (HERE / "latest.md").write_text(text)
    print(f"written to {os.path.relpath(HERE / 'latest.md', ROOT)}")


if __name__ == "__main__":
    main()
