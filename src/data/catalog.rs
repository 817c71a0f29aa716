//! The dataset catalog: each name pins its files' sha256 and says where they come from.
//!
//! A digest here changes only together with the generator or the pinned package versions in
//! `scripts/setup.sh`; a mismatch on disk is an error, never a warning.

use super::DataError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One `.npz` holding `x`, `y`, `x_test`, `y_test`.
    NpzXy,
}

#[derive(Debug, Clone, Copy)]
pub struct CatalogFile {
    pub name: &'static str,
    pub sha256: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub description: &'static str,
    /// Package and version the bytes come from, and how they are produced.
    pub source: &'static str,
    /// The command that creates the files.
    pub fetch: &'static str,
    pub format: Format,
    pub files: &'static [CatalogFile],
}

pub const CATALOG: &[Entry] = &[Entry {
    name: "mnist1d",
    description: "MNIST-1D (Greydanus 2020): 4000 train / 1000 test, length 40, 10 classes",
    source: "PyPI mnist1d==0.0.2.post1, make_dataset(get_dataset_args()) with seed 42, \
             written by scripts/make_mnist1d.py",
    fetch: "make data",
    format: Format::NpzXy,
    files: &[CatalogFile {
        name: "mnist1d.npz",
        sha256: "6b886385b1e0f47215690ddf88a896446275202722183d3560dedda34651d0da",
    }],
}];

pub fn names() -> Vec<&'static str> {
    CATALOG.iter().map(|e| e.name).collect()
}

pub fn get(name: &str) -> Result<&'static Entry, DataError> {
    CATALOG
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| DataError::Unknown(name.to_string(), names().join(", ")))
}
