//! Feature accentuation (Hamblin et al. 2024, "Feature Accentuation: Revealing 'What' Features
//! Respond to in Natural Images"; Horama's `accentuation`): start from a photo and excite the
//! objective while staying close to the photo, so the picture shows what in *this* photo the
//! unit would amplify.

use burn::tensor::{Device, Tensor};
use excite_core::objective::distance_from;
use excite_core::{INPUT, Objective, Result, VisualModel};

use crate::render::{RenderConfig, Rendered, render};

/// How close to stay to the photo.
#[derive(Clone, Debug, PartialEq)]
pub struct Accentuation {
    /// The layer whose channel means must stay close to the photo's; `None`: the pixels.
    pub stay_close: Option<String>,
    /// The weight of the distance from the photo (relative squared distance: 1 is as far
    /// from the photo as a black image) against the objective.
    pub closeness: f32,
}

impl Default for Accentuation {
    /// Close in pixels, weight 1.
    fn default() -> Self {
        Self {
            stay_close: None,
            closeness: 1.0,
        }
    }
}

/// Renders `objective` from `photo`: `config.param`'s basis starts at the photo (for the
/// Fourier basis, the spectrum that makes it, so that steps follow the spectrum's `1/f`
/// scale), and the objective is penalised by `accentuation.closeness` times the distance from
/// the photo ([`distance_from`]). The photo's size replaces the parameterization's; its
/// batch is kept, every item starting from the photo.
///
/// # Shapes
/// - photo: `[1, 3, H, W]`, values in `[0, 1]`, on `device`
pub fn accentuate(
    model: &dyn VisualModel,
    objective: &Objective,
    photo: Tensor<4>,
    accentuation: &Accentuation,
    config: &RenderConfig,
    device: &Device,
) -> Result<Rendered> {
    let batch = config.param.batch();
    let param = config
        .param
        .clone()
        .with_start_image(photo.clone())?
        .with_batch(batch);
    let (layer, reference) = match &accentuation.stay_close {
        None => (INPUT.to_string(), photo),
        Some(layer) => (
            layer.clone(),
            model.activations(photo, &[layer])?.remove(0).detach(),
        ),
    };
    let objective = objective.clone() - distance_from(&layer, reference) * accentuation.closeness;
    let config = RenderConfig {
        param,
        ..config.clone()
    };
    render(model, &objective, &config, device)
}
