//! Preprocessing declared in specs, and models that respect the padding it creates.

use repro::data::{self, prep};
use repro::model::{self, InputShape};
use repro::spec::{
    Cell, CnnHead, DataSpec, InitScheme, ModelSpec, Normalize, Pad, Readout, Subset,
};
use tch::{Kind, Tensor};

use super::util;

fn vowels() -> data::Dataset {
    data::load("JapaneseVowels", &util::data_dir()).unwrap()
}

#[test]
fn pad_to_the_90th_percentile_truncates_and_clamps_lengths() {
    let ds = vowels();
    let spec = DataSpec {
        pad: Pad::Percentile(90.0),
        ..DataSpec::default()
    };
    let p = crate::util::prepared(&ds, &spec, 1);
    assert_eq!(
        p.length, 21,
        "repro data profile: pad covering 90% of train is 21"
    );
    assert_eq!(p.train.x.size(), vec![270, 12, 21]);
    assert_eq!(p.test.x.size(), vec![370, 12, 21]);
    assert_eq!(p.test.lengths.max().int64_value(&[]), 21);
    let fixed = crate::util::prepared(
        &ds,
        &DataSpec {
            pad: Pad::Length(40),
            ..DataSpec::default()
        },
        1,
    );
    assert_eq!(fixed.train.x.size(), vec![270, 12, 40]);
}

#[test]
fn validation_split_and_subset_are_stratified_and_seeded() {
    let ds = vowels();
    let spec = DataSpec {
        val_fraction: Some(0.2),
        subset: Some(Subset::Count {
            train: Some(90),
            test: None,
        }),
        ..DataSpec::default()
    };
    let p = crate::util::prepared(&ds, &spec, 3);
    let val = p.val.as_ref().unwrap();
    assert_eq!((p.train.len(), val.len(), p.test.len()), (72, 18, 370));
    let per_class = |y: &Tensor| -> Vec<i64> {
        let v = Vec::<i64>::try_from(y).unwrap();
        (0..9)
            .map(|c| v.iter().filter(|&&l| l == c).count() as i64)
            .collect()
    };
    assert_eq!(per_class(&p.train.y), vec![8; 9]);
    assert_eq!(per_class(&val.y), vec![2; 9]);
    let again = crate::util::prepared(&ds, &spec, 3);
    assert!(again.train.x.equal(&p.train.x), "same seed, same split");
    let other = crate::util::prepared(&ds, &spec, 4);
    assert!(
        !other.train.x.equal(&p.train.x),
        "another seed, another split"
    );
}

#[test]
fn normalisation_uses_true_lengths_and_train_statistics() {
    let ds = vowels();
    let series = crate::util::prepared(
        &ds,
        &DataSpec {
            normalize: Normalize::Series,
            ..DataSpec::default()
        },
        0,
    );
    let i = ds.lengths_train.iter().position(|&l| l == 7).unwrap() as i64;
    let first = series.train.x.get(i).narrow(1, 0, 7);
    let mean = first
        .mean_dim(1, false, Kind::Float)
        .abs()
        .max()
        .double_value(&[]);
    let sd = first.std_dim(1, false, false).double_value(&[0]);
    assert!(
        mean < 1e-5 && (sd - 1.0).abs() < 1e-4,
        "mean {mean} sd {sd}"
    );
    assert_eq!(
        series
            .train
            .x
            .get(i)
            .narrow(1, 7, series.length - 7)
            .abs()
            .sum(Kind::Float)
            .double_value(&[]),
        0.0
    );

    let dataset = crate::util::prepared(
        &ds,
        &DataSpec {
            normalize: Normalize::Dataset,
            ..DataSpec::default()
        },
        0,
    );
    let lengths: i64 = ds.lengths_train.iter().sum();
    let sums = dataset
        .train
        .x
        .sum_dim_intlist([0, 2].as_slice(), false, Kind::Double);
    let channel_means = Vec::<f64>::try_from(sums / lengths as f64).unwrap();
    assert!(
        channel_means.iter().all(|m| m.abs() < 1e-4),
        "{channel_means:?}"
    );
    let test_sum = dataset.test.x.sum(Kind::Double).double_value(&[]);
    assert!(
        test_sum.abs() > 1.0,
        "test is scaled with train statistics, not its own"
    );
}

