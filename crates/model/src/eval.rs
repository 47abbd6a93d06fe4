//! Running one parsed operator on Burn tensors.

use burn::tensor::Tensor;
use burn::tensor::activation;
use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions, PadMode};

use crate::ops::{Op, PadKind, Window};
use crate::value::{MAX_RANK, Value};

type EvalResult = Result<Value, String>;

/// Operand `i` of a node (`None` for an omitted optional input), or the error that it is
/// missing.
pub fn operand<'a, T>(inputs: &[Option<&'a T>], i: usize) -> Result<&'a T, String> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| format!("input {i} is missing"))
}

/// Evaluates `op` on its inputs (`None` for an omitted optional input).
pub fn eval(op: &Op, inputs: &[Option<&Value>]) -> EvalResult {
    let input = |i: usize| operand(inputs, i);
    let float = |i: usize| -> Result<(Tensor<MAX_RANK>, usize), String> {
        match input(i)? {
            Value::Float { tensor, rank } => Ok((tensor.clone(), *rank)),
            Value::Ints(_) => Err(format!("input {i} must be a float tensor")),
        }
    };
    let unary = |f: &dyn Fn(Tensor<MAX_RANK>) -> Tensor<MAX_RANK>| -> EvalResult {
        let (t, rank) = float(0)?;
        Ok(Value::Float { tensor: f(t), rank })
    };
    match op {
        Op::Conv { window, groups } => {
            // The shapes were checked by the op's shape rule (`infer`).
            let x = to4(input(0)?)?;
            let w = to4(input(1)?)?;
            let [_, _, kh, kw] = w.dims();
            let bias = match inputs.get(2).copied().flatten() {
                Some(b) => Some(to1(b)?),
                None => None,
            };
            let window = Window {
                kernel: [kh, kw],
                ..*window
            };
            let [_, _, h, wd] = x.dims();
            let padding = window.padding_for([h, wd])?;
            let options =
                ConvOptions::new_with_padding(window.strides, padding, window.dilations, *groups);
            Ok(Value::from_tensor(conv2d(x, w, bias, options)))
        }
        Op::MaxPool { window, ceil } => {
            let x = to4(input(0)?)?;
            let [_, _, h, w] = x.dims();
            let padding = window.padding_for([h, w])?;
            let options = MaxPoolOptions::new(window.kernel)
                .with_stride(window.strides)
                .with_padding_pairs(padding)
                .with_dilation(window.dilations)
                .with_ceil_mode(*ceil);
            Ok(Value::from_tensor(max_pool2d(x, options)))
        }
        Op::AveragePool {
            window,
            ceil,
            count_include_pad,
        } => {
            let x = to4(input(0)?)?;
            let [_, _, h, w] = x.dims();
            let padding = window.padding_for([h, w])?;
            let mut options = AvgPoolOptions::new(window.kernel)
                .with_stride(window.strides)
                .with_padding_pairs(padding)
                .with_ceil_mode(*ceil);
            options.count_include_pad = *count_include_pad;
            Ok(Value::from_tensor(avg_pool2d(x, options)))
        }
        Op::GlobalAveragePool => {
            let x = to4(input(0)?)?;
            Ok(Value::from_tensor(x.mean_dim(3).mean_dim(2)))
        }
        Op::GlobalMaxPool => {
            let x = to4(input(0)?)?;
            Ok(Value::from_tensor(x.max_dim(3).max_dim(2)))
        }
        Op::Affine { scale, shift } => {
            let (x, rank) = float(0)?;
            let (Value::Float { tensor: s, .. }, Value::Float { tensor: b, .. }) = (scale, shift)
            else {
                unreachable!("batch-norm constants are float tensors")
            };
            Ok(Value::Float {
                tensor: x * s.clone() + b.clone(),
                rank,
            })
        }
        Op::Relu => unary(&activation::relu),
        Op::Sigmoid => unary(&activation::sigmoid),
        Op::Tanh => unary(&activation::tanh),
        Op::LeakyRelu(alpha) => unary(&|t| activation::leaky_relu(t, f64::from(*alpha))),
        Op::HardSigmoid(alpha, beta) => {
            unary(&|t| activation::hard_sigmoid(t, f64::from(*alpha), f64::from(*beta)))
        }
        Op::HardSwish => unary(&activation::hard_swish),
        Op::Clip(min, max) => unary(&|t| clip(t, *min, *max)),
        Op::Add | Op::Sub | Op::Mul | Op::Div => binary(op, inputs),
        Op::Concat(axis) => concat(*axis, inputs),
        Op::Flatten(axis) => {
            let shape = input(0)?.shape();
            let axis = normalize_axis(*axis, shape.len() + 1)?;
            let (t, _) = float(0)?;
            let outer: usize = shape[..axis].iter().product();
            let inner: usize = shape[axis..].iter().product();
            Ok(Value::reshaped(t, &[outer, inner]))
        }
        Op::Reshape { allow_zero } => {
            let shape = input(0)?.shape();
            let Value::Ints(target) = input(1)? else {
                return Err("the target shape must be an integer tensor".into());
            };
            let (t, _) = float(0)?;
            Ok(Value::reshaped(
                t,
                &reshape_target(&shape, target, *allow_zero)?,
            ))
        }
        Op::Transpose(perm) => {
            let (t, rank) = float(0)?;
            let perm: Vec<usize> = perm.clone().unwrap_or_else(|| (0..rank).rev().collect());
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..rank).collect::<Vec<_>>() {
                return Err(format!("perm {perm:?} is not a permutation of rank {rank}"));
            }
            let offset = MAX_RANK - rank;
            let full: [usize; MAX_RANK] = std::array::from_fn(|i| {
                if i < offset {
                    i
                } else {
                    offset + perm[i - offset]
                }
            });
            Ok(Value::Float {
                tensor: t.permute(full),
                rank,
            })
        }
        Op::Unsqueeze(axes) => {
            let axes = axes_or_input(axes, inputs)?;
            match input(0)? {
                Value::Ints(v) => Ok(Value::Ints(v.clone())),
                Value::Float { tensor, rank } => {
                    let out_rank = rank + axes.len();
                    let mut axes: Vec<usize> = axes
                        .iter()
                        .map(|&a| normalize_axis(a, out_rank))
                        .collect::<Result<_, _>>()?;
                    axes.sort_unstable();
                    let mut shape = input(0)?.shape();
                    for a in axes {
                        shape.insert(a, 1);
                    }
                    check_rank(shape.len())?;
                    Ok(Value::reshaped(tensor.clone(), &shape))
                }
            }
        }
        Op::Squeeze(axes) => {
            let shape = input(0)?.shape();
            let axes: Vec<usize> = match axes.clone().or_else(|| ints_input(inputs, 1)) {
                Some(a) => a
                    .iter()
                    .map(|&a| normalize_axis(a, shape.len()))
                    .collect::<Result<_, _>>()?,
                None => (0..shape.len()).filter(|&i| shape[i] == 1).collect(),
            };
            match input(0)? {
                Value::Ints(v) => Ok(Value::Ints(v.clone())),
                Value::Float { tensor, .. } => {
                    let kept: Vec<usize> = (0..shape.len())
                        .filter(|i| !axes.contains(i))
                        .map(|i| shape[i])
                        .collect();
                    Ok(Value::reshaped(tensor.clone(), &kept))
                }
            }
        }
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => {
            let a = to2(input(0)?)?;
            let b = to2(input(1)?)?;
            let a = if *trans_a { a.transpose() } else { a };
            let b = if *trans_b { b.transpose() } else { b };
            if a.dims()[1] != b.dims()[0] {
                return Err(format!("cannot multiply {:?} by {:?}", a.dims(), b.dims()));
            }
            let mut y = a.matmul(b);
            if *alpha != 1.0 {
                y = y * *alpha;
            }
            let y = Value::from_tensor(y);
            match inputs.get(2).copied().flatten() {
                Some(Value::Float { tensor: c, .. }) => {
                    let Value::Float { tensor, rank } = y else {
                        unreachable!()
                    };
                    Ok(Value::Float {
                        tensor: tensor + c.clone() * *beta,
                        rank,
                    })
                }
                _ => Ok(y),
            }
        }
        Op::MatMul => {
            let (a, ra) = float(0)?;
            let (b, rb) = float(1)?;
            if ra < 2 || rb < 2 {
                return Err("MatMul of vectors is not supported".into());
            }
            Ok(Value::Float {
                tensor: a.matmul(b),
                rank: ra.max(rb),
            })
        }
        Op::Softmax { axis, legacy } => {
            let shape = input(0)?.shape();
            let (t, rank) = float(0)?;
            let axis = normalize_axis(*axis, rank)?;
            if *legacy {
                let outer: usize = shape[..axis].iter().product();
                let inner: usize = shape[axis..].iter().product();
                let t: Tensor<2> = t.reshape([outer, inner]);
                Ok(Value::reshaped(
                    activation::softmax(t, 1).reshape(crate::value::pad_dims(&shape)),
                    &shape,
                ))
            } else {
                Ok(Value::Float {
                    tensor: activation::softmax(t, MAX_RANK - rank + axis),
                    rank,
                })
            }
        }
        Op::Identity => Ok(input(0)?.clone()),
        Op::Pad { pads, kind } => {
            let (t, rank) = float(0)?;
            let pads = pads
                .clone()
                .or_else(|| ints_input(inputs, 1))
                .ok_or("Pad needs constant pads")?;
            if pads.len() != 2 * rank || pads.iter().any(|&p| p < 0) {
                return Err(format!(
                    "pads {pads:?} must hold 2 x rank non-negative values"
                ));
            }
            let pairs: Vec<(usize, usize)> = (0..rank)
                .map(|i| (pads[i] as usize, pads[i + rank] as usize))
                .collect();
            let mode = match kind {
                PadKind::Constant(v) => PadMode::Constant(*v),
                PadKind::Reflect => PadMode::Reflect,
                PadKind::Edge => PadMode::Edge,
            };
            Ok(Value::Float {
                tensor: t.pad(pairs, mode),
                rank,
            })
        }
        Op::Lrn {
            alpha,
            beta,
            bias,
            size,
        } => {
            let x = to4(input(0)?)?;
            let [n, c, h, w] = x.dims();
            // Sum of squares over a window of channels: an average pool over the channel axis.
            let squares: Tensor<4> = (x.clone() * x.clone()).reshape([n, 1, c, h * w]);
            let before = (size - 1) / 2;
            let after = size - 1 - before;
            let mut options = AvgPoolOptions::new([*size, 1])
                .with_stride([1, 1])
                .with_padding_pairs([(before, after), (0, 0)]);
            options.count_include_pad = true;
            let sums = avg_pool2d(squares, options).reshape([n, c, h, w]) * (*size as f32);
            let denominator = (sums * (*alpha / *size as f32) + *bias).powf_scalar(*beta);
            Ok(Value::from_tensor(x / denominator))
        }
        Op::Constant(v) => Ok(v.clone()),
        Op::Shape => Ok(Value::Ints(
            input(0)?.shape().iter().map(|&d| d as i64).collect(),
        )),
        Op::Gather => {
            let (Value::Ints(data), Value::Ints(indices)) = (input(0)?, input(1)?) else {
                return Err("Gather is supported on shape vectors only".into());
            };
            indices
                .iter()
                .map(|&i| {
                    let i = normalize_axis(i, data.len())?;
                    Ok(data[i])
                })
                .collect::<Result<_, String>>()
                .map(Value::Ints)
        }
    }
}

