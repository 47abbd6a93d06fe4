//! The figures of a unit: each is one [`Figure`] — its name, the files it makes for a unit, its
//! HTML on the unit's page — listed in [`FIGURES`]. A new figure is a type in this folder and
//! one line of the table; the record (`UnitFiles`, by figure name) and the pages follow.

mod renders;
mod views;

use excite_core::Result;
use excite_viz::ChannelRender;
use image::RgbImage;

use crate::record::{ExampleSummary, UnitRecord};
use crate::site::html::{escape, url};

pub use renders::THUMB_SIDE;
use renders::{Diverse, Negative, Render, Thumb};
use views::{ExampleStrip, Saliency};

/// Every figure, in the order of the unit page.
pub static FIGURES: &[&dyn Figure] = &[
    &Render,
    &Diverse,
    &Negative,
    &Thumb,
    &ExampleStrip,
    &Saliency,
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
