//! Resizing of image tensors: nearest sampling by index, linear by Burn's bilinear
//! interpolation, cubic as a product with per-axis weight matrices. <https://onnx.ai/onnx/operators/onnx__Resize.html>,
//! <https://onnx.ai/onnx/operators/onnx__Upsample.html>

use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Int, Tensor, TensorData};

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

/// How output pixels take their values.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sampling {
    /// The nearest input pixel under a coordinate transform and a rounding rule, picked by
    /// index (exact for every ONNX mode, differentiable as a gather).
    Nearest {
        coordinates: Coordinates,
        rounding: Rounding,
    },
    /// Bilinear, with corners aligned or half-pixel centres (Burn's `interpolate`).
    Linear { align_corners: bool },
    /// Bilinear under a coordinate transform `interpolate` lacks (asymmetric: the legacy
    /// `Upsample` and opset-10 `Resize`), as a product with one weight matrix per axis.
    LinearWeights(Coordinates),
    /// Bicubic with coefficient `a` (PyTorch's −0.75, TensorFlow's −0.5), as a product with
    /// one weight matrix per axis (so it is exact for every ONNX option and differentiable
    /// on every backend).
    Cubic(Cubic),
}

/// The options of cubic resizing.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cubic {
    a: f32,
    coordinates: Coordinates,
    /// Weights of positions outside the input are zero (then renormalised), instead of the
    /// edge value being repeated.
    exclude_outside: bool,
    /// When downscaling, the kernel is stretched by the scale (opset 18's `antialias`).
    antialias: bool,
}

/// ONNX's `coordinate_transformation_mode` for nearest sampling.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Coordinates {
    HalfPixel,
    PytorchHalfPixel,
    Asymmetric,
    AlignCorners,
    TfHalfPixelForNn,
}

/// ONNX's `nearest_mode`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rounding {
    PreferFloor,
    PreferCeil,
    Floor,
    Ceil,
}

/// Resizing of `[N, C, H, W]` to a size from scales or sizes.
#[derive(Debug)]
struct Resize {
    target: Target,
    sampling: Sampling,
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
    let legacy = ctx.opset < 11;
    let coordinates = if legacy {
        "asymmetric".to_string()
    } else {
        a.string("coordinate_transformation_mode", "half_pixel")
    };
    let sampling = match a.string("mode", "nearest").as_str() {
        "nearest" => Sampling::Nearest {
            coordinates: match coordinates.as_str() {
                "half_pixel" => Coordinates::HalfPixel,
                "pytorch_half_pixel" => Coordinates::PytorchHalfPixel,
                "asymmetric" => Coordinates::Asymmetric,
                "align_corners" => Coordinates::AlignCorners,
                "tf_half_pixel_for_nn" => Coordinates::TfHalfPixelForNn,
                other => return Err(format!("coordinate mode `{other}` is not supported")),
            },
            rounding: match a.string("nearest_mode", "round_prefer_floor").as_str() {
                _ if legacy => Rounding::Floor,
                "round_prefer_floor" => Rounding::PreferFloor,
                "round_prefer_ceil" => Rounding::PreferCeil,
                "floor" => Rounding::Floor,
                "ceil" => Rounding::Ceil,
                other => return Err(format!("nearest_mode `{other}` is not supported")),
            },
        },
        "linear" | "bilinear" => match coordinates.as_str() {
            "half_pixel" | "pytorch_half_pixel" => Sampling::Linear {
                align_corners: false,
            },
            "align_corners" => Sampling::Linear {
                align_corners: true,
            },
            "asymmetric" => Sampling::LinearWeights(Coordinates::Asymmetric),
            other => {
                return Err(format!(
                    "linear resizing with coordinates `{other}` is not supported"
                ));
            }
        },
        "cubic" => Sampling::Cubic(Cubic {
            a: a.float("cubic_coeff_a", -0.75)?,
            coordinates: match coordinates.as_str() {
                "half_pixel" => Coordinates::HalfPixel,
                "pytorch_half_pixel" => Coordinates::PytorchHalfPixel,
                "asymmetric" => Coordinates::Asymmetric,
                "align_corners" => Coordinates::AlignCorners,
                other => {
                    return Err(format!(
                        "cubic resizing with coordinates `{other}` is not supported"
                    ));
                }
            },
            exclude_outside: a.int("exclude_outside", 0) != 0,
            antialias: a.int("antialias", 0) != 0,
        }),
        other => return Err(format!("mode `{other}` is not supported")),
    };
    Ok(Box::new(Resize { target, sampling }))
}

