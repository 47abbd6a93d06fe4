#![cfg_attr(any(feature = "ndarray", feature = "tch"), allow(deprecated))]
//! Clip (ReLU6 and its kin, `min(max(x, lo), hi)`) as one pass forward and one pass backward.
//!
//! Burn's autodiff differentiates `clamp` through masked fills, and a composition of ReLUs
//! (`relu(x) - relu(x - 6)`) costs four passes each way; on the CPU backend those passes run on
//! one thread. [`clip`] is one custom autodiff op whose backward is one pass over the saved
//! input: the gradient where `lo < x < hi`, zero elsewhere. On flex both passes are one
//! multithreaded loop, on LibTorch ATen's `clamp` and `hardtanh_backward`; other backends
//! compose them from their own ops.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend, Dispatch, Flex, TensorMetadata, get_or_init_device_settings,
};
use burn::tensor::Tensor;

use crate::extension::{default_impls, extension_trait, f32_values, flex_f32, map_chunks};

/// `min(max(x, lo), hi)`, whose gradient passes where `lo < x < hi`. Infinite bounds leave
/// that side open; NaN stays NaN.
///
/// # Shapes
/// - x, output: any shape `[..]`
pub fn clip<const D: usize>(x: Tensor<D>, lo: f32, hi: f32) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as Clip>::clip(x.into_dispatch(), lo, hi))
}

extension_trait! {
    /// The op behind [`clip`], for every backend excite is built with.
    pub trait Clip: Backend {
        /// `min(max(x, lo), hi)`, element by element.
        fn clip(x: FloatTensor<Self>, lo: f32, hi: f32) -> FloatTensor<Self> {
            clamp::<Self>(x, lo, hi)
        }

        /// The input's gradient: `grad` where `lo < x < hi`, zero elsewhere.
        ///
        /// # Shapes
        /// - x, grad, output: the same shape `[..]`
        fn clip_backward(
            x: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            lo: f32,
            hi: f32,
        ) -> FloatTensor<Self> {
            inside_only::<Self>(x, grad, lo, hi)
        }
    }
}

default_impls!(Clip);

/// [`Clip::clip`] from the backend's own ops.
fn clamp<B: Backend>(x: FloatTensor<B>, lo: f32, hi: f32) -> FloatTensor<B> {
    B::float_clamp(x, lo.into(), hi.into())
}

/// [`Clip::clip_backward`] from the backend's own ops.
fn inside_only<B: Backend>(
    x: FloatTensor<B>,
    grad: FloatTensor<B>,
    lo: f32,
    hi: f32,
) -> FloatTensor<B> {
    let bools = get_or_init_device_settings::<B>(&x.device()).bool_dtype;
    let inside = B::bool_and(
        B::float_greater_elem(x.clone(), lo.into(), bools),
        B::float_lower_elem(x, hi.into(), bools),
    );
    B::float_mask_fill(grad, B::bool_not(inside), 0.0f32.into())
}

impl Clip for Flex {
    fn clip(x: FlexTensor, lo: f32, hi: f32) -> FlexTensor {
        // `f32::clamp` keeps NaN and vectorises; it needs ordered, non-NaN bounds.
        let (Some(values), true) = (f32_values(&x), lo <= hi) else {
            return clamp::<Flex>(x, lo, hi);
        };
        let n = values.layout().num_elements();
        let out = map_chunks([&values.storage::<f32>()[..n]], n, move |[v]| {
            v.clamp(lo, hi)
        });
        flex_f32(out, x.layout().shape().clone())
    }

    fn clip_backward(x: FlexTensor, grad: FlexTensor, lo: f32, hi: f32) -> FlexTensor {
        let (Some(xs), Some(gs)) = (f32_values(&x), f32_values(&grad)) else {
            return inside_only::<Flex>(x, grad, lo, hi);
        };
        let n = xs.layout().num_elements();
        let inputs = [&xs.storage::<f32>()[..n], &gs.storage::<f32>()[..n]];
        // `&`, not `&&`: both comparisons, then one select, which vectorises.
        let out = map_chunks(
            inputs,
            n,
            move |[v, g]| if (v > lo) & (v < hi) { g } else { 0.0 },
        );
        flex_f32(out, grad.layout().shape().clone())
    }
}

impl<B: Backend + Clip, C: CheckpointStrategy> Clip for Autodiff<B, C> {
    fn clip(x: FloatTensor<Self>, lo: f32, hi: f32) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ClipBackward;

