//! A unit's record, `unit.json`: what was made, with which settings, and what it reached.

use std::collections::BTreeMap;

use excite_views::{Hit, Scores};
use serde::{Deserialize, Serialize};

use crate::config::CatalogueConfig;

/// The files of a unit, relative to its folder, by the name of the figure that made them
/// ([`crate::figures::FIGURES`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "FilesOnDisk")]
pub struct UnitFiles(pub BTreeMap<String, Vec<String>>);

impl UnitFiles {
    /// The first file of `figure`, if any.
    pub fn first(&self, figure: &str) -> Option<&str> {
        self.all(figure).first().map(String::as_str)
    }

    /// Every file of `figure`.
    pub fn all(&self, figure: &str) -> &[String] {
        self.0.get(figure).map_or(&[], Vec::as_slice)
    }
}

/// The files as records hold them: by figure, or with one field per figure (records made
/// before the figures were a table).
#[derive(Deserialize)]
#[serde(untagged)]
enum FilesOnDisk {
    ByFigure(BTreeMap<String, Vec<String>>),
    Fields {
        render: String,
        thumb: String,
        negative: Option<String>,
        diverse: Vec<String>,
        examples: Option<String>,
        saliency: Option<String>,
    },
}

impl From<FilesOnDisk> for UnitFiles {
    fn from(files: FilesOnDisk) -> Self {
        match files {
            FilesOnDisk::ByFigure(map) => Self(map),
            FilesOnDisk::Fields {
                render,
                thumb,
                negative,
                diverse,
                examples,
                saliency,
            } => {
                let optional =
                    |name: &str, file: Option<String>| file.map(|f| (name.to_string(), vec![f]));
                let mut map: BTreeMap<String, Vec<String>> = [
                    ("render".to_string(), vec![render]),
                    ("thumb".to_string(), vec![thumb]),
                    ("diverse".to_string(), diverse),
                ]
                .into_iter()
                .collect();
                map.extend(optional("negative", negative));
                map.extend(optional("examples", examples));
                map.extend(optional("saliency", saliency));
                map.retain(|_, files| !files.is_empty());
                Self(map)
            }
        }
    }
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
    /// The render's scores against its top photos (records made before they existed have
    /// none).
    #[serde(default)]
    pub scores: Option<Scores>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_with_a_field_per_figure_still_read() {
        let old = r#"{"render":"render.png","thumb":"thumb.jpg","negative":null,"diverse":["diverse_0.png"],"examples":"examples.jpg","saliency":null}"#;
        let files: UnitFiles = serde_json::from_str(old).unwrap();
        assert_eq!(files.first("render"), Some("render.png"));
        assert_eq!(files.all("diverse"), ["diverse_0.png"]);
        assert_eq!(files.first("negative"), None);
        let again: UnitFiles =
            serde_json::from_str(&serde_json::to_string(&files).unwrap()).unwrap();
        assert_eq!(again, files);
    }
}
