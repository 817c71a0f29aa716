//! LSTM-FCN (Karim et al. 2017) against the PyTorch model of `scripts/gen_golden_lstm_fcn.py`:
//! the same initial weights under a seed, the same training-mode logits and loss (dropout mask
//! included), and the same evaluation logits after one Adam step; and its spec keys.
//!
//! ```python
//! torch.manual_seed(0); model = LstmFcn(...)            # lstm.rnn, fcn.conv{i}/bn{i}, out
//! torch.manual_seed(1); loss = F.cross_entropy(model(x), y)   # train mode, dropout 0.8
//! loss.backward(); torch.optim.Adam(model.parameters(), lr=1e-3).step(); model.eval(); model(x)
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use repro::model::{self, InputShape};
use repro::spec::{self, InitScheme, ModelSpec};
use serde::Deserialize;
use tch::nn::OptimizerConfig;
use tch::{Kind, Tensor};

use super::util;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Summary {
    head: Vec<f64>,
    sum: f64,
    sumsq: f64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    batch: i64,
    channels: i64,
    length: i64,
    classes: i64,
    cells: i64,
    fcn_channels: Vec<i64>,
    kernel: Vec<i64>,
    params: i64,
    x_sum: f64,
    #[serde(default)]
    x: Vec<f32>,
    y: Vec<i64>,
    state: BTreeMap<String, Summary>,
    train_logits: Vec<f32>,
    train_loss: f64,
    eval_logits_after_step: Vec<f32>,
}

impl Case {
    fn spec(&self) -> ModelSpec {
        ModelSpec::LstmFcn {
            cells: self.cells,
            lstm_dropout: 0.8,
            channels: self.fcn_channels.clone(),
            kernel: self.kernel.clone(),
            embedding_dim: None,
        }
    }

    /// The case's input: GunPoint's first training series as repro loads them, or the stored
    /// random batch.
    fn input(&self) -> Tensor {
        let x = if self.x.is_empty() {
            let data = repro::data::load("GunPoint", &util::data_dir()).unwrap();
            data.x_train.narrow(0, 0, self.batch)
        } else {
            Tensor::from_slice(&self.x).view([self.batch, self.channels, self.length])
        };
        let sum = x.to_kind(Kind::Double).sum(Kind::Double).double_value(&[]);
        assert!(
            (sum - self.x_sum).abs() < 1e-3,
            "{}: input sum {sum} vs {}",
            self.name,
            self.x_sum
        );
        x
    }
}

fn assert_close(got: &Tensor, want: &[f32], tol: f32, what: &str) {
    let got = Vec::<f32>::try_from(got.flatten(0, -1)).unwrap();
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}: {got:?} vs PyTorch {want:?}"
        );
    }
}

/// Issue #13: LSTM-FCN is PyTorch's LSTM-FCN, weight for weight. Under `init: torch` and seed 0
/// repro draws the PyTorch model's initial weights (same names, same order: LSTM branch, FCN
/// branch, head), and from there one training step (dropout 0.8 on the LSTM output, batch norm
/// in training mode, cross-entropy, Adam at 1e-3) and the evaluation after it agree to 1e-5.
#[test]
fn lstm_fcn_draws_pytorchs_weights_and_matches_its_step() {
    let golden: Golden = serde_json::from_str(
        &std::fs::read_to_string(util::root().join("tests/golden/lstm_fcn_pytorch.json")).unwrap(),
    )
    .unwrap();
    let _torch = util::torch_lock();
    for case in &golden.cases {
        let input = InputShape {
            channels: case.channels,
            length: case.length,
            classes: case.classes,
            full_length: false,
        };
        tch::manual_seed(0);
        let built = model::build(&case.spec(), InitScheme::Torch, input, tch::Device::Cpu).unwrap();
        assert_eq!(built.params, case.params, "{}: parameter count", case.name);
        let vars = built.vs.variables();
        let names: Vec<&String> = vars.keys().collect();
        let want: Vec<&String> = case.state.keys().collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, want, "{}: variable names", case.name);
        for (name, s) in &case.state {
            let v = vars[name].to_kind(Kind::Double);
            let head =
                Vec::<f64>::try_from(v.flatten(0, -1).narrow(0, 0, s.head.len() as i64)).unwrap();
            assert_eq!(
                head.iter().map(|h| *h as f32).collect::<Vec<_>>(),
                s.head.iter().map(|h| *h as f32).collect::<Vec<_>>(),
                "{}: first values of {name}",
                case.name
            );
            let (sum, sumsq) = (
                v.sum(Kind::Double).double_value(&[]),
                v.square().sum(Kind::Double).double_value(&[]),
            );
            assert!(
                (sum - s.sum).abs() < 1e-6 * s.sumsq.max(1.0)
                    && (sumsq - s.sumsq).abs() < 1e-6 * s.sumsq.max(1.0),
                "{}: {name} sums {sum}, {sumsq} vs PyTorch {}, {}",
                case.name,
                s.sum,
                s.sumsq
            );
        }

        let x = case.input();
        let y = Tensor::from_slice(&case.y);
        let lengths = Tensor::full([case.batch], case.length, (Kind::Int64, tch::Device::Cpu));
        let mut opt = tch::nn::Adam::default().build(&built.vs, 1e-3).unwrap();
        tch::manual_seed(1);
        let logits = built.net.forward(&x, &lengths, true);
        assert_close(
            &logits,
            &case.train_logits,
            1e-5,
            &format!("{} train logits", case.name),
        );
        let loss = logits.cross_entropy_for_logits(&y);
        let value = loss.double_value(&[]);
        assert!(
            (value - case.train_loss).abs() < 1e-5,
            "{}: loss {value} vs PyTorch {}",
            case.name,
            case.train_loss
        );
        opt.zero_grad();
        loss.backward();
        opt.step();
        let after = tch::no_grad(|| built.net.forward(&x, &lengths, false));
        assert_close(
            &after,
            &case.eval_logits_after_step,
            1e-5,
            &format!("{} eval logits after one Adam step", case.name),
        );
    }
}

