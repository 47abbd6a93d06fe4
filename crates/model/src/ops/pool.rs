//! Pooling over windows and over whole feature maps.
//! <https://onnx.ai/onnx/operators/onnx__MaxPool.html>,
//! <https://onnx.ai/onnx/operators/onnx__AveragePool.html>,
//! <https://onnx.ai/onnx/operators/onnx__GlobalAveragePool.html>,
//! <https://onnx.ai/onnx/operators/onnx__GlobalMaxPool.html>

use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};

use super::Spatial;
use super::window::window;
use super::{Args, Ctx, Kernel, Outputs, Window, one};
use crate::layout::Layout;
use crate::value::{Meta, Value};

/// Max or average pooling over a window.
#[derive(Debug)]
struct Pool {
    window: Window,
    ceil: bool,
    /// `None` for max pooling; for average pooling, whether padded cells count.
    average: Option<bool>,
}

/// `MaxPool`: `[N, C, H, W]` to `[N, C, H', W']` (the indices output is not supported).
pub fn max_pool(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    pool(ctx, None)
}

/// `AveragePool`: `[N, C, H, W]` to `[N, C, H', W']`.
pub fn average_pool(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    pool(ctx, Some(ctx.attrs.int("count_include_pad", 0) != 0))
}

fn pool(ctx: &Ctx, average: Option<bool>) -> Result<Box<dyn Kernel>, String> {
    if ctx.node.output.iter().skip(1).any(|o| !o.is_empty()) {
        return Err("the indices output of MaxPool is not supported".into());
    }
    let kernel = ctx
        .attrs
        .ints("kernel_shape")
        .ok_or_else(|| format!("{} needs kernel_shape", ctx.node.op_type))?;
    Ok(Box::new(Pool {
        window: window(&ctx.attrs, Some(kernel))?,
        ceil: ctx.attrs.int("ceil_mode", 0) != 0,
        average,
    }))
}

impl Kernel for Pool {
    fn spatial(&self, x: &Args<'_, Meta>) -> Spatial {
        match x.nchw(0) {
            Ok([_, _, h, w]) => self.window.spatial([h, w]),
            Err(_) => Spatial::Global,
        }
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let [n, c, h, w] = x.nchw(0)?;
        let padding = self.window.padding_for([h, w])?;
        let [oh, ow] = self.window.output_dims([h, w], padding, self.ceil);
        one(Meta::Float(vec![n, c, oh, ow]))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let input = x.nchw(0)?;
        let [_, _, h, w] = input.dims();
        let window = &self.window;
        let padding = window.padding_for([h, w])?;
        let out = match self.average {
            None => max_pool2d(
                input,
                MaxPoolOptions::new(window.kernel)
                    .with_stride(window.strides)
                    .with_padding_pairs(padding)
                    .with_dilation(window.dilations)
                    .with_ceil_mode(self.ceil),
            ),
            Some(count_include_pad) => {
                let mut options = AvgPoolOptions::new(window.kernel)
                    .with_stride(window.strides)
                    .with_padding_pairs(padding)
                    .with_ceil_mode(self.ceil);
                options.count_include_pad = count_include_pad;
                avg_pool2d(input, options)
            }
        };
        one(Value::from_tensor(out))
    }

    fn layout(&self, _: &[Option<Layout>]) -> Layout {
        Layout::Nchw
    }
}

/// Mean or max over all spatial positions.
#[derive(Debug)]
struct Global {
    max: bool,
}

/// `GlobalAveragePool`: `[N, C, H, W]` to `[N, C, 1, 1]`.
pub fn global_average_pool(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Global { max: false }))
}

/// `GlobalMaxPool`: `[N, C, H, W]` to `[N, C, 1, 1]`.
pub fn global_max_pool(_: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Global { max: true }))
}

impl Kernel for Global {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let [n, c, _, _] = x.nchw(0)?;
        one(Meta::Float(vec![n, c, 1, 1]))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let input = x.nchw(0)?;
        let out = if self.max {
            input.max_dim(3).max_dim(2)
        } else {
            input.mean_dim(3).mean_dim(2)
        };
        one(Value::from_tensor(out))
    }

    fn layout(&self, _: &[Option<Layout>]) -> Layout {
        Layout::Nchw
    }
}
