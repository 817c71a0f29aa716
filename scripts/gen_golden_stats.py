"""Golden statistics from SciPy (in .venv) for src/audit.rs's tests (tests/it/stats.rs).

Paired t-tests, Wilcoxon signed-rank tests (exact where SciPy is exact), and t-intervals on
small samples shaped like per-seed accuracies.

Usage: .venv/bin/python scripts/gen_golden_stats.py > tests/golden/stats_scipy.json
"""
import json
import sys

import numpy as np
from scipy import stats

CASES = [
    ([0.912, 0.905, 0.921, 0.899, 0.915], [0.901, 0.897, 0.915, 0.902, 0.903]),
    ([0.60, 0.62, 0.65, 0.61, 0.64, 0.66, 0.63], [0.58, 0.63, 0.61, 0.60, 0.62, 0.61, 0.62]),
    ([0.9401, 0.9372, 0.9318, 0.9390, 0.9470, 0.9365, 0.9412, 0.9288, 0.9436, 0.9380, 0.9402, 0.9333],
     [0.9081, 0.9100, 0.9190, 0.9010, 0.8880, 0.9050, 0.9120, 0.8990, 0.9070, 0.9160, 0.9030, 0.9111]),
]


def main():
    out = []
    for a, b in CASES:
        a, b = np.array(a), np.array(b)
        d = a - b
        t = stats.ttest_rel(a, b)
        w = stats.wilcoxon(a, b, method="exact")
        ci = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
        out.append({
            "a": a.tolist(), "b": b.tolist(),
            "mean_diff": float(d.mean()), "sd_diff": float(d.std(ddof=1)),
            "ci95": [float(ci[0]), float(ci[1])],
            "t": float(t.statistic), "t_p": float(t.pvalue),
            "wilcoxon_w": float(w.statistic), "wilcoxon_p": float(w.pvalue),
            "cohens_dz": float(d.mean() / d.std(ddof=1)),
        })
    json.dump({"generator": "scripts/gen_golden_stats.py", "cases": out}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
