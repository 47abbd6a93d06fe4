//! Making a tensor larger by repetition. <https://onnx.ai/onnx/operators/onnx__Expand.html>,
//! <https://onnx.ai/onnx/operators/onnx__Tile.html>

use super::host::{broadcast, to_sizes};
use super::{Args, Ctx, Kernel, Outputs, one};
use crate::value::{MAX_RANK, Meta, Value, pad_dims};

/// Broadcasts to a shape (numpy rules: the output may be larger than the given shape).
#[derive(Debug)]
struct Expand;

/// `Expand`: input broadcast with the shape of input 1.
pub fn expand(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Expand))
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
