//! A team's own model: a TorchScript module (`torch.jit.script(net).save(path)`) trained by
//! the same loop, optimizers and metrics as the built-in models.
//!
//! - The module's parameters are registered in the run's `VarStore` (as tch's
//!   `TrainableCModule` does), so optimizers, clipping and weight decay see them; its
//!   train/eval mode follows the loop's `train` flag.
//! - Unless `init: as_saved`, every parameter is drawn again from the run's seed in the
//!   module's parameter order with the spec's scheme, by the rules the built-in layers use
//!   ([`reinit`]): a scripted copy of a built-in model gets the built-in's initial weights.
//! - The module's output is the head's input: logits go through an identity head, an
//!   embedding (`embedding_dim`) through L2 normalisation ([`Head::identity`]).
//! - [`check_output`] runs the module on a real batch before any run starts, so a module
//!   that does not fit the task is bad input (exit 2), not a failed run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tch::nn::{self, Init};
use tch::{CModule, Device, Tensor};

use super::{bias_init, weight_init, Head, InputShape, ModelError, Net};
use crate::spec::InitScheme;

/// The module and the mode it is in (`None` until the first forward sets one).
struct State {
    module: CModule,
    train: Option<bool>,
}

/// A loaded module behind a mutex: switching train/eval needs `&mut`, [`Net`] gives `&self`.
pub struct Scripted {
    state: Mutex<State>,
    path: PathBuf,
    out: Head,
}

fn module_error(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Module {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// libtorch's first line: the rest of its message is a C++ or TorchScript stack.
fn first_line(e: &tch::TchError) -> String {
    let text = e.to_string();
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    line.chars().take(300).collect()
}

/// Loads the module at `path` on the CPU and registers its parameters under `root` (names
/// with `_` for `.`), redrawn under `init` unless [`InitScheme::AsSaved`].
pub(crate) fn load(
    root: &nn::Path,
    path: &Path,
    init: InitScheme,
    embedding_dim: Option<i64>,
) -> Result<Box<dyn Net>, ModelError> {
    if !path.is_file() {
        return Err(module_error(path, "no such TorchScript module file"));
    }
    let module = CModule::load_on_device(path, Device::Cpu).map_err(|e| {
        module_error(
            path,
            format!(
                "not a TorchScript module (write one with `torch.jit.script(model).save(path)`): {}",
                first_line(&e)
            ),
        )
    })?;
    let params = module.named_parameters().map_err(|e| {
        module_error(
            path,
            format!("cannot list its parameters: {}", first_line(&e)),
        )
    })?;
    if !params.iter().any(|(_, t)| t.requires_grad()) {
        return Err(module_error(
            path,
            format!(
                "the module has no trainable parameters ({} parameters, none requiring grad)",
                params.len()
            ),
        ));
    }
    if init != InitScheme::AsSaved {
        reinit(&params, init).map_err(|m| module_error(path, m))?;
    }
    for (name, tensor) in &params {
        let trainable = tensor.requires_grad();
        let _ = root.add(&name.replace('.', "_"), tensor.shallow_clone(), trainable);
    }
    Ok(Box::new(Scripted {
        state: Mutex::new(State {
            module,
            train: None,
        }),
        path: path.to_path_buf(),
        out: Head::identity(embedding_dim.is_some()),
    }))
}

/// Draws every parameter again, in the module's order, as the built-in layers draw theirs:
/// a weight of 2 or more dimensions (linear, convolution) from `weight_init` with PyTorch's
/// fans (`fan_in = size[1] · receptive field`), its bias after it from `bias_init` with the
/// same fan-in; a 1-D weight (a normalisation's scale) 1 and its bias 0, as PyTorch. A
/// parameter no rule places (a recurrent cell's, a bare tensor) is an error that names it.
pub(crate) fn reinit(params: &[(String, Tensor)], init: InitScheme) -> Result<(), String> {
    // The fan-in of each layer's weight (`None`: a normalisation's scale), by layer prefix.
    let mut layers: HashMap<&str, Option<i64>> = HashMap::new();
    tch::no_grad(|| {
        for (name, tensor) in params {
            let (prefix, leaf) = name.rsplit_once('.').unwrap_or(("", name.as_str()));
            let size = tensor.size();
            let mut t = tensor.shallow_clone();
            match (leaf, size.len()) {
                ("weight", d) if d >= 2 => {
                    let receptive: i64 = size[2..].iter().product();
                    let (fan_in, fan_out) = (size[1] * receptive, size[0] * receptive);
                    t.init(weight_init(init, fan_in, fan_out));
                    layers.insert(prefix, Some(fan_in));
                }
                ("weight", 1) => {
                    t.init(Init::Const(1.0));
                    layers.insert(prefix, None);
                }
                ("bias", 1) => match layers.get(prefix) {
                    Some(Some(fan_in)) => t.init(bias_init(init, *fan_in)),
                    Some(None) => t.init(Init::Const(0.0)),
                    None => {
                        return Err(format!(
                            "parameter `{name}` has no weight before it to take its fan-in from; \
                             keep the saved weights with `init: as_saved`"
                        ))
                    }
                },
                _ => {
                    return Err(format!(
                        "parameter `{name}` (shape {size:?}) is not a linear, convolution or \
                         normalisation weight or bias, which `init: {}` knows how to draw; keep \
                         the saved weights with `init: as_saved`",
                        scheme_name(init)
                    ))
                }
            }
        }
        Ok(())
    })
}

fn scheme_name(init: InitScheme) -> &'static str {
    match init {
        InitScheme::Torch => "torch",
        InitScheme::He => "he",
        InitScheme::Xavier => "xavier",
        InitScheme::AsSaved => "as_saved",
    }
}

impl Scripted {
    fn run(&self, xs: &Tensor, train: bool) -> Result<Tensor, ModelError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.train != Some(train) {
            if train {
                state.module.set_train();
            } else {
                state.module.set_eval();
            }
            state.train = Some(train);
        }
        state.module.forward_ts(&[xs]).map_err(|e| {
            module_error(
                &self.path,
                format!(
                    "forward failed on a batch of shape {:?} (float32, [batch, channels, length]): {}",
                    xs.size(),
                    first_line(&e)
                ),
            )
        })
    }
}

