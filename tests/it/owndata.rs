//! Datasets declared by files (issue #13, item 3): a spec's `dataset: { name, format, … }` and
//! a project's `datasets.yaml` train like catalogued data, key on bytes, name and format only,
//! and refuse missing or altered files before anything is written.

use std::path::{Path, PathBuf};

use repro::data;

use super::util::{self, repro, text, walk};

/// A one-arm spec on `dataset` (YAML written after `dataset:`), one seed, a few steps.
fn spec(dataset: &str) -> String {
    format!(
        "\
id: own
title: Own data
version: 1
dataset: {dataset}
defaults:
  init: torch
  train: {{ optimizer: adam, lr: 1.0e-2, batch_size: 25, steps: 20, order: sequential, eval_every: 10, weight_decay: 0 }}
seeds: {{ count: 1, base: 3 }}
arms:
  - id: linear
    model: {{ kind: linear }}
"
    )
}

fn sha(path: &Path) -> String {
    data::sha256_file(path).unwrap()
}

/// GunPoint from the catalog, rewritten in `format` under `dir` (the same values: f32 printed
/// in shortest round-trip form, labels in the same class order).
fn gunpoint_as(format: &str, dir: &Path) -> Vec<PathBuf> {
    let ds = data::load("GunPoint", &util::data_dir()).unwrap();
    let rows = |x: &tch::Tensor, y: &tch::Tensor, sep: &str| -> String {
        let x = Vec::<Vec<f32>>::try_from(x.squeeze_dim(1)).unwrap();
        let y = Vec::<i64>::try_from(y).unwrap();
        x.iter()
            .zip(y)
            .map(|(row, label)| {
                let values: Vec<String> = row.iter().map(|v| v.to_string()).collect();
                format!(
                    "{}{sep}{}\n",
                    ds.class_names[label as usize],
                    values.join(sep)
                )
            })
            .collect()
    };
    match format {
        "npz" => {
            let path = dir.join("gunpoint.npz");
            tch::Tensor::write_npz(
                &[
                    ("x", ds.x_train.squeeze_dim(1)),
                    ("y", ds.y_train.shallow_clone()),
                    ("x_test", ds.x_test.squeeze_dim(1)),
                    ("y_test", ds.y_test.shallow_clone()),
                ],
                &path,
            )
            .unwrap();
            vec![path]
        }
        "ts" => ["TRAIN", "TEST"]
            .iter()
            .map(|split| {
                let name = format!("GunPoint_{split}.ts");
                let path = dir.join(&name);
                let from = util::data_dir().join("ucr/GunPoint").join(&name);
                std::fs::copy(from, &path).unwrap();
                path
            })
            .collect(),
        _ => {
            let sep = if format == "csv" { "," } else { "\t" };
            let ext = if format == "csv" { "csv" } else { "tsv" };
            let train = dir.join(format!("gp_train.{ext}"));
            let test = dir.join(format!("gp_test.{ext}"));
            std::fs::write(&train, rows(&ds.x_train, &ds.y_train, sep)).unwrap();
            std::fs::write(&test, rows(&ds.x_test, &ds.y_test, sep)).unwrap();
            vec![train, test]
        }
    }
}

/// The declaration of `files` as flow YAML, paths as given.
fn declaration(name: &str, format: &str, files: &[&str], digests: &[String]) -> String {
    if format == "npz" {
        format!(
            "{{ name: {name}, format: npz, file: {}, sha256: {} }}",
            files[0], digests[0]
        )
    } else {
        format!(
            "{{ name: {name}, format: {format}, train: {}, test: {}, sha256: {{ train: {}, test: {} }} }}",
            files[0], files[1], digests[0], digests[1]
        )
    }
}

/// Runs `spec_file` (relative to `cwd`) into `store`; the one record's key and test accuracy.
fn run_one(cwd: &Path, spec_file: &str, store: &Path) -> (String, f64, serde_json::Value) {
    let out = repro(
        cwd,
        &["run", spec_file, "--store", store.to_str().unwrap()],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{spec_file}: {stderr}");
    let records = walk(store, "record.json");
    assert_eq!(records.len(), 1, "{records:?}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&records[0]).unwrap()).unwrap();
    let config = walk(store, "config.json");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config[0]).unwrap()).unwrap();
    (
        record["key"].as_str().unwrap().to_string(),
        record["metrics"]["accuracy"].as_f64().unwrap(),
        config,
    )
}

