#![cfg_attr(any(feature = "ndarray", feature = "tch"), allow(deprecated))]
//! Bilinear sampling on a grid (`grid_sample_2d`) whose backward is one pass.
//!
//! Burn's autodiff has no `grid_sample_2d` of its own: it differentiates the reference
//! implementation, a composition of gathers, whose backward is a `scatter_add` on one thread
//! (the render step's resampling, BENCHMARKS.md). [`grid_sample`] is one custom autodiff op
//! where the backend has kernels for it (flex: the forward and its adjoint as multithreaded
//! loops, one image plane per task; LibTorch: ATen's `grid_sampler_2d` and its backward);
//! elsewhere it is Burn's own `grid_sample_2d`. The grid is a constant: its gradient is not
//! computed (a tracked grid takes Burn's path).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, DType, Dispatch, Flex, TensorMetadata};
use burn::tensor::Tensor;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};
use rayon::prelude::*;

use crate::extension::{default_impls, extension_trait, flex_f32};

/// Samples `x` at the grid's points, as [`Tensor::grid_sample_2d`] does, differentiated with
/// respect to `x` only.
///
/// # Shapes
/// - x: `[N, C, H, W]`
/// - grid: `[N, H', W', 2]`, `(x, y)` in `[-1, 1]`
/// - output: `[N, C, H', W']`
pub fn grid_sample(x: Tensor<4>, grid: Tensor<4>, options: GridSampleOptions) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Resample>::grid_sample(
        x.into_dispatch(),
        grid.into_dispatch(),
        options,
    ))
}

extension_trait! {
    /// The op behind [`grid_sample`], for every backend excite is built with.
    pub trait Resample: Backend {
        /// The backend's `grid_sample_2d`.
        fn grid_sample(
            x: FloatTensor<Self>,
            grid: FloatTensor<Self>,
            options: GridSampleOptions,
        ) -> FloatTensor<Self> {
            Self::float_grid_sample_2d(x, grid, options)
        }
    }
}

default_impls!(Resample, ResampleKernels);

/// A backend's own kernels for the custom op: by default none.
pub trait ResampleKernels: Backend {
    /// Whether this backend's kernels (its forward and [`ResampleKernels::adjoint`]) handle
    /// `x`, `grid` and `options`.
    fn has_kernels(
        _x: &FloatTensor<Self>,
        _grid: &FloatTensor<Self>,
        _options: &GridSampleOptions,
    ) -> bool {
        false
    }

    /// The gradient of `x` from the output's, where [`ResampleKernels::has_kernels`] said so.
    ///
    /// # Shapes
    /// - grid: `[N, H', W', 2]`; grad: `[N, C, H', W']`; output: `input` (`[N, C, H, W]`)
    fn adjoint(
        _grid: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _input: [usize; 4],
        _options: &GridSampleOptions,
    ) -> Option<FloatTensor<Self>> {
        None
    }
}

impl<B: Backend + Resample + ResampleKernels, C: CheckpointStrategy> Resample for Autodiff<B, C> {
    fn grid_sample(
        x: FloatTensor<Self>,
        grid: FloatTensor<Self>,
        options: GridSampleOptions,
    ) -> FloatTensor<Self> {
        if grid.is_tracked() || !B::has_kernels(x.primitive(), grid.primitive(), &options) {
            return <Self as FloatTensorOps<Self>>::float_grid_sample_2d(x, grid, options);
        }

        #[derive(Debug)]
        struct ResampleBackward;

        impl<B: Backend + ResampleKernels> Backward<B, 1> for ResampleBackward {
            /// The grid, the input's shape and the options.
            type State = (FloatTensor<B>, [usize; 4], GridSampleOptions);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (grid, input, options) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::adjoint(grid, grad, input, &options)
                        .expect("the kernel was checked for these options at the forward pass")
                });
            }
        }

        let input = x.primitive().shape().dims::<4>();
        let grid = grid.into_primitive();
        match ResampleBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let output = B::grid_sample(x.into_primitive(), grid.clone(), options.clone());
                prep.finish((grid, input, options), output)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::grid_sample(x.into_primitive(), grid, options))
            }
        }
    }
}

