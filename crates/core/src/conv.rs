#![cfg_attr(any(feature = "ndarray", feature = "tch"), allow(deprecated))]
//! Depthwise and pointwise convolutions whose input gradient costs what their forward pass
//! costs.
//!
//! Burn's autodiff differentiates every convolution's input as a transposed convolution
//! (`conv2d_x_backward`). The CPU backend's `conv_transpose2d` has no depthwise path (it was
//! the largest item of a render step's profile, BENCHMARKS.md) and computes a 1x1 one as a
//! matrix product into a buffer of columns, then adds the columns into a zeroed output. The
//! input gradient of a convolution is itself a convolution: of the output gradient, dilated by
//! the stride and padded, with the kernel's input and output channels swapped within each
//! group and its taps flipped. [`conv2d`] is the one custom autodiff op that computes it so,
//! on every backend, with the backend's own forward kernel (or, on LibTorch, a strided one with
//! its transposed convolution), for the two kinds that kernel has
//! fast paths for: depthwise (one input channel per group) and pointwise (1x1, stride 1, no
//! padding). It saves the kernel instead of the input, and computes no weight
//! gradient: where the weight or the bias is tracked (training), for any other convolution, or
//! where the padding is wider than the kernel's span, it is Burn's own `conv2d`.
//!
//! The gradient's stride zeros and padding, and the forward input's asymmetric padding (Burn
//! pads such an input with a zero fill and a copy, both on one thread), are one
//! [`Convolution::spread`]: on flex one pass, one image plane per task. On LibTorch a strided
//! input gradient is ATen's transposed convolution instead ([`Convolution::spread_conv2d`]),
//! which skips the zeros. Every pointwise convolution, forward and input gradient, is one
//! [`Convolution::pointwise`]: on flex each image's pixels in column blocks over the threads,
//! where flex's own runs one matrix product per image (one thread for a single image).

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

mod flex;

/// A convolution, as [`burn::tensor::module::conv2d`] computes it, whose input gradient is one
/// convolution of the output gradient when it is depthwise (`groups` equal to the input
/// channels `C`, each group one input channel and `M / C` output channels) or pointwise (a
/// 1x1 kernel, stride 1, no padding). Any other convolution is Burn's `conv2d`, its padding's
/// asymmetric part spread into the input first where there is one.
///
/// # Shapes
/// - x: `[N, C, H, W]`
/// - weight: `[M, C / groups, kH, kW]`
/// - bias: `[M]`
/// - output: `[N, M, H', W']`
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    // The op takes a bias always (extensions take no optional tensors): zeros where none.
    let bias = bias.unwrap_or_else(|| Tensor::zeros([weight.dims()[0]], &weight.device()));
    Tensor::from_dispatch(<Dispatch as Convolution>::conv2d_by_conv(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        options,
    ))
}

