//! Model builders: the published architectures' parameter counts, initialisation properties,
//! dropout only in training.

use repro::model::{self, InputShape};
use repro::spec::{self, Activation, Cell, InitScheme, ModelSpec, Padding, Readout};
use tch::{Kind, Tensor};

use super::util;

const GUNPOINT: InputShape = InputShape {
    channels: 1,
    length: 150,
    classes: 2,
    full_length: false,
};

fn params(spec: &ModelSpec, input: InputShape) -> i64 {
    model::build(spec, InitScheme::Xavier, input, tch::Device::Cpu)
        .unwrap()
        .params
}

#[test]
fn wang_2017_fcn_and_resnet_have_their_parameter_counts() {
    let _torch = util::torch_lock();
    // FCN: conv 1→128 k8 (1,152) + BN (256), 128→256 k5 (164,096) + BN (512),
    // 256→128 k3 (98,432) + BN (256), dense 128→2 (258): 264,962.
    let fcn = ModelSpec::Cnn1d {
        channels: vec![128, 256, 128],
        kernel: vec![8, 5, 3],
        stride: 1,
        padding: Padding::Same,
        activation: Activation::Relu,
        batch_norm: true,
        head: spec::CnnHead::Gap,
        dropout: 0.0,
        embedding_dim: None,
    };
    assert_eq!(params(&fcn, GUNPOINT), 264_962);
    // ResNet: block 1→64 (576 + 20,544 + 12,352 convs, 3×128 BN, 1×1 shortcut 128 + BN 128)
    // = 34,112; block 64→128 = 206,336; block 128→128 (BN-only shortcut) = 263,552;
    // dense 128→2 = 258: 504,258.
    let resnet = ModelSpec::Resnet1d {
        channels: vec![64, 128, 128],
        kernel: vec![8, 5, 3],
        activation: Activation::Relu,
        dropout: 0.0,
        embedding_dim: None,
    };
    assert_eq!(params(&resnet, GUNPOINT), 504_258);
    // Depth is a parameter: one more 128-wide block adds another 263,552.
    let deeper = ModelSpec::Resnet1d {
        channels: vec![64, 128, 128, 128],
        kernel: vec![8, 5, 3],
        activation: Activation::Relu,
        dropout: 0.0,
        embedding_dim: None,
    };
    assert_eq!(params(&deeper, GUNPOINT), 504_258 + 263_552);
}

#[test]
fn same_padding_keeps_the_length_and_fcn_trains_in_both_modes() {
    let _torch = util::torch_lock();
    let fcn = ModelSpec::Cnn1d {
        channels: vec![8, 8],
        kernel: vec![8, 5],
        stride: 1,
        padding: Padding::Same,
        activation: Activation::LeakyRelu(0.2),
        batch_norm: true,
        head: spec::CnnHead::Flatten,
        dropout: 0.5,
        embedding_dim: None,
    };
    let built = model::build(&fcn, InitScheme::He, GUNPOINT, tch::Device::Cpu).unwrap();
    // Flatten head over 8 channels × 150 steps: the length survived both convolutions.
    assert_eq!(
        built.params,
        (8 * 8 + 8) + 16 + (8 * 8 * 5 + 8) + 16 + (8 * 150 * 2 + 2)
    );
    let x = Tensor::randn([4, 1, 150], (Kind::Float, tch::Device::Cpu));
    let lengths = Tensor::from_slice(&[150i64; 4]);
    let a = built.net.forward(&x, &lengths, false);
    let b = built.net.forward(&x, &lengths, false);
    assert!(
        a.equal(&b),
        "evaluation is deterministic: no dropout, running statistics"
    );
    let c = built.net.forward(&x, &lengths, true);
    assert!(!a.equal(&c), "training uses dropout and batch statistics");
}

