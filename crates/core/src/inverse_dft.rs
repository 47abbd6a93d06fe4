#![cfg_attr(any(feature = "ndarray", feature = "tch"), allow(deprecated))]
//! The inverse 2-D real DFT of [`crate::fourier::InverseRfft2`] as one custom autodiff op.
//!
//! As matrix products the transform costs `O(hw (h + w))` each way: at 128 px and a batch of
//! 16 that is about a fifth of a render step's arithmetic, where PyTorch's `irfft2` is an FFT.
//! [`irfft2`] is one op whose backward is the transform's adjoint (the real DFT of the image's
//! gradient, weighted like the half spectrum). On flex both directions are FFTs (`rustfft`,
//! any size), one image plane per task, on LibTorch its own FFTs (`irfft2`, `rfft2`); other
//! backends compute both with the matrices.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, DType, Dispatch, Flex, TensorMetadata};
use burn::tensor::{Shape, Tensor};
use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftDirection, FftPlanner};

use crate::extension::{default_impls, extension_trait, flex_f32};

/// numpy's `irfft2(re + i·im, s = (h, w), norm = "ortho")`, with the matrices of
/// [`crate::fourier::InverseRfft2`] (which the backends without an FFT multiply by).
///
/// # Shapes
/// - re, im: `[B, C, h, w/2+1]`
/// - cy, sy: `[1, 1, h, h]`; cx, sx: `[1, 1, w/2+1, w]`
/// - output: `[B, C, h, w]`
pub(crate) fn irfft2(re: Tensor<4>, im: Tensor<4>, [cy, sy, cx, sx]: [Tensor<4>; 4]) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as InverseDft>::irfft2(
        re.into_dispatch(),
        im.into_dispatch(),
        cy.into_dispatch(),
        sy.into_dispatch(),
        cx.into_dispatch(),
        sx.into_dispatch(),
    ))
}

extension_trait! {
    /// The op behind [`irfft2`], for every backend excite is built with.
    pub trait InverseDft: Backend {
        /// The image of a half spectrum, by the matrices.
        ///
        /// # Shapes
        /// - re, im: `[B, C, h, w/2+1]`
        /// - cy, sy: `[1, 1, h, h]`; cx, sx: `[1, 1, w/2+1, w]`
        /// - output: `[B, C, h, w]`
        fn irfft2(
            re: FloatTensor<Self>,
            im: FloatTensor<Self>,
            cy: FloatTensor<Self>,
            sy: FloatTensor<Self>,
            cx: FloatTensor<Self>,
            sx: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            by_matrices::<Self>(re, im, [cy, sy, cx, sx])
        }

        /// The adjoint: the real and imaginary parts' gradients from the image's.
        ///
        /// # Shapes
        /// - grad: `[B, C, h, w]`
        /// - cy, sy, cx, sx: as [`InverseDft::irfft2`] takes them
        /// - output: two `[B, C, h, w/2+1]`
        fn irfft2_adjoint(
            grad: FloatTensor<Self>,
            cy: FloatTensor<Self>,
            sy: FloatTensor<Self>,
            cx: FloatTensor<Self>,
            sx: FloatTensor<Self>,
        ) -> (FloatTensor<Self>, FloatTensor<Self>) {
            adjoint_by_matrices::<Self>(grad, [cy, sy, cx, sx])
        }
    }
}

default_impls!(InverseDft);

/// `Cy·re·Cx − Sy·im·Cx − Sy·re·Sx − Cy·im·Sx`, the matrices broadcast over the batch.
pub(crate) fn by_matrices<B: Backend>(
    re: FloatTensor<B>,
    im: FloatTensor<B>,
    [cy, sy, cx, sx]: [FloatTensor<B>; 4],
) -> FloatTensor<B> {
    let [b, c, h, wf] = re.shape().dims::<4>();
    let w = cx.shape().dims::<4>()[3];
    let along_y = |m: FloatTensor<B>| B::float_expand(m, Shape::new([b, c, h, h]));
    let (cy, sy) = (along_y(cy), along_y(sy));
    let z_re = B::float_sub(
        B::float_matmul(cy.clone(), re.clone()),
        B::float_matmul(sy.clone(), im.clone()),
    );
    let z_im = B::float_add(B::float_matmul(sy, re), B::float_matmul(cy, im));
    let along_x = |m: FloatTensor<B>| B::float_expand(m, Shape::new([b, c, wf, w]));
    B::float_sub(
        B::float_matmul(z_re, along_x(cx)),
        B::float_matmul(z_im, along_x(sx)),
    )
}

