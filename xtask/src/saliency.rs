//! `saliency`: a photo's saliency map for an objective, and with `--metrics` how faithful it is.

use anyhow::Result;
use burn::tensor::Device;
use excite::core::image_io::from_image;
use excite::views::faithfulness::{CurveConfig, measured_saliency};
use excite::views::photos::load_square;
use excite::views::{SaliencyConfig, saliency, write_saliency};
use excite::{Objective, OnnxModel};

use crate::cli::SaliencyArgs;

/// Computes the map and writes the heatmap and the raw map.
pub fn run(args: &SaliencyArgs, device: &Device) -> Result<()> {
    let mut model = OnnxModel::load(&args.model.model, device)?;
    let objective: Objective = args.objective.parse()?;
    for layer in objective.layers().iter().chain(&args.layer) {
        model.check_layer(layer)?;
    }
    let size = model.input_size().unwrap_or(224);
    model.check_input_size(size)?;
    let photo = load_square(&args.image, size as u32)?;
    let config = SaliencyConfig {
        method: args.method.clone(),
        samples: args.samples,
        layer: args.layer.clone(),
        window: args.window,
        stride: args.stride,
        ..SaliencyConfig::default()
    };
    config.validate()?;
    let image = from_image(&photo, device);
    let (map, metrics) = if args.metrics {
        let (map, metrics) = measured_saliency(
            &mut model,
            &objective,
            image,
            &config,
            &CurveConfig::default(),
        )?;
        (map, Some(metrics))
    } else {
        (saliency(&model, &objective, image, &config)?, None)
    };
    let json = write_saliency(&map, metrics.as_ref(), &photo, &args.out)?;
    let mut line = format!("{objective} = {:.4} ({})", map.value, map.method);
    if let Some(base) = map.baseline_value {
        let total: f32 = map.pixels.iter().sum();
        line += &format!("; black image {base:.4}, attributions sum to {total:.4}");
    }
    if let Some(m) = &metrics {
        let last = m.randomisation.last().map_or(f32::NAN, |r| r.spearman);
        line += &format!(
            "; deletion AUC {:.4}, insertion AUC {:.4}, rank correlation after randomising all \
             layers {last:.3}, {:.2} s per map",
            m.curves.deletion.auc, m.curves.insertion.auc, m.seconds
        );
    }
    println!("{line} -> {} and {}", args.out.display(), json.display());
    Ok(())
}