impl Net for Scripted {
    fn head(&self) -> &Head {
        &self.out
    }

    fn as_scripted(&self) -> Option<&Scripted> {
        Some(self)
    }

    /// The module's output. Padding is the module's affair: it sees the padded `[B, C, L]`
    /// batch without the lengths. A failure here was not seen on the batch [`check_output`]
    /// ran before training: the loop cannot go on, and the message names file and shape.
    fn traced_features(
        &self,
        xs: &Tensor,
        _lengths: &Tensor,
        train: bool,
        trace: &mut super::Trace,
    ) -> Tensor {
        let out = match self.run(xs, train) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        trace.record(|| "module".into(), &out);
        out
    }

    /// The module's parameters moved with the var store; its buffers (batch-norm running
    /// statistics) follow here.
    fn placed(&self, device: Device) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.module.to(device, tch::Kind::Float, false);
    }
}

/// Runs `net`, a loaded module, on the real batch `xs` in training and evaluation mode and
/// checks that its output is `[B, classes]` (or `[B, embedding_dim]`), naming the file, the
/// shape it was given and, for a wrong output, what was expected and what came out.
pub(crate) fn check_output(
    net: &Scripted,
    xs: &Tensor,
    input: InputShape,
    embedding_dim: Option<i64>,
) -> Result<(), ModelError> {
    let batch = xs.size()[0];
    let (width, what) = match embedding_dim {
        Some(d) => (d, format!("`embedding_dim` {d}")),
        None => (input.classes, format!("{} classes", input.classes)),
    };
    for train in [true, false] {
        let out = tch::no_grad(|| net.run(xs, train))?;
        let got = out.size();
        if got != [batch, width] {
            return Err(module_error(
                &net.path,
                format!(
                    "output does not fit the task: on input {:?} expected [{batch}, {width}] \
                     ({what}), got {got:?}",
                    xs.size()
                ),
            ));
        }
    }
    Ok(())
}

/// [`check_output`] for a built model: a no-op unless it is a TorchScript module.
pub fn check_built(
    net: &dyn Net,
    xs: &Tensor,
    input: InputShape,
    embedding_dim: Option<i64>,
) -> Result<(), ModelError> {
    match net.as_scripted() {
        Some(s) => check_output(s, xs, input, embedding_dim),
        None => Ok(()),
    }
}
