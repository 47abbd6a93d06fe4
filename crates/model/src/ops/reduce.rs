//! Reductions over axes, and softmax. <https://onnx.ai/onnx/operators/onnx__ReduceMean.html>
//! (and the other `Reduce*`), <https://onnx.ai/onnx/operators/onnx__Softmax.html>,
//! <https://onnx.ai/onnx/operators/onnx__LogSoftmax.html>

use burn::tensor::{Tensor, activation};

use super::{Args, Ctx, Kernel, Outputs, normalize_axis, one};
use crate::value::{Ints, MAX_RANK, Meta, Value};

type T = Tensor<MAX_RANK>;

/// What a [`Reduce`] computes over its axes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum How {
    Mean,
    Sum,
    Max,
    Min,
    Prod,
    SumSquare,
    L2,
}

/// A reduction over `axes` (attribute, or input 1 from opset 13/18), all axes when none are
/// given (unless `noop_with_empty_axes`), keeping the reduced axes as ones when `keepdims`.
#[derive(Debug)]
struct Reduce {
    how: How,
    axes: Option<Vec<i64>>,
    keepdims: bool,
    noop: bool,
}

fn reduce(ctx: &Ctx, how: How) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Reduce {
        how,
        axes: ctx.attrs.ints("axes"),
        keepdims: ctx.attrs.int("keepdims", 1) != 0,
        noop: ctx.attrs.int("noop_with_empty_axes", 0) != 0,
    }))
}

/// `ReduceMean`.
pub fn reduce_mean(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    reduce(ctx, How::Mean)
}
/// `ReduceSum`.
pub fn reduce_sum(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    reduce(ctx, How::Sum)
}
/// `ReduceMax`.
pub fn reduce_max(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    reduce(ctx, How::Max)
}
/// `ReduceMin`.
pub fn reduce_min(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    reduce(ctx, How::Min)
}
/// `ReduceProd`.
pub fn reduce_prod(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    reduce(ctx, How::Prod)
}
/// `ReduceSumSquare`.
pub fn reduce_sum_square(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    reduce(ctx, How::SumSquare)
}
/// `ReduceL2`.
pub fn reduce_l2(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    reduce(ctx, How::L2)
}

impl Reduce {
    /// The reduced axes of a rank-`rank` operand.
    fn axes<O: super::args::Operand>(
        &self,
        x: &Args<'_, O>,
        rank: usize,
    ) -> Result<Vec<usize>, String> {
        let given = match &self.axes {
            Some(a) => Some(a.clone()),
            None => x.opt_ints(1)?.map(|v| v.data.clone()),
        };
        match given {
            Some(a) if !a.is_empty() => super::args::normalize_axes(&a, rank),
            _ if self.noop => Ok(Vec::new()),
            _ => Ok((0..rank).collect()),
        }
    }

    fn out_shape(&self, shape: &[usize], axes: &[usize]) -> Vec<usize> {
        (0..shape.len())
            .filter_map(|i| match (axes.contains(&i), self.keepdims) {
                (false, _) => Some(shape[i]),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect()
    }
}

impl Kernel for Reduce {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let shape = x.float(0)?;
        let axes = self.axes(x, shape.len())?;
        one(Meta::Float(self.out_shape(&shape, &axes)))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        if let Value::Ints(v) = x.get(0)? {
            return one(Value::Ints(self.ints(x, v)?));
        }
        let shape = x.get(0)?.shape();
        let (mut t, rank) = x.float(0)?;
        let axes = self.axes(x, rank)?;
        if matches!(self.how, How::SumSquare | How::L2) {
            t = t.clone() * t;
        }
        for &a in &axes {
            let d = MAX_RANK - rank + a;
            t = match self.how {
                How::Mean => t.mean_dim(d),
                How::Sum | How::SumSquare | How::L2 => t.sum_dim(d),
                How::Max => t.max_dim(d),
                How::Min => t.min_dim(d),
                How::Prod => t.prod_dim(d),
            };
        }
        if self.how == How::L2 {
            t = t.sqrt();
        }
        one(Value::reshaped(t, &self.out_shape(&shape, &axes)))
    }
}

impl Reduce {
    /// A reduction of an integer vector (shape arithmetic: the product of some dimensions).
    fn ints(&self, x: &Args<'_, Value>, v: &Ints) -> Result<Ints, String> {
        let axes = self.axes(x, v.shape.len())?;
        if v.shape.len() > 1 && axes.len() != v.shape.len() {
            return Err("integer reductions are supported over all axes only".into());
        }
        let d = v.data.iter().copied();
        let value = match self.how {
            How::Sum => d.sum(),
            How::Prod => d.product(),
            How::Max => d.max().ok_or("empty reduction")?,
            How::Min => d.min().ok_or("empty reduction")?,
            _ => return Err(format!("{:?} of integers is not supported", self.how)),
        };
        let shape = self.out_shape(&v.shape, &axes);
        Ints::new(shape, vec![value])
    }
}

/// Softmax or log-softmax along an axis; before opset 13, over the axes from `axis` on,
/// flattened.
#[derive(Debug)]
struct Softmax {
    axis: i64,
    legacy: bool,
    log: bool,
}

fn softmax_kernel(ctx: &Ctx, log: bool) -> Result<Box<dyn Kernel>, String> {
    let legacy = ctx.opset < 13;
    Ok(Box::new(Softmax {
        axis: ctx.attrs.int("axis", if legacy { 1 } else { -1 }),
        legacy,
        log,
    }))
}

/// `Softmax`.
pub fn softmax(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    softmax_kernel(ctx, false)
}

/// `LogSoftmax`.
pub fn log_softmax(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    softmax_kernel(ctx, true)
}

impl Kernel for Softmax {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let s = x.float(0)?;
        normalize_axis(self.axis, s.len())?;
        one(Meta::Float(s))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let shape = x.get(0)?.shape();
        let (t, rank) = x.float(0)?;
        let axis = normalize_axis(self.axis, rank)?;
        let apply = |t: Tensor<2>| {
            if self.log {
                activation::log_softmax(t, 1)
            } else {
                activation::softmax(t, 1)
            }
        };
        if self.legacy {
            let outer: usize = shape[..axis].iter().product();
            let inner: usize = shape[axis..].iter().product();
            let flat: Tensor<2> = t.reshape([outer, inner]);
            let out: T = apply(flat).reshape(crate::value::pad_dims(&shape));
            return one(Value::Float { tensor: out, rank });
        }
        let d = MAX_RANK - rank + axis;
        let tensor = if self.log {
            activation::log_softmax(t, d)
        } else {
            activation::softmax(t, d)
        };
        one(Value::Float { tensor, rank })
    }
}