/// Flex's forward: one image plane per task.
impl Resample for Flex {
    fn grid_sample(x: FlexTensor, grid: FlexTensor, options: GridSampleOptions) -> FlexTensor {
        if !<Flex as ResampleKernels>::has_kernels(&x, &grid, &options) {
            return Flex::float_grid_sample_2d(x, grid, options);
        }
        let (x, grid) = (x.to_contiguous(), grid.to_contiguous());
        let [n, c, h, w] = x.layout().shape().dims::<4>();
        let [_, ho, wo, _] = grid.layout().shape().dims::<4>();
        let xs = x.storage::<f32>();
        let border = options.padding_mode == GridSamplePaddingMode::Border;
        let taps = taps(grid.storage::<f32>(), [h, w], border);
        let mut out = vec![0f32; n * c * ho * wo];
        out.par_chunks_mut(ho * wo)
            .enumerate()
            .for_each(|(plane, out)| {
                let b = plane / c;
                let src = &xs[plane * h * w..(plane + 1) * h * w];
                for (o, taps) in out.iter_mut().zip(&taps[b * ho * wo..(b + 1) * ho * wo]) {
                    *o = taps
                        .iter()
                        .map(|&(i, weight)| src[i as usize] * weight)
                        .sum();
                }
            });
        flex_f32(out, burn::tensor::Shape::new([n, c, ho, wo]))
    }
}

impl ResampleKernels for Flex {
    fn has_kernels(x: &FlexTensor, grid: &FlexTensor, options: &GridSampleOptions) -> bool {
        x.dtype() == DType::F32
            && grid.dtype() == DType::F32
            && x.layout().shape().num_dims() == 4
            // Pixels are indexed by `u32`s within a plane.
            && x.layout().shape().dims::<4>()[2..].iter().product::<usize>() <= u32::MAX as usize
            && matches!(options.mode, InterpolateMode::Bilinear)
            && options.align_corners
            && matches!(
                options.padding_mode,
                GridSamplePaddingMode::Border | GridSamplePaddingMode::Zeros
            )
    }

    fn adjoint(
        grid: FlexTensor,
        grad: FlexTensor,
        [n, c, h, w]: [usize; 4],
        options: &GridSampleOptions,
    ) -> Option<FlexTensor> {
        if grad.dtype() != DType::F32 {
            return None;
        }
        let (grid, grad) = (grid.to_contiguous(), grad.to_contiguous());
        let [_, ho, wo, _] = grid.layout().shape().dims::<4>();
        let ds = grad.storage::<f32>();
        let border = options.padding_mode == GridSamplePaddingMode::Border;
        let taps = taps(grid.storage::<f32>(), [h, w], border);
        let mut dx = vec![0f32; n * c * h * w];
        dx.par_chunks_mut(h * w)
            .enumerate()
            .for_each(|(plane, dx)| {
                let b = plane / c;
                let incoming = &ds[plane * ho * wo..(plane + 1) * ho * wo];
                for (&g, taps) in incoming.iter().zip(&taps[b * ho * wo..(b + 1) * ho * wo]) {
                    for &(i, weight) in taps {
                        dx[i as usize] += g * weight;
                    }
                }
            });
        Some(flex_f32(dx, burn::tensor::Shape::new([n, c, h, w])))
    }
}

/// The four pixels each grid point reads and their weights ([`corners`]), one table for all
/// the channels, computed over the threads.
///
/// # Shapes
/// - grid: `[N, H', W', 2]` flattened
/// - output: `[N * H' * W']`
fn taps(grid: &[f32], size: [usize; 2], border: bool) -> Vec<[(u32, f32); 4]> {
    grid.par_chunks_exact(2)
        .map(|point| corners(point, size, border))
        .collect()
}

