//! The window geometry shared by convolutions and pooling: kernel, strides, dilations and
//! padding (explicit or `auto_pad`), with the output size it gives.

use crate::onnx_file::Attributes;

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

    /// How the window maps positions, over an input of `size` (height, width).
    pub fn spatial(&self, size: [usize; 2]) -> super::Spatial {
        let padding = self
            .padding
            .resolve(size, self.kernel, self.strides, self.dilations);
        super::Spatial::Window {
            kernel: self.kernel,
            stride: self.strides,
            dilation: self.dilations,
            pad_begin: [padding[0].0, padding[1].0],
        }
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

/// The largest kernel, stride, dilation, pad or LRN size accepted: far above any real CNN.
const MAX_GEOMETRY: i64 = 1 << 14;

/// `v` as a size in `1..=MAX_GEOMETRY`.
pub fn positive(v: i64, what: &str) -> Result<usize, String> {
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

/// The window of a Conv or pooling node (`kernel` given for pooling, taken from the weight
/// for Conv).
pub fn window(a: &Attributes, kernel: Option<Vec<i64>>) -> Result<Window, String> {
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
