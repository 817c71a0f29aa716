//! Specs: YAML files under `papers/` and `baselines/` → validated, defaults-resolved arms.
//!
//! A file goes through these, in order:
//! - `load.rs`: finds spec files, checks size and UTF-8, parses with [`crate::yaml`], and runs
//!   the decoder with every problem collected ([`load()`], [`load_all`], [`parse_bytes`]).
//! - `document.rs`: the top-level document: header fields, `defaults:`, `quick:`, the arms list
//!   (one [`Arm`] per arm and sweep point), `compare:`.
//! - `sweep.rs`: `sweep:` axes, their grid of points, and the names of arms at a point.
//! - `arm.rs`: one arm at one point: defaults → arm → point → `quick:` layering, `tuning:`,
//!   and the checks that span sections.
//! - `compare.rs`: `compare:` pairs and sweep keys → [`Comparison`]s.
//! - `section/`: one decoder per section (`source`, `dataset`, `protocol`, `seeds`, `data`,
//!   `train`, `model`, `claim`); `section/dataset.rs` datasets declared by files and the
//!   project catalog (`datasets.yaml`).
//! - [`decode`]: the error-collecting decoder helpers and "did you mean".
//! - [`types`]: the domain types; each resolved arm has a canonical JSON form and sha256;
//!   `loss.rs` the metric-learning ones (`train.loss`, `train.sampler`, `model.embedding_dim`).

mod arm;
mod compare;
mod data_types;
pub mod decode;
mod document;
mod load;
mod loss;
mod metric;
mod model_types;
mod section;
mod stack;
mod sweep;
pub mod types;

use std::fmt;
use std::path::{Path, PathBuf};

pub use decode::Diagnostic;
pub use load::{load, load_all, parse_bytes, spec_files, MAX_SPEC_BYTES};
pub use section::dataset::{
    find_project_catalog, load_project, project_catalog_here, Project, PROJECT_CATALOG,
};
pub use section::RNN_DEFAULT_CLIP;
pub use stack::model_refusal as stack_model_refusal;
pub use types::*;

/// Everything wrong with one spec file.
#[derive(Debug)]
pub struct SpecError {
    pub path: PathBuf,
    pub diags: Vec<Diagnostic>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diags.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}: {}", self.path.display(), d.pos, d.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

impl SpecError {
    pub(crate) fn whole_file(path: &Path, message: impl Into<String>) -> SpecError {
        SpecError {
            path: path.to_path_buf(),
            diags: vec![Diagnostic {
                pos: crate::yaml::Pos { line: 1, col: 1 },
                message: message.into(),
            }],
        }
    }
}
