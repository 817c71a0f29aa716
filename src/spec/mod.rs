//! Specs: YAML files under `papers/` and `baselines/` → validated, defaults-resolved arms.
//!
//! - [`load`] reads one file (size and UTF-8 checked), parses it with [`crate::yaml`], decodes
//!   every field with all problems collected, and returns a [`Spec`] or a [`SpecError`].
//! - [`types`] holds the domain types; each resolved arm has a canonical JSON form and sha256.
//! - `decode` holds the error-collecting decoder helpers.

pub mod decode;
mod read;
pub mod types;

use std::fmt;
use std::path::{Path, PathBuf};

pub use decode::Diagnostic;
pub use read::{load, load_all, parse_bytes, spec_files, MAX_SPEC_BYTES, RNN_DEFAULT_CLIP};
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
