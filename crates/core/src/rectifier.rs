#![cfg_attr(any(feature = "ndarray", feature = "tch"), allow(deprecated))]
//! How gradients pass back through a network's rectifiers: the ordinary chain rule, or the
//! modified rules of deconvnet (Zeiler & Fergus 2014) and guided backpropagation
//! (Springenberg et al. 2015), as Captum's `Deconvolution` and `GuidedBackprop` define them.
//!
//! Both rules are built from one custom autodiff op, [`rectify_gradient`]: the identity going
//! forward whose backward pass keeps only the positive part of the gradient. Placed after a
//! rectifier `y = f(x)`:
//! - guided backpropagation runs `rectify_gradient(f(x))`: the gradient arriving at the
//!   rectifier is rectified, then multiplied by the rectifier's own derivative (for ReLU,
//!   `relu(g) · 1[x > 0]`);
//! - deconvnet runs `rectify_gradient(x + (f(x) - x).detach())`: the same value, but the
//!   gradient skips the rectifier's derivative, so only `relu(g)` passes (the forward mask is
//!   ignored).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch};

use crate::extension::{default_impls, extension_trait};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// The rule by which gradients pass back through rectifiers (ReLU and its kin).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RectifierRule {
    /// The chain rule.
    #[default]
    Gradient,
    /// Deconvnet: the rectified gradient, the forward mask ignored.
    Deconvnet,
    /// Guided backpropagation: the rectified gradient times the rectifier's derivative.
    GuidedBackprop,
}

impl RectifierRule {
    /// The rectifier's output `output = f(input)` as this rule wants it differentiated: the
    /// same values, a different backward pass.
    ///
    /// # Shapes
    /// - input, output, result: the same shape `[..]`
    pub fn apply<const D: usize>(self, input: Tensor<D>, output: Tensor<D>) -> Tensor<D> {
        match self {
            RectifierRule::Gradient => output,
            RectifierRule::GuidedBackprop => rectify_gradient(output),
            RectifierRule::Deconvnet => rectify_gradient(input.clone() + (output - input).detach()),
        }
    }
}

/// The identity, whose backward pass passes `relu(gradient)`: the one custom autodiff op of
/// the modified rules. On a device without autodiff it is the identity.
///
/// # Shapes
/// - x, output: any shape `[..]`
pub fn rectify_gradient<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as RectifyGradient>::rectify_gradient(
        x.into_dispatch(),
    ))
}

extension_trait! {
    /// The op behind [`rectify_gradient`], for every backend excite is built with.
    pub trait RectifyGradient: Backend {
        /// The identity going forward (and backward, on a backend without autodiff).
        fn rectify_gradient(x: FloatTensor<Self>) -> FloatTensor<Self> {
            x
        }
    }
}

default_impls!(RectifyGradient);

impl RectifyGradient for burn::backend::Flex {}

impl<B: Backend, C: CheckpointStrategy> RectifyGradient for Autodiff<B, C> {
    fn rectify_gradient(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct RectifiedBackward;

        impl<B: Backend> Backward<B, 1> for RectifiedBackward {
            type State = ();

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                unary::<B, _>(ops.parents, ops.node, grads, |grad| B::relu(grad));
            }
        }

        RectifiedBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateless(x.into_primitive())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData, activation::relu};

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// `y = Σ w · f(x)` with f = ReLU: the gradient of each rule, against hand-derived values.
    #[test]
    fn each_rule_passes_the_hand_derived_gradient() {
        let device = Device::flex().autodiff();
        let x0 = [-1.0f32, 2.0, 3.0, -4.0];
        let w = Tensor::<1>::from_floats([1.0, -2.0, 0.5, 3.0], &device);
        let expected = [
            (RectifierRule::Gradient, [0.0, -2.0, 0.5, 0.0]),
            // relu(w), the mask ignored
            (RectifierRule::Deconvnet, [1.0, 0.0, 0.5, 3.0]),
            // relu(w) · 1[x > 0]
            (RectifierRule::GuidedBackprop, [0.0, 0.0, 0.5, 0.0]),
        ];
        for (rule, want) in expected {
            let x = Tensor::<1>::from_data(TensorData::from(x0), &device).require_grad();
            let y = rule.apply(x.clone(), relu(x.clone()));
            assert_eq!(values(y.clone()), [0.0, 2.0, 3.0, 0.0], "{rule:?} forward");
            let grads = (y * w.clone()).sum().backward();
            assert_eq!(values(x.grad(&grads).unwrap()), want, "{rule:?}");
        }
    }

    #[test]
    fn without_autodiff_it_is_the_identity() {
        let device = Device::flex();
        let x = Tensor::<1>::from_floats([-1.0, 2.0], &device);
        assert_eq!(values(rectify_gradient(x)), [-1.0, 2.0]);
    }
}
