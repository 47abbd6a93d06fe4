//! `saliency`: a photo's saliency map for an objective, and with `--metrics` how faithful it is;
//! several methods make a panel of their heatmaps.

use std::path::{Path, PathBuf};

use anyhow::Result;
use burn::tensor::Device;
use excite::core::image_io::{from_image, save_png};
use excite::core::{Observer, Progress};
use excite::views::faithfulness::{Metrics, MetricsConfig, measured_saliency};
use excite::views::heatmap::panel;
use excite::views::photos::load_square;
use excite::views::{SaliencyConfig, SaliencyMap, saliency, write_saliency};
use excite::{Objective, OnnxModel};

use crate::cli::SaliencyArgs;
use crate::progress::bar;

/// Computes the maps and writes the heatmap (or the panel) and the raw maps.
pub fn run(args: &SaliencyArgs, device: &Device) -> Result<()> {
    let mut model = OnnxModel::load(&args.model.model, device)?;
    let objective: Objective = args.objective.parse()?;
    for layer in objective.layers().iter().chain(&args.layer) {
        model.check_layer(layer)?;
    }
    let size = model.photo_side();
    model.check_input_size(size)?;
    let photo = load_square(&args.image, size as u32)?;
    let configs: Vec<SaliencyConfig> = args
        .method
        .iter()
        .map(|method| SaliencyConfig {
            method: method.clone(),
            samples: args.samples,
            layer: args.layer.clone(),
            window: args.window,
            stride: args.stride,
            ..SaliencyConfig::default()
        })
        .collect();
    for config in &configs {
        config.validate()?;
    }
    let several = configs.len() > 1;
    let progress = bar("passes", 0);
    let observed = progress.clone();
    let observer = Observer::new(move |p| {
        if let Progress::Passes { done, total } = p {
            observed.set_length(*total as u64);
            observed.set_position(*done as u64);
        }
    });
    let configs: Vec<SaliencyConfig> = configs
        .into_iter()
        .map(|c| c.with_observer(observer.clone()))
        .collect();
    let mut maps = Vec::with_capacity(configs.len());
    for config in &configs {
        let image = from_image(&photo, device);
        let (map, metrics) = if args.metrics {
            // The check leaves the model randomised: the next method gets a fresh one.
            let (map, metrics) = measured_saliency(
                &mut model,
                &objective,
                image,
                config,
                &MetricsConfig::default(),
            )?;
            model = OnnxModel::load(&args.model.model, device)?;
            (map, Some(metrics))
        } else {
            (saliency(&model, &objective, image, config)?, None)
        };
        let png = if several {
            named_for(&args.out, &map.method)
        } else {
            args.out.clone()
        };
        let json = write_saliency(&map, metrics.as_ref(), &photo, &png)?;
        let line = summary(&objective, &map, metrics.as_ref());
        progress.suspend(|| println!("{line} -> {}", json.display()));
        maps.push(map);
    }
    progress.finish_and_clear();
    if several {
        save_png(&panel(&photo, &maps, maps.len().min(6)), &args.out)?;
        println!("panel of {} methods -> {}", maps.len(), args.out.display());
    }
    Ok(())
}

/// `OUT` with `_METHOD` before its extension: where one method's files of a panel go.
fn named_for(out: &Path, method: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}_{method}.png"))
}

/// One line on a map: the objective, the method, and what was measured.
fn summary(objective: &Objective, map: &SaliencyMap, metrics: Option<&Metrics>) -> String {
    let mut line = format!("{objective} = {:.4} ({})", map.value, map.method);
    if let Some(base) = map.baseline_value {
        let total: f32 = map.pixels.iter().sum();
        line += &format!("; black image {base:.4}, attributions sum to {total:.4}");
    }
    if let Some(m) = metrics {
        let last = m.randomisation.last().map_or(f32::NAN, |r| r.spearman);
        line += &format!(
            "; deletion AUC {:.4}, insertion AUC {:.4}, rank correlation with all layers \
             randomised {last:.3}, {:.2} s per map",
            m.curves.deletion.auc, m.curves.insertion.auc, m.seconds
        );
    }
    line
}
