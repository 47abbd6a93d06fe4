#![cfg_attr(any(feature = "ndarray", feature = "tch"), allow(deprecated))]
//! The logistic sigmoid, `1 / (1 + e^-x)`, as one pass forward and one pass backward from the
//! saved output.
//!
//! Burn's autodiff saves a sigmoid's input and computes the sigmoid again in its backward pass,
//! and on the CPU backend both passes run on one thread: for the image's sigmoid, the last
//! stage of every parameterization, that was 3% of a render step, on the main thread while the
//! other cores waited. [`sigmoid`] is one custom autodiff op that saves its output; its
//! backward is `grad · s · (1 - s)`. On flex both passes are one multithreaded loop, on
//! LibTorch ATen's `sigmoid` and `sigmoid_backward`; other backends compose them from their
//! own ops.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ActivationOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex};
use burn::tensor::Tensor;

use crate::extension::{default_impls, extension_trait, f32_values, flex_f32, map_chunks};

/// `1 / (1 + e^-x)`, element by element; NaN stays NaN.
///
/// # Shapes
/// - x, output: any shape `[..]`
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as Sigmoid>::logistic(x.into_dispatch()))
}

extension_trait! {
    /// The op behind [`sigmoid`], for every backend excite is built with.
    pub trait Sigmoid: Backend {
        /// `1 / (1 + e^-x)`, element by element.
        fn logistic(x: FloatTensor<Self>) -> FloatTensor<Self> {
            <Self as ActivationOps<Self>>::sigmoid(x)
        }

        /// The input's gradient from the output `s`: `grad · s · (1 - s)`.
        ///
        /// # Shapes
        /// - output, grad, result: the same shape `[..]`
        fn logistic_backward(output: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
            <Self as ActivationOps<Self>>::sigmoid_backward(output, grad)
        }
    }
}

default_impls!(Sigmoid);

impl Sigmoid for Flex {
    fn logistic(x: FlexTensor) -> FlexTensor {
        let Some(values) = f32_values(&x) else {
            return <Flex as ActivationOps<Flex>>::sigmoid(x);
        };
        let n = values.layout().num_elements();
        // `e^-x` overflows to infinity below -88, which gives 0: no branch for the sign.
        let out = map_chunks([&values.storage::<f32>()[..n]], n, |[v]| {
            1.0 / (1.0 + (-v).exp())
        });
        flex_f32(out, x.layout().shape().clone())
    }

    fn logistic_backward(output: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let (Some(ss), Some(gs)) = (f32_values(&output), f32_values(&grad)) else {
            return <Flex as ActivationOps<Flex>>::sigmoid_backward(output, grad);
        };
        let n = ss.layout().num_elements();
        let inputs = [&ss.storage::<f32>()[..n], &gs.storage::<f32>()[..n]];
        let out = map_chunks(inputs, n, |[s, g]| g * s * (1.0 - s));
        flex_f32(out, grad.layout().shape().clone())
    }
}

impl<B: Backend + Sigmoid, C: CheckpointStrategy> Sigmoid for Autodiff<B, C> {
    fn logistic(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct SigmoidBackward;

        impl<B: Backend + Sigmoid> Backward<B, 1> for SigmoidBackward {
            /// The output.
            type State = FloatTensor<B>;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let output = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::logistic_backward(output, grad)
                });
            }
        }

        match SigmoidBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let output = B::logistic(x.into_primitive());
                prep.finish(output.clone(), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::logistic(x.into_primitive())),
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

    /// Values and gradients of `Σ w · sigmoid(x)` against Burn's sigmoid and its autodiff, over
    /// both tails (where `e^-x` overflows) and the middle, on a contiguous input and on a
    /// strided view of one.
    #[test]
    fn values_and_gradients_are_burns() {
        for device in test_devices() {
            burns_on(&device);
        }
    }

    fn burns_on(device: &Device) {
        let xs: Vec<f32> = (-60..=60)
            .map(|i| i as f32 * 0.25)
            .chain([-100.0, -89.0, 30.0, 100.0])
            .collect();
        let n = xs.len();
        let w: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).sin()).collect();
        for strided in [false, true] {
            let run = |custom: bool| {
                let data = if strided {
                    xs.iter().flat_map(|&v| [v, 5.0]).collect::<Vec<_>>()
                } else {
                    xs.clone()
                };
                let len = data.len();
                let base =
                    Tensor::<1>::from_data(TensorData::new(data, [len]), device).require_grad();
                let x = if strided {
                    base.clone().reshape([n, 2]).narrow(1, 0, 1).reshape([n])
                } else {
                    base.clone()
                };
                let y = if custom {
                    sigmoid(x)
                } else {
                    burn::tensor::activation::sigmoid(x)
                };
                let weights = Tensor::<1>::from_floats(w.as_slice(), device);
                let grads = (y.clone() * weights).sum().backward();
                (values(y), values(base.grad(&grads).unwrap()))
            };
            let ((y, dx), (y_burn, dx_burn)) = (run(true), run(false));
            for (i, (got, want)) in y.iter().zip(&y_burn).enumerate() {
                assert!(
                    (got - want).abs() <= 2e-7,
                    "value at {}: {got} {want}",
                    xs[i]
                );
            }
            assert_eq!(dx.len(), dx_burn.len());
            for (got, want) in dx.iter().zip(&dx_burn) {
                assert!(
                    (got - want).abs() <= 1e-6,
                    "gradient {got} {want}, {device:?}"
                );
            }
            // The view's gradient reaches the viewed elements only.
            if strided {
                assert!(dx.iter().skip(1).step_by(2).all(|&g| g == 0.0));
            }
        }
    }

    /// flex's loops against flex's own sigmoid and sigmoid backward (the ops the other
    /// backends' default paths call, each backend its own).
    #[test]
    fn the_composed_passes_are_the_loops() {
        use burn::backend::ops::FloatTensorOps;
        let device = Default::default();
        let xs: Vec<f32> = (-20..20).map(|i| i as f32 * 0.9).collect();
        let gs: Vec<f32> = (0..40).map(|i| 1.0 - i as f32 * 0.1).collect();
        let tensor = |v: &[f32]| Flex::float_from_data(TensorData::new(v.to_vec(), [40]), &device);
        let flat = |t: FlexTensor| t.to_contiguous().storage::<f32>()[..40].to_vec();
        let (looped, composed) = (
            flat(<Flex as Sigmoid>::logistic(tensor(&xs))),
            flat(<Flex as ActivationOps<Flex>>::sigmoid(tensor(&xs))),
        );
        for (a, b) in looped.iter().zip(&composed) {
            assert!((a - b).abs() <= 2e-7, "{a} {b}");
        }
        let backward =
            |f: fn(FlexTensor, FlexTensor) -> FlexTensor| flat(f(tensor(&looped), tensor(&gs)));
        assert_eq!(
            backward(<Flex as Sigmoid>::logistic_backward),
            backward(<Flex as ActivationOps<Flex>>::sigmoid_backward)
        );
    }

    #[test]
    fn nan_stays_nan() {
        let x = Tensor::<1>::from_floats([f32::NAN, 0.0], &Device::flex());
        let got = values(sigmoid(x));
        assert!(got[0].is_nan());
        assert_eq!(got[1], 0.5);
    }
}