/// `min(max(x, lo), hi)` written with ReLUs: `lo + relu(x - lo) - relu(x - hi)`. Backends
/// have fused ReLU kernels forward and backward, while `clamp` differentiates through two
/// masked fills (the top hotspot of a render on the CPU backend; see BENCHMARKS.md).
fn clip(x: Tensor<MAX_RANK>, lo: f32, hi: f32) -> Tensor<MAX_RANK> {
    use activation::relu;
    match (lo.is_finite(), hi.is_finite()) {
        (true, true) if lo == 0.0 => relu(x.clone()) - relu(x - hi),
        (true, true) => relu(x.clone() - lo) - relu(x - hi) + lo,
        (true, false) if lo == 0.0 => relu(x),
        (true, false) => relu(x - lo) + lo,
        (false, true) => -relu(-x + hi) + hi,
        (false, false) => x,
    }
}

fn check_rank(rank: usize) -> Result<(), String> {
    if rank > MAX_RANK {
        Err(format!("rank {rank} is above the supported {MAX_RANK}"))
    } else {
        Ok(())
    }
}

fn to4(v: &Value) -> Result<Tensor<4>, String> {
    match v {
        Value::Float { tensor, rank: 4 } => Ok(tensor.clone().reshape(last::<4>(&v.shape()))),
        _ => Err(format!(
            "expected an NCHW tensor, got shape {:?}",
            v.shape()
        )),
    }
}

