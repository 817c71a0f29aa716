//! Datasets: the checksummed [`catalog`], verification of files on disk, and loading into tensors.
//!
//! Nothing here downloads: files are produced at set-up (`make data`) from pinned packages, and
//! every load checks each file's sha256 against the catalog first.

pub mod catalog;

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tch::{Kind, Tensor};

pub use catalog::{CatalogFile, Entry};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("unknown dataset `{0}`; catalogued: {1}")]
    Unknown(String, String),
    #[error("{path}: missing; run `{fetch}` to create it")]
    Missing { path: PathBuf, fetch: &'static str },
    #[error("{path}: sha256 mismatch: expected {expected}, found {actual}; rerun `{fetch}`")]
    Mismatch {
        path: PathBuf,
        expected: &'static str,
        actual: String,
        fetch: &'static str,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

/// Where datasets live: `$REPRO_DATA`, else `data/` under the current directory.
pub fn data_dir() -> PathBuf {
    std::env::var_os("REPRO_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// A file as verified: its name and the digest that was checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileDigest {
    pub file: String,
    pub sha256: String,
}

/// An in-memory classification dataset. Inputs are `[N, channels, length]` float32.
#[derive(Debug)]
pub struct Dataset {
    pub name: String,
    pub x_train: Tensor,
    pub y_train: Tensor,
    pub x_test: Tensor,
    pub y_test: Tensor,
    pub classes: i64,
    pub channels: i64,
    pub length: i64,
    pub digests: Vec<FileDigest>,
}

pub fn sha256_file(path: &Path) -> Result<String, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Checks every file of `entry` under `dir` against its pinned digest.
pub fn verify(entry: &Entry, dir: &Path) -> Result<Vec<FileDigest>, DataError> {
    entry
        .files
        .iter()
        .map(|f| {
            let path = dir.join(f.name);
            if !path.exists() {
                return Err(DataError::Missing {
                    path,
                    fetch: entry.fetch,
                });
            }
            let actual = sha256_file(&path)?;
            if actual != f.sha256 {
                return Err(DataError::Mismatch {
                    path,
                    expected: f.sha256,
                    actual,
                    fetch: entry.fetch,
                });
            }
            Ok(FileDigest {
                file: f.name.to_string(),
                sha256: actual,
            })
        })
        .collect()
}

/// Verifies and loads the catalogued dataset `name` from `dir`.
pub fn load(name: &str, dir: &Path) -> Result<Dataset, DataError> {
    let entry = catalog::get(name)?;
    let digests = verify(entry, dir)?;
    let path = dir.join(entry.files[0].name);
    let (x_train, y_train, x_test, y_test) = match entry.format {
        catalog::Format::NpzXy => load_npz_xy(&path)?,
    };
    let classes = y_train.max().int64_value(&[]) + 1;
    let size = x_train.size();
    Ok(Dataset {
        name: name.to_string(),
        classes,
        channels: size[1],
        length: size[2],
        x_train,
        y_train,
        x_test,
        y_test,
        digests,
    })
}

/// An `.npz` with `x`, `y`, `x_test`, `y_test`; `x` is `[N, L]` or `[N, C, L]`.
fn load_npz_xy(path: &Path) -> Result<(Tensor, Tensor, Tensor, Tensor), DataError> {
    let format = |message: String| DataError::Format {
        path: path.to_path_buf(),
        message,
    };
    let arrays = Tensor::read_npz(path).map_err(|e| format(format!("cannot read npz: {e}")))?;
    let take = |name: &str| {
        arrays
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.shallow_clone())
            .ok_or_else(|| format!("array `{name}` not found"))
    };
    let mut out = Vec::new();
    for (xs, ys) in [("x", "y"), ("x_test", "y_test")] {
        let x = take(xs).map_err(format)?;
        let y = take(ys).map_err(format)?;
        let x = match x.dim() {
            2 => x.unsqueeze(1),
            3 => x,
            d => {
                return Err(format(format!(
                    "`{xs}` has {d} dimensions, expected 2 or 3"
                )))
            }
        }
        .to_kind(Kind::Float);
        if y.dim() != 1 || y.size()[0] != x.size()[0] {
            return Err(format(format!(
                "`{ys}` has shape {:?} but `{xs}` has {} rows",
                y.size(),
                x.size()[0]
            )));
        }
        let y = y.to_kind(Kind::Int64);
        if y.numel() > 0 && y.min().int64_value(&[]) < 0 {
            return Err(format(format!("`{ys}` has negative labels")));
        }
        out.push((x, y));
    }
    let (x_test, y_test) = out.pop().ok_or_else(|| format("no test split".into()))?;
    let (x_train, y_train) = out.pop().ok_or_else(|| format("no train split".into()))?;
    if x_train.size()[1..] != x_test.size()[1..] {
        return Err(format(format!(
            "train inputs {:?} and test inputs {:?} differ in shape",
            x_train.size(),
            x_test.size()
        )));
    }
    Ok((x_train, y_train, x_test, y_test))
}
