//! `record.json` of a whole-layer render: the settings and each finished channel.

use std::path::Path;

use excite_core::image_io::write_atomic;
use serde::{Deserialize, Serialize};

use crate::cli::Param;

/// The settings that decide what a channel's image looks like; a resumed run must match them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The model file name.
    pub model: String,
    /// The layer.
    pub layer: String,
    /// The channel range `[start, end)` of the run.
    pub channels: [usize; 2],
    /// Image size.
    pub size: usize,
    /// Steps.
    pub steps: usize,
    /// Learning rate.
    pub lr: f32,
    /// Batch size.
    pub batch: usize,
    /// Seed.
    pub seed: u64,
    /// Parameterization.
    pub param: Param,
    /// Whether transforms were on.
    pub transforms: bool,
    /// The backend.
    pub backend: String,
}

/// One finished channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelEntry {
    /// The channel.
    pub channel: usize,
    /// Its PNG, relative to the output folder.
    pub file: String,
    /// The channel's mean activation on its render.
    pub activation: f32,
    /// Wall-clock seconds of the batch that rendered it, divided by the batch size.
    pub seconds: f32,
}

/// The whole record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerRecord {
    /// The settings.
    pub settings: Settings,
    /// Finished channels, in order.
    pub channels: Vec<ChannelEntry>,
    /// Channels whose batch failed, with the reason.
    #[serde(default)]
    pub failures: Vec<(usize, String)>,
    /// Total rendering seconds of all runs.
    pub seconds: f32,
}

impl LayerRecord {
    /// Reads a record, if the file exists.
    pub fn read(path: &Path) -> Result<Option<Self>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                format!(
                    "{} is not a valid record ({e}); delete it or drop --resume",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the record atomically.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        write_atomic(path, text.as_bytes()).map_err(|e| e.to_string())
    }

    /// Whether `channel` is finished and its image exists in `dir`.
    pub fn has(&self, channel: usize, dir: &Path) -> bool {
        self.channels
            .iter()
            .any(|e| e.channel == channel && dir.join(&e.file).is_file())
    }
}
