#![cfg_attr(feature = "ndarray", allow(deprecated))]
//! A depthwise convolution whose input gradient costs what its forward pass costs.
//!
//! Burn's autodiff differentiates every convolution's input as a transposed convolution
//! (`conv2d_x_backward`), and the CPU backend's `conv_transpose2d` has no depthwise path: it
//! was the largest item of a render step's profile (BENCHMARKS.md). The input gradient of a
//! depthwise convolution is itself a depthwise convolution: of the output gradient, dilated by
//! the stride and padded, with the kernel flipped. [`depthwise_conv2d`] is the one custom
//! autodiff op that computes it so, on every backend, with the backend's own forward kernel.
//! It saves the flipped kernel instead of the input, and computes no weight gradient: where the
//! weight or the bias is tracked (training), or the padding is wider than the kernel's span, it
//! is Burn's own `conv2d`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, TensorMetadata};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Shape, Slice, Tensor};

use crate::extension::{default_impls, extension_trait};

/// A convolution with `groups` equal to the input channels `C` (each group one input channel,
/// `M / C` output channels), as [`burn::tensor::module::conv2d`] computes it, whose input
/// gradient is one grouped convolution of the output gradient. Any other convolution is passed
/// to `conv2d` unchanged.
///
/// # Shapes
/// - x: `[N, C, H, W]`
/// - weight: `[M, 1, kH, kW]`, `M` a multiple of `C`
/// - bias: `[M]`
/// - output: `[N, M, H', W']`
pub fn depthwise_conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    // The op takes a bias always (extensions take no optional tensors): zeros where none.
    let bias = bias.unwrap_or_else(|| Tensor::zeros([weight.dims()[0]], &weight.device()));
    Tensor::from_dispatch(<Dispatch as DepthwiseConv>::depthwise_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        options,
    ))
}

extension_trait! {
    /// The op behind [`depthwise_conv2d`], for every backend excite is built with.
    pub trait DepthwiseConv: Backend {
        /// The backend's own convolution (without autodiff there is no backward to change).
        fn depthwise_conv2d(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            options: ConvOptions<2>,
        ) -> FloatTensor<Self> {
            <Self as ModuleOps<Self>>::conv2d(x, weight, Some(bias), options)
        }
    }
}

default_impls!(DepthwiseConv);

impl DepthwiseConv for burn::backend::Flex {}

impl<B: Backend, C: CheckpointStrategy> DepthwiseConv for Autodiff<B, C> {
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let constant = !weight.is_tracked() && !bias.is_tracked();
        let geometry = Geometry::of(&x.shape(), &weight.shape(), &options);
        let (true, Some(geometry)) = (constant, geometry) else {
            return <Self as ModuleOps<Self>>::conv2d(x, weight, Some(bias), options);
        };

        #[derive(Debug)]
        struct DepthwiseBackward;

        impl<B: Backend> Backward<B, 1> for DepthwiseBackward {
            /// The flipped kernel `[C, M / C, kH, kW]` and the geometry.
            type State = (FloatTensor<B>, Geometry);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (kernel, geometry) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    geometry.input_gradient::<B>(grad, kernel)
                });
            }
        }

        let weight = weight.into_primitive();
        let bias = Some(bias.into_primitive());
        match DepthwiseBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let kernel = geometry.flipped_kernel::<B>(weight.clone());
                let output = B::conv2d(x.into_primitive(), weight, bias, options);
                prep.finish((kernel, geometry), output)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::conv2d(x.into_primitive(), weight, bias, options))
            }
        }
    }
}

/// What the input gradient of one depthwise convolution needs to know besides the kernel.
#[derive(Debug, Clone)]
struct Geometry {
    /// Input channels `C` (the groups).
    channels: usize,
    /// Output channels per input channel, `M / C`.
    multiplier: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
    /// The padding, before and after, of the output gradient (dilated by the stride) that
    /// makes a valid convolution with the kernel's span give the input's size.
    padding: [(usize, usize); 2],
}