/// The input index each of `out` output positions reads along an axis of `len`, for nearest
/// sampling at `scale` (output / input).
fn nearest_indices(
    len: usize,
    out: usize,
    scale: f32,
    coordinates: Coordinates,
    rounding: Rounding,
) -> Vec<i64> {
    (0..out)
        .map(|i| {
            let source = source_coordinate(i as f32, len, out, scale, coordinates);
            let tie = source.fract().abs() == 0.5;
            let picked = match rounding {
                Rounding::PreferFloor if tie => source.floor(),
                Rounding::PreferCeil if tie => source.ceil(),
                Rounding::PreferFloor | Rounding::PreferCeil => source.round(),
                Rounding::Floor => source.floor(),
                Rounding::Ceil => source.ceil(),
            };
            picked.clamp(0.0, (len - 1) as f32) as i64
        })
        .collect()
}

/// The input coordinate of output position `x` along an axis of `len` resized to `out` at
/// `scale` (output / input).
fn source_coordinate(x: f32, len: usize, out: usize, scale: f32, coordinates: Coordinates) -> f32 {
    match coordinates {
        Coordinates::HalfPixel => (x + 0.5) / scale - 0.5,
        Coordinates::PytorchHalfPixel if out > 1 => (x + 0.5) / scale - 0.5,
        Coordinates::PytorchHalfPixel => 0.0,
        Coordinates::Asymmetric => x / scale,
        Coordinates::AlignCorners if out > 1 => x * (len - 1) as f32 / (out - 1) as f32,
        Coordinates::AlignCorners => 0.0,
        Coordinates::TfHalfPixelForNn => (x + 0.5) / scale,
    }
}

/// The `[out, len]` matrix of linear interpolation along an axis of `len` resized to `out` at
/// `scale`: each output between the two inputs around its source coordinate, edge values
/// repeated beyond the ends (ONNX's reference).
fn linear_weights(len: usize, out: usize, scale: f32, coordinates: Coordinates) -> Vec<f32> {
    let mut matrix = vec![0f32; out * len];
    let last = len as i64 - 1;
    for o in 0..out {
        let x = source_coordinate(o as f32, len, out, scale, coordinates);
        let left = x.floor();
        let ratio = x - left;
        let left = left as i64;
        matrix[o * len + left.clamp(0, last) as usize] += 1.0 - ratio;
        matrix[o * len + (left + 1).clamp(0, last) as usize] += ratio;
    }
    matrix
}

/// Resizes the two last axes of `input` to `size` by the `[out, len]` weight matrices that
/// `weights(axis)` gives (axis 0: rows, 1: columns).
///
/// # Shapes
/// - input: `[N, C, H, W]`
/// - output: `[N, C, size[0], size[1]]`
fn separable(input: Tensor<4>, size: [usize; 2], weights: impl Fn(usize) -> Vec<f32>) -> Tensor<4> {
    let [n, c, h, w] = input.dims();
    let device = input.device();
    let rows = Tensor::<2>::from_data(TensorData::new(weights(0), [size[0], h]), &device);
    let columns = Tensor::<2>::from_data(TensorData::new(weights(1), [size[1], w]), &device);
    let columns = columns
        .transpose()
        .unsqueeze::<4>()
        .expand([n, c, w, size[1]]);
    let rows = rows.unsqueeze::<4>().expand([n, c, size[0], h]);
    rows.matmul(input.matmul(columns))
}

impl Cubic {
    /// The cubic convolution kernel (Keys, with parameter `a`).
    fn kernel(&self, x: f32) -> f32 {
        let (a, x) = (self.a, x.abs());
        if x <= 1.0 {
            ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
        } else if x < 2.0 {
            ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
        } else {
            0.0
        }
    }

    /// The `[out, len]` matrix that resizes an axis of `len` to `out` at `scale`, as ONNX's
    /// reference computes it: each output takes the neighbours of its source coordinate
    /// (the nearest on the left counted first), edge values repeated beyond the ends.
    fn weights(&self, len: usize, out: usize, scale: f32) -> Vec<f32> {
        let stretch = if self.antialias { scale.min(1.0) } else { 1.0 };
        let first = (-2.0 / stretch).floor() as i64 + 1;
        let mut matrix = vec![0f32; out * len];
        for o in 0..out {
            let x = source_coordinate(o as f32, len, out, scale, self.coordinates);
            let left = x.ceil() as i64 - 1;
            let ratio = x - left as f32;
            let taps: Vec<(i64, f32)> = (first..2 - first)
                .map(|i| (left + i, self.kernel((i as f32 - ratio) * stretch)))
                .filter(|&(i, _)| !self.exclude_outside || (0..len as i64).contains(&i))
                .collect();
            let total: f32 = taps.iter().map(|t| t.1).sum();
            let norm = if self.antialias || self.exclude_outside {
                total
            } else {
                1.0
            };
            for (i, w) in taps {
                let i = i.clamp(0, len as i64 - 1) as usize;
                matrix[o * len + i] += w / norm;
            }
        }
        matrix
    }

