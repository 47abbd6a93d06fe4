//! Joining and splitting along an axis. <https://onnx.ai/onnx/operators/onnx__Concat.html>,
//! <https://onnx.ai/onnx/operators/onnx__Split.html>

use burn::tensor::Tensor;

use super::Spatial;
use super::args::{Operand, float_of};
use super::{Args, Ctx, Kernel, Outputs, normalize_axis, one};
use crate::value::{Ints, MAX_RANK, Meta, Value};

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
    fn shape<O: Operand>(&self, x: &Args<'_, O>) -> Result<(usize, Vec<usize>), String> {
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
    fn spatial(&self, x: &Args<'_, Meta>) -> Spatial {
        channel_axis(self.axis, x)
    }

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
        let device = x.float_device().expect("a float operand");
        let tensors: Vec<Tensor<MAX_RANK>> = x.present().map(|v| float_of(v, &device).0).collect();
        one(Value::Float {
            tensor: Tensor::cat(tensors, MAX_RANK - shape.len() + axis),
            rank: shape.len(),
        })
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
    fn sizes<O: Operand>(
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
    fn spatial(&self, x: &Args<'_, Meta>) -> Spatial {
        channel_axis(self.axis, x)
    }

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

/// `Same` for a join or split along the channels of a 4-D tensor, else `Global`.
fn channel_axis(axis: i64, x: &Args<'_, Meta>) -> Spatial {
    match x.get(0).map(|m| m.shape().len()) {
        Ok(4) if normalize_axis(axis, 4) == Ok(1) => Spatial::Same,
        _ => Spatial::Global,
    }
}
