//! The gradient ascent: optimise an image parameter to maximise an objective.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use excite_core::error::panic_text;
use excite_core::image_io::{to_images, with_alpha};
use excite_core::percentile::percentile;
use excite_core::transform::{Transform, apply_all, apply_fixed, crop_region, resize, standard};
use excite_core::{Error, ImageGenerator, ImageParam, Objective, Result, VisualModel};
use image::{RgbImage, RgbaImage};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::adam::Adam;
use excite_core::{Observer, Progress};

/// The steps over which a batch item whose gradient stays exactly zero is a dead unit (the
/// random transforms move the image each step, so a unit silent at one step may respond at
/// the next).
pub const DEAD_STEPS: usize = 8;

/// The settings of one render: what is optimised, how, and who hears of its progress.
///
/// ```
/// use excite_core::{ImageParam, Progress};
/// use excite_viz::RenderConfig;
/// let config = RenderConfig::default()
///     .with_param(ImageParam::fourier().with_size(224, 224))
///     .with_steps(256)
///     .on_progress(|p| {
///         if let Progress::Step { step, steps, value } = p {
///             eprintln!("{step}/{steps}: {value:.3}");
///         }
///     });
/// assert_eq!(config.steps, 256);
/// ```
#[derive(Clone)]
pub struct RenderConfig {
    /// The image parameterization (default: Fourier, 128 px, batch 1).
    pub param: ImageParam,
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
    /// Told of every step ([`Progress::Step`]; default: nobody).
    pub observer: Observer,
    /// The optimiser (default Adam; MACO uses NAdam).
    pub optimizer: Optimizer,
    /// Accumulate `|d objective / d image|` over the steps, MACO's transparency map
    /// ([`Rendered::transparency`]; default off: it costs a second, small backward pass).
    pub transparency: bool,
    /// Apply the transforms one after the other (pad, crop, resample, crop), the size following
    /// the drawn scale (`--variable-size`). Default off: the geometric transforms compose into
    /// one resampling at a size that stays the same for the whole render (Lucent's
    /// `fixed_image_size`), so the model sees one input shape and shape-specialised GPU
    /// kernels compile once.
    pub variable_size: bool,
    /// With an alpha channel ([`ImageParam::with_alpha`]), the weight of Lucid's transparency
    /// objective: each step composites the image over a random background by its alpha, and
    /// subtracts `alpha_penalty × |objective| × mean alpha`, switched on after 15% of the steps
    /// and decaying as Lucid's `decay(1.5 steps)`, so that only what excites stays opaque.
    pub alpha_penalty: f32,
}

/// The optimisers of the image parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Optimizer {
    /// Adam (Lucid's).
    Adam,
    /// NAdam (MACO's).
    Nadam,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            param: ImageParam::default(),
            steps: 512,
            learning_rate: 0.05,
            transforms: standard(),
            thresholds: Vec::new(),
            seed: 0,
            observer: Observer::default(),
            optimizer: Optimizer::Adam,
            transparency: false,
            variable_size: false,
            alpha_penalty: 1.0,
        }
    }
}

impl fmt::Debug for RenderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderConfig")
            .field("param", &self.param)
            .field("steps", &self.steps)
            .field("learning_rate", &self.learning_rate)
            .field("transforms", &self.transforms)
            .field("thresholds", &self.thresholds)
            .field("seed", &self.seed)
            .field("observer", &self.observer)
            .field("optimizer", &self.optimizer)
            .field("transparency", &self.transparency)
            .field("variable_size", &self.variable_size)
            .field("alpha_penalty", &self.alpha_penalty)
            .finish()
    }
}

impl RenderConfig {
    /// The largest input the model sees in this render (height, width): the image after the
    /// random transforms ([`excite_core::transform::input_size`]). What its memory is
    /// estimated at.
    pub fn input_size(&self) -> [usize; 2] {
        excite_core::transform::input_size(&self.transforms, self.param.size(), self.variable_size)
    }

