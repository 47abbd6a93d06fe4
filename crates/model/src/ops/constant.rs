//! Values made by the graph rather than computed from the image: constants, shapes, casts
//! and ranges. <https://onnx.ai/onnx/operators/onnx__Constant.html>,
//! <https://onnx.ai/onnx/operators/onnx__ConstantOfShape.html>,
//! <https://onnx.ai/onnx/operators/onnx__Shape.html>, <https://onnx.ai/onnx/operators/onnx__Cast.html>,
//! <https://onnx.ai/onnx/operators/onnx__Range.html>

use burn::tensor::Device;

use super::Spatial;
use super::host::to_sizes;
use super::{Args, Ctx, Kernel, Outputs, one};
use crate::onnx_file::{RawTensor, read_tensor};
use crate::value::{Ints, MAX_RANK, Meta, Value};

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
    fn reads_values(&self) -> bool {
        !self.to_float
    }

    fn spatial(&self, _: &Args<'_, Meta>) -> Spatial {
        Spatial::Same
    }

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
