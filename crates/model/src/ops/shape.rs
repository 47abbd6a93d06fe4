//! Operators that move, select or make values without arithmetic: reshapes, transposes,
//! slices, concatenation, gathers, broadcasts, constants and shapes, on float tensors and on
//! the host's integer tensors alike. <https://onnx.ai/onnx/operators/> under each name.

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::args::normalize_axes;
use super::host::broadcast;
use super::{Args, Ctx, Kernel, Outputs, normalize_axis, one};
use crate::layout::Layout;
use crate::onnx_file::{RawTensor, read_tensor};
use crate::value::{Ints, MAX_RANK, Meta, Value, pad_dims};

/// A float tensor's logical shape, or an error for an integer tensor where floats are needed.
fn shape_of<O: super::args::Operand>(x: &Args<'_, O>, i: usize) -> Result<Vec<usize>, String> {
    let s = x.get(i)?.dims();
    if s.contains(&0) {
        return Err(format!("input {i} is an empty tensor"));
    }
    Ok(s)
}

/// The value of `x` under a new logical shape of the same element count.
fn reshape_value(v: &Value, shape: Vec<usize>) -> Result<Value, String> {
    if shape.len() > MAX_RANK {
        return Err(format!("the shape {shape:?} has a rank above {MAX_RANK}"));
    }
    Ok(match v {
        Value::Float { tensor, .. } => Value::reshaped(tensor.clone(), &shape),
        Value::Ints(i) => Value::Ints(Ints::new(shape, i.data.clone())?),
    })
}

/// The same for what is known before running.
fn reshape_meta(m: &Meta, shape: Vec<usize>) -> Result<Meta, String> {
    if shape.len() > MAX_RANK {
        return Err(format!("the shape {shape:?} has a rank above {MAX_RANK}"));
    }
    Ok(match m {
        Meta::Float(_) => Meta::Float(shape),
        Meta::Ints(i) => Meta::Ints(Ints::new(shape, i.data.clone())?),
    })
}

/// A kernel that only changes the shape: its output shape is a function of the operands.
struct Reshaping {
    name: &'static str,
    shape: Box<dyn Fn(&Args<'_, Meta>, &[usize]) -> Result<Vec<usize>, String> + Send + Sync>,
}

impl std::fmt::Debug for Reshaping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Kernel for Reshaping {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let input = x.get(0)?;
        let shape = (self.shape)(x, &shape_of(x, 0)?)?;
        one(reshape_meta(input, shape)?)
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let metas: Vec<Option<Meta>> = (0..x.len()).map(|i| x.opt(i).map(Meta::of)).collect();
        let refs: Vec<Option<&Meta>> = metas.iter().map(Option::as_ref).collect();
        let shape = (self.shape)(&Args::new(&refs), &x.get(0)?.shape())?;
        one(reshape_value(x.get(0)?, shape)?)
    }
}

fn reshaping(
    name: &'static str,
    shape: impl Fn(&Args<'_, Meta>, &[usize]) -> Result<Vec<usize>, String> + Send + Sync + 'static,
) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Reshaping {
        name,
        shape: Box::new(shape),
    }))
}

/// `Reshape`: to the shape of input 1 (`0` copies an axis unless `allowzero`, `-1` is
/// inferred).
pub fn reshape(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let allow_zero = ctx.attrs.int("allowzero", 0) != 0;
    reshaping("Reshape", move |x, shape| {
        reshape_target(shape, &x.ints(1)?.data, allow_zero)
    })
}

/// `Flatten`: to 2-D at `axis`.
pub fn flatten(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let axis = ctx.attrs.int("axis", 1);
    reshaping("Flatten", move |_, s| {
        let axis = normalize_axis(axis, s.len() + 1)?;
        Ok(vec![s[..axis].iter().product(), s[axis..].iter().product()])
    })
}

/// `Unsqueeze`: unit axes inserted at `axes` (attribute, or input 1 from opset 13).
pub fn unsqueeze(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let attr = ctx.attrs.ints("axes");
    reshaping("Unsqueeze", move |x, s| {
        let axes = match &attr {
            Some(a) => a.clone(),
            None => x.ints(1)?.data.clone(),
        };
        let axes = normalize_axes(&axes, s.len() + axes.len())?;
        let mut out = s.to_vec();
        for a in axes {
            out.insert(a, 1);
        }
        Ok(out)
    })
}

