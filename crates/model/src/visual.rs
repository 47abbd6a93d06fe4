//! The ONNX model as a [`VisualModel`]: pixels in `[0, 1]`, normalised as its manifest says.

use burn::tensor::Tensor;
use excite_core::transform::resize;
use excite_core::{
    Activations, Error, LayerGradient, LayerSummary, Objective, ReceptiveField, RectifierRule,
    VisualModel,
};

use crate::model::OnnxModel;

impl OnnxModel {
    /// `images` (pixels in `[0, 1]`) as the graph takes them: at the size a model with a
    /// baked-in size sees, or that a transformer's patches cover (none dropped, as Lucent's
    /// `fixed_image_size` resamples), normalised.
    ///
    /// # Shapes
    /// - images: `[N, 3, H, W]`
    /// - output: `[N, 3, H', W']`
    fn model_input_of(&self, images: Tensor<4>) -> excite_core::Result<Tensor<4>> {
        let channels = images.dims()[1];
        if channels != 3 {
            return Err(Error::Image(format!(
                "expected RGB images, got {channels} channels"
            )));
        }
        let [_, _, h, w] = images.dims();
        let size = self.fixed_size().or_else(|| self.patch_cover([h, w]));
        let images = match size {
            Some(size) if [h, w] != size => resize(images, size),
            _ => images,
        };
        Ok(self.normalization().apply(images))
    }
}

impl VisualModel for OnnxModel {
    fn layer_summaries(&self) -> Vec<LayerSummary> {
        self.layers()
            .iter()
            .map(|l| LayerSummary {
                name: l.name.clone(),
                op: l.op.clone(),
                shape: l.shape.clone(),
            })
            .collect()
    }

    fn check_layer_name(&self, layer: &str) -> excite_core::Result<()> {
        Ok(self.check_layer(layer)?)
    }

    fn input_side(&self) -> Option<usize> {
        self.input_size()
    }

    fn check_side(&self, side: usize) -> excite_core::Result<()> {
        Ok(self.check_input_size(side)?)
    }

    fn model_fingerprint(&self) -> String {
        self.fingerprint().to_string()
    }

    fn activations(
        &self,
        images: Tensor<4>,
        layers: &[&str],
    ) -> excite_core::Result<Vec<Tensor<4>>> {
        Ok(self.forward_to(self.model_input_of(images)?, layers)?)
    }

    fn activations_by_rule(
        &self,
        images: Tensor<4>,
        layers: &[&str],
        rule: RectifierRule,
    ) -> excite_core::Result<Vec<Tensor<4>>> {
        Ok(self.forward_by_rule(self.model_input_of(images)?, layers, rule)?)
    }

    fn layer_gradient(
        &self,
        images: Tensor<4>,
        objective: &Objective,
        at: &str,
    ) -> excite_core::Result<LayerGradient> {
        let layers: Vec<&str> = objective.layers().iter().map(String::as_str).collect();
        let input = self.model_input_of(images.clone())?;
        let (mut activations, probe) = self.forward_probed(input, &layers, at)?;
        let activation = activations.pop().expect("the probed layer comes last");
        let value = objective.evaluate(&Activations::new(images, &layers, activations))?;
        let grads = value.backward();
        let gradient = probe.gradient(&grads)?.ok_or(Error::NoGradient)?;
        Ok(LayerGradient {
            value: value.detach(),
            activation: activation.detach(),
            gradient,
        })
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
