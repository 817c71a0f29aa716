//! `repro data` (catalog, verification, profiles) and `repro doctor` (what this machine runs
//! with).

use std::path::Path;

use crate::data::{self, DataError};
#[cfg(torch)]
use crate::device::DeviceKind;
#[cfg(torch)]
use crate::numerics;
#[cfg(torch)]
use crate::provenance;

use super::{DataCommand, Failure};

/// The project catalog of the current directory (see `spec::find_project_catalog`).
fn project() -> Result<Vec<data::UserDataset>, Failure> {
    crate::spec::project_catalog_here().map_err(|e| Failure::bad_input(e.to_string()))
}

/// `NAME` as `repro data profile` reads it: a spec file (its dataset), a project catalog's
/// name, or a built-in one; the name and, for a dataset declared by files, its declaration.
#[cfg(torch)]
fn resolve(name: &str) -> Result<(String, Option<data::UserDataset>), Failure> {
    let path = Path::new(name);
    let is_spec = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    if is_spec && path.is_file() {
        let spec = crate::spec::load(path).map_err(|e| Failure::bad_input(e.to_string()))?;
        let user = spec.user_dataset(&spec.dataset).cloned();
        return Ok((spec.dataset, user));
    }
    let user = project()?.into_iter().find(|d| d.name == name);
    Ok((name.to_string(), user))
}

pub fn data(command: DataCommand, dir: &Path) -> Result<(), Failure> {
    match command {
        DataCommand::List => {
            for e in data::catalog::CATALOG {
                let state = match data::verify(e, dir) {
                    Ok(_) => "verified".to_string(),
                    Err(DataError::Missing { .. }) => format!("missing (`{}`)", e.fetch),
                    Err(_) => "BAD CHECKSUM".to_string(),
                };
                println!("{:<22} {:<10} {}", e.name, state, e.description);
                println!("{:<22} {:<10} from {}", "", "", e.source);
            }
            for d in project()? {
                let state = match data::user::verify(&d) {
                    Ok(_) => "verified",
                    Err(DataError::UserMissing { .. }) => "missing",
                    Err(_) => "BAD CHECKSUM",
                };
                println!("{:<22} {:<10} {} files", d.name, state, d.format.name());
                println!("{:<22} {:<10} declared at {}", "", "", d.declared_at);
            }
            Ok(())
        }
        DataCommand::Verify { names } => {
            let project = project()?;
            let wanted: Vec<(String, Option<data::UserDataset>)> = if names.is_empty() {
                let builtin = data::catalog::CATALOG
                    .iter()
                    .map(|e| (e.name.to_string(), None));
                builtin
                    .chain(project.into_iter().map(|d| (d.name.clone(), Some(d))))
                    .collect()
            } else {
                names
                    .iter()
                    .map(|n| {
                        let user = project.iter().find(|d| &d.name == n).cloned();
                        if user.is_none() {
                            data::catalog::get(n)?;
                        }
                        Ok((n.clone(), user))
                    })
                    .collect::<Result<_, DataError>>()?
            };
            let mut bad = Vec::new();
            for (name, user) in &wanted {
                match data::verify_named(name, user.as_ref(), dir) {
                    Ok(files) => {
                        for (i, f) in files.iter().enumerate() {
                            let path = match user {
                                Some(u) => u.files[i].path.clone(),
                                None => dir.join(&f.file),
                            };
                            println!("ok   {}  {}", &f.sha256[..16], path.display());
                        }
                    }
                    Err(err) => {
                        println!("FAIL {name}: {err}");
                        bad.push(err.to_string());
                    }
                }
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(Failure::bad_input(format!(
                    "{} dataset(s) failed verification",
                    bad.len()
                )))
            }
        }
        // The front hands the profile (it loads tensors) to `repro-torch`.
        #[cfg(not(torch))]
        DataCommand::Profile { .. } => Err(crate::front::delegate().into()),
        #[cfg(torch)]
        DataCommand::Profile { name, json } => {
            let (name, user) = resolve(&name)?;
            let ds = data::load_named(&name, user.as_ref(), dir)?;
            let p = data::profile::profile(&ds);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&p).map_err(|e| Failure::failed(e.to_string()))?
                );
            } else {
                println!("{}", data::profile::render(&p));
            }
            Ok(())
        }
    }
}

#[cfg(torch)]
pub fn doctor(data_dir: &Path) {
    let backend = provenance::backend();
    let code = provenance::code_identity(Path::new("."));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("repro        {}", env!("CARGO_PKG_VERSION"));
    println!("libtorch     {}", backend.libtorch);
    println!(
        "cuda         {}",
        if backend.cuda_available {
            format!(
                "available, runtime {}",
                backend.cuda_runtime.as_deref().unwrap_or("?")
            )
        } else {
            format!(
                "not available (backend built for CUDA {})",
                backend.cuda_runtime.as_deref().unwrap_or("none")
            )
        }
    );
    for d in &backend.devices {
        println!("  device     {d}");
    }
    println!(
        "cudnn        {}",
        backend.cudnn.as_deref().unwrap_or("none")
    );
    println!(
        "threads      {} torch intra-op, {} CPU cores",
        tch::get_num_threads(),
        cpus
    );
    println!("host         {}", provenance::hostname());
    println!("cpu model    {}", provenance::cpu_model());
    println!(
        "numerics     native:   {} (in the key of native CPU runs)",
        numerics::planned(numerics::Mode::Native, DeviceKind::Cpu).class
    );
    println!(
        "             portable: {} (`numerics: portable` or --portable)",
        numerics::planned(numerics::Mode::Portable, DeviceKind::Cpu).class
    );
    if backend.cuda_available {
        println!(
            "             cuda:     {}",
            numerics::planned(numerics::Mode::Native, DeviceKind::Cuda).class
        );
    }
    println!(
        "code         {} (sha256 of the sources this binary was built from; in every run key)",
        code.build
    );
    println!(
        "built from   {}",
        code.built_from
            .as_deref()
            .unwrap_or("no git commit (built outside a git work tree)")
    );
    match &code.commit {
        Some(c) => println!(
            "git          {} on {}{}{}",
            &c[..12.min(c.len())],
            code.branch.as_deref().unwrap_or("(detached)"),
            if code.dirty { ", dirty" } else { ", clean" },
            if code.untracked > 0 {
                format!(", {} untracked", code.untracked)
            } else {
                String::new()
            }
        ),
        None if code.repository => println!("git          repository without commits yet"),
        None => println!(
            "git          not a git work tree (runs record no commit; keys do not need one)"
        ),
    }
    for (k, v) in provenance::numeric_env() {
        println!("env          {k}={v}");
    }
    println!("datasets     in {}", data_dir.display());
    for entry in data::catalog::CATALOG {
        let state = match data::verify(entry, data_dir) {
            Ok(_) => "verified".to_string(),
            Err(DataError::Missing { .. }) => format!("missing (run `{}`)", entry.fetch),
            Err(e) => format!("BAD: {e}"),
        };
        println!("  {:<22} {state}", entry.name);
    }
}
