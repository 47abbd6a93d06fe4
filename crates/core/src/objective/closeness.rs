//! Closeness to a reference image, a penalty to subtract: what keeps feature accentuation
//! (Hamblin et al. 2024) near the photo it starts from.

use burn::tensor::Tensor;

use super::Objective;
use crate::activations::INPUT;

/// The squared distance of the image (or of a layer's activations) from the reference's,
/// relative to the reference's own mean square: 0 at the reference, 1 as far from it as zero
/// is. A penalty: subtract it. At [`INPUT`] the pixels are compared; at a layer, each image's
/// channel means (the random transforms move the image, so positions are not compared).
///
/// # Shapes
/// - reference: `[1, 3, H, W]` at [`INPUT`] (the image itself, values in `[0, 1]`), the
///   reference image's activations `[1, C, H', W']` at a layer
pub fn distance_from(layer: &str, reference: Tensor<4>) -> Objective {
    let pixels = layer == INPUT;
    let target = if pixels {
        reference
    } else {
        channel_means(reference)
    };
    let scale = (target.clone() * target.clone()).mean() + 1e-12;
    let layers = if pixels {
        Vec::new()
    } else {
        vec![layer.to_string()]
    };
    let name = layer.to_string();
    Objective::new(layers, format!("distance({layer})"), move |acts| {
        let x = acts.get(&name)?;
        let x = if pixels { x } else { channel_means(x) };
        let d = x.clone() - target.clone().expand(x.dims());
        Ok((d.clone() * d).mean() / scale.clone())
    })
}

/// Each image's channel means, kept 4-D.
///
/// # Shapes
/// - x: `[N, C, H, W]`
/// - output: `[N, C, 1, 1]`
fn channel_means(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c, 1, 1])
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;
    use crate::activations::Activations;

    #[test]
    fn zero_at_the_reference_and_one_at_zero() {
        let device = Device::flex();
        let image = Tensor::<4>::from_data(
            TensorData::new(
                (0..12).map(|i| 0.1 + i as f32 / 20.0).collect(),
                [1, 3, 2, 2],
            ),
            &device,
        );
        let value = |x: Tensor<4>, layer: &str| {
            let acts = Activations::new(x.clone(), &[layer], vec![x]);
            distance_from(layer, image.clone())
                .evaluate(&acts)
                .unwrap()
                .into_scalar::<f32>()
        };
        assert!(value(image.clone(), INPUT).abs() < 1e-6);
        assert!((value(image.zeros_like(), INPUT) - 1.0).abs() < 1e-5);
        // At a layer only the channel means count: a shuffle within each channel is free.
        let flipped = image.clone().flip([3]);
        assert!(value(flipped, "conv").abs() < 1e-6);
    }
}
