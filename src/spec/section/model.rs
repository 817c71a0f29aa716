//! `model:`: the model kinds with the keys each takes, activations, and every kind's decoder.

use super::{number, positive_int};
use crate::spec::decode::Ctx;
use crate::spec::types::*;
use crate::yaml::{Node, Value};

const MODEL_KINDS: &[(&str, &[&str])] = &[
    ("linear", &["kind", "embedding_dim"]),
    (
        "mlp",
        &[
            "kind",
            "embedding_dim",
            "hidden",
            "activation",
            "negative_slope",
            "residual",
            "input_dropout",
            "dropout",
        ],
    ),
    (
        "cnn1d",
        &[
            "kind",
            "embedding_dim",
            "channels",
            "kernel",
            "stride",
            "padding",
            "activation",
            "negative_slope",
            "batch_norm",
            "head",
            "dropout",
        ],
    ),
    (
        "resnet1d",
        &[
            "kind",
            "embedding_dim",
            "channels",
            "kernel",
            "activation",
            "negative_slope",
            "dropout",
        ],
    ),
    (
        "rnn",
        &[
            "kind",
            "embedding_dim",
            "cell",
            "hidden",
            "layers",
            "bidirectional",
            "readout",
            "dropout",
            "layer_norm",
            "output_dropout",
            "forget_bias",
            "embedding",
        ],
    ),
    (
        "lstm_fcn",
        &[
            "kind",
            "embedding_dim",
            "cells",
            "lstm_dropout",
            "channels",
            "kernel",
        ],
    ),
    ("torchscript", &["kind", "embedding_dim", "path"]),
];

/// The largest `embedding_dim` a model takes.
pub(in crate::spec) const MAX_EMBEDDING_DIM: i64 = 4096;

const ACTIVATIONS: &[(&str, Activation)] = &[
    ("relu", Activation::Relu),
    ("leaky_relu", Activation::LeakyRelu(0.01)),
    ("elu", Activation::Elu),
    ("selu", Activation::Selu),
    ("gelu", Activation::Gelu),
    ("silu", Activation::Silu),
    ("tanh", Activation::Tanh),
    ("sigmoid", Activation::Sigmoid),
];