extension_trait! {
    /// The op behind [`conv2d`], for every backend excite is built with.
    pub trait Convolution: Backend {
        /// The backend's own convolution (without autodiff there is no backward to change),
        /// its padding's asymmetric part spread into the input first; a pointwise one is
        /// [`Convolution::pointwise`].
        ///
        /// # Shapes
        /// - x: `[N, C, H, W]`; weight: `[M, C / groups, kH, kW]`; bias: `[M]`
        /// - output: `[N, M, H', W']`
        fn conv2d_by_conv(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            options: ConvOptions<2>,
        ) -> FloatTensor<Self> {
            conv_padded::<Self>(x, weight, Some(bias), options)
        }

        /// `x` with `stride - 1` zeros between its pixels along each axis (`stride` at least 1)
        /// and `padding` (before, after) zeros around: a zero tensor with `x` written into it
        /// with a step.
        ///
        /// # Shapes
        /// - x: `[N, C, H, W]`
        /// - output: `[N, C, (H - 1) * sH + 1 + top + bottom, (W - 1) * sW + 1 + left + right]`
        fn spread(
            x: FloatTensor<Self>,
            stride: [usize; 2],
            padding: [(usize, usize); 2],
        ) -> FloatTensor<Self> {
            spread_by_slices::<Self>(x, stride, padding)
        }

        /// A pointwise convolution: a 1x1 kernel, stride 1, no padding, in `groups` groups
        /// (`C` and `M` divisible by it); per image and group, the kernel times the image's
        /// pixels, plus the bias where it has one (an empty bias is none: extensions take no
        /// optional tensors).
        ///
        /// # Shapes
        /// - x: `[N, C, H, W]`; weight: `[M, C / groups, 1, 1]`; bias: `[M]` or `[0]`
        /// - output: `[N, M, H, W]`
        fn pointwise(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            groups: usize,
        ) -> FloatTensor<Self> {
            pointwise_by_conv::<Self>(x, weight, bias, groups)
        }

        /// A strided convolution's input gradient: `grad` [spread](Convolution::spread) by
        /// `stride` and `padding`, then convolved (stride 1, no padding) with `weight`, the
        /// forward convolution's kernel, its channels swapped within each group and its taps
        /// flipped.
        ///
        /// # Shapes
        /// - grad: `[N, M, H', W']`
        /// - weight: `[M, C / groups, kH, kW]`
        /// - output: `[N, C, (H' - 1) * sH + 1 + top + bottom - (kH - 1) * dH, ..]`
        fn spread_conv2d(
            grad: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            stride: [usize; 2],
            padding: [(usize, usize); 2],
            dilation: [usize; 2],
            groups: usize,
        ) -> FloatTensor<Self> {
            spread_conv2d_by_spread::<Self>(grad, weight, stride, padding, dilation, groups)
        }
    }
}

default_impls!(Convolution);

/// [`Convolution::spread`] from the backend's own ops.
fn spread_by_slices<B: Backend>(
    x: FloatTensor<B>,
    stride: [usize; 2],
    padding: [(usize, usize); 2],
) -> FloatTensor<B> {
    let [n, c, h, w] = x.shape().dims::<4>();
    let [(sh, sw), (th, tw)] = [(stride[0], stride[1]), (padding[0].0, padding[1].0)];
    let [ho, wo] = spread_size([h, w], stride, padding);
    let zeros = B::float_zeros(Shape::new([n, c, ho, wo]), &x.device(), x.dtype().into());
    if h == 0 || w == 0 {
        return zeros;
    }
    let every = [
        Slice::full(),
        Slice::full(),
        Slice::new(
            th as isize,
            Some((th + (h - 1) * sh + 1) as isize),
            sh as isize,
        ),
        Slice::new(
            tw as isize,
            Some((tw + (w - 1) * sw + 1) as isize),
            sw as isize,
        ),
    ];
    B::float_slice_assign(zeros, &every, x)
}

/// [`Convolution::pointwise`] as the backend's own convolution (an empty bias as none).
pub(crate) fn pointwise_by_conv<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    groups: usize,
) -> FloatTensor<B> {
    let options = ConvOptions::new([1, 1], [0, 0], [1, 1], groups);
    let bias = (bias.shape().num_elements() > 0).then_some(bias);
    B::conv2d(x, weight, bias, options)
}

/// Whether a convolution with a `kernel`-sized kernel and `options` is pointwise: 1x1, stride
/// 1, no padding (any dilation, which a 1x1 kernel ignores).
fn is_pointwise(kernel: [usize; 2], options: &ConvOptions<2>) -> bool {
    kernel == [1, 1] && options.stride == [1, 1] && options.padding == [(0, 0); 2]
}

/// [`Convolution::spread_conv2d`] as its definition says: the backend's spread, then its
/// convolution.
pub(crate) fn spread_conv2d_by_spread<B: Convolution>(
    grad: FloatTensor<B>,
    weight: FloatTensor<B>,
    stride: [usize; 2],
    padding: [(usize, usize); 2],
    dilation: [usize; 2],
    groups: usize,
) -> FloatTensor<B> {
    let spread = B::spread(grad, stride, padding);
    let options = ConvOptions::new([1, 1], [0, 0], dilation, groups);
    B::conv2d(spread, flipped_kernel::<B>(weight, groups), None, options)
}