/// The transposed products of [`by_matrices`] (`Cy` and `Sy` are symmetric).
pub(crate) fn adjoint_by_matrices<B: Backend>(
    grad: FloatTensor<B>,
    [cy, sy, cx, sx]: [FloatTensor<B>; 4],
) -> (FloatTensor<B>, FloatTensor<B>) {
    let [b, c, h, w] = grad.shape().dims::<4>();
    let wf = cx.shape().dims::<4>()[2];
    let along_x =
        |m: FloatTensor<B>| B::float_expand(B::float_swap_dims(m, 2, 3), Shape::new([b, c, w, wf]));
    let dz_re = B::float_matmul(grad.clone(), along_x(cx));
    let dz_im = B::float_neg(B::float_matmul(grad, along_x(sx)));
    let along_y = |m: FloatTensor<B>| B::float_expand(m, Shape::new([b, c, h, h]));
    let (cy, sy) = (along_y(cy), along_y(sy));
    let d_re = B::float_add(
        B::float_matmul(cy.clone(), dz_re.clone()),
        B::float_matmul(sy.clone(), dz_im.clone()),
    );
    let d_im = B::float_sub(B::float_matmul(cy, dz_im), B::float_matmul(sy, dz_re));
    (d_re, d_im)
}

impl<B: Backend + InverseDft, C: CheckpointStrategy> InverseDft for Autodiff<B, C> {
    fn irfft2(
        re: FloatTensor<Self>,
        im: FloatTensor<Self>,
        cy: FloatTensor<Self>,
        sy: FloatTensor<Self>,
        cx: FloatTensor<Self>,
        sx: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct InverseDftBackward;

        impl<B: Backend + InverseDft> Backward<B, 2> for InverseDftBackward {
            /// The matrices `[cy, sy, cx, sx]`.
            type State = [FloatTensor<B>; 4];

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let [cy, sy, cx, sx] = ops.state;
                let [node_re, node_im] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (d_re, d_im) = B::irfft2_adjoint(grad, cy, sy, cx, sx);
                if let Some(node) = node_re {
                    grads.register::<B>(node.id, d_re);
                }
                if let Some(node) = node_im {
                    grads.register::<B>(node.id, d_im);
                }
            }
        }

        let parents = [re.node(), im.node()];
        let [cy, sy, cx, sx] = [cy, sy, cx, sx].map(|m| m.into_primitive());
        let (re, im) = (re.into_primitive(), im.into_primitive());
        let image = B::irfft2(re, im, cy.clone(), sy.clone(), cx.clone(), sx.clone());
        match InverseDftBackward
            .prepare::<C>(parents)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish([cy, sy, cx, sx], image),
            OpsKind::UnTracked(prep) => prep.finish(image),
        }
    }
}

impl InverseDft for Flex {
    fn irfft2(
        re: FlexTensor,
        im: FlexTensor,
        cy: FlexTensor,
        sy: FlexTensor,
        cx: FlexTensor,
        sx: FlexTensor,
    ) -> FlexTensor {
        let [b, c, h, wf] = re.layout().shape().dims::<4>();
        let w = cx.layout().shape().dims::<4>()[3];
        if re.dtype() != DType::F32 || im.dtype() != DType::F32 || b * c * h * w == 0 {
            return by_matrices::<Flex>(re, im, [cy, sy, cx, sx]);
        }
        let (re, im) = (re.to_contiguous(), im.to_contiguous());
        let (res, ims) = (re.storage::<f32>(), im.storage::<f32>());
        let plans = Plans::new(h, w, FftDirection::Inverse);
        let mut out = vec![0f32; b * c * h * w];
        out.par_chunks_mut(h * w)
            .enumerate()
            .for_each(|(plane, out)| {
                let at = plane * h * wf;
                plans.image(&res[at..at + h * wf], &ims[at..at + h * wf], out)
            });
        flex_f32(out, Shape::new([b, c, h, w]))
    }

    fn irfft2_adjoint(
        grad: FlexTensor,
        cy: FlexTensor,
        sy: FlexTensor,
        cx: FlexTensor,
        sx: FlexTensor,
    ) -> (FlexTensor, FlexTensor) {
        let [b, c, h, w] = grad.layout().shape().dims::<4>();
        if grad.dtype() != DType::F32 || b * c * h * w == 0 {
            return adjoint_by_matrices::<Flex>(grad, [cy, sy, cx, sx]);
        }
        let wf = w / 2 + 1;
        let grad = grad.to_contiguous();
        let gs = grad.storage::<f32>();
        let plans = Plans::new(h, w, FftDirection::Forward);
        let (mut re, mut im) = (vec![0f32; b * c * h * wf], vec![0f32; b * c * h * wf]);
        re.par_chunks_mut(h * wf)
            .zip(im.par_chunks_mut(h * wf))
            .enumerate()
            .for_each(|(plane, (re, im))| {
                plans.spectrum(&gs[plane * h * w..(plane + 1) * h * w], re, im)
            });
        let shape = Shape::new([b, c, h, wf]);
        (flex_f32(re, shape.clone()), flex_f32(im, shape))
    }
}

