//! Element-wise functions of one tensor, and Clip. Each is a [`Unary`] kernel; see
//! <https://onnx.ai/onnx/operators/> under each op's name for its definition.

use burn::tensor::Tensor;
use burn::tensor::activation as act;

use super::Spatial;
use super::{Args, Ctx, Kernel, Outputs, one};
use crate::value::{Ints, MAX_RANK, Meta, Value};

type T = Tensor<MAX_RANK>;
type FloatFn = Box<dyn Fn(T) -> T + Send + Sync>;

/// A function applied to every element: of float tensors, and of integer tensors when
/// `int` says how.
struct Unary {
    name: &'static str,
    float: FloatFn,
    int: Option<fn(i64) -> i64>,
}

impl std::fmt::Debug for Unary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

fn unary(
    name: &'static str,
    float: impl Fn(T) -> T + Send + Sync + 'static,
) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Unary {
        name,
        float: Box::new(float),
        int: None,
    }))
}

fn unary_int(
    name: &'static str,
    float: impl Fn(T) -> T + Send + Sync + 'static,
    int: fn(i64) -> i64,
) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Unary {
        name,
        float: Box::new(float),
        int: Some(int),
    }))
}

impl Kernel for Unary {
    fn spatial(&self, _: &Args<'_, Meta>) -> Spatial {
        Spatial::Same
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        match (x.get(0)?, self.int) {
            (Meta::Ints(v), Some(f)) => one(Meta::Ints(map_ints(v, f))),
            _ => one(Meta::Float(x.float(0)?)),
        }
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        match (x.get(0)?, self.int) {
            (Value::Ints(v), Some(f)) => one(Value::Ints(map_ints(v, f))),
            _ => {
                let (t, rank) = x.float(0)?;
                one(Value::Float {
                    tensor: (self.float)(t),
                    rank,
                })
            }
        }
    }
}

fn map_ints(v: &Ints, f: fn(i64) -> i64) -> Ints {
    Ints {
        shape: v.shape.clone(),
        data: v.data.iter().map(|&x| f(x)).collect(),
    }
}

/// `Relu`: max(x, 0).
pub fn relu(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Relu", act::relu)
}

/// `Sigmoid`: 1 / (1 + exp(-x)), excite's op (one multithreaded pass each way on flex, the
/// backward from the saved output).
pub fn sigmoid(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Sigmoid", excite_core::sigmoid::sigmoid)
}

/// `Tanh`.
pub fn tanh(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Tanh", act::tanh)
}

/// `LeakyRelu`: x, or alpha * x below zero.
pub fn leaky_relu(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let alpha = f64::from(ctx.attrs.float("alpha", 0.01)?);
    unary("LeakyRelu", move |t| act::leaky_relu(t, alpha))
}

/// `HardSigmoid`: max(0, min(1, alpha * x + beta)).
pub fn hard_sigmoid(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let alpha = f64::from(ctx.attrs.float("alpha", 0.2)?);
    let beta = f64::from(ctx.attrs.float("beta", 0.5)?);
    unary("HardSigmoid", move |t| act::hard_sigmoid(t, alpha, beta))
}

/// `HardSwish`: x * relu6(x + 3) / 6.
pub fn hard_swish(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("HardSwish", act::hard_swish)
}

/// `Elu`: x above zero, alpha * (exp(x) - 1) below.
pub fn elu(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let alpha = f64::from(ctx.attrs.float("alpha", 1.0)?);
    unary("Elu", move |t| act::elu(t, alpha))
}

/// `Celu`: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).
pub fn celu(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let alpha = f64::from(ctx.attrs.float("alpha", 1.0)?);
    if alpha == 0.0 {
        return Err("Celu's alpha must not be zero".into());
    }
    unary("Celu", move |t| act::celu(t, alpha))
}

