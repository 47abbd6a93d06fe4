//! The ONNX model as a [`VisualModel`]: pixels in `[0, 1]`, normalised as its manifest says.

use burn::tensor::Tensor;
use excite_core::transform::resize;
use excite_core::{Error, ReceptiveField, VisualModel};

use crate::model::OnnxModel;

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
        // A model whose export baked its size in sees every image at that size; a
        // transformer sees it at the size its patches cover, none dropped (as Lucent's
        // `fixed_image_size` resamples).
        let [_, _, h, w] = images.dims();
        let size = self.fixed_size().or_else(|| self.patch_cover([h, w]));
        let images = match size {
            Some(size) if [h, w] != size => resize(images, size),
            _ => images,
        };
        let input = self.normalization().apply(images);
        Ok(self.forward_to(input, layers)?)
    }

    fn locate_non_finite(&self, images: Tensor<4>, layers: &[&str]) -> Option<String> {
        let input = self.normalization().apply(images);
        if !input.clone().is_finite().all().into_scalar::<bool>() {
            return Some("the input image".into());
        }
        let layer = self.first_non_finite(input, layers).ok().flatten()?;
        Some(format!("layer `{layer}`"))
    }

    fn receptive_field(&self, layer: &str, size: [usize; 2]) -> Option<ReceptiveField> {
        // A model with a baked-in size sees resampled images: its field is in other pixels.
        if self.fixed_size().is_some_and(|fixed| fixed != size) {
            return None;
        }
        OnnxModel::receptive_field(self, layer, size).ok().flatten()
    }
}
