"""How often the regression gate fails by chance, and how often it catches a shift
(src/audit/gate.rs, README "The regression gate"), where its margin is the noise term
NOISE_SDS x blessed sd (a gate tolerance above that only makes it more lenient).

A candidate is a fresh draw of every seed (a change that only redraws the seed noise), shifted
by `shift` blessed standard deviations in the bad direction; the gate fails when the one-sided
95% lower bound of the paired mean difference is below -NOISE_SDS x sd(blessed).

Usage: .venv/bin/python scripts/gate_error_rates.py
"""
import numpy as np
from scipy import stats

DRAWS = 20_000
SHIFTS = (0, 4, 6, 8, 10, 24)


def main():
    rng = np.random.default_rng(0)
    print("n  k  " + " ".join(f"shift {s:>2} sd" for s in SHIFTS))
    for n in (3, 5, 10):
        t = stats.t.ppf(0.95, n - 1)
        blessed = rng.normal(0, 1, (DRAWS, n))
        now = rng.normal(0, 1, (DRAWS, n))
        for k in (3, 4, 5):
            row = []
            for shift in SHIFTS:
                d = now - shift - blessed
                worst = d.mean(1) - t * d.std(1, ddof=1) / np.sqrt(n)
                row.append((worst < -k * blessed.std(1, ddof=1)).mean())
            print(f"{n:<2} {k}  " + " ".join(f"{r:>11.3f}" for r in row))


if __name__ == "__main__":
    main()
