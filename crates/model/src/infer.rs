//! Static shape inference: every node's output shape (and, for shape arithmetic, its integer
//! values) from the declared input shape and the weights, with each op's operands checked —
//! before any activation exists. Loading runs it, so a malformed model is refused at load
//! with an error naming the node, and `layers` lists shapes without running the model.

use std::collections::HashMap;

use crate::error::ModelError;
use crate::eval::{eval, normalize_axis, operand, reshape_target};
use crate::graph::Node;
use crate::onnx_file::MAX_TENSOR_ELEMENTS;
use crate::ops::{Op, Window};
use crate::value::{MAX_RANK, Value};

/// What is known of a value before the model runs: a float tensor's shape, or the integers
/// of a shape computation.
#[derive(Clone, Debug, PartialEq)]
pub enum Meta {
    /// A float tensor of this shape.
    Float(Vec<usize>),
    /// A small integer vector, whose values are known.
    Ints(Vec<i64>),
}

impl Meta {
    /// What is known of a value that exists (a weight, a constant).
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Float { .. } => Meta::Float(value.shape()),
            Value::Ints(v) => Meta::Ints(v.clone()),
        }
    }

    /// The shape of a float value; the length of an integer vector.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Meta::Float(s) => s.clone(),
            Meta::Ints(v) => vec![v.len()],
        }
    }
}

type Inferred = Result<Meta, String>;

/// The largest pad of a `Pad` node: far above any real CNN.
const MAX_PAD: i64 = 1 << 14;

/// What is known of every node's output, in node order, given the graph input and weights.
/// The first node whose operands do not fit is the error.
pub fn infer_graph(
    nodes: &[Node],
    weights: &HashMap<String, Value>,
    input: (&str, Meta),
) -> Result<Vec<Meta>, ModelError> {
    let weights: HashMap<&str, Meta> = weights
        .iter()
        .map(|(name, value)| (name.as_str(), Meta::of(value)))
        .collect();
    let mut known: HashMap<&str, Meta> = HashMap::from([input]);
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        let inputs: Vec<Option<&Meta>> = node
            .inputs
            .iter()
            .map(|name| {
                known
                    .get(name.as_str())
                    .or_else(|| weights.get(name.as_str()))
            })
            .collect();
        let meta = infer(&node.op, &inputs).map_err(|reason| ModelError::BadNode {
            node: node.name.clone(),
            op: node.op_type.clone(),
            reason,
        })?;
        known.insert(node.outputs[0].as_str(), meta.clone());
        out.push(meta);
    }
    Ok(out)
}