/// A convolution's kernel `[M, C / groups, kH, kW]` as its input gradient's kernel
/// `[C, M / groups, kH, kW]`: input and output channels swapped within each group, taps
/// flipped in both spatial axes.
fn flipped_kernel<B: Backend>(weight: FloatTensor<B>, groups: usize) -> FloatTensor<B> {
    let [m, inputs, kh, kw] = weight.shape().dims::<4>();
    let (g, outputs) = (groups, m / groups);
    let swapped = if inputs == 1 {
        weight
    } else {
        let grouped = B::float_reshape(weight, Shape::new([g, outputs, inputs, kh, kw]));
        B::float_swap_dims(grouped, 1, 2)
    };
    let kernel = B::float_reshape(swapped, Shape::new([g * inputs, outputs, kh, kw]));
    if [kh, kw] == [1, 1] {
        kernel
    } else {
        B::float_flip(kernel, &[2, 3])
    }
}

/// The spatial size [`Convolution::spread`] gives (the padding alone for an empty axis).
pub(crate) fn spread_size(
    [h, w]: [usize; 2],
    [sh, sw]: [usize; 2],
    [(t, b), (l, r)]: [(usize, usize); 2],
) -> [usize; 2] {
    let spread = |size: usize, step: usize| size.saturating_sub(1) * step + size.min(1);
    [spread(h, sh) + t + b, spread(w, sw) + l + r]
}

/// The convolution with the asymmetric part of its padding spread into the input first (by
/// the backend's [`Convolution::spread`]), so that the backend pads symmetrically: Burn's own
/// asymmetric padding is a zero fill and a copy on one thread. A pointwise one (1x1, stride 1,
/// no padding) is the backend's [`Convolution::pointwise`].
fn conv_padded<B: Convolution>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: Option<FloatTensor<B>>,
    options: ConvOptions<2>,
) -> FloatTensor<B> {
    let [_, _, kh, kw] = weight.shape().dims::<4>();
    if is_pointwise([kh, kw], &options) {
        let bias = bias.unwrap_or_else(|| {
            B::float_zeros(Shape::new([0]), &weight.device(), weight.dtype().into())
        });
        return B::pointwise(x, weight, bias, options.groups);
    }
    let inner = options.padding.map(|(begin, end)| begin.min(end));
    let outer = [0, 1].map(|i| {
        let (begin, end) = options.padding[i];
        (begin - inner[i], end - inner[i])
    });
    if outer == [(0, 0); 2] {
        return B::conv2d(x, weight, bias, options);
    }
    let x = B::spread(x, [1, 1], outer);
    let symmetric = inner.map(|p| (p, p));
    let options =
        ConvOptions::new_with_padding(options.stride, symmetric, options.dilation, options.groups);
    B::conv2d(x, weight, bias, options)
}

impl<B: Backend + Convolution, C: CheckpointStrategy> Convolution for Autodiff<B, C> {
    fn conv2d_by_conv(
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
        struct ConvBackward;

        impl<B: Backend + Convolution> Backward<B, 1> for ConvBackward {
            /// The forward kernel `[M, C / groups, kH, kW]` and the geometry.
            type State = (FloatTensor<B>, Geometry);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (weight, geometry) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    geometry.input_gradient::<B>(grad, weight)
                });
            }
        }

        let weight = weight.into_primitive();
        let bias = Some(bias.into_primitive());
        match ConvBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let output = conv_padded::<B>(x.into_primitive(), weight.clone(), bias, options);
                prep.finish((weight, geometry), output)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(conv_padded::<B>(x.into_primitive(), weight, bias, options))
            }
        }
    }
}

/// What the input gradient of one depthwise or pointwise convolution needs to know besides
/// the kernel.
#[derive(Debug, Clone)]
struct Geometry {
    /// The groups of the convolution, and so of its input gradient.
    groups: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
    /// The padding, before and after, of the output gradient (dilated by the stride) that
    /// makes a valid convolution with the kernel's span give the input's size.
    padding: [(usize, usize); 2],
}

