//! Datasets a user declares by files (in a spec's `dataset:` or a project's `datasets.yaml`):
//! their formats, the digests they pin, verification and loading.
//!
//! A user dataset is verified and loaded like a catalogued one. Its files enter the run key
//! under the names the catalog layout would give them ([`layout`]: `ucr/NAME/NAME_TRAIN.ts`,
//! `NAME.npz`, …), never under the paths they are kept at, so the key depends on the dataset's
//! name, format and bytes alone: the same bytes under the same name and format are the same
//! computation as the catalogued dataset, wherever the files live.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[cfg(torch)]
use super::Dataset;
use super::{catalog, DataError, FileDigest};

/// The file formats a user dataset may be declared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserFormat {
    /// A `_TRAIN`/`_TEST` pair of `.ts` files (sktime/aeon format).
    Ts,
    /// A `_TRAIN`/`_TEST` pair of UCR 2018 `.tsv` files (label first, tab-separated).
    UcrTsv,
    /// A train/test pair of `.csv` files (label first, comma-separated).
    Csv,
    /// One `.npz` holding `x`, `y`, `x_test`, `y_test`.
    Npz,
}

impl UserFormat {
    pub const ALL: [(&'static str, UserFormat); 4] = [
        ("ts", UserFormat::Ts),
        ("ucr-tsv", UserFormat::UcrTsv),
        ("csv", UserFormat::Csv),
        ("npz", UserFormat::Npz),
    ];

    pub fn name(self) -> &'static str {
        match self {
            UserFormat::Ts => "ts",
            UserFormat::UcrTsv => "ucr-tsv",
            UserFormat::Csv => "csv",
            UserFormat::Npz => "npz",
        }
    }

    /// One file (`npz`) or a train/test pair (the others).
    pub fn single_file(self) -> bool {
        self == UserFormat::Npz
    }

    fn extension(self) -> &'static str {
        match self {
            UserFormat::Ts => "ts",
            UserFormat::UcrTsv => "tsv",
            UserFormat::Csv => "csv",
            UserFormat::Npz => "npz",
        }
    }
}

/// One declared file: where it is (absolute, resolved against the declaring file's directory)
/// and the sha256 it must have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFile {
    pub path: PathBuf,
    pub sha256: String,
}

/// A dataset declared by files. It travels to the worker in the run's `config.json`, so a
/// worker on another node resolves the same files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDataset {
    pub name: String,
    pub format: UserFormat,
    /// Train then test; one file for `npz`.
    pub files: Vec<UserFile>,
    /// Where it was declared, `file:line:col`, for messages.
    pub declared_at: String,
}

/// The names a dataset's files have in the catalog layout (relative to the data directory),
/// train first: the names in the run key and in records, for catalogued and user datasets
/// alike.
pub fn layout(name: &str, format: UserFormat) -> Vec<String> {
    let ext = format.extension();
    if format.single_file() {
        vec![format!("{name}.{ext}")]
    } else {
        ["TRAIN", "TEST"]
            .iter()
            .map(|split| format!("ucr/{name}/{name}_{split}.{ext}"))
            .collect()
    }
}

/// Checks every declared file against its digest; the digests come back under their
/// [`layout`] names.
pub fn verify(ds: &UserDataset) -> Result<Vec<FileDigest>, DataError> {
    let names = layout(&ds.name, ds.format);
    if names.len() != ds.files.len() {
        return Err(DataError::Format {
            path: PathBuf::from(&ds.declared_at),
            message: format!(
                "format `{}` takes {} file(s), {} declared",
                ds.format.name(),
                names.len(),
                ds.files.len()
            ),
        });
    }
    ds.files
        .iter()
        .zip(names)
        .map(|(f, file)| {
            if !f.path.exists() {
                return Err(DataError::UserMissing {
                    path: f.path.clone(),
                    declared: format!("dataset `{}` (declared at {})", ds.name, ds.declared_at),
                    expected: f.sha256.clone(),
                });
            }
            let actual = super::sha256_file(&f.path)?;
            if actual != f.sha256 {
                return Err(DataError::UserMismatch {
                    path: f.path.clone(),
                    declared: format!("dataset `{}`, declared at {}", ds.name, ds.declared_at),
                    expected: f.sha256.clone(),
                    actual,
                });
            }
            Ok(FileDigest {
                file,
                sha256: actual,
            })
        })
        .collect()
}