/// `Squeeze`: unit axes removed (`axes` from the attribute or input 1; all unit axes when
/// none are given).
pub fn squeeze(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let attr = ctx.attrs.ints("axes");
    reshaping("Squeeze", move |x, s| {
        let axes = match &attr {
            Some(a) => Some(a.clone()),
            None => x.opt_ints(1)?.map(|v| v.data.clone()),
        };
        let axes: Vec<usize> = match axes {
            Some(a) => normalize_axes(&a, s.len())?,
            None => (0..s.len()).filter(|&i| s[i] == 1).collect(),
        };
        if let Some(&a) = axes.iter().find(|&&a| s[a] != 1) {
            return Err(format!("axis {a} of {s:?} is not of size 1"));
        }
        Ok((0..s.len())
            .filter(|i| !axes.contains(i))
            .map(|i| s[i])
            .collect())
    })
}

/// The shape that `target` asks a tensor of `shape` to take (ONNX Reshape rules).
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

/// Passes its first input through.
#[derive(Debug)]
struct Identity;

/// `Identity`, and `Dropout` at inference.
pub fn identity(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Identity))
}

impl Kernel for Identity {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        one(x.get(0)?.clone())
    }
    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        one(x.get(0)?.clone())
    }
}

/// Permutes axes.
#[derive(Debug)]
struct Transpose {
    perm: Option<Vec<i64>>,
}

/// `Transpose` (`perm` absent: reverse the axes).
pub fn transpose(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Transpose {
        perm: ctx.attrs.ints("perm"),
    }))
}

impl Transpose {
    fn perm(&self, rank: usize) -> Result<Vec<usize>, String> {
        let perm: Vec<usize> = match &self.perm {
            Some(p) => p
                .iter()
                .map(|&v| usize::try_from(v).map_err(|_| format!("negative perm {p:?}")))
                .collect::<Result<_, _>>()?,
            None => (0..rank).rev().collect(),
        };
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        if sorted != (0..rank).collect::<Vec<_>>() {
            return Err(format!("perm {perm:?} is not a permutation of rank {rank}"));
        }
        Ok(perm)
    }
}

impl Kernel for Transpose {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let s = x.float(0)?;
        let perm = self.perm(s.len())?;
        one(Meta::Float(perm.iter().map(|&p| s[p]).collect()))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        if let Value::Ints(v) = x.get(0)? {
            return one(Value::Ints(v.transpose(&self.perm(v.shape.len())?)));
        }
        let (t, rank) = x.float(0)?;
        let perm = self.perm(rank)?;
        let offset = MAX_RANK - rank;
        let full: [usize; MAX_RANK] = std::array::from_fn(|i| {
            if i < offset {
                i
            } else {
                offset + perm[i - offset]
            }
        });
        one(Value::Float {
            tensor: t.permute(full),
            rank,
        })
    }

    fn layout(&self, inputs: &[Option<Layout>]) -> Layout {
        let from = inputs.first().copied().flatten().unwrap_or(Layout::Nchw);
        match self.perm(4) {
            Ok(perm) => from.after(&perm),
            Err(_) => Layout::Nchw,
        }
    }
}

/// Concatenation along an axis.
#[derive(Debug)]
struct Concat {
    axis: i64,
}

/// `Concat`.
pub fn concat(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Concat {
        axis: ctx.attrs.int("axis", 1),
    }))
}

impl Concat {
    fn shape<O: super::args::Operand>(
        &self,
        x: &Args<'_, O>,
    ) -> Result<(usize, Vec<usize>), String> {
        let shapes: Vec<Vec<usize>> = x.present().map(|v| v.dims()).collect();
        let first = shapes.first().ok_or("Concat has no inputs")?.clone();
        let axis = normalize_axis(self.axis, first.len())?;
        let mut out = first.clone();
        for s in &shapes[1..] {
            if s.len() != first.len() || (0..s.len()).any(|i| i != axis && s[i] != first[i]) {
                return Err(format!(
                    "cannot concatenate {first:?} and {s:?} on axis {axis}"
                ));
            }
            out[axis] += s[axis];
        }
        Ok((axis, out))
    }
}