#[test]
fn user_datasets_train_like_the_catalogs_and_key_on_bytes_not_paths() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The catalogued GunPoint, the reference.
    std::fs::write(root.join("catalog.yaml"), spec("GunPoint")).unwrap();
    let (key_catalog, acc_catalog, config) =
        run_one(root, "catalog.yaml", &root.join("store-catalog"));
    assert!(
        config.get("dataset").is_none(),
        "catalogued: no declaration"
    );

    // The same bytes declared by files, in a sub-directory: relative paths resolve against the
    // spec's directory, not the working directory.
    let sub = root.join("specs");
    std::fs::create_dir_all(sub.join("files")).unwrap();
    let ts = gunpoint_as("ts", &sub.join("files"));
    let digests: Vec<String> = ts.iter().map(|p| sha(p)).collect();
    let decl = declaration(
        "GunPoint",
        "ts",
        &["files/GunPoint_TRAIN.ts", "files/GunPoint_TEST.ts"],
        &digests,
    );
    std::fs::write(sub.join("copy.yaml"), spec(&decl)).unwrap();
    let (key_copy, acc_copy, config) = run_one(root, "specs/copy.yaml", &root.join("store-copy"));
    assert_eq!(
        key_copy, key_catalog,
        "same name, format and bytes: same key"
    );
    assert_eq!(acc_copy, acc_catalog);
    assert_eq!(config["dataset"]["format"], "ts");
    assert_eq!(
        Path::new(config["dataset"]["files"][0]["path"].as_str().unwrap()),
        std::path::absolute(&ts[0]).unwrap(),
        "the worker gets the resolved path through config.json"
    );
    assert_eq!(
        config["data"][0]["file"], "ucr/GunPoint/GunPoint_TRAIN.ts",
        "the key names files by the catalog layout, not by where they are"
    );

    // Moved elsewhere, declared by an absolute path: still the same key.
    let moved = root.join("elsewhere");
    std::fs::create_dir(&moved).unwrap();
    let moved_files: Vec<PathBuf> = ts
        .iter()
        .map(|p| {
            let to = moved.join(p.file_name().unwrap());
            std::fs::copy(p, &to).unwrap();
            to
        })
        .collect();
    let paths: Vec<String> = moved_files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let decl = declaration("GunPoint", "ts", &[&paths[0], &paths[1]], &digests);
    std::fs::write(root.join("moved.yaml"), spec(&decl)).unwrap();
    let (key_moved, _, _) = run_one(root, "moved.yaml", &root.join("store-copy"));
    assert_eq!(key_moved, key_catalog, "a done key: nothing retrained");

    // The same values in the other formats: the same numbers, under keys of their own (the
    // name and format are in the key).
    let mut keys = vec![key_catalog.clone()];
    for (format, name) in [("ucr-tsv", "GunTsv"), ("csv", "GunCsv"), ("npz", "GunNpz")] {
        let files = gunpoint_as(if format == "ucr-tsv" { "tsv" } else { format }, root);
        let digests: Vec<String> = files.iter().map(|p| sha(p)).collect();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let file = format!("{name}.yaml");
        std::fs::write(
            root.join(&file),
            spec(&declaration(name, format, &names, &digests)),
        )
        .unwrap();
        let (key, acc, _) = run_one(root, &file, &root.join(format!("store-{name}")));
        assert_eq!(acc, acc_catalog, "{format}: the same data trains the same");
        assert!(!keys.contains(&key), "{format}: a key of its own");
        keys.push(key);
    }
}