/// `c_kx`: the weight of half-spectrum column `kx` of an `h x w` image in its whole spectrum (1
/// for the DC and Nyquist columns, which have no mirror image; 2 for the others), over
/// `sqrt(h w)`.
pub(crate) fn half_spectrum_weight(h: usize, w: usize, kx: usize) -> f32 {
    let alone = kx == 0 || (w.is_multiple_of(2) && kx == w / 2);
    let c = if alone { 1.0 } else { 2.0 };
    c / ((h * w) as f32).sqrt()
}

/// The FFTs along each axis of an `h x w` plane, in one direction.
struct Plans {
    h: usize,
    w: usize,
    columns: Arc<dyn Fft<f32>>,
    rows: Arc<dyn Fft<f32>>,
}

impl Plans {
    /// The FFTs of `h x w` planes in `direction` (`Inverse` for the image, `Forward` for its
    /// adjoint).
    fn new(h: usize, w: usize, direction: FftDirection) -> Self {
        let mut planner = FftPlanner::new();
        let (columns, rows) = (
            planner.plan_fft(h, direction),
            planner.plan_fft(w, direction),
        );
        Self {
            h,
            w,
            columns,
            rows,
        }
    }

    /// Scratch space for either plan's in-place FFTs.
    fn scratch(&self) -> Vec<Complex<f32>> {
        let len = self.columns.get_inplace_scratch_len();
        vec![Complex::new(0.0, 0.0); len.max(self.rows.get_inplace_scratch_len())]
    }

    /// [`half_spectrum_weight`] of column `kx` of these planes.
    fn weight(&self, kx: usize) -> f32 {
        half_spectrum_weight(self.h, self.w, kx)
    }

    /// One plane's image from its half spectrum: an inverse FFT down each column, then,
    /// along each row, the real part of the inverse FFT of the weighted half row.
    ///
    /// # Shapes
    /// - re, im: `[h, w/2+1]`
    /// - out: `[h, w]`
    fn image(&self, re: &[f32], im: &[f32], out: &mut [f32]) {
        let (h, w, wf) = (self.h, self.w, self.w / 2 + 1);
        let mut scratch = self.scratch();
        let mut z = vec![Complex::new(0f32, 0f32); h * wf];
        let mut column = vec![Complex::new(0f32, 0f32); h];
        for kx in 0..wf {
            for (ky, v) in column.iter_mut().enumerate() {
                *v = Complex::new(re[ky * wf + kx], im[ky * wf + kx]);
            }
            self.columns.process_with_scratch(&mut column, &mut scratch);
            let weight = self.weight(kx);
            for (y, v) in column.iter().enumerate() {
                z[y * wf + kx] = v * weight;
            }
        }
        let mut row = vec![Complex::new(0f32, 0f32); w];
        for (y, out) in out.chunks_exact_mut(w).enumerate() {
            row[..wf].copy_from_slice(&z[y * wf..(y + 1) * wf]);
            row[wf..].fill(Complex::new(0.0, 0.0));
            self.rows.process_with_scratch(&mut row, &mut scratch);
            for (o, v) in out.iter_mut().zip(&row) {
                *o = v.re;
            }
        }
    }

