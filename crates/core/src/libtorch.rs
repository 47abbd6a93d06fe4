// Burn deprecates tch for CubeCL; it stays for LibTorch's kernels (its `TchTensor::tensor`).
#![allow(deprecated)]
//! LibTorch's kernels for excite's custom ops (feature `tch`): each op a few ATen calls,
//! where the generic compositions of Burn's ops cost several passes (Clip's backward, the
//! inverse DFT as matrix products), an index tensor per call (the spread's stepped slice
//! assignment) or gathers and a scatter (the resampling, which Burn's LibTorch backend
//! composes from its reference implementation).

use burn::backend::LibTorch;
use burn::backend::libtorch::TchTensor;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};
use tch::{Kind, Tensor as Aten};

use crate::clip::Clip;
use crate::conv::Convolution;
use crate::inverse_dft::{InverseDft, adjoint_by_matrices, by_matrices, half_spectrum_weight};
use crate::rectifier::RectifyGradient;
use crate::resample::{Resample, ResampleKernels};
use crate::sigmoid::Sigmoid;

/// The rectified gradient needs no kernel of its own (the identity forward, a ReLU backward).
impl RectifyGradient for LibTorch {}

/// ATen's `hardtanh_backward` is Clip's backward: the gradient where `lo < x < hi` (for a NaN
/// input ATen's scalar and vector loops may disagree; the rest is exact).
impl Clip for LibTorch {
    fn clip_backward(x: TchTensor, grad: TchTensor, lo: f32, hi: f32) -> TchTensor {
        TchTensor::new(
            x.tensor
                .hardtanh_backward(&grad.tensor, lo as f64, hi as f64),
        )
    }
}

/// ATen's `sigmoid_backward` is the sigmoid's backward from its output, one pass (the forward
/// is Burn's LibTorch sigmoid, ATen's own).
impl Sigmoid for LibTorch {
    fn logistic_backward(output: TchTensor, grad: TchTensor) -> TchTensor {
        TchTensor::new(Aten::sigmoid_backward(&grad.tensor, &output.tensor))
    }
}

/// The spread is a zero tensor with `x` copied into a stepped view of it.
impl Convolution for LibTorch {
    fn spread(x: TchTensor, stride: [usize; 2], padding: [(usize, usize); 2]) -> TchTensor {
        let (n, c, h, w) = x.tensor.size4().expect("a 4-D tensor");
        let [(sh, sw), (top, left)] = [(stride[0], stride[1]), (padding[0].0, padding[1].0)];
        let [ho, wo] = crate::conv::spread_size([h, w].map(|d| d as usize), stride, padding);
        let out = Aten::zeros(
            [n, c, ho as i64, wo as i64],
            (x.tensor.kind(), x.tensor.device()),
        );
        if h > 0 && w > 0 {
            let at = |begin: usize, size: i64, step: usize| {
                let begin = begin as i64;
                (begin, begin + (size - 1) * step as i64 + 1, step as i64)
            };
            let (y0, y1, dy) = at(top, h, sh);
            let (x0, x1, dx) = at(left, w, sw);
            let mut view = out.slice(2, y0, y1, dy).slice(3, x0, x1, dx);
            view.copy_(&x.tensor);
        }
        TchTensor::new(out)
    }

