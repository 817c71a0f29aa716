//! Retrieval metrics on a split's embeddings, as pytorch-metric-learning 2.9.0's
//! `AccuracyCalculator` computes them (Musgrave, Belongie & Lim 2020, "A Metric Learning Reality
//! Check"): `precision_at_1`, `r_precision` and `map_at_r`.
//!
//! The split is both query and reference set (`get_accuracy(query, labels)`, i.e.
//! `ref_includes_query=True`): a query never retrieves itself, and its R is the number of OTHER
//! items of its class. Queries with R = 0 (the only member of their class) are left out of every
//! mean, as pml's "lone query" mask does; a split where every query is lone has no retrieval
//! metrics. Means are over queries (pml's default `avg_of_avgs=False`), not per class.
//!
//! Neighbours are exact: Euclidean distances between L2-normalised embeddings (the ranking of
//! cosine similarity), all pairs computed in chunks of queries so memory stays bounded, and
//! only each query's R nearest kept. Ties in distance are broken by the lower reference index
//! (pml's `torch.topk` leaves their order unspecified; golden cases avoid exact ties).

use tch::{Device, Kind, Tensor};

/// Retrieval metrics of one split, with what collapse detection needs beside them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retrieval {
    /// Fraction of queries whose nearest other item shares their class.
    pub precision_at_1: f64,
    /// Mean over queries of the fraction of their class among their R nearest.
    pub r_precision: f64,
    /// Mean over queries of average precision within the R nearest, divided by R.
    pub map_at_r: f64,
    /// Queries the means are over (those with R ≥ 1).
    pub queries: usize,
    /// The expected MAP@R of a uniformly random ranking with the same class counts.
    pub chance_map_at_r: f64,
    /// The standard error of `map_at_r` over queries (sd of per-query AP@R / √queries).
    pub map_at_r_se: f64,
}

/// Query rows per chunk: bounds the distance block to `chunk × N` floats (~32 MiB at N = 10k).
const CHUNK_ELEMENTS: i64 = 1 << 23;

/// Retrieval metrics of `embeddings` (`[N, d]`, any device) with class `labels` (length N);
/// `None` when no query has another item of its class.
pub fn retrieval(embeddings: &Tensor, labels: &[i64]) -> Option<Retrieval> {
    let n = labels.len();
    let mut counts = std::collections::HashMap::new();
    for &l in labels {
        *counts.entry(l).or_insert(0usize) += 1;
    }
    let r_of: Vec<usize> = labels.iter().map(|l| counts[l] - 1).collect();
    if r_of.iter().all(|&r| r == 0) {
        return None;
    }
    let e = normalize(embeddings);
    let sq = e.square().sum_dim_intlist(1, false, Kind::Float);
    let chunk = (CHUNK_ELEMENTS / n.max(1) as i64).max(1);
    let (mut p1, mut rp, mut ap) = (0.0, 0.0, Vec::with_capacity(n));
    let mut chance = 0.0;
    let mut start = 0i64;
    while start < n as i64 {
        let len = chunk.min(n as i64 - start);
        let q = e.narrow(0, start, len);
        // ‖q‖² + ‖r‖² − 2 q·r, clamped at 0 against rounding.
        let d2 = (sq.narrow(0, start, len).unsqueeze(1) + sq.unsqueeze(0)
            - q.matmul(&e.tr()) * 2.0)
            .clamp_min(0.0)
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous();
        let block = Vec::<f32>::try_from(d2.flatten(0, -1)).unwrap_or_default();
        for row in 0..len as usize {
            let qi = start as usize + row;
            let r = r_of[qi];
            if r == 0 {
                continue;
            }
            let dist = &block[row * n..(row + 1) * n];
            let nearest = nearest(dist, qi, r);
            let same: Vec<bool> = nearest.iter().map(|&j| labels[j] == labels[qi]).collect();
            p1 += f64::from(u8::from(same[0]));
            let mut hits = 0usize;
            let mut sum = 0.0;
            for (i, &s) in same.iter().enumerate() {
                if s {
                    hits += 1;
                    sum += hits as f64 / (i + 1) as f64;
                }
            }
            rp += hits as f64 / r as f64;
            ap.push(sum / r as f64);
            chance += chance_ap_at_r(r, n - 1);
        }
        start += len;
    }
    let q = ap.len() as f64;
    let map = ap.iter().sum::<f64>() / q;
    let var = if ap.len() > 1 {
        ap.iter().map(|a| (a - map).powi(2)).sum::<f64>() / (q - 1.0)
    } else {
        0.0
    };
    Some(Retrieval {
        precision_at_1: p1 / q,
        r_precision: rp / q,
        map_at_r: map,
        queries: ap.len(),
        chance_map_at_r: chance / q,
        map_at_r_se: (var / q).sqrt(),
    })
}

