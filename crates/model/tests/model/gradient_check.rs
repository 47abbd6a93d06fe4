//! Autodiff gradients against central finite differences, for the tests of each model.

use burn::tensor::{Device, Tensor, TensorData};

/// Checks the gradient of `value`, a scalar function of an input of `shape`, at `base` (flat)
/// against central finite differences (step 1e-2) at the flat indices `at`, within
/// `2e-3 + 5%`; returns how many of those gradients are non-zero. `device` is an autodiff
/// device.
///
/// # Shapes
/// - value's input: `shape`
/// - value's output: `[1]`
pub fn check_gradient(
    shape: [usize; 4],
    base: &[f32],
    at: &[usize],
    device: &Device,
    value: impl Fn(Tensor<4>) -> Tensor<1>,
) -> usize {
    let input = |data: Vec<f32>| Tensor::<4>::from_data(TensorData::new(data, shape), device);
    let x = input(base.to_vec()).require_grad();
    let grads = value(x.clone()).backward();
    let grad = x
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let eps = 1e-2f32;
    let mut nonzero = 0;
    for &i in at {
        let f = |delta: f32| {
            let mut moved = base.to_vec();
            moved[i] += delta;
            f64::from(value(input(moved)).into_scalar::<f32>())
        };
        let numeric = ((f(eps) - f(-eps)) / (2.0 * f64::from(eps))) as f32;
        assert!(
            (numeric - grad[i]).abs() <= 2e-3 + 0.05 * grad[i].abs(),
            "d/dx[{i}]: autodiff {} vs finite difference {numeric}",
            grad[i]
        );
        nonzero += usize::from(grad[i].abs() > 1e-5);
    }
    nonzero
}
