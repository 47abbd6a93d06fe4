//! excite: what excites a neuron? Feature visualization of CNNs in Burn.
//!
//! This facade re-exports the three crates of the workspace:
//! - [`core`]: image parameterizations, transforms, objectives, image I/O;
//! - [`model`]: the ONNX importer (load, list layers, run to any layer);
//! - [`viz`]: the gradient ascent and whole-layer renders.
//!
//! See `examples/` for complete programs.

pub use excite_core as core;
pub use excite_model as model;
pub use excite_viz as viz;

/// The bundled EfficientNet-Lite0 (its manifest sits beside it).
pub fn bundled_model_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/efficientnet_lite0.onnx")
}
