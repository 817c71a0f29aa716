//! Collapse detection: when a run's test embeddings carry no information, the run is recorded
//! with status `collapsed` and its numbers are no finding (about a margin, a miner, anything).
//! The known case is batch-hard triplet mining from scratch, which can pull every point to
//! one spot where the loss sits at the margin (Hermans, Beyer & Leibe 2017; Musgrave et al.
//! 2020).
//!
//! Two rules, either suffices:
//! - **Radius:** the mean distance of the L2-normalised test embeddings to their centroid is
//!   below [`MIN_SPREAD`]. On the unit sphere that distance is about 1 for points spread over
//!   it and still about 0.1 for ten classes packed into a cap a few degrees wide, while a
//!   constant embedding gives float32 rounding (~1e-7): 1e-3 sits orders of magnitude from both.
//! - **Chance at the margin** (triplet arms): MAP@R within noise of its chance value (the
//!   expected MAP@R of a random ranking with the same class counts; noise: the larger of
//!   [`CHANCE_BAND`] and 3 standard errors over queries) while the final training loss is the
//!   margin within [`MARGIN_BAND`] (relative): every triplet sits at d(a,p) = d(a,n).

use super::retrieval::Retrieval;

/// Mean distance to the centroid (unit-norm embeddings) below which the embedding collapsed.
pub const MIN_SPREAD: f64 = 1e-3;

/// MAP@R this close to chance (absolute) is at chance, whatever the standard error.
pub const CHANCE_BAND: f64 = 0.01;

/// A final training loss within this fraction of the margin sits at the margin.
pub const MARGIN_BAND: f64 = 0.01;

/// Why the embedding counts as collapsed, or `None`. `spread`: mean distance to the centroid
/// of the normalised test embeddings; `retrieval`: their metrics; `triplet`: the arm's margin
/// and its final training loss, for triplet arms.
pub fn collapsed(
    spread: f64,
    retrieval: Option<&Retrieval>,
    triplet: Option<(f64, f64)>,
) -> Option<String> {
    if spread < MIN_SPREAD {
        return Some(format!(
            "test embeddings within a radius of {spread:.1e} of their centroid (below {MIN_SPREAD:.0e})"
        ));
    }
    let (r, (margin, loss)) = (retrieval?, triplet?);
    let band = CHANCE_BAND.max(3.0 * r.map_at_r_se);
    let at_chance = (r.map_at_r - r.chance_map_at_r).abs() <= band;
    let at_margin = (loss - margin).abs() <= MARGIN_BAND * margin;
    (at_chance && at_margin).then(|| {
        format!(
            "MAP@R {:.4} at chance ({:.4} ± {band:.4}) while the training loss {loss:.4} sits at \
             the margin {margin}",
            r.map_at_r, r.chance_map_at_r
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(map: f64, chance: f64) -> Retrieval {
        Retrieval {
            precision_at_1: map,
            r_precision: map,
            map_at_r: map,
            queries: 100,
            chance_map_at_r: chance,
            map_at_r_se: 0.001,
        }
    }

    #[test]
    fn radius_rule() {
        assert!(collapsed(1e-7, None, None).is_some());
        assert!(collapsed(0.2, None, None).is_none());
    }

    #[test]
    fn chance_at_the_margin_needs_both() {
        let chance = r(0.052, 0.05);
        assert!(collapsed(0.5, Some(&chance), Some((0.2, 0.2005))).is_some());
        // At chance but the loss moved away from the margin: not the collapse signature.
        assert!(collapsed(0.5, Some(&chance), Some((0.2, 0.15))).is_none());
        // At the margin but retrieval well above chance.
        assert!(collapsed(0.5, Some(&r(0.4, 0.05)), Some((0.2, 0.2))).is_none());
        // Not a triplet arm: only the radius rule applies.
        assert!(collapsed(0.5, Some(&chance), None).is_none());
    }
}