    /// ATen's transposed convolution (oneDNN's backward-data kernel, as PyTorch's autograd
    /// runs it), which skips the spread's zeros, where the padding fits one (an output
    /// padding, `bottom - top`, from 0 to below the stride: any symmetric padding); the spread
    /// and a convolution otherwise.
    fn spread_conv2d(
        grad: TchTensor,
        weight: TchTensor,
        stride: [usize; 2],
        padding: [(usize, usize); 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> TchTensor {
        let (_, _, kh, kw) = weight.tensor.size4().expect("a 4-D kernel");
        // Per axis: the forward convolution's padding, and the extra rows after its output's
        // last window (the transposed convolution's output padding).
        let forward = [0, 1].map(|i| {
            let span = ([kh, kw][i] as usize - 1) * dilation[i];
            let (top, bottom) = padding[i];
            let (pad, extra) = (span.checked_sub(top)?, bottom.checked_sub(top)?);
            (extra < stride[i]).then_some((pad as i64, extra as i64))
        });
        let [Some((ph, eh)), Some((pw, ew))] = forward else {
            return crate::conv::spread_conv2d_by_spread::<LibTorch>(
                grad, weight, stride, padding, dilation, groups,
            );
        };
        let [stride, dilation] = [stride, dilation].map(|v| v.map(|d| d as i64));
        TchTensor::new(grad.tensor.conv_transpose2d(
            &weight.tensor,
            None::<Aten>,
            stride,
            [ph, pw],
            [eh, ew],
            groups as i64,
            dilation,
        ))
    }
}

/// The inverse DFT and its adjoint as LibTorch's FFTs (of non-empty `f32` tensors; the
/// matrices otherwise).
impl InverseDft for LibTorch {
    fn irfft2(
        re: TchTensor,
        im: TchTensor,
        cy: TchTensor,
        sy: TchTensor,
        cx: TchTensor,
        sx: TchTensor,
    ) -> TchTensor {
        if re.tensor.kind() != Kind::Float
            || im.tensor.kind() != Kind::Float
            || re.tensor.numel() == 0
        {
            return by_matrices::<LibTorch>(re, im, [cy, sy, cx, sx]);
        }
        let h = re.tensor.size()[2];
        let w = cx.tensor.size()[3];
        let spectrum = Aten::complex(&re.tensor, &im.tensor);
        TchTensor::new(spectrum.fft_irfft2(Some([h, w].as_slice()), [-2, -1], "ortho"))
    }

    fn irfft2_adjoint(
        grad: TchTensor,
        cy: TchTensor,
        sy: TchTensor,
        cx: TchTensor,
        sx: TchTensor,
    ) -> (TchTensor, TchTensor) {
        if grad.tensor.kind() != Kind::Float || grad.tensor.numel() == 0 {
            return adjoint_by_matrices::<LibTorch>(grad, [cy, sy, cx, sx]);
        }
        let (_, _, h, w) = grad.tensor.size4().expect("a 4-D tensor");
        let [h, w] = [h, w].map(|d| d as usize);
        let weights: Vec<f32> = (0..w / 2 + 1)
            .map(|kx| half_spectrum_weight(h, w, kx))
            .collect();
        let weights = Aten::from_slice(&weights).to_device(grad.tensor.device());
        let spectrum = grad.tensor.fft_rfft2(None::<&[i64]>, [-2, -1], "backward");
        let part = |z: Aten| TchTensor::new(z * &weights);
        (part(spectrum.real()), part(spectrum.imag()))
    }
}

/// ATen's `grid_sampler_2d` where [`padding_mode`] allows it, Burn's `grid_sample_2d` otherwise.
impl Resample for LibTorch {
    fn grid_sample(x: TchTensor, grid: TchTensor, options: GridSampleOptions) -> TchTensor {
        let Some(padding) = padding_mode(&x, &grid, &options) else {
            return <LibTorch as burn::backend::ops::FloatTensorOps<LibTorch>>::float_grid_sample_2d(
                x, grid, options,
            );
        };
        TchTensor::new(
            x.tensor
                .grid_sampler_2d(&grid.tensor, 0, padding, options.align_corners),
        )
    }
}

/// ATen's bilinear `grid_sampler_2d` and, for its adjoint, LibTorch's own backward of it.
impl ResampleKernels for LibTorch {
    fn has_kernels(x: &TchTensor, grid: &TchTensor, options: &GridSampleOptions) -> bool {
        padding_mode(x, grid, options).is_some()
    }

    fn adjoint(
        grid: TchTensor,
        grad: TchTensor,
        input: [usize; 4],
        options: &GridSampleOptions,
    ) -> Option<TchTensor> {
        let padding = padding_mode(&grad, &grid, options)?;
        let dx = tch::with_grad(|| {
            // The sampling is linear in its input: the gradient of `Σ grad · sample(x)` with
            // respect to `x` is the adjoint applied to `grad`, whatever `x` holds.
            let x = Aten::zeros(
                input.map(|d| d as i64),
                (grad.tensor.kind(), grad.tensor.device()),
            )
            .set_requires_grad(true);
            let sampled = x.grid_sampler_2d(&grid.tensor, 0, padding, options.align_corners);
            let product = (sampled * &grad.tensor).sum(Kind::Float);
            Aten::run_backward(&[product], &[&x], false, false)
        });
        dx.into_iter().next().map(TchTensor::new)
    }
}

/// ATen's `padding_mode` for bilinear sampling of non-empty `f32` tensors with `options`, or
/// `None` where the kernels do not apply.
fn padding_mode(x: &TchTensor, grid: &TchTensor, options: &GridSampleOptions) -> Option<i64> {
    let floats = x.tensor.kind() == Kind::Float && grid.tensor.kind() == Kind::Float;
    let empty = x.tensor.numel() == 0 || grid.tensor.numel() == 0;
    let padding = match options.padding_mode {
        GridSamplePaddingMode::Zeros => 0,
        GridSamplePaddingMode::Border => 1,
        _ => return None,
    };
    (floats && !empty && x.tensor.dim() == 4 && matches!(options.mode, InterpolateMode::Bilinear))
        .then_some(padding)
}
