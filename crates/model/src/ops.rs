//! The operators the importer understands, parsed from ONNX nodes into typed configurations.

use std::collections::HashMap;

use burn::tensor::Device;
use onnx_ir::NodeProto;

use crate::onnx_file::{Attributes, RawTensor, read_tensor};
use crate::value::Value;

/// The ONNX operators this importer implements (default domain).
pub const SUPPORTED_OPS: &[&str] = &[
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "Conv",
    "Div",
    "Dropout",
    "Flatten",
    "Gather",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LRN",
    "LeakyRelu",
    "MatMul",
    "MaxPool",
    "Mul",
    "Pad",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Softmax",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Unsqueeze",
];

/// How a convolution or pooling window is padded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Padding {
    /// Explicit `(begin, end)` pads for height and width.
    Explicit([(usize, usize); 2]),
    /// `SAME_UPPER` (extra pad at the end) or `SAME_LOWER` (at the start): computed per input size.
    Same {
        /// Whether the odd pixel goes at the end.
        upper: bool,
    },
}

impl Padding {
    /// The `(begin, end)` pads for an input of `size` (height, width).
    pub fn resolve(
        &self,
        size: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> [(usize, usize); 2] {
        match *self {
            Padding::Explicit(p) => p,
            Padding::Same { upper } => std::array::from_fn(|i| {
                let out = size[i].div_ceil(stride[i]);
                let needed =
                    (out.saturating_sub(1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1)
                        .saturating_sub(size[i]);
                let small = needed / 2;
                if upper {
                    (small, needed - small)
                } else {
                    (needed - small, small)
                }
            }),
        }
    }
}

/// Window geometry shared by convolutions and pooling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Kernel height and width (for Conv, taken from the weight at run time when absent).
    pub kernel: [usize; 2],
    /// Strides.
    pub strides: [usize; 2],
    /// Dilations.
    pub dilations: [usize; 2],
    /// Padding.
    pub padding: Padding,
}

impl Window {
    /// The `(begin, end)` pads for an input of `size`, checking that the window fits the padded
    /// input (so the output has at least one position).
    pub fn padding_for(&self, size: [usize; 2]) -> Result<[(usize, usize); 2], String> {
        let padding = self
            .padding
            .resolve(size, self.kernel, self.strides, self.dilations);
        for i in 0..2 {
            let span = (self.kernel[i] - 1) * self.dilations[i] + 1;
            let padded = size[i] + padding[i].0 + padding[i].1;
            if span > padded {
                return Err(format!(
                    "a window spanning {span} pixels does not fit the padded input of {padded} pixels"
                ));
            }
        }
        Ok(padding)
    }

    /// The output height and width of the window over an input of `size` with `padding`.
    pub fn output_dims(
        &self,
        size: [usize; 2],
        padding: [(usize, usize); 2],
        ceil: bool,
    ) -> [usize; 2] {
        std::array::from_fn(|i| {
            let span = (self.kernel[i] - 1) * self.dilations[i] + 1;
            let room = size[i] + padding[i].0 + padding[i].1 - span;
            if ceil {
                room.div_ceil(self.strides[i]) + 1
            } else {
                room / self.strides[i] + 1
            }
        })
    }
}

/// Pad modes of the `Pad` operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PadKind {
    /// Fill with a constant.
    Constant(f32),
    /// Mirror without repeating the edge.
    Reflect,
    /// Repeat the edge.
    Edge,
}

