//! excite: what excites a neuron? Feature visualization of CNNs in Burn.
//!
//! This facade re-exports the three crates of the workspace:
//! - [`core`]: image parameterizations, transforms, objectives, image I/O;
//! - [`model`]: the ONNX importer (load, list layers, run to any layer);
//! - [`viz`]: the gradient ascent and whole-layer renders.
//!
//! The names most programs need are re-exported at the top:
//!
//! ```no_run
//! use excite::{OnnxModel, RenderConfig, default_device, render};
//! let device = default_device()?; // flex, or the backend `EXCITE_BACKEND` names
//! let model = OnnxModel::load("models/efficientnet_lite0.onnx", &device)?;
//! let out = render(&model, &"blocks.5:12".parse()?, &RenderConfig::default(), &device)?;
//! out.to_images()?[0].save("channel.png")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See `examples/` for complete programs.

#![warn(missing_docs)]

pub use excite_catalogue as catalogue;
pub use excite_core as core;
pub use excite_core::{ImageParam, Objective};
pub use excite_model as model;
pub use excite_model::OnnxModel;
pub use excite_views as views;
pub use excite_viz as viz;
pub use excite_viz::{RenderConfig, default_device, render, render_channels};

/// The bundled EfficientNet-Lite0 (its manifest sits beside it).
pub fn bundled_model_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/efficientnet_lite0.onnx")
}

/// The folder of demo photos that ships with the repository (`testdata/demo_images`, with
/// their licences), for dataset examples and saliency on a fresh clone.
pub fn demo_images_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/demo_images")
}
