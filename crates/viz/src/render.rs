//! The gradient ascent: optimise an image parameter to maximise an objective.

use burn::tensor::{Device, Tensor};
use excite_core::transform::{Transform, apply_all, standard};
use excite_core::{Activations, Error, ImageParam, Objective, Result, VisualModel};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::adam::Adam;
use crate::progress::Progress;

/// The settings of one render.
#[derive(Clone, Debug)]
pub struct RenderConfig {
    /// Optimisation steps (default 512).
    pub steps: usize,
    /// Adam's learning rate (default 0.05).
    pub learning_rate: f32,
    /// Transforms applied before each step (default: Lucid's standard list).
    pub transforms: Vec<Transform>,
    /// Steps after which to keep a snapshot of the images (the final images are always kept).
    pub thresholds: Vec<usize>,
    /// Seed of the initial parameter and of the transforms.
    pub seed: u64,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            steps: 512,
            learning_rate: 0.05,
            transforms: standard(),
            thresholds: Vec::new(),
            seed: 0,
        }
    }
}

/// What a render produced.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The final images, `[B, 3, H, W]` in `[0, 1]` (no autodiff).
    pub images: Tensor<4>,
    /// `(step, images)` at each threshold.
    pub snapshots: Vec<(usize, Tensor<4>)>,
    /// The objective at every step (under that step's random transforms).
    pub history: Vec<f32>,
}

/// Maximises `objective` over images parameterized by `param`, by Adam on `device` (which must
/// have autodiff enabled and be the device the model's weights live on).
///
/// Each step renders the image, applies the random transforms, runs the model only as far as the
/// objective's layers, and ascends the gradient. A non-finite objective stops the render with
/// [`Error::NonFinite`].
pub fn render(
    model: &dyn VisualModel,
    objective: &Objective,
    param: &ImageParam,
    config: &RenderConfig,
    device: &Device,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Rendered> {
    if !device.is_autodiff() {
        return Err(Error::Invalid(
            "rendering needs an autodiff device (Device::autodiff())".into(),
        ));
    }
    if config.steps == 0 || config.learning_rate.is_nan() || config.learning_rate <= 0.0 {
        return Err(Error::Invalid(format!(
            "steps must be positive and the learning rate above zero (got {} and {})",
            config.steps, config.learning_rate
        )));
    }
    let layers: Vec<&str> = objective.layers().iter().map(String::as_str).collect();
    let mut raw = param.init(config.seed, device).without_autodiff();
    let mut adam = Adam::new(config.learning_rate);
    let mut rng = StdRng::seed_from_u64(config.seed.wrapping_add(0x9e37_79b9_7f4a_7c15));
    let mut history = Vec::with_capacity(config.steps);
    let mut snapshots = Vec::new();
    for step in 1..=config.steps {
        let leaf = raw.clone().autodiff().require_grad();
        let image = param.image(leaf.clone());
        let input = apply_all(&config.transforms, image.clone(), &mut rng);
        let activations = model.activations(input, &layers)?;
        let value = objective.evaluate(&Activations::new(image, &layers, activations))?;
        let scalar = value.clone().into_scalar::<f32>();
        if !scalar.is_finite() {
            return Err(Error::NonFinite {
                step,
                value: scalar,
            });
        }
        history.push(scalar);
        let grads = value.neg().backward();
        let grad = leaf
            .grad(&grads)
            .ok_or_else(|| Error::Invalid("the objective does not depend on the image".into()))?;
        raw = adam.step(raw, grad);
        if config.thresholds.contains(&step) {
            snapshots.push((step, param.image(raw.clone())));
        }
        progress(&Progress {
            step,
            steps: config.steps,
            value: scalar,
        });
    }
    Ok(Rendered {
        images: param.image(raw),
        snapshots,
        history,
    })
}

/// Evaluates `objective` on fixed images (no transforms, no gradient), e.g. to compare a render
/// with a natural photo.
pub fn evaluate(model: &dyn VisualModel, objective: &Objective, images: Tensor<4>) -> Result<f32> {
    let layers: Vec<&str> = objective.layers().iter().map(String::as_str).collect();
    let images = images.detach();
    let activations = model.activations(images.clone(), &layers)?;
    let value = objective.evaluate(&Activations::new(images, &layers, activations))?;
    Ok(value.into_scalar::<f32>())
}
