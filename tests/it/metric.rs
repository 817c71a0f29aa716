//! Metric learning, training side (issue #12): triplet losses and miners and the normalised
//! softmax against pytorch-metric-learning 2.9.0 (`scripts/gen_golden_metric.py`), a batch
//! whose hardest triplets are known, distances safe at zero, embedding heads, the P × K
//! sampler, the spec's checks, and a triplet arm trained through `repro run`.
//!
//! ```python
//! loss = TripletMarginLoss(margin, distance=LpDistance() | CosineSimilarity())
//! mined = BatchHardMiner(distance)(emb, y)                  # mining: hard
//! mined = TripletMarginMiner(margin, "semihard", distance)(emb, y)  # mining: semihard
//! loss(emb, y, mined)                                       # loss(emb, y) for mining: all
//! ```

use std::path::Path;

use serde::Deserialize;
use tch::{Kind, Tensor};

use super::util::{self, repro, text, walk};
use repro::model::{self, InputShape};
use repro::spec::{self, Distance, InitScheme, Mining, ModelSpec, Sampler};
use repro::train::loss::{distance_matrix, mine, normalized_softmax_loss, triplet_loss};
use repro::train::sampler::{pk_batches, PkSampler};

#[derive(Deserialize)]
struct Golden {
    batches: Vec<Batch>,
    triplet: Vec<TripletCase>,
    normalized_softmax: Vec<SoftmaxCase>,
}

#[derive(Deserialize)]
struct Batch {
    name: String,
    embeddings: Vec<Vec<f32>>,
    labels: Vec<i64>,
}

#[derive(Deserialize)]
struct TripletCase {
    batch: String,
    mining: String,
    distance: String,
    margin: f64,
    loss: f64,
    mined: i64,
}

#[derive(Deserialize)]
struct SoftmaxCase {
    batch: String,
    temperature: f64,
    weight: Vec<Vec<f32>>,
    loss: f64,
}

fn golden() -> Golden {
    let path = util::root().join("tests/golden/metric_pml.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(rows: &[Vec<f32>]) -> Tensor {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, -1])
}

fn batch<'a>(g: &'a Golden, name: &str) -> (Tensor, Tensor, &'a Batch) {
    let b = g.batches.iter().find(|b| b.name == name).unwrap();
    (matrix(&b.embeddings), Tensor::from_slice(&b.labels), b)
}

#[test]
fn triplet_losses_and_mined_counts_match_pytorch_metric_learning() {
    let g = golden();
    assert_eq!(g.triplet.len(), 4 * 3 * 2 * 5);
    for case in &g.triplet {
        let (emb, labels, _) = batch(&g, &case.batch);
        let mining = match case.mining.as_str() {
            "all" => Mining::All,
            "hard" => Mining::Hard,
            _ => Mining::Semihard,
        };
        let distance = match case.distance.as_str() {
            "euclidean" => Distance::Euclidean,
            _ => Distance::Cosine,
        };
        let (loss, mined) = triplet_loss(&emb, &labels, case.margin, mining, distance);
        let what = format!(
            "{} {} {} margin {}",
            case.batch, case.mining, case.distance, case.margin
        );
        assert_eq!(mined.len(), case.mined, "mined triplets, {what}");
        let got = loss.double_value(&[]);
        assert!(
            (got - case.loss).abs() < 1e-6,
            "{what}: {got} vs pml {}",
            case.loss
        );
    }
}

#[test]
fn normalized_softmax_matches_pytorch_metric_learning() {
    let g = golden();
    for case in &g.normalized_softmax {
        let (emb, labels, _) = batch(&g, &case.batch);
        let loss = normalized_softmax_loss(&emb, &labels, &matrix(&case.weight), case.temperature)
            .double_value(&[]);
        assert!(
            (loss - case.loss).abs() < 1e-6 * case.loss.max(1.0),
            "{} at {}: {loss} vs pml {}",
            case.batch,
            case.temperature,
            case.loss
        );
    }
}

