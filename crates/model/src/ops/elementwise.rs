//! Element-wise operators of two or more tensors, with numpy broadcasting: arithmetic,
//! comparisons, PRelu and Where. <https://onnx.ai/onnx/operators/> under each name.

use burn::tensor::Tensor;

use super::Spatial;
use super::args::{Operand, float_of};
use super::host::broadcast;
use super::{Args, Ctx, Kernel, Outputs, one};
use crate::value::{Ints, MAX_RANK, Meta, Value, pad_dims};

type T = Tensor<MAX_RANK>;

/// The arithmetic of a [`Binary`] kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Min,
    Max,
    Equal,
    Less,
    Greater,
    /// `Mod`: the remainder with the divisor's sign (`fmod` false), or with the dividend's
    /// (C's `fmod`, `fmod` true).
    Mod {
        fmod: bool,
    },
}

impl Arith {
    fn floats(self, a: T, b: T) -> T {
        match self {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
            Arith::Div => a / b,
            Arith::Pow => a.powf(b),
            Arith::Min => a.min_pair(b),
            Arith::Max => a.max_pair(b),
            Arith::Equal => a.equal(b).float(),
            Arith::Less => a.lower(b).float(),
            Arith::Greater => a.greater(b).float(),
            Arith::Mod { fmod: false } => a.remainder(b),
            Arith::Mod { fmod: true } => a.clone() - (a / b.clone()).trunc() * b,
        }
    }

    fn ints(self, a: i64, b: i64) -> Option<i64> {
        match self {
            Arith::Add => a.checked_add(b),
            Arith::Sub => a.checked_sub(b),
            Arith::Mul => a.checked_mul(b),
            Arith::Div => a.checked_div(b),
            Arith::Pow => u32::try_from(b).ok().and_then(|b| a.checked_pow(b)),
            Arith::Min => Some(a.min(b)),
            Arith::Max => Some(a.max(b)),
            Arith::Equal => Some(i64::from(a == b)),
            Arith::Less => Some(i64::from(a < b)),
            Arith::Greater => Some(i64::from(a > b)),
            Arith::Mod { fmod: true } => a.checked_rem(b),
            Arith::Mod { fmod: false } => a.checked_rem(b).map(|r| {
                if r != 0 && (r < 0) != (b < 0) {
                    r + b
                } else {
                    r
                }
            }),
        }
    }
}

/// An element-wise operation folded over its operands (two, or any number for Sum, Min,
/// Max and Mean), each result broadcast with the next operand.
#[derive(Debug)]
struct Binary {
    arith: Arith,
    /// Mean: divide the sum by the operand count.
    mean: bool,
}

fn binary(arith: Arith) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Binary { arith, mean: false }))
}

/// `Add`.
pub fn add(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Add)
}
/// `Sub`.
pub fn sub(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Sub)
}
/// `Mul`.
pub fn mul(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Mul)
}
/// `Div` (integers truncate, as onnxruntime does).
pub fn div(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Div)
}
/// `Pow`.
pub fn pow(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Pow)
}
/// `Min` of any number of operands.
pub fn min(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Min)
}
/// `Max` of any number of operands.
pub fn max(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Max)
}
/// `Sum` of any number of operands.
pub fn sum(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Add)
}
/// `Mean` of any number of operands.
pub fn mean(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Binary {
        arith: Arith::Add,
        mean: true,
    }))
}
/// `Mod` (integers as Python's `%` unless `fmod`; floats as C's `fmod` when it is set).
pub fn mod_(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Mod {
        fmod: ctx.attrs.int("fmod", 0) != 0,
    })
}
/// `Equal`: 1 where equal, else 0.
pub fn equal(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Equal)
}
/// `Less`: 1 where a < b, else 0.
pub fn less(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Less)
}
/// `Greater`: 1 where a > b, else 0.
pub fn greater(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    binary(Arith::Greater)
}