fn to2(v: &Value) -> Result<Tensor<2>, String> {
    match v {
        Value::Float { tensor, rank: 2 } => Ok(tensor.clone().reshape(last::<2>(&v.shape()))),
        _ => Err(format!("expected a matrix, got shape {:?}", v.shape())),
    }
}

fn to1(v: &Value) -> Result<Tensor<1>, String> {
    match v {
        Value::Float { tensor, rank: 1 } => Ok(tensor.clone().reshape([v.shape()[0]])),
        _ => Err(format!("expected a vector, got shape {:?}", v.shape())),
    }
}

fn last<const D: usize>(shape: &[usize]) -> [usize; D] {
    std::array::from_fn(|i| shape[shape.len() - D + i])
}

/// Resolves a possibly negative axis against `rank`.
pub fn normalize_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r.max(1)).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} is out of range for rank {rank}"))
    }
}

fn ints_input(inputs: &[Option<&Value>], i: usize) -> Option<Vec<i64>> {
    match inputs.get(i).copied().flatten() {
        Some(Value::Ints(v)) => Some(v.clone()),
        _ => None,
    }
}

fn axes_or_input(axes: &Option<Vec<i64>>, inputs: &[Option<&Value>]) -> Result<Vec<i64>, String> {
    axes.clone()
        .or_else(|| ints_input(inputs, 1))
        .ok_or_else(|| "the axes must be constant".to_string())
}

