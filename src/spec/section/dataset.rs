//! Datasets declared by files: the mapping form of `dataset:` and the project catalog
//! (`datasets.yaml`), both decoded by [`decode_declaration`].
//!
//! The project catalog of a spec is the nearest `datasets.yaml` in the spec's directory or one
//! of its parents, up to and including the repository root (the first directory holding
//! `.git`); outside a repository only the spec's own directory is searched. Relative file paths
//! resolve against the directory of the file that declares them.

use std::path::{Path, PathBuf};

use crate::data::{catalog, UserDataset, UserFile, UserFormat};
use crate::spec::decode::{closest, Ctx};
use crate::spec::SpecError;
use crate::yaml::{self, Node, Pos};

/// The file name of a project catalog.
pub const PROJECT_CATALOG: &str = "datasets.yaml";

const DECL_KEYS: &[&str] = &["name", "format", "train", "test", "file", "sha256"];

/// What a spec's `dataset:` entries resolve against, and the user datasets they named.
pub(in crate::spec) struct DatasetScope {
    /// The directory relative paths in the spec resolve against.
    dir: PathBuf,
    /// The spec file as named, for `declared_at`.
    spec: PathBuf,
    project: Option<Project>,
    /// User datasets the spec uses (inline or from the project catalog), each name once.
    pub(in crate::spec) used: Vec<UserDataset>,
}

/// A decoded project catalog.
pub struct Project {
    pub path: PathBuf,
    pub datasets: Vec<UserDataset>,
}

impl DatasetScope {
    /// The scope of the spec at `spec_path`: its directory and its project catalog (an error in
    /// the catalog is the spec's error too, reported against the catalog file).
    pub(in crate::spec) fn for_spec(spec_path: &Path) -> Result<DatasetScope, SpecError> {
        let dir = spec_dir(spec_path);
        let project = match find_project_catalog(&dir) {
            Some(path) => Some(load_project(&path)?),
            None => None,
        };
        Ok(DatasetScope {
            dir,
            spec: spec_path.to_path_buf(),
            project,
            used: Vec::new(),
        })
    }

    fn use_dataset(&mut self, ctx: &mut Ctx, pos: Pos, ds: UserDataset) {
        match self.used.iter().find(|u| u.name == ds.name) {
            Some(first) if first.format != ds.format || first.files != ds.files => ctx.err(
                pos,
                format!(
                    "dataset `{}` is declared again with other files (first at {})",
                    ds.name, first.declared_at
                ),
            ),
            Some(_) => {}
            None => self.used.push(ds),
        }
    }
}

/// The absolute directory of a spec file (not resolving symlinks, so `data/` links stay as
/// written).
fn spec_dir(spec_path: &Path) -> PathBuf {
    let parent = spec_path.parent().unwrap_or(Path::new(""));
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf())
}

/// The nearest `datasets.yaml` from `dir` upwards (see the module docs for the rule).
pub fn find_project_catalog(dir: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let in_repo = dir.ancestors().any(|d| d.join(".git").exists());
    for d in dir.ancestors() {
        let candidate = d.join(PROJECT_CATALOG);
        if candidate.is_file() {
            return Some(candidate);
        }
        if !in_repo || d.join(".git").exists() {
            break;
        }
    }
    None
}

/// The project catalog of the current directory, for `repro data` (none: an empty list).
pub fn project_catalog_here() -> Result<Vec<UserDataset>, SpecError> {
    match find_project_catalog(Path::new(".")) {
        Some(path) => Ok(load_project(&path)?.datasets),
        None => Ok(Vec::new()),
    }
}

