"""Golden metric-learning losses from pytorch-metric-learning 2.9.0, for tests/it/metric.rs.

On fixed float32 embeddings and labels (batches of at most 25 rows, so torch.cdist computes
euclidean distances from differences, exact at zero): for every mining (all = TripletMarginLoss
without a miner, hard = BatchHardMiner, semihard = TripletMarginMiner(margin, "semihard")), every
distance (LpDistance(), CosineSimilarity()) and several margins, the loss of
TripletMarginLoss(margin, distance) (default AvgNonZeroReducer) and the number of mined
triplets; and NormalizedSoftmaxLoss(num_classes, embedding_size, temperature) with fixed
weights. The batches include ties (identical embeddings) and anchors without a positive.
repro must match to 1e-6.

Usage: .venv/bin/python scripts/gen_golden_metric.py > tests/golden/metric_pml.json
"""
import json
import sys

import pytorch_metric_learning
import torch
from pytorch_metric_learning import distances, losses, miners
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

assert pytorch_metric_learning.__version__ == "2.9.0", pytorch_metric_learning.__version__

MARGINS = [0.01, 0.1, 0.2, 0.5, 1.0]


def batches():
    g = torch.Generator().manual_seed(1212)
    out = []
    # A balanced 4 x 4 batch in 8 dimensions.
    out.append(("balanced", torch.randn(16, 8, generator=g), torch.arange(4).repeat_interleave(4)))
    # Unbalanced, with anchors that have no positive (classes 5 and 6 appear once).
    out.append(("singletons", torch.randn(11, 5, generator=g), torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 5, 6])))
    # Ties: repeated embeddings within and across classes.
    e = torch.randn(6, 4, generator=g)
    ties = torch.cat([e, e[[0, 1, 3]], e[[2]]])
    out.append(("ties", ties, torch.tensor([0, 0, 1, 1, 2, 2, 0, 1, 2, 0])))
    # Larger, 24 rows in 16 dimensions, 6 classes.
    out.append(("wide", torch.randn(24, 16, generator=g), torch.randint(0, 6, (24,), generator=g)))
    return out


def triplet_case(emb, labels, mining, dist_name, margin):
    dist = distances.LpDistance() if dist_name == "euclidean" else distances.CosineSimilarity()
    loss_fn = losses.TripletMarginLoss(margin=margin, distance=dist)
    if mining == "all":
        mined = lmu.get_all_triplets_indices(labels)
        loss = loss_fn(emb, labels)
    else:
        if mining == "hard":
            miner = miners.BatchHardMiner(distance=dist)
        else:
            miner = miners.TripletMarginMiner(margin=margin, type_of_triplets="semihard", distance=dist)
        mined = miner(emb, labels)
        loss = loss_fn(emb, labels, mined)
    return float(loss), int(len(mined[0]))


def main():
    out = {"pml_version": pytorch_metric_learning.__version__, "torch": torch.__version__,
           "batches": [], "triplet": [], "normalized_softmax": []}
    for name, emb, labels in batches():
        out["batches"].append({"name": name, "embeddings": emb.tolist(), "labels": labels.tolist()})
        for mining in ["all", "hard", "semihard"]:
            for dist in ["euclidean", "cosine"]:
                for margin in MARGINS:
                    loss, count = triplet_case(emb, labels, mining, dist, margin)
                    out["triplet"].append({"batch": name, "mining": mining, "distance": dist,
                                           "margin": margin, "loss": loss, "mined": count})
    g = torch.Generator().manual_seed(7)
    for name, emb, labels in batches():
        classes = int(labels.max()) + 1
        for temperature in [0.05, 0.5]:
            loss_fn = losses.NormalizedSoftmaxLoss(classes, emb.shape[1], temperature=temperature)
            with torch.no_grad():
                loss_fn.W.copy_(torch.randn(emb.shape[1], classes, generator=g))
            out["normalized_softmax"].append({"batch": name, "temperature": temperature,
                                              "weight": loss_fn.W.tolist(),
                                              "loss": float(loss_fn(emb, labels).detach())})
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