pub fn reshape_target(
    shape: &[usize],
    target: &[i64],
    allow_zero: bool,
) -> Result<Vec<usize>, String> {
    let total: usize = shape.iter().product();
    if target.len() > MAX_RANK {
        return Err(format!(
            "the target shape {target:?} has a rank above {MAX_RANK}"
        ));
    }
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allow_zero => out.push(*shape.get(i).ok_or("shape 0 copies a missing axis")?),
            d if d >= 0 => out.push(d as usize),
            _ => return Err(format!("bad target shape {target:?}")),
        }
    }
    let known = out
        .iter()
        .try_fold(1usize, |p, &d| p.checked_mul(d))
        .ok_or_else(|| format!("the target shape {target:?} overflows"))?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {shape:?} to {target:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!("cannot reshape {shape:?} to {target:?}"));
    }
    Ok(out)
}

fn binary(op: &Op, inputs: &[Option<&Value>]) -> EvalResult {
    let mut values = inputs.iter().copied().flatten();
    let first = values.next().ok_or("no inputs")?.clone();
    values.try_fold(first, |acc, next| combine(op, acc, next))
}

fn combine(op: &Op, a: Value, b: &Value) -> EvalResult {
    match (a, b) {
        (
            Value::Float {
                tensor: x,
                rank: ra,
            },
            Value::Float {
                tensor: y,
                rank: rb,
            },
        ) => {
            let (sa, sb) = (x.dims(), y.dims());
            if (0..MAX_RANK).any(|i| sa[i] != sb[i] && sa[i] != 1 && sb[i] != 1) {
                return Err(format!(
                    "shapes {:?} and {:?} do not broadcast",
                    &sa[MAX_RANK - ra..],
                    &sb[MAX_RANK - rb..]
                ));
            }
            let y = y.clone();
            let tensor = match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
                _ => unreachable!("not a binary op"),
            };
            Ok(Value::Float {
                tensor,
                rank: ra.max(*rb),
            })
        }
        (Value::Ints(x), Value::Ints(y)) => {
            let n = x.len().max(y.len());
            let at = |v: &Vec<i64>, i: usize| if v.len() == 1 { v[0] } else { v[i] };
            if (x.len() != n && x.len() != 1) || (y.len() != n && y.len() != 1) {
                return Err("integer vectors do not broadcast".into());
            }
            (0..n)
                .map(|i| {
                    let (p, q) = (at(&x, i), at(y, i));
                    match op {
                        Op::Add => p.checked_add(q),
                        Op::Sub => p.checked_sub(q),
                        Op::Mul => p.checked_mul(q),
                        _ => p.checked_div(q),
                    }
                    .ok_or_else(|| format!("integer overflow or division by zero in {p} and {q}"))
                })
                .collect::<Result<_, _>>()
                .map(Value::Ints)
        }
        _ => Err("cannot mix float tensors and integer vectors".into()),
    }
}

