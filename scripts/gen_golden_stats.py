"""Golden statistics from SciPy (in .venv) for src/audit/'s tests (tests/it/stats.rs).

- `cases`: paired t-tests, Wilcoxon signed-rank tests (exact where SciPy is exact, zeros
  dropped, ties given average ranks) and the t-interval of the mean difference, on small
  samples shaped like per-seed accuracies.
- `wilcoxon_approx`: more than 25 non-zero pairs, with ties and zero differences: the normal
  approximation with the tie correction, no continuity correction (what src/audit/stats.rs does
  above 25 pairs).
- `intervals`: the Student t interval of the mean at 95% and at the Bonferroni levels adaptive
  seeding uses (1 - 0.05/K for K looks).
- `holm`: Holm's step-down adjusted p values, computed here by hand (sorted ascending, the
  i-th from 0 is max over j <= i of min(1, (K - j) p_j)).
- `gate`: the regression gate's one-sided 95% bounds of mean(now) - mean(blessed), paired
  (ttest_rel) or Welch (ttest_ind, equal_var=False), with their t quantiles and Welch degrees
  of freedom (src/audit/gate.rs, tests/it/gate.rs).

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
    # Ties in |d| and a zero difference on a 1/1000 grid (exact: zeros dropped, average ranks).
    ([0.915, 0.902, 0.931, 0.900, 0.925, 0.911, 0.918, 0.905],
     [0.905, 0.892, 0.911, 0.900, 0.895, 0.901, 0.928, 0.925]),
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
GATE_P_MARGIN = 0.01
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
        # Non-inferiority at the margin (`noninferiority_p`, JUnit/summary p): H0 "worse by
        # the margin or more", i.e. the t-test of now shifted by the margin against blessed.
        shifted = np.array(now) + (GATE_P_MARGIN if higher else -GATE_P_MARGIN)
        if pairing == "paired":
            p = stats.ttest_rel(shifted, blessed, alternative=alternative).pvalue
        else:
            p = stats.ttest_ind(shifted, blessed, equal_var=False, alternative=alternative).pvalue
        out.append({
            "now": now, "blessed": blessed, "pairing": pairing, "higher_is_better": higher,
            "change": float(np.mean(now) - np.mean(blessed)),
            "df": float(r.df), "t": float(stats.t.ppf(0.95, r.df)), "worst": float(worst),
            "margin": GATE_P_MARGIN, "p": float(p),
        })
    return {
        "cases": out,
        "t_quantiles_95": [[df, float(stats.t.ppf(0.95, df))] for df in T_QUANTILE_DFS],
    }


def approx_case():
    """40 pairs on a 1/1000 grid (accuracies on a 1000-example test set): 3 zero differences,
    many tied |d|. The values are integers / 1000 so the differences tie the same way in Rust."""
    rng = np.random.default_rng(20240611)
    b = rng.integers(880, 920, size=40)
    d = rng.integers(-6, 10, size=40)
    d[[3, 11, 19]] = 0
    a = b + d
    return (a / 1000.0).tolist(), (b / 1000.0).tolist()


INTERVALS = [
    [0.912, 0.905, 0.921, 0.899, 0.915],
    [0.3154, 0.3141, 0.3168, 0.3150, 0.3157],
    [0.95, 0.951, 0.949],
    [0.8635, 0.848, 0.861, 0.864, 0.863, 0.852, 0.858, 0.866, 0.859, 0.861, 0.855, 0.870],
]
LOOKS = [1, 4, 18]

HOLM = [
    [0.01, 0.04, 0.03, 0.005],
    [0.2, 0.01],
    [0.04],
    [0.5, 0.6, 0.9],
]


def holm(p):
    k = len(p)
    order = sorted(range(k), key=lambda i: p[i])
    out = [0.0] * k
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * p[i]))
        out[i] = running
    return out


def paired_case(a, b, method):
    a, b = np.array(a), np.array(b)
    d = a - b
    t = stats.ttest_rel(a, b)
    w = stats.wilcoxon(a, b, method=method, zero_method="wilcox", correction=False)
    ci = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    return {
        "a": a.tolist(), "b": b.tolist(),
        "mean_diff": float(d.mean()), "sd_diff": float(d.std(ddof=1)),
        "ci95": [float(ci[0]), float(ci[1])],
        "t": float(t.statistic), "t_p": float(t.pvalue),
        "nonzero": int(np.count_nonzero(d)),
        "wilcoxon_w": float(w.statistic), "wilcoxon_p": float(w.pvalue),
        "cohens_dz": float(d.mean() / d.std(ddof=1)),
    }


def main():
    cases = [paired_case(a, b, "exact") for a, b in CASES]
    approx = paired_case(*approx_case(), "approx")
    intervals = []
    for values in INTERVALS:
        v = np.array(values)
        for looks in LOOKS:
            level = 1.0 - 0.05 / looks
            lo, hi = stats.t.interval(level, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
            intervals.append({"values": values, "level": level, "looks": looks,
                              "mean": float(v.mean()), "sd": float(v.std(ddof=1)),
                              "ci": [float(lo), float(hi)]})
    out = {
        "generator": "scripts/gen_golden_stats.py",
        "cases": cases,
        "wilcoxon_approx": approx,
        "intervals": intervals,
        "holm": [{"p": p, "adjusted": holm(p)} for p in HOLM],
        "gate": gate_cases(),
    }
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