impl Kernel for Concat {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let (_, shape) = self.shape(x)?;
        if shape.contains(&0) {
            return Err(format!("its output {shape:?} is empty"));
        }
        one(Meta::Float(shape))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let (axis, shape) = self.shape(x)?;
        if x.all_ints() {
            let parts: Vec<&Ints> = x
                .present()
                .filter_map(|v| match v {
                    Value::Ints(i) => Some(i),
                    Value::Float { .. } => None,
                })
                .collect();
            return one(Value::Ints(Ints::concat(&parts, axis)));
        }
        let device = float_device(x).expect("a float operand");
        let tensors: Vec<Tensor<MAX_RANK>> = x.present().map(|v| to_float(v, &device)).collect();
        one(Value::Float {
            tensor: Tensor::cat(tensors, MAX_RANK - shape.len() + axis),
            rank: shape.len(),
        })
    }
}

/// The device of the first float operand.
fn float_device(x: &Args<'_, Value>) -> Option<Device> {
    x.present().find_map(|v| match v {
        Value::Float { tensor, .. } => Some(tensor.device()),
        Value::Ints(_) => None,
    })
}

/// A float tensor (rank six) of `v`, integers converted on `device`.
fn to_float(v: &Value, device: &Device) -> Tensor<MAX_RANK> {
    match v {
        Value::Float { tensor, .. } => tensor.clone(),
        Value::Ints(i) => {
            let data: Vec<f32> = i.data.iter().map(|&x| x as f32).collect();
            Tensor::from_data(TensorData::new(data, pad_dims(&i.shape).to_vec()), device)
        }
    }
}

/// Splits along an axis into parts of the given sizes (equal parts when none are given).
#[derive(Debug)]
struct Split {
    axis: i64,
    sizes: Option<Vec<i64>>,
    outputs: usize,
}

/// `Split`: sizes from the attribute (opset < 13) or input 1, else equal parts (the last
/// smaller, with `num_outputs` from opset 18).
pub fn split(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Split {
        axis: ctx.attrs.int("axis", 0),
        sizes: ctx.attrs.ints("split"),
        outputs: ctx.node.output.len(),
    }))
}

impl Split {
    fn sizes<O: super::args::Operand>(
        &self,
        x: &Args<'_, O>,
        shape: &[usize],
    ) -> Result<(usize, Vec<usize>), String> {
        let axis = normalize_axis(self.axis, shape.len())?;
        let dim = shape[axis];
        let given = match &self.sizes {
            Some(s) => Some(s.clone()),
            None => x.opt_ints(1)?.map(|v| v.data.clone()),
        };
        let sizes: Vec<usize> = match given {
            Some(s) => s
                .iter()
                .map(|&v| usize::try_from(v).map_err(|_| format!("negative split {s:?}")))
                .collect::<Result<_, _>>()?,
            None => {
                let part = dim.div_ceil(self.outputs.max(1));
                (0..self.outputs)
                    .map(|i| part.min(dim.saturating_sub(i * part)))
                    .collect()
            }
        };
        if sizes.iter().sum::<usize>() != dim || sizes.len() != self.outputs || sizes.contains(&0) {
            return Err(format!(
                "split sizes {sizes:?} do not divide axis {axis} of {shape:?} into {} parts",
                self.outputs
            ));
        }
        Ok((axis, sizes))
    }
}

impl Kernel for Split {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let shape = x.float(0)?;
        let (axis, sizes) = self.sizes(x, &shape)?;
        Ok(sizes
            .into_iter()
            .map(|n| {
                let mut s = shape.clone();
                s[axis] = n;
                Meta::Float(s)
            })
            .collect())
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let (t, rank) = x.float(0)?;
        let shape = x.get(0)?.shape();
        let (axis, sizes) = self.sizes(x, &shape)?;
        Ok(t.split_with_sizes(sizes, MAX_RANK - rank + axis)
            .into_iter()
            .map(|tensor| Value::Float { tensor, rank })
            .collect())
    }
}

