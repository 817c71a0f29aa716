"""Golden retrieval metrics from pytorch-metric-learning 2.9.0 (in .venv) for
src/train/retrieval.rs (tests/it/retrieval.rs).

Each case is a fixed set of embeddings with labels, drawn here from a seeded NumPy generator
(class centres plus noise, so no two distances tie), and pml's `AccuracyCalculator` run on it
the way `repro` evaluates a test split: the split is both query and reference
(`get_accuracy(x, y)`: `ref_includes_query=True`, a query never retrieves itself), k=None (every
other item is a candidate: exact), `avg_of_avgs=False`, Euclidean distance between L2-normalised
embeddings (`CustomKNN(LpDistance())`; faiss is not installed, and its flat L2 index is exact
too).

Cases: balanced classes; imbalanced classes; a class with a single member (pml leaves such
"lone" queries out of every mean); many small classes; 1000 16-d items in 10 classes (the
size of MNIST-1D's test split).

Usage: .venv/bin/python scripts/gen_golden_retrieval.py > tests/golden/retrieval_pml.json
"""
import json

import numpy as np
import pytorch_metric_learning
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN

assert pytorch_metric_learning.__version__ == "2.9.0", pytorch_metric_learning.__version__

METRICS = ("precision_at_1", "r_precision", "mean_average_precision_at_r")


def case(name, counts, dim, noise, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(counts), dim))
    labels = np.concatenate([np.full(c, k) for k, c in enumerate(counts)])
    rng.shuffle(labels)
    x = centres[labels] + noise * rng.normal(size=(len(labels), dim))
    x = x.astype(np.float32)
    calc = AccuracyCalculator(include=METRICS, k=None, knn_func=CustomKNN(LpDistance()))
    acc = calc.get_accuracy(torch.from_numpy(x), torch.from_numpy(labels))
    return {
        "name": name,
        "dim": dim,
        "embeddings": [float(v) for v in x.flatten()],
        "labels": labels.tolist(),
        "precision_at_1": acc["precision_at_1"],
        "r_precision": acc["r_precision"],
        "map_at_r": acc["mean_average_precision_at_r"],
    }


def main():
    cases = [
        case("balanced", [8, 8, 8, 8], 4, 1.0, 1),
        case("imbalanced", [20, 5, 2, 11], 3, 0.8, 2),
        case("single_member_class", [6, 1, 7, 4], 3, 0.9, 3),
        case("many_classes", [3] * 12, 8, 1.2, 4),
        case("mnist1d_sized", [100] * 10, 16, 2.5, 5),
    ]
    print(json.dumps({"pytorch_metric_learning": pytorch_metric_learning.__version__,
                      "torch": torch.__version__, "cases": cases}))


if __name__ == "__main__":
    main()
