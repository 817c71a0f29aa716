//! `train:`: optimizer and its settings, budget, batch order, clipping, early stopping,
//! the learning-rate `schedule:`, and the `loss:`/`sampler:` keys (decoded in `loss.rs`).

use super::{loss, number, positive_int};
use crate::spec::decode::Ctx;
use crate::spec::types::*;
use crate::yaml::{Node, Value};

const TRAIN_KEYS: &[&str] = &[
    "optimizer",
    "lr",
    "weight_decay",
    "batch_size",
    "steps",
    "epochs",
    "order",
    "eval_every",
    "schedule",
    "clip_grad_norm",
    "clip_grad_value",
    "label_smoothing",
    "early_stopping",
    "threads",
    "momentum",
    "nesterov",
    "beta1",
    "beta2",
    "eps",
    "rho",
    "fused",
    "loss",
    "sampler",
];

/// Recurrent models clip the global gradient norm at this unless the spec says otherwise
/// (`clip_grad_norm: null` turns it off).
pub const RNN_DEFAULT_CLIP: f64 = 1.0;

/// The train section of an arm whose model has `embedding_dim` (checked against the loss;
/// `None` when the model itself did not decode).
pub(in crate::spec) fn decode_train(
    ctx: &mut Ctx,
    node: &Node,
    is_rnn: bool,
    embedding_dim: Option<Option<i64>>,
) -> Option<TrainSpec> {
    let f = ctx.map(node, "`train`", TRAIN_KEYS)?;
    let kind = match f.get("optimizer") {
        Some(n) => ctx.choice(
            n,
            "optimizer",
            &[
                ("adam", "adam"),
                ("adamw", "adamw"),
                ("radam", "radam"),
                ("sgd", "sgd"),
                ("adadelta", "adadelta"),
            ],
        ),
        None => Some("adam"),
    };
    if let Some(name) = kind {
        let wrong: &[&str] = match name {
            "sgd" => &["beta1", "beta2", "eps", "rho", "fused"],
            "adadelta" => &["momentum", "nesterov", "beta1", "beta2", "fused"],
            "radam" => &["momentum", "nesterov", "rho", "fused"],
            _ => &["momentum", "nesterov", "rho"],
        };
        for key in wrong {
            if let Some(n) = f.get(key) {
                ctx.err(
                    n.pos,
                    format!("`{key}` does not apply to optimizer `{name}`"),
                );
            }
        }
    }
    let unit = |v: f64| (0.0..1.0).contains(&v);
    let optimizer = match kind? {
        "sgd" => Optimizer::Sgd {
            momentum: number(ctx, &f, "momentum", 0.9, unit, "in [0, 1)")?,
            nesterov: match f.get("nesterov") {
                Some(n) => ctx.bool(n, "`nesterov`")?,
                None => false,
            },
        },
        "adadelta" => Optimizer::Adadelta {
            rho: number(ctx, &f, "rho", 0.9, unit, "in [0, 1)")?,
            eps: number(ctx, &f, "eps", 1e-6, |v| v > 0.0, "> 0")?,
        },
        name => {
            let beta1 = number(ctx, &f, "beta1", 0.9, unit, "in [0, 1)")?;
            let beta2 = number(ctx, &f, "beta2", 0.999, unit, "in [0, 1)")?;
            let eps = number(ctx, &f, "eps", 1e-8, |v| v > 0.0, "> 0")?;
            let fused = match f.get("fused") {
                Some(n) => ctx.bool(n, "`fused`")?,
                None => false,
            };
            match name {
                "adamw" => Optimizer::Adamw {
                    beta1,
                    beta2,
                    eps,
                    fused,
                },
                "radam" => Optimizer::Radam { beta1, beta2, eps },
                _ => Optimizer::Adam {
                    beta1,
                    beta2,
                    eps,
                    fused,
                },
            }
        }
    };
    let lr = number(ctx, &f, "lr", 1e-3, |v| v > 0.0 && v <= 10.0, "in (0, 10]");
    let weight_decay = number(
        ctx,
        &f,
        "weight_decay",
        1e-4,
        |v| (0.0..1.0).contains(&v),
        "in [0, 1)",
    );
    let batch_size = positive_int(ctx, &f, "batch_size", 32, 1 << 20);
    let (steps, epochs) = match (f.get("steps"), f.get("epochs")) {
        (Some(_), Some(n)) => {
            ctx.err(n.pos, "give `steps` or `epochs`, not both");
            (None, None)
        }
        (Some(_), None) => (
            positive_int(ctx, &f, "steps", 1, 100_000_000).map(Some),
            Some(None),
        ),
        (None, Some(_)) => (
            Some(None),
            positive_int(ctx, &f, "epochs", 1, 10_000_000).map(Some),
        ),
        (None, None) => {
            ctx.err(
                f.pos,
                "`train` needs `steps` or `epochs` (in the arm or in `defaults.train`)",
            );
            (None, None)
        }
    };
    let label_smoothing = number(
        ctx,
        &f,
        "label_smoothing",
        0.0,
        |v| (0.0..1.0).contains(&v),
        "in [0, 1)",
    );
    let early_stopping = match f.get("early_stopping") {
        None => Some(None),
        Some(n) if n.value == Value::Null => Some(None),
        Some(n) => ctx
            .map(n, "`early_stopping`", &["patience", "min_delta"])
            .and_then(|e| {
                let patience = positive_int(ctx, &e, "patience", 10, 1_000_000);
                let min_delta = number(ctx, &e, "min_delta", 0.0, |v| v >= 0.0, ">= 0");
                Some(Some(EarlyStopping {
                    patience: patience?,
                    min_delta: min_delta?,
                }))
            }),
    };
    let eval_every = positive_int(ctx, &f, "eval_every", 250, 100_000_000);
    let threads = positive_int(ctx, &f, "threads", 1, 256);
    let order = match f.get("order") {
        Some(n) => ctx.choice(
            n,
            "batch order",
            &[
                ("sequential", BatchOrder::Sequential),
                ("shuffle", BatchOrder::Shuffle),
            ],
        ),
        None => Some(BatchOrder::Shuffle),
    };
    let clip = |ctx: &mut Ctx, key: &str| match f.get(key) {
        Some(n) if n.value == Value::Null => Some(None),
        Some(_) => number(ctx, &f, key, 0.0, |v| v > 0.0, "> 0").map(Some),
        None => Some(None),
    };
    let clip_grad_value = clip(ctx, "clip_grad_value");
    let clip_grad_norm = match f.get("clip_grad_norm") {
        None if is_rnn && clip_grad_value == Some(None) => Some(Some(RNN_DEFAULT_CLIP)),
        _ => clip(ctx, "clip_grad_norm"),
    };
    if let (Some(Some(_)), Some(Some(_)), Some(n)) =
        (clip_grad_norm, clip_grad_value, f.get("clip_grad_value"))
    {
        ctx.err(
            n.pos,
            "give `clip_grad_norm` or `clip_grad_value`, not both",
        );
    }
    let schedule = match f.get("schedule") {
        Some(n) => decode_schedule(ctx, n),
        None => Some(Schedule::Constant),
    };
    let loss = match f.get("loss") {
        Some(n) => loss::decode_loss(ctx, n),
        None => Some(LossSpec::CrossEntropy),
    };
    let sampler = match f.get("sampler") {
        Some(n) => loss::decode_sampler(ctx, n),
        None => Some(None),
    };
    let (loss, sampler) = (loss?, sampler?);
    if let (Some(b), Some(l)) = (batch_size, label_smoothing) {
        loss::check(ctx, &f, loss, sampler, b, l, embedding_dim);
    }
    Some(TrainSpec {
        optimizer,
        lr: lr?,
        weight_decay: weight_decay?,
        batch_size: sampler.map_or(batch_size?, |s| s.batch_size()),
        steps: steps?,
        epochs: epochs?,
        order: order?,
        eval_every: eval_every?,
        schedule: schedule?,
        clip_grad_norm: clip_grad_norm?,
        clip_grad_value: clip_grad_value?,
        label_smoothing: label_smoothing?,
        early_stopping: early_stopping?,
        threads: threads?,
        loss,
        sampler,
    })
}

