//! The blessed baseline table: per spec, arm and metric, the per-seed values, mean, sd, n, run
//! keys, the gate's tolerance and the metric's resolution, and a fingerprint of what the
//! numbers depend on. Written by `repro bless` into `baselines/blessed/` (committed), read by
//! `repro check`.
//!
//! Format 2 (`"format": 2`) gives each arm its own `gate_tolerance`; a table without `format`
//! was blessed when the gate reused the paper claim's tolerance and is refused with a message
//! saying to bless again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{default_tolerance, fmt_gate_number, summarize, BlessedArm};
use crate::record::Record;
use crate::spec::{Metric, Spec};

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a blessed table: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: no blessed table; run `repro bless` first")]
    Missing { path: PathBuf },
    #[error(
        "{path}: blessed table format {found}, this repro reads format {FORMAT}{hint}; run \
         `repro bless` again (with `gate.tolerance` in the spec if the default does not fit)",
        hint = if *found < 2 { " (older tables gated on the paper claim's tolerance)" } else { "" }
    )]
    Format { path: PathBuf, found: u64 },
    #[error(
        "{spec}: {missing} run(s) are not done, diverged or collapsed; a blessed table holds \
         every planned seed's value (run `repro run`, or fix the arm, before blessing)"
    )]
    Incomplete { spec: String, missing: usize },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The blessed table format this code writes and reads.
pub const FORMAT: u64 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlessedTable {
    /// [`FORMAT`]; absent (1) in tables written before the gate had its own tolerance.
    pub format: u64,
    pub spec_id: String,
    pub spec_sha256: String,
    pub quick: bool,
    pub arms: Vec<BlessedArm>,
}

/// `<dir>/<spec id>.json`, or `<spec id>.quick.json` for the `--quick` variant.
pub fn table_path(dir: &Path, spec_id: &str, quick: bool) -> PathBuf {
    dir.join(format!(
        "{spec_id}{}.json",
        if quick { ".quick" } else { "" }
    ))
}

/// What a run's numbers depend on besides the code.
pub fn fingerprint(r: &Record) -> String {
    let material = serde_json::json!({
        "arm": r.arm_sha256,
        "data": r.data,
        "libtorch": r.libtorch,
        "device": r.device,
    });
    hex::encode(Sha256::digest(material.to_string().as_bytes()))
}

/// The table for `spec` from one record per planned run (`(arm id, record)`, plan order).
/// `resolutions` has one entry per arm of the spec (1/N_test for fraction metrics, else 0);
/// an arm's gate tolerance is its spec's `gate.tolerance`, else `tolerance`, else
/// [`default_tolerance`].
pub fn build(
    spec: &Spec,
    records: &[(String, Option<&Record>)],
    quick: bool,
    tolerance: Option<f64>,
    resolutions: &[f64],
) -> Result<BlessedTable, BaselineError> {
    let missing = records
        .iter()
        .filter(|(_, r)| {
            r.is_none_or(|r| {
                r.metrics.is_none() || matches!(r.status, crate::train::Status::Collapsed { .. })
            })
        })
        .count();
    if missing > 0 {
        return Err(BaselineError::Incomplete {
            spec: spec.id.clone(),
            missing,
        });
    }
    let arms = spec
        .arms
        .iter()
        .zip(resolutions)
        .map(|(arm, &resolution)| {
            let metric = Metric::of_arm(arm);
            let mine: Vec<&Record> = records
                .iter()
                .filter(|(id, _)| *id == arm.id)
                .filter_map(|(_, r)| *r)
                .collect();
            let seeds: Vec<(i64, f64, String)> = mine
                .iter()
                .filter_map(|r| r.value(metric).map(|v| (r.seed, v, r.key.clone())))
                .collect();
            let values: Vec<f64> = seeds.iter().map(|s| s.1).collect();
            let s = summarize(&values);
            let mean = s.map_or(f64::NAN, |s| s.mean);
            BlessedArm {
                arm_id: arm.id.clone(),
                metric,
                gate_tolerance: arm
                    .gate_tolerance
                    .or(tolerance)
                    .unwrap_or_else(|| default_tolerance(metric, mean)),
                resolution,
                mean,
                sd: s.map_or(f64::NAN, |s| s.sd),
                n: values.len(),
                seeds,
                fingerprint: mine.first().map(|r| fingerprint(r)).unwrap_or_default(),
            }
        })
        .collect();
    Ok(BlessedTable {
        format: FORMAT,
        spec_id: spec.id.clone(),
        spec_sha256: spec.file_sha256.clone(),
        quick,
        arms,
    })
}

pub fn read(path: &Path) -> Result<BlessedTable, BaselineError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BaselineError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(BaselineError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let json = |source| BaselineError::Json {
        path: path.to_path_buf(),
        source,
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(json)?;
    // The format first: an old table fails on its version, not on a missing field.
    let found = match value.get("format") {
        None => 1,
        Some(f) => f.as_u64().unwrap_or(0),
    };
    if found != FORMAT {
        return Err(BaselineError::Format {
            path: path.to_path_buf(),
            found,
        });
    }
    serde_json::from_value(value).map_err(json)
}

pub fn write(path: &Path, table: &BlessedTable) -> Result<(), BaselineError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| BaselineError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut text = serde_json::to_string_pretty(table).map_err(|source| BaselineError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    text.push('\n');
    Ok(crate::store::write_atomic(path, text.as_bytes())?)
}

/// Human-readable differences between an old and a new table, one line per arm.
pub fn diff(old: Option<&BlessedTable>, new: &BlessedTable) -> Vec<String> {
    new.arms
        .iter()
        .map(|a| {
            let before = old.and_then(|o| o.arms.iter().find(|b| b.arm_id == a.arm_id));
            match before {
                None => format!(
                    "{}: new, {} {:.4} ± {:.4} (n={}), gate tolerance {}",
                    a.arm_id,
                    a.metric.name(),
                    a.mean,
                    a.sd,
                    a.n,
                    fmt_gate_number(a.gate_tolerance)
                ),
                Some(b) if b.seeds == a.seeds && b.gate_tolerance == a.gate_tolerance => {
                    format!("{}: unchanged", a.arm_id)
                }
                Some(b) if b.seeds == a.seeds => format!(
                    "{}: values unchanged, gate tolerance {} -> {}",
                    a.arm_id,
                    fmt_gate_number(b.gate_tolerance),
                    fmt_gate_number(a.gate_tolerance)
                ),
                Some(b) => format!(
                    "{}: {} {:.4} ± {:.4} (n={}) -> {:.4} ± {:.4} (n={})",
                    a.arm_id,
                    a.metric.name(),
                    b.mean,
                    b.sd,
                    b.n,
                    a.mean,
                    a.sd,
                    a.n
                ),
            }
        })
        .collect()
}
