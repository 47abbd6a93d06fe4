//! The manifest (`models/<name>.toml`) that travels beside a bundled model.

use std::path::{Path, PathBuf};

use burn::tensor::{Tensor, TensorData};
use serde::Deserialize;

use crate::error::{ModelError, Result};
use crate::layout::Layout;
use excite_core::files::{read_limited, resolve_inside};

/// The largest label file read.
const MAX_LABEL_BYTES: u64 = 16 << 20;
/// The largest manifest read.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// How pixels in `[0, 1]` become the model's input: `x = (pixel * 255 - mean) / std`, per channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Normalization {
    /// Per-channel mean on the 0..255 scale.
    pub mean: [f32; 3],
    /// Per-channel standard deviation on the 0..255 scale.
    pub std: [f32; 3],
}

impl Normalization {
    /// No change: the model takes pixels in `[0, 1]`.
    pub fn identity() -> Self {
        Self {
            mean: [0.0; 3],
            std: [255.0; 3],
        }
    }

    /// Maps pixels in `[0, 1]` to the model's input.
    ///
    /// # Shapes
    /// - pixels: `[N, 3, H, W]`
    /// - output: `[N, 3, H, W]`
    pub fn apply(&self, pixels: Tensor<4>) -> Tensor<4> {
        if *self == Normalization::identity() {
            return pixels;
        }
        let device = pixels.device();
        let scale: Vec<f32> = self.std.iter().map(|s| 255.0 / s).collect();
        let shift: Vec<f32> = self
            .mean
            .iter()
            .zip(&self.std)
            .map(|(m, s)| -m / s)
            .collect();
        let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 3, 1, 1]), &device);
        pixels * t(scale) + t(shift)
    }
}

/// What a model needs besides its weights, from `x.toml` beside `x.onnx`. Every field is
/// optional; what is absent comes from the graph (declared input size and layout, first
/// output) or is the identity (normalisation).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// A human-readable name.
    #[serde(default)]
    pub name: String,
    /// The ONNX file, relative to the manifest (informational: the model is the file loaded).
    #[serde(default)]
    pub onnx: PathBuf,
    /// The square input size the model was trained at: the default render and classify size
    /// (else the graph's declared static size).
    pub input_size: Option<usize>,
    /// The input's axis order, `"nchw"` or `"nhwc"` (else guessed from the declared shape).
    pub layout: Option<Layout>,
    /// The graph output that holds the class logits (else the graph's first output).
    pub output: Option<String>,
    /// The input normalisation (else none: the model takes pixels in `[0, 1]`).
    #[serde(default = "Normalization::identity")]
    pub normalization: Normalization,
    /// The class label file (one label a line), relative to the manifest.
    pub labels: Option<PathBuf>,
    /// Layers worth visualising, early to late.
    #[serde(default)]
    pub suggested_layers: Vec<String>,
    /// Where the manifest was read from (set by [`Manifest::read`]).
    #[serde(skip)]
    pub path: PathBuf,
    /// The manifest's text as read.
    #[serde(skip)]
    pub text: String,
}

impl Manifest {
    /// Reads and parses a manifest file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bad = |reason: String| ModelError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = read_limited(path, MAX_MANIFEST_BYTES).map_err(|e| bad(e.to_string()))?;
        let text =
            String::from_utf8(bytes).map_err(|_| bad("the file is not UTF-8 text".into()))?;
        let mut manifest: Manifest = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        manifest.check().map_err(bad)?;
        manifest.path = path.to_path_buf();
        manifest.text = text;
        Ok(manifest)
    }

    /// Checks the values: an input size in `1..=8192`, finite means, finite positive
    /// standard deviations.
    fn check(&self) -> std::result::Result<(), String> {
        let n = &self.normalization;
        if let Some(size) = self.input_size
            && !(1..=8192).contains(&size)
        {
            Err(format!("input_size must be in 1..=8192, got {size}"))
        } else if n.mean.iter().any(|m| !m.is_finite()) {
            Err(format!(
                "normalization.mean must be finite, got {:?}",
                n.mean
            ))
        } else if n.std.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            Err(format!(
                "normalization.std must be finite and above zero, got {:?}",
                n.std
            ))
        } else {
            Ok(())
        }
    }

    /// The manifest that sits beside an ONNX file (`x.onnx` -> `x.toml`), if there is one.
    pub fn beside(onnx: impl AsRef<Path>) -> Result<Option<Self>> {
        let candidate = onnx.as_ref().with_extension("toml");
        if candidate.is_file() {
            Self::read(candidate).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The class labels, one per class index, if the manifest names a label file. The file
    /// must be a regular file inside the manifest's folder, of at most 16 MiB.
    pub fn labels(&self) -> Result<Option<Vec<String>>> {
        let Some(file) = &self.labels else {
            return Ok(None);
        };
        let bad = |reason: String| ModelError::Manifest {
            path: self.path.clone(),
            reason: format!("cannot read labels: {reason}"),
        };
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let path = resolve_inside(dir, &file.to_string_lossy()).map_err(|e| bad(e.to_string()))?;
        let bytes = read_limited(&path, MAX_LABEL_BYTES).map_err(|e| bad(e.to_string()))?;
        let text =
            String::from_utf8(bytes).map_err(|_| bad("the file is not UTF-8 text".into()))?;
        Ok(Some(text.lines().map(str::to_string).collect()))
    }
}