#[test]
fn recurrent_weights_are_orthogonal_per_gate_and_forget_bias_is_set() {
    let _torch = util::torch_lock();
    repro::provenance::seed(9);
    let lstm = ModelSpec::Rnn {
        cell: Cell::Lstm,
        hidden: 16,
        layers: 2,
        bidirectional: true,
        readout: Readout::Last,
        dropout: 0.1,
        layer_norm: true,
        output_dropout: 0.0,
        forget_bias: Some(1.0),
        embedding: None,
        embedding_dim: None,
    };
    let input = InputShape {
        channels: 3,
        length: 10,
        classes: 5,
        full_length: false,
    };
    let built = model::build(&lstm, InitScheme::Xavier, input, tch::Device::Cpu).unwrap();
    let vars = built.vs.variables();
    for name in ["rnn.weight_hh_l0", "rnn.weight_hh_l1_reverse"] {
        let w = &vars[name];
        for gate in 0..4 {
            let block = w.narrow(0, gate * 16, 16);
            let gram = block.tr().matmul(&block);
            let off = (gram - Tensor::eye(16, (Kind::Float, tch::Device::Cpu)))
                .abs()
                .max()
                .double_value(&[]);
            assert!(
                off < 1e-5,
                "{name} gate {gate}: WᵀW deviates from I by {off}"
            );
        }
    }
    for name in ["rnn.bias_ih_l0", "rnn.bias_ih_l1_reverse"] {
        let b = &vars[name];
        assert_eq!(
            b.narrow(0, 16, 16).min().double_value(&[]),
            1.0,
            "{name}: forget gate"
        );
        assert_eq!(
            b.narrow(0, 0, 16).abs().max().double_value(&[]),
            0.0,
            "{name}: other gates 0 under xavier"
        );
    }
    assert!(vars.contains_key("layer_norm1.weight"));
}

fn token_dataset(max_id: f32) -> repro::data::Dataset {
    // Class = whether token 3 occurs in the sequence: learnable only through the embedding.
    let ids = Tensor::randint(8, [200, 1, 12], (Kind::Int64, tch::Device::Cpu));
    let y = ids
        .eq(3)
        .any_dim(2, false)
        .squeeze_dim(1)
        .to_kind(Kind::Int64);
    let x = ids.to_kind(Kind::Float).clamp_max(f64::from(max_id));
    repro::data::Dataset {
        name: "tokens".into(),
        x_train: x.narrow(0, 0, 150),
        y_train: y.narrow(0, 0, 150),
        lengths_train: vec![12; 150],
        x_test: x.narrow(0, 150, 50),
        y_test: y.narrow(0, 150, 50),
        lengths_test: vec![12; 50],
        class_names: vec!["no".into(), "yes".into()],
        classes: 2,
        channels: 1,
        length: 12,
        digests: vec![],
    }
}

#[test]
fn token_embedding_feeds_the_rnn_and_ids_are_checked() {
    let mut arm = util::mnist1d_arm("gru", 60, 20);
    arm.model = ModelSpec::Rnn {
        cell: Cell::Lstm,
        hidden: 16,
        layers: 1,
        bidirectional: false,
        readout: Readout::Last,
        dropout: 0.0,
        layer_norm: false,
        output_dropout: 0.0,
        forget_bias: None,
        embedding: Some(spec::Embedding {
            vocab: 8,
            dim: 64,
            dropout: 0.1,
        }),
        embedding_dim: None,
    };
    arm.train.batch_size = 1; // batch size down to 1
    let _torch = util::torch_lock();
    repro::provenance::seed(0);
    let data = token_dataset(7.0);
    let out = repro::train::train(&arm, &data, 0, tch::Device::Cpu, |_| {}).unwrap();
    assert_eq!(out.params, 8 * 64 + 4 * 16 * (64 + 16 + 2) + 16 * 2 + 2);
    assert_eq!(out.steps, 60);
    let mut bad = token_dataset(7.0);
    bad.x_test += 0.5;
    let err = repro::train::train(&arm, &bad, 0, tch::Device::Cpu, |_| {})
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("test split: token ids must be whole numbers in [0, 8)"),
        "{err}"
    );
}

