//! Visualize a model written directly in Burn: implement `VisualModel` and render.
//!
//! The model is one convolution with hand-made oriented edge filters followed by a ReLU;
//! rendering its channels recovers stripes at each filter's orientation.
//!
//! `cargo run --release --example burn_model`, writes `burn_model.png`.

use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use excite::core::grid::grid;
use excite::core::image_io::save_png;
use excite::core::objective::channels_per_image;
use excite::core::{Error, Result, VisualModel};
use excite::{ImageParam, RenderConfig, default_device, render};

/// Four 7x7 oriented edge detectors (0, 45, 90, 135 degrees) on the grey level.
struct EdgeModel {
    weight: Tensor<4>,
}

impl EdgeModel {
    fn new(device: &Device) -> Self {
        let k = 7usize;
        let mut values = Vec::new();
        for o in 0..4 {
            let angle = o as f32 * std::f32::consts::FRAC_PI_4;
            for _channel in 0..3 {
                for y in 0..k {
                    for x in 0..k {
                        let (dx, dy) = (x as f32 - 3.0, y as f32 - 3.0);
                        let along = dx * angle.cos() + dy * angle.sin();
                        let envelope = (-(dx * dx + dy * dy) / 8.0).exp();
                        values.push((along * 1.5).sin() * envelope / 3.0);
                    }
                }
            }
        }
        let weight = Tensor::from_data(TensorData::new(values, [4, 3, k, k]), device);
        Self { weight }
    }
}

impl VisualModel for EdgeModel {
    fn activations(&self, images: Tensor<4>, layers: &[&str]) -> Result<Vec<Tensor<4>>> {
        layers
            .iter()
            .map(|&layer| match layer {
                "edges" => Ok(relu(conv2d(
                    images.clone() * 2.0 - 1.0,
                    self.weight.clone(),
                    None,
                    ConvOptions::new([1, 1], [3, 3], [1, 1], 1),
                ))),
                other => Err(Error::Model(
                    format!("unknown layer `{other}`; this model has `edges`").into(),
                )),
            })
            .collect()
    }
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let device = default_device()?;
    let model = EdgeModel::new(&device);
    let objective = channels_per_image("edges", vec![0, 1, 2, 3]);
    let config = RenderConfig::default()
        .with_param(ImageParam::fourier().with_size(64, 64).with_batch(4))
        .with_steps(128);
    let out = render(&model, &objective, &config, &device)?;
    println!("objective {:.3} -> {:.3}", out.history[0], out.history[127]);
    let labels = ["0", "45", "90", "135"].map(String::from);
    save_png(&grid(&out.to_images()?, &labels, 4), "burn_model.png")?;
    println!("wrote burn_model.png");
    Ok(())
}
