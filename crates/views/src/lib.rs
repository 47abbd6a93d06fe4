//! The input-dependent views of a unit, beside its feature visualization: the real images that
//! excite it most ([`examples`]), and how sensitive it is to each pixel of one image
//! ([`saliency`]), drawn as a heatmap over the photo ([`heatmap`]). Every view works on any
//! [`excite_core::VisualModel`].

#![warn(missing_docs)]

pub mod examples;
pub mod faithfulness;
pub mod heatmap;
pub mod output;
pub mod photos;
pub mod saliency;
pub mod scores;
pub mod strip;
mod top_k;

pub use examples::{ChannelExamples, Examples, ExamplesConfig, Hit, dataset_examples};
pub use output::{write_examples, write_saliency};
pub use saliency::{METHODS, SaliencyConfig, SaliencyMap, SaliencyMethod, method, saliency};
pub use scores::{
    Reference, Scores, class_rank, score_against, score_channel, score_layer, score_render,
    top_photos,
};