#[test]
fn every_activation_and_mlp_dropout() {
    let _torch = util::torch_lock();
    let input = InputShape {
        channels: 1,
        length: 6,
        classes: 3,
        full_length: false,
    };
    let x = Tensor::from_slice(&[-2f32, -1.0, -0.5, 0.5, 1.0, 2.0]).view([1, 1, 6]);
    let lengths = Tensor::from_slice(&[6i64]);
    let mut outputs = Vec::new();
    for activation in [
        Activation::Relu,
        Activation::LeakyRelu(0.2),
        Activation::Elu,
        Activation::Selu,
        Activation::Gelu,
        Activation::Silu,
        Activation::Tanh,
        Activation::Sigmoid,
    ] {
        repro::provenance::seed(3);
        let mlp = ModelSpec::Mlp {
            hidden: vec![16],
            activation,
            residual: false,
            input_dropout: 0.0,
            dropout: vec![0.0],
            embedding_dim: None,
        };
        let built = model::build(&mlp, InitScheme::He, input, tch::Device::Cpu).unwrap();
        let y = built.net.forward(&x, &lengths, false);
        assert_eq!(y.size(), vec![1, 3]);
        outputs.push(Vec::<f32>::try_from(y.flatten(0, -1)).unwrap());
    }
    // Same weights (same seed), different non-linearities: all outputs differ pairwise.
    for i in 0..outputs.len() {
        for j in i + 1..outputs.len() {
            assert_ne!(outputs[i], outputs[j], "activations {i} and {j} agree");
        }
    }
    let with_dropout = ModelSpec::Mlp {
        hidden: vec![64, 64],
        activation: Activation::Relu,
        residual: true,
        input_dropout: 0.1,
        dropout: vec![0.5, 0.5],
        embedding_dim: None,
    };
    let built = model::build(&with_dropout, InitScheme::Torch, input, tch::Device::Cpu).unwrap();
    assert_eq!(built.params, (6 * 64 + 64) + (64 * 64 + 64) + (64 * 3 + 3));
    let eval = built.net.forward(&x, &lengths, false);
    assert!(eval.equal(&built.net.forward(&x, &lengths, false)));
    assert!(
        !eval.equal(&built.net.forward(&x, &lengths, true)),
        "dropout acts in training"
    );
}

/// Inter-layer dropout acts in training on both RNN paths (the fused kernel and the
/// layer-by-layer one used with layer norm) and never in evaluation.
#[test]
fn rnn_dropout_between_layers_only_in_training() {
    let _torch = util::torch_lock();
    for (cell, layer_norm) in [(Cell::Gru, false), (Cell::Lstm, false), (Cell::Gru, true)] {
        repro::provenance::seed(1);
        let spec = ModelSpec::Rnn {
            cell,
            hidden: 8,
            layers: 2,
            bidirectional: false,
            readout: Readout::Mean,
            dropout: 0.5,
            layer_norm,
            output_dropout: 0.0,
            forget_bias: None,
            embedding: None,
            embedding_dim: None,
        };
        let input = InputShape {
            channels: 2,
            length: 7,
            classes: 3,
            full_length: false,
        };
        let built = model::build(&spec, InitScheme::Torch, input, tch::Device::Cpu).unwrap();
        let x = Tensor::randn([4, 2, 7], (Kind::Float, tch::Device::Cpu));
        let lengths = Tensor::from_slice(&[7i64; 4]);
        let eval = built.net.forward(&x, &lengths, false);
        assert!(
            eval.equal(&built.net.forward(&x, &lengths, false)),
            "{cell:?}: eval deterministic"
        );
        assert!(
            !eval.equal(&built.net.forward(&x, &lengths, true)),
            "{cell:?} layer_norm={layer_norm}: dropout between layers must act in training"
        );
    }
}

#[derive(serde::Deserialize)]
struct CnnGolden {
    batch: i64,
    channels: i64,
    length: i64,
    classes: i64,
    lengths: Vec<i64>,
    x: Vec<f32>,
    cases: Vec<CnnCase>,
}

