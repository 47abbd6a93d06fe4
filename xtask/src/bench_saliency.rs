//! `cargo xtask bench --saliency`: every saliency method on demo photos and the bundled model,
//! with its faithfulness (deletion and insertion areas, cascading randomisation) and its time
//! per map; one JSON, a Markdown table, and a panel of every method on the first photo.

use std::path::Path;

use anyhow::Result;
use burn::tensor::Device;
use excite::core::image_io::{from_image, save_png};
use excite::views::faithfulness::{Metrics, MetricsConfig, measured_saliency};
use excite::views::heatmap::panel;
use excite::views::photos::load_square;
use excite::views::{METHODS, SaliencyConfig, SaliencyMap};
use excite::{Objective, OnnxModel, bundled_model_path, demo_images_path};
use serde::Serialize;

/// The photos, each with its top class on the bundled model.
const PHOTOS: [(&str, usize); 3] = [
    ("cat_chelsea.png", 281),
    ("honey_bee.jpg", 309),
    ("coffee_cup.jpg", 967),
];

/// The layer of the class-activation maps: the last convolution's rectified output.
const CAM_LAYER: &str = "head.relu6";

/// One method on one photo.
#[derive(Serialize)]
struct Row {
    photo: String,
    objective: String,
    method: String,
    value: f32,
    metrics: Metrics,
}

/// Runs the table, writing `out` (JSON) and `figure` (the panel of the first photo).
pub fn run(device: &Device, samples: usize, out: &Path, figure: &Path) -> Result<()> {
    let metrics_config = MetricsConfig {
        cascade: vec![0.0, 1.0],
        ..MetricsConfig::default()
    };
    let mut rows = Vec::new();
    for (i, (file, class)) in PHOTOS.iter().enumerate() {
        let photo = load_square(&demo_images_path().join(file), 224)?;
        let objective: Objective = format!("logit:{class}").parse()?;
        let mut maps: Vec<SaliencyMap> = Vec::new();
        for method in METHODS {
            let config = SaliencyConfig {
                samples: (method.default_samples() > 1).then_some(samples),
                layer: Some(CAM_LAYER.into()),
                window: 32,
                stride: 16,
                ..SaliencyConfig::new(method.name())
            };
            let mut model = OnnxModel::load(bundled_model_path(), device)?;
            let image = from_image(&photo, device);
            let (map, metrics) =
                measured_saliency(&mut model, &objective, image, &config, &metrics_config)?;
            eprintln!(
                "{file} {:<20} deletion {:.3} insertion {:.3} randomised {:?} {:.2} s",
                method.name(),
                metrics.curves.deletion.auc,
                metrics.curves.insertion.auc,
                metrics
                    .randomisation
                    .iter()
                    .map(|r| r.spearman)
                    .collect::<Vec<_>>(),
                metrics.seconds
            );
            rows.push(Row {
                photo: file.to_string(),
                objective: objective.to_string(),
                method: method.name().into(),
                value: map.value,
                metrics,
            });
            maps.push(map);
        }
        if i == 0 {
            save_png(&panel(&photo, &maps, 6), figure)?;
        }
    }
    std::fs::write(out, serde_json::to_vec_pretty(&rows)?)?;
    print_table(&rows);
    Ok(())
}

/// The means over the photos, one line per method: deletion and insertion areas relative to
/// the objective on the photo, the rank correlations after re-drawing the top layer and all
/// layers, and the time per map.
fn print_table(rows: &[Row]) {
    println!(
        "| method | deletion AUC / f(x) ↓ | insertion AUC / f(x) ↑ | ρ, top layer re-drawn | ρ, all layers re-drawn ↓ | s per map |"
    );
    println!("|---|---|---|---|---|---|");
    for method in METHODS {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.method == method.name()).collect();
        let mean =
            |f: &dyn Fn(&Row) -> f32| mine.iter().map(|r| f(r)).sum::<f32>() / mine.len() as f32;
        let first = |r: &Row| {
            r.metrics
                .randomisation
                .first()
                .map_or(f32::NAN, |x| x.spearman)
        };
        let last = |r: &Row| {
            r.metrics
                .randomisation
                .last()
                .map_or(f32::NAN, |x| x.spearman)
        };
        println!(
            "| {} | {:.3} | {:.3} | {:.2} | {:.2} | {:.2} |",
            method.name(),
            mean(&|r| r.metrics.curves.deletion.auc / r.value),
            mean(&|r| r.metrics.curves.insertion.auc / r.value),
            mean(&first),
            mean(&last),
            mean(&|r| r.metrics.seconds),
        );
    }
}
