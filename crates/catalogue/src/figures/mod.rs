//! The figures of a unit: each is one [`Figure`] — its name, the files it makes for a unit, its
//! HTML on the unit's page — listed in [`FIGURES`]. A new figure is a type in this folder and
//! one line of the table; the record (`UnitFiles`, by figure name) and the pages follow.

mod renders;
mod scores;
mod views;

use excite_core::Result;
use excite_viz::ChannelRender;
use image::RgbImage;

use crate::record::{ExampleSummary, UnitRecord};
use crate::site::html::{escape, url};

pub use renders::THUMB_SIDE;
use renders::{Diverse, Negative, Render, Thumb};
use scores::ScoresFigure;
use views::{ExampleStrip, Saliency};

/// Every figure, in the order of the unit page.
pub static FIGURES: &[&dyn Figure] = &[
    &Render,
    &Diverse,
    &Negative,
    &Thumb,
    &ExampleStrip,
    &Saliency,
    &ScoresFigure,
];

/// What a unit's figures are made from.
pub struct UnitParts<'a> {
    /// The render.
    pub render: &'a ChannelRender,
    /// The negative, when made.
    pub negative: Option<&'a ChannelRender>,
    /// The diverse renders.
    pub diverse: &'a [ChannelRender],
    /// The input views, with photos.
    pub views: Option<&'a UnitViews>,
}

/// A unit's input views: its strip of examples and the saliency of its best photo.
pub struct UnitViews {
    /// The strip of dataset examples.
    pub strip: RgbImage,
    /// The saliency map over the best photo.
    pub saliency: RgbImage,
    /// What the record keeps of them.
    pub summary: ExampleSummary,
}

/// One figure of a unit.
pub trait Figure: Sync {
    /// Its name: the key of its files in the unit's record.
    fn name(&self) -> &'static str;
    /// The heading of its section on the unit page; `None`: among the renders at the top.
    fn section(&self) -> Option<&'static str> {
        None
    }
    /// Its files for a unit (name, encoded bytes); none when the unit lacks what it shows.
    fn files(&self, unit: &UnitParts) -> Result<Vec<(String, Vec<u8>)>>;
    /// Its HTML on the unit page, from the record (its files under `CHANNEL/`); empty when the
    /// unit has none.
    fn html(&self, channel: usize, record: &UnitRecord) -> String;
}

/// One `<figure>` of a unit page: an image of the unit's folder and its caption.
pub fn figure(channel: usize, class: &str, file: &str, caption: &str) -> String {
    format!(
        "<figure class=\"{class}\"><img src=\"{channel}/{}\" alt=\"{caption}\"><figcaption>{caption}</figcaption></figure>",
        url(file),
        caption = escape(caption)
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use excite_views::Hit;
    use excite_views::scores::{PathPoint, Scores};

    use super::*;
    use crate::config::CatalogueConfig;
    use crate::record::UnitFiles;

    fn render(channel: usize, activation: f32) -> ChannelRender {
        ChannelRender {
            channel,
            image: RgbImage::from_pixel(16, 16, image::Rgb([10, 200, 30])),
            activation,
            dead: false,
        }
    }

    /// Every figure of the table makes its files for a unit that has everything, and shows
    /// each of them on the unit page.
    #[test]
    fn every_figure_makes_files_and_shows_them() {
        let (main, negative) = (render(3, 1.5), render(3, -1.0));
        let diverse = [render(3, 0.5), render(3, 0.4)];
        let hit = Hit {
            image: PathBuf::from("cat.png"),
            score: 2.0,
            position: Some([1, 1]),
            crop: None,
        };
        let views = UnitViews {
            strip: RgbImage::new(40, 20),
            saliency: RgbImage::new(20, 20),
            summary: ExampleSummary {
                top: vec![hit.clone()],
                top_max: vec![hit],
                photos: 1,
                ratio: Some(0.75),
                saliency_value: 2.0,
                saliency_method: "smoothgrad".into(),
                scores: Some(Scores {
                    activation_vs_photos: Some(1.2),
                    path: vec![PathPoint {
                        layer: "conv".into(),
                        render: 0.6,
                        baseline: 0.2,
                    }],
                    path_similarity: Some(0.4),
                    feature_layer: "conv".into(),
                    plausibility: 1.3,
                }),
            },
        };
        let parts = UnitParts {
            render: &main,
            negative: Some(&negative),
            diverse: &diverse,
            views: Some(&views),
        };
        let mut files = UnitFiles::default();
        for figure in FIGURES {
            let made = figure.files(&parts).unwrap();
            assert!(!made.is_empty(), "{} made no file", figure.name());
            assert!(
                made.iter().all(|(_, bytes)| !bytes.is_empty()),
                "{}",
                figure.name()
            );
            let names = made.into_iter().map(|(name, _)| name).collect();
            files.0.insert(figure.name().to_string(), names);
        }
        let record = UnitRecord {
            layer: "conv".into(),
            channel: 3,
            seed: 0,
            batch: vec![3],
            activation: 1.5,
            negative_activation: Some(-1.0),
            diverse_activations: vec![0.5, 0.4],
            dead: false,
            examples: Some(views.summary.clone()),
            files,
            settings: CatalogueConfig::default(),
            backend: "flex".into(),
            seconds: 1.0,
        };
        for figure in FIGURES.iter().filter(|f| f.name() != "thumb") {
            let html = figure.html(3, &record);
            for file in record.files.all(figure.name()) {
                assert!(
                    html.contains(&format!("3/{file}")),
                    "{}: {html}",
                    figure.name()
                );
            }
        }
    }
}