#[test]
fn a_project_catalog_names_datasets_for_the_specs_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let files = gunpoint_as("csv", root);
    let digests: Vec<String> = files.iter().map(|p| sha(p)).collect();
    std::fs::write(
        root.join("datasets.yaml"),
        format!(
            "datasets:\n  - {}\n",
            declaration("Coffee", "csv", &["gp_train.csv", "gp_test.csv"], &digests)
        ),
    )
    .unwrap();
    std::fs::write(root.join("coffee.yaml"), spec("Coffee")).unwrap();
    // `validate` on the directory reads the catalog as a catalog, not as a spec.
    let out = repro(root, &["validate", "."], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");

    let (_, acc, config) = run_one(root, "coffee.yaml", &root.join("store"));
    assert!((0.0..=1.0).contains(&acc));
    assert_eq!(config["dataset"]["name"], "Coffee");
    assert!(
        config["dataset"]["declared_at"]
            .as_str()
            .unwrap()
            .ends_with("datasets.yaml:2:5"),
        "{config}"
    );

    let out = repro(root, &["data", "profile", "Coffee", "--json"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let profile: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(profile["dataset"], "Coffee");
    let out = repro(root, &["data", "verify", "Coffee"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert!(text(&out).0.contains(&digests[0][..16]));

    // A typo is "did you mean" over both catalogs.
    std::fs::write(root.join("typo.yaml"), spec("Cofee")).unwrap();
    let out = repro(root, &["validate", "typo.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("typo.yaml:4:10: unknown dataset `Cofee`; did you mean `Coffee`?"),
        "{}",
        text(&out).1
    );
}

/// `repro run SPEC` in `dir` fails with exit 2, a message containing each of `needles`, and no
/// store.
fn refused(dir: &Path, spec_file: &str, needles: &[&str]) {
    let store = dir.join("store");
    let out = repro(
        dir,
        &["run", spec_file, "--store", store.to_str().unwrap()],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{spec_file}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{spec_file}: `{needle}` in {stderr}"
        );
    }
    assert!(!store.exists(), "{spec_file}: nothing written to the store");
}

#[test]
fn missing_or_altered_files_and_bad_declarations_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let files = gunpoint_as("tsv", root);
    let digests: Vec<String> = files.iter().map(|p| sha(p)).collect();

    // A missing file: named, with the digest it must have.
    let decl = declaration("Gun", "ucr-tsv", &["gp_train.tsv", "absent.tsv"], &digests);
    std::fs::write(root.join("missing.yaml"), spec(&decl)).unwrap();
    let absent = root.join("absent.tsv");
    refused(
        root,
        "missing.yaml",
        &[
            &format!("{}: missing; dataset `Gun`", absent.display()),
            &format!(
                "missing.yaml:4:10) expects a file with sha256 {}",
                digests[1]
            ),
        ],
    );

    // An altered file: expected and actual digests.
    let wrong = "0".repeat(64);
    let decl = declaration(
        "Gun",
        "ucr-tsv",
        &["gp_train.tsv", "gp_test.tsv"],
        &[digests[0].clone(), wrong.clone()],
    );
    std::fs::write(root.join("altered.yaml"), spec(&decl)).unwrap();
    refused(
        root,
        "altered.yaml",
        &[&format!(
            "{}: sha256 mismatch: expected {wrong}, found {}",
            files[1].display(),
            digests[1]
        )],
    );

    // An unknown format, a malformed digest: spec errors with line:col.
    let decl = declaration("Gun", "arff", &["gp_train.tsv", "gp_test.tsv"], &digests);
    std::fs::write(root.join("format.yaml"), spec(&decl)).unwrap();
    refused(
        root,
        "format.yaml",
        &["format.yaml:4:31: unknown dataset format `arff`; expected one of `ts`, `ucr-tsv`, `csv`, `npz`"],
    );
    let decl = declaration("Gun", "npz", &["gp.npz"], &["abc".to_string()]);
    std::fs::write(root.join("digest.yaml"), spec(&decl)).unwrap();
    refused(
        root,
        "digest.yaml",
        &["`sha256` must be a sha256 of 64 hex digits, found `abc`"],
    );

    // A project catalog naming a built-in dataset, and a name declared twice in it: errors in
    // the catalog file, reported once for every spec beside it.
    let entry =
        |name: &str| declaration(name, "ucr-tsv", &["gp_train.tsv", "gp_test.tsv"], &digests);
    let project = root.join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("datasets.yaml"),
        format!(
            "datasets:\n  - {}\n  - {}\n  - {}\n",
            entry("GunPoint"),
            entry("Mine"),
            entry("Mine")
        ),
    )
    .unwrap();
    std::fs::write(project.join("a.yaml"), spec("Mine")).unwrap();
    refused(
        &project,
        "a.yaml",
        &[
            "datasets.yaml:2:5: dataset `GunPoint` is declared both here and in the built-in catalog",
            "datasets.yaml:4:5: duplicate dataset `Mine` (first at line 3)",
        ],
    );
}