#[derive(serde::Deserialize)]
struct CnnCase {
    name: String,
    kind: String,
    channels: Vec<i64>,
    kernel: Vec<i64>,
    #[serde(default)]
    stride: i64,
    #[serde(default)]
    padding: serde_json::Value,
    state: std::collections::BTreeMap<String, Vec<f32>>,
    train_logits: Vec<f32>,
    running: std::collections::BTreeMap<String, Vec<f32>>,
    eval_logits: Vec<f32>,
}

impl CnnCase {
    fn spec(&self) -> ModelSpec {
        match self.kind.as_str() {
            "cnn1d" => ModelSpec::Cnn1d {
                channels: self.channels.clone(),
                kernel: self.kernel.clone(),
                stride: self.stride,
                padding: match self.padding.as_i64() {
                    Some(n) => Padding::Fixed(n),
                    None => Padding::Same,
                },
                activation: Activation::Relu,
                batch_norm: true,
                head: spec::CnnHead::Gap,
                dropout: 0.0,
                embedding_dim: None,
            },
            _ => ModelSpec::Resnet1d {
                channels: self.channels.clone(),
                kernel: self.kernel.clone(),
                activation: Activation::Relu,
                dropout: 0.0,
                embedding_dim: None,
            },
        }
    }
}

fn cnn_golden() -> CnnGolden {
    serde_json::from_str(
        &std::fs::read_to_string(util::root().join("tests/golden/cnn_pytorch.json")).unwrap(),
    )
    .unwrap()
}

fn assert_close(got: &Tensor, want: &[f32], what: &str) {
    let got = Vec::<f32>::try_from(got.flatten(0, -1)).unwrap();
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "{what}: {got:?} vs {want:?}");
    }
}

/// A model of the golden case with its state loaded by name (running statistics included).
fn cnn_with_state(case: &CnnCase, g: &CnnGolden) -> model::Built {
    let input = InputShape {
        channels: g.channels,
        length: g.length,
        classes: g.classes,
        full_length: false,
    };
    let built = model::build(&case.spec(), InitScheme::Torch, input, tch::Device::Cpu).unwrap();
    let vars = built.vs.variables();
    assert_eq!(
        vars.len(),
        case.state.len(),
        "{}: same variables",
        case.name
    );
    tch::no_grad(|| {
        for (name, values) in &case.state {
            let v = vars
                .get(name)
                .unwrap_or_else(|| panic!("{}: no variable {name}", case.name));
            let src = Tensor::from_slice(values).view(v.size().as_slice());
            v.shallow_clone().copy_(&src);
        }
    });
    built
}

/// Issue #11 item 7: CNNs with batch norm on a padded batch give what PyTorch gives when every
/// sequence runs alone at its own length and batch norm sees only the valid positions
/// (`scripts/gen_golden_cnn.py`): logits in training mode, the running statistics that pass
/// leaves, and logits in evaluation mode with them.
#[test]
fn padded_cnns_with_batch_norm_match_pytorch_run_per_sequence() {
    let g = cnn_golden();
    let _torch = util::torch_lock();
    let x = Tensor::from_slice(&g.x).view([g.batch, g.channels, g.length]);
    let lengths = Tensor::from_slice(&g.lengths);
    for case in &g.cases {
        let built = cnn_with_state(case, &g);
        let train = built.net.forward(&x, &lengths, true);
        assert_close(&train, &case.train_logits, &format!("{} train", case.name));
        let vars = built.vs.variables();
        for (name, want) in &case.running {
            assert_close(&vars[name], want, &format!("{} {name}", case.name));
        }
        let eval = built.net.forward(&x, &lengths, false);
        assert_close(&eval, &case.eval_logits, &format!("{} eval", case.name));
    }
}

/// `x` (`[B, C, L]`) with `extra` zero steps appended.
fn pad_to(x: &Tensor, extra: i64) -> Tensor {
    let s = x.size();
    Tensor::cat(
        &[
            x.shallow_clone(),
            Tensor::zeros([s[0], s[1], extra], (x.kind(), x.device())),
        ],
        2,
    )
}