/// The `lstm_fcn` kind: the paper's FCN branch and dropout by default, the knobs checked.
#[test]
fn lstm_fcn_spec_keys_have_the_papers_defaults_and_are_checked() {
    let text = "\
id: demo
title: Demo
version: 1
dataset: GunPoint
defaults:
  train: { lr: 0.001, epochs: 10, batch_size: 16 }
seeds: { count: 1, base: 0 }
arms:
  - id: a
    model: { kind: lstm_fcn, cells: 8 }
  - id: b
    model: { kind: lstm_fcn, cells: 64, lstm_dropout: 0.5, channels: [16, 32], kernel: [5, 3] }
";
    let s = spec::parse_bytes(Path::new("t.yaml"), text.as_bytes()).unwrap();
    assert_eq!(
        s.arms[0].resolved.model,
        ModelSpec::LstmFcn {
            cells: 8,
            lstm_dropout: 0.8,
            channels: vec![128, 256, 128],
            kernel: vec![8, 5, 3],
            embedding_dim: None,
        }
    );
    assert_eq!(
        s.arms[1].resolved.model,
        ModelSpec::LstmFcn {
            cells: 64,
            lstm_dropout: 0.5,
            channels: vec![16, 32],
            kernel: vec![5, 3],
            embedding_dim: None,
        }
    );
    let bad = text
        .replace(
            "{ kind: lstm_fcn, cells: 8 }",
            "{ kind: lstm_fcn, cell: 8 }",
        )
        .replace("lstm_dropout: 0.5", "lstm_dropout: 1.0")
        .replace("kernel: [5, 3]", "kernel: [8, 5, 3]");
    let err = spec::parse_bytes(Path::new("t.yaml"), bad.as_bytes()).unwrap_err();
    let got: Vec<(String, String)> = err
        .diags
        .iter()
        .map(|d| (d.pos.to_string(), d.message.clone()))
        .collect();
    let want = [
        (
            "10:12",
            "an `lstm_fcn` model is missing required key `cells`",
        ),
        (
            "10:30",
            "unknown key `cell` in a `lstm_fcn` model; did you mean `cells`?",
        ),
        ("12:55", "`lstm_dropout` must be in [0, 1), found 1"),
        ("12:88", "`kernel` has 3 entries but `channels` has 2"),
    ];
    assert_eq!(got.len(), want.len(), "diagnostics: {got:#?}");
    for ((pos, msg), (want_pos, want_msg)) in got.iter().zip(want) {
        assert!(
            pos == want_pos && msg.contains(want_msg),
            "{pos} `{msg}` vs {want_pos} `{want_msg}`"
        );
    }
}

/// Issue #13: the bundled Karim et al. spec pairs each dataset's paper protocol (best-test
/// checkpoint, flagged) with a fair one (minimum training loss), at the official settings on
/// CUDA and at a flagged 1/20 of the epochs on CPU; OSULeaf is CUDA only.
#[test]
fn karim_spec_pairs_the_papers_protocol_with_a_fair_one() {
    let s = spec::load_all(&[util::root().join("papers/karim2017-lstm-fcn.yaml")]).unwrap();
    let s = &s[0];
    let arms: Vec<(&str, &str, spec::Selection, f64, bool)> = s
        .arms
        .iter()
        .map(|a| {
            (
                a.id.as_str(),
                a.resolved.dataset.as_str(),
                a.resolved.protocol.selection,
                a.claim.unwrap().reported,
                a.requires.is_some(),
            )
        })
        .collect();
    use spec::Selection::{BestTest, MinTrainLoss};
    assert_eq!(
        arms,
        vec![
            ("gunpoint-paper-100ep", "GunPoint", BestTest, 1.0, false),
            ("gunpoint-fair-100ep", "GunPoint", MinTrainLoss, 1.0, false),
            (
                "arrowhead-paper-100ep",
                "ArrowHead",
                BestTest,
                0.8971,
                false
            ),
            (
                "arrowhead-fair-100ep",
                "ArrowHead",
                MinTrainLoss,
                0.8971,
                false
            ),
            ("gunpoint-paper", "GunPoint", BestTest, 1.0, true),
            ("gunpoint-fair", "GunPoint", MinTrainLoss, 1.0, true),
            ("arrowhead-paper", "ArrowHead", BestTest, 0.8971, true),
            ("arrowhead-fair", "ArrowHead", MinTrainLoss, 0.8971, true),
            ("osuleaf-paper", "OSULeaf", BestTest, 0.9917, true),
            ("osuleaf-fair", "OSULeaf", MinTrainLoss, 0.98347, true),
        ]
    );
    // The paper's budget wherever the arm runs it; the CPU arms say in their id that they don't.
    for a in &s.arms {
        let t = &a.resolved.train;
        let (epochs, patience) = match a.id.ends_with("-100ep") {
            true => (100, 5),
            false => (2000, 100),
        };
        assert_eq!((t.lr, t.batch_size, t.epochs), (1e-3, 128, Some(epochs)));
        assert!(matches!(
            t.schedule,
            spec::Schedule::Plateau { patience: p, min_lr, factor, .. }
                if p == patience && min_lr == 1e-4 && (factor - 2f64.cbrt().recip()).abs() < 1e-15
        ));
        assert!(matches!(
            a.resolved.model,
            ModelSpec::LstmFcn { lstm_dropout, .. } if lstm_dropout == 0.8
        ));
    }
}