/// Five points on the unit circle at 0°, 10°, 40° (class 0), 60°, 90° (class 1): each
/// anchor's farthest positive and nearest negative are known by their angles.
#[test]
fn batch_hard_mines_the_farthest_positive_and_nearest_negative() {
    let angles = [0f32, 10.0, 40.0, 60.0, 90.0];
    let rows: Vec<Vec<f32>> = angles
        .iter()
        .map(|a| vec![a.to_radians().cos(), a.to_radians().sin()])
        .collect();
    let emb = matrix(&rows);
    let labels = Tensor::from_slice(&[0i64, 0, 0, 1, 1]);
    let want = vec![(0, 2, 3), (1, 2, 3), (2, 0, 3), (3, 4, 2), (4, 3, 2)];
    for distance in [Distance::Euclidean, Distance::Cosine] {
        let mat = distance_matrix(&emb, distance);
        let t = mine(&mat, &labels, Mining::Hard, distance, 0.1);
        assert_eq!(t.rows(), want, "{distance:?}");
    }
    // Semi-hard at margin 0.2 (euclidean; chords 2·sin(θ/2)): only anchor 2 (40°) with
    // positive 0 (40°, 0.684) and negative 4 (50°, 0.845) has 0 < d(a,n) − d(a,p) ≤ 0.2.
    let mat = distance_matrix(&emb, Distance::Euclidean);
    let semi = mine(&mat, &labels, Mining::Semihard, Distance::Euclidean, 0.2).rows();
    assert_eq!(semi, vec![(2, 0, 4)]);
}

#[test]
fn distances_at_identical_embeddings_have_finite_gradients() {
    let emb = Tensor::from_slice(&[0.6f32, 0.8, 0.6, 0.8, 1.0, 0.0])
        .view([3, 2])
        .set_requires_grad(true);
    let labels = Tensor::from_slice(&[0i64, 0, 1]);
    let mat = distance_matrix(&emb, Distance::Euclidean);
    assert_eq!(mat.double_value(&[0, 1]), 0.0);
    assert_eq!(mat.double_value(&[0, 0]), 0.0);
    let (loss, _) = triplet_loss(&emb, &labels, 1.0, Mining::All, Distance::Euclidean);
    assert!(loss.double_value(&[]) > 0.0);
    loss.backward();
    let grad = emb.grad();
    assert_eq!(
        grad.isfinite().all().int64_value(&[]),
        1,
        "gradient at zero distance: {grad}"
    );
}

fn input() -> InputShape {
    InputShape {
        channels: 1,
        length: 40,
        classes: 10,
        full_length: false,
    }
}

