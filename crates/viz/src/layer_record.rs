//! The record of a whole-layer render (`record.json` in its folder): the settings and each
//! finished channel, so that an interrupted run resumes to the images of an uninterrupted one.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use excite_core::files::{read_limited, sha256_hex};
use excite_core::grid::grid;
use excite_core::image_io::{encode_png, read_image, save_png, write_atomic};
use excite_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::layer::ChannelRender;

/// The settings that decide what a channel's image looks like; a resumed run must match them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSettings {
    /// The model file name.
    pub model: String,
    /// The SHA-256 of the model file and its manifest (`OnnxModel::fingerprint`).
    #[serde(default)]
    pub model_sha256: String,
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
    /// The parameterization's name (`fourier`, `pixels`, `phase`).
    pub param: String,
    /// Whether transforms were on.
    pub transforms: bool,
    /// Whether the transforms were applied one after the other at a size following the drawn
    /// scale ([`crate::RenderConfig::variable_size`]); records from before the constant size
    /// have no such field and were.
    #[serde(default = "variable_before_fixed")]
    pub variable_size: bool,
    /// The backend.
    pub backend: String,
}

/// Records without `variable_size` were made when the transforms were applied one by one.
fn variable_before_fixed() -> bool {
    true
}

/// One finished channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelEntry {
    /// The channel.
    pub channel: usize,
    /// Its PNG in the output folder (always `channel_NNNN.png`).
    pub file: String,
    /// The channel's mean activation on its render.
    pub activation: f32,
    /// Wall-clock seconds of the batch that rendered it, divided by the batch size.
    pub seconds: f32,
    /// The SHA-256 of the PNG file, checked when a run resumes.
    #[serde(default)]
    pub sha256: String,
    /// Whether the channel is dead: its gradient was zero at the start, so its image is the
    /// start image.
    #[serde(default)]
    pub dead: bool,
}

/// The record of one whole-layer render in its folder: open it, render its
/// [`pending`](LayerRecord::pending) batches, [`add`](LayerRecord::add) or
/// [`fail`](LayerRecord::fail) each, then [`finish`](LayerRecord::finish) with the grid.
///
/// An open record holds an exclusive lock on its folder, so that two runs never write into one
/// folder at once.
#[derive(Debug, Serialize, Deserialize)]
pub struct LayerRecord {
    /// The settings.
    pub settings: LayerSettings,
    /// Finished channels, in order.
    pub channels: Vec<ChannelEntry>,
    /// Channels whose batch failed, with the reason.
    #[serde(default)]
    pub failures: Vec<(usize, String)>,
    /// Total rendering seconds of all runs.
    pub seconds: f32,
    /// The folder of the record and its images.
    #[serde(skip)]
    dir: PathBuf,
    /// The locked lock file of the folder, held while the record is open.
    #[serde(skip)]
    lock: Option<File>,
}

impl LayerRecord {
    /// The record of `dir` for `settings`, creating the folder. With `resume`, a previous record
    /// of the same settings continues (other settings, or a corrupt record, are an error);
    /// otherwise the record starts afresh, replacing any earlier one. Failures of earlier runs
    /// are cleared, to be retried.
    pub fn open(dir: &Path, settings: LayerSettings, resume: bool) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock = lock_folder(dir)?;
        let previous = if resume { Self::read(dir)? } else { None };
        let mut record = match previous {
            Some(previous) => {
                if previous.settings != settings {
                    return Err(Error::Invalid(format!(
                        "{} was made with other settings ({:?}); resume only with the same settings",
                        dir.join(RECORD).display(),
                        previous.settings
                    )));
                }
                previous
            }
            _ => LayerRecord {
                settings,
                channels: Vec::new(),
                failures: Vec::new(),
                seconds: 0.0,
                dir: PathBuf::new(),
                lock: None,
            },
        };
        record.dir = dir.to_path_buf();
        record.lock = Some(lock);
        record.failures.clear();
        // A record names only its own images: an entry naming any other file is dropped, and
        // its channel rendered again.
        record.channels.retain(|e| e.file == image_name(e.channel));
        Ok(record)
    }

    /// The batches still to render: the channel range cut into batches of the settings' batch
    /// size (fixed, so that a resumed run renders the same images), less those whose every
    /// channel is finished.
    pub fn pending(&self) -> Vec<Vec<usize>> {
        let [start, end] = self.settings.channels;
        let all: Vec<usize> = (start..end).collect();
        all.chunks(self.settings.batch.max(1))
            .filter(|chunk| !chunk.iter().all(|&c| self.has(c)))
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// Saves a finished batch's images and entries (it took `seconds`), then the record.
    pub fn add(&mut self, renders: Vec<ChannelRender>, seconds: f32) -> Result<()> {
        let per_channel = seconds / renders.len().max(1) as f32;
        for r in renders {
            let file = image_name(r.channel);
            let png = encode_png(&r.image)?;
            write_atomic(&self.dir.join(&file), &png)?;
            self.channels.retain(|e| e.channel != r.channel);
            self.channels.push(ChannelEntry {
                channel: r.channel,
                file,
                activation: r.activation,
                seconds: per_channel,
                sha256: sha256_hex(&png),
                dead: r.dead,
            });
        }
        self.seconds += seconds;
        self.channels.sort_by_key(|e| e.channel);
        self.write()
    }

    /// Records that the batch of `channels` failed with `error`, then saves the record.
    pub fn fail(&mut self, channels: &[usize], error: &Error) -> Result<()> {
        self.failures
            .extend(channels.iter().map(|&c| (c, error.to_string())));
        self.write()
    }

    /// Writes the labelled grid of every finished channel and returns its path.
    pub fn finish(&self) -> Result<PathBuf> {
        let path = self.dir.join("grid.png");
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for entry in &self.channels {
            images.push(read_image(&self.dir.join(&entry.file), None)?);
            labels.push(entry.channel.to_string());
        }
        if !images.is_empty() {
            let columns = (images.len() as f32).sqrt().ceil() as usize;
            save_png(&grid(&images, &labels, columns), &path)?;
        }
        Ok(path)
    }

    /// The path of the record file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(RECORD)
    }

    /// Reads the record of `dir`, if the file exists.
    fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(RECORD);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::Invalid(format!(
                    "{} is not a valid record ({e}); render afresh (without resuming) to replace it",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Writes the record atomically.
    fn write(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Invalid(format!("cannot encode the record: {e}")))?;
        write_atomic(&self.path(), text.as_bytes())
    }

    /// Whether `channel` is finished: its image exists, unchanged since it was written.
    fn has(&self, channel: usize) -> bool {
        self.channels.iter().any(|e| {
            e.channel == channel
                && read_limited(&self.dir.join(&e.file), MAX_IMAGE_BYTES)
                    .is_ok_and(|bytes| sha256_hex(&bytes) == e.sha256)
        })
    }
}

/// The record's file name in its folder.
const RECORD: &str = "record.json";

/// The largest channel image read back.
const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// Takes the exclusive lock of folder `dir` (its file `.lock`), or says that another run holds
/// it.
fn lock_folder(dir: &Path) -> Result<File> {
    let path = dir.join(".lock");
    let file = File::create(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Locked(dir.to_path_buf())),
        Err(TryLockError::Error(source)) => Err(Error::Io { path, source }),
    }
}

/// The file name of a channel's image in the record's folder.
fn image_name(channel: usize) -> String {
    format!("channel_{channel:04}.png")
}
