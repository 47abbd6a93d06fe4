//! Resizing of image tensors. <https://onnx.ai/onnx/operators/onnx__Resize.html>,
//! <https://onnx.ai/onnx/operators/onnx__Upsample.html>

use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use super::{Args, Ctx, Kernel, Outputs, one};
use crate::layout::Layout;
use crate::value::{Meta, Value};

/// Where the output size comes from.
#[derive(Debug, Clone)]
enum Target {
    /// Scales `[1, 1, sh, sw]` known at load.
    Scales([f32; 2]),
    /// Integer sizes (input 3 of Resize), read per run.
    Sizes,
    /// Float scales computed by the graph (input `i`), read back per run.
    RuntimeScales(usize),
}

/// Nearest (asymmetric, floor) or bilinear resizing of `[N, C, H, W]`.
#[derive(Debug)]
struct Resize {
    target: Target,
    mode: InterpolateMode,
    align_corners: bool,
}

/// `Resize` (opset 10 on): modes nearest (asymmetric coordinates with floor rounding, as
/// PyTorch exports it) and linear (half-pixel or align-corners coordinates).
pub fn resize(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let scales_input = if ctx.opset < 11 { 1 } else { 2 };
    let target = if ctx.has_input(3) {
        Target::Sizes
    } else {
        scales(ctx, scales_input)?
    };
    kernel(ctx, target)
}

/// `Upsample` (deprecated; scales from an attribute or input 1).
pub fn upsample(ctx: &Ctx) -> Result<Box<dyn Kernel>, String> {
    let target = match ctx.attrs.floats("scales") {
        Some(s) => fixed_scales(&s)?,
        None => scales(ctx, 1)?,
    };
    kernel(ctx, target)
}

fn scales(ctx: &Ctx, input: usize) -> Result<Target, String> {
    match ctx.const_floats(input)? {
        Some(s) => fixed_scales(&s),
        None if ctx.has_input(input) => Ok(Target::RuntimeScales(input)),
        None => Err("Resize needs scales or sizes".into()),
    }
}

fn fixed_scales(s: &[f32]) -> Result<Target, String> {
    match s {
        [n, c, h, w]
            if *n == 1.0 && *c == 1.0 && *h > 0.0 && *w > 0.0 && *h <= 64.0 && *w <= 64.0 =>
        {
            Ok(Target::Scales([*h, *w]))
        }
        _ => Err(format!(
            "only spatial scales of [N, C, H, W] in (0, 64] are supported, got {s:?}"
        )),
    }
}

fn kernel(ctx: &Ctx, target: Target) -> Result<Box<dyn Kernel>, String> {
    let a = &ctx.attrs;
    let coordinates = a.string("coordinate_transformation_mode", "half_pixel");
    let (mode, align_corners) = match (a.string("mode", "nearest").as_str(), coordinates.as_str()) {
        ("nearest", "asymmetric") if ctx.opset >= 11 => {
            match a.string("nearest_mode", "round_prefer_floor").as_str() {
                "floor" => (InterpolateMode::Nearest, false),
                other => {
                    return Err(format!(
                        "nearest_mode `{other}` is not supported (floor is)"
                    ));
                }
            }
        }
        ("nearest", "half_pixel" | "pytorch_half_pixel") if ctx.opset >= 11 => {
            match a.string("nearest_mode", "round_prefer_floor").as_str() {
                // Half-pixel centres rounded: ties cannot occur at integer scales.
                "round_prefer_floor" | "round_prefer_ceil" => {
                    (InterpolateMode::NearestExact, false)
                }
                other => return Err(format!("nearest_mode `{other}` is not supported here")),
            }
        }
        ("nearest", _) if ctx.opset < 11 => (InterpolateMode::Nearest, false),
        ("linear" | "bilinear", "half_pixel" | "pytorch_half_pixel") => {
            (InterpolateMode::Bilinear, false)
        }
        ("linear" | "bilinear", "align_corners") => (InterpolateMode::Bilinear, true),
        ("linear" | "bilinear", _) if ctx.opset < 11 => (InterpolateMode::Bilinear, false),
        (mode, coordinates) => {
            return Err(format!(
                "mode `{mode}` with coordinates `{coordinates}` is not supported"
            ));
        }
    };
    Ok(Box::new(Resize {
        target,
        mode,
        align_corners,
    }))
}

impl Resize {
    fn size<O: super::args::Operand>(
        &self,
        x: &Args<'_, O>,
        [h, w]: [usize; 2],
        runtime: impl Fn(usize) -> Result<Vec<f32>, String>,
    ) -> Result<[usize; 2], String> {
        let from_scales = |sh: f32, sw: f32| {
            [
                (h as f32 * sh).floor() as usize,
                (w as f32 * sw).floor() as usize,
            ]
        };
        let size = match &self.target {
            Target::Scales([sh, sw]) => from_scales(*sh, *sw),
            Target::RuntimeScales(i) => match fixed_scales(&runtime(*i)?)? {
                Target::Scales([sh, sw]) => from_scales(sh, sw),
                _ => unreachable!("fixed scales"),
            },
            Target::Sizes => match x.ints(3)?.data.as_slice() {
                [_, _, oh, ow] => [*oh as usize, *ow as usize],
                other => return Err(format!("sizes {other:?} must hold four values")),
            },
        };
        if size.iter().any(|&d| d == 0 || d > 1 << 14) {
            return Err(format!("the output size {size:?} is out of range"));
        }
        Ok(size)
    }
}

impl Kernel for Resize {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let [n, c, h, w] = x.nchw(0)?;
        // Scales computed at run time are checked when they are read.
        let [oh, ow] = match self.target {
            Target::RuntimeScales(_) => [h, w],
            _ => self.size(x, [h, w], |_| unreachable!("not run-time scales"))?,
        };
        one(Meta::Float(vec![n, c, oh, ow]))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let input = x.nchw(0)?;
        let [_, _, h, w] = input.dims();
        let size = self.size(x, [h, w], |i| x.get(i)?.host_floats())?;
        let mut options =
            InterpolateOptions::new(self.mode.clone()).with_align_corners(self.align_corners);
        options.output_size = Some(size);
        one(Value::from_tensor(interpolate(input, options)))
    }

    fn layout(&self, _: &[Option<Layout>]) -> Layout {
        Layout::Nchw
    }
}