pub(in crate::spec) fn decode_model(ctx: &mut Ctx, node: &Node) -> Option<ModelSpec> {
    let Value::Map(_) = &node.value else {
        ctx.err(
            node.pos,
            format!("`model` must be a mapping, found {}", node.kind_name()),
        );
        return None;
    };
    let Value::Map(entries) = &node.value else {
        return None;
    };
    let kind_entry = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == "kind"));
    let Some((_, kind_node)) = kind_entry else {
        ctx.err(node.pos, "`model` is missing required key `kind`");
        return None;
    };
    let kinds: Vec<(&str, usize)> = MODEL_KINDS
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (*k, i))
        .collect();
    let kind = ctx.choice(kind_node, "model kind", &kinds)?;
    let (kind_name, keys) = MODEL_KINDS[kind];
    let f = ctx.map(node, &format!("a `{kind_name}` model"), keys)?;
    let activation = |ctx: &mut Ctx| {
        let act = match f.get("activation") {
            Some(n) => ctx.choice(n, "activation", ACTIVATIONS),
            None => Some(Activation::Relu),
        };
        match (act, f.get("negative_slope")) {
            (Some(Activation::LeakyRelu(_)), Some(n)) => {
                let v = ctx.f64(n, "`negative_slope`")?;
                ctx.check((0.0..1.0).contains(&v), n.pos, || {
                    format!("`negative_slope` must be in [0, 1), found {v}")
                })
                .then_some(Activation::LeakyRelu(v))
            }
            (Some(_), Some(n)) => {
                ctx.err(
                    n.pos,
                    "`negative_slope` applies to `activation: leaky_relu` only",
                );
                None
            }
            (act, None) | (act @ None, Some(_)) => act,
        }
    };
    let flag = |ctx: &mut Ctx, key: &str| match f.get(key) {
        Some(n) => ctx.bool(n, &format!("`{key}`")),
        None => Some(false),
    };
    let rate = |ctx: &mut Ctx, key: &str| {
        number(ctx, &f, key, 0.0, |v| (0.0..1.0).contains(&v), "in [0, 1)")
    };
    let kernels = |ctx: &mut Ctx, layers: Option<usize>| match f.get("kernel") {
        Some(n) if matches!(n.value, Value::Seq(_)) => {
            let k = int_list(ctx, n, "`kernel`", 1 << 12);
            if let (Some(k), Some(layers)) = (&k, layers) {
                ctx.check(k.len() == layers, n.pos, || {
                    format!(
                        "`kernel` has {} entries but `channels` has {layers}; give one per layer or a single number",
                        k.len()
                    )
                });
            }
            k
        }
        Some(n) => ctx.int(n, "`kernel`").and_then(|k| {
            ctx.check((1..=4096).contains(&k), n.pos, || {
                format!("`kernel` must be between 1 and 4096, found {k}")
            })
            .then(|| vec![k; layers.unwrap_or(1)])
        }),
        None => Some(vec![3; layers.unwrap_or(1)]),
    };
    let embedding_dim = match f.get("embedding_dim") {
        Some(_) => positive_int(ctx, &f, "embedding_dim", 0, MAX_EMBEDDING_DIM).map(Some),
        None => Some(None),
    };
    match kind_name {
        "linear" => Some(ModelSpec::Linear {
            embedding_dim: embedding_dim?,
        }),
        "mlp" => {
            let hidden = f
                .required(ctx, "hidden", "an `mlp` model")
                .and_then(|n| int_list(ctx, n, "`hidden`", 1 << 16));
            let activation = activation(ctx);
            let residual = flag(ctx, "residual");
            let input_dropout = rate(ctx, "input_dropout");
            let layers = hidden.as_ref().map_or(0, Vec::len);
            let dropout = match f.get("dropout") {
                None => Some(Vec::new()),
                Some(n) if matches!(n.value, Value::Seq(_)) => {
                    let items = ctx.seq(n, "`dropout`")?;
                    let rates: Option<Vec<f64>> = items
                        .iter()
                        .map(|i| {
                            let v = ctx.f64(i, "each of `dropout`")?;
                            ctx.check((0.0..1.0).contains(&v), i.pos, || {
                                format!("each of `dropout` must be in [0, 1), found {v}")
                            })
                            .then_some(v)
                        })
                        .collect();
                    if let Some(r) = &rates {
                        ctx.check(r.len() == layers, n.pos, || {
                            format!("`dropout` has {} rates for {layers} hidden layers", r.len())
                        });
                    }
                    rates
                }
                Some(_) => rate(ctx, "dropout").map(|p| vec![p; layers]),
            };
            Some(ModelSpec::Mlp {
                hidden: hidden?,
                activation: activation?,
                residual: residual?,
                input_dropout: input_dropout?,
                dropout: dropout?,
                embedding_dim: embedding_dim?,
            })
        }
        "cnn1d" => {
            let channels = f
                .required(ctx, "channels", "a `cnn1d` model")
                .and_then(|n| int_list(ctx, n, "`channels`", 1 << 14));
            let kernel = kernels(ctx, channels.as_ref().map(Vec::len));
            let stride = positive_int(ctx, &f, "stride", 1, 4096);
            let padding = match f.get("padding") {
                Some(n) if matches!(&n.value, Value::Scalar { text, .. } if text == "same") => {
                    if let (Some(s), Some(_)) = (stride, f.get("stride")) {
                        ctx.check(s == 1, n.pos, || {
                            format!("`padding: same` needs stride 1, found stride {s}")
                        });
                    }
                    Some(Padding::Same)
                }
                Some(n) => ctx.int(n, "`padding` (a number or `same`)").and_then(|p| {
                    ctx.check((0..=4096).contains(&p), n.pos, || {
                        format!("`padding` must be between 0 and 4096, found {p}")
                    })
                    .then_some(Padding::Fixed(p))
                }),
                None => Some(Padding::Fixed(0)),
            };
            let activation = activation(ctx);
            let batch_norm = flag(ctx, "batch_norm");
            let head = match f.get("head") {
                Some(n) => ctx.choice(
                    n,
                    "cnn head",
                    &[("flatten", CnnHead::Flatten), ("gap", CnnHead::Gap)],
                ),
                None => Some(CnnHead::Gap),
            };
            let dropout = rate(ctx, "dropout");
            Some(ModelSpec::Cnn1d {
                channels: channels?,
                kernel: kernel?,
                stride: stride?,
                padding: padding?,
                activation: activation?,
                batch_norm: batch_norm?,
                head: head?,
                dropout: dropout?,
                embedding_dim: embedding_dim?,
            })
        }
        "resnet1d" => {
            let channels = f
                .required(ctx, "channels", "a `resnet1d` model")
                .and_then(|n| int_list(ctx, n, "`channels`", 1 << 14));
            let kernel = match f.get("kernel") {
                Some(n) => int_list(ctx, n, "`kernel`", 1 << 12),
                None => Some(vec![8, 5, 3]),
            };
            let activation = activation(ctx);
            let dropout = rate(ctx, "dropout");
            Some(ModelSpec::Resnet1d {
                channels: channels?,
                kernel: kernel?,
                activation: activation?,
                dropout: dropout?,
                embedding_dim: embedding_dim?,
            })
        }
        "lstm_fcn" => {
            let cells = f
                .required(ctx, "cells", "an `lstm_fcn` model")
                .and_then(|_| positive_int(ctx, &f, "cells", 8, 1 << 14));
            let lstm_dropout = number(
                ctx,
                &f,
                "lstm_dropout",
                0.8,
                |v| (0.0..1.0).contains(&v),
                "in [0, 1)",
            );
            let channels = match f.get("channels") {
                Some(n) => int_list(ctx, n, "`channels`", 1 << 14),
                None => Some(vec![128, 256, 128]),
            };
            // The paper's kernels 8, 5, 3 wherever there are three layers to take them.
            let kernel = match (f.get("kernel"), &channels) {
                (None, Some(c)) if c.len() == 3 => Some(vec![8, 5, 3]),
                _ => kernels(ctx, channels.as_ref().map(Vec::len)),
            };
            Some(ModelSpec::LstmFcn {
                cells: cells?,
                lstm_dropout: lstm_dropout?,
                channels: channels?,
                kernel: kernel?,
                embedding_dim: embedding_dim?,
            })
        }
        "torchscript" => {
            let file = f
                .required(ctx, "path", "a `torchscript` model")
                .and_then(|n| module_file(ctx, n));
            let (path, sha256) = file?;
            Some(ModelSpec::Torchscript {
                sha256,
                path,
                embedding_dim: embedding_dim?,
            })
        }
        _ => {
            let cell = f.required(ctx, "cell", "an `rnn` model").and_then(|n| {
                ctx.choice(n, "rnn cell", &[("gru", Cell::Gru), ("lstm", Cell::Lstm)])
            });
            let hidden = f.required(ctx, "hidden", "an `rnn` model").and_then(|n| {
                let h = ctx.int(n, "`hidden`")?;
                ctx.check((1..=1 << 14).contains(&h), n.pos, || {
                    format!("`hidden` must be between 1 and 16384, found {h}")
                })
                .then_some(h)
            });
            let layers = positive_int(ctx, &f, "layers", 1, 3);
            let bidirectional = flag(ctx, "bidirectional");
            let readout = match f.get("readout") {
                Some(n) => ctx.choice(
                    n,
                    "readout",
                    &[
                        ("last", Readout::Last),
                        ("mean", Readout::Mean),
                        ("flatten", Readout::Flatten),
                    ],
                ),
                None => Some(Readout::Last),
            };
            let dropout = rate(ctx, "dropout");
            if let (Some(d), Some(1), Some(n)) = (dropout, layers, f.get("dropout")) {
                ctx.check(d == 0.0, n.pos, || {
                    "`dropout` acts between stacked layers: it needs `layers` of 2 or 3 \
                     (use `output_dropout` before the output layer)"
                        .to_string()
                });
            }
            let layer_norm = flag(ctx, "layer_norm");
            let output_dropout = rate(ctx, "output_dropout");
            let forget_bias = match f.get("forget_bias") {
                None => Some(None),
                Some(n) => {
                    if cell == Some(Cell::Gru) {
                        ctx.err(n.pos, "`forget_bias` applies to `cell: lstm` only");
                    }
                    ctx.f64(n, "`forget_bias`").map(Some)
                }
            };
            let embedding = match f.get("embedding") {
                None => Some(None),
                Some(n) => ctx
                    .map(n, "`embedding`", &["vocab", "dim", "dropout"])
                    .and_then(|e| {
                        let vocab = e
                            .required(ctx, "vocab", "`embedding`")
                            .and_then(|_| positive_int(ctx, &e, "vocab", 1, 1 << 24));
                        let dim = positive_int(ctx, &e, "dim", 128, 1 << 16);
                        let dropout = number(
                            ctx,
                            &e,
                            "dropout",
                            0.0,
                            |v| (0.0..1.0).contains(&v),
                            "in [0, 1)",
                        );
                        Some(Some(Embedding {
                            vocab: vocab?,
                            dim: dim?,
                            dropout: dropout?,
                        }))
                    }),
            };
            Some(ModelSpec::Rnn {
                embedding: embedding?,
                cell: cell?,
                hidden: hidden?,
                layers: layers?,
                bidirectional: bidirectional?,
                readout: readout?,
                dropout: dropout?,
                layer_norm: layer_norm?,
                output_dropout: output_dropout?,
                forget_bias: forget_bias?,
                embedding_dim: embedding_dim?,
            })
        }
    }
}

/// `model.path`: the module file, relative to the spec's directory, and its sha256 (in the run
/// key, so a changed file is a new run and `repro plan` shows the new key at once).
fn module_file(ctx: &mut Ctx, node: &Node) -> Option<(std::path::PathBuf, String)> {
    use sha2::{Digest, Sha256};
    let written = ctx.string(node, "`path`")?;
    let path = ctx.dir.join(&written);
    match std::fs::read(&path) {
        Ok(bytes) => Some((path, hex::encode(Sha256::digest(&bytes)))),
        Err(e) => {
            ctx.err(
                node.pos,
                format!("cannot read the TorchScript module {}: {e}", path.display()),
            );
            None
        }
    }
}

fn int_list(ctx: &mut Ctx, node: &Node, what: &str, max: i64) -> Option<Vec<i64>> {
    let items = ctx.seq(node, what)?;
    if items.is_empty() {
        ctx.err(node.pos, format!("{what} must not be empty"));
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        match ctx.int(item, &format!("each of {what}")) {
            Some(v) if (1..=max).contains(&v) => out.push(v),
            Some(v) => {
                ctx.err(
                    item.pos,
                    format!("each of {what} must be between 1 and {max}, found {v}"),
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}
