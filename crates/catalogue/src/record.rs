//! A unit's record, `unit.json`: what was made, with which settings, and what it reached.

use excite_views::Hit;
use serde::{Deserialize, Serialize};

use crate::config::CatalogueConfig;

/// The files of a unit, relative to its folder.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitFiles {
    /// The render (PNG).
    pub render: String,
    /// A small JPEG of the render for grids.
    pub thumb: String,
    /// The negative render (PNG).
    pub negative: Option<String>,
    /// The diverse renders (PNG).
    pub diverse: Vec<String>,
    /// The strip of dataset examples (JPEG).
    pub examples: Option<String>,
    /// The saliency of the unit at its strongest position in its best photo, over the photo
    /// (JPEG).
    pub saliency: Option<String>,
}

/// The unit's dataset examples, with photos.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExampleSummary {
    /// The photos with the highest mean activation, best first.
    pub top: Vec<Hit>,
    /// The photos with the strongest single position, best first, with the crop it sees.
    pub top_max: Vec<Hit>,
    /// How many photos were ranked.
    pub photos: usize,
    /// The render's activation over the best photo's (`None` when that is not positive).
    pub ratio: Option<f32>,
    /// The unit's value at its strongest position in its best photo (`top_max[0]`), whose
    /// saliency map is drawn.
    pub saliency_value: f32,
    /// The method of that saliency map.
    #[serde(default = "smoothgrad")]
    pub saliency_method: String,
}

/// The saliency method of records made before it was recorded.
fn smoothgrad() -> String {
    "smoothgrad".into()
}

/// `unit.json`: one unit of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// The layer.
    pub layer: String,
    /// The channel.
    pub channel: usize,
    /// The seed of the unit's batch.
    pub seed: u64,
    /// The channels rendered in the same batch (the render depends on the batch).
    pub batch: Vec<usize>,
    /// The channel's mean activation on its render, without transforms.
    pub activation: f32,
    /// The lowest mean activation reached by the negative render.
    pub negative_activation: Option<f32>,
    /// The channel's mean activation on each diverse render.
    pub diverse_activations: Vec<f32>,
    /// Whether the channel's gradient was zero from the start (a dead unit).
    pub dead: bool,
    /// The dataset examples, with photos.
    pub examples: Option<ExampleSummary>,
    /// The files.
    pub files: UnitFiles,
    /// The settings of the catalogue.
    pub settings: CatalogueConfig,
    /// The backend that rendered it.
    pub backend: String,
    /// The unit's share of its batch's wall time, in seconds.
    pub seconds: f32,
}
