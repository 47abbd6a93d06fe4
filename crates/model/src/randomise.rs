//! Re-drawing a loaded model's learned weights, layer by layer: the model-randomisation sanity
//! check of saliency maps (Adebayo et al. 2018).

use burn::tensor::{Tensor, TensorData};
use excite_core::random::normals;
use excite_core::{Error, RandomisableModel};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::model::OnnxModel;
use crate::value::Value;

/// The ops whose weights are learned parameters.
const WEIGHTED: [&str; 4] = ["Conv", "ConvTranspose", "Gemm", "MatMul"];

impl OnnxModel {
    /// The float weights (initializers) that node `i` reads: its learned parameters.
    fn learned_inputs(&self, i: usize) -> Vec<&str> {
        let node = &self.nodes[i];
        if !WEIGHTED.contains(&node.op_type.as_str()) {
            return Vec::new();
        }
        node.inputs
            .iter()
            .filter(|name| matches!(self.weights.get(name.as_str()), Some(Value::Float { .. })))
            .map(String::as_str)
            .collect()
    }
}

impl RandomisableModel for OnnxModel {
    fn weighted_layers(&self) -> Vec<String> {
        (0..self.nodes.len())
            .filter(|&i| !self.learned_inputs(i).is_empty())
            .map(|i| self.nodes[i].outputs[0].clone())
            .collect()
    }

    fn randomise(&mut self, layer: &str, seed: u64) -> excite_core::Result<()> {
        let i = self
            .nodes
            .iter()
            .position(|n| n.outputs[0] == layer)
            .filter(|&i| !self.learned_inputs(i).is_empty())
            .ok_or_else(|| Error::Invalid(format!("layer `{layer}` has no learned weights")))?;
        let names: Vec<String> = self
            .learned_inputs(i)
            .into_iter()
            .map(String::from)
            .collect();
        let mut rng = StdRng::seed_from_u64(seed);
        for name in names {
            let Some(Value::Float { tensor, rank }) = self.weights.get(&name) else {
                continue;
            };
            let dims = tensor.dims();
            let count = tensor.shape().num_elements();
            let values: Vec<f32> = tensor
                .clone()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| {
                    Error::Invalid(format!("cannot read the weights of `{name}`: {e:?}"))
                })?;
            let mean = values.iter().sum::<f32>() / count as f32;
            let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / count as f32).sqrt();
            let drawn = Tensor::from_data(
                TensorData::new(normals(&mut rng, count, sd), dims),
                &tensor.device(),
            );
            let rank = *rank;
            self.weights.insert(
                name,
                Value::Float {
                    tensor: drawn,
                    rank,
                },
            );
        }
        Ok(())
    }
}