fn decode_schedule(ctx: &mut Ctx, node: &Node) -> Option<Schedule> {
    if let Value::Scalar { text, .. } = &node.value {
        if text == "constant" {
            return Some(Schedule::Constant);
        }
    }
    if !matches!(node.value, Value::Map(_)) {
        ctx.err(
            node.pos,
            "`schedule` must be `constant` or a mapping with `kind: cosine|step|plateau`",
        );
        return None;
    }
    let Value::Map(entries) = &node.value else {
        return None;
    };
    let kind_node = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == "kind"))
        .map(|(_, v)| v);
    let Some(kind_node) = kind_node else {
        ctx.err(node.pos, "`schedule` is missing required key `kind`");
        return None;
    };
    let kind = ctx.choice(
        kind_node,
        "schedule",
        &[("constant", 0), ("cosine", 1), ("step", 2), ("plateau", 3)],
    )?;
    let keys: &[&str] = match kind {
        0 => &["kind"],
        1 => &["kind", "t_max", "eta_min", "warmup", "unit"],
        2 => &["kind", "step_size", "gamma", "unit"],
        _ => &[
            "kind",
            "factor",
            "patience",
            "min_lr",
            "monitor",
            "threshold",
            "threshold_mode",
        ],
    };
    let f = ctx.map(node, "`schedule`", keys)?;
    let unit = match f.get("unit") {
        Some(n) => ctx.choice(
            n,
            "schedule unit",
            &[
                ("steps", ScheduleUnit::Steps),
                ("epochs", ScheduleUnit::Epochs),
            ],
        ),
        None => Some(ScheduleUnit::Steps),
    };
    let nonneg = |v: f64| v >= 0.0;
    match kind {
        0 => Some(Schedule::Constant),
        1 => {
            let t_max = f
                .required(ctx, "t_max", "a cosine `schedule`")
                .and_then(|_| positive_int(ctx, &f, "t_max", 1, 100_000_000));
            let warmup = match f.get("warmup") {
                Some(n) => ctx.int(n, "`warmup`").and_then(|w| {
                    ctx.check(w >= 0, n.pos, || {
                        format!("`warmup` must be at least 0, found {w}")
                    })
                    .then_some(w)
                }),
                None => Some(0),
            };
            let eta_min = number(ctx, &f, "eta_min", 0.0, nonneg, ">= 0");
            Some(Schedule::Cosine {
                t_max: t_max?,
                eta_min: eta_min?,
                warmup: warmup?,
                unit: unit?,
            })
        }
        2 => {
            let step_size = f
                .required(ctx, "step_size", "a step `schedule`")
                .and_then(|_| positive_int(ctx, &f, "step_size", 1, 100_000_000));
            let gamma = number(ctx, &f, "gamma", 0.1, |v| v > 0.0 && v <= 1.0, "in (0, 1]");
            Some(Schedule::Step {
                step_size: step_size?,
                gamma: gamma?,
                unit: unit?,
            })
        }
        _ => {
            let factor = number(ctx, &f, "factor", 0.1, |v| v > 0.0 && v < 1.0, "in (0, 1)");
            let patience = match f.get("patience") {
                Some(n) => ctx.int(n, "`patience`").and_then(|p| {
                    ctx.check(p >= 0, n.pos, || {
                        format!("`patience` must be at least 0, found {p}")
                    })
                    .then_some(p)
                }),
                None => Some(10),
            };
            let min_lr = number(ctx, &f, "min_lr", 0.0, nonneg, ">= 0");
            let threshold = number(ctx, &f, "threshold", PLATEAU_THRESHOLD, nonneg, ">= 0");
            let threshold_mode = match f.get("threshold_mode") {
                Some(n) => ctx.choice(
                    n,
                    "plateau threshold mode",
                    &[("rel", ThresholdMode::Rel), ("abs", ThresholdMode::Abs)],
                ),
                None => Some(ThresholdMode::Rel),
            };
            // No default: before `monitor` existed the plateau watched the eval split, which
            // is the test split when no validation split is carved (a decision on test data).
            let monitor = match f.get("monitor") {
                Some(n) => ctx.choice(
                    n,
                    "plateau monitor",
                    &[
                        ("train_loss", Monitor::TrainLoss),
                        ("val_loss", Monitor::ValLoss),
                    ],
                ),
                None => {
                    ctx.err(
                        f.pos,
                        "a plateau `schedule` needs `monitor: train_loss` (the training loss, \
                         Fawaz et al.'s protocol) or `monitor: val_loss` (with \
                         `data: { val: { fraction: 0.2 } }`); it never watches the test loss",
                    );
                    None
                }
            };
            Some(Schedule::Plateau {
                factor: factor?,
                patience: patience?,
                min_lr: min_lr?,
                monitor: monitor?,
                threshold: threshold?,
                threshold_mode: threshold_mode?,
            })
        }
    }
}