#[test]
fn embedding_heads_are_unit_norm_and_classifiers_embed_their_penultimate_features() {
    let _guard = util::torch_lock();
    let x = Tensor::randn([6, 1, 40], (Kind::Float, tch::Device::Cpu));
    let lengths = Tensor::from_slice(&[40i64, 40, 30, 40, 20, 40]);
    let cases = |d: Option<i64>| {
        vec![
            ModelSpec::Linear { embedding_dim: d },
            ModelSpec::Mlp {
                hidden: vec![32],
                activation: spec::Activation::Relu,
                residual: false,
                input_dropout: 0.0,
                dropout: vec![0.0],
                embedding_dim: d,
            },
            ModelSpec::Cnn1d {
                channels: vec![8, 8],
                kernel: vec![3, 3],
                stride: 1,
                padding: spec::Padding::Same,
                activation: spec::Activation::Relu,
                batch_norm: true,
                head: spec::CnnHead::Gap,
                dropout: 0.0,
                embedding_dim: d,
            },
            ModelSpec::Resnet1d {
                channels: vec![8],
                kernel: vec![3, 3],
                activation: spec::Activation::Relu,
                dropout: 0.0,
                embedding_dim: d,
            },
            ModelSpec::Rnn {
                cell: spec::Cell::Gru,
                hidden: 6,
                layers: 1,
                bidirectional: true,
                readout: spec::Readout::Last,
                dropout: 0.0,
                layer_norm: false,
                output_dropout: 0.0,
                forget_bias: None,
                embedding: None,
                embedding_dim: d,
            },
        ]
    };
    // Penultimate widths of the classifiers: flattened input, hidden, channels, channels, 2h.
    let widths = [40, 32, 8, 8, 12];
    for (spec, width) in cases(Some(16)).into_iter().zip(widths) {
        let built = model::build(&spec, InitScheme::Torch, input(), tch::Device::Cpu).unwrap();
        assert!(built.net.is_embedding(), "{spec:?}");
        let out = built.net.forward(&x, &lengths, false);
        assert_eq!(out.size(), [6, 16], "{spec:?}");
        let norms = out.norm_scalaropt_dim(2, [1].as_slice(), false);
        assert!(
            (norms - 1.0).abs().max().double_value(&[]) < 1e-5,
            "{spec:?}"
        );
        let emb = built.net.embed(&x, &lengths, false);
        assert!(emb.equal(&out), "an embedding model embeds by its head");
        let _ = width;
    }
    for (spec, width) in cases(None).into_iter().zip(widths) {
        let built = model::build(&spec, InitScheme::Torch, input(), tch::Device::Cpu).unwrap();
        assert!(!built.net.is_embedding());
        assert_eq!(built.net.forward(&x, &lengths, false).size(), [6, 10]);
        let emb = built.net.embed(&x, &lengths, false);
        assert_eq!(emb.size(), [6, width], "{spec:?}");
        let features = built.net.features(&x, &lengths, false);
        let want = &features / features.norm_scalaropt_dim(2, [1].as_slice(), true);
        assert!(
            (emb - want).abs().max().double_value(&[]) < 1e-6,
            "{spec:?}"
        );
    }
}

#[test]
fn pk_batches_are_class_balanced_seeded_and_without_replacement() {
    // Classes 0-2 have 10 examples each, class 3 has 2: never drawn with K = 3.
    let labels: Vec<i64> = (0..32).map(|i| if i < 30 { i % 3 } else { 3 }).collect();
    let s = Sampler {
        classes_per_batch: 2,
        per_class: 3,
    };
    let batches = pk_batches(s, 9, &labels, 50).unwrap();
    for b in &batches {
        assert_eq!(b.len(), 6);
        let mut seen = b.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 6, "no example twice in a batch: {b:?}");
        let ys: Vec<i64> = b.iter().map(|&i| labels[i as usize]).collect();
        assert_eq!(ys[0], ys[1]);
        assert_eq!(ys[1], ys[2]);
        assert_eq!(ys[3], ys[4]);
        assert_eq!(ys[4], ys[5]);
        assert_ne!(ys[0], ys[3], "P distinct classes: {ys:?}");
        assert!(
            !ys.contains(&3),
            "a class with fewer than K examples is never drawn"
        );
    }
    assert_eq!(batches, pk_batches(s, 9, &labels, 50).unwrap());
    assert_ne!(batches, pk_batches(s, 10, &labels, 50).unwrap());

    let err = PkSampler::new(
        Sampler {
            classes_per_batch: 4,
            per_class: 3,
        },
        9,
        &labels,
    )
    .err()
    .unwrap();
    assert!(
        err.contains("only 3 of the training split's 4 classes have at least 3 examples")
            && err.contains("3: 2"),
        "{err}"
    );
}

const SPEC: &str = "\
id: ml
title: Metric learning
version: 1
dataset: mnist1d
defaults:
  train: { lr: 0.01, steps: 50, eval_every: 10 }
seeds: { count: 1, base: 3 }
arms:
  - id: triplet
    model: { kind: mlp, hidden: [32], embedding_dim: 16 }
    train: { loss: { kind: triplet, margin: 0.2, mining: all }, sampler: { classes_per_batch: 5, per_class: 4 } }
  - id: ce
    model: { kind: mlp, hidden: [32] }
    train: { batch_size: 20 }
