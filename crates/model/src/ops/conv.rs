//! Convolution. <https://onnx.ai/onnx/operators/onnx__Conv.html>

use burn::tensor::ops::ConvOptions;
use excite_core::conv::conv2d;

use super::Spatial;
use super::window::{positive, window};
use super::{Args, Ctx, Kernel, Outputs, one};
use crate::layout::Layout;
use crate::ops::Window;
use crate::value::{Meta, Value};

/// 2-D convolution: groups, dilations, strides, asymmetric or automatic pads, optional bias.
#[derive(Debug)]
struct Conv {
    window: Window,
    groups: usize,
}

/// `Conv`: input `[N, C, H, W]`, weight `[M, C/group, kH, kW]`, bias `[M]`.
pub fn conv(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    Ok(Box::new(Conv {
        window: window(&ctx.attrs, None)?,
        groups: positive(ctx.attrs.int("group", 1), "group")?,
    }))
}

impl Kernel for Conv {
    fn spatial(&self, x: &Args<'_, Meta>) -> Spatial {
        let (Ok([_, _, h, w]), Ok(weight)) = (x.nchw(0), x.float(1)) else {
            return Spatial::Global;
        };
        let &[_, _, kh, kw] = weight.as_slice() else {
            return Spatial::Global;
        };
        let window = Window {
            kernel: [kh, kw],
            ..self.window
        };
        window.spatial([h, w])
    }

    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let [n, c, h, w] = x.nchw(0)?;
        let weight = x.float(1)?;
        let &[out, per_group, kh, kw] = weight.as_slice() else {
            return Err(format!(
                "the weight {weight:?} is not a non-empty 4-D kernel"
            ));
        };
        if self.window.kernel != [0, 0] && self.window.kernel != [kh, kw] {
            return Err(format!(
                "kernel_shape {:?} disagrees with the weight's kernel {:?}",
                self.window.kernel,
                [kh, kw]
            ));
        }
        let groups = self.groups;
        if out % groups != 0 {
            return Err(format!(
                "{groups} groups do not divide the {out} output channels"
            ));
        }
        if c != per_group * groups {
            return Err(format!(
                "input has {c} channels but the weight {weight:?} with {groups} groups expects {}",
                per_group * groups
            ));
        }
        if let Some(b) = x.opt(2)
            && b.shape() != [out]
        {
            return Err(format!(
                "the bias {:?} does not fit {out} output channels",
                b.shape()
            ));
        }
        let window = Window {
            kernel: [kh, kw],
            ..self.window
        };
        let padding = window.padding_for([h, w])?;
        let [oh, ow] = window.output_dims([h, w], padding, false);
        one(Meta::Float(vec![n, out, oh, ow]))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let input = x.nchw(0)?;
        let weight = x.nchw(1)?;
        let [_, _, kh, kw] = weight.dims();
        let bias = match x.opt(2) {
            Some(_) => Some(x.fixed::<1>(2)?),
            None => None,
        };
        let window = Window {
            kernel: [kh, kw],
            ..self.window
        };
        let [_, _, h, w] = input.dims();
        let padding = window.padding_for([h, w])?;
        let options =
            ConvOptions::new_with_padding(window.strides, padding, window.dilations, self.groups);
        // Depthwise and pointwise convolutions differentiate their input by a convolution.
        one(Value::from_tensor(conv2d(input, weight, bias, options)))
    }

    fn flops(&self, x: &Args<'_, Value>, output: &Value) -> u64 {
        // weight [M, C/group, kH, kW]: each output reads C/group * kH * kW inputs.
        let per_output: usize = x.opt(1).map_or(0, |w| w.shape()[1..].iter().product());
        2 * output.shape().iter().product::<usize>() as u64 * per_output as u64
    }

    fn layout(&self, _: &[Option<Layout>]) -> Layout {
        Layout::Nchw
    }
}
