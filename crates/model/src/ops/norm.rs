//! Normalisations. <https://onnx.ai/onnx/operators/onnx__BatchNormalization.html>,
//! <https://onnx.ai/onnx/operators/onnx__InstanceNormalization.html>,
//! <https://onnx.ai/onnx/operators/onnx__LayerNormalization.html>,
//! <https://onnx.ai/onnx/operators/onnx__LRN.html>

use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Tensor, TensorData};

use super::Spatial;
use super::window::positive;
use super::{Args, Ctx, Kernel, Outputs, normalize_axis, one};
use crate::layout::Layout;
use crate::value::{MAX_RANK, Meta, Value};

type T = Tensor<MAX_RANK>;

/// Inference batch norm folded to `x * scale + shift` per channel (axis 1) at load.
#[derive(Debug)]
struct Affine {
    /// `gamma / sqrt(var + eps)`.
    scale: Tensor<1>,
    /// `beta - mean * scale`.
    shift: Tensor<1>,
}

/// `BatchNormalization` (inference): input `[N, C, ..]`, four constant `[C]` statistics.
pub fn batch_norm(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let epsilon = ctx.attrs.float("epsilon", 1e-5)?;
    let get = |i: usize| -> Result<Vec<f32>, String> {
        ctx.const_floats(i)?
            .ok_or_else(|| format!("input {i} must be a constant float tensor"))
    };
    let (gamma, beta, mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
    let c = gamma.len();
    if [beta.len(), mean.len(), var.len()].iter().any(|&l| l != c) {
        return Err("scale, bias, mean and variance differ in length".into());
    }
    let scale: Vec<f32> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / (v + epsilon).sqrt())
        .collect();
    let shift: Vec<f32> = beta
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    let vector = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [c]), ctx.device);
    Ok(Box::new(Affine {
        scale: vector(scale),
        shift: vector(shift),
    }))
}

/// A `[C]` vector shaped to broadcast over axis 1 of a rank-`rank` tensor.
fn per_channel(v: &Tensor<1>, rank: usize) -> T {
    let mut shape = vec![1; rank];
    shape[1] = v.dims()[0];
    v.clone().reshape(crate::value::pad_dims(&shape))
}

impl Kernel for Affine {
    fn spatial(&self, _: &Args<'_, Meta>) -> Spatial {
        Spatial::Same
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let s = x.float(0)?;
        let channels = self.scale.dims()[0];
        if s.len() < 2 || s[1] != channels {
            return Err(format!(
                "the input {s:?} does not have the {channels} channels of the statistics"
            ));
        }
        one(Meta::Float(s))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let (t, rank) = x.float(0)?;
        one(Value::Float {
            tensor: t * per_channel(&self.scale, rank) + per_channel(&self.shift, rank),
            rank,
        })
    }

    fn layout(&self, _: &[Option<Layout>]) -> Layout {
        Layout::Nchw
    }
}

/// Normalisation over trailing axes, then an affine map.
#[derive(Debug)]
struct Standardize {
    epsilon: f32,
    /// InstanceNormalization: axes 2.. with per-channel scale and bias; LayerNormalization:
    /// axes `axis..` with scale and bias shaped like them.
    instance: bool,
    axis: i64,
}

/// `InstanceNormalization`: input `[N, C, H, W]`, scale and bias `[C]`.
pub fn instance_norm(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Standardize {
        epsilon: ctx.attrs.float("epsilon", 1e-5)?,
        instance: true,
        axis: 2,
    }))
}

/// `LayerNormalization`: normalises axes `axis..`; scale (and bias) broadcast over them.
pub fn layer_norm(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    if ctx.node.output.iter().skip(1).any(|o| !o.is_empty()) {
        return Err("the mean and inverse deviation outputs are not supported".into());
    }
    Ok(Box::new(Standardize {
        epsilon: ctx.attrs.float("epsilon", 1e-5)?,
        instance: false,
        axis: ctx.attrs.int("axis", -1),
    }))
}

impl Standardize {
    fn first_axis(&self, rank: usize) -> Result<usize, String> {
        let axis = normalize_axis(self.axis, rank)?;
        if self.instance && rank < 3 {
            return Err(format!(
                "expected a tensor of rank 3 or more, got rank {rank}"
            ));
        }
        Ok(axis)
    }
}

impl Kernel for Standardize {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let s = x.float(0)?;
        let axis = self.first_axis(s.len())?;
        let scale = x.float(1)?;
        let fits = if self.instance {
            scale == [s[1]]
        } else {
            super::host::broadcast(&s[axis..], &scale).is_ok_and(|b| b == s[axis..])
        };
        if !fits {
            return Err(format!("the scale {scale:?} does not fit the input {s:?}"));
        }
        one(Meta::Float(s))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let (t, rank) = x.float(0)?;
        let first = MAX_RANK - rank + self.first_axis(rank)?;
        let mut mean = t.clone();
        for d in first..MAX_RANK {
            mean = mean.mean_dim(d);
        }
        let centred = t - mean;
        let mut var = centred.clone() * centred.clone();
        for d in first..MAX_RANK {
            var = var.mean_dim(d);
        }
        let normalized = centred / (var + self.epsilon).sqrt();
        let (scale, bias) = if self.instance {
            (
                per_channel(&x.fixed::<1>(1)?, rank),
                per_channel(&x.fixed::<1>(2)?, rank),
            )
        } else {
            let (s, _) = x.float(1)?;
            let b = match x.opt(2) {
                Some(_) => Some(x.float(2)?.0),
                None => None,
            };
            let tensor = normalized * s;
            let tensor = match b {
                Some(b) => tensor + b,
                None => tensor,
            };
            return one(Value::Float { tensor, rank });
        };
        one(Value::Float {
            tensor: normalized * scale + bias,
            rank,
        })
    }
}

/// Local response normalisation across channels.
#[derive(Debug)]
struct Lrn {
    alpha: f32,
    beta: f32,
    bias: f32,
    size: usize,
}

/// `LRN`: `[N, C, H, W]`.
pub fn lrn(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let a = &ctx.attrs;
    Ok(Box::new(Lrn {
        alpha: a.float("alpha", 1e-4)?,
        beta: match a.float("beta", 0.75)? {
            b if b.abs() <= 16.0 => b,
            b => return Err(format!("LRN's beta must be in -16..=16, got {b}")),
        },
        bias: a.float("bias", 1.0)?,
        size: positive(a.int("size", 0), "size")?,
    }))
}

impl Kernel for Lrn {
    fn spatial(&self, _: &Args<'_, Meta>) -> Spatial {
        Spatial::Same
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        one(Meta::Float(x.nchw(0)?.to_vec()))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let input = x.nchw(0)?;
        let [n, c, h, w] = input.dims();
        let size = self.size;
        // Sum of squares over a window of channels: an average pool over the channel axis.
        let squares: Tensor<4> = (input.clone() * input.clone()).reshape([n, 1, c, h * w]);
        let before = (size - 1) / 2;
        let after = size - 1 - before;
        let mut options = AvgPoolOptions::new([size, 1])
            .with_stride([1, 1])
            .with_padding_pairs([(before, after), (0, 0)]);
        options.count_include_pad = true;
        let sums = avg_pool2d(squares, options).reshape([n, c, h, w]) * (size as f32);
        let denominator = (sums * (self.alpha / size as f32) + self.bias).powf_scalar(self.beta);
        one(Value::from_tensor(input / denominator))
    }

    fn layout(&self, _: &[Option<Layout>]) -> Layout {
        Layout::Nchw
    }
}
