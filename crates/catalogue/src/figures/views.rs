//! The unit's input views, with photos: the strip of dataset examples and the saliency at the
//! strongest position of the best photo.

use excite_core::Result;
use excite_core::image_io::encode_jpeg;
use image::RgbImage;

use super::renders::JPEG_QUALITY;
use super::{Figure, UnitParts, UnitViews, figure};
use crate::record::UnitRecord;

/// The strip of dataset examples (JPEG).
pub struct ExampleStrip;

impl Figure for ExampleStrip {
    fn name(&self) -> &'static str {
        "examples"
    }
    fn section(&self) -> Option<&'static str> {
        Some("Dataset examples")
    }
    fn files(&self, unit: &UnitParts) -> Result<Vec<(String, Vec<u8>)>> {
        jpeg(unit, "examples.jpg", |v| &v.strip)
    }
    fn html(&self, channel: usize, record: &UnitRecord) -> String {
        let (Some(file), Some(examples)) = (record.files.first(self.name()), &record.examples)
        else {
            return String::new();
        };
        format!(
            "<p class=\"muted\">Of {} photos: top row by mean activation, middle row the patches of the strongest positions, bottom row the lowest.</p><div class=\"figures\">{}</div>",
            examples.photos,
            figure(channel, "wide", file, "dataset examples"),
        )
    }
}

/// The saliency of the unit at its strongest position in its best photo, over the photo
/// (JPEG), by the catalogue's saliency method.
pub struct Saliency;

impl Figure for Saliency {
    fn name(&self) -> &'static str {
        "saliency"
    }
    fn section(&self) -> Option<&'static str> {
        Some("Saliency at the strongest position")
    }
    fn files(&self, unit: &UnitParts) -> Result<Vec<(String, Vec<u8>)>> {
        jpeg(unit, "saliency.jpg", |v| &v.saliency)
    }
    fn html(&self, channel: usize, record: &UnitRecord) -> String {
        let (Some(file), Some(examples)) = (record.files.first(self.name()), &record.examples)
        else {
            return String::new();
        };
        let best = &examples.top_max[0];
        let photo = best
            .image
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let place = best
            .position
            .map_or_else(String::new, |[r, c]| format!(" at row {r}, column {c}"));
        let caption = format!(
            "{photo}{place}: {:.4} ({})",
            examples.saliency_value, examples.saliency_method
        );
        format!(
            "<div class=\"figures\">{}</div>",
            figure(channel, "small", file, &caption)
        )
    }
}

/// The view `pick` chooses as the JPEG `name`, when the unit has views.
fn jpeg(
    unit: &UnitParts,
    name: &str,
    pick: fn(&UnitViews) -> &RgbImage,
) -> Result<Vec<(String, Vec<u8>)>> {
    unit.views
        .map(|v| Ok((name.to_string(), encode_jpeg(pick(v), JPEG_QUALITY)?)))
        .into_iter()
        .collect()
}
