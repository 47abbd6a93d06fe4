//! ONNX CNNs in Burn: load a `.onnx` file at run time, list its layers, and run it up to any
//! named layer — differentiably, so gradients reach the input image.
//!
//! ```no_run
//! use burn::tensor::{Device, Tensor};
//! use excite_model::OnnxModel;
//!
//! let device = Device::flex();
//! let model = OnnxModel::load("models/efficientnet_lite0.onnx", &device)?;
//! for layer in model.layers().iter().take(3) {
//!     println!("{} {} {:?}", layer.name, layer.op, layer.shape);
//! }
//! let image = Tensor::<4>::zeros([1, 3, 224, 224], &device);
//! let [block5] = <[Tensor<4>; 1]>::try_from(model.forward_to(image, &["blocks.5"])?).unwrap();
//! println!("{:?}", block5.dims());
//! # Ok::<(), excite_model::ModelError>(())
//! ```

#![warn(missing_docs)]

mod error;
mod graph;
mod infer;
mod layout;
mod load;
mod manifest;
mod memory;
mod model;
mod onnx_file;
mod ops;
mod randomise;
mod receptive;
mod run;
mod tokens;
mod trace;
mod unsupported;
mod value;
mod visual;

pub use error::{ModelError, Result};
pub use excite_core::names::nearest;
pub use layout::Layout;
pub use manifest::{Manifest, Normalization};
pub use memory::{BYTES_PER_VALUE, default_memory_limit, memory_limit};
pub use model::{LayerInfo, OnnxModel, RENDER_SIDE};
pub use onnx_file::{MAX_TENSOR_ELEMENTS, decode_model};
pub use ops::SUPPORTED_OPS;
pub use run::NodeStats;
pub use tokens::{MAX_PREFIX, Tokens, prefix_layer};
pub use unsupported::{UnsupportedOp, UnsupportedReport};