/// The four pixels a grid point reads and their bilinear weights, as flex's `grid_sample_2d`
/// computes them with corners aligned (in `f64`, the weights then rounded to `f32`): with
/// `border`, the point clamped into the image (the image's middle for a non-finite point) and
/// the pixels clamped too; otherwise pixels outside the image are left out (weight 0 at
/// index 0).
fn corners(point: &[f32], [h, w]: [usize; 2], border: bool) -> [(u32, f32); 4] {
    let mut px = (point[0] as f64 + 1.0) * (w - 1) as f64 / 2.0;
    let mut py = (point[1] as f64 + 1.0) * (h - 1) as f64 / 2.0;
    if border {
        if px.is_finite() && py.is_finite() {
            px = px.clamp(0.0, (w - 1) as f64);
            py = py.clamp(0.0, (h - 1) as f64);
        } else {
            px = (w - 1) as f64 / 2.0;
            py = (h - 1) as f64 / 2.0;
        }
    }
    let (x0, y0) = (floor(px), floor(py));
    let (fx, fy) = (px - x0, py - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let at = |x: i64, y: i64, weight: f64| -> (u32, f32) {
        let inside = (0..w as i64).contains(&x) && (0..h as i64).contains(&y);
        match (border, inside) {
            (true, _) => {
                let (x, y) = (x.clamp(0, w as i64 - 1), y.clamp(0, h as i64 - 1));
                ((y as usize * w + x as usize) as u32, weight as f32)
            }
            (false, true) => ((y as usize * w + x as usize) as u32, weight as f32),
            (false, false) => (0, 0.0),
        }
    };
    [
        at(x0, y0, (1.0 - fx) * (1.0 - fy)),
        at(x0, y0 + 1, (1.0 - fx) * fy),
        at(x0 + 1, y0, fx * (1.0 - fy)),
        at(x0 + 1, y0 + 1, fx * fy),
    ]
}

/// `v.floor()` without the library call that x86-64's baseline instruction set (no SSE4.1
/// rounding) compiles it to: the truncation, one lower for a negative non-integer. Values too
/// large for an `i64`, and NaN, take `f64::floor`.
fn floor(v: f64) -> f64 {
    if v.abs() < 1e15 {
        let t = v as i64 as f64;
        if t > v { t - 1.0 } else { t }
    } else {
        v.floor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::{relative_difference, test_devices};
    use burn::tensor::Distribution;

    /// Output and input gradient of `Σ r · sample(x)` by the custom op and by Burn's
    /// `grid_sample_2d`, on grids that reach outside the image, for both padding modes.
    #[test]
    fn the_kernels_agree_with_burns_grid_sample_forward_and_backward() {
        let cases = [GridSamplePaddingMode::Border, GridSamplePaddingMode::Zeros];
        for (device, padding) in test_devices()
            .into_iter()
            .flat_map(|d| cases.map(|p| (d.clone(), p)))
        {
            let options = GridSampleOptions::new(InterpolateMode::Bilinear)
                .with_padding_mode(padding)
                .with_align_corners(true);
            let x = Tensor::<4>::random([2, 3, 9, 11], Distribution::Normal(0.0, 1.0), &device);
            let grid = Tensor::<4>::random([2, 7, 8, 2], Distribution::Uniform(-1.3, 1.3), &device);
            let r = Tensor::<4>::random([2, 3, 7, 8], Distribution::Normal(0.0, 1.0), &device);
            let run = |custom: bool| {
                let x = x.clone().require_grad();
                let y = if custom {
                    grid_sample(x.clone(), grid.clone(), options.clone())
                } else {
                    x.clone().grid_sample_2d(grid.clone(), options.clone())
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                (y.inner(), x.grad(&grads).unwrap())
            };
            let ((y, dx), (y_burn, dx_burn)) = (run(true), run(false));
            assert!(
                relative_difference(y_burn, y) < 1e-5,
                "{padding:?} forward, {device:?}"
            );
            let diff = relative_difference(dx_burn, dx);
            assert!(
                diff < 1e-5,
                "{padding:?}: the input gradient differs by {diff} on {device:?}"
            );
        }
    }

    #[test]
    fn other_options_take_burns_path() {
        let x = Flex::float_zeros(
            burn::tensor::Shape::new([1, 1, 4, 4]),
            &Default::default(),
            DType::F32.into(),
        );
        let aligned = |mode| GridSampleOptions::new(mode).with_align_corners(true);
        assert!(<Flex as ResampleKernels>::has_kernels(
            &x,
            &x,
            &aligned(InterpolateMode::Bilinear)
        ));
        assert!(!<Flex as ResampleKernels>::has_kernels(
            &x,
            &x,
            &aligned(InterpolateMode::Nearest)
        ));
        let unaligned = GridSampleOptions::new(InterpolateMode::Bilinear);
        assert!(!<Flex as ResampleKernels>::has_kernels(&x, &x, &unaligned));
    }

    #[test]
    fn the_inline_floor_is_floor() {
        let values = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.999,
            -2.999,
            1e-300,
            -1e-300,
            123456.5,
            -7.0,
            1e16,
            -1e16,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for v in values {
            assert_eq!(floor(v), v.floor(), "{v}");
        }
        assert!(floor(f64::NAN).is_nan());
    }
}
