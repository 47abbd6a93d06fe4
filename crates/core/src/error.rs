//! Errors of feature visualization.

use std::path::PathBuf;

/// Everything that can go wrong while building or evaluating a visualization.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model failed (unknown layer, bad input, ...): the model's own error, kept as the
    /// source (downcast it to the model crate's error type for its structure).
    #[error(transparent)]
    Model(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An objective reads a layer that the model did not compute.
    #[error("layer `{0}` was not computed")]
    NotComputed(String),
    /// An objective names a channel the layer does not have.
    #[error("channel {channel} is out of range for layer `{layer}`: it has channels 0..{channels}")]
    ChannelOutOfRange {
        /// The layer.
        layer: String,
        /// The channel asked for.
        channel: usize,
        /// How many channels the layer has.
        channels: usize,
    },
    /// A neuron position outside the layer's spatial extent.
    #[error(
        "neuron position (x={x}, y={y}) is out of range for layer `{layer}`: x must be below {width}, y below {height}"
    )]
    PositionOutOfRange {
        /// The layer.
        layer: String,
        /// Column asked for.
        x: usize,
        /// Row asked for.
        y: usize,
        /// The layer's width.
        width: usize,
        /// The layer's height.
        height: usize,
    },
    /// An objective needs a spatial layer (`H x W` above `1 x 1`) or a direction of the right size.
    #[error("layer `{layer}` does not fit this objective: {reason}")]
    LayerMismatch {
        /// The layer.
        layer: String,
        /// Why it does not fit.
        reason: String,
    },
    /// An objective targets a batch index beyond the batch.
    #[error("batch index {index} is out of range: the batch holds {batch} images")]
    BatchOutOfRange {
        /// The index asked for.
        index: usize,
        /// The batch size.
        batch: usize,
    },
    /// The optimisation produced NaN or infinity.
    #[error(
        "the objective became {value} at step {step}{}; lower the learning rate or change the objective",
        .first.as_ref().map(|l| format!(" (the first non-finite value is in {l})")).unwrap_or_default()
    )]
    NonFinite {
        /// The step (1-based).
        step: usize,
        /// The non-finite value.
        value: f32,
        /// Where NaN or infinity first appeared (`the input image`, `layer \`x\``), when the
        /// model can tell.
        first: Option<String>,
    },
    /// The gradient stayed zero for every image over the first steps: nothing to optimise.
    #[error(
        "the objective has no gradient at the start (a dead unit, a term multiplied by 0, or a diversity of one image): there is nothing to optimise"
    )]
    NoGradient,
    /// An image has the wrong size or channel count, or cannot be decoded.
    #[error("bad image: {0}")]
    Image(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An output folder could not be created.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file named by data from outside is refused: it leads out of its folder, is not a
    /// regular file, or is too large.
    #[error("{0}")]
    FileRefused(String),
    /// Another run holds the lock of an output folder.
    #[error("another run is rendering into {0}; wait for it or choose another folder")]
    Locked(PathBuf),
    /// A computation panicked inside the backend (caught, so that no panic reaches a user).
    #[error("the backend failed: {0}")]
    Backend(String),
    /// A setting is out of its valid range.
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// The text of a caught panic (its `String` or `&str` payload), on one line.
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into());
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