impl Geometry {
    /// The geometry of a depthwise convolution, or `None` for a convolution that is not one,
    /// or whose padding is wider than the kernel's span (the gradient would need cropping).
    fn of(x: &Shape, weight: &Shape, options: &ConvOptions<2>) -> Option<Self> {
        let ([_, channels, h, w], [m, 1, kh, kw]) = (x.dims::<4>(), weight.dims::<4>()) else {
            return None;
        };
        if options.groups != channels || channels < 2 || m % channels != 0 {
            return None;
        }
        let mut padding = [(0, 0); 2];
        for (i, (size, kernel)) in [(h, kh), (w, kw)].into_iter().enumerate() {
            let span = (kernel - 1) * options.dilation[i];
            let (begin, end) = options.padding[i];
            if begin > span || end > span || size + begin + end < span + 1 {
                return None;
            }
            let out = (size + begin + end - span - 1) / options.stride[i] + 1;
            // The dilated gradient holds (out - 1) * stride + 1 rows; with this padding it
            // spans size + span rows, so the valid convolution gives `size` rows.
            padding[i] = (
                span - begin,
                size + begin - (out - 1) * options.stride[i] - 1,
            );
        }
        Some(Self {
            channels,
            multiplier: m / channels,
            stride: options.stride,
            dilation: options.dilation,
            padding,
        })
    }

    /// The forward kernel `[M, 1, kH, kW]` as the gradient's kernel: `[C, M / C, kH, kW]`,
    /// flipped in both spatial axes.
    fn flipped_kernel<B: Backend>(&self, weight: FloatTensor<B>) -> FloatTensor<B> {
        let [_, _, kh, kw] = weight.shape().dims::<4>();
        let grouped =
            B::float_reshape(weight, Shape::new([self.channels, self.multiplier, kh, kw]));
        B::float_flip(grouped, &[2, 3])
    }

