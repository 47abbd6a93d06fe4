//! Gradient methods: the objective's gradient with respect to the photo — plain, averaged over
//! noisy copies, integrated along a path, times the photo — and the same backward pass under
//! the modified rectifier rules of deconvnet and guided backpropagation.

use burn::tensor::{Tensor, TensorData};
use excite_core::random::normals;
use excite_core::{Activations, Error, Objective, Progress, RectifierRule, Result, VisualModel};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::method::{Reduce, SaliencyMethod};
use super::{Attribution, Input, scalar};

/// One backward pass from the photo under a rectifier rule: the plain gradient (Simonyan et
/// al. 2014), deconvnet (Zeiler & Fergus 2014) or guided backpropagation (Springenberg et al.
/// 2015), as [`GRADIENT`], [`DECONVNET`] and [`GUIDED_BACKPROP`].
pub struct BackwardPass {
    name: &'static str,
    about: &'static str,
    rule: RectifierRule,
}

/// The gradient at the photo.
pub const GRADIENT: BackwardPass = BackwardPass {
    name: "gradient",
    about: "the gradient at the photo (Simonyan et al. 2014)",
    rule: RectifierRule::Gradient,
};

/// Deconvnet: every rectifier passes the rectified gradient, its forward mask ignored.
pub const DECONVNET: BackwardPass = BackwardPass {
    name: "deconvnet",
    about: "the backward pass with rectifiers passing relu(gradient), the forward mask ignored \
            (Zeiler & Fergus 2014)",
    rule: RectifierRule::Deconvnet,
};

/// Guided backpropagation: every rectifier passes only positive gradients where its input was
/// positive.
pub const GUIDED_BACKPROP: BackwardPass = BackwardPass {
    name: "guided-backprop",
    about: "the backward pass with rectifiers passing relu(gradient) where their input was \
            positive (Springenberg et al. 2015)",
    rule: RectifierRule::GuidedBackprop,
};

impl SaliencyMethod for BackwardPass {
    fn name(&self) -> &'static str {
        self.name
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn compute(&self, input: &Input) -> Result<Attribution> {
        let grad = rule_gradient(input, self.rule)?;
        Ok(Attribution::Pixels(grad, None))
    }
}

/// The mean gradient over noisy copies of the photo (Smilkov et al. 2017).
pub struct SmoothGrad;

impl SaliencyMethod for SmoothGrad {
    fn name(&self) -> &'static str {
        "smoothgrad"
    }
    fn about(&self) -> &'static str {
        "the mean gradient over noisy copies (Smilkov et al. 2017); --samples copies, default 32"
    }
    fn default_samples(&self) -> usize {
        32
    }
    fn compute(&self, input: &Input) -> Result<Attribution> {
        let config = input.config;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let dims = input.image.dims();
        let copies: Vec<Tensor<4>> = (0..config.samples_for(self))
            .map(|_| input.image.clone() + gaussian(dims, config.noise, &mut rng, input))
            .collect();
        let grad = mean_gradient(input, &copies, RectifierRule::Gradient)?;
        Ok(Attribution::Pixels(grad, None))
    }
}

/// `(x - baseline)` times the mean gradient along the straight path from the baseline
/// (Sundararajan et al. 2017): the attributions sum to `f(x) - f(baseline)`.
pub struct IntegratedGradients;

impl SaliencyMethod for IntegratedGradients {
    fn name(&self) -> &'static str {
        "integrated-gradients"
    }
    fn about(&self) -> &'static str {
        "the photo minus a black baseline times the mean gradient between them (Sundararajan \
         et al. 2017); --samples path steps, default 128"
    }
    fn default_samples(&self) -> usize {
        128
    }
    fn reduce(&self) -> Reduce {
        Reduce::Sum
    }
    fn compute(&self, input: &Input) -> Result<Attribution> {
        let x = input.image.clone();
        let baseline = x.zeros_like() + input.config.baseline;
        let steps = input.config.samples_for(self);
        let path: Vec<Tensor<4>> = (0..steps)
            .map(|k| {
                let alpha = (k as f32 + 0.5) / steps as f32;
                baseline.clone() + (x.clone() - baseline.clone()) * alpha
            })
            .collect();
        let grad = mean_gradient(input, &path, RectifierRule::Gradient)?;
        let at_baseline = scalar(input.objective.evaluate_on(input.model, baseline.clone())?)?;
        Ok(Attribution::Pixels(
            (x - baseline) * grad,
            Some(at_baseline),
        ))
    }
}

/// The photo times its gradient.
pub struct GradientXInput;

impl SaliencyMethod for GradientXInput {
    fn name(&self) -> &'static str {
        "gradient-x-input"
    }
    fn about(&self) -> &'static str {
        "the photo times its gradient (Shrikumar et al. 2016)"
    }
    fn reduce(&self) -> Reduce {
        Reduce::Sum
    }
    fn compute(&self, input: &Input) -> Result<Attribution> {
        let grad = rule_gradient(input, RectifierRule::Gradient)?;
        Ok(Attribution::Pixels(grad * input.image.clone(), None))
    }
}

/// The gradient at the photo under `rule`.
///
/// # Shapes
/// - output: `[1, 3, H, W]`
fn rule_gradient(input: &Input, rule: RectifierRule) -> Result<Tensor<4>> {
    mean_gradient(input, std::slice::from_ref(&input.image), rule)
}

/// The mean over `images` (each `[1, 3, H, W]`) of the objective's gradient with respect to
/// each under `rule`, in batches.
///
/// # Shapes
/// - output: `[1, 3, H, W]`
fn mean_gradient(input: &Input, images: &[Tensor<4>], rule: RectifierRule) -> Result<Tensor<4>> {
    let mut total: Option<Tensor<4>> = None;
    let mut done = 0;
    for chunk in images.chunks(input.config.batch) {
        let batch = Tensor::cat(chunk.to_vec(), 0).detach().require_grad();
        let value = evaluate_by_rule(input.model, input.objective, batch.clone(), rule)?;
        let grads = value.backward();
        let grad = batch.grad(&grads).ok_or(Error::NoGradient)?;
        // The objective is a mean over the batch: each image's share is 1/batch of its own
        // gradient, so the batch's sum, weighted by its size, adds to the mean.
        let sum = grad.sum_dim(0) * (chunk.len() as f32 / images.len() as f32);
        total = Some(match total {
            None => sum,
            Some(t) => t + sum,
        });
        done += chunk.len();
        input.config.observer.notify(Progress::Passes {
            done,
            total: images.len(),
        });
    }
    total.ok_or(Error::NoGradient)
}

/// `objective` on `images` with gradients passing back through rectifiers by `rule`.
///
/// # Shapes
/// - images: `[B, 3, H, W]`
/// - output: `[1]`
fn evaluate_by_rule(
    model: &dyn VisualModel,
    objective: &Objective,
    images: Tensor<4>,
    rule: RectifierRule,
) -> Result<Tensor<1>> {
    let layers: Vec<&str> = objective.layers().iter().map(String::as_str).collect();
    let activations = model.activations_by_rule(images.clone(), &layers, rule)?;
    objective.evaluate(&Activations::new(images, &layers, activations))
}

/// Gaussian noise of standard deviation `sigma`, seeded, on the photo's device.
///
/// # Shapes
/// - output: `shape`
fn gaussian(shape: [usize; 4], sigma: f32, rng: &mut StdRng, input: &Input) -> Tensor<4> {
    let values = normals(rng, shape.iter().product(), sigma);
    Tensor::from_data(TensorData::new(values, shape), &input.image.device())
}
