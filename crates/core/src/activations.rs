//! The activations an objective reads: the model's named layers and the input image.

use std::collections::HashMap;

use burn::tensor::Tensor;

use crate::error::{Error, Result};

/// The reserved layer name under which objectives find the (untransformed) image itself.
pub const INPUT: &str = "input";

/// Named NCHW activations of one forward pass, plus the image under [`INPUT`].
#[derive(Clone, Debug)]
pub struct Activations {
    layers: HashMap<String, Tensor<4>>,
}

impl Activations {
    /// Bundles an image and the activations of `names`.
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
    pub fn get(&self, layer: &str) -> Result<Tensor<4>> {
        self.layers
            .get(layer)
            .cloned()
            .ok_or_else(|| Error::Model(format!("layer `{layer}` was not computed")))
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