/// A parsed operator.
// Tensors are large values; ops are built once per model and never moved in the hot loop.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Op {
    /// 2-D convolution (groups, dilation, strides, asymmetric pads, optional bias).
    Conv {
        /// The window.
        window: Window,
        /// Channel groups.
        groups: usize,
    },
    /// 2-D max pooling.
    MaxPool {
        /// The window.
        window: Window,
        /// Round output sizes up.
        ceil: bool,
    },
    /// 2-D average pooling.
    AveragePool {
        /// The window.
        window: Window,
        /// Round output sizes up.
        ceil: bool,
        /// Count padded cells in the mean.
        count_include_pad: bool,
    },
    /// Mean over all spatial positions.
    GlobalAveragePool,
    /// Max over all spatial positions.
    GlobalMaxPool,
    /// Inference batch norm, folded to `x * scale + shift` (per channel) at load time.
    Affine {
        /// `gamma / sqrt(var + eps)`, shaped `[C, 1, 1]`.
        scale: Value,
        /// `beta - mean * scale`, shaped `[C, 1, 1]`.
        shift: Value,
    },
    /// max(x, 0).
    Relu,
    /// Logistic sigmoid.
    Sigmoid,
    /// tanh.
    Tanh,
    /// Leaky ReLU with slope `alpha` below zero.
    LeakyRelu(f32),
    /// max(0, min(1, alpha * x + beta)).
    HardSigmoid(f32, f32),
    /// x * relu6(x + 3) / 6.
    HardSwish,
    /// Clamp to `[min, max]`.
    Clip(f32, f32),
    /// Element-wise sum with broadcasting (also n-ary `Sum`).
    Add,
    /// Element-wise difference.
    Sub,
    /// Element-wise product.
    Mul,
    /// Element-wise quotient.
    Div,
    /// Concatenation along an axis.
    Concat(i64),
    /// Flatten to 2-D at an axis.
    Flatten(i64),
    /// Reshape to the shape given by the second input.
    Reshape {
        /// A zero in the shape means a zero dimension, not "copy".
        allow_zero: bool,
    },
    /// Permute axes (`None`: reverse them).
    Transpose(Option<Vec<usize>>),
    /// Insert unit axes (the axes may come from the second input instead).
    Unsqueeze(Option<Vec<i64>>),
    /// Remove unit axes (the axes may come from the second input; none: all unit axes).
    Squeeze(Option<Vec<i64>>),
    /// General matrix multiply `alpha * A' B' + beta * C`.
    Gemm {
        /// Scale of the product.
        alpha: f32,
        /// Scale of C.
        beta: f32,
        /// Transpose A.
        trans_a: bool,
        /// Transpose B.
        trans_b: bool,
    },
    /// Matrix product with batch broadcasting.
    MatMul,
    /// Softmax along an axis; `legacy` is the opset < 13 "flatten to 2-D at axis" form.
    Softmax {
        /// The axis.
        axis: i64,
        /// Opset < 13 semantics.
        legacy: bool,
    },
    /// Passes its first input through (Identity, Dropout and Cast at inference).
    Identity,
    /// Padding; the pads may come from the second input instead of the attribute.
    Pad {
        /// `[x1_begin, x2_begin, .., x1_end, x2_end, ..]`.
        pads: Option<Vec<i64>>,
        /// The mode.
        kind: PadKind,
    },
    /// Local response normalisation across channels.
    Lrn {
        /// Scale.
        alpha: f32,
        /// Exponent.
        beta: f32,
        /// Additive bias.
        bias: f32,
        /// Window size in channels.
        size: usize,
    },
    /// A constant value.
    Constant(Value),
    /// The shape of the input as integers.
    Shape,
    /// Indexing of an integer vector along axis 0.
    Gather,
}

/// The outcome of parsing one node.
#[allow(clippy::large_enum_variant)] // returned once per node at load time
pub enum Parsed {
    /// A known operator.
    Op(Op),
    /// An operator outside [`SUPPORTED_OPS`].
    Unsupported,
}

