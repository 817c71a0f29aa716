#!/usr/bin/env python3
"""Per-arm training seconds of the runs in a store, by numerics mode and code build.

Usage: scripts/audit_seconds.py [STORE] [--code PREFIX]

Reads every `record.json` under STORE (default `runs`) and prints, per spec and arm, the number
of runs and their wall seconds (median, sum) for each (numerics mode, code build) present, then
the total per (mode, build). A run's `wall_time_s` is its worker's own time, so the sum over a
store divided by the pool's jobs is a lower bound on the wall time of a `repro run` that trains
them all (scheduling gaps and start-up come on top). Records that carry `cpu_time_s` (the
worker's CPU seconds for the run, which a paused or oversubscribed worker does not inflate) add
their CPU median and sum; older records show "-" there. Only the standard library: it runs
anywhere the store is.
"""
import collections
import glob
import json
import os
import statistics
import sys


def main(argv):
    store = "runs"
    code = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--code":
            code = args.pop(0)
        else:
            store = a
    groups = collections.defaultdict(list)
    for path in glob.glob(os.path.join(store, "*", "*", "*", "record.json")):
        with open(path) as f:
            r = json.load(f)
        build = (r.get("code") or {}).get("build", "?")[:12]
        if code and not build.startswith(code):
            continue
        mode = (r.get("numerics") or {}).get("mode", "?")
        cpu = r.get("cpu_time_s")
        groups[(r["spec_id"], r["arm_id"], mode, build, bool(r.get("quick")))].append(
            (float(r["wall_time_s"]), None if cpu is None else float(cpu))
        )
    totals = collections.defaultdict(float)
    print(f"{'spec':28} {'arm':34} {'mode':8} {'build':12} {'n':>3} {'median s':>9} {'sum s':>9}"
          f" {'cpu median':>10} {'cpu sum':>9}")
    for (spec, arm, mode, build, quick), runs in sorted(groups.items()):
        tag = " (quick)" if quick else ""
        secs = [w for w, _ in runs]
        cpus = [c for _, c in runs if c is not None]
        cpu = (f"{statistics.median(cpus):10.1f} {sum(cpus):9.1f}" if len(cpus) == len(runs)
               else f"{'-':>10} {'-':>9}")
        print(
            f"{spec:28} {arm:34} {mode:8} {build:12} {len(secs):3d} "
            f"{statistics.median(secs):9.1f} {sum(secs):9.1f} {cpu}{tag}"
        )
        if not quick:
            totals[(mode, build)] += sum(secs)
    print()
    for (mode, build), s in sorted(totals.items()):
        print(f"total {mode:8} {build:12} {s:10.1f} s = {s / 3600:.2f} h of worker time")


if __name__ == "__main__":
    main(sys.argv[1:])