impl Kernel for Binary {
    fn spatial(&self, _: &Args<'_, Meta>) -> Spatial {
        Spatial::Same
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let mut shape: Vec<usize> = Vec::new();
        for (i, operand) in x.present().enumerate() {
            if matches!(operand, Meta::Float(s) if s.contains(&0)) {
                return Err(format!("input {i} is an empty tensor"));
            }
            shape = broadcast(&shape, &operand.shape())?;
        }
        if x.present().next().is_none() {
            return Err("input 0 is missing".into());
        }
        one(Meta::Float(shape))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        if x.all_ints() {
            let mut values = x
                .present()
                .map(|v| v.as_ints().expect("checked to be integers"));
            let first = values.next().ok_or("input 0 is missing")?.clone();
            let out = values.try_fold(first, |acc, next| {
                acc.zip(next, |a, b| self.arith.ints(a, b))
            })?;
            return one(Value::Ints(out));
        }
        let device = x.float_device().expect("not all integers");
        let mut count = 0;
        let mut acc: Option<(T, usize)> = None;
        for v in x.present() {
            let (t, rank) = float_of(v, &device);
            count += 1;
            acc = Some(match acc {
                None => (t, rank),
                Some((a, ra)) => (self.arith.floats(a, t), ra.max(rank)),
            });
        }
        let (mut tensor, rank) = acc.ok_or("input 0 is missing")?;
        if self.mean {
            tensor = tensor / count as f32;
        }
        one(Value::Float { tensor, rank })
    }
}

/// `PRelu`: x, or slope * x below zero; the slope broadcasts against x (per channel:
/// `[C, 1, 1]`).
#[derive(Debug)]
struct PRelu;

/// `PRelu`.
pub fn prelu(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(PRelu))
}

impl Kernel for PRelu {
    fn spatial(&self, _: &Args<'_, Meta>) -> Spatial {
        Spatial::Same
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let (input, slope) = (x.float(0)?, x.float(1)?);
        if broadcast(&input, &slope)? != input {
            return Err(format!(
                "the slope {slope:?} does not fit the input {input:?}"
            ));
        }
        one(Meta::Float(input))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let (t, rank) = x.float(0)?;
        let (slope, _) = x.float(1)?;
        use burn::tensor::activation::relu;
        let tensor = relu(t.clone()) - relu(-t) * slope;
        one(Value::Float { tensor, rank })
    }
}

/// `Where`: x where the condition is non-zero, else y, all three broadcast together.
#[derive(Debug)]
struct Where;

/// `Where`.
pub fn where_(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Where))
}

impl Kernel for Where {
    fn spatial(&self, _: &Args<'_, Meta>) -> Spatial {
        Spatial::Same
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let shape = broadcast(&x.get(0)?.shape(), &x.get(1)?.shape())?;
        let shape = broadcast(&shape, &x.get(2)?.shape())?;
        one(Meta::Float(shape))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let (cond, a, b) = (x.get(0)?, x.get(1)?, x.get(2)?);
        if let (Value::Ints(c), Value::Ints(a), Value::Ints(b)) = (cond, a, b) {
            let shape = broadcast(&broadcast(&c.shape, &a.shape)?, &b.shape)?;
            return one(Value::Ints(Ints::from_fn(shape, |i| {
                if c.at_broadcast(i) != 0 {
                    a.at_broadcast(i)
                } else {
                    b.at_broadcast(i)
                }
            })));
        }
        let device = [a, b, cond]
            .iter()
            .find_map(|v| match v {
                Value::Float { tensor, .. } => Some(tensor.device()),
                Value::Ints(_) => None,
            })
            .expect("one float operand");
        let shape = broadcast(&broadcast(&cond.shape(), &a.shape())?, &b.shape())?;
        let full = pad_dims(&shape);
        let (c, _) = float_of(cond, &device);
        let (a, _) = float_of(a, &device);
        let (b, _) = float_of(b, &device);
        let mask = c.expand(full).not_equal_elem(0.0);
        let tensor = b.expand(full).mask_where(mask, a.expand(full));
        one(Value::Float {
            tensor,
            rank: shape.len(),
        })
    }
}

/// `Not`: 1 where zero, else 0 (booleans are integers here).
#[derive(Debug)]
struct Not;

/// `Not`.
pub fn not(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Not))
}

impl Kernel for Not {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let v = x.ints(0)?;
        one(Meta::Ints(not_ints(v)))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        one(Value::Ints(not_ints(x.ints(0)?)))
    }
}

fn not_ints(v: &Ints) -> Ints {
    Ints {
        shape: v.shape.clone(),
        data: v.data.iter().map(|&b| i64::from(b == 0)).collect(),
    }
}
