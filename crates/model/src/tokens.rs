//! Token activations of vision transformers. A rank-3 activation `[N, T, D]` whose `T` tokens
//! are `P` prefix tokens (class, distillation, registers) followed by the `h × w` grid of a patch
//! embedding is a *token layer*: objectives see its grid tokens as an image-like `[N, D, h, w]`
//! (feature `d` is channel `d`, the token at `(x, y)` is position `(x, y)`), and its prefix
//! tokens under the name [`prefix_layer`] as `[N, D, 1, P]`.

use std::collections::HashMap;

use burn::tensor::Tensor;
pub use excite_core::objective::{PREFIX_SUFFIX, prefix_layer};

use crate::error::{ModelError, Result};
use crate::graph::Node;
use crate::infer::Inferred;
use crate::ops::{Args, Spatial};
use crate::value::{Meta, Value};

/// The most prefix tokens a token layer may have (class, distillation and up to six
/// registers); more than this and a rank-3 tensor is not read as tokens.
pub const MAX_PREFIX: usize = 8;

/// How a token layer holds its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Tokens before the grid: class, distillation and register tokens.
    pub prefix: usize,
    /// The grid's height and width, for an image of the declared input size.
    pub grid: [usize; 2],
    /// Features per token.
    pub dim: usize,
    /// The patch embedding's output (`[N, D', h, w]`), whose spatial size is the grid's at
    /// any input size.
    pub source: String,
}

impl Tokens {
    /// The layer's description in a layer table: `tokens 1+16×16 × 384`.
    pub fn describe(&self) -> String {
        format!(
            "tokens {}+{}×{} × {}",
            self.prefix, self.grid[0], self.grid[1], self.dim
        )
    }
}

/// The token layers of a graph, inferred for one image: every rank-3 float tensor `[1, T, D]`
/// computed from the input after a patch embedding (a convolution whose stride equals its
/// kernel, larger than one) of `h × w` positions, with `h·w ≤ T ≤ h·w + MAX_PREFIX` (not
/// Swin's windows, `[windows, T, D]`).
pub(crate) fn find_tokens(nodes: &[Node], inferred: &Inferred) -> HashMap<String, Tokens> {
    let mut found = HashMap::new();
    let mut patches: Option<(String, [usize; 2])> = None;
    for node in nodes {
        let Some(kernel) = node.kernel.as_deref() else {
            continue;
        };
        let metas: Vec<Option<&Meta>> = node
            .inputs
            .iter()
            .map(|n| inferred.known.get(n).map(|k| &k.meta))
            .collect();
        if node.op_type == "Conv"
            && let Spatial::Window { kernel, stride, .. } = kernel.spatial(&Args::new(&metas))
            && kernel == stride
            && stride.iter().any(|&s| s > 1)
            && let Some(out) = node.outputs.first()
            && let Some(known) = inferred.known.get(out)
            && let Meta::Float(shape) = &known.meta
            && let [_, _, h, w] = shape[..]
            && known.from_input
        {
            patches = Some((out.clone(), [h, w]));
        }
        let Some((source, [h, w])) = &patches else {
            continue;
        };
        for out in &node.outputs {
            let Some(known) = inferred.known.get(out) else {
                continue;
            };
            if let (Meta::Float(shape), true) = (&known.meta, known.from_input)
                && let [1, t, d] = shape[..]
                && (h * w..=h * w + MAX_PREFIX).contains(&t)
            {
                found.insert(
                    out.clone(),
                    Tokens {
                        prefix: t - h * w,
                        grid: [*h, *w],
                        dim: d,
                        source: source.clone(),
                    },
                );
            }
        }
    }
    found
}

/// Which part of a token layer a name asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The grid tokens, `[N, D, h, w]`.
    Grid,
    /// The prefix tokens, `[N, D, 1, P]`.
    Prefix,
}

/// A token layer's value (`[N, T, D]`) as the NCHW tensor of `part`, given its patch
/// embedding's value (`[N, D', h, w]`, for the grid at this input size).
///
/// # Shapes
/// - value: `[N, T, D]` with `T = P + h·w`
/// - output: `[N, D, h, w]` (grid) or `[N, D, 1, P]` (prefix)
pub(crate) fn tokens_to_nchw(
    layer: &str,
    value: Value,
    source: &Value,
    tokens: &Tokens,
    part: Part,
) -> Result<Tensor<4>> {
    let shape = value.shape();
    let (Value::Float { tensor, .. }, &[n, t, d]) = (value, shape.as_slice()) else {
        return Err(ModelError::BadInput(format!(
            "token layer `{layer}` has shape {shape:?}, not [N, T, D]"
        )));
    };
    let grid = source.shape();
    let (h, w) = (grid[grid.len() - 2], grid[grid.len() - 1]);
    let prefix = t.checked_sub(h * w).filter(|&p| p == tokens.prefix);
    let Some(prefix) = prefix else {
        return Err(ModelError::BadInput(format!(
            "token layer `{layer}` has {t} tokens at this size, not {} prefix tokens and a {h}×{w} grid",
            tokens.prefix
        )));
    };
    let t3: Tensor<3> = tensor.reshape([n, t, d]);
    Ok(match part {
        Part::Grid => t3
            .narrow(1, prefix, h * w)
            .reshape([n, h, w, d])
            .permute([0, 3, 1, 2]),
        Part::Prefix => {
            if prefix == 0 {
                return Err(ModelError::BadInput(format!(
                    "token layer `{layer}` has no prefix tokens (no class token), only its {h}×{w} grid"
                )));
            }
            t3.narrow(1, 0, prefix)
                .reshape([n, 1, prefix, d])
                .permute([0, 3, 1, 2])
        }
    })
}