";

fn diags(text: &str) -> Vec<(String, String)> {
    spec::parse_bytes(Path::new("t.yaml"), text.as_bytes())
        .expect_err("spec should be rejected")
        .diags
        .iter()
        .map(|d| (d.pos.to_string(), d.message.clone()))
        .collect()
}

#[test]
fn spec_decodes_losses_samplers_and_embedding_dims() {
    let s = spec::parse_bytes(Path::new("t.yaml"), SPEC.as_bytes()).unwrap();
    let t = &s.arms[0].resolved;
    assert_eq!(t.model.embedding_dim(), Some(16));
    assert_eq!(t.train.batch_size, 20);
    assert_eq!(
        t.train.loss,
        spec::LossSpec::Triplet {
            margin: 0.2,
            mining: Mining::All,
            distance: Distance::Euclidean
        }
    );
    let json = s.arms[1].resolved.canonical_json();
    assert!(
        !json.contains("loss") && !json.contains("sampler") && !json.contains("embedding_dim"),
        "defaults are not serialised, so existing arm hashes stay: {json}"
    );

    let one = |from: &str, to: &str| diags(&SPEC.replace(from, to));
    let d = one(", sampler: { classes_per_batch: 5, per_class: 4 }", "");
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].0.starts_with("11:") && d[0].1.contains("needs class-balanced batches"),
        "{d:?}"
    );
    let d = one(
        "hidden: [32] }\n    train: { batch",
        "hidden: [32], embedding_dim: 8 }\n    train: { batch",
    );
    assert!(
        d[0].0.starts_with("14:") && d[0].1.contains("replaces the class head"),
        "{d:?}"
    );
    let d = one("hidden: [32], embedding_dim: 16", "hidden: [32]");
    assert!(d[0].1.contains("give the model `embedding_dim`"), "{d:?}");
    let d = one("embedding_dim: 16", "embedding_dim: 0");
    assert!(
        d[0].0 == "10:54"
            && d[0]
                .1
                .contains("`embedding_dim` must be between 1 and 4096"),
        "{d:?}"
    );
    let d = one("per_class: 4 }", "per_class: 1 }");
    assert!(d[0].1.contains("`per_class` must be at least 2"), "{d:?}");
    let d = one(
        "train: { loss: { kind: triplet,",
        "train: { batch_size: 32, loss: { kind: triplet,",
    );
    assert!(
        d[0].1.contains("disagrees with the sampler's 5 × 4 = 20"),
        "{d:?}"
    );
    let d = one("mining: all", "mining: hardest");
    assert!(d[0].1.contains("hardest"), "{d:?}");
}

/// A tiny MNIST-1D triplet arm trains through `repro run`: its training loss falls, and its
/// run key and arm hash differ from the cross-entropy arm's.
#[test]
fn triplet_arm_trains_through_repro_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ml.yaml"), SPEC).unwrap();
    let store = dir.path().join("store");
    let args = ["run", "ml.yaml", "--store", store.to_str().unwrap()];
    let out = repro(dir.path(), &args, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let records: Vec<serde_json::Value> = walk(&store, "record.json")
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    let arm = |id: &str| records.iter().find(|r| r["arm_id"] == id).unwrap();
    let (triplet, ce) = (arm("triplet"), arm("ce"));
    assert_ne!(triplet["key"], ce["key"]);
    assert_ne!(triplet["arm_sha256"], ce["arm_sha256"]);
    assert_eq!(triplet["status"], "ok");
    let curve = triplet["curve"].as_array().unwrap();
    assert_eq!(curve.len(), 5);
    let first = curve[0]["train_loss"].as_f64().unwrap();
    let last = curve[4]["train_loss"].as_f64().unwrap();
    assert!(last < first, "triplet loss should fall: {first} → {last}");
    assert_eq!(triplet["config"]["train"]["loss"]["kind"], "triplet");
    assert_eq!(triplet["config"]["model"]["embedding_dim"], 16);
}
