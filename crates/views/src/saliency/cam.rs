//! Class-activation maps: a layer's channels weighed by what the objective makes of them, at
//! the layer's resolution — by the mean gradient (Grad-CAM), by positive gradients weighted
//! for several instances (Grad-CAM++), position by position (LayerCAM), or by the objective
//! on the photo masked by each channel (Score-CAM). The formulas are those of
//! pytorch-grad-cam 1.5.7, whose maps (before its min-max scaling) these match.

use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Tensor, TensorData};
use excite_core::transform::resize;
use excite_core::{Error, LayerGradient, Progress, Result};

use super::method::SaliencyMethod;
use super::{Attribution, Input, values_per_image};

/// Grad-CAM++'s guard against a zero denominator, as pytorch-grad-cam has it.
const GRAD_CAM_PP_EPS: f32 = 1e-6;
/// Score-CAM's guard against a constant channel in its min-max scaling.
const SCORE_CAM_EPS: f32 = 1e-8;

/// Grad-CAM (Selvaraju et al. 2017): `relu(Σ_c mean(∂f/∂A_c) · A_c)`.
pub struct GradCam;

impl SaliencyMethod for GradCam {
    fn name(&self) -> &'static str {
        "grad-cam"
    }
    fn about(&self) -> &'static str {
        "a layer's channels weighed by their mean gradient (Selvaraju et al. 2017); --layer"
    }
    fn reads_layer(&self) -> bool {
        true
    }
    fn compute(&self, input: &Input) -> Result<Attribution> {
        let (
            layer,
            LayerGradient {
                activation,
                gradient,
                ..
            },
        ) = layer_gradient(input)?;
        let weights = gradient.mean_dim(2).mean_dim(3);
        Ok(Attribution::Layer(layer, weighted(weights, activation)))
    }
}

/// Grad-CAM++ (Chattopadhay et al. 2018): channels weighed by their positive gradients, each
/// position's weight `g² / (2g² + Σ A · g³)`.
pub struct GradCamPlusPlus;

impl SaliencyMethod for GradCamPlusPlus {
    fn name(&self) -> &'static str {
        "grad-cam++"
    }
    fn about(&self) -> &'static str {
        "channels weighed by positive gradients, weighted per position (Chattopadhay et al. \
         2018); --layer"
    }
    fn reads_layer(&self) -> bool {
        true
    }
    fn compute(&self, input: &Input) -> Result<Attribution> {
        let (
            layer,
            LayerGradient {
                activation,
                gradient,
                ..
            },
        ) = layer_gradient(input)?;
        let g2 = gradient.clone().powi_scalar(2);
        let g3 = g2.clone() * gradient.clone();
        let sum_a = activation.clone().sum_dim(2).sum_dim(3);
        let alpha = g2.clone() / (g2 * 2.0 + sum_a * g3 + GRAD_CAM_PP_EPS);
        let alpha = alpha.mask_fill(gradient.clone().equal_elem(0.0), 0.0);
        let weights = (relu(gradient) * alpha).sum_dim(2).sum_dim(3);
        Ok(Attribution::Layer(layer, weighted(weights, activation)))
    }
}

/// LayerCAM (Jiang et al. 2021): `relu(Σ_c relu(∂f/∂A_c) · A_c)`, position by position.
pub struct LayerCam;

impl SaliencyMethod for LayerCam {
    fn name(&self) -> &'static str {
        "layer-cam"
    }
    fn about(&self) -> &'static str {
        "a layer's activations weighed position by position by their positive gradient \
         (Jiang et al. 2021); --layer"
    }
    fn reads_layer(&self) -> bool {
        true
    }
    fn compute(&self, input: &Input) -> Result<Attribution> {
        let (
            layer,
            LayerGradient {
                activation,
                gradient,
                ..
            },
        ) = layer_gradient(input)?;
        let [_, _, h, w] = activation.dims();
        let map = relu((relu(gradient) * activation).sum_dim(1)).reshape([h, w]);
        Ok(Attribution::Layer(layer, map))
    }
}

/// Score-CAM (Wang et al. 2020): channels weighed by the softmax of the objective on the photo
/// masked by each channel (upsampled, corners aligned, scaled to `[0, 1]`); no gradient.
pub struct ScoreCam;

impl SaliencyMethod for ScoreCam {
    fn name(&self) -> &'static str {
        "score-cam"
    }
    fn about(&self) -> &'static str {
        "channels weighed by the objective on the photo masked by each (Wang et al. 2020); \
         --layer"
    }
    fn reads_layer(&self) -> bool {
        true
    }
    fn compute(&self, input: &Input) -> Result<Attribution> {
        let layer = cam_layer(input)?;
        let image = input.image.clone().detach();
        let activation = input.model.activations(image.clone(), &[&layer])?.remove(0);
        let [_, c, h, w] = spatial(&layer, activation.dims())?;
        let [_, _, height, width] = image.dims();
        let up = resize(activation.clone().reshape([c, 1, h, w]), [height, width]);
        let low = up.clone().min_dim(2).min_dim(3);
        let high = up.clone().max_dim(2).max_dim(3);
        let masks = (up - low.clone()) / (high - low + SCORE_CAM_EPS);
        let mut scores = Vec::with_capacity(c);
        for chunk in masks.split(input.config.batch, 0) {
            let masked = image.clone() * chunk;
            scores.extend(values_per_image(input.model, input.objective, masked)?);
            input.config.observer.notify(Progress::Passes {
                done: scores.len(),
                total: c,
            });
        }
        let scores = Tensor::<1>::from_data(TensorData::new(scores, [c]), &image.device());
        let weights = softmax(scores, 0).reshape([1, c, 1, 1]);
        Ok(Attribution::Layer(layer, weighted(weights, activation)))
    }
}

/// `relu(Σ_c weights_c · activation_c)`.
///
/// # Shapes
/// - weights: `[1, C, 1, 1]`
/// - activation: `[1, C, h, w]`
/// - output: `[h, w]`
fn weighted(weights: Tensor<4>, activation: Tensor<4>) -> Tensor<2> {
    let [_, _, h, w] = activation.dims();
    relu((activation * weights).sum_dim(1)).reshape([h, w])
}

/// The layer of the map, with its activation and the objective's gradient there.
fn layer_gradient(input: &Input) -> Result<(String, LayerGradient)> {
    let layer = cam_layer(input)?;
    let image = input.image.clone().detach();
    let found = input.model.layer_gradient(image, input.objective, &layer)?;
    spatial(&layer, found.activation.dims())?;
    Ok((layer, found))
}

/// Checks that a layer's activation is one image with a spatial extent; returns its shape.
fn spatial(layer: &str, dims: [usize; 4]) -> Result<[usize; 4]> {
    if dims[0] != 1 || dims[2] * dims[3] < 2 {
        return Err(Error::Invalid(format!(
            "layer `{layer}` has shape {dims:?}: a class-activation map needs a convolutional \
             or token layer of one image with more than one position (--layer)"
        )));
    }
    Ok(dims)
}

/// The layer a class-activation map reads: the configured one, or the objective's own when it
/// reads one layer.
fn cam_layer(input: &Input) -> Result<String> {
    match (&input.config.layer, input.objective.layers()) {
        (Some(layer), _) => Ok(layer.clone()),
        (None, [only]) => Ok(only.clone()),
        (None, _) => Err(Error::Invalid(format!(
            "`{}` needs a layer to map (--layer): its objective reads {} layers",
            input.config.method,
            input.objective.layers().len()
        ))),
    }
}
