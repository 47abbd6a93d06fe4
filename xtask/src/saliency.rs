//! `saliency`: a photo's saliency map for an objective.

use anyhow::Result;
use burn::tensor::Device;
use excite::core::image_io::from_image;
use excite::views::photos::load_square;
use excite::views::{Method, SaliencyConfig, saliency, write_saliency};
use excite::{Objective, OnnxModel};

use crate::cli::SaliencyArgs;

/// Computes the map and writes the heatmap and the raw map.
pub fn run(args: &SaliencyArgs, device: &Device) -> Result<()> {
    let model = OnnxModel::load(&args.model.model, device)?;
    let objective: Objective = args.objective.parse()?;
    for layer in objective.layers() {
        model.check_layer(layer)?;
    }
    let size = model.input_size().unwrap_or(224);
    model.check_input_size(size)?;
    let photo = load_square(&args.image, size as u32)?;
    let method = args.method.method();
    let config = SaliencyConfig {
        method,
        samples: args
            .samples
            .unwrap_or(if method == Method::IntegratedGradients {
                128
            } else {
                32
            }),
        ..SaliencyConfig::default()
    };
    let map = saliency(
        &model,
        &objective,
        from_image(&photo, device),
        &config,
        device,
    )?;
    let json = write_saliency(&map, &photo, &args.out)?;
    let mut line = format!("{objective} = {:.4}", map.value);
    if let Some(base) = map.baseline_value {
        let total: f32 = map.pixels.iter().sum();
        line += &format!(" (black image {base:.4}; attributions sum to {total:.4})");
    }
    println!("{line} -> {} and {}", args.out.display(), json.display());
    Ok(())
}