/// Strided slices along some axes.
#[derive(Debug)]
struct Slice {
    /// Opset < 10: starts, ends and axes are attributes.
    attrs: Option<(Vec<i64>, Vec<i64>, Option<Vec<i64>>)>,
}

/// `Slice`: starts, ends, axes and steps from inputs 1–4 (attributes before opset 10).
pub fn slice(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let attrs = if ctx.opset < 10 {
        Some((
            ctx.attrs.ints("starts").ok_or("Slice needs starts")?,
            ctx.attrs.ints("ends").ok_or("Slice needs ends")?,
            ctx.attrs.ints("axes"),
        ))
    } else {
        None
    };
    Ok(Box::new(Slice { attrs }))
}

/// One axis of a slice: the first index, the step, and how many indices.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: i64,
    step: i64,
    count: usize,
}

impl Slice {
    /// The span of every axis of `shape`.
    fn spans<O: super::args::Operand>(
        &self,
        x: &Args<'_, O>,
        shape: &[usize],
    ) -> Result<Vec<Span>, String> {
        let (starts, ends, axes, steps) = match &self.attrs {
            Some((s, e, a)) => (s.clone(), e.clone(), a.clone(), None),
            None => (
                x.ints(1)?.data.clone(),
                x.ints(2)?.data.clone(),
                x.opt_ints(3)?.map(|v| v.data.clone()),
                x.opt_ints(4)?.map(|v| v.data.clone()),
            ),
        };
        let rank = shape.len();
        let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
        if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
            return Err("starts, ends, axes and steps differ in length".into());
        }
        let mut spans: Vec<Span> = shape
            .iter()
            .map(|&d| Span {
                start: 0,
                step: 1,
                count: d,
            })
            .collect();
        normalize_axes(&axes, rank)?;
        for (k, &axis) in axes.iter().enumerate() {
            let a = normalize_axis(axis, rank)?;
            let d = shape[a] as i64;
            let step = steps[k];
            if step == 0 {
                return Err("a slice step is zero".into());
            }
            let resolve = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
            let (start, end) = (resolve(starts[k]), resolve(ends[k]));
            let step_wide = i128::from(step);
            let (start, count) = if step > 0 {
                let (s, e) = (start.clamp(0, d), end.clamp(0, d));
                let n = (i128::from(e - s) + step_wide - 1) / step_wide;
                (s, n.max(0) as i64)
            } else {
                let (s, e) = (start.clamp(0, d - 1), end.clamp(-1, d - 1));
                let n = (i128::from(s - e) - step_wide - 1) / -step_wide;
                (s, n.max(0) as i64)
            };
            spans[a] = Span {
                start,
                step,
                count: count as usize,
            };
        }
        if spans.iter().any(|s| s.count == 0) {
            return Err(format!("the slice of {shape:?} is empty"));
        }
        Ok(spans)
    }
}

impl Kernel for Slice {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let shape = x.float(0)?;
        one(Meta::Float(
            self.spans(x, &shape)?.iter().map(|s| s.count).collect(),
        ))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let shape = x.get(0)?.shape();
        let spans = self.spans(x, &shape)?;
        let out: Vec<usize> = spans.iter().map(|s| s.count).collect();
        if let Value::Ints(v) = x.get(0)? {
            let starts: Vec<i64> = spans.iter().map(|s| s.start).collect();
            let steps: Vec<i64> = spans.iter().map(|s| s.step).collect();
            return one(Value::Ints(v.select(out, &starts, &steps)));
        }
        let (t, rank) = x.float(0)?;
        let offset = MAX_RANK - rank;
        let mut ranges = vec![burn::tensor::Slice::new(0, None, 1); offset];
        let mut flips = Vec::new();
        for (a, s) in spans.iter().enumerate() {
            // A negative step reads from `last` up to `start`, then flips.
            let first = if s.step > 0 {
                s.start
            } else {
                s.start + (s.count as i64 - 1) * s.step
            };
            let stop = first + (s.count as i64 - 1) * s.step.abs() + 1;
            ranges.push(burn::tensor::Slice::new(
                first as isize,
                Some(stop as isize),
                s.step.abs() as isize,
            ));
            if s.step < 0 {
                flips.push(offset + a);
            }
        }
        let mut tensor = t.slice(ranges.as_slice());
        if !flips.is_empty() {
            for axis in flips {
                tensor = tensor.flip([axis]);
            }
        }
        one(Value::Float { tensor, rank })
    }
}