/// A batch of padded sequences must give each sequence the logits it gets alone, unpadded.
fn check_padding_invariance(spec: ModelSpec, channels: i64) {
    let _torch = util::torch_lock();
    repro::provenance::seed(5);
    let input = InputShape {
        channels,
        length: 6,
        classes: 4,
        full_length: false,
    };
    let built = model::build(&spec, InitScheme::Torch, input, tch::Device::Cpu).unwrap();
    let lengths = [6i64, 4, 1];
    let lengths_t = Tensor::from_slice(&lengths);
    // Padding is zeros, as `data::prep` leaves it.
    let x = Tensor::randn([3, channels, 6], (Kind::Float, tch::Device::Cpu))
        * prep::mask(&lengths_t, 6).unsqueeze(1);
    let batch = built.net.forward(&x, &lengths_t, false);
    for (b, &len) in lengths.iter().enumerate() {
        let alone = x.narrow(0, b as i64, 1).narrow(2, 0, len);
        let want = built
            .net
            .forward(&alone, &Tensor::from_slice(&[len]), false);
        let diff = (batch.narrow(0, b as i64, 1) - want)
            .abs()
            .max()
            .double_value(&[]);
        assert!(
            diff < 1e-5,
            "{spec:?}: sequence {b} (length {len}) differs by {diff}"
        );
    }
}

#[test]
fn rnn_readouts_ignore_padding() {
    for cell in [Cell::Gru, Cell::Lstm] {
        for readout in [Readout::Last, Readout::Mean] {
            for (layers, bidirectional) in [(1, false), (2, false), (1, true), (2, true)] {
                let spec = ModelSpec::Rnn {
                    cell,
                    hidden: 5,
                    layers,
                    bidirectional,
                    readout,
                    dropout: 0.0,
                    // Layer norm between layers runs the layer-by-layer path unidirectionally too.
                    layer_norm: layers == 2 && !bidirectional,
                    output_dropout: 0.0,
                    forget_bias: None,
                    embedding: None,
                    embedding_dim: None,
                };
                check_padding_invariance(spec, 3);
            }
        }
    }
}

#[test]
fn cnn_global_pooling_ignores_padding() {
    let spec = ModelSpec::Cnn1d {
        channels: vec![7],
        kernel: vec![3],
        stride: 1,
        padding: repro::spec::Padding::Fixed(1),
        activation: repro::spec::Activation::Relu,
        batch_norm: false,
        head: CnnHead::Gap,
        dropout: 0.0,
        embedding_dim: None,
    };
    check_padding_invariance(spec, 2);
}

/// Issue #11: `pad: max` took JapaneseVowels' longest series from the test split (29); the
/// training split's longest is 26. Pad lengths come from the training split only, the same for
/// every seed, subset and validation carve; longer test series are truncated.
#[test]
fn pad_lengths_come_from_the_training_split_only() {
    let ds = vowels();
    assert_eq!(ds.lengths_train.iter().max(), Some(&26));
    assert_eq!(ds.lengths_test.iter().max(), Some(&29));
    let p = crate::util::prepared(&ds, &DataSpec::default(), 1);
    assert_eq!(p.length, 26);
    assert_eq!(p.train.x.size(), vec![270, 12, 26]);
    assert_eq!(p.test.x.size(), vec![370, 12, 26]);
    assert_eq!(p.test.lengths.max().int64_value(&[]), 26);
    let longest = ds.lengths_test.iter().position(|&l| l == 29).unwrap() as i64;
    assert!(
        p.test
            .x
            .get(longest)
            .equal(&ds.x_test.get(longest).narrow(1, 0, 26)),
        "a longer test series keeps its first 26 steps"
    );
    for seed in 0..4 {
        for (pad, want) in [(Pad::Max, 26), (Pad::Percentile(90.0), 21)] {
            let spec = DataSpec {
                pad,
                val_fraction: Some(0.2),
                subset: Some(Subset::Count {
                    train: Some(30),
                    test: None,
                }),
                ..DataSpec::default()
            };
            assert_eq!(
                crate::util::prepared(&ds, &spec, seed).length,
                want,
                "{pad:?} seed {seed}"
            );
        }
    }
}

