//! The views as files: one strip PNG per channel and `examples.json` for dataset examples; a
//! heatmap over the photo and the raw map as JSON for saliency. Every file is written to a
//! temporary name and renamed, so an interrupted run leaves no half-written file.

use std::path::{Path, PathBuf};

use excite_core::image_io::{check_writable, save_png, write_atomic};
use excite_core::{Error, Result};
use image::RgbImage;

use serde::Serialize;

use crate::examples::Examples;
use crate::faithfulness::Metrics;
use crate::heatmap::overlay;
use crate::saliency::SaliencyMap;
use crate::strip::strip;

/// The side of a thumbnail in a strip.
pub const THUMB: u32 = 96;

/// Writes `examples` into `dir`: `channel_NNNN.png` per channel and `examples.json`; returns
/// the strips' paths.
pub fn write_examples(examples: &Examples, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let record = dir.join("examples.json");
    check_writable(&record)?;
    let mut strips = Vec::with_capacity(examples.channels.len());
    for channel in &examples.channels {
        let path = dir.join(format!("channel_{:04}.png", channel.channel));
        save_png(&strip(channel, examples.size as u32, THUMB)?, &path)?;
        strips.push(path);
    }
    let json = serde_json::to_vec_pretty(examples)
        .map_err(|e| Error::Invalid(format!("cannot encode the examples: {e}")))?;
    write_atomic(&record, &json)?;
    Ok(strips)
}

/// The JSON beside a saliency heatmap: the map and, when measured, its faithfulness.
#[derive(Serialize)]
struct SaliencyRecord<'a> {
    #[serde(flatten)]
    map: &'a SaliencyMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<&'a Metrics>,
}

/// Writes the heatmap of `map` over `photo` (the photo as the model saw it) to `png`, and
/// the map itself with its `metrics` beside it (`png` with the extension `json`); returns the
/// JSON's path.
pub fn write_saliency(
    map: &SaliencyMap,
    metrics: Option<&Metrics>,
    photo: &RgbImage,
    png: &Path,
) -> Result<PathBuf> {
    let json_path = png.with_extension("json");
    check_writable(png)?;
    check_writable(&json_path)?;
    save_png(&overlay(photo, &map.pixels, map.size), png)?;
    let json = serde_json::to_vec(&SaliencyRecord { map, metrics })
        .map_err(|e| Error::Invalid(format!("cannot encode the map: {e}")))?;
    write_atomic(&json_path, &json)?;
    Ok(json_path)
}
