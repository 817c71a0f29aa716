"""Memory of `repro run`: the pool process's resident set followed through a sweep, and each
worker's peak (the `peak_rss_mib` its record carries, `VmHWM` read at the end of the run).

    .venv/bin/python benches/memory/run.py SPEC [REPRO RUN FLAGS...]

Trains SPEC into a fresh temporary store (`--store` is set here) with `target/release/repro`
(REPRO overrides), sampling the pool's `VmRSS` from /proc every 0.1 s together with the number of
finished runs, and prints: the pool's RSS after its first and its last run, its peak, the growth
per 100 runs (least squares over the samples taken while runs finished), and the workers' peak
RSS (min / median / max over the records). Linux only (/proc).

Examples (the figures in benches/RESULTS.md):
    .venv/bin/python benches/memory/run.py benches/memory/sweep100.yaml --jobs 2
    .venv/bin/python benches/memory/run.py papers/mnist1d.yaml --quick
"""
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def rss_mib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    repro = os.environ.get("REPRO", "target/release/repro")
    spec, flags = sys.argv[1], sys.argv[2:]
    with tempfile.TemporaryDirectory() as store:
        env = dict(os.environ, REPRO_PLAIN="1")
        cmd = [repro, "run", spec, *flags, "--store", store]
        start = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        samples = []  # (seconds, runs done, pool RSS MiB)
        while proc.poll() is None:
            rss = rss_mib(proc.pid)
            done = len(glob.glob(os.path.join(store, "**", "DONE"), recursive=True))
            if rss is not None:
                samples.append((time.time() - start, done, rss))
            time.sleep(0.1)
        err = proc.stderr.read().decode(errors="replace")
        wall = time.time() - start
        records = [
            json.load(open(p))
            for p in glob.glob(os.path.join(store, "**", "record.json"), recursive=True)
        ]
    if proc.returncode != 0:
        print(err[-3000:], file=sys.stderr)
        print(f"repro exited with {proc.returncode}", file=sys.stderr)
        sys.exit(1)
    worker = sorted(r["peak_rss_mib"] for r in records if r.get("peak_rss_mib") is not None)
    during = [(d, m) for _, d, m in samples if d >= 1]
    print(f"command: {' '.join(cmd[:-2])} (fresh temporary store)")
    print(f"runs: {len(records)} in {wall:.1f} s; {len(samples)} samples of the pool process")
    if during:
        first = [m for d, m in during if d == during[0][0]]
        last = [m for d, m in during if d == during[-1][0]]
        n = len(during)
        mx = sum(d for d, _ in during) / n
        my = sum(m for _, m in during) / n
        sxx = sum((d - mx) ** 2 for d, _ in during)
        slope = sum((d - mx) * (m - my) for d, m in during) / sxx if sxx > 0 else 0.0
        print(
            f"pool RSS: {first[0]:.1f} MiB after run {during[0][0]}, {last[0]:.1f} MiB when run "
            f"{during[-1][0]} was done, peak {max(m for _, _, m in samples):.1f} MiB (with the "
            f"audit and report at the end); growth {slope * 100:+.2f} MiB per 100 runs "
            "(least squares over the samples)"
        )
        # The curve itself: the pool's RSS when each tenth of the runs was done.
        total = during[-1][0]
        marks = sorted({max(1, round(total * k / 10)) for k in range(1, 11)})
        points = []
        for mark in marks:
            at = [m for d, m in during if d == mark]
            if at:
                points.append(f"{mark}: {at[0]:.1f}")
        print("pool RSS (MiB) by runs done: " + ", ".join(points))
    if worker:
        print(
            f"worker peak RSS (VmHWM): min {worker[0]:.1f}, median {statistics.median(worker):.1f}, "
            f"max {worker[-1]:.1f} MiB over {len(worker)} runs"
        )
        by_arm = {}
        for r in records:
            if r.get("peak_rss_mib") is not None:
                by_arm.setdefault(r["arm_id"], []).append(r["peak_rss_mib"])
        for arm, v in sorted(by_arm.items()):
            print(f"  {arm}: max {max(v):.1f} MiB")


if __name__ == "__main__":
    main()