    /// The adjoint of [`Plans::image`] for one plane: a forward FFT along each row, its
    /// first `w/2+1` bins weighted, then a forward FFT down each column.
    ///
    /// # Shapes
    /// - grad: `[h, w]`
    /// - re, im: `[h, w/2+1]`
    fn spectrum(&self, grad: &[f32], re: &mut [f32], im: &mut [f32]) {
        let (h, w, wf) = (self.h, self.w, self.w / 2 + 1);
        let mut scratch = self.scratch();
        let weights: Vec<f32> = (0..wf).map(|kx| self.weight(kx)).collect();
        let mut z = vec![Complex::new(0f32, 0f32); h * wf];
        let mut row = vec![Complex::new(0f32, 0f32); w];
        for (y, g) in grad.chunks_exact(w).enumerate() {
            for (v, &g) in row.iter_mut().zip(g) {
                *v = Complex::new(g, 0.0);
            }
            self.rows.process_with_scratch(&mut row, &mut scratch);
            for ((z, v), weight) in z[y * wf..].iter_mut().zip(&row[..wf]).zip(&weights) {
                *z = v * weight;
            }
        }
        let mut column = vec![Complex::new(0f32, 0f32); h];
        for kx in 0..wf {
            for (y, v) in column.iter_mut().enumerate() {
                *v = z[y * wf + kx];
            }
            self.columns.process_with_scratch(&mut column, &mut scratch);
            for (ky, v) in column.iter().enumerate() {
                re[ky * wf + kx] = v.re;
                im[ky * wf + kx] = v.im;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};

    use super::*;
    use crate::extension::{relative_difference, test_devices};
    use crate::fourier::InverseRfft2;

    const SIZES: [(usize, usize); 4] = [(8, 8), (7, 10), (12, 9), (16, 5)];

    #[test]
    fn the_op_and_its_gradients_are_burns_autodiff_of_the_matrix_products() {
        for (device, (h, w)) in test_devices()
            .into_iter()
            .flat_map(|d| SIZES.map(|s| (d.clone(), s)))
        {
            let dft = InverseRfft2::new(h, w, &device);
            let [cy, sy, cx, sx] = dft.matrices();
            let spectrum = || {
                Tensor::<4>::random(
                    [2, 3, h, w / 2 + 1],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                )
            };
            let (re, im) = (spectrum(), spectrum());
            // A fixed random weighting of the image, the same for both.
            let r = Tensor::<4>::random([2, 3, h, w], Distribution::Normal(0.0, 1.0), &device);
            let run = |custom: bool| {
                let (re, im) = (re.clone().require_grad(), im.clone().require_grad());
                let image = if custom {
                    dft.apply(re.clone(), im.clone())
                } else {
                    // The products as tensor ops, differentiated by Burn.
                    let z_re = cy.clone().matmul(re.clone()) - sy.clone().matmul(im.clone());
                    let z_im = sy.clone().matmul(re.clone()) + cy.clone().matmul(im.clone());
                    z_re.matmul(cx.clone()) - z_im.matmul(sx.clone())
                };
                let grads = (image.clone() * r.clone()).sum().backward();
                let grad = |t: &Tensor<4>| t.grad(&grads).expect("gradient");
                [image.inner(), grad(&re), grad(&im)]
            };
            let (custom, burn) = (run(true), run(false));
            for (what, (a, b)) in ["image", "re", "im"]
                .iter()
                .zip(burn.into_iter().zip(custom))
            {
                let diff = relative_difference(a, b);
                assert!(
                    diff < 1e-5,
                    "{h}x{w}: {what} differs by {diff} on {device:?}"
                );
            }
        }
    }

    #[test]
    fn the_matrix_kernels_of_the_other_backends_are_the_ffts() {
        use burn::backend::ops::FloatTensorOps;
        let device = Default::default();
        let flex = |t: Tensor<4>| Flex::float_from_data(t.into_data(), &device);
        let values = |t: FlexTensor| t.to_contiguous().storage::<f32>().to_vec();
        let close = |a: FlexTensor, b: FlexTensor| {
            let (a, b) = (values(a), values(b));
            let scale = a.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-5 * scale)
        };
        for (h, w) in SIZES {
            let matrices = InverseRfft2::new(h, w, &Device::flex())
                .matrices()
                .map(flex);
            let random = |dims: [usize; 4]| {
                flex(Tensor::<4>::random(
                    dims,
                    Distribution::Normal(0.0, 1.0),
                    &Device::flex(),
                ))
            };
            let (re, im) = (random([2, 3, h, w / 2 + 1]), random([2, 3, h, w / 2 + 1]));
            let [cy, sy, cx, sx] = matrices.clone();
            let fft = Flex::irfft2(re.clone(), im.clone(), cy, sy, cx, sx);
            let products = by_matrices::<Flex>(re, im, matrices.clone());
            assert!(close(products, fft), "{h}x{w}: image");

            let grad = random([2, 3, h, w]);
            let [cy, sy, cx, sx] = matrices.clone();
            let (fft_re, fft_im) = Flex::irfft2_adjoint(grad.clone(), cy, sy, cx, sx);
            let (re, im) = adjoint_by_matrices::<Flex>(grad, matrices);
            assert!(close(re, fft_re), "{h}x{w}: the real part's gradient");
            assert!(close(im, fft_im), "{h}x{w}: the imaginary part's gradient");
        }
    }
}