/// Decodes a project catalog: `datasets:`, a list of declarations; a name may appear once and
/// may not be a built-in catalog name.
pub fn load_project(path: &Path) -> Result<Project, SpecError> {
    let bytes = std::fs::read(path)
        .map_err(|e| SpecError::whole_file(path, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > crate::spec::MAX_SPEC_BYTES {
        return Err(SpecError::whole_file(
            path,
            "file is too large for a catalog",
        ));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| SpecError::whole_file(path, "file is not valid UTF-8"))?;
    let root = yaml::parse(text, yaml::Limits::default()).map_err(|e| SpecError {
        path: path.to_path_buf(),
        diags: vec![crate::spec::Diagnostic {
            pos: e.pos,
            message: format!("invalid YAML: {}", e.message),
        }],
    })?;
    let mut ctx = Ctx::default();
    let dir = spec_dir(path);
    let mut datasets: Vec<(UserDataset, Pos)> = Vec::new();
    let items = ctx
        .map(&root, "a dataset catalog", &["datasets"])
        .and_then(|top| top.required(&mut ctx, "datasets", "a dataset catalog"))
        .and_then(|n| ctx.seq(n, "`datasets`"));
    for item in items.unwrap_or_default() {
        let Some(ds) = decode_declaration(&mut ctx, item, &dir, path) else {
            continue;
        };
        if let Some((_, first)) = datasets.iter().find(|(d, _)| d.name == ds.name) {
            ctx.err(
                item.pos,
                format!(
                    "duplicate dataset `{}` (first at line {})",
                    ds.name, first.line
                ),
            );
        } else if catalog::get(&ds.name).is_ok() {
            ctx.err(
                item.pos,
                format!(
                    "dataset `{}` is declared both here and in the built-in catalog \
                     (`repro data list`); give it another name",
                    ds.name
                ),
            );
        } else {
            datasets.push((ds, item.pos));
        }
    }
    let diags = ctx.finish();
    if !diags.is_empty() {
        return Err(SpecError {
            path: path.to_path_buf(),
            diags,
        });
    }
    Ok(Project {
        path: path.to_path_buf(),
        datasets: datasets.into_iter().map(|(d, _)| d).collect(),
    })
}

/// `dataset:`: a name (the project catalog's, else the built-in catalog's) or a declaration
/// by files. Returns the name; user datasets are recorded in `scope.used`.
pub(in crate::spec) fn decode_dataset_entry(
    ctx: &mut Ctx,
    node: &Node,
    scope: &mut DatasetScope,
) -> Option<String> {
    if matches!(node.value, yaml::Value::Map(_)) {
        let ds = decode_declaration(ctx, node, &scope.dir.clone(), &scope.spec.clone())?;
        let name = ds.name.clone();
        // A built-in name stands for the built-in files everywhere in the spec (an arm that
        // says `dataset: GunPoint` means them), so a declaration may take it only for those
        // very bytes (a copy elsewhere).
        if let Ok(entry) = catalog::get(&name) {
            let layout = crate::data::user::layout(&name, ds.format);
            let same = layout.len() == ds.files.len()
                && layout
                    .iter()
                    .zip(&ds.files)
                    .all(|(file, f)| catalog::digest(file) == Some(f.sha256.as_str()))
                && entry.files.len() == layout.len();
            if !same {
                ctx.err(
                    node.pos,
                    format!(
                        "dataset `{name}` is a built-in name, and these files are not its pinned \
                         files (`repro data list`): give your dataset its own name"
                    ),
                );
                return None;
            }
        }
        scope.use_dataset(ctx, node.pos, ds);
        return Some(name);
    }
    let name = ctx.string(node, "`dataset`")?;
    // A dataset this spec already declared by files (at the top or on an earlier arm).
    if scope.used.iter().any(|d| d.name == name) {
        return Some(name);
    }
    if let Some(ds) = scope
        .project
        .as_ref()
        .and_then(|p| p.datasets.iter().find(|d| d.name == name))
        .cloned()
    {
        scope.use_dataset(ctx, node.pos, ds);
        return Some(name);
    }
    let mut names: Vec<&str> = catalog::names();
    let project_names: Vec<&str> = scope
        .project
        .iter()
        .flat_map(|p| p.datasets.iter().map(|d| d.name.as_str()))
        .collect();
    if names.contains(&name.as_str()) {
        return Some(name);
    }
    names.extend(&project_names);
    let hint = closest(&name, &names)
        .map(|c| format!("did you mean `{c}`? "))
        .unwrap_or_default();
    let project = match &scope.project {
        Some(p) => format!("; in {}: {}", p.path.display(), project_names.join(", ")),
        None => format!(
            "; no {PROJECT_CATALOG} declares datasets for this spec, or declare it by files"
        ),
    };
    ctx.err(
        node.pos,
        format!(
            "unknown dataset `{name}`; {hint}catalogued: {}{project} (see `repro doctor`)",
            catalog::names().join(", ")
        ),
    );
    None
}

/// One dataset declared by files: `name`, `format` (`ts`, `ucr-tsv`, `csv`, `npz`), `train` and
/// `test` (or `file` for `npz`) and their `sha256`; `dir` resolves relative paths, `file`
/// names the declaring file in `declared_at`.
pub fn decode_declaration(
    ctx: &mut Ctx,
    node: &Node,
    dir: &Path,
    file: &Path,
) -> Option<UserDataset> {
    let what = "a dataset declared by files";
    let f = ctx.map(node, what, DECL_KEYS)?;
    let name = f
        .required(ctx, "name", what)
        .and_then(|n| dataset_name(ctx, n));
    let format = f
        .required(ctx, "format", what)
        .and_then(|n| ctx.choice(n, "dataset format", &UserFormat::ALL));
    let sha = f.required(ctx, "sha256", what);
    let (format, sha) = (format?, sha?);
    let path = |ctx: &mut Ctx, key: &str| {
        let n = f.required(ctx, key, what)?;
        let p = ctx.string(n, &format!("`{key}`"))?;
        if p.is_empty() {
            ctx.err(n.pos, format!("`{key}` is an empty path"));
            return None;
        }
        Some(dir.join(p))
    };
    let (keys, misplaced): (&[&str], &[&str]) = if format.single_file() {
        (&["file"], &["train", "test"])
    } else {
        (&["train", "test"], &["file"])
    };
    for key in misplaced {
        if let Some(n) = f.get(key) {
            ctx.err(
                n.pos,
                format!(
                    "format `{}` takes {}, not `{key}`",
                    format.name(),
                    if format.single_file() {
                        "one `file`"
                    } else {
                        "`train` and `test`"
                    }
                ),
            );
        }
    }
    let paths: Vec<Option<PathBuf>> = keys.iter().map(|k| path(ctx, k)).collect();
    let digests: Vec<Option<String>> = if format.single_file() {
        vec![digest(ctx, sha, "`sha256`")]
    } else {
        match ctx.map(sha, "`sha256` (one digest per file)", &["train", "test"]) {
            Some(d) => keys
                .iter()
                .map(|k| {
                    d.required(ctx, k, "`sha256`")
                        .and_then(|n| digest(ctx, n, &format!("`sha256.{k}`")))
                })
                .collect(),
            None => vec![None, None],
        }
    };
    let files = paths
        .into_iter()
        .zip(digests)
        .map(|(path, sha256)| {
            Some(UserFile {
                path: path?,
                sha256: sha256?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(UserDataset {
        name: name?,
        format,
        files,
        declared_at: format!("{}:{}", file.display(), node.pos),
    })
}

/// A dataset name: letters, digits, `-`, `_`, starting with a letter (it names files in the
/// catalog layout).
fn dataset_name(ctx: &mut Ctx, node: &Node) -> Option<String> {
    let s = ctx.string(node, "dataset `name`")?;
    let ok = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ctx.check(ok, node.pos, || {
        format!(
            "dataset `name` `{s}` must be 1-64 of A-Z, a-z, 0-9, `-`, `_`, starting with a letter"
        )
    })
    .then_some(s)
}

/// A sha256 in hex (64 digits; upper case is read as lower case).
fn digest(ctx: &mut Ctx, node: &Node, what: &str) -> Option<String> {
    let s = ctx.string(node, what)?.to_ascii_lowercase();
    let ok = s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit());
    ctx.check(ok, node.pos, || {
        format!("{what} must be a sha256 of 64 hex digits, found `{s}`")
    })
    .then_some(s)
}