        impl<B: Backend + Clip> Backward<B, 1> for ClipBackward {
            /// The input and the bounds.
            type State = (FloatTensor<B>, f32, f32);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (x, lo, hi) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::clip_backward(x, grad, lo, hi)
                });
            }
        }

        match ClipBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let input = x.into_primitive();
                let output = B::clip(input.clone(), lo, hi);
                prep.finish((input, lo, hi), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::clip(x.into_primitive(), lo, hi)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::test_devices;
    use burn::tensor::{Device, TensorData};

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Values and gradients of `Σ w · clip(x)` against hand-derived ones, for every kind of
    /// bound, on a contiguous input and on a strided view of one.
    #[test]
    fn values_and_gradients_match_the_definition_for_every_kind_of_bound() {
        for device in test_devices() {
            definition_holds_on(&device);
        }
    }

    fn definition_holds_on(device: &Device) {
        let xs: Vec<f32> = (-12..=12).map(|i| i as f32 * 0.75).collect();
        let w: Vec<f32> = (0..xs.len()).map(|i| (i as f32 * 0.7).sin()).collect();
        for (lo, hi) in [
            (0.0, 6.0),
            (-1.5, 2.0),
            (0.0, f32::INFINITY),
            (1.0, f32::INFINITY),
            (f32::NEG_INFINITY, 3.0),
            (f32::NEG_INFINITY, f32::INFINITY),
        ] {
            for strided in [false, true] {
                let data = if strided {
                    // Every value twice; the view takes every second one.
                    xs.iter().flat_map(|&v| [v, -100.0]).collect::<Vec<_>>()
                } else {
                    xs.clone()
                };
                let n = data.len();
                let base =
                    Tensor::<1>::from_data(TensorData::new(data, [n]), device).require_grad();
                let x = if strided {
                    base.clone()
                        .reshape([xs.len(), 2])
                        .narrow(1, 0, 1)
                        .reshape([xs.len()])
                } else {
                    base.clone()
                };
                let y = clip(x, lo, hi);
                let want: Vec<f32> = xs.iter().map(|&v| v.max(lo).min(hi)).collect();
                assert_eq!(values(y.clone()), want, "[{lo}, {hi}]");
                let weights = Tensor::<1>::from_floats(w.as_slice(), device);
                let grads = (y * weights).sum().backward();
                let got = values(base.grad(&grads).unwrap());
                let expected: Vec<f32> = xs
                    .iter()
                    .zip(&w)
                    .map(|(&v, &w)| if v > lo && v < hi { w } else { 0.0 })
                    .flat_map(|g| if strided { vec![g, 0.0] } else { vec![g] })
                    .collect();
                assert_eq!(got, expected, "[{lo}, {hi}], strided {strided}, {device:?}");
            }
        }
    }

    /// The composed path (every backend but flex) against flex's loops.
    #[test]
    fn the_composed_backward_is_the_loops() {
        use burn::backend::ops::FloatTensorOps;
        let device = Default::default();
        let xs: Vec<f32> = (-10..10).map(|i| i as f32 * 0.8).collect();
        let gs: Vec<f32> = (0..20).map(|i| 1.0 + i as f32).collect();
        let tensor = |v: &[f32]| Flex::float_from_data(TensorData::new(v.to_vec(), [20]), &device);
        let flat = |t: FlexTensor| t.to_contiguous().storage::<f32>()[..20].to_vec();
        for (lo, hi) in [(0.0, 6.0), (f32::NEG_INFINITY, 1.0), (-2.0, f32::INFINITY)] {
            let composed = inside_only::<Flex>(tensor(&xs), tensor(&gs), lo, hi);
            let looped = <Flex as Clip>::clip_backward(tensor(&xs), tensor(&gs), lo, hi);
            assert_eq!(flat(composed), flat(looped), "[{lo}, {hi}]");
            let clamped = clamp::<Flex>(tensor(&xs), lo, hi);
            assert_eq!(
                flat(clamped),
                flat(<Flex as Clip>::clip(tensor(&xs), lo, hi))
            );
        }
    }

    #[test]
    fn nan_stays_nan() {
        let x = Tensor::<1>::from_floats([f32::NAN, -1.0, 7.0, 3.0], &Device::flex());
        let got = values(clip(x, 0.0, 6.0));
        assert!(got[0].is_nan());
        assert_eq!(got[1..], [0.0, 6.0, 3.0]);
    }
}