    /// Checks the settings before any work: at least one step, a finite learning rate above
    /// zero, a parameterization that can be made ([`ImageParam::validate`]).
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::Invalid("steps must be positive".into()));
        }
        if !self.learning_rate.is_finite() || self.learning_rate <= 0.0 {
            return Err(Error::Invalid(format!(
                "the learning rate must be a finite number above zero (got {})",
                self.learning_rate
            )));
        }
        self.param.validate()
    }

    /// MACO as published (Fel et al. 2023): phases under a natural-image `magnitude` (the
    /// `1/f` spectrum when `None`) for an image of `size` pixels, 6 random crops of 25–30% of
    /// it per step seen by the model at `model_input` pixels, NAdam at learning rate 1.0, and
    /// the transparency map.
    pub fn maco(size: usize, model_input: usize, magnitude: Option<Vec<f32>>) -> Self {
        let param = ImageParam::maco().with_size(size, size);
        Self {
            param: match magnitude {
                Some(m) => param.with_magnitude(m),
                None => param,
            },
            learning_rate: 1.0,
            transforms: excite_core::transform::maco(6, model_input),
            optimizer: Optimizer::Nadam,
            transparency: true,
            ..Self::default()
        }
    }

    /// The same settings with another image parameterization.
    pub fn with_param(mut self, param: ImageParam) -> Self {
        self.param = param;
        self
    }

    /// The same settings with `steps` optimisation steps.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// The same settings with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same settings, calling `observer` after every step.
    pub fn on_progress(mut self, observer: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.observer = Observer::new(observer);
        self
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
    /// For each batch item, whether its gradient was zero at each of the first [`DEAD_STEPS`]
    /// steps (a dead unit: the image stays where it started).
    pub dead: Vec<bool>,
    /// With [`RenderConfig::transparency`]: `|d objective / d image|` summed over the steps,
    /// `[B, 3, H, W]`: where the model looked.
    pub transparency: Option<Tensor<4>>,
    /// The optimised alpha channel, with [`ImageParam::with_alpha`].
    ///
    /// # Shapes
    /// - `[B, 1, H, W]`, values in `[0, 1]`
    pub alpha: Option<Tensor<4>>,
    /// With MACO's crops, the part of the images the model saw, `[from, to]` as fractions of
    /// the side ([`crop_region`]): the visualization, where the rest is a margin that no crop
    /// optimised.
    pub region: Option<[f32; 2]>,
}

impl Rendered {
    /// The final images as 8-bit RGB pictures, one per batch item.
    pub fn to_images(&self) -> Result<Vec<RgbImage>> {
        to_images(self.images.clone())
    }

    /// The part of the final images that the model saw ([`Rendered::region`]; the whole
    /// images without crops), resampled to `size` x `size`: what to show of a MACO render.
    ///
    /// # Shapes
    /// - output: `[B, 3, size, size]`
    pub fn seen(&self, size: usize) -> Tensor<4> {
        seen_part(self.images.clone(), self.region.unwrap_or([0.0, 1.0]), size)
    }

    /// The final images with an alpha channel: the optimised alpha
    /// ([`ImageParam::with_alpha`]), else the transparency map (MACO's presentation: the
    /// map's channel mean, clipped at its 99th percentile and scaled to `[0, 1]`); `None`
    /// with neither.
    pub fn to_rgba_images(&self) -> Result<Option<Vec<RgbaImage>>> {
        let (map, scaled) = match (&self.alpha, &self.transparency) {
            (Some(alpha), _) => (alpha, false),
            (None, Some(map)) => (map, true),
            (None, None) => return Ok(None),
        };
        let [b, _, h, w] = map.dims();
        let means = map
            .clone()
            .mean_dim(1)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| Error::Invalid(format!("cannot read the alpha channel: {e:?}")))?;
        let images = self.to_images()?;
        Ok(Some(
            images
                .iter()
                .zip(means.chunks(h * w))
                .take(b)
                .map(|(image, alpha)| {
                    if scaled {
                        with_alpha(image, &unit_alpha(alpha))
                    } else {
                        with_alpha(image, alpha)
                    }
                })
                .collect(),
        ))
    }
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
    generator: ImageGenerator,
    transforms: &'a [Transform],
    raw: Tensor<5>,
    adam: Adam,
    rng: StdRng,
    step: usize,
    dead: Vec<bool>,
    /// The transparency map so far, when asked for.
    transparency: Option<Tensor<4>>,
    track_transparency: bool,
    variable_size: bool,
    /// With an alpha channel: the transparency objective.
    alpha: Option<AlphaObjective>,
}

