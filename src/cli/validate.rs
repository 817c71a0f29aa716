//! `repro validate`: every spec under the given paths (default `papers/`, `baselines/`),
//! one line each, or every error with file:line:col.

use std::path::PathBuf;

use super::{load_specs, Failure};

pub fn validate(paths: &[PathBuf]) -> Result<(), Failure> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("papers"), PathBuf::from("baselines")]
            .into_iter()
            .filter(|p| p.exists())
            .collect()
    } else {
        paths.to_vec()
    };
    let specs = load_specs(&paths)?;
    for s in &specs {
        let runs: usize = s.arms.len() * s.seeds.count as usize;
        let mut bases: Vec<&str> = s.arms.iter().map(|a| a.base.as_str()).collect();
        bases.dedup();
        let points = if bases.len() == s.arms.len() {
            String::new()
        } else {
            format!(" ({} with sweep points)", s.arms.len())
        };
        println!(
            "ok  {}  {} (v{}, {} arms{points}, {} runs, {} comparisons, {})",
            s.path.display(),
            s.id,
            s.version,
            bases.len(),
            runs,
            s.compare.len(),
            &s.file_sha256[..12]
        );
    }
    Ok(())
}
