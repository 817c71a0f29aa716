"""Golden numbers for src/audit/budget.rs (tests/it/budget.rs), from NumPy/SciPy in .venv.

- `expected_best`: E[best of n configurations] drawn without replacement from the N observed
  ones (Tang et al. 2020's unbiased estimator of Dodge et al. 2019's expected validation
  performance), and the standard deviation of that best, computed here by enumerating every
  n-subset (itertools.combinations), not by the order-statistic formula the Rust code uses.
  Ties, lower-is-better metrics (the best is the minimum) and N up to 9.
- `prob_improvement`: P(b > a) = U / (n m) with U from scipy.stats.mannwhitneyu (ties count
  1/2; for a lower-is-better metric U of a against b, so ">" means better), and its 95%
  percentile bootstrap interval: 2000 resamples, each drawing a's n values and then b's m
  values with replacement by SplitMix64 seeded 20240613 (index = next_u64 % len), percentiles by
  np.percentile's default linear interpolation.

Usage: .venv/bin/python scripts/gen_golden_budget.py > tests/golden/budget_scipy.json
"""
import itertools
import json
import sys

import numpy as np
from scipy import stats

MASK = (1 << 64) - 1
SEED = 20240613
RESAMPLES = 2000


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next_u64() % n


EXPECTED_BEST = [
    # A learning-rate sweep's per-point means (accuracy).
    ([0.912, 0.861, 0.934, 0.903, 0.887], True),
    # Ties, and one configuration far below the rest.
    ([0.80, 0.80, 0.75, 0.91, 0.80, 0.12], True),
    # A loss (lower is better).
    ([0.412, 0.388, 0.455, 0.371, 0.399, 0.402, 0.420], False),
    ([0.5], True),
    ([0.61, 0.64, 0.59, 0.66, 0.62, 0.70, 0.58, 0.63, 0.65], True),
]

PROB = [
    # b better on every seed: P = 1.
    ([0.90, 0.91, 0.89], [0.92, 0.93, 0.94], True),
    # Overlapping, with a tie across arms.
    ([0.912, 0.905, 0.921, 0.899, 0.915], [0.901, 0.897, 0.915, 0.902, 0.925], True),
    # Unequal sizes.
    ([0.60, 0.62, 0.65, 0.61, 0.64, 0.66, 0.63], [0.58, 0.63, 0.61, 0.60, 0.62], True),
    # Lower is better (NLL): b better when smaller.
    ([0.41, 0.44, 0.43, 0.40, 0.45, 0.42], [0.39, 0.40, 0.38, 0.41, 0.40, 0.43], False),
]


def enumerate_best(values, higher):
    best = max if higher else min
    n_all = len(values)
    means, sds = [], []
    for n in range(1, n_all + 1):
        bests = np.array([best(c) for c in itertools.combinations(values, n)])
        means.append(float(bests.mean()))
        sds.append(float(bests.std()))
    return means, sds


def prob(a, b, higher):
    if higher:
        u = stats.mannwhitneyu(b, a, alternative="two-sided").statistic
    else:
        u = stats.mannwhitneyu(a, b, alternative="two-sided").statistic
    return float(u) / (len(a) * len(b))


def bootstrap(a, b, higher):
    rng = SplitMix64(SEED)
    stars = []
    for _ in range(RESAMPLES):
        ra = [a[rng.below(len(a))] for _ in a]
        rb = [b[rng.below(len(b))] for _ in b]
        stars.append(prob(ra, rb, higher))
    lo, hi = np.percentile(np.array(stars), [2.5, 97.5])
    return float(lo), float(hi)


out = {"expected_best": [], "prob_improvement": []}
for values, higher in EXPECTED_BEST:
    means, sds = enumerate_best(values, higher)
    out["expected_best"].append(
        {"values": values, "higher_is_better": higher, "expected_best": means, "sd_best": sds}
    )
for a, b, higher in PROB:
    out["prob_improvement"].append(
        {"a": a, "b": b, "higher_is_better": higher, "p": prob(a, b, higher),
         "ci95": bootstrap(a, b, higher)}
    )
json.dump(out, sys.stdout, indent=1)
print()
