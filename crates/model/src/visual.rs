//! The ONNX model as a [`VisualModel`]: pixels in `[0, 1]`, normalised as its manifest says.

use burn::tensor::{Tensor, TensorData};
use excite_core::{Error, VisualModel};

use crate::manifest::Normalization;
use crate::model::OnnxModel;

impl Normalization {
    /// Maps pixels in `[0, 1]` (`[N, 3, H, W]`) to the model's input.
    pub fn apply(&self, pixels: Tensor<4>) -> Tensor<4> {
        if *self == Normalization::identity() {
            return pixels;
        }
        let device = pixels.device();
        let scale: Vec<f32> = self.std.iter().map(|s| 255.0 / s).collect();
        let shift: Vec<f32> = self
            .mean
            .iter()
            .zip(&self.std)
            .map(|(m, s)| -m / s)
            .collect();
        let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 3, 1, 1]), &device);
        pixels * t(scale) + t(shift)
    }
}

impl VisualModel for OnnxModel {
    fn activations(
        &self,
        images: Tensor<4>,
        layers: &[&str],
    ) -> excite_core::Result<Vec<Tensor<4>>> {
        let channels = images.dims()[1];
        if channels != 3 {
            return Err(Error::Image(format!(
                "expected RGB images, got {channels} channels"
            )));
        }
        let input = self.normalization().apply(images);
        self.forward_to(input, layers)
            .map_err(|e| Error::Model(e.to_string()))
    }
}
