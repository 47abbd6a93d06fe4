//! Every gradient path, checked against finite differences on a tiny smooth model: each
//! parameterization (with and without decorrelated colour), the transforms, and each objective.

use burn::tensor::activation::tanh;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use excite_core::objective::{
    Objective, blur, channel, channels_per_image, deepdream, direction, diversity, l1, neuron,
    total_variation,
};
use excite_core::transform::{Transform, apply_all};
use excite_core::{Error, ImageGenerator, ImageParam, Result, VisualModel};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// conv 3->4 (3x3, fixed weights) then tanh: smooth, so finite differences are exact enough.
struct Smooth {
    weight: Tensor<4>,
}

impl Smooth {
    fn new(device: &Device) -> Self {
        let values: Vec<f32> = (0..4 * 3 * 9)
            .map(|i| ((i * 37 % 23) as f32 / 23.0 - 0.5) * 0.8)
            .collect();
        Self {
            weight: Tensor::from_data(TensorData::new(values, [4, 3, 3, 3]), device),
        }
    }
}

impl VisualModel for Smooth {
    fn activations(&self, images: Tensor<4>, layers: &[&str]) -> Result<Vec<Tensor<4>>> {
        let out = tanh(conv2d(
            images * 2.0 - 1.0,
            self.weight.clone(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        ));
        layers
            .iter()
            .map(|&l| {
                if l == "conv" {
                    Ok(out.clone())
                } else {
                    Err(Error::NotComputed(l.to_string()))
                }
            })
            .collect()
    }
}

/// The objective as a function of the raw parameter, with fixed transforms.
fn value(
    model: &Smooth,
    objective: &Objective,
    generator: &ImageGenerator,
    transforms: &[Transform],
    raw: Tensor<5>,
) -> Tensor<1> {
    let image = generator.image(raw);
    let input = apply_all(transforms, image.clone(), &mut StdRng::seed_from_u64(3));
    objective.evaluate_transformed(model, image, input).unwrap()
}

fn check(name: &str, objective: &Objective, param: &ImageParam, transforms: &[Transform]) {
    let device = Device::flex().autodiff();
    let model = Smooth::new(&device);
    let (generator, raw) = param.init(11, &device).unwrap();
    let raw = raw.without_autodiff();
    // Move away from the near-zero start so every term has a healthy gradient.
    let shape = raw.dims();
    let n: usize = shape.iter().product();
    let bump: Vec<f32> = (0..n)
        .map(|i| ((i * 7 % 19) as f32 / 19.0 - 0.5) * 0.6)
        .collect();
    let offset = Tensor::<5>::from_data(TensorData::new(bump, shape), &raw.device());
    let base = (raw + offset).into_data().try_to_vec::<f32>().unwrap();
    let make = |v: Vec<f32>| Tensor::<5>::from_data(TensorData::new(v, shape), &device);
    let leaf = make(base.clone()).require_grad();
    let grads = value(&model, objective, &generator, transforms, leaf.clone()).backward();
    let grad = leaf
        .grad(&grads)
        .expect("a gradient")
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let eps = 1e-2;
    let mut nonzero = 0;
    for i in (0..n).step_by((n / 7).max(1)).take(7) {
        let at = |delta: f32| {
            let mut v = base.clone();
            v[i] += delta;
            f64::from(
                value(&model, objective, &generator, transforms, make(v)).into_scalar::<f32>(),
            )
        };
        let numeric = ((at(eps) - at(-eps)) / (2.0 * f64::from(eps))) as f32;
        let tolerance = 1e-3 + 0.03 * numeric.abs().max(grad[i].abs());
        assert!(
            (numeric - grad[i]).abs() <= tolerance,
            "{name}: d/draw[{i}] autodiff {} vs finite difference {numeric}",
            grad[i]
        );
        nonzero += usize::from(grad[i].abs() > 1e-6);
    }
    assert!(nonzero >= 3, "{name}: the gradient vanishes");
}

#[test]
fn parameterizations_pass_gradients() {
    let objective = channel("conv", 1);
    check(
        "pixels",
        &objective,
        &ImageParam::pixels().with_size(8, 8),
        &[],
    );
    check(
        "pixels, plain colour",
        &objective,
        &ImageParam::pixels()
            .with_size(8, 8)
            .with_decorrelation(false),
        &[],
    );
    check(
        "fourier",
        &objective,
        &ImageParam::fourier().with_size(8, 6),
        &[],
    );
    check(
        "fourier odd",
        &objective,
        &ImageParam::fourier().with_size(7, 9),
        &[],
    );
    check(
        "phase",
        &objective,
        &ImageParam::phase_only().with_size(8, 8),
        &[],
    );
    let start = Tensor::<4>::full([1, 3, 8, 8], 0.3, &Device::flex());
    check(
        "from image",
        &objective,
        &ImageParam::from_image(start),
        &[],
    );
}

#[test]
fn transforms_pass_gradients() {
    let param = ImageParam::fourier().with_size(12, 12);
    let objective = channel("conv", 2);
    check(
        "pad",
        &objective,
        &param,
        &[Transform::Pad {
            width: 2,
            value: 0.5,
        }],
    );
    check("jitter", &objective, &param, &[Transform::Jitter(3)]);
    check("scale", &objective, &param, &[Transform::Scale(vec![1.2])]);
    check(
        "rotate",
        &objective,
        &param,
        &[Transform::Rotate(vec![10.0])],
    );
}

#[test]
fn objectives_pass_gradients() {
    let param = ImageParam::fourier().with_size(8, 8).with_batch(2);
    check("neuron", &neuron("conv", 0, Some((2, 3))), &param, &[]);
    check("deepdream", &deepdream("conv"), &param, &[]);
    check(
        "direction",
        &direction("conv", vec![0.5, -1.0, 0.25, 1.0], 0.0),
        &param,
        &[],
    );
    check(
        "direction cos",
        &direction("conv", vec![0.5, -1.0, 0.25, 1.0], 1.0),
        &param,
        &[],
    );
    check("diversity", &diversity("conv"), &param, &[]);
    check(
        "per image",
        &channels_per_image("conv", vec![3, 1]),
        &param,
        &[],
    );
    check("batch item", &channel("conv", 0).at(1), &param, &[]);
    check("l1", &l1(0.5), &param, &[]);
    check("tv", &total_variation(), &param, &[]);
    check("blur", &blur(), &param, &[]);
    check(
        "algebra",
        &(channel("conv", 0) - 0.5 * total_variation() + 2.0 * diversity("conv")),
        &param,
        &[],
    );
}