/// Broadcasts to a shape (numpy rules: the output may be larger than the given shape).
#[derive(Debug)]
struct Expand;

/// `Expand`: input broadcast with the shape of input 1.
pub fn expand(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Expand))
}

fn to_sizes(v: &[i64]) -> Result<Vec<usize>, String> {
    v.iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("bad shape {v:?}")))
        .collect()
}

impl Kernel for Expand {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let shape = broadcast(&x.float(0)?, &to_sizes(&x.ints(1)?.data)?)?;
        one(Meta::Float(shape))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let shape = broadcast(&x.get(0)?.shape(), &to_sizes(&x.ints(1)?.data)?)?;
        if shape.len() > MAX_RANK {
            return Err(format!("the shape {shape:?} has a rank above {MAX_RANK}"));
        }
        match x.get(0)? {
            Value::Ints(v) => one(Value::Ints(v.expand(shape))),
            Value::Float { tensor, .. } => one(Value::Float {
                tensor: tensor.clone().expand(pad_dims(&shape)),
                rank: shape.len(),
            }),
        }
    }
}

/// Repeats a tensor along each axis.
#[derive(Debug)]
struct Tile;

/// `Tile`: repeats from input 1.
pub fn tile(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Tile))
}

impl Kernel for Tile {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let s = x.float(0)?;
        let repeats = to_sizes(&x.ints(1)?.data)?;
        if repeats.len() != s.len() {
            return Err(format!("repeats {repeats:?} do not fit rank {}", s.len()));
        }
        one(Meta::Float(
            s.iter().zip(&repeats).map(|(d, r)| d * r).collect(),
        ))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let (mut t, rank) = x.float(0)?;
        let repeats = to_sizes(&x.ints(1)?.data)?;
        for (a, &r) in repeats.iter().enumerate() {
            if r != 1 {
                t = t.repeat_dim(MAX_RANK - rank + a, r);
            }
        }
        one(Value::Float { tensor: t, rank })
    }
}

/// Takes entries along an axis by integer indices.
#[derive(Debug)]
struct Gather {
    axis: i64,
}

/// `Gather`: data `[.., D, ..]` and indices of any shape (negative ones count from the end).
pub fn gather(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Gather {
        axis: ctx.attrs.int("axis", 0),
    }))
}

impl Gather {
    /// The axis, the resolved indices and the output shape.
    fn resolve<O: super::args::Operand>(
        &self,
        x: &Args<'_, O>,
        shape: &[usize],
    ) -> Result<(usize, Ints, Vec<usize>), String> {
        let axis = normalize_axis(self.axis, shape.len())?;
        let indices = x.ints(1)?;
        let d = shape[axis] as i64;
        let data = indices
            .data
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + d } else { i };
                if (0..d).contains(&j) {
                    Ok(j)
                } else {
                    Err(format!("index {i} is out of range for {d}"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = shape[..axis].to_vec();
        out.extend(&indices.shape);
        out.extend(&shape[axis + 1..]);
        if out.len() > MAX_RANK {
            return Err(format!("its output {out:?} has a rank above {MAX_RANK}"));
        }
        Ok((axis, Ints::new(indices.shape.clone(), data)?, out))
    }
}

impl Kernel for Gather {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let shape = x.float(0)?;
        let (_, _, out) = self.resolve(x, &shape)?;
        one(Meta::Float(out))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let shape = x.get(0)?.shape();
        let (axis, indices, out) = self.resolve(x, &shape)?;
        match x.get(0)? {
            Value::Ints(v) => one(Value::Ints(v.take(axis, &indices))),
            Value::Float { tensor, rank } => {
                let index = Tensor::<1, Int>::from_data(
                    TensorData::new(indices.data.clone(), [indices.data.len()]),
                    &tensor.device(),
                );
                let picked = tensor.clone().select(MAX_RANK - rank + axis, index);
                one(Value::reshaped(picked, &out))
            }
        }
    }
}

/// The shape of the input as integers (`start`/`end` from opset 15).
#[derive(Debug)]
struct Shape {
    start: i64,
    end: Option<i64>,
    /// `Size`: the element count instead.
    size: bool,
}

/// `Shape`.
pub fn shape(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Shape {
        start: ctx.attrs.int("start", 0),
        end: ctx.attrs.has("end").then(|| ctx.attrs.int("end", 0)),
        size: false,
    }))
}