    /// The input's gradient from the output's: the output gradient dilated by the stride,
    /// convolved with the flipped kernel, one group per input channel.
    ///
    /// # Shapes
    /// - grad: `[N, M, H', W']`
    /// - kernel: `[C, M / C, kH, kW]`
    /// - output: `[N, C, H, W]`
    fn input_gradient<B: Backend>(
        &self,
        grad: FloatTensor<B>,
        kernel: FloatTensor<B>,
    ) -> FloatTensor<B> {
        let grad = if self.stride == [1, 1] {
            grad
        } else {
            let [n, m, h, w] = grad.shape().dims::<4>();
            let [sh, sw] = self.stride;
            let dilated = Shape::new([n, m, (h - 1) * sh + 1, (w - 1) * sw + 1]);
            let zeros = B::float_zeros(dilated, &grad.device(), grad.dtype().into());
            let every = [
                Slice::full(),
                Slice::full(),
                Slice::new(0, None, sh as isize),
                Slice::new(0, None, sw as isize),
            ];
            B::float_slice_assign(zeros, &every, grad)
        };
        let options =
            ConvOptions::new_with_padding([1, 1], self.padding, self.dilation, self.channels);
        B::conv2d(grad, kernel, None, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv2d;
    use burn::tensor::{Device, Distribution};

    /// The largest difference between two tensors, over the largest magnitude of the first.
    fn relative_difference(a: Tensor<4>, b: Tensor<4>) -> f32 {
        let scale = a.clone().abs().max().into_scalar::<f32>().max(1e-6);
        (a - b).abs().max().into_scalar::<f32>() / scale
    }

    /// The input gradient and output of `Σ r · conv(x)` by the custom op and by Burn's conv2d.
    fn both(
        x: [usize; 4],
        weight: [usize; 4],
        options: ConvOptions<2>,
        bias: bool,
    ) -> [(Tensor<4>, Tensor<4>); 2] {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random(x, Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<4>::random(weight, Distribution::Normal(0.0, 1.0), &device);
        let b = bias.then(|| Tensor::<1>::random([weight[0]], Distribution::Default, &device));
        let run = |custom: bool| {
            let x = x.clone().require_grad();
            let f = if custom { depthwise_conv2d } else { conv2d };
            let y = f(x.clone(), w.clone(), b.clone(), options.clone());
            // A fixed, non-uniform weighting of the output, the same for both.
            let r = Tensor::<4>::ones(y.dims(), &device).cumsum(3).sin();
            let grads = (y.clone() * r).sum().backward();
            (y.inner(), x.grad(&grads).expect("x's gradient"))
        };
        [run(true), run(false)]
    }

    #[test]
    fn the_input_gradient_is_burns_at_every_stride_dilation_padding_and_multiplier() {
        // (input, weight, stride, padding (begin, end) per axis, dilation, bias)
        type Case = (
            [usize; 4],
            [usize; 4],
            [usize; 2],
            [(usize, usize); 2],
            [usize; 2],
            bool,
        );
        #[rustfmt::skip]
        let cases: [Case; 9] = [
            ([2, 4, 9, 9], [4, 1, 3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], true),
            ([2, 4, 9, 8], [4, 1, 3, 3], [2, 2], [(1, 1), (1, 1)], [1, 1], false),
            ([1, 3, 10, 11], [3, 1, 5, 5], [2, 2], [(2, 2), (2, 2)], [1, 1], true),
            ([1, 3, 10, 10], [3, 1, 3, 3], [2, 2], [(0, 1), (0, 1)], [1, 1], false),
            ([1, 3, 12, 12], [3, 1, 3, 3], [1, 1], [(2, 2), (2, 2)], [2, 2], true),
            ([1, 2, 9, 9], [6, 1, 3, 3], [1, 2], [(1, 0), (1, 1)], [1, 1], true),
            ([1, 2, 7, 9], [2, 1, 3, 5], [3, 1], [(0, 0), (2, 1)], [1, 1], false),
            ([1, 5, 8, 8], [5, 1, 1, 1], [2, 2], [(0, 0), (0, 0)], [1, 1], true),
            ([1, 3, 13, 12], [3, 1, 3, 3], [2, 2], [(2, 1), (2, 2)], [2, 2], true),
        ];
        for (x, w, stride, padding, dilation, bias) in cases {
            let options = ConvOptions::new_with_padding(stride, padding, dilation, x[1]);
            let custom = Geometry::of(&Shape::new(x), &Shape::new(w), &options);
            assert!(
                custom.is_some(),
                "not computed by the custom op: {x:?} {w:?}"
            );
            let [(y, dx), (y_burn, dx_burn)] = both(x, w, options, bias);
            let case =
                format!("{x:?} {w:?} stride {stride:?} padding {padding:?} dilation {dilation:?}");
            assert_eq!(dx.dims(), x, "{case}");
            assert!(relative_difference(y_burn, y) < 1e-6, "forward, {case}");
            let diff = relative_difference(dx_burn, dx);
            assert!(diff < 1e-5, "input gradient differs by {diff}, {case}");
        }
    }

    #[test]
    fn a_tracked_weight_gets_its_gradient() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([1, 3, 6, 6], Distribution::Default, &device);
        let w = Tensor::<4>::random([3, 1, 3, 3], Distribution::Default, &device).require_grad();
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 3);
        let grads = depthwise_conv2d(x.clone(), w.clone(), None, options.clone())
            .sum()
            .backward();
        let reference = conv2d(x, w.clone(), None, options).sum().backward();
        let (got, want) = (w.grad(&grads).unwrap(), w.grad(&reference).unwrap());
        assert!(relative_difference(want, got) < 1e-6);
    }

    #[test]
    fn a_padding_wider_than_the_kernel_falls_back_to_burns_conv() {
        let options = ConvOptions::new([1, 1], [3, 3], [1, 1], 3);
        assert!(
            Geometry::of(
                &Shape::new([1, 3, 5, 5]),
                &Shape::new([3, 1, 3, 3]),
                &options
            )
            .is_none()
        );
        let [(y, dx), (y_burn, dx_burn)] = both([1, 3, 5, 5], [3, 1, 3, 3], options, false);
        assert_eq!(y.dims(), [1, 3, 9, 9]);
        assert!(relative_difference(y_burn, y) < 1e-6);
        assert!(relative_difference(dx_burn, dx) < 1e-6);
    }
}
