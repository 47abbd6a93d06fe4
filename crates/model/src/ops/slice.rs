//! Selecting along axes: strided slices and gathers by index.
//! <https://onnx.ai/onnx/operators/onnx__Slice.html>,
//! <https://onnx.ai/onnx/operators/onnx__Gather.html>

use burn::tensor::{Int, Tensor, TensorData};

use super::args::{Operand, normalize_axes};
use super::{Args, Ctx, Kernel, Outputs, normalize_axis, one};
use crate::value::{Ints, MAX_RANK, Meta, Value};

/// Strided slices along some axes.
#[derive(Debug)]
struct Slice {
    /// Opset < 10: starts, ends and axes are attributes.
    attrs: Option<SliceAttrs>,
}

/// The attributes of a Slice before opset 10.
#[derive(Debug)]
struct SliceAttrs {
    starts: Vec<i64>,
    ends: Vec<i64>,
    axes: Option<Vec<i64>>,
}

/// `Slice`: starts, ends, axes and steps from inputs 1–4 (attributes before opset 10).
pub fn slice(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let attrs = if ctx.opset < 10 {
        Some(SliceAttrs {
            starts: ctx.attrs.ints("starts").ok_or("Slice needs starts")?,
            ends: ctx.attrs.ints("ends").ok_or("Slice needs ends")?,
            axes: ctx.attrs.ints("axes"),
        })
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
    fn spans<O: Operand>(&self, x: &Args<'_, O>, shape: &[usize]) -> Result<Vec<Span>, String> {
        let (starts, ends, axes, steps) = match &self.attrs {
            Some(a) => (a.starts.clone(), a.ends.clone(), a.axes.clone(), None),
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
        Ok(spans)
    }
}

/// The output shape of a float slice, which must not be empty (an integer one may be: the
/// TorchScript exporter slices shapes past their end).
fn nonempty(shape: &[usize], spans: Vec<Span>) -> Result<Vec<usize>, String> {
    let out: Vec<usize> = spans.iter().map(|s| s.count).collect();
    if out.contains(&0) {
        return Err(format!("the slice of {shape:?} is empty"));
    }
    Ok(out)
}

impl Kernel for Slice {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let shape = x.float(0)?;
        one(Meta::Float(nonempty(&shape, self.spans(x, &shape)?)?))
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
        nonempty(&shape, spans.clone())?;
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
    fn resolve<O: Operand>(
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