/// `Selu`: gamma * elu(x, alpha).
pub fn selu(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let alpha = f64::from(ctx.attrs.float("alpha", 1.673_263_2)?);
    let gamma = ctx.attrs.float("gamma", 1.050_701)?;
    unary("Selu", move |t| act::elu(t, alpha) * gamma)
}

/// `Softplus`: log(1 + exp(x)), computed as relu(x) + log(1 + exp(-|x|)) so that it never
/// overflows.
pub fn softplus(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Softplus", softplus_stable)
}

fn softplus_stable(t: T) -> T {
    act::relu(t.clone()) + (t.abs().neg().exp() + 1.0).log()
}

/// `Softsign`: x / (1 + |x|).
pub fn softsign(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Softsign", act::softsign)
}

/// `Mish`: x * tanh(softplus(x)).
pub fn mish(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Mish", |t: T| t.clone() * softplus_stable(t).tanh())
}

/// `Gelu`: exact (erf) or, with `approximate = "tanh"`, the tanh approximation.
pub fn gelu(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    match ctx.attrs.string("approximate", "none").as_str() {
        "none" => unary("Gelu", act::gelu),
        "tanh" => unary("Gelu", act::gelu_approximate),
        other => Err(format!("unknown Gelu approximation `{other}`")),
    }
}

/// `Erf`: the error function.
pub fn erf(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Erf", T::erf)
}

/// `Sqrt`.
pub fn sqrt(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Sqrt", T::sqrt)
}

/// `Exp`.
pub fn exp(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Exp", T::exp)
}

/// `Log`.
pub fn log(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Log", T::log)
}

/// `Reciprocal`: 1 / x.
pub fn reciprocal(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary("Reciprocal", T::recip)
}

/// `Neg`: -x (integers too).
pub fn neg(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary_int("Neg", T::neg, i64::wrapping_neg)
}

/// `Abs`: |x| (integers too).
pub fn abs(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary_int("Abs", T::abs, i64::wrapping_abs)
}

/// `Sign`: -1, 0 or 1 (integers too).
pub fn sign(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary_int("Sign", T::sign, i64::signum)
}

/// `IsNaN`: 1 where NaN, else 0 (booleans are 0/1 here; never NaN on integers). The
/// dynamo exporter guards attention with it: `Where(IsNaN(p), 0, p)`.
pub fn is_nan(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary_int("IsNaN", |t: T| t.is_nan().float(), |_| 0)
}

/// `Floor` (the identity on integers).
pub fn floor(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary_int("Floor", T::floor, |x| x)
}

/// `Ceil` (the identity on integers).
pub fn ceil(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    unary_int("Ceil", T::ceil, |x| x)
}

/// `Clip`: bounds from attributes (opset < 11) or constant inputs (opset 11 on).
pub fn clip(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let (lo, hi) = if ctx.opset < 11 {
        (
            ctx.attrs.float("min", f32::NEG_INFINITY)?,
            ctx.attrs.float("max", f32::INFINITY)?,
        )
    } else {
        (
            ctx.const_scalar(1, f32::NEG_INFINITY)?,
            ctx.const_scalar(2, f32::INFINITY)?,
        )
    };
    if lo.is_nan() || hi.is_nan() {
        return Err("Clip's bounds must not be NaN".into());
    }
    unary("Clip", move |t| excite_core::clip::clip(t, lo, hi))
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;

    fn tensor(values: &[f32]) -> T {
        T::from_data(
            TensorData::new(values.to_vec(), [1, 1, 1, 1, 1, values.len()]),
            &Device::flex(),
        )
    }

    fn values(t: T) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn softplus_is_finite_and_exact_far_out() {
        let got = values(softplus_stable(tensor(&[-100.0, 0.0, 100.0, 1.0])));
        assert_eq!(got[0], 0.0);
        assert!((got[1] - 2f32.ln()).abs() < 1e-6);
        assert_eq!(got[2], 100.0);
        assert!((got[3] - (1.0 + 1f32.exp()).ln()).abs() < 1e-6);
    }
}
