//! The unit's renders: the render itself, its thumbnail for the grids, the diverse renders and
//! the negative.

use excite_core::Result;
use excite_core::image_io::{encode_jpeg, encode_png};
use image::RgbImage;
use image::imageops::{FilterType, resize};

use super::{Figure, UnitParts, figure};
use crate::record::UnitRecord;

/// The side of a unit's thumbnail in the site's grids.
pub const THUMB_SIDE: u32 = 96;

/// JPEG quality of thumbnails and photo-based figures.
pub const JPEG_QUALITY: u8 = 88;

/// The render (PNG), the page's main figure.
pub struct Render;

impl Figure for Render {
    fn name(&self) -> &'static str {
        "render"
    }
    fn files(&self, unit: &UnitParts) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![("render.png".into(), encode_png(&unit.render.image)?)])
    }
    fn html(&self, channel: usize, record: &UnitRecord) -> String {
        record
            .files
            .first(self.name())
            .map_or_else(String::new, |file| {
                let caption = format!("render: mean activation {:.4}", record.activation);
                figure(channel, "main", file, &caption)
            })
    }
}

/// A small JPEG of the render for the layer grids (not on the unit page).
pub struct Thumb;

impl Figure for Thumb {
    fn name(&self) -> &'static str {
        "thumb"
    }
    fn files(&self, unit: &UnitParts) -> Result<Vec<(String, Vec<u8>)>> {
        let thumb = encode_jpeg(&thumbnail(&unit.render.image), JPEG_QUALITY)?;
        Ok(vec![("thumb.jpg".into(), thumb)])
    }
    fn html(&self, _: usize, _: &UnitRecord) -> String {
        String::new()
    }
}

/// The diverse renders (PNG).
pub struct Diverse;

impl Figure for Diverse {
    fn name(&self) -> &'static str {
        "diverse"
    }
    fn files(&self, unit: &UnitParts) -> Result<Vec<(String, Vec<u8>)>> {
        unit.diverse
            .iter()
            .enumerate()
            .map(|(k, d)| Ok((format!("diverse_{k}.png"), encode_png(&d.image)?)))
            .collect()
    }
    fn html(&self, channel: usize, record: &UnitRecord) -> String {
        record
            .files
            .all(self.name())
            .iter()
            .zip(&record.diverse_activations)
            .map(|(file, value)| figure(channel, "small", file, &format!("diverse: {value:.4}")))
            .collect()
    }
}

/// The negative render (PNG): the channel minimised.
pub struct Negative;

impl Figure for Negative {
    fn name(&self) -> &'static str {
        "negative"
    }
    fn files(&self, unit: &UnitParts) -> Result<Vec<(String, Vec<u8>)>> {
        unit.negative
            .map(|n| Ok(("negative.png".to_string(), encode_png(&n.image)?)))
            .into_iter()
            .collect()
    }
    fn html(&self, channel: usize, record: &UnitRecord) -> String {
        match (record.files.first(self.name()), record.negative_activation) {
            (Some(file), Some(value)) => {
                figure(channel, "small", file, &format!("negative: {value:.4}"))
            }
            _ => String::new(),
        }
    }
}

/// The render at [`THUMB_SIDE`] pixels: shrunk smoothly, or enlarged by whole pixels.
fn thumbnail(image: &RgbImage) -> RgbImage {
    let filter = if image.width() >= THUMB_SIDE {
        FilterType::Triangle
    } else {
        FilterType::Nearest
    };
    resize(image, THUMB_SIDE, THUMB_SIDE, filter)
}