fn concat(axis: i64, inputs: &[Option<&Value>]) -> EvalResult {
    let values: Vec<&Value> = inputs.iter().copied().flatten().collect();
    if values.iter().all(|v| matches!(v, Value::Ints(_))) {
        let mut out = Vec::new();
        for v in values {
            if let Value::Ints(x) = v {
                out.extend_from_slice(x);
            }
        }
        return Ok(Value::Ints(out));
    }
    let mut tensors = Vec::with_capacity(values.len());
    let mut rank = None;
    for v in values {
        match v {
            Value::Float { tensor, rank: r } if rank.is_none_or(|x| x == *r) => {
                rank = Some(*r);
                tensors.push(tensor.clone());
            }
            _ => return Err("Concat inputs must be float tensors of one rank".into()),
        }
    }
    let rank = rank.ok_or("Concat has no inputs")?;
    let axis = normalize_axis(axis, rank)?;
    let dim = MAX_RANK - rank + axis;
    let first = tensors[0].dims();
    for t in &tensors[1..] {
        let d = t.dims();
        if (0..MAX_RANK).any(|i| i != dim && d[i] != first[i]) {
            return Err(format!(
                "cannot concatenate {first:?} and {d:?} on axis {axis}"
            ));
        }
    }
    Ok(Value::Float {
        tensor: Tensor::cat(tensors, dim),
        rank,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_resolves_minus_one_and_zero() {
        assert_eq!(
            reshape_target(&[2, 3, 4], &[0, -1], false).unwrap(),
            vec![2, 12]
        );
        assert_eq!(reshape_target(&[2, 3, 4], &[-1], false).unwrap(), vec![24]);
        assert!(reshape_target(&[2, 3, 4], &[5, -1], false).is_err());
    }

    #[test]
    fn clip_matches_clamp_on_every_kind_of_bound() {
        use burn::tensor::{Device, TensorData};
        let values: Vec<f32> = (-20..=20).map(|i| i as f32 * 0.5).collect();
        let x = Tensor::<MAX_RANK>::from_data(
            TensorData::new(values.clone(), [1, 1, 1, 1, 1, values.len()]),
            &Device::flex(),
        );
        for (lo, hi) in [
            (0.0, 6.0),
            (-1.5, 2.0),
            (0.0, f32::INFINITY),
            (1.0, f32::INFINITY),
            (f32::NEG_INFINITY, 3.0),
            (f32::NEG_INFINITY, f32::INFINITY),
        ] {
            let got = clip(x.clone(), lo, hi)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            for (v, g) in values.iter().zip(got) {
                assert_eq!(g, v.max(lo).min(hi), "clip({v}, {lo}, {hi})");
            }
        }
    }

    #[test]
    fn axes_wrap_negative() {
        assert_eq!(normalize_axis(-1, 4).unwrap(), 3);
        assert!(normalize_axis(4, 4).is_err());
    }
}
