//! The gradient ascent: optimise an image parameter to maximise an objective.

use std::time::Instant;

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

/// One step's outcome.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    /// The objective at this step (under its random transforms).
    pub value: f32,
    /// Seconds spent rendering the image, transforming it, running the model and the
    /// objective.
    pub forward_seconds: f64,
    /// Seconds spent on the backward pass and the optimiser update.
    pub backward_seconds: f64,
}

/// The state of a gradient ascent: the raw parameter, Adam's moments and the transform RNG.
/// [`render`] drives one; benchmarks drive one step by step.
pub struct Ascent<'a> {
    model: &'a dyn VisualModel,
    objective: &'a Objective,
    param: &'a ImageParam,
    transforms: &'a [Transform],
    layers: Vec<&'a str>,
    raw: Tensor<5>,
    adam: Adam,
    rng: StdRng,
    step: usize,
}

impl<'a> Ascent<'a> {
    /// Starts an ascent on `device` (which must have autodiff enabled and hold the model).
    pub fn new(
        model: &'a dyn VisualModel,
        objective: &'a Objective,
        param: &'a ImageParam,
        config: &'a RenderConfig,
        device: &Device,
    ) -> Result<Self> {
        if !device.is_autodiff() {
            return Err(Error::Invalid(
                "rendering needs an autodiff device (Device::autodiff())".into(),
            ));
        }
        if config.learning_rate.is_nan() || config.learning_rate <= 0.0 {
            return Err(Error::Invalid(format!(
                "the learning rate must be above zero (got {})",
                config.learning_rate
            )));
        }
        Ok(Self {
            model,
            objective,
            param,
            transforms: &config.transforms,
            layers: objective.layers().iter().map(String::as_str).collect(),
            raw: param.init(config.seed, device).without_autodiff(),
            adam: Adam::new(config.learning_rate),
            rng: StdRng::seed_from_u64(config.seed.wrapping_add(0x9e37_79b9_7f4a_7c15)),
            step: 0,
        })
    }

    /// Renders, transforms, evaluates and ascends once. A non-finite objective is
    /// [`Error::NonFinite`].
    pub fn step(&mut self) -> Result<StepReport> {
        self.step += 1;
        let started = Instant::now();
        let leaf = self.raw.clone().autodiff().require_grad();
        let image = self.param.image(leaf.clone());
        let input = apply_all(self.transforms, image.clone(), &mut self.rng);
        let activations = self.model.activations(input, &self.layers)?;
        let value = self
            .objective
            .evaluate(&Activations::new(image, &self.layers, activations))?;
        let scalar = value.clone().into_scalar::<f32>();
        if !scalar.is_finite() {
            return Err(Error::NonFinite {
                step: self.step,
                value: scalar,
            });
        }
        let forward_seconds = started.elapsed().as_secs_f64();
        let grads = value.neg().backward();
        let grad = leaf
            .grad(&grads)
            .ok_or_else(|| Error::Invalid("the objective does not depend on the image".into()))?;
        self.raw = self.adam.step(self.raw.clone(), grad);
        Ok(StepReport {
            value: scalar,
            forward_seconds,
            backward_seconds: started.elapsed().as_secs_f64() - forward_seconds,
        })
    }

    /// The current images, `[B, 3, H, W]` in `[0, 1]` (no autodiff).
    pub fn images(&self) -> Tensor<4> {
        self.param.image(self.raw.clone())
    }
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
    if config.steps == 0 {
        return Err(Error::Invalid("steps must be positive".into()));
    }
    let mut ascent = Ascent::new(model, objective, param, config, device)?;
    let mut history = Vec::with_capacity(config.steps);
    let mut snapshots = Vec::new();
    for step in 1..=config.steps {
        let report = ascent.step()?;
        history.push(report.value);
        if config.thresholds.contains(&step) {
            snapshots.push((step, ascent.images()));
        }
        progress(&Progress {
            step,
            steps: config.steps,
            value: report.value,
        });
    }
    Ok(Rendered {
        images: ascent.images(),
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
