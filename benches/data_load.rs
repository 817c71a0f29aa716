//! Loading real datasets into tensors: ACSF1 (3.3 MB of `.ts` text, 200 series of length 1460)
//! should take well under a second, checksum verification included.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

fn load(c: &mut Criterion) {
    let dir = Path::new("data");
    let mut group = c.benchmark_group("data_load");
    group.sample_size(20);
    for name in ["ACSF1", "JapaneseVowels", "mnist1d"] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(repro::data::load(name, dir).expect("run `make data` first")))
        });
    }
    group.bench_function("ACSF1_parse_only", |b| {
        b.iter(|| {
            black_box(repro::data::ts::read(&dir.join("ucr/ACSF1/ACSF1_TRAIN.ts")).expect("data"))
        })
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
