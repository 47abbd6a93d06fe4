//! Feature visualization by gradient ascent on the input image, on any Burn autodiff device.
//!
//! ```no_run
//! use excite_viz::{RenderConfig, default_device, render};
//! # fn model() -> Box<dyn excite_core::VisualModel> { unimplemented!() }
//! let device = default_device()?; // flex, or the backend `EXCITE_BACKEND` names
//! let model = model(); // e.g. excite_model::OnnxModel loaded on `device`
//! let out = render(&*model, &"blocks.5:12".parse()?, &RenderConfig::default(), &device)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod accentuate;
mod adam;
mod device;
mod layer;
mod layer_record;
mod render;

pub use accentuate::{Accentuation, accentuate};
pub use adam::Adam;
pub use device::{Backend, BackendError, backend_name, default_device};
pub use excite_core::{Observer, Progress};
pub use layer::{
    ChannelRender, render_channels, render_diverse_channels, render_negative_channels,
};
pub use layer_record::{ChannelEntry, LayerRecord, LayerSettings};
pub use render::{Ascent, DEAD_STEPS, Optimizer, RenderConfig, Rendered, StepReport, render};
