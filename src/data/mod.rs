//! Datasets: the checksummed [`catalog`], verification of files on disk, and loading into tensors.
//!
//! Nothing here downloads: files are produced at set-up (`make data`) from pinned packages, and
//! every load checks each file's sha256 against the catalog first. Datasets a user declares by
//! files ([`user`]) are checked against the digests their declaration pins.

pub mod catalog;
pub mod delimited;
#[cfg(torch)]
pub mod prep;
#[cfg(torch)]
pub mod profile;
pub mod ts;
pub mod user;

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
#[cfg(torch)]
use tch::{Kind, Tensor};

pub use catalog::Entry;
#[cfg(torch)]
pub use user::{load_named, DatasetCache};
pub use user::{verify_named, UserDataset, UserFile, UserFormat};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("unknown dataset `{0}`; catalogued: {1}")]
    Unknown(String, String),
    #[error("{path}: missing; run `{fetch}` to create it")]
    Missing { path: PathBuf, fetch: &'static str },
    #[error("{path}: sha256 mismatch: expected {expected}, found {actual}; rerun `{fetch}`")]
    Mismatch {
        path: PathBuf,
        expected: String,
        actual: String,
        fetch: &'static str,
    },
    /// A declared (user) dataset's file is absent. `declared`: "dataset `X` (declared at F:L:C)".
    #[error("{path}: missing; {declared} expects a file with sha256 {expected}")]
    UserMissing {
        path: PathBuf,
        declared: String,
        expected: String,
    },
    #[error("{path}: sha256 mismatch: expected {expected}, found {actual} ({declared})")]
    UserMismatch {
        path: PathBuf,
        declared: String,
        expected: String,
        actual: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// `data.classes` names a class the dataset does not have (or leaves a side empty).
    #[error("dataset `{dataset}`: {message}")]
    Classes { dataset: String, message: String },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
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

/// An in-memory classification dataset. Inputs are `[N, channels, length]` float32, series
/// shorter than `length` zero-padded at the end (their true lengths in `lengths_*`), missing
/// values NaN.
#[cfg(torch)]
#[derive(Debug)]
pub struct Dataset {
    pub name: String,
    pub x_train: Tensor,
    pub y_train: Tensor,
    pub lengths_train: Vec<i64>,
    pub x_test: Tensor,
    pub y_test: Tensor,
    pub lengths_test: Vec<i64>,
    /// Label of each class index, in the order the file declared them.
    pub class_names: Vec<String>,
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
        .map(|&file| {
            let path = dir.join(file);
            let expected = catalog::digest(file).unwrap_or("(not pinned)");
            if !path.exists() {
                return Err(DataError::Missing {
                    path,
                    fetch: entry.fetch,
                });
            }
            let actual = sha256_file(&path)?;
            if actual != expected {
                return Err(DataError::Mismatch {
                    path,
                    expected: expected.to_string(),
                    actual,
                    fetch: entry.fetch,
                });
            }
            Ok(FileDigest {
                file: file.to_string(),
                sha256: actual,
            })
        })
        .collect()
}

#[cfg(torch)]
/// Verifies and loads the catalogued dataset `name` from `dir`.
pub fn load(name: &str, dir: &Path) -> Result<Dataset, DataError> {
    let entry = catalog::get(name)?;
    let digests = verify(entry, dir)?;
    let mut ds = match entry.format {
        catalog::Format::NpzXy => load_npz_dataset(name, &dir.join(entry.files[0]))?,
        catalog::Format::TsPair => {
            load_ts_pair(name, &dir.join(entry.files[0]), &dir.join(entry.files[1]))?
        }
        catalog::Format::DelimitedPair => {
            load_delimited_pair(name, &dir.join(entry.files[0]), &dir.join(entry.files[1]))?
        }
    };
    ds.digests = digests;
    Ok(ds)
}

#[cfg(torch)]
/// An `.npz` with `x`, `y`, `x_test`, `y_test` (labels are class indices).
pub fn load_npz_dataset(name: &str, path: &Path) -> Result<Dataset, DataError> {
    let (x_train, y_train, x_test, y_test) = load_npz_xy(path)?;
    let classes = y_train
        .max()
        .int64_value(&[])
        .max(y_test.max().int64_value(&[]))
        + 1;
    let size = x_train.size();
    Ok(Dataset {
        name: name.to_string(),
        lengths_train: vec![size[2]; size[0] as usize],
        lengths_test: vec![size[2]; x_test.size()[0] as usize],
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        classes,
        channels: size[1],
        length: size[2],
        x_train,
        y_train,
        x_test,
        y_test,
        digests: Vec::new(),
    })
}

#[cfg(torch)]
/// A `.ts` train/test pair; labels map to indices in the train file's declared order.
pub fn load_ts_pair(name: &str, train: &Path, test: &Path) -> Result<Dataset, DataError> {
    let tr = ts::read(train)?;
    let te = ts::read(test)?;
    let format = |path: &Path, message: String| DataError::Format {
        path: path.to_path_buf(),
        message,
    };
    let Some(class_names) = tr.header.class_labels.clone() else {
        return Err(format(train, "no class labels (@classLabel false)".into()));
    };
    if let Some(test_labels) = &te.header.class_labels {
        let mut a = class_names.clone();
        let mut b = test_labels.clone();
        a.sort();
        b.sort();
        if a != b {
            return Err(format(
                test,
                format!(
                    "declares classes {test_labels:?}, but the train file declares {class_names:?}"
                ),
            ));
        }
    }
    if te.header.dimensions != tr.header.dimensions {
        return Err(format(
            test,
            format!(
                "has {} dimension(s), the train file {}",
                te.header.dimensions, tr.header.dimensions
            ),
        ));
    }
    from_cases(
        name,
        (&tr.series, &tr.labels),
        (&te.series, &te.labels),
        class_names,
        tr.header.dimensions,
    )
}

#[cfg(torch)]
/// A CSV/TSV train/test pair (UCR 2018 layout, see [`delimited`]). Class names are sorted
/// numerically when every label is a number, else lexicographically; that order is recorded.
pub fn load_delimited_pair(name: &str, train: &Path, test: &Path) -> Result<Dataset, DataError> {
    let tr = delimited::read(train)?;
    let te = delimited::read(test)?;
    let mut class_names: Vec<String> = tr.labels.clone();
    class_names.sort();
    class_names.dedup();
    if class_names.iter().all(|c| c.parse::<f64>().is_ok()) {
        class_names.sort_by(|a, b| {
            let (x, y) = (
                a.parse::<f64>().unwrap_or(0.0),
                b.parse::<f64>().unwrap_or(0.0),
            );
            x.total_cmp(&y)
        });
    }
    if let Some((i, unknown)) = te
        .labels
        .iter()
        .enumerate()
        .find(|(_, l)| !class_names.contains(l))
    {
        return Err(DataError::Format {
            path: test.to_path_buf(),
            message: format!(
                "series {} has class `{unknown}`, which the training file never uses",
                i + 1
            ),
        });
    }
    let wrap = |series: &[Vec<f32>]| -> Vec<Vec<Vec<f32>>> {
        series.iter().map(|s| vec![s.clone()]).collect()
    };
    from_cases(
        name,
        (&wrap(&tr.series), &tr.labels),
        (&wrap(&te.series), &te.labels),
        class_names,
        1,
    )
}

#[cfg(torch)]
/// Builds the padded tensors from `[case][channel][time]` values and raw labels.
fn from_cases(
    name: &str,
    train: (&[Vec<Vec<f32>>], &[String]),
    test: (&[Vec<Vec<f32>>], &[String]),
    class_names: Vec<String>,
    channels: usize,
) -> Result<Dataset, DataError> {
    let length = train
        .0
        .iter()
        .chain(test.0)
        .flat_map(|case| case.iter().map(Vec::len))
        .max()
        .unwrap_or(0);
    let split = |cases: &[Vec<Vec<f32>>], raw: &[String]| -> (Tensor, Tensor, Vec<i64>) {
        let n = cases.len();
        let mut values = vec![0f32; n * channels * length];
        let mut lengths = Vec::with_capacity(n);
        for (i, case) in cases.iter().enumerate() {
            lengths.push(case.iter().map(Vec::len).max().unwrap_or(0) as i64);
            for (c, dim) in case.iter().enumerate() {
                let start = (i * channels + c) * length;
                values[start..start + dim.len()].copy_from_slice(dim);
            }
        }
        let labels: Vec<i64> = raw
            .iter()
            .map(|l| class_names.iter().position(|c| c == l).unwrap_or(0) as i64)
            .collect();
        (
            Tensor::from_slice(&values).view([n as i64, channels as i64, length as i64]),
            Tensor::from_slice(&labels),
            lengths,
        )
    };
    let (x_train, y_train, lengths_train) = split(train.0, train.1);
    let (x_test, y_test, lengths_test) = split(test.0, test.1);
    Ok(Dataset {
        name: name.to_string(),
        x_train,
        y_train,
        lengths_train,
        x_test,
        y_test,
        lengths_test,
        classes: class_names.len() as i64,
        class_names,
        channels: channels as i64,
        length: length as i64,
        digests: Vec::new(),
    })
}

#[cfg(torch)]
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
