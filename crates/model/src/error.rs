//! The errors of loading and running an ONNX model.

use std::path::PathBuf;

/// Everything that can go wrong while loading or running an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model file could not be read.
    #[error("cannot read model file {path}: {source}")]
    Io {
        /// The file that was asked for.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The bytes are not a valid ONNX protobuf.
    #[error("{path} is not a valid ONNX model: {reason}")]
    Parse {
        /// The file that was read.
        path: PathBuf,
        /// What the protobuf decoder said.
        reason: String,
    },
    /// The model parsed but is unusable as a CNN (no graph, no nodes, no input).
    #[error("invalid model: {0}")]
    Invalid(String),
    /// A layer was asked for that depends on operators this importer does not implement.
    #[error(
        "layer `{layer}` needs node `{node}`, whose operator is not supported; this model's unsupported operators: {report}; supported operators: {supported}"
    )]
    UnsupportedOp {
        /// The layer that was asked for.
        layer: String,
        /// The first unsupported node it depends on.
        node: String,
        /// Every unsupported op of the model.
        report: crate::unsupported::UnsupportedReport,
        /// The comma-separated list of supported operators.
        supported: String,
    },
    /// A node's attributes or inputs are malformed.
    #[error("node `{node}` ({op}): {reason}")]
    BadNode {
        /// The node's name.
        node: String,
        /// Its op type.
        op: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A layer name that is not in the model.
    #[error("unknown layer `{name}`{}", suggestion_text(.suggestions))]
    UnknownLayer {
        /// The name that was asked for.
        name: String,
        /// The nearest layer names of the model.
        suggestions: Vec<String>,
    },
    /// The input tensor does not fit the model's declared input.
    #[error("bad input: {0}")]
    BadInput(String),
    /// The model manifest (`<model>.toml`) could not be read.
    #[error("bad model manifest {path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

fn suggestion_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", suggestions.join(", "))
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, ModelError>;

impl From<ModelError> for excite_core::Error {
    /// Keeps the model's error as the source, so its structure (such as an unknown layer's
    /// suggestions) survives a downcast.
    fn from(error: ModelError) -> Self {
        excite_core::Error::Model(Box::new(error))
    }
}