/// The output of `op` on inputs described by `inputs` (`None` for an omitted optional input).
pub fn infer(op: &Op, inputs: &[Option<&Meta>]) -> Inferred {
    let input = |i: usize| operand(inputs, i);
    let float = |i: usize| -> Result<Vec<usize>, String> {
        match input(i)? {
            Meta::Float(s) if s.contains(&0) => Err(format!("input {i} is an empty tensor")),
            Meta::Float(s) => Ok(s.clone()),
            Meta::Ints(_) => Err(format!("input {i} must be a float tensor")),
        }
    };
    let nchw = |i: usize| -> Result<[usize; 4], String> {
        let s = float(i)?;
        <[usize; 4]>::try_from(s.as_slice())
            .map_err(|_| format!("expected an NCHW tensor, got shape {s:?}"))
    };
    // Shape arithmetic on known integers runs as it will at run time (on the host).
    if inputs.iter().flatten().all(|m| matches!(m, Meta::Ints(_)))
        && !inputs.iter().all(Option::is_none)
        && !matches!(op, Op::Shape | Op::Constant(_))
    {
        let values: Vec<Option<Value>> = inputs
            .iter()
            .map(|m| {
                m.map(|m| {
                    Value::Ints(match m {
                        Meta::Ints(v) => v.clone(),
                        Meta::Float(_) => unreachable!("all integers"),
                    })
                })
            })
            .collect();
        let refs: Vec<Option<&Value>> = values.iter().map(Option::as_ref).collect();
        return eval(op, &refs).map(|v| Meta::of(&v));
    }
    let shape = match op {
        Op::Conv { window, groups } => conv(
            window,
            *groups,
            nchw(0)?,
            &float(1)?,
            inputs.get(2).copied().flatten(),
        )?,
        Op::MaxPool { window, ceil } | Op::AveragePool { window, ceil, .. } => {
            let [n, c, h, w] = nchw(0)?;
            let padding = window.padding_for([h, w])?;
            let [oh, ow] = window.output_dims([h, w], padding, *ceil);
            vec![n, c, oh, ow]
        }
        Op::GlobalAveragePool | Op::GlobalMaxPool => {
            let [n, c, _, _] = nchw(0)?;
            vec![n, c, 1, 1]
        }
        Op::Affine { scale, .. } => {
            let s = float(0)?;
            let channels = scale.shape()[0];
            if s.len() < 2 || s[1] != channels {
                return Err(format!(
                    "the input {s:?} does not have the {channels} channels of the statistics"
                ));
            }
            s
        }
        Op::Lrn { .. } => nchw(0)?.to_vec(),
        Op::Relu
        | Op::Sigmoid
        | Op::Tanh
        | Op::LeakyRelu(_)
        | Op::HardSigmoid(..)
        | Op::HardSwish
        | Op::Clip(..) => float(0)?,
        Op::Softmax { axis, .. } => {
            let s = float(0)?;
            normalize_axis(*axis, s.len())?;
            s
        }
        Op::Identity => return input(0).cloned(),
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            let mut out: Vec<usize> = Vec::new();
            for (i, _) in inputs.iter().enumerate().filter(|(_, m)| m.is_some()) {
                out = broadcast(&out, &float(i)?)?;
            }
            out
        }
        Op::Concat(axis) => concat(*axis, inputs)?,
        Op::Flatten(axis) => {
            let s = float(0)?;
            let axis = normalize_axis(*axis, s.len() + 1)?;
            vec![s[..axis].iter().product(), s[axis..].iter().product()]
        }
        Op::Reshape { allow_zero } => match input(1)? {
            Meta::Ints(target) => reshape_target(&float(0)?, target, *allow_zero)?,
            Meta::Float(_) => return Err("the target shape must be an integer tensor".into()),
        },
        Op::Transpose(perm) => {
            let s = float(0)?;
            let perm: Vec<usize> = perm.clone().unwrap_or_else(|| (0..s.len()).rev().collect());
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..s.len()).collect::<Vec<_>>() {
                return Err(format!(
                    "perm {perm:?} is not a permutation of rank {}",
                    s.len()
                ));
            }
            perm.iter().map(|&p| s[p]).collect()
        }
        Op::Unsqueeze(_) | Op::Squeeze(_) | Op::Pad { .. } => return integer_operands(op, inputs),
        Op::Gemm {
            trans_a, trans_b, ..
        } => {
            let (a, b) = (float(0)?, float(1)?);
            if a.len() != 2 || b.len() != 2 {
                return Err(format!("Gemm needs matrices, got {a:?} and {b:?}"));
            }
            let (m, k) = if *trans_a { (a[1], a[0]) } else { (a[0], a[1]) };
            let (k2, n) = if *trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
            if k != k2 {
                return Err(format!("cannot multiply {a:?} by {b:?}"));
            }
            if inputs.get(2).copied().flatten().is_some() {
                let bias = float(2)?;
                if broadcast(&[m, n], &bias)? != [m, n] {
                    return Err(format!("the bias {bias:?} does not fit [{m}, {n}]"));
                }
            }
            vec![m, n]
        }
        Op::MatMul => {
            let (a, b) = (float(0)?, float(1)?);
            if a.len() < 2 || b.len() < 2 {
                return Err("MatMul of vectors is not supported".into());
            }
            let (ra, rb) = (a.len(), b.len());
            if a[ra - 1] != b[rb - 2] {
                return Err(format!("cannot multiply {a:?} by {b:?}"));
            }
            let mut out = broadcast(&a[..ra - 2], &b[..rb - 2])
                .map_err(|_| format!("cannot multiply {a:?} by {b:?}"))?;
            out.extend([a[ra - 2], b[rb - 1]]);
            out
        }
        Op::Constant(v) => return Ok(Meta::of(v)),
        Op::Shape => {
            return Ok(Meta::Ints(
                input(0)?.shape().iter().map(|&d| d as i64).collect(),
            ));
        }
        Op::Gather => return Err("Gather is supported on shape vectors only".into()),
    };
    if shape.len() > MAX_RANK {
        return Err(format!("its output {shape:?} has a rank above {MAX_RANK}"));
    }
    match shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d)) {
        Some(0) => Err(format!("its output {shape:?} is empty")),
        Some(n) if n <= MAX_TENSOR_ELEMENTS => Ok(Meta::Float(shape)),
        _ => Err(format!(
            "its output {shape:?} would hold more than {MAX_TENSOR_ELEMENTS} values"
        )),
    }
}

