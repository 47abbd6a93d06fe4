//! Saliency: how much each pixel of one photo moves an objective (a unit, a channel, a class
//! logit), by the gradient of the objective with respect to the photo — plain, averaged over
//! noisy copies (SmoothGrad), integrated along a path from a black image (Integrated
//! Gradients), or times the photo (gradient x input).

use burn::tensor::{Device, Tensor, TensorData};
use excite_core::{Error, Objective, Result, VisualModel};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// How the sensitivity is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The gradient at the photo.
    Gradient,
    /// The mean gradient over copies of the photo with Gaussian noise (Smilkov et al. 2017).
    Smoothgrad,
    /// `(x - baseline)` times the mean gradient along the straight path from the baseline
    /// (Sundararajan et al. 2017): the attributions sum to `f(x) - f(baseline)`.
    IntegratedGradients,
    /// The photo times its gradient.
    GradientXInput,
}

/// Settings of [`saliency`].
#[derive(Debug, Clone, PartialEq)]
pub struct SaliencyConfig {
    /// The method.
    pub method: Method,
    /// Noisy copies (SmoothGrad) or path steps (Integrated Gradients).
    pub samples: usize,
    /// The noise's standard deviation, in pixel values (`[0, 1]` images).
    pub noise: f32,
    /// The baseline pixel value of Integrated Gradients (0: black).
    pub baseline: f32,
    /// Images per forward and backward pass.
    pub batch: usize,
    /// The seed of the noise.
    pub seed: u64,
}

impl Default for SaliencyConfig {
    fn default() -> Self {
        Self {
            method: Method::Gradient,
            samples: 32,
            noise: 0.15,
            baseline: 0.0,
            batch: 8,
            seed: 0,
        }
    }
}

/// A saliency map of one photo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaliencyMap {
    /// How it was computed.
    pub method: Method,
    /// Height and width.
    pub size: [usize; 2],
    /// Per pixel (row-major): the attribution summed over the colour channels (Integrated
    /// Gradients, gradient x input) or the largest gradient magnitude of the three
    /// (gradient, SmoothGrad).
    pub pixels: Vec<f32>,
    /// Per channel and pixel, `[3, H, W]` row-major, signed.
    pub channels: Vec<f32>,
    /// The objective at the photo.
    pub value: f32,
    /// The objective at the baseline (Integrated Gradients).
    pub baseline_value: Option<f32>,
}

/// The saliency of `objective` for `image` (pixels in `[0, 1]`) under `config`, on an
/// autodiff `device`.
///
/// # Shapes
/// - image: `[1, 3, H, W]`
pub fn saliency(
    model: &dyn VisualModel,
    objective: &Objective,
    image: Tensor<4>,
    config: &SaliencyConfig,
    device: &Device,
) -> Result<SaliencyMap> {
    let [n, channels, h, w] = image.dims();
    if n != 1 || channels != 3 {
        return Err(Error::Image(format!(
            "saliency takes one RGB image, got shape {:?}",
            image.dims()
        )));
    }
    if config.samples == 0 || config.batch == 0 || !config.noise.is_finite() {
        return Err(Error::Invalid(
            "samples and batch must be at least 1, noise finite".into(),
        ));
    }
    let x = image.to_device(device);
    let value = scalar(objective.evaluate_on(model, x.clone())?)?;
    let baseline = Tensor::<4>::full([1, 3, h, w], config.baseline, device);
    let (attribution, baseline_value) = match config.method {
        Method::Gradient => (
            mean_gradient(model, objective, std::slice::from_ref(&x), config)?,
            None,
        ),
        Method::GradientXInput => (
            mean_gradient(model, objective, std::slice::from_ref(&x), config)? * x.clone(),
            None,
        ),
        Method::Smoothgrad => {
            let mut rng = StdRng::seed_from_u64(config.seed);
            let copies: Vec<Tensor<4>> = (0..config.samples)
                .map(|_| x.clone() + gaussian([1, 3, h, w], config.noise, &mut rng, device))
                .collect();
            (mean_gradient(model, objective, &copies, config)?, None)
        }
        Method::IntegratedGradients => {
            let steps = config.samples;
            let path: Vec<Tensor<4>> = (0..steps)
                .map(|k| {
                    let alpha = (k as f32 + 0.5) / steps as f32;
                    baseline.clone() + (x.clone() - baseline.clone()) * alpha
                })
                .collect();
            let grad = mean_gradient(model, objective, &path, config)?;
            let at_baseline = scalar(objective.evaluate_on(model, baseline.clone())?)?;
            ((x.clone() - baseline) * grad, Some(at_baseline))
        }
    };
    let channels = attribution
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("cannot read the gradient: {e:?}")))?;
    let plane = h * w;
    let pixels = (0..plane)
        .map(|i| {
            let c = [channels[i], channels[plane + i], channels[2 * plane + i]];
            match config.method {
                Method::Gradient | Method::Smoothgrad => c.iter().fold(0f32, |m, v| m.max(v.abs())),
                Method::IntegratedGradients | Method::GradientXInput => c.iter().sum(),
            }
        })
        .collect();
    Ok(SaliencyMap {
        method: config.method,
        size: [h, w],
        pixels,
        channels,
        value,
        baseline_value,
    })
}

/// The mean over `images` (each `[1, 3, H, W]`) of the objective's gradient with respect to
/// each, in batches.
fn mean_gradient(
    model: &dyn VisualModel,
    objective: &Objective,
    images: &[Tensor<4>],
    config: &SaliencyConfig,
) -> Result<Tensor<4>> {
    let mut total: Option<Tensor<4>> = None;
    for chunk in images.chunks(config.batch) {
        let batch = Tensor::cat(chunk.to_vec(), 0).detach().require_grad();
        let value = objective.evaluate_on(model, batch.clone())?;
        let grads = value.backward();
        let grad = batch.grad(&grads).ok_or(Error::NoGradient)?;
        // The objective is a mean over the batch: each image's share is 1/batch of its own
        // gradient, so the batch's sum, weighted by its size, adds to the mean.
        let sum = grad.sum_dim(0) * (chunk.len() as f32 / images.len() as f32);
        total = Some(match total {
            None => sum,
            Some(t) => t + sum,
        });
    }
    total.ok_or(Error::NoGradient)
}

/// Gaussian noise of standard deviation `sigma` (Box-Muller), seeded.
fn gaussian(shape: [usize; 4], sigma: f32, rng: &mut StdRng, device: &Device) -> Tensor<4> {
    let count: usize = shape.iter().product();
    let values: Vec<f32> = (0..count)
        .map(|_| {
            let (u, v): (f32, f32) = (rng.random::<f32>().max(1e-7), rng.random::<f32>());
            sigma * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        })
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn scalar(t: Tensor<1>) -> Result<f32> {
    let v = t.into_scalar::<f32>();
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::Invalid(format!(
            "the objective is {v} on this image"
        )))
    }
}