/// Lucid's transparency objective (see [`RenderConfig::alpha_penalty`]).
struct AlphaObjective {
    /// Draws the random backgrounds (a Fourier image of the render's size and batch).
    background: ImageGenerator,
    weight: f32,
    steps: usize,
}

/// Lucid's random background's spread (`collapse_alpha_random(sd=0.5)`).
const BACKGROUND_SD: f32 = 0.5;

impl AlphaObjective {
    /// The penalty's weight at `step`: off for the first 15% of the steps, then decaying as
    /// `1 - step / (1.5 steps)` (Lucid's `only_after(150) * decay(1.5 n)` over 1000 steps).
    fn weight_at(&self, step: usize) -> f32 {
        if step * 100 <= self.steps * 15 {
            0.0
        } else {
            self.weight * (1.0 - step as f32 / (1.5 * self.steps as f32))
        }
    }

    /// The image composited over a random background by its alpha.
    ///
    /// # Shapes
    /// - rgb: `[B, 3, H, W]`; alpha: `[B, 1, H, W]`; output: `[B, 3, H, W]`
    fn composite(&self, rgb: Tensor<4>, alpha: Tensor<4>, rng: &mut StdRng) -> Tensor<4> {
        let background = self
            .background
            .random_image(BACKGROUND_SD, rng, &rgb.device());
        let alpha = alpha.repeat_dim(1, 3);
        alpha.clone() * rgb + (alpha.neg() + 1.0) * background
    }
}

impl<'a> Ascent<'a> {
    /// Starts an ascent on `device` (which must have autodiff enabled and hold the model).
    pub fn new(
        model: &'a dyn VisualModel,
        objective: &'a Objective,
        config: &'a RenderConfig,
        device: &Device,
    ) -> Result<Self> {
        if !device.is_autodiff() {
            return Err(Error::Invalid(
                "rendering needs an autodiff device (Device::autodiff())".into(),
            ));
        }
        config.validate()?;
        let (generator, raw) = config.param.init(config.seed, device)?;
        let alpha = if config.param.has_alpha() {
            let [h, w] = config.param.size();
            let background = ImageParam::fourier()
                .with_size(h, w)
                .with_batch(config.param.batch())
                .init(0, device)?
                .0;
            Some(AlphaObjective {
                background,
                weight: config.alpha_penalty,
                steps: config.steps,
            })
        } else {
            None
        };
        Ok(Self {
            model,
            objective,
            generator,
            transforms: &config.transforms,
            raw: raw.without_autodiff(),
            adam: match config.optimizer {
                Optimizer::Adam => Adam::new(config.learning_rate),
                Optimizer::Nadam => Adam::nadam(config.learning_rate),
            },
            rng: StdRng::seed_from_u64(config.seed.wrapping_add(0x9e37_79b9_7f4a_7c15)),
            step: 0,
            dead: Vec::new(),
            transparency: None,
            track_transparency: config.transparency,
            variable_size: config.variable_size,
            alpha,
        })
    }

    /// Renders, transforms, evaluates and ascends once. A non-finite objective is
    /// [`Error::NonFinite`].
    ///
    /// A panic inside the backend (the model's own ops report theirs as errors) becomes
    /// [`Error::Backend`].
    pub fn step(&mut self) -> Result<StepReport> {
        match catch_unwind(AssertUnwindSafe(|| self.step_unguarded())) {
            Ok(report) => report,
            Err(panic) => Err(Error::Backend(panic_text(&*panic))),
        }
    }

