//! Matrix products. <https://onnx.ai/onnx/operators/onnx__Gemm.html>,
//! <https://onnx.ai/onnx/operators/onnx__MatMul.html>

use super::host::broadcast;
use super::{Args, Ctx, Kernel, Outputs, one};
use crate::value::{Meta, Value};

/// `alpha * A' B' + beta * C`, A' and B' optionally transposed.
#[derive(Debug)]
struct Gemm {
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
}

/// `Gemm`: A `[M, K]` (or `[K, M]`), B `[K, N]` (or `[N, K]`), C broadcast to `[M, N]`.
pub fn gemm(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let a = &ctx.attrs;
    Ok(Box::new(Gemm {
        alpha: a.float("alpha", 1.0)?,
        beta: a.float("beta", 1.0)?,
        trans_a: a.int("transA", 0) != 0,
        trans_b: a.int("transB", 0) != 0,
    }))
}

impl Kernel for Gemm {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let (a, b) = (x.float(0)?, x.float(1)?);
        if a.len() != 2 || b.len() != 2 {
            return Err(format!("Gemm needs matrices, got {a:?} and {b:?}"));
        }
        let (m, k) = if self.trans_a {
            (a[1], a[0])
        } else {
            (a[0], a[1])
        };
        let (k2, n) = if self.trans_b {
            (b[1], b[0])
        } else {
            (b[0], b[1])
        };
        if k != k2 {
            return Err(format!("cannot multiply {a:?} by {b:?}"));
        }
        if x.opt(2).is_some() {
            let bias = x.float(2)?;
            if broadcast(&[m, n], &bias)? != [m, n] {
                return Err(format!("the bias {bias:?} does not fit [{m}, {n}]"));
            }
        }
        one(Meta::Float(vec![m, n]))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let a = x.fixed::<2>(0)?;
        let b = x.fixed::<2>(1)?;
        let a = if self.trans_a { a.transpose() } else { a };
        let b = if self.trans_b { b.transpose() } else { b };
        let mut y = a.matmul(b);
        if self.alpha != 1.0 {
            y = y * self.alpha;
        }
        let Value::Float { tensor, rank } = Value::from_tensor(y) else {
            unreachable!("a float tensor")
        };
        let tensor = match x.opt(2) {
            Some(_) => {
                let (c, _) = x.float(2)?;
                tensor + c * self.beta
            }
            None => tensor,
        };
        one(Value::Float { tensor, rank })
    }

    fn flops(&self, x: &Args<'_, Value>, output: &Value) -> u64 {
        let a = x.opt(0).map(Value::shape).unwrap_or_default();
        let k = if self.trans_a { a.first() } else { a.last() };
        2 * output.shape().iter().product::<usize>() as u64 * k.map_or(0, |&k| k as u64)
    }
}

/// Matrix product with numpy batch broadcasting.
#[derive(Debug)]
struct MatMul;

/// `MatMul`: `[.., M, K]` by `[.., K, N]` (both of rank 2 or more).
pub fn matmul(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(MatMul))
}

impl Kernel for MatMul {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let (a, b) = (x.float(0)?, x.float(1)?);
        if a.len() < 2 || b.len() < 2 {
            return Err("MatMul of vectors is not supported".into());
        }
        let (ra, rb) = (a.len(), b.len());
        if a[ra - 1] != b[rb - 2] {
            return Err(format!("cannot multiply {a:?} by {b:?}"));
        }
        let mut out = broadcast(&a[..ra - 2], &b[..rb - 2])
            .map_err(|_| format!("cannot multiply {a:?} by {b:?}"))?;
        out.extend([a[ra - 2], b[rb - 1]]);
        one(Meta::Float(out))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let (a, ra) = x.float(0)?;
        let (b, rb) = x.float(1)?;
        one(Value::Float {
            tensor: a.matmul(b),
            rank: ra.max(rb),
        })
    }

    fn flops(&self, x: &Args<'_, Value>, output: &Value) -> u64 {
        let k = x.opt(0).map(Value::shape).unwrap_or_default();
        2 * output.shape().iter().product::<usize>() as u64 * k.last().map_or(0, |&k| k as u64)
    }
}
