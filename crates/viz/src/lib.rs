//! Feature visualization by gradient ascent on the input image, on any Burn autodiff device.
//!
//! ```no_run
//! use excite_core::{ImageParam, objective::channel};
//! use excite_viz::{RenderConfig, default_device, render};
//! # fn model() -> Box<dyn excite_core::VisualModel> { unimplemented!() }
//! let device = default_device();
//! let model = model(); // e.g. excite_model::OnnxModel loaded on `device`
//! let param = ImageParam::fourier(1, 128, 128, 1.0, &device);
//! let out = render(&*model, &channel("blocks.5", 12), &param, &RenderConfig::default(), &device, &mut |_| {})?;
//! # Ok::<(), excite_core::Error>(())
//! ```

mod adam;
mod device;
mod layer;
mod progress;
mod render;

pub use adam::Adam;
pub use device::{backend_name, default_device};
pub use layer::{ChannelRender, render_channels};
pub use progress::{Progress, ProgressBar};
pub use render::{Ascent, RenderConfig, Rendered, StepReport, evaluate, render};