    fn step_unguarded(&mut self) -> Result<StepReport> {
        self.step += 1;
        let started = Instant::now();
        let leaf = self.raw.clone().autodiff().require_grad();
        let (image, penalty) = self.image(leaf.clone());
        // With the transparency map, the image is a leaf of its own: its gradient is the map's
        // increment, then carried back to the parameter through the generator.
        let pixels = if self.track_transparency {
            image.clone().detach().require_grad()
        } else {
            image.clone()
        };
        let input = self.transformed(pixels.clone());
        let value =
            self.objective
                .evaluate_transformed(self.model, pixels.clone(), input.clone())?;
        let scalar = value.clone().into_scalar::<f32>();
        if !scalar.is_finite() {
            let layers: Vec<&str> = self.objective.layers().iter().map(String::as_str).collect();
            return Err(Error::NonFinite {
                step: self.step,
                value: scalar,
                first: self.model.locate_non_finite(input.detach(), &layers),
            });
        }
        let forward_seconds = started.elapsed().as_secs_f64();
        // The transparency objective's penalty, relative to the objective's size.
        let penalty = penalty.map(|p| p * scalar.abs());
        // With the transparency map, the first backward stops at the image leaf and the
        // penalty joins the second, which carries the image's gradient to the parameter.
        let grads = match (&penalty, self.track_transparency) {
            (Some(p), false) => (value.neg() + p.clone()).backward(),
            _ => value.neg().backward(),
        };
        let grads = if self.track_transparency {
            let d_image = pixels.grad(&grads).ok_or_else(|| {
                Error::Invalid("the objective does not depend on the image".into())
            })?;
            self.transparency = Some(match self.transparency.take() {
                None => d_image.clone().abs(),
                Some(map) => map + d_image.clone().abs(),
            });
            let carried = (image * d_image.autodiff()).sum();
            match penalty {
                Some(p) => (carried + p).backward(),
                None => carried.backward(),
            }
        } else {
            grads
        };
        let grad = leaf
            .grad(&grads)
            .ok_or_else(|| Error::Invalid("the objective does not depend on the image".into()))?;
        if self.step <= DEAD_STEPS {
            let zero = zero_per_item(grad.clone())?;
            self.dead = if self.step == 1 {
                zero
            } else {
                self.dead.iter().zip(zero).map(|(&a, b)| a && b).collect()
            };
        }
        self.raw = self.adam.step(self.raw.clone(), grad);
        Ok(StepReport {
            value: scalar,
            forward_seconds,
            backward_seconds: started.elapsed().as_secs_f64() - forward_seconds,
        })
    }

    /// The image the model's transforms see, and the transparency objective's penalty
    /// (`weight × mean alpha`, before scaling by the objective), from the raw parameter: the
    /// RGB image, composited over a random background by its alpha when it has one.
    ///
    /// # Shapes
    /// - leaf: as [`ImageParam::init`] returns it
    /// - output: `[B, 3, H, W]`, and a one-element penalty
    fn image(&mut self, leaf: Tensor<5>) -> (Tensor<4>, Option<Tensor<1>>) {
        let (rgb, alpha) = self.generator.image_and_alpha(leaf);
        match (&self.alpha, alpha) {
            (Some(objective), Some(alpha)) => {
                let weight = objective.weight_at(self.step);
                let penalty = alpha.clone().mean() * weight;
                (
                    objective.composite(rgb, alpha, &mut self.rng),
                    Some(penalty),
                )
            }
            _ => (rgb, None),
        }
    }

    /// The random transforms of this step: one resampling at a constant size
    /// (unless [`RenderConfig::variable_size`]) when they allow it, else one after the other.
    ///
    /// # Shapes
    /// - image: `[B, 3, H, W]`
    /// - output: `[B', 3, H', W']`
    fn transformed(&mut self, image: Tensor<4>) -> Tensor<4> {
        let fixed = if !self.variable_size {
            apply_fixed(self.transforms, image.clone(), &mut self.rng)
        } else {
            None
        };
        fixed.unwrap_or_else(|| apply_all(self.transforms, image, &mut self.rng))
    }

    /// The optimised alpha channel, with [`ImageParam::with_alpha`].
    ///
    /// # Shapes
    /// - output: `[B, 1, H, W]`
    pub fn alpha(&self) -> Option<Tensor<4>> {
        self.generator.image_and_alpha(self.raw.clone()).1
    }

    /// For each batch item, whether its gradient has been zero at every step so far, up to
    /// the first [`DEAD_STEPS`] (empty before the first step).
    pub fn dead(&self) -> &[bool] {
        &self.dead
    }

    /// The current images (no autodiff).
    ///
    /// # Shapes
    /// - output: `[B, 3, H, W]`, values in `[0, 1]`
    pub fn images(&self) -> Tensor<4> {
        self.generator.image(self.raw.clone())
    }
}

