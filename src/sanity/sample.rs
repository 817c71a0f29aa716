//! The data sample: the first examples of each split with their labels and lengths, and what
//! would make training meaningless (labels the head cannot take, empty series, non-finite
//! values, a split with one class).

use tch::{Device, Kind};

use super::{labels, Check, Outcome, Setup};
use crate::data::prep::Split;

pub const NAME: &str = "data sample";

/// Examples shown per split: enough to see labels and lengths vary, few enough to read.
pub const PER_SPLIT: i64 = 3;

/// Values shown of each example's first channel.
const VALUES: i64 = 6;

pub fn check(setup: &Setup) -> Check {
    let p = setup.prepared;
    let mut details = Vec::new();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let splits = [
        ("train", Some(&p.train)),
        ("val", p.val.as_ref()),
        ("test", Some(&p.test)),
    ];
    for (name, split) in splits {
        let Some(split) = split else { continue };
        describe(setup, name, split, &mut details);
        let y = labels(&split.y);
        let lengths = labels(&split.lengths);
        // A class-disjoint test split keeps the dataset's own class indices.
        let head = !(p.class_disjoint && name == "test");
        let limit = if head {
            p.classes
        } else {
            setup.class_names.len() as i64
        };
        if let Some(bad) = y.iter().find(|&&l| l < 0 || l >= limit) {
            problems.push(format!("{name} has label {bad} outside [0, {limit})"));
        }
        if let Some(i) = lengths.iter().position(|&l| l <= 0) {
            problems.push(format!("{name} example {i} has length {}", lengths[i]));
        }
        let finite = split.x.isfinite().all().int64_value(&[]) == 1;
        if !finite {
            problems.push(format!("{name} has non-finite values"));
        }
        let mut distinct = y.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 2 && !y.is_empty() {
            warnings.push(format!("{name} has a single class"));
        }
    }
    let sizes = format!(
        "train {}, {}test {}; {} classes, length {}, {} channel(s)",
        p.train.len(),
        p.val
            .as_ref()
            .map_or(String::new(), |v| format!("val {}, ", v.len())),
        p.test.len(),
        p.classes,
        p.length,
        p.channels
    );
    let check =
        if !problems.is_empty() {
            Check::new(NAME, Outcome::Fail, format!("{}: {sizes}", problems.join("; "))).advice(
            "check what the loader returns: labels must be 0..C-1 in the head's order, lengths \
             positive, values finite",
        )
        } else if !warnings.is_empty() {
            Check::new(
                NAME,
                Outcome::Warn,
                format!("{}: {sizes}", warnings.join("; ")),
            )
            .advice("check the split and the labels the loader returns")
        } else {
            Check::new(NAME, Outcome::Pass, sizes)
        };
    check.details(details)
}

fn describe(setup: &Setup, name: &str, split: &Split, out: &mut Vec<String>) {
    let n = split.len().min(PER_SPLIT);
    let y = labels(&split.y);
    let lengths = labels(&split.lengths);
    for i in 0..n {
        let row = split
            .x
            .get(i)
            .get(0)
            .narrow(0, 0, VALUES.min(split.x.size()[2]))
            .to_device(Device::Cpu)
            .to_kind(Kind::Double);
        let values: Vec<String> = Vec::<f64>::try_from(&row)
            .unwrap_or_default()
            .iter()
            .map(|v| format!("{v:.3}"))
            .collect();
        let label = y[i as usize];
        let class = setup
            .class_names
            .get(label as usize)
            .filter(|_| !setup.prepared.class_disjoint || name == "test")
            .map_or(String::new(), |c| format!(" (`{c}`)"));
        out.push(format!(
            "{name}[{i}]: label {label}{class}, length {}, x[0][..{}] = [{}]",
            lengths[i as usize],
            values.len(),
            values.join(", ")
        ));
    }
}