/// Parses a node; `constants` holds the initializers and earlier `Constant` outputs by name.
pub fn parse(
    node: &NodeProto,
    opset: i64,
    constants: &HashMap<String, RawTensor>,
    device: &Device,
) -> Result<Parsed, String> {
    let a = Attributes::of(node);
    let const_input = |i: usize| -> Option<&RawTensor> {
        node.input
            .get(i)
            .filter(|n| !n.is_empty())
            .and_then(|n| constants.get(n))
    };
    let const_ints = |i: usize| -> Result<Option<Vec<i64>>, String> {
        match const_input(i) {
            None => Ok(None),
            Some(t) => t
                .ints()
                .map(|v| Some(v.to_vec()))
                .ok_or_else(|| format!("input {i} must be an integer tensor")),
        }
    };
    let const_scalar = |i: usize, default: f32| -> Result<f32, String> {
        if node.input.get(i).is_none_or(|n| n.is_empty()) {
            return Ok(default);
        }
        match const_input(i) {
            Some(RawTensor::Float(_, v)) if v.len() == 1 => Ok(v[0]),
            Some(RawTensor::Int(_, v)) if v.len() == 1 => Ok(v[0] as f32),
            _ => Err(format!("input {i} must be a constant scalar")),
        }
    };
    let op = match node.op_type.as_str() {
        "Conv" => {
            let window = window(&a, None)?;
            Op::Conv {
                window,
                groups: positive(a.int("group", 1), "group")?,
            }
        }
        "MaxPool" => {
            let kernel = a.ints("kernel_shape").ok_or("MaxPool needs kernel_shape")?;
            Op::MaxPool {
                window: window(&a, Some(kernel))?,
                ceil: a.int("ceil_mode", 0) != 0,
            }
        }
        "AveragePool" => {
            let kernel = a
                .ints("kernel_shape")
                .ok_or("AveragePool needs kernel_shape")?;
            Op::AveragePool {
                window: window(&a, Some(kernel))?,
                ceil: a.int("ceil_mode", 0) != 0,
                count_include_pad: a.int("count_include_pad", 0) != 0,
            }
        }
        "GlobalAveragePool" => Op::GlobalAveragePool,
        "GlobalMaxPool" => Op::GlobalMaxPool,
        "BatchNormalization" => batch_norm(node, a.float("epsilon", 1e-5)?, constants, device)?,
        "Relu" => Op::Relu,
        "Sigmoid" => Op::Sigmoid,
        "Tanh" => Op::Tanh,
        "LeakyRelu" => Op::LeakyRelu(a.float("alpha", 0.01)?),
        "HardSigmoid" => Op::HardSigmoid(a.float("alpha", 0.2)?, a.float("beta", 0.5)?),
        "HardSwish" => Op::HardSwish,
        "Clip" if opset < 11 => Op::Clip(
            a.float("min", f32::NEG_INFINITY)?,
            a.float("max", f32::INFINITY)?,
        ),
        "Clip" => Op::Clip(
            const_scalar(1, f32::NEG_INFINITY)?,
            const_scalar(2, f32::INFINITY)?,
        ),
        "Add" | "Sum" => Op::Add,
        "Sub" => Op::Sub,
        "Mul" => Op::Mul,
        "Div" => Op::Div,
        "Concat" => Op::Concat(a.int("axis", 1)),
        "Flatten" => Op::Flatten(a.int("axis", 1)),
        "Reshape" => Op::Reshape {
            allow_zero: a.int("allowzero", 0) != 0,
        },
        "Transpose" => Op::Transpose(
            a.ints("perm")
                .map(|p| {
                    p.into_iter()
                        .map(|v| usize::try_from(v).map_err(|_| "negative perm"))
                        .collect()
                })
                .transpose()?,
        ),
        "Unsqueeze" => Op::Unsqueeze(a.ints("axes").or(const_ints(1)?)),
        "Squeeze" => Op::Squeeze(a.ints("axes").or(const_ints(1)?)),
        "Gemm" => Op::Gemm {
            alpha: a.float("alpha", 1.0)?,
            beta: a.float("beta", 1.0)?,
            trans_a: a.int("transA", 0) != 0,
            trans_b: a.int("transB", 0) != 0,
        },
        "MatMul" => Op::MatMul,
        "Softmax" => Op::Softmax {
            axis: a.int("axis", if opset < 13 { 1 } else { -1 }),
            legacy: opset < 13,
        },
        "Identity" | "Dropout" | "Cast" => Op::Identity,
        "Pad" => {
            let mode = a.string("mode", "constant");
            let kind = match mode.as_str() {
                "constant" if opset < 11 => PadKind::Constant(a.float("value", 0.0)?),
                "constant" => PadKind::Constant(const_scalar(2, 0.0)?),
                "reflect" => PadKind::Reflect,
                "edge" => PadKind::Edge,
                other => return Err(format!("Pad mode `{other}` is not supported")),
            };
            let pads = if opset < 11 {
                a.ints("pads")
            } else {
                const_ints(1)?
            };
            Op::Pad { pads, kind }
        }
        "LRN" => Op::Lrn {
            alpha: a.float("alpha", 1e-4)?,
            beta: match a.float("beta", 0.75)? {
                b if b.abs() <= 16.0 => b,
                b => return Err(format!("LRN's beta must be in -16..=16, got {b}")),
            },
            bias: a.float("bias", 1.0)?,
            size: positive(a.int("size", 0), "size")?,
        },
        "Constant" => {
            let tensor = a
                .tensor("value")
                .ok_or("only tensor-valued Constant nodes are supported")?;
            Op::Constant(to_value(read_tensor(tensor, None)?, device))
        }
        "Shape" => Op::Shape,
        "Gather" => {
            if a.int("axis", 0) != 0 {
                return Err("Gather is supported on axis 0 of shape vectors only".into());
            }
            Op::Gather
        }
        _ => return Ok(Parsed::Unsupported),
    };
    Ok(Parsed::Op(op))
}