    /// Resizes the two last axes of `input` to `size`.
    ///
    /// # Shapes
    /// - input: `[N, C, H, W]`
    /// - output: `[N, C, size[0], size[1]]`
    fn resize(&self, input: Tensor<4>, size: [usize; 2], scales: [f32; 2]) -> Tensor<4> {
        let [_, _, h, w] = input.dims();
        separable(input, size, |axis| {
            let len = if axis == 0 { h } else { w };
            self.weights(len, size[axis], scales[axis])
        })
    }
}

impl Resize {
    fn size<O: super::args::Operand>(
        &self,
        x: &Args<'_, O>,
        [h, w]: [usize; 2],
        runtime: impl Fn(usize) -> Result<Vec<f32>, String>,
    ) -> Result<([usize; 2], [f32; 2]), String> {
        let from_scales = |sh: f32, sw: f32| {
            (
                [
                    (h as f32 * sh).floor() as usize,
                    (w as f32 * sw).floor() as usize,
                ],
                [sh, sw],
            )
        };
        let (size, scales) = match &self.target {
            Target::Scales([sh, sw]) => from_scales(*sh, *sw),
            Target::RuntimeScales(i) => match fixed_scales(&runtime(*i)?)? {
                Target::Scales([sh, sw]) => from_scales(sh, sw),
                _ => unreachable!("fixed scales"),
            },
            Target::Sizes => match x.ints(3)?.data.as_slice() {
                &[_, _, oh, ow] if oh > 0 && ow > 0 => (
                    [oh as usize, ow as usize],
                    [oh as f32 / h as f32, ow as f32 / w as f32],
                ),
                other => return Err(format!("sizes {other:?} must be four positive values")),
            },
        };
        if size.iter().any(|&d| d == 0 || d > 1 << 14) {
            return Err(format!("the output size {size:?} is out of range"));
        }
        Ok((size, scales))
    }
}

impl Kernel for Resize {
    fn infer(&self, x: &Args<'_, Meta>) -> Outputs<Meta> {
        let [n, c, h, w] = x.nchw(0)?;
        // Scales computed at run time are checked when they are read.
        let [oh, ow] = match self.target {
            Target::RuntimeScales(_) => [h, w],
            _ => {
                self.size(x, [h, w], |_| unreachable!("not run-time scales"))?
                    .0
            }
        };
        one(Meta::Float(vec![n, c, oh, ow]))
    }

    fn eval(&self, x: &Args<'_, Value>) -> Outputs<Value> {
        let input = x.nchw(0)?;
        let [_, _, h, w] = input.dims();
        let (size, scales) = self.size(x, [h, w], |i| x.get(i)?.host_floats())?;
        let out = match self.sampling {
            Sampling::Nearest {
                coordinates,
                rounding,
            } => {
                let device = input.device();
                let index = |len: usize, out: usize, scale: f32| {
                    let v = nearest_indices(len, out, scale, coordinates, rounding);
                    Tensor::<1, Int>::from_data(TensorData::new(v, [out]), &device)
                };
                input
                    .select(2, index(h, size[0], scales[0]))
                    .select(3, index(w, size[1], scales[1]))
            }
            Sampling::Linear { align_corners } => {
                let mut options = InterpolateOptions::new(InterpolateMode::Bilinear)
                    .with_align_corners(align_corners);
                options.output_size = Some(size);
                interpolate(input, options)
            }
            Sampling::LinearWeights(coordinates) => separable(input, size, |axis| {
                linear_weights(
                    if axis == 0 { h } else { w },
                    size[axis],
                    scales[axis],
                    coordinates,
                )
            }),
            Sampling::Cubic(cubic) => cubic.resize(input, size, scales),
        };
        one(Value::from_tensor(out))
    }

    fn layout(&self, _: &[Option<Layout>]) -> Layout {
        Layout::Nchw
    }
}