/// `Size`: the number of elements, as a scalar.
pub fn size(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Shape {
        start: 0,
        end: None,
        size: true,
    }))
}

impl Shape {
    fn of(&self, dims: &[usize]) -> Ints {
        if self.size {
            return Ints {
                shape: vec![],
                data: vec![dims.iter().product::<usize>() as i64],
            };
        }
        let r = dims.len() as i64;
        let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let (start, end) = (clamp(self.start), clamp(self.end.unwrap_or(r)));
        Ints::vector(
            dims[start..end.max(start)]
                .iter()
                .map(|&d| d as i64)
                .collect(),
        )
    }
}

impl Kernel for Shape {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        one(Meta::Ints(self.of(&x.get(0)?.shape())))
    }
    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        one(Value::Ints(self.of(&x.get(0)?.shape())))
    }
}

/// A value fixed at load.
#[derive(Debug)]
struct Constant(Value);

/// `Constant`: from `value` (a tensor) or `value_float(s)` / `value_int(s)`.
pub fn constant(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let a = &ctx.attrs;
    let raw = if let Some(t) = a.tensor("value") {
        read_tensor(t, None)?
    } else if a.has("value_float") {
        RawTensor::Float(vec![], vec![a.float("value_float", 0.0)?])
    } else if let Some(v) = a.floats("value_floats") {
        RawTensor::Float(vec![v.len()], v)
    } else if a.has("value_int") {
        RawTensor::Int(vec![], vec![a.int("value_int", 0)])
    } else if let Some(v) = a.ints("value_ints") {
        RawTensor::Int(vec![v.len()], v)
    } else {
        return Err("only tensor, float and integer Constant values are supported".into());
    };
    Ok(Box::new(Constant(to_value(raw, ctx.device))))
}

/// Turns a decoded tensor into a graph value on `device`.
pub fn to_value(raw: RawTensor, device: &Device) -> Value {
    match raw {
        RawTensor::Float(shape, values) => Value::from_floats(&shape, values, device),
        RawTensor::Int(shape, values) => Value::Ints(Ints {
            shape,
            data: values,
        }),
    }
}

impl Kernel for Constant {
    fn infer(&self, _: &Args<'_, Meta>) -> Outputs<Meta> {
        one(Meta::of(&self.0))
    }
    fn eval(&self, _: &Args<'_, Value>) -> Outputs<Value> {
        one(self.0.clone())
    }
}

/// A tensor of the shape in input 1 filled with one value.
#[derive(Debug)]
struct ConstantOfShape {
    fill: RawTensor,
    device: Device,
}

/// `ConstantOfShape`: float zeros unless `value` says otherwise.
pub fn constant_of_shape(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let fill = match ctx.attrs.tensor("value") {
        Some(t) => read_tensor(t, None)?,
        None => RawTensor::Float(vec![1], vec![0.0]),
    };
    Ok(Box::new(ConstantOfShape {
        fill,
        device: ctx.device.clone(),
    }))
}

impl ConstantOfShape {
    fn make(&self, shape: &Ints) -> Result<Value, String> {
        let shape = to_sizes(&shape.data)?;
        let count = shape
            .iter()
            .try_fold(1usize, |p, &d| p.checked_mul(d))
            .filter(|&c| c <= crate::onnx_file::MAX_TENSOR_ELEMENTS)
            .ok_or_else(|| format!("the shape {shape:?} is too large"))?;
        if shape.len() > MAX_RANK {
            return Err(format!("the shape {shape:?} has a rank above {MAX_RANK}"));
        }
        Ok(match &self.fill {
            RawTensor::Float(_, v) => Value::from_floats(&shape, vec![v[0]; count], &self.device),
            RawTensor::Int(_, v) => Value::Ints(Ints::new(shape, vec![v[0]; count])?),
        })
    }
}

