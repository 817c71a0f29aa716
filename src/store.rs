//! The run store: the only module that knows paths under it.
//!
//! Layout: `<root>/<spec id>/<arm id>/<run key>/` holding `config.json` (written by the planner),
//! `provenance.json` (before training), `curve.csv` (rewritten at each curve point),
//! `record.json`, and `DONE` last. Every file is written to a temporary name in the same
//! directory, fsynced, renamed into place, and the directory fsynced: a crash leaves either the
//! old file or the new one, never half of one. A run directory without `DONE` is incomplete and
//! is started again from scratch.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub const CONFIG: &str = "config.json";
pub const PROVENANCE: &str = "provenance.json";
pub const CURVE: &str = "curve.csv";
pub const RECORD: &str = "record.json";
pub const DONE: &str = "DONE";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// One run's directory inside a [`Store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl Store {
    /// `--store`, else `$REPRO_STORE`, else `runs/`.
    pub fn open(explicit: Option<&Path>) -> Store {
        let root = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("REPRO_STORE").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("runs"));
        Store { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn run_dir(&self, spec_id: &str, arm_id: &str, key: &str) -> RunDir {
        RunDir {
            path: self.root.join(spec_id).join(arm_id).join(key),
        }
    }
}

impl RunDir {
    pub fn from_path(path: &Path) -> RunDir {
        RunDir {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_done(&self) -> bool {
        self.path.join(DONE).is_file()
    }

    /// Empties an incomplete (or, with `force`, a finished) run directory and creates it anew.
    pub fn reset(&self) -> Result<(), StoreError> {
        if self.path.exists() {
            fs::remove_dir_all(&self.path).map_err(io(&self.path))?;
        }
        fs::create_dir_all(&self.path).map_err(io(&self.path))?;
        if let Some(parent) = self.path.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        let path = self.path.join(name);
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| StoreError::Json {
            path: path.clone(),
            source,
        })?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes)
    }

    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T, StoreError> {
        let path = self.path.join(name);
        let bytes = fs::read(&path).map_err(io(&path))?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Json { path, source })
    }

    pub fn write_text(&self, name: &str, text: &str) -> Result<(), StoreError> {
        write_atomic(&self.path.join(name), text.as_bytes())
    }

    /// Marks the run complete; must be the last write.
    pub fn mark_done(&self) -> Result<(), StoreError> {
        write_atomic(&self.path.join(DONE), b"")
    }
}

/// Writes `bytes` to `path` via a fsynced temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| StoreError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(Some(dir.path()));
        let run = store.run_dir("s", "a", "k");
        run.reset().unwrap();
        run.write_json(RECORD, &vec![1, 2]).unwrap();
        run.write_json(RECORD, &vec![3]).unwrap();
        assert_eq!(run.read_json::<Vec<i32>>(RECORD).unwrap(), vec![3]);
        assert!(!run.is_done());
        run.mark_done().unwrap();
        assert!(run.is_done());
        let names: Vec<_> = fs::read_dir(run.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with(".tmp-")), "{names:?}");
    }

    #[test]
    fn io_errors_name_the_path() {
        let run = RunDir::from_path(Path::new("/nonexistent/dir/for/repro"));
        let err = run.read_json::<Vec<i32>>(RECORD).unwrap_err();
        assert!(err
            .to_string()
            .contains("/nonexistent/dir/for/repro/record.json"));
    }
}