/// Maximises `objective` over images parameterized as `config.param` says, by Adam on `device`
/// (which must have autodiff enabled and be the device the model's weights live on).
///
/// Each step renders the image, applies the random transforms, runs the model only as far as the
/// objective's layers, and ascends the gradient. A non-finite objective stops the render with
/// [`Error::NonFinite`]; a gradient that is zero for every image over the first
/// [`DEAD_STEPS`] steps (nothing to optimise) with [`Error::NoGradient`].
///
/// ```no_run
/// # fn model() -> Box<dyn excite_core::VisualModel> { unimplemented!() }
/// use excite_viz::{RenderConfig, default_device, render};
/// let (device, model) = (default_device()?, model());
/// let out = render(&*model, &"blocks.5:12".parse()?, &RenderConfig::default(), &device)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render(
    model: &dyn VisualModel,
    objective: &Objective,
    config: &RenderConfig,
    device: &Device,
) -> Result<Rendered> {
    let mut ascent = Ascent::new(model, objective, config, device)?;
    let mut history = Vec::with_capacity(config.steps);
    let mut snapshots = Vec::new();
    for step in 1..=config.steps {
        let report = ascent.step()?;
        if step == DEAD_STEPS.min(config.steps) && ascent.dead().iter().all(|&d| d) {
            return Err(Error::NoGradient);
        }
        history.push(report.value);
        if config.thresholds.contains(&step) {
            snapshots.push((step, ascent.images()));
        }
        config.observer.notify(Progress::Step {
            step,
            steps: config.steps,
            value: report.value,
        });
    }
    Ok(Rendered {
        images: ascent.images(),
        snapshots,
        history,
        alpha: ascent.alpha(),
        dead: ascent.dead,
        transparency: ascent.transparency,
        region: crop_region(&config.transforms),
    })
}

/// The part `[from, to]` (fractions of the side, on both axes) of `images`, resampled to
/// `size` x `size` (as it is when it has that size already).
///
/// # Shapes
/// - images: `[B, 3, H, W]`
/// - output: `[B, 3, size, size]`
pub(crate) fn seen_part(images: Tensor<4>, [from, to]: [f32; 2], size: usize) -> Tensor<4> {
    let [_, _, h, w] = images.dims();
    let span = |len: usize| {
        let start = (from * len as f32).round() as usize;
        let end = ((to * len as f32).round() as usize).clamp(start + 1, len);
        start..end
    };
    let (rows, columns) = (span(h), span(w));
    let part = images
        .narrow(2, rows.start, rows.len())
        .narrow(3, columns.start, columns.len());
    if part.dims()[2..] == [size, size] {
        part
    } else {
        resize(part, [size, size])
    }
}

/// Alpha values in `[0, 1]`: clipped at the 99th percentile, divided by the largest.
fn unit_alpha(values: &[f32]) -> Vec<f32> {
    let clip = percentile(values, 99);
    let top = values.iter().fold(0f32, |m, &v| m.max(v.min(clip)));
    values
        .iter()
        .map(|&v| if top > 0.0 { v.min(clip) / top } else { 1.0 })
        .collect()
}

/// For each batch item of a raw-parameter gradient, whether it is exactly zero.
///
/// # Shapes
/// - grad: `[P, B, 3, h, w']`
fn zero_per_item(grad: Tensor<5>) -> Result<Vec<bool>> {
    let [parts, batch, c, h, w] = grad.dims();
    let per_item = grad
        .swap_dims(0, 1)
        .reshape([batch, parts * c * h * w])
        .abs()
        .sum_dim(1)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("cannot read the gradient: {e:?}")))?;
    Ok(per_item.into_iter().map(|v| v == 0.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opacity_penalty_starts_after_15_percent_and_decays_to_a_third() {
        let device = Device::flex();
        let (background, _) = ImageParam::fourier().init(0, &device).unwrap();
        let objective = AlphaObjective {
            background,
            weight: 2.0,
            steps: 100,
        };
        assert_eq!(objective.weight_at(1), 0.0);
        assert_eq!(objective.weight_at(15), 0.0);
        assert!((objective.weight_at(16) - 2.0 * (1.0 - 16.0 / 150.0)).abs() < 1e-6);
        assert!((objective.weight_at(100) - 2.0 / 3.0).abs() < 1e-6);
    }
}
