//! repro's training against PyTorch's own: the four MNIST-1D models trained for 120-320 steps with
//! the paper's protocol must follow the trajectories that `scripts/gen_golden.py` recorded with
//! the PyTorch in `.venv` (same libtorch, same generator, so the same initial weights).
//!
//! ```python
//! torch.manual_seed(7); model = CNN(); opt = torch.optim.Adam(model.parameters(), lr=1e-2)
//! for step in range(120): x[(100*step) % 4000:][:100] -> cross_entropy -> step
//! ```

use serde::Deserialize;

use super::util;

#[derive(Deserialize)]
struct Golden {
    seed: i64,
    eval_every: i64,
    arms: std::collections::BTreeMap<String, GoldenArm>,
}

#[derive(Deserialize)]
struct GoldenArm {
    params: i64,
    steps: i64,
    curve: Vec<GoldenPoint>,
}

#[derive(Deserialize)]
struct GoldenPoint {
    step: i64,
    train_loss: f64,
    eval_loss: f64,
    eval_accuracy: f64,
}

fn check_arm(id: &str) {
    let golden: Golden = serde_json::from_str(
        &std::fs::read_to_string(util::root().join("tests/golden/mnist1d_pytorch.json")).unwrap(),
    )
    .unwrap();
    let want = &golden.arms[id];
    let arm = util::mnist1d_arm(id, want.steps, golden.eval_every);
    let _torch = util::torch_lock();
    let data = repro::data::load("mnist1d", &util::data_dir()).unwrap();
    let out = repro::train::train(&arm, &data, golden.seed, tch::Device::Cpu, |_| {}).unwrap();
    assert_eq!(out.params, want.params, "{id}: parameter count");
    assert!(!want.curve.is_empty(), "{id}: empty golden curve");
    assert_eq!(out.curve.len(), want.curve.len());
    for (got, want) in out.curve.iter().zip(&want.curve) {
        assert_eq!(got.step, want.step);
        for (name, g, w) in [
            ("train_loss", got.train_loss, want.train_loss),
            ("eval_loss", got.eval_loss, want.eval_loss),
        ] {
            assert!(
                (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                "{id} step {}: {name} {g} vs PyTorch {w}",
                got.step
            );
        }
        assert!(
            (got.eval_accuracy - want.eval_accuracy).abs() <= 0.002,
            "{id} step {}: accuracy {} vs PyTorch {}",
            got.step,
            got.eval_accuracy,
            want.eval_accuracy
        );
    }
}

#[test]
fn logistic_matches_pytorch() {
    check_arm("logistic");
}

#[test]
fn mlp_matches_pytorch() {
    check_arm("mlp");
}

#[test]
fn cnn_matches_pytorch() {
    check_arm("cnn");
}

#[test]
fn gru_matches_pytorch() {
    check_arm("gru");
}

#[derive(Deserialize)]
struct RnnGolden {
    batch: i64,
    length: i64,
    classes: i64,
    lengths: Vec<i64>,
    cases: Vec<RnnCase>,
}

#[derive(Deserialize)]
struct RnnCase {
    config: RnnConfig,
    x: Vec<f32>,
    state: std::collections::BTreeMap<String, Vec<f32>>,
    logits: std::collections::BTreeMap<String, Vec<f32>>,
}

#[derive(Deserialize, Debug)]
struct RnnConfig {
    cell: String,
    input: i64,
    hidden: i64,
    layers: i64,
    bidirectional: bool,
}

/// A torch-initialised RNN classifier (`shape`: input channels, length, classes) whose
/// parameters are then overwritten with PyTorch's (`state`, by repro's variable names; `what`
/// names the case in failures): the two golden RNN tests start from it.
#[allow(clippy::too_many_arguments)]
fn rnn_with_weights(
    cell: repro::spec::Cell,
    hidden: i64,
    layers: i64,
    bidirectional: bool,
    readout: repro::spec::Readout,
    (channels, length, classes): (i64, i64, i64),
    state: &std::collections::BTreeMap<String, Vec<f32>>,
    what: &str,
) -> repro::model::Built {
    let spec = repro::spec::ModelSpec::Rnn {
        cell,
        hidden,
        layers,
        bidirectional,
        readout,
        dropout: 0.0,
        layer_norm: false,
        output_dropout: 0.0,
        forget_bias: None,
        embedding: None,
        embedding_dim: None,
    };
    let input = repro::model::InputShape {
        channels,
        length,
        classes,
        full_length: false,
    };
    let built = repro::model::build(
        &spec,
        repro::spec::InitScheme::Torch,
        input,
        tch::Device::Cpu,
    )
    .unwrap();
    let vars = built.vs.variables();
    assert_eq!(
        vars.len(),
        state.len(),
        "{what}: same parameters as PyTorch"
    );
    tch::no_grad(|| {
        for (name, values) in state {
            let v = vars
                .get(name)
                .unwrap_or_else(|| panic!("{what}: no variable {name}"));
            v.shallow_clone()
                .copy_(&tch::Tensor::from_slice(values).view(v.size().as_slice()));
        }
    });
    built
}

/// LSTM/GRU classifiers with PyTorch's weights give PyTorch's logits, for full-length input and
/// for padded input against `pack_padded_sequence` (`scripts/gen_golden_rnn.py`).
#[test]
fn rnn_forward_matches_pytorch_with_identical_weights() {
    let golden: RnnGolden = serde_json::from_str(
        &std::fs::read_to_string(util::root().join("tests/golden/rnn_pytorch.json")).unwrap(),
    )
    .unwrap();
    let _torch = util::torch_lock();
    for case in &golden.cases {
        let c = &case.config;
        for readout in ["last", "mean"] {
            let cell = if c.cell == "lstm" {
                repro::spec::Cell::Lstm
            } else {
                repro::spec::Cell::Gru
            };
            let kind = if readout == "last" {
                repro::spec::Readout::Last
            } else {
                repro::spec::Readout::Mean
            };
            let shape = (c.input, golden.length, golden.classes);
            let built = rnn_with_weights(
                cell,
                c.hidden,
                c.layers,
                c.bidirectional,
                kind,
                shape,
                &case.state,
                &format!("{c:?}"),
            );
            let x = tch::Tensor::from_slice(&case.x).view([golden.batch, c.input, golden.length]);
            for (variant, lengths) in [
                ("full", vec![golden.length; golden.batch as usize]),
                ("padded", golden.lengths.clone()),
            ] {
                let got = built
                    .net
                    .forward(&x, &tch::Tensor::from_slice(&lengths), false);
                let got = Vec::<f32>::try_from(got.flatten(0, -1)).unwrap();
                let want = &case.logits[&format!("{readout}/{variant}")];
                assert!(!want.is_empty(), "{c:?} {readout}/{variant}: empty golden");
                assert_eq!(
                    got.len(),
                    want.len(),
                    "{c:?} {readout}/{variant}: logits count"
                );
                for (g, w) in got.iter().zip(want) {
                    assert!(
                        (g - w).abs() < 1e-5,
                        "{c:?} {readout}/{variant}: {got:?} vs PyTorch {want:?}"
                    );
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct GruPairGolden {
    batch: i64,
    length: i64,
    classes: i64,
    cases: Vec<GruPairCase>,
}

#[derive(Deserialize)]
struct GruPairCase {
    config: GruPairConfig,
    x: Vec<f32>,
    y: Vec<i64>,
    state: std::collections::BTreeMap<String, Vec<f32>>,
    logits: Vec<f32>,
    grads: std::collections::BTreeMap<String, Vec<f32>>,
}

#[derive(Deserialize, Debug)]
struct GruPairConfig {
    input: i64,
    hidden: i64,
    layers: i64,
    readout: String,
    lengths: Vec<i64>,
}

/// `a` and `b` agree to float rounding: 1e-5 absolute plus 1e-4 relative.
fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 + 1e-4 * y.abs())
}

/// Issue 15: a bidirectional GRU on the CPU runs both directions as one loop
/// (`src/model/gru_pair.rs`); with nn.GRU's weights it gives nn.GRU's logits and, for the mean
/// cross-entropy, its gradients for every parameter, on full-length and on padded input
/// (`pack_padded_sequence`), one and two layers, flatten/last/mean readouts
/// (`scripts/gen_golden_gru_pair.py`).
#[test]
fn bidirectional_gru_logits_and_gradients_match_pytorch() {
    let golden: GruPairGolden = serde_json::from_str(
        &std::fs::read_to_string(util::root().join("tests/golden/gru_pair_pytorch.json")).unwrap(),
    )
    .unwrap();
    let _torch = util::torch_lock();
    for case in &golden.cases {
        let c = &case.config;
        let readout = match c.readout.as_str() {
            "flatten" => repro::spec::Readout::Flatten,
            "mean" => repro::spec::Readout::Mean,
            _ => repro::spec::Readout::Last,
        };
        let shape = (c.input, golden.length, golden.classes);
        let gru = repro::spec::Cell::Gru;
        let built = rnn_with_weights(
            gru,
            c.hidden,
            c.layers,
            true,
            readout,
            shape,
            &case.state,
            &format!("{c:?}"),
        );
        let vars = built.vs.variables();
        let x = tch::Tensor::from_slice(&case.x).view([golden.batch, c.input, golden.length]);
        let logits = built
            .net
            .forward(&x, &tch::Tensor::from_slice(&c.lengths), true);
        let got = Vec::<f32>::try_from(logits.flatten(0, -1)).unwrap();
        assert!(
            close(&got, &case.logits),
            "{c:?}: logits {got:?} vs PyTorch {:?}",
            case.logits
        );
        logits
            .cross_entropy_for_logits(&tch::Tensor::from_slice(&case.y))
            .backward();
        for (name, want) in &case.grads {
            let grad = Vec::<f32>::try_from(vars[name].grad().flatten(0, -1)).unwrap();
            assert!(
                close(&grad, want),
                "{c:?}: gradient of {name} {grad:?} vs PyTorch {want:?}"
            );
        }
    }
}