impl Kernel for ConstantOfShape {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let shape = x.ints(0)?;
        match &self.fill {
            RawTensor::Float(..) => one(Meta::Float(to_sizes(&shape.data)?)),
            RawTensor::Int(..) => one(Meta::of(&self.make(shape)?)),
        }
    }
    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        one(self.make(x.ints(0)?)?)
    }
}

/// Changes the element type: to floats (on the device) or to integers (on the host).
#[derive(Debug)]
struct Cast {
    to_float: bool,
    device: Device,
}

/// `Cast`: float, double and float16 targets give floats; integer and boolean ones integers.
pub fn cast(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let to = ctx.attrs.int("to", 1);
    let to_float = match to {
        1 | 10 | 11 | 16 => true,
        2..=7 | 9 | 12 | 13 => false,
        other => return Err(format!("Cast to ONNX type {other} is not supported")),
    };
    Ok(Box::new(Cast {
        to_float,
        device: ctx.device.clone(),
    }))
}

impl Kernel for Cast {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        match (x.get(0)?, self.to_float) {
            (Meta::Float(s), true) => one(Meta::Float(s.clone())),
            (Meta::Ints(v), true) => one(Meta::Float(v.shape.clone())),
            (Meta::Ints(v), false) => one(Meta::Ints(v.clone())),
            (Meta::Float(_), false) => {
                Err("casting activations to integers is not supported".into())
            }
        }
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        match (x.get(0)?, self.to_float) {
            (Value::Ints(v), true) => one(Value::from_floats(
                &v.shape,
                v.data.iter().map(|&d| d as f32).collect(),
                &self.device,
            )),
            (Value::Float { .. }, false) => {
                let v = x.get(0)?;
                let data = v.host_floats()?.iter().map(|&f| f as i64).collect();
                one(Value::Ints(Ints::new(v.shape(), data)?))
            }
            (v, _) => one(v.clone()),
        }
    }
}

/// Integers (or floats) from `start` below `limit` by `delta`.
#[derive(Debug)]
struct Range {
    device: Device,
}

/// `Range`.
pub fn range(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Range {
        device: ctx.device.clone(),
    }))
}

impl Kernel for Range {
    fn infer(&self, _: &Args<'_, Meta>) -> Outputs<Meta> {
        Err("Range of floats is supported on constants only".into())
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        if x.all_ints() {
            let scalar = |i: usize| -> Result<i64, String> {
                match x.ints(i)?.data.as_slice() {
                    [v] => Ok(*v),
                    _ => Err(format!("input {i} must be a scalar")),
                }
            };
            let (start, limit, delta) = (scalar(0)?, scalar(1)?, scalar(2)?);
            if delta == 0 {
                return Err("Range's delta is zero".into());
            }
            let count = ((limit - start) as f64 / delta as f64).ceil().max(0.0) as usize;
            if count > crate::onnx_file::MAX_TENSOR_ELEMENTS {
                return Err("Range is too long".into());
            }
            return one(Value::Ints(Ints::vector(
                (0..count as i64).map(|k| start + k * delta).collect(),
            )));
        }
        let scalar = |i: usize| -> Result<f32, String> {
            match x.get(i)?.host_floats()?.as_slice() {
                [v] => Ok(*v),
                _ => Err(format!("input {i} must be a scalar")),
            }
        };
        let (start, limit, delta) = (scalar(0)?, scalar(1)?, scalar(2)?);
        let count = ((limit - start) / delta).ceil();
        if !(0.0..=1e7).contains(&count) {
            return Err("Range's length is out of bounds".into());
        }
        let values: Vec<f32> = (0..count as usize)
            .map(|k| start + k as f32 * delta)
            .collect();
        one(Value::from_floats(&[values.len()], values, &self.device))
    }
}