impl Geometry {
    /// The geometry of a depthwise or pointwise convolution, or `None` for any other, or for
    /// one whose padding is wider than the kernel's span (the gradient would need cropping).
    fn of(x: &Shape, weight: &Shape, options: &ConvOptions<2>) -> Option<Self> {
        let ([_, channels, h, w], [m, inputs, kh, kw]) = (x.dims::<4>(), weight.dims::<4>());
        let groups = options.groups;
        let depthwise = groups == channels && channels >= 2 && inputs == 1;
        let pointwise = is_pointwise([kh, kw], options) && inputs * groups == channels;
        if !(depthwise || pointwise) || !m.is_multiple_of(groups) {
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
            groups,
            stride: options.stride,
            dilation: options.dilation,
            padding,
        })
    }

    /// The input's gradient from the output's: the output gradient spread by the stride and
    /// padded, convolved with the [flipped kernel](flipped_kernel) of the forward one.
    ///
    /// # Shapes
    /// - grad: `[N, M, H', W']`
    /// - weight: `[M, C / groups, kH, kW]`
    /// - output: `[N, C, H, W]`
    fn input_gradient<B: Convolution>(
        &self,
        grad: FloatTensor<B>,
        weight: FloatTensor<B>,
    ) -> FloatTensor<B> {
        if self.stride == [1, 1] {
            let options =
                ConvOptions::new_with_padding([1, 1], self.padding, self.dilation, self.groups);
            let kernel = flipped_kernel::<B>(weight, self.groups);
            return conv_padded::<B>(grad, kernel, None, options);
        }
        B::spread_conv2d(
            grad,
            weight,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::{relative_difference, test_devices};
    use burn::tensor::module::conv2d;
    use burn::tensor::{Device, Distribution};

    /// The input gradient and output of `Σ r · conv(x)` by the custom op and by Burn's conv2d,
    /// on `device`.
    fn both(
        x: [usize; 4],
        weight: [usize; 4],
        options: ConvOptions<2>,
        bias: bool,
        device: &Device,
    ) -> [(Tensor<4>, Tensor<4>); 2] {
        let x = Tensor::<4>::random(x, Distribution::Normal(0.0, 1.0), device);
        let w = Tensor::<4>::random(weight, Distribution::Normal(0.0, 1.0), device);
        let b = bias.then(|| Tensor::<1>::random([weight[0]], Distribution::Default, device));
        // A random weighting of the output, the same for both.
        let dims = conv2d(x.clone(), w.clone(), b.clone(), options.clone()).dims();
        let r = Tensor::<4>::random(dims, Distribution::Normal(0.0, 1.0), device);
        let run = |custom: bool| {
            let x = x.clone().require_grad();
            let f = if custom { super::conv2d } else { conv2d };
            let y = f(x.clone(), w.clone(), b.clone(), options.clone());
            let grads = (y.clone() * r.clone()).sum().backward();
            (y.inner(), x.grad(&grads).expect("x's gradient"))
        };
        [run(true), run(false)]
    }

    #[test]
    fn the_input_gradient_is_burns_at_every_stride_dilation_padding_multiplier_and_group() {
        // (input, weight, stride, padding (begin, end) per axis, dilation, groups, bias)
        type Case = (
            [usize; 4],
            [usize; 4],
            [usize; 2],
            [(usize, usize); 2],
            [usize; 2],
            usize,
            bool,
        );
        #[rustfmt::skip]
        let cases: [Case; 15] = [
            // depthwise
            ([2, 4, 9, 9], [4, 1, 3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], 4, true),
            ([2, 4, 9, 8], [4, 1, 3, 3], [2, 2], [(1, 1), (1, 1)], [1, 1], 4, false),
            ([1, 3, 10, 11], [3, 1, 5, 5], [2, 2], [(2, 2), (2, 2)], [1, 1], 3, true),
            ([1, 3, 10, 10], [3, 1, 3, 3], [2, 2], [(0, 1), (0, 1)], [1, 1], 3, false),
            ([1, 3, 12, 12], [3, 1, 3, 3], [1, 1], [(2, 2), (2, 2)], [2, 2], 3, true),
            ([1, 2, 9, 9], [6, 1, 3, 3], [1, 2], [(1, 0), (1, 1)], [1, 1], 2, true),
            ([1, 2, 7, 9], [2, 1, 3, 5], [3, 1], [(0, 0), (2, 1)], [1, 1], 2, false),
            ([1, 5, 8, 8], [5, 1, 1, 1], [2, 2], [(0, 0), (0, 0)], [1, 1], 5, true),
            ([1, 3, 13, 12], [3, 1, 3, 3], [2, 2], [(2, 1), (2, 2)], [2, 2], 3, true),
            // LibTorch's transposed path: a channel multiplier, a dilation
            ([1, 2, 9, 9], [6, 1, 3, 3], [2, 2], [(1, 1), (1, 1)], [1, 1], 2, true),
            ([1, 3, 13, 12], [3, 1, 3, 3], [2, 2], [(2, 2), (2, 2)], [2, 2], 3, false),
            // pointwise: one group, two groups, one input channel, flex's column blocks
            ([2, 6, 7, 5], [4, 6, 1, 1], [1, 1], [(0, 0), (0, 0)], [1, 1], 1, true),
            ([1, 6, 5, 4], [8, 3, 1, 1], [1, 1], [(0, 0), (0, 0)], [1, 1], 2, false),
            ([3, 1, 4, 6], [5, 1, 1, 1], [1, 1], [(0, 0), (0, 0)], [1, 1], 1, true),
            ([1, 6, 23, 19], [5, 6, 1, 1], [1, 1], [(0, 0), (0, 0)], [1, 1], 1, true),
        ];
        for (x, w, stride, padding, dilation, groups, bias) in cases {
            let options = ConvOptions::new_with_padding(stride, padding, dilation, groups);
            let custom = Geometry::of(&Shape::new(x), &Shape::new(w), &options);
            assert!(
                custom.is_some(),
                "not computed by the custom op: {x:?} {w:?}"
            );
            for device in test_devices() {
                let [(y, dx), (y_burn, dx_burn)] = both(x, w, options.clone(), bias, &device);
                let case = format!(
                    "{x:?} {w:?} stride {stride:?} padding {padding:?} dilation {dilation:?} \
                     groups {groups} on {device:?}"
                );
                assert_eq!(dx.dims(), x, "{case}");
                assert!(relative_difference(y_burn, y) < 1e-6, "forward, {case}");
                let diff = relative_difference(dx_burn, dx);
                assert!(diff < 1e-5, "input gradient differs by {diff}, {case}");
            }
        }
    }

    #[test]
    fn other_convolutions_are_burns() {
        // A full 3x3 convolution, a 1x1 one with a stride, a 1x1 one with padding.
        let cases = [
            (
                [1, 3, 6, 6],
                [4, 3, 3, 3],
                ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            ),
            (
                [1, 3, 6, 6],
                [4, 3, 1, 1],
                ConvOptions::new([2, 2], [0, 0], [1, 1], 1),
            ),
            (
                [1, 3, 6, 6],
                [4, 3, 1, 1],
                ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            ),
        ];
        for (x, w, options) in cases {
            assert!(Geometry::of(&Shape::new(x), &Shape::new(w), &options).is_none());
            for device in test_devices() {
                let [(y, dx), (y_burn, dx_burn)] = both(x, w, options.clone(), true, &device);
                assert!(relative_difference(y_burn, y) < 1e-6, "{device:?}");
                assert!(relative_difference(dx_burn, dx) < 1e-6, "{device:?}");
            }
        }
    }

    #[test]
    fn a_tracked_weight_gets_its_gradient() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([1, 3, 6, 6], Distribution::Default, &device);
        let w = Tensor::<4>::random([3, 1, 3, 3], Distribution::Default, &device).require_grad();
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 3);
        let grads = super::conv2d(x.clone(), w.clone(), None, options.clone())
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
        for device in test_devices() {
            let [(y, dx), (y_burn, dx_burn)] =
                both([1, 3, 5, 5], [3, 1, 3, 3], options.clone(), false, &device);
            assert_eq!(y.dims(), [1, 3, 9, 9]);
            assert!(relative_difference(y_burn, y) < 1e-6, "{device:?}");
            assert!(relative_difference(dx_burn, dx) < 1e-6, "{device:?}");
        }
    }
}
