//! The activations an objective reads: the model's named layers and the input image.

use std::collections::HashMap;

use burn::tensor::Tensor;

use crate::error::{Error, Result};
use crate::model::VisualModel;

/// The reserved layer name under which objectives find the (untransformed) image itself.
pub const INPUT: &str = "input";

/// Named NCHW activations of one forward pass, plus the image under [`INPUT`].
#[derive(Clone, Debug)]
pub struct Activations {
    layers: HashMap<String, Tensor<4>>,
}

impl Activations {
    /// Runs `model` on `input` as far as `layers` need and bundles their activations with
    /// `image` (what [`INPUT`] reads: `input` itself, or the image before random transforms).
    ///
    /// # Shapes
    /// - image: `[batch, 3, height, width]`
    /// - input: `[batch, 3, any, any]`
    pub fn compute(
        model: &dyn VisualModel,
        image: Tensor<4>,
        input: Tensor<4>,
        layers: &[&str],
    ) -> Result<Self> {
        let activations = model.activations(input, layers)?;
        Ok(Self::new(image, layers, activations))
    }

    /// Bundles an image and the activations of `names`, in order.
    ///
    /// # Shapes
    /// - image: `[batch, 3, height, width]`
    /// - activations: each `[batch, channels, height, width]`
    pub fn new(image: Tensor<4>, names: &[&str], activations: Vec<Tensor<4>>) -> Self {
        let mut layers: HashMap<String, Tensor<4>> = names
            .iter()
            .map(|n| n.to_string())
            .zip(activations)
            .collect();
        layers.insert(INPUT.to_string(), image);
        Self { layers }
    }

    /// The activation of `layer`.
    ///
    /// # Shapes
    /// - output: `[batch, channels, height, width]`
    pub fn get(&self, layer: &str) -> Result<Tensor<4>> {
        self.layers
            .get(layer)
            .cloned()
            .ok_or_else(|| Error::NotComputed(layer.to_string()))
    }

    /// The batch size.
    pub fn batch(&self) -> usize {
        self.layers.get(INPUT).map_or(0, |t| t.dims()[0])
    }

    /// Every tensor restricted to batch item `index`.
    pub fn select(&self, index: usize) -> Result<Self> {
        let batch = self.batch();
        if index >= batch {
            return Err(Error::BatchOutOfRange { index, batch });
        }
        Ok(Self {
            layers: self
                .layers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().narrow(0, index, 1)))
                .collect(),
        })
    }
}
