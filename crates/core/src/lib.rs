//! The building blocks of feature visualization, on any Burn device: image parameterizations
//! (pixels, Fourier spectrum with 1/f scaling, phase-only, decorrelated colour), differentiable
//! random transforms, objectives with algebra, and image conversion.
//!
//! The model side is the [`VisualModel`] trait; the gradient ascent lives in `excite-viz`.

#![warn(missing_docs)]

pub mod activations;
pub mod channels;
pub mod clip;
pub mod color;
pub mod conv;
pub mod error;
mod extension;
pub mod files;
pub mod fourier;
pub mod grid;
pub mod image_io;
mod inverse_dft;
#[cfg(feature = "tch")]
mod libtorch;
pub mod model;
pub mod names;
pub mod objective;
pub mod param;
pub mod percentile;
pub mod progress;
pub mod random;
pub mod receptive_field;
pub mod rectifier;
pub mod resample;
pub mod sigmoid;
pub mod spectrum;
pub mod transform;

pub use activations::{Activations, INPUT};
pub use error::{Error, Result};
pub use model::{LayerGradient, LayerSummary, RandomisableModel, VisualModel};
pub use objective::Objective;
pub use param::{ImageGenerator, ImageParam};
pub use progress::{Observer, Progress};
pub use receptive_field::ReceptiveField;
pub use rectifier::RectifierRule;
pub use transform::Transform;