fn conv(
    window: &Window,
    groups: usize,
    [n, c, h, w]: [usize; 4],
    weight: &[usize],
    bias: Option<&Meta>,
) -> Result<Vec<usize>, String> {
    let &[out, per_group, kh, kw] = weight else {
        return Err(format!(
            "the weight {weight:?} is not a non-empty 4-D kernel"
        ));
    };
    if window.kernel != [0, 0] && window.kernel != [kh, kw] {
        return Err(format!(
            "kernel_shape {:?} disagrees with the weight's kernel {:?}",
            window.kernel,
            [kh, kw]
        ));
    }
    if out % groups != 0 {
        return Err(format!(
            "{groups} groups do not divide the {out} output channels"
        ));
    }
    if c != per_group * groups {
        return Err(format!(
            "input has {c} channels but the weight {weight:?} with {groups} groups expects {}",
            per_group * groups
        ));
    }
    if let Some(b) = bias
        && b.shape() != [out]
    {
        return Err(format!(
            "the bias {:?} does not fit {out} output channels",
            b.shape()
        ));
    }
    let window = Window {
        kernel: [kh, kw],
        ..*window
    };
    let padding = window.padding_for([h, w])?;
    let [oh, ow] = window.output_dims([h, w], padding, false);
    Ok(vec![n, out, oh, ow])
}

/// Numpy broadcasting of two shapes.
fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let rank = a.len().max(b.len());
    let at = |s: &[usize], i: usize| (i + s.len()).checked_sub(rank).map_or(1, |j| s[j]);
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

fn concat(axis: i64, inputs: &[Option<&Meta>]) -> Result<Vec<usize>, String> {
    let shapes: Vec<Vec<usize>> = inputs
        .iter()
        .flatten()
        .map(|m| match m {
            Meta::Float(s) => Ok(s.clone()),
            Meta::Ints(_) => Err("Concat inputs must be float tensors of one rank".to_string()),
        })
        .collect::<Result<_, _>>()?;
    let first = shapes.first().ok_or("Concat has no inputs")?.clone();
    let axis = normalize_axis(axis, first.len())?;
    let mut out = first.clone();
    for s in &shapes[1..] {
        if s.len() != first.len() || (0..s.len()).any(|i| i != axis && s[i] != first[i]) {
            return Err(format!(
                "cannot concatenate {first:?} and {s:?} on axis {axis}"
            ));
        }
        out[axis] += s[axis];
    }
    Ok(out)
}

/// Unsqueeze, Squeeze and Pad of a float tensor: their axes or pads are integers, from an
/// attribute or a constant input.
fn integer_operands(op: &Op, inputs: &[Option<&Meta>]) -> Inferred {
    let Some(Meta::Float(shape)) = inputs.first().copied().flatten() else {
        return Err("input 0 is missing".into());
    };
    let ints = |given: &Option<Vec<i64>>| -> Option<Vec<i64>> {
        given
            .clone()
            .or_else(|| match inputs.get(1).copied().flatten() {
                Some(Meta::Ints(v)) => Some(v.clone()),
                _ => None,
            })
    };
    let out = match op {
        Op::Unsqueeze(axes) => {
            let axes = ints(axes).ok_or("the axes must be constant")?;
            let rank = shape.len() + axes.len();
            let mut axes: Vec<usize> = axes
                .iter()
                .map(|&a| normalize_axis(a, rank))
                .collect::<Result<_, _>>()?;
            axes.sort_unstable();
            if axes.windows(2).any(|w| w[0] == w[1]) {
                return Err(format!("the axes {axes:?} repeat"));
            }
            let mut out = shape.clone();
            for a in axes {
                out.insert(a, 1);
            }
            out
        }
        Op::Squeeze(axes) => {
            let axes: Vec<usize> = match ints(axes) {
                Some(a) => a
                    .iter()
                    .map(|&a| normalize_axis(a, shape.len()))
                    .collect::<Result<_, _>>()?,
                None => (0..shape.len()).filter(|&i| shape[i] == 1).collect(),
            };
            if let Some(&a) = axes.iter().find(|&&a| shape[a] != 1) {
                return Err(format!("axis {a} of {shape:?} is not of size 1"));
            }
            (0..shape.len())
                .filter(|i| !axes.contains(i))
                .map(|i| shape[i])
                .collect()
        }
        Op::Pad { pads, .. } => {
            let pads = ints(pads).ok_or("Pad needs constant pads")?;
            let rank = shape.len();
            if pads.len() != 2 * rank || pads.iter().any(|&p| !(0..=MAX_PAD).contains(&p)) {
                return Err(format!(
                    "pads {pads:?} must hold 2 x rank values in 0..={MAX_PAD}"
                ));
            }
            (0..rank)
                .map(|i| shape[i] + pads[i] as usize + pads[i + rank] as usize)
                .collect()
        }
        _ => unreachable!("only Unsqueeze, Squeeze and Pad"),
    };
    if out.len() > MAX_RANK {
        return Err(format!("its output {out:?} has a rank above {MAX_RANK}"));
    }
    Ok(Meta::Float(out))
}
