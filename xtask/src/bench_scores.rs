//! `cargo xtask bench --scores`: the sanity check of the render scores on the bundled model.
//! For a few units: the Fourier render; the same render made on the model with every
//! learned weight below the unit's layer re-drawn; and pixels optimised without transforms
//! (adversarial-looking noise). All three are scored on the trained model against the demo
//! photos; the path score must rank the first above the second, and plausibility the first
//! above the third.

use std::path::Path;

use anyhow::{Result, bail};
use burn::tensor::Device;
use excite::core::{RandomisableModel, VisualModel};
use excite::views::photos::list_photos;
use excite::views::{Scores, score_against};
use excite::{
    ImageParam, Objective, OnnxModel, RenderConfig, bundled_model_path, demo_images_path, render,
};
use serde::Serialize;

/// The units: channels of early, middle and late layers.
const UNITS: [&str; 6] = [
    "blocks.2:3",
    "blocks.3:0",
    "blocks.4:7",
    "blocks.5:3",
    "blocks.6:12",
    "head.conv:100",
];

/// The renders' side and steps.
const SIDE: usize = 128;
const STEPS: usize = 128;

/// One unit's three renders, scored.
#[derive(Serialize)]
struct Row {
    unit: String,
    redrawn_layers: usize,
    fourier: Scores,
    redrawn_below: Scores,
    pixels_without_transforms: Scores,
}

/// Runs the check, prints the table and writes `out` (JSON).
pub fn run(device: &Device, out: &Path) -> Result<()> {
    let model = OnnxModel::load(bundled_model_path(), device)?;
    let photos = list_photos(&demo_images_path())?;
    let side = model.photo_side();
    println!(
        "render scores' sanity check: {STEPS} steps at {SIDE} px, scored against {} demo photos",
        photos.len()
    );
    println!(
        "{:<14} {:>8} {:>14} {:>14} {:>14}",
        "unit", "redrawn", "path", "path redrawn", "plausibility"
    );
    let mut rows = Vec::new();
    for unit in UNITS {
        let objective: Objective = unit.parse()?;
        let fourier_config = RenderConfig {
            param: ImageParam::fourier().with_size(SIDE, SIDE),
            steps: STEPS,
            ..RenderConfig::default()
        };
        let pixel_config = RenderConfig {
            param: ImageParam::pixels().with_size(SIDE, SIDE),
            transforms: Vec::new(),
            ..fourier_config.clone()
        };
        let first = |config: &RenderConfig, model: &OnnxModel| -> Result<_> {
            Ok(render(model, &objective, config, device)?
                .to_images()?
                .remove(0))
        };
        let mut redrawn = OnnxModel::load(bundled_model_path(), device)?;
        let count = redraw_below(&mut redrawn, &objective)?;
        let score = |image| score_against(&model, &objective, &image, &photos, side, device);
        let row = Row {
            unit: unit.to_string(),
            redrawn_layers: count,
            fourier: score(first(&fourier_config, &model)?)?,
            redrawn_below: score(first(&fourier_config, &redrawn)?)?,
            pixels_without_transforms: score(first(&pixel_config, &model)?)?,
        };
        let path = |s: &Scores| s.path_similarity.unwrap_or(f32::NAN);
        println!(
            "{:<14} {:>8} {:>14.3} {:>14.3} {:>6.2} / {:<6.2}",
            unit,
            count,
            path(&row.fourier),
            path(&row.redrawn_below),
            row.fourier.plausibility,
            row.pixels_without_transforms.plausibility
        );
        rows.push(row);
    }
    let path_ok = rows
        .iter()
        .filter(|r| r.fourier.path_similarity > r.redrawn_below.path_similarity)
        .count();
    let plausible = rows
        .iter()
        .filter(|r| r.fourier.plausibility < r.pixels_without_transforms.plausibility)
        .count();
    println!(
        "path score above the re-drawn model's render: {path_ok} of {}; plausibility better than pixel noise's: {plausible} of {}",
        rows.len(),
        rows.len()
    );
    std::fs::write(out, serde_json::to_string_pretty(&rows)?)?;
    println!("-> {}", out.display());
    Ok(())
}

/// Re-draws every learned weight of the layers listed before the objective's layer; returns
/// how many layers.
fn redraw_below(model: &mut OnnxModel, objective: &Objective) -> Result<usize> {
    let layers = model.layer_summaries();
    let Some(end) = objective
        .layers()
        .iter()
        .filter_map(|l| layers.iter().position(|s| &s.name == l))
        .min()
    else {
        bail!("`{objective}` reads no listed layer");
    };
    let below: Vec<String> = model
        .weighted_layers()
        .into_iter()
        .filter(|w| layers[..end].iter().any(|s| &s.name == w))
        .collect();
    if below.is_empty() {
        bail!("no learned weights found below `{objective}`");
    }
    for (i, layer) in below.iter().enumerate() {
        model.randomise(layer, 1000 + i as u64)?;
    }
    Ok(below.len())
}