/// Issue #11 item 7: a sequence's output does not depend on how much padding follows it, nor
/// (in evaluation) on the other members of its batch, for CNNs of two and more layers with
/// batch norm (plain, strided, residual): the same batch padded to 12 and to 20 steps gives the
/// same logits and the same running statistics in training; in evaluation each sequence alone
/// at its own length gives what it gives inside a padded batch.
#[test]
fn cnn_outputs_do_not_depend_on_padding() {
    let g = cnn_golden();
    let _torch = util::torch_lock();
    let x = Tensor::from_slice(&g.x).view([g.batch, g.channels, g.length]);
    let lengths = Tensor::from_slice(&g.lengths);
    for case in &g.cases {
        // Training mode: the same batch padded to 12 and to 20 steps, and in another order.
        let short = cnn_with_state(case, &g);
        let long = cnn_with_state(case, &g);
        let a = short.net.forward(&x, &lengths, true);
        let b = long.net.forward(&pad_to(&x, 8), &lengths, true);
        let diff = (&a - &b).abs().max().double_value(&[]);
        assert!(
            diff < 1e-5,
            "{}: train logits move by {diff} with padding",
            case.name
        );
        let (sv, lv) = (short.vs.variables(), long.vs.variables());
        for name in case.running.keys() {
            let d = (&sv[name] - &lv[name]).abs().max().double_value(&[]);
            assert!(d < 1e-5, "{} {name}: moves by {d} with padding", case.name);
        }
        let order = Tensor::from_slice(&[2i64, 0, 3, 1]);
        let c = cnn_with_state(case, &g).net.forward(
            &pad_to(&x, 3).index_select(0, &order),
            &lengths.index_select(0, &order),
            true,
        );
        let diff = (a.index_select(0, &order) - c)
            .abs()
            .max()
            .double_value(&[]);
        assert!(
            diff < 1e-5,
            "{}: train logits move by {diff} with batch order",
            case.name
        );

        // One sequence in training mode: statistics over its valid steps, padded or not.
        let (n, i) = (g.lengths[2], 2);
        let alone = x.narrow(0, i, 1).narrow(2, 0, n);
        let one = cnn_with_state(case, &g)
            .net
            .forward(&alone, &Tensor::from_slice(&[n]), true);
        let padded = cnn_with_state(case, &g).net.forward(
            &pad_to(&alone, 11),
            &Tensor::from_slice(&[n]),
            true,
        );
        let diff = (one - padded).abs().max().double_value(&[]);
        assert!(
            diff < 1e-5,
            "{}: one sequence in training moves by {diff}",
            case.name
        );

        // Evaluation: each sequence alone at its own length, and in a padded batch whose other
        // members differ (reversed in time, longer padding).
        let others = x.flip([2]);
        let batch = pad_to(&Tensor::cat(&[x.shallow_clone(), others], 0), 8);
        let both = Tensor::cat(
            &[
                lengths.shallow_clone(),
                Tensor::full([g.batch], g.length, (Kind::Int64, tch::Device::Cpu)),
            ],
            0,
        );
        let in_batch = short.net.forward(&batch, &both, false);
        for (i, &n) in g.lengths.iter().enumerate() {
            let alone = x.narrow(0, i as i64, 1).narrow(2, 0, n);
            let single = short.net.forward(&alone, &Tensor::from_slice(&[n]), false);
            let diff = (single - in_batch.narrow(0, i as i64, 1))
                .abs()
                .max()
                .double_value(&[]);
            assert!(
                diff < 1e-5,
                "{} eval, sequence {i}: moves by {diff}",
                case.name
            );
        }
    }
}

