//! The dataset catalog: each name lists its files and says where they come from; the files'
//! sha256 are pinned in `scripts/datasets.sha256`, which `scripts/data.sh` checks at set-up and
//! this module embeds, so the two can never disagree.

use super::DataError;

/// `sha256  relative/path` per line, as `sha256sum -c` reads it.
const MANIFEST: &str = include_str!("../../scripts/datasets.sha256");

/// The aeon wheel the UCR/UEA `.ts` files are extracted from (also pinned in `scripts/data.sh`).
pub const AEON_WHEEL: &str = "aeon-1.6.0-py3-none-any.whl";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One `.npz` holding `x`, `y`, `x_test`, `y_test`.
    NpzXy,
    /// `NAME_TRAIN.ts` and `NAME_TEST.ts` (sktime/aeon format).
    TsPair,
    /// Train and test CSV/TSV files in the UCR 2018 layout (label first).
    DelimitedPair,
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
    /// Paths relative to the data directory: train first, then test where separate.
    pub files: &'static [&'static str],
}

const UCR_SOURCE: &str =
    "PyPI aeon==1.6.0 wheel, aeon/datasets/data/, extracted by scripts/data.sh";

macro_rules! ucr {
    ($name:literal, $description:literal) => {
        Entry {
            name: $name,
            description: $description,
            source: UCR_SOURCE,
            fetch: "make data",
            format: Format::TsPair,
            files: &[
                concat!("ucr/", $name, "/", $name, "_TRAIN.ts"),
                concat!("ucr/", $name, "/", $name, "_TEST.ts"),
            ],
        }
    };
}

pub const CATALOG: &[Entry] = &[
    Entry {
        name: "mnist1d",
        description: "MNIST-1D (Greydanus 2020): 4000 train / 1000 test, length 40, 10 classes",
        source: "PyPI mnist1d==0.0.2.post1, make_dataset(get_dataset_args()) with seed 42, \
                 written by scripts/make_mnist1d.py",
        fetch: "make data",
        format: Format::NpzXy,
        files: &["mnist1d.npz"],
    },
    Entry {
        name: "mnist1d-shuffled",
        description: "MNIST-1D with the sequence order shuffled: the same 4000 / 1000 examples, \
                      one fixed permutation of the 40 time steps",
        source: "PyPI mnist1d==0.0.2.post1, make_dataset with seed 42 and shuffle_seq, \
                 written by scripts/make_mnist1d.py --shuffle-seq",
        fetch: "make data",
        format: Format::NpzXy,
        files: &["mnist1d-shuffled.npz"],
    },
    ucr!("GunPoint", "UCR GunPoint: 50/150, length 150, 2 classes"),
    ucr!("ArrowHead", "UCR ArrowHead: 36/175, length 251, 3 classes"),
    ucr!("OSULeaf", "UCR OSULeaf: 200/242, length 427, 6 classes"),
    ucr!("ACSF1", "UCR ACSF1: 100/100, length 1460, 10 classes"),
    ucr!(
        "ItalyPowerDemand",
        "UCR ItalyPowerDemand: 67/1029, length 24, 2 classes"
    ),
    ucr!(
        "JapaneseVowels",
        "UEA JapaneseVowels: 270/370, 12 dimensions, lengths 7-29, 9 classes"
    ),
    ucr!(
        "BasicMotions",
        "UEA BasicMotions: 40/40, 6 dimensions, length 100, 4 classes"
    ),
    ucr!(
        "PickupGestureWiimoteZ",
        "UCR PickupGestureWiimoteZ: 50/50, variable length, 10 classes"
    ),
];

pub fn names() -> Vec<&'static str> {
    CATALOG.iter().map(|e| e.name).collect()
}

pub fn get(name: &str) -> Result<&'static Entry, DataError> {
    CATALOG
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| DataError::Unknown(name.to_string(), names().join(", ")))
}

/// The pinned sha256 of a catalogued file.
pub fn digest(file: &str) -> Option<&'static str> {
    MANIFEST.lines().find_map(|line| {
        let (sha, path) = line.split_once("  ")?;
        (path.trim() == file).then_some(sha.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_pinned_digest() {
        for entry in CATALOG {
            for file in entry.files {
                let sha = digest(file).unwrap_or_else(|| panic!("{file} not in the manifest"));
                assert_eq!(sha.len(), 64, "{file}");
            }
        }
    }
}
