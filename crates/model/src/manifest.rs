//! The manifest (`models/<name>.toml`) that travels beside a bundled model.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{ModelError, Result};

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
}

/// What a bundled model needs besides its weights.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// A human-readable name.
    pub name: String,
    /// The ONNX file, relative to the manifest.
    pub onnx: PathBuf,
    /// The square input size the model was trained at.
    pub input_size: usize,
    /// The input normalisation.
    pub normalization: Normalization,
    /// The class label file (one label a line), relative to the manifest.
    pub labels: Option<PathBuf>,
    /// Layers worth visualising, early to late.
    #[serde(default)]
    pub suggested_layers: Vec<String>,
    /// Where the manifest was read from (set by [`Manifest::read`]).
    #[serde(skip)]
    pub path: PathBuf,
}

impl Manifest {
    /// Reads and parses a manifest file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bad = |reason: String| ModelError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let mut manifest: Manifest = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        manifest.path = path.to_path_buf();
        Ok(manifest)
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

    /// The ONNX file's path, resolved against the manifest's folder.
    pub fn onnx_path(&self) -> PathBuf {
        self.resolve(&self.onnx)
    }

    /// The class labels, one per class index, if the manifest names a label file.
    pub fn labels(&self) -> Result<Option<Vec<String>>> {
        let Some(file) = &self.labels else {
            return Ok(None);
        };
        let path = self.resolve(file);
        let text = std::fs::read_to_string(&path).map_err(|e| ModelError::Manifest {
            path: path.clone(),
            reason: format!("cannot read labels: {e}"),
        })?;
        Ok(Some(text.lines().map(str::to_string).collect()))
    }

    fn resolve(&self, relative: &Path) -> PathBuf {
        self.path
            .parent()
            .map(|dir| dir.join(relative))
            .unwrap_or_else(|| relative.to_path_buf())
    }
}