/// Ten distinct training examples of 8 steps, 3 classes, and a test split of four.
fn tiny_dataset() -> repro::data::Dataset {
    let g = |n: i64, salt: f64| {
        Tensor::arange(n * 8, (Kind::Float, tch::Device::Cpu))
            .view([n, 1, 8])
            .multiply_scalar(0.37)
            .sin()
            .multiply_scalar(salt)
    };
    repro::data::Dataset {
        name: "tiny".into(),
        x_train: g(10, 1.0),
        y_train: Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2, 0, 1, 2, 0]),
        lengths_train: vec![8; 10],
        x_test: g(4, -1.0),
        y_test: Tensor::from_slice(&[0i64, 1, 2, 0]),
        lengths_test: vec![8; 4],
        class_names: vec!["a".into(), "b".into(), "c".into()],
        classes: 3,
        channels: 1,
        length: 8,
        digests: vec![],
    }
}

/// The training examples a run fed its model, step by step, read back from its per-step
/// losses: with batches of one and a learning rate of 0 the weights stay the initial ones, so
/// step k's loss is the initial model's loss on the example it was given.
fn fed_order(hidden: i64, seed: i64) -> Vec<i64> {
    let mut arm = util::mnist1d_arm("mlp", 20, 10);
    arm.model = ModelSpec::Mlp {
        hidden: vec![hidden],
        activation: Activation::Relu,
        residual: false,
        input_dropout: 0.0,
        dropout: vec![0.0],
        embedding_dim: None,
    };
    arm.init = InitScheme::Torch;
    arm.train.lr = 0.0;
    arm.train.weight_decay = 0.0;
    arm.train.batch_size = 1;
    arm.train.order = spec::BatchOrder::Shuffle;
    let data = tiny_dataset();
    let out = repro::train::train(&arm, &data, seed, tch::Device::Cpu, |_| {}).unwrap();
    // The same initial weights, as `train` draws them: seeded right before the model is built.
    repro::provenance::seed(seed);
    let input = InputShape {
        channels: 1,
        length: 8,
        classes: 3,
        full_length: false,
    };
    let built = model::build(&arm.model, arm.init, input, tch::Device::Cpu).unwrap();
    let lengths = Tensor::from_slice(&[8i64; 10]);
    let per_example: Vec<f64> = (0..10)
        .map(|i| {
            built
                .net
                .forward(
                    &data.x_train.narrow(0, i, 1),
                    &lengths.narrow(0, i, 1),
                    true,
                )
                .cross_entropy_for_logits(&data.y_train.narrow(0, i, 1))
                .double_value(&[])
        })
        .collect();
    for i in 0..10 {
        for j in i + 1..10 {
            assert!(
                (per_example[i] - per_example[j]).abs() > 1e-4,
                "examples {i} and {j} are told apart by their loss"
            );
        }
    }
    assert_eq!(out.step_losses.len(), 20);
    out.step_losses
        .iter()
        .map(|&loss| {
            let (i, d) = per_example
                .iter()
                .enumerate()
                .map(|(i, l)| (i as i64, (l - loss).abs()))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            assert!(
                d < 1e-5,
                "step loss {loss} is no example's ({per_example:?})"
            );
            i
        })
        .collect()
}

/// Issue #11 item 7: the shuffled batch order comes from the run's own generator seeded from
/// the run seed, not from libtorch's (which the model's initialisation draws from): two arms
/// of very different parameter counts see the same order under the same seed, and that order
/// is `train::order::batch_indices`.
#[test]
fn shuffled_batch_order_is_the_same_for_arms_of_any_size() {
    let _torch = util::torch_lock();
    let small = fed_order(4, 5);
    let large = fed_order(256, 5);
    assert_eq!(small, large, "same seed, same order, whatever the model");
    let want: Vec<i64> =
        repro::train::order::batch_indices(spec::BatchOrder::Shuffle, 5, 10, 1, 20).concat();
    assert_eq!(small, want);
    // Two epochs, each a permutation of the ten examples, and not the same one.
    for epoch in small.chunks(10) {
        let mut sorted = epoch.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<i64>>());
    }
    assert_ne!(small[..10], small[10..]);
    assert_ne!(fed_order(4, 6), small, "another seed, another order");
}

