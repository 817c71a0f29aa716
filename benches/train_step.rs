//! One training step (forward, backward, Adam) of each MNIST-1D model on a batch of 100, one
//! thread: the unit of cost of the bundled audit. `benches/pytorch_eager.py` times the same step
//! in PyTorch eager on the same data, so `make bench` prints the two side by side.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use tch::nn::OptimizerConfig;

fn train_step(c: &mut Criterion) {
    repro::provenance::configure(1, true);
    let data = repro::data::load("mnist1d", Path::new("data")).expect("run `make data` first");
    let spec = repro::spec::load(Path::new("papers/mnist1d.yaml")).expect("bundled spec");
    let input = repro::model::InputShape {
        channels: data.channels,
        length: data.length,
        classes: data.classes,
        full_length: false,
    };
    let xb = data.x_train.narrow(0, 0, 100);
    let yb = data.y_train.narrow(0, 0, 100);
    let lb = tch::Tensor::from_slice(&data.lengths_train[..100]);
    let mut group = c.benchmark_group("mnist1d_train_step");
    for arm in &spec.arms {
        repro::provenance::seed(0);
        let built = repro::model::build(
            &arm.resolved.model,
            arm.resolved.init,
            input,
            tch::Device::Cpu,
        )
        .expect("model");
        let mut opt = tch::nn::Adam::default()
            .build(&built.vs, 1e-2)
            .expect("adam");
        group.bench_function(&arm.id, |b| {
            b.iter(|| {
                let loss = built
                    .net
                    .forward(&xb, &lb, true)
                    .cross_entropy_for_logits(&yb);
                opt.zero_grad();
                loss.backward();
                opt.step();
                black_box(loss)
            })
        });
    }
    group.finish();
}

fn parse_spec(c: &mut Criterion) {
    let bytes = std::fs::read("papers/mnist1d.yaml").expect("bundled spec");
    c.bench_function("parse_mnist1d_spec", |b| {
        b.iter(|| repro::spec::parse_bytes(Path::new("papers/mnist1d.yaml"), black_box(&bytes)))
    });
}

criterion_group!(benches, train_step, parse_spec);
criterion_main!(benches);