/// Rows of `x` (`[N, d]`) scaled to unit L2 norm, in float32 (a zero row stays zero).
pub fn normalize(x: &Tensor) -> Tensor {
    let x = x.to_kind(Kind::Float);
    let norm = x
        .square()
        .sum_dim_intlist(1, true, Kind::Float)
        .sqrt()
        .clamp_min(1e-12);
    x / norm
}

/// The `r` references nearest to query `qi` by `dist` (itself excluded), nearest first, ties
/// by the lower index.
fn nearest(dist: &[f32], qi: usize, r: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..dist.len()).filter(|&j| j != qi).collect();
    let key = |a: &usize, b: &usize| dist[*a].total_cmp(&dist[*b]).then(a.cmp(b));
    if r < idx.len() {
        idx.select_nth_unstable_by(r - 1, key);
        idx.truncate(r);
    }
    idx.sort_unstable_by(key);
    idx
}

/// E[AP@R] of a query with `r` relevant items among `m` others ranked uniformly at random:
/// (1/R) Σᵢ₌₁..R P(item i relevant) · E[precision at i | item i relevant]
/// = (1/m) Σᵢ (1 + (i − 1)(r − 1)/(m − 1)) / i.
pub fn chance_ap_at_r(r: usize, m: usize) -> f64 {
    let (rf, mf) = (r as f64, m as f64);
    let tail = if m > 1 { (rf - 1.0) / (mf - 1.0) } else { 0.0 };
    (1..=r)
        .map(|i| (1.0 + (i as f64 - 1.0) * tail) / i as f64)
        .sum::<f64>()
        / mf
}

/// Mean Euclidean distance of the L2-normalised rows of `embeddings` to their centroid: about
/// 1 for embeddings spread over the sphere, 0 when every point is the same.
pub fn spread(embeddings: &Tensor) -> f64 {
    let e = normalize(embeddings).to_kind(Kind::Double);
    let centre = e.mean_dim(0, true, Kind::Double);
    (e - centre)
        .square()
        .sum_dim_intlist(1, false, Kind::Double)
        .sqrt()
        .mean(Kind::Double)
        .double_value(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(rows: &[[f32; 2]]) -> Tensor {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, 2])
    }

    #[test]
    fn a_hand_ranking() {
        // Angles 0°, 10°, 20° (class 0) and 15°, 90° (class 1); neighbours by angle.
        // q0 → [10°, 15°]: hit, miss: AP (1/1)/2 = .5, RP .5, P@1 1.
        // q1 → [15°, 0° or 20°]: miss, hit: AP (1/2)/2 = .25, RP .5, P@1 0.
        // q2 → [15°, 10°]: AP .25, RP .5, P@1 0. q3 (R = 1) → 10° or 20°: a miss. q4 → 20°: a miss.
        let deg = |a: f32| {
            let r = a.to_radians();
            [r.cos(), r.sin()]
        };
        let e = emb(&[deg(0.), deg(10.), deg(20.), deg(15.), deg(90.)]);
        let r = retrieval(&e, &[0, 0, 0, 1, 1]).unwrap();
        assert_eq!(r.queries, 5);
        assert!((r.precision_at_1 - 0.2).abs() < 1e-12, "{r:?}");
        assert!((r.r_precision - 1.5 / 5.0).abs() < 1e-12, "{r:?}");
        assert!((r.map_at_r - 1.0 / 5.0).abs() < 1e-12, "{r:?}");
    }

    #[test]
    fn ties_go_to_the_lower_index_and_self_is_never_retrieved() {
        // Every point identical: each query's nearest are the lowest other indices.
        let e = emb(&[[1., 0.]; 4]);
        let r = retrieval(&e, &[0, 1, 0, 1]).unwrap();
        // q0 → [1] miss; q1 → [0] miss; q2 → [0] hit; q3 → [0] miss.
        assert!((r.precision_at_1 - 0.25).abs() < 1e-12, "{r:?}");
        assert_eq!(nearest(&[0.0; 4], 2, 3), vec![0, 1, 3]);
    }

    #[test]
    fn lone_queries_are_left_out_and_all_lone_has_no_metrics() {
        let e = emb(&[[1., 0.], [0.9, 0.1], [0., 1.]]);
        let r = retrieval(&e, &[0, 0, 1]).unwrap();
        assert_eq!(r.queries, 2);
        assert_eq!(r.map_at_r, 1.0);
        assert!(retrieval(&e, &[0, 1, 2]).is_none());
    }

    #[test]
    fn chance_ap_matches_enumeration() {
        // R = 2 relevant among m = 4: average AP@R over all 6 placements of the relevant pair.
        let mut total = 0.0;
        let mut count = 0.0;
        for a in 0..4 {
            for b in a + 1..4 {
                let rel = |i: usize| i == a || i == b;
                let (mut hits, mut sum) = (0.0, 0.0);
                for i in 0..2 {
                    if rel(i) {
                        hits += 1.0;
                        sum += hits / (i + 1) as f64;
                    }
                }
                total += sum / 2.0;
                count += 1.0;
            }
        }
        assert!((chance_ap_at_r(2, 4) - total / count).abs() < 1e-12);
    }
}
