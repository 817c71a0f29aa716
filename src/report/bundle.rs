//! The files a report directory gets per spec: `<spec id>.md`, `.json` and the self-contained
//! `.html`, written atomically, with the provenance rows all three show.

use std::path::{Path, PathBuf};

use crate::audit::SpecAudit;
use crate::record::Record;
use crate::spec::Spec;
use crate::store::{self, StoreError};

/// The code a record was trained by: its binary's code digest and the commit that binary was
/// built from, e.g. `3f2a9c01d4e5 (built from 6383ef3a1b2c)`; for a record written before
/// binaries knew it, the git commit of the directory the run started in,
/// `3f2a9c01d4e5 (git 6383ef3a1b2c, dirty)`.
pub fn code_version(r: &Record) -> String {
    if let Some(from) = &r.code.built_from {
        let (commit, dirty) = match from.strip_suffix("+dirty") {
            Some(c) => (c, ", dirty"),
            None => (from.as_str(), ""),
        };
        return format!(
            "{} (built from {}{dirty})",
            &r.code.build[..12.min(r.code.build.len())],
            &commit[..12.min(commit.len())]
        );
    }
    let git = match &r.code.commit {
        Some(c) => format!(
            "git {}{}",
            &c[..12.min(c.len())],
            if r.code.dirty { ", dirty" } else { "" }
        ),
        None => "not in git".into(),
    };
    if r.code.build.is_empty() {
        git
    } else {
        format!("{} ({git})", &r.code.build[..12.min(r.code.build.len())])
    }
}

/// Where a spec's numbers came from, taken from one of its records.
pub fn provenance_rows(record: Option<&Record>) -> Vec<(String, String)> {
    let Some(r) = record else { return Vec::new() };
    vec![
        ("code".into(), code_version(r)),
        ("libtorch".into(), r.libtorch.clone()),
        ("device".into(), r.device.clone()),
        (
            "numerics".into(),
            if r.numerics.class.is_empty() {
                "not recorded".into()
            } else {
                r.numerics.to_string()
            },
        ),
        (
            "threads".into(),
            format!("{} intra-op per run", r.config.train.threads),
        ),
        (
            "data".into(),
            r.data
                .iter()
                .map(|d| format!("{} sha256 {}", d.file, &d.sha256[..16]))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("spec sha256".into(), r.spec_sha256[..16].to_string()),
    ]
}

/// Writes the Markdown, JSON and HTML audit of `spec` into `dir`; returns the paths written.
pub fn write(
    dir: &Path,
    spec: &Spec,
    audit: &SpecAudit,
    records: &[(String, Option<&Record>)],
    quick: bool,
) -> Result<Vec<PathBuf>, StoreError> {
    let first = records.iter().find_map(|(_, r)| *r);
    let provenance = provenance_rows(first);
    let SpecAudit {
        results,
        findings,
        comparisons,
        sweeps,
        tuning,
        tuning_sentences,
        ..
    } = audit;
    let json = serde_json::json!({
        "spec": spec.id,
        "title": spec.title,
        "spec_sha256": spec.file_sha256,
        "quick": quick,
        "interval": format!("{} {}", crate::audit::level_text(crate::audit::LEVEL), crate::audit::Interval::StudentT.name()),
        "method": super::method_text(results, comparisons, quick),
        "arms": results,
        "findings": findings,
        "sweeps": sweeps,
        "comparisons": comparisons,
        "tuning": tuning,
        "tuning_sentences": tuning_sentences,
        "tuning_method": super::budget::TUNING_METHOD,
        "provenance": provenance,
    });
    let files = [
        (
            "md",
            super::claims_markdown(
                spec,
                results,
                findings,
                sweeps,
                comparisons,
                tuning,
                tuning_sentences,
                quick,
                &provenance,
            ),
        ),
        (
            "json",
            format!(
                "{}\n",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            ),
        ),
        (
            "html",
            super::html::page(
                spec,
                results,
                findings,
                sweeps,
                comparisons,
                tuning,
                tuning_sentences,
                records,
                quick,
                &provenance,
            ),
        ),
    ];
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (ext, text) in files {
        let path = dir.join(format!("{}.{ext}", spec.id));
        store::write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