/// Issue #11: `subset: {fraction}` shrank the test split too. A fraction applies to the
/// training split; the test split shrinks only under an explicit `test:` count.
#[test]
fn subset_never_shrinks_the_test_split_unless_asked() {
    let ds = vowels();
    let fraction = DataSpec {
        subset: Some(Subset::Fraction(0.1)),
        ..DataSpec::default()
    };
    let p = crate::util::prepared(&ds, &fraction, 2);
    assert_eq!((p.train.len(), p.test.len()), (27, 370));
    assert!(p.test.y.equal(&ds.y_test), "the whole test split, in order");
    let asked = DataSpec {
        subset: Some(Subset::Count {
            train: None,
            test: Some(90),
        }),
        ..DataSpec::default()
    };
    let p = crate::util::prepared(&ds, &asked, 2);
    assert_eq!((p.train.len(), p.test.len()), (270, 90));
}

/// `InputShape::full_length` is decided once from every split, and it only saves the models'
/// question (a host read per forward pass): on data without padding, a model told so computes
/// the same bits as one that asks; told so wrongly, it would skip the masking (which is why
/// only `Prepared::input` sets it).
#[test]
fn full_length_data_skips_the_padding_question_without_changing_a_bit() {
    let _torch = util::torch_lock();
    let mnist = data::load("mnist1d", &util::data_dir()).unwrap();
    let full = crate::util::prepared(&mnist, &DataSpec::default(), 1);
    assert!(
        full.input().full_length,
        "MNIST-1D: every series has 40 steps"
    );
    let ds = vowels();
    let ninety = DataSpec {
        pad: Pad::Percentile(90.0),
        ..DataSpec::default()
    };
    let padded = crate::util::prepared(&ds, &ninety, 1);
    assert!(!padded.input().full_length, "JapaneseVowels: 7 to 29 steps");
    // Truncated to its shortest series' length, every series fills it (in every split).
    let shortest = DataSpec {
        pad: Pad::Length(7),
        ..DataSpec::default()
    };
    assert!(crate::util::prepared(&ds, &shortest, 1).input().full_length);

    let specs = [
        ModelSpec::Cnn1d {
            channels: vec![6, 6],
            kernel: vec![3, 3],
            stride: 1,
            padding: repro::spec::Padding::Same,
            activation: repro::spec::Activation::Relu,
            batch_norm: true,
            head: CnnHead::Gap,
            dropout: 0.0,
            embedding_dim: None,
        },
        ModelSpec::Resnet1d {
            channels: vec![6],
            kernel: vec![5, 3],
            activation: repro::spec::Activation::Relu,
            dropout: 0.0,
            embedding_dim: None,
        },
        ModelSpec::Rnn {
            cell: Cell::Lstm, // a bidirectional GRU on the CPU takes its own paired loop, padded or not
            hidden: 5,
            layers: 2,
            bidirectional: true,
            readout: Readout::Mean,
            dropout: 0.0,
            layer_norm: false,
            output_dropout: 0.0,
            forget_bias: None,
            embedding: None,
            embedding_dim: None,
        },
    ];
    let x = full.train.x.narrow(0, 0, 16);
    let full_lengths = full.train.lengths.narrow(0, 0, 16);
    let short = Tensor::from_slice(&[
        40i64, 40, 25, 40, 10, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 3,
    ]);
    let x_short = &x * prep::mask(&short, 40).unsqueeze(1);
    for spec in &specs {
        let build = |full_length: bool| {
            repro::provenance::seed(11);
            let input = InputShape {
                full_length,
                ..full.input()
            };
            model::build(spec, InitScheme::Torch, input, tch::Device::Cpu).unwrap()
        };
        let (told, asks) = (build(true), build(false));
        for train in [false, true] {
            let a = told.net.forward(&x, &full_lengths, train);
            let b = asks.net.forward(&x, &full_lengths, train);
            assert!(
                a.equal(&b),
                "{spec:?} (train {train}): told full-length, other bits"
            );
        }
        // The flag is what skips the masking: on a padded batch the two differ.
        let a = told.net.forward(&x_short, &short, false);
        let b = asks.net.forward(&x_short, &short, false);
        assert!(
            !a.equal(&b),
            "{spec:?}: the flag changed nothing on a padded batch"
        );
    }
}