/// Turns a decoded tensor into a graph value on `device`.
pub fn to_value(raw: RawTensor, device: &Device) -> Value {
    match raw {
        RawTensor::Float(shape, values) => Value::from_floats(&shape, values, device),
        RawTensor::Int(_, values) => Value::Ints(values),
    }
}

/// The largest kernel, stride, dilation, pad or LRN size accepted: far above any real CNN.
const MAX_GEOMETRY: i64 = 1 << 14;

fn positive(v: i64, what: &str) -> Result<usize, String> {
    if (1..=MAX_GEOMETRY).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("`{what}` must be in 1..={MAX_GEOMETRY}, got {v}"))
    }
}

fn pair(values: Option<Vec<i64>>, default: usize, what: &str) -> Result<[usize; 2], String> {
    match values {
        None => Ok([default; 2]),
        Some(v) if v.len() == 2 => Ok([positive(v[0], what)?, positive(v[1], what)?]),
        Some(v) => Err(format!("only 2-D windows are supported; `{what}` is {v:?}")),
    }
}

fn window(a: &Attributes, kernel: Option<Vec<i64>>) -> Result<Window, String> {
    let kernel = match kernel.or_else(|| a.ints("kernel_shape")) {
        Some(k) => pair(Some(k), 1, "kernel_shape")?,
        None => [0, 0],
    };
    let padding = match a.string("auto_pad", "NOTSET").as_str() {
        "NOTSET" => {
            let pads = a.ints("pads").unwrap_or_else(|| vec![0; 4]);
            if pads.len() != 4 || pads.iter().any(|&p| !(0..=MAX_GEOMETRY).contains(&p)) {
                return Err(format!(
                    "pads must be four values in 0..={MAX_GEOMETRY}, got {pads:?}"
                ));
            }
            let p = |i: usize| pads[i] as usize;
            Padding::Explicit([(p(0), p(2)), (p(1), p(3))])
        }
        "VALID" => Padding::Explicit([(0, 0); 2]),
        "SAME_UPPER" => Padding::Same { upper: true },
        "SAME_LOWER" => Padding::Same { upper: false },
        other => return Err(format!("unknown auto_pad `{other}`")),
    };
    Ok(Window {
        kernel,
        strides: pair(a.ints("strides"), 1, "strides")?,
        dilations: pair(a.ints("dilations"), 1, "dilations")?,
        padding,
    })
}

fn batch_norm(
    node: &NodeProto,
    epsilon: f32,
    constants: &HashMap<String, RawTensor>,
    device: &Device,
) -> Result<Op, String> {
    let get = |i: usize| -> Result<&Vec<f32>, String> {
        match node.input.get(i).and_then(|n| constants.get(n)) {
            Some(RawTensor::Float(_, v)) => Ok(v),
            _ => Err(format!("input {i} must be a constant float tensor")),
        }
    };
    let (gamma, beta, mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
    let c = gamma.len();
    if [beta.len(), mean.len(), var.len()].iter().any(|&l| l != c) {
        return Err("scale, bias, mean and variance differ in length".into());
    }
    let scale: Vec<f32> = gamma
        .iter()
        .zip(var)
        .map(|(g, v)| g / (v + epsilon).sqrt())
        .collect();
    let shift: Vec<f32> = beta
        .iter()
        .zip(mean)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    Ok(Op::Affine {
        scale: Value::from_floats(&[c, 1, 1], scale, device),
        shift: Value::from_floats(&[c, 1, 1], shift, device),
    })
}
