//! The blessed baseline table: per spec, arm and metric, the per-seed values, mean, sd, n, run
//! keys and a fingerprint of what the numbers depend on. Written by `repro bless` into
//! `baselines/blessed/` (committed), read by `repro check`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{summarize, BlessedArm};
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
    #[error("{spec}: {missing} run(s) are not done (or failed); run `repro run` before blessing")]
    Incomplete { spec: String, missing: usize },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlessedTable {
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
pub fn build(
    spec: &Spec,
    records: &[(String, Option<&Record>)],
    quick: bool,
    default_tolerance: f64,
) -> Result<BlessedTable, BaselineError> {
    let missing = records
        .iter()
        .filter(|(_, r)| r.is_none_or(|r| r.metrics.is_none()))
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
        .map(|arm| {
            let metric = Metric::of(arm.claim);
            let mine: Vec<&Record> = records
                .iter()
                .filter(|(id, _)| *id == arm.id)
                .filter_map(|(_, r)| *r)
                .collect();
            let seeds: Vec<(i64, f64, String)> = mine
                .iter()
                .filter_map(|r| r.metrics.map(|m| (r.seed, m.get(metric), r.key.clone())))
                .collect();
            let values: Vec<f64> = seeds.iter().map(|s| s.1).collect();
            let s = summarize(&values);
            BlessedArm {
                arm_id: arm.id.clone(),
                metric,
                tolerance: arm.claim.map_or(default_tolerance, |c| c.tolerance),
                mean: s.map_or(f64::NAN, |s| s.mean),
                sd: s.map_or(f64::NAN, |s| s.sd),
                n: values.len(),
                seeds,
                fingerprint: mine.first().map(|r| fingerprint(r)).unwrap_or_default(),
            }
        })
        .collect();
    Ok(BlessedTable {
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
    serde_json::from_slice(&bytes).map_err(|source| BaselineError::Json {
        path: path.to_path_buf(),
        source,
    })
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
                    "{}: new, {} {:.4} ± {:.4} (n={})",
                    a.arm_id,
                    a.metric.name(),
                    a.mean,
                    a.sd,
                    a.n
                ),
                Some(b) if b.seeds == a.seeds => format!("{}: unchanged", a.arm_id),
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
