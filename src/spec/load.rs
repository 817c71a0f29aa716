//! Spec files: finding them, size and UTF-8 checks, parsing to YAML, then the document decoder.

use std::path::{Path, PathBuf};

use super::decode::Ctx;
use super::document::decode_spec;
use super::section::dataset::{DatasetScope, PROJECT_CATALOG};
use super::types::*;
use super::SpecError;
use crate::yaml;

/// Specs are small hand-written files; anything larger is refused before it is parsed.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// The `.yaml`/`.yml` files named by `paths` (directories are searched recursively, skipping
/// project catalogs, `datasets.yaml`), sorted.
pub fn spec_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SpecError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_dir(path, &mut files)?;
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(SpecError::whole_file(path, "no such file or directory"));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SpecError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| SpecError::whole_file(dir, format!("cannot read directory: {e}")))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| SpecError::whole_file(dir, format!("cannot read directory: {e}")))?;
        let path = entry.path();
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) && path.file_name().and_then(|n| n.to_str()) != Some(PROJECT_CATALOG)
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads every spec named by `paths`; the errors of all invalid files are returned together.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Spec>, Vec<SpecError>> {
    let files = spec_files(paths).map_err(|e| vec![e])?;
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match load(&file) {
            Ok(spec) => specs.push(spec),
            Err(e) => errors.push(e),
        }
    }
    // A broken project catalog is every spec's error beside it: report it once.
    let mut reported = std::collections::HashSet::new();
    errors.retain(|e| reported.insert(e.to_string()));
    if errors.is_empty() {
        let mut seen = std::collections::HashMap::new();
        for spec in &specs {
            if let Some(first) = seen.insert(spec.id.clone(), spec.path.clone()) {
                errors.push(SpecError::whole_file(
                    &spec.path,
                    format!("spec id `{}` is also used by {}", spec.id, first.display()),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(errors)
    }
}

pub fn load(path: &Path) -> Result<Spec, SpecError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| SpecError::whole_file(path, format!("cannot read: {e}")))?;
    if meta.len() > MAX_SPEC_BYTES {
        return Err(SpecError::whole_file(
            path,
            format!(
                "file is {} bytes; specs are limited to {MAX_SPEC_BYTES} bytes",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| SpecError::whole_file(path, format!("cannot read: {e}")))?;
    parse_bytes(path, &bytes)
}

/// Parses spec text; `path` is used for messages only.
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Spec, SpecError> {
    let text = std::str::from_utf8(bytes).map_err(|e| SpecError {
        path: path.to_path_buf(),
        diags: vec![super::Diagnostic {
            pos: yaml::pos_of_offset(bytes, e.valid_up_to()),
            message: "file is not valid UTF-8".into(),
        }],
    })?;
    let root = yaml::parse(text, yaml::Limits::default()).map_err(|e| SpecError {
        path: path.to_path_buf(),
        diags: vec![super::Diagnostic {
            pos: e.pos,
            message: format!("invalid YAML: {}", e.message),
        }],
    })?;
    let scope = DatasetScope::for_spec(path)?;
    let mut ctx = Ctx {
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        ..Ctx::default()
    };
    let spec = decode_spec(&mut ctx, &root, path, bytes, scope);
    let diags = ctx.finish();
    match spec {
        Some(spec) if diags.is_empty() => Ok(spec),
        _ => Err(SpecError {
            path: path.to_path_buf(),
            diags,
        }),
    }
}