#[cfg(torch)]
/// Verifies and loads a user dataset with the loader of its format.
pub fn load(ds: &UserDataset) -> Result<Dataset, DataError> {
    let digests = verify(ds)?;
    let path = |i: usize| ds.files[i].path.as_path();
    let mut out = match ds.format {
        UserFormat::Npz => super::load_npz_dataset(&ds.name, path(0))?,
        UserFormat::Ts => super::load_ts_pair(&ds.name, path(0), path(1))?,
        UserFormat::UcrTsv | UserFormat::Csv => {
            super::load_delimited_pair(&ds.name, path(0), path(1))?
        }
    };
    out.digests = digests;
    Ok(out)
}

/// The user format a catalog entry's files are in (for [`layout`]'s check against the catalog).
pub fn catalog_format(entry: &catalog::Entry) -> UserFormat {
    match entry.format {
        catalog::Format::NpzXy => UserFormat::Npz,
        catalog::Format::TsPair => UserFormat::Ts,
        catalog::Format::DelimitedPair => {
            if entry.files.first().is_some_and(|f| f.ends_with(".csv")) {
                UserFormat::Csv
            } else {
                UserFormat::UcrTsv
            }
        }
    }
}

/// A dataset by name: the spec's own declaration when it has one, else the catalog's entry.
pub fn verify_named(
    name: &str,
    user: Option<&UserDataset>,
    data_dir: &Path,
) -> Result<Vec<FileDigest>, DataError> {
    match user {
        Some(ds) => verify(ds),
        None => super::verify(catalog::get(name)?, data_dir),
    }
}

#[cfg(torch)]
/// Loads a dataset by name: the spec's own declaration when it has one, else the catalog's.
pub fn load_named(
    name: &str,
    user: Option<&UserDataset>,
    data_dir: &Path,
) -> Result<Dataset, DataError> {
    match user {
        Some(ds) => load(ds),
        None => super::load(name, data_dir),
    }
}

/// Datasets loaded once each, for a command that visits many arms: keyed by name and the
/// spec's own declaration (the same name may stand for other files in another spec).
#[cfg(torch)]
#[derive(Default)]
pub struct DatasetCache(Vec<(Option<UserDataset>, Dataset)>);

#[cfg(torch)]
impl DatasetCache {
    /// The dataset `name` ([`load_named`]), loaded on first use.
    pub fn get(
        &mut self,
        name: &str,
        user: Option<&UserDataset>,
        data_dir: &Path,
    ) -> Result<&Dataset, DataError> {
        let i = match self
            .0
            .iter()
            .position(|(u, d)| d.name == name && u.as_ref() == user)
        {
            Some(i) => i,
            None => {
                self.0
                    .push((user.cloned(), load_named(name, user, data_dir)?));
                self.0.len() - 1
            }
        };
        Ok(&self.0[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_follows_the_layout() {
        for entry in catalog::CATALOG {
            assert_eq!(
                layout(entry.name, catalog_format(entry)),
                entry.files.to_vec(),
                "{}",
                entry.name
            );
        }
    }

    #[test]
    fn layout_names_carry_the_format() {
        assert_eq!(
            layout("Coffee", UserFormat::UcrTsv),
            vec!["ucr/Coffee/Coffee_TRAIN.tsv", "ucr/Coffee/Coffee_TEST.tsv"]
        );
        assert_eq!(layout("Coffee", UserFormat::Npz), vec!["Coffee.npz"]);
        assert_ne!(
            layout("Coffee", UserFormat::Csv),
            layout("Coffee", UserFormat::UcrTsv)
        );
    }
}
