//! Datasets: the real shipped UCR/UEA files load with the right shapes, labels and profile
//! figures; malformed `.ts` files fail with file:line and the reason.

use std::path::Path;

use repro::data::{self, profile, DataError};

use super::util::{self, repro, text};

#[test]
fn gunpoint_loads_with_the_published_shape() {
    let ds = data::load("GunPoint", &util::data_dir()).unwrap();
    assert_eq!(ds.x_train.size(), vec![50, 1, 150]);
    assert_eq!(ds.x_test.size(), vec![150, 1, 150]);
    assert_eq!(ds.class_names, vec!["1", "2"]);
    assert_eq!(ds.classes, 2);
    assert!(ds
        .lengths_train
        .iter()
        .chain(&ds.lengths_test)
        .all(|&l| l == 150));
    assert_eq!(ds.digests.len(), 2);
    // First value of the first training series, as written in GunPoint_TRAIN.ts.
    assert_eq!(ds.x_train.double_value(&[0, 0, 0]) as f32, -0.647_885_4);
    let labels = Vec::<i64>::try_from(&ds.y_train).unwrap();
    assert!(labels.iter().all(|&l| l == 0 || l == 1));
}

#[test]
fn japanese_vowels_is_multivariate_and_variable_length() {
    let ds = data::load("JapaneseVowels", &util::data_dir()).unwrap();
    assert_eq!(ds.channels, 12);
    assert_eq!(ds.length, 29);
    assert_eq!(ds.x_train.size(), vec![270, 12, 29]);
    assert_eq!(ds.x_test.size(), vec![370, 12, 29]);
    assert_eq!(
        ds.class_names,
        (1..=9).map(|c| c.to_string()).collect::<Vec<_>>()
    );
    let p = profile::profile(&ds);
    let (train, test) = (&p.splits[0], &p.splits[1]);
    assert_eq!((train.count, test.count), (270, 370));
    let l = &train.lengths;
    assert_eq!(
        (l.min, l.p50, l.p90, l.p95, l.p99, l.max),
        (7, 15, 21, 23, 25, 26)
    );
    let l = &test.lengths;
    assert_eq!(
        (l.min, l.p50, l.p90, l.p95, l.p99, l.max),
        (7, 15, 21, 22, 25, 29)
    );
    assert_eq!((train.pad_covering_90, train.pad_covering_95), (21, 23));
    assert!(train.classes.iter().all(|(_, n)| *n == 30));
    let test_counts: Vec<usize> = test.classes.iter().map(|(_, n)| *n).collect();
    assert_eq!(test_counts, vec![31, 35, 88, 44, 29, 24, 40, 50, 29]);
    assert_eq!(train.missing + test.missing, 0);
    // Padding beyond a series' length is zero, never data.
    let short = ds.lengths_train.iter().position(|&l| l == 7).unwrap() as i64;
    assert_eq!(
        ds.x_train
            .get(short)
            .narrow(1, 7, 22)
            .abs()
            .sum(tch::Kind::Float)
            .double_value(&[]),
        0.0
    );
}

#[test]
fn every_catalogued_dataset_loads() {
    for entry in data::catalog::CATALOG {
        let ds = data::load(entry.name, &util::data_dir())
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        assert!(ds.classes >= 2, "{}", entry.name);
        assert_eq!(ds.x_train.size()[0] as usize, ds.lengths_train.len());
    }
}

#[test]
fn malformed_ts_files_name_file_and_line() {
    let cases = [
        ("truncated.ts", 11, "truncated line"),
        (
            "wrong_dimensions.ts",
            11,
            "expected 2 dimension(s), found 1",
        ),
        (
            "undeclared_label.ts",
            11,
            "class label `c` is not declared in @classLabel",
        ),
        (
            "bad_number.ts",
            11,
            "dimension 2, value 2: `5e` is not a number",
        ),
    ];
    for (file, want_line, fragment) in cases {
        let path = util::root().join("tests/fixtures/ts").join(file);
        match data::ts::read(&path) {
            Err(e @ DataError::Parse { line, .. }) => {
                assert_eq!(line, want_line, "{file}");
                let msg = e.to_string();
                assert!(
                    msg.starts_with(&format!("{}:{want_line}: ", path.display())),
                    "{msg}"
                );
                assert!(msg.contains(fragment), "{msg}");
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    assert!(matches!(
        data::ts::read(Path::new("no/such.ts")),
        Err(DataError::Io { .. })
    ));
}

#[test]
fn data_commands() {
    let out = repro(&util::root(), &["data", "verify"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 18);

    let out = repro(
        &util::root(),
        &["data", "profile", "JapaneseVowels", "--json"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let p: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(p["channels"], 12);
    assert_eq!(p["splits"][1]["lengths"]["max"], 29);
    assert_eq!(p["test_in_train"], 0);

    let out = repro(&util::root(), &["data", "profile", "JapaneseVowel"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("unknown dataset `JapaneseVowel`"));
}

#[test]
fn tsv_pairs_load_with_numeric_class_order() {
    let dir = util::root().join("tests/fixtures/tsv");
    let ds =
        data::load_delimited_pair("Toy", &dir.join("Toy_TRAIN.tsv"), &dir.join("Toy_TEST.tsv"))
            .unwrap();
    assert_eq!(
        ds.class_names,
        vec!["1", "2", "10"],
        "numeric, not lexicographic"
    );
    assert_eq!(ds.x_train.size(), vec![3, 1, 3]);
    assert_eq!(ds.lengths_train, vec![3, 2, 3]);
    assert_eq!(Vec::<i64>::try_from(&ds.y_test).unwrap(), vec![2, 0]);
    let e = data::load_delimited_pair("Bad", &dir.join("Toy_TRAIN.tsv"), &dir.join("Bad_TEST.tsv"))
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("Bad_TEST.tsv:2: column 4: `x` is not a number"),
        "{e}"
    );
    let e = data::load_delimited_pair(
        "U",
        &dir.join("Toy_TRAIN.tsv"),
        &dir.join("Unknown_TEST.tsv"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("series 2 has class `3`"), "{e}");
}