/// The order depends on (seed, n, batch) alone: draws from libtorch's generator in between do
/// not move it; the last batch of an epoch is short; sequential order is the stored order.
#[test]
fn batch_indices_depend_on_the_seed_alone() {
    use repro::train::order::batch_indices;
    let _torch = util::torch_lock();
    let shuffle = spec::BatchOrder::Shuffle;
    repro::provenance::seed(1);
    let a = batch_indices(shuffle, 3, 10, 4, 6);
    let _ = Tensor::randperm(1000, (Kind::Int64, tch::Device::Cpu));
    assert_eq!(batch_indices(shuffle, 3, 10, 4, 6), a);
    assert_eq!(
        a.iter().map(Vec::len).collect::<Vec<_>>(),
        [4, 4, 2, 4, 4, 2]
    );
    assert_ne!(batch_indices(shuffle, 4, 10, 4, 6), a);
    assert_eq!(
        batch_indices(spec::BatchOrder::Sequential, 3, 10, 4, 4),
        [
            vec![0, 1, 2, 3],
            vec![4, 5, 6, 7],
            vec![8, 9],
            vec![2, 3, 4, 5]
        ]
    );
}

/// Issue #11 item 7, on a GPU (`--features cuda`): weights are drawn on the CPU and moved, so
/// a seed gives the same initial weights on CUDA as on the CPU (libtorch's CUDA generator draws
/// other numbers), and the models, RNNs with their weights flattened for cuDNN included, give
/// the CPU's outputs.
#[cfg(feature = "cuda")]
#[test]
fn cuda_models_start_from_the_cpu_weights() {
    let _torch = util::torch_lock();
    assert!(tch::Cuda::is_available(), "--features cuda needs a GPU");
    let input = InputShape {
        channels: 2,
        length: 12,
        classes: 3,
        full_length: false,
    };
    let gru = ModelSpec::Rnn {
        cell: Cell::Gru,
        hidden: 8,
        layers: 2,
        bidirectional: true,
        readout: Readout::Mean,
        dropout: 0.0,
        layer_norm: false,
        output_dropout: 0.0,
        forget_bias: None,
        embedding: None,
        embedding_dim: None,
    };
    let lstm = ModelSpec::Rnn {
        cell: Cell::Lstm,
        hidden: 8,
        layers: 2,
        bidirectional: false,
        readout: Readout::Last,
        dropout: 0.0,
        layer_norm: false,
        output_dropout: 0.0,
        forget_bias: Some(1.0),
        embedding: None,
        embedding_dim: None,
    };
    let fcn = ModelSpec::Cnn1d {
        channels: vec![4, 4],
        kernel: vec![5, 3],
        stride: 1,
        padding: Padding::Same,
        activation: Activation::Relu,
        batch_norm: true,
        head: spec::CnnHead::Gap,
        dropout: 0.0,
        embedding_dim: None,
    };
    let x = Tensor::randn([3, 2, 12], (Kind::Float, tch::Device::Cpu));
    let lengths = Tensor::from_slice(&[12i64, 7, 3]);
    for spec in [gru, lstm, fcn] {
        let built = |device| {
            repro::provenance::seed(4);
            model::build(&spec, InitScheme::Torch, input, device).unwrap()
        };
        let (cpu, gpu) = (built(tch::Device::Cpu), built(tch::Device::Cuda(0)));
        assert_eq!(
            model::weights_sha256(&cpu.vs),
            model::weights_sha256(&gpu.vs),
            "{spec:?}: same initial weights"
        );
        let want = cpu.net.forward(&x, &lengths, false);
        let got = gpu
            .net
            .forward(
                &x.to_device(tch::Device::Cuda(0)),
                &lengths.to_device(tch::Device::Cuda(0)),
                false,
            )
            .to_device(tch::Device::Cpu);
        let diff = (want - got).abs().max().double_value(&[]);
        assert!(diff < 1e-4, "{spec:?}: CUDA output differs by {diff}");
    }
}
