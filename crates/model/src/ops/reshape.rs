//! Operators that change only the shape: Reshape, Flatten, Squeeze, Unsqueeze, Identity
//! (and Dropout at inference), on float tensors and host integers alike.
//! <https://onnx.ai/onnx/operators/onnx__Reshape.html> and the others by name.

use super::Spatial;
use super::args::{Operand, normalize_axes};
use super::{Args, Ctx, Kernel, Outputs, normalize_axis, one};
use crate::value::{Ints, MAX_RANK, Meta, Value};

/// A float tensor's logical shape, or an error for an integer tensor where floats are needed.
fn shape_of<O: Operand>(x: &Args<'_, O>, i: usize) -> Result<Vec<usize>, String> {
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

/// The output shape of a reshaping op from its operands and its input's shape.
type ShapeRule = dyn Fn(&Args<'_, Meta>, &[usize]) -> Result<Vec<usize>, String> + Send + Sync;

/// A kernel that only changes the shape: its output shape is a function of the operands.
struct Reshaping {
    name: &'static str,
    shape: Box<ShapeRule>,
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
    fn spatial(&self, _: &Args<'_, Meta>) -> Spatial {
        Spatial::Same
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        one(x.get(0)?.clone())
    }
    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        one(x.get(0)?.clone())
    }
}
