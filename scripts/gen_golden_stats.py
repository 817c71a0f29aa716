"""Golden statistics from SciPy (in .venv) for src/audit.rs's tests (tests/it/stats.rs).

Paired t-tests, Wilcoxon signed-rank tests (exact where SciPy is exact), and t-intervals on
small samples shaped like per-seed accuracies. Under "gate": the regression gate's one-sided
95% bounds of mean(now) - mean(blessed), paired (ttest_rel) or Welch (ttest_ind, equal_var=False),
with their t quantiles and Welch degrees of freedom (src/audit/gate.rs, tests/it/gate.rs).

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

# (now, blessed, pairing, higher_is_better). The first is MNIST-1D logistic as blessed in
# reports/mnist1d.json against a change that costs about 0.026 on every seed.
GATE_CASES = [
    ([0.296, 0.285, 0.291, 0.283, 0.292], [0.317, 0.314, 0.315, 0.316, 0.315], "paired", True),
    ([0.315, 0.313, 0.316, 0.314, 0.314], [0.317, 0.314, 0.315, 0.316, 0.315], "paired", True),
    ([0.41, 0.44, 0.43, 0.40, 0.45, 0.42], [0.39, 0.40, 0.38, 0.41, 0.40, 0.39], "paired", False),
    ([0.931, 0.925, 0.940, 0.936], [0.941, 0.937, 0.932, 0.939, 0.947], "welch", True),
    ([0.52, 0.61, 0.55, 0.58, 0.49, 0.60, 0.57], [0.47, 0.48, 0.47, 0.46, 0.48], "welch", False),
]
T_QUANTILE_DFS = [1.0, 2.0, 4.0, 9.0, 5.37, 17.25, 120.0]


def gate_cases():
    out = []
    for now, blessed, pairing, higher in GATE_CASES:
        # The worst case: the lower bound when higher is better, else the upper bound.
        alternative = "greater" if higher else "less"
        if pairing == "paired":
            r = stats.ttest_rel(now, blessed, alternative=alternative)
        else:
            r = stats.ttest_ind(now, blessed, equal_var=False, alternative=alternative)
        ci = r.confidence_interval(0.95)
        worst = ci.low if higher else ci.high
        out.append({
            "now": now, "blessed": blessed, "pairing": pairing, "higher_is_better": higher,
            "change": float(np.mean(now) - np.mean(blessed)),
            "df": float(r.df), "t": float(stats.t.ppf(0.95, r.df)), "worst": float(worst),
        })
    return {
        "cases": out,
        "t_quantiles_95": [[df, float(stats.t.ppf(0.95, df))] for df in T_QUANTILE_DFS],
    }


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
    json.dump({"generator": "scripts/gen_golden_stats.py", "cases": out, "gate": gate_cases()},
              sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
