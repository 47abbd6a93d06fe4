//! The catalogue's folder: `plan.json`, and one folder per finished unit,
//! `units/LAYER/CHANNEL/` with `unit.json` and its images. A unit's folder is written under a
//! temporary name and renamed into place, so it exists whole or not at all: a killed job leaves
//! no half unit, and a rerun skips what exists without rewriting it.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use excite_core::image_io::write_atomic;
use excite_core::{Error, Result};
use serde::Serialize;

use crate::plan::{LayerEntry, Plan, Unit};
use crate::record::UnitRecord;

/// The record file that marks a unit finished.
pub const RECORD: &str = "unit.json";

/// A catalogue folder.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// How complete a catalogue is (`status.json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    /// Units in the plan.
    pub total: usize,
    /// Units finished.
    pub done: usize,
    /// The units missing, as `layer:channel`.
    pub missing: Vec<String>,
    /// Records that could not be read (their units count as missing; delete their folders
    /// and rerun their shards).
    pub damaged: Vec<String>,
}

impl Store {
    /// The catalogue in `root` (created when something is written).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The catalogue's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `plan.json`, or checks that the one there is the same plan: a folder holds one
    /// catalogue, whichever shard starts first.
    pub fn write_plan(&self, plan: &Plan) -> Result<()> {
        let path = self.root.join("plan.json");
        if path.exists() {
            let existing = self.read_plan()?;
            let differs = if existing.model_sha256 != plan.model_sha256 {
                Some("another model")
            } else if existing.settings != plan.settings {
                Some("other settings")
            } else if existing.layers != plan.layers || existing.units != plan.units {
                Some("other layers or channels")
            } else if existing != *plan {
                Some("other photos")
            } else {
                None
            };
            if let Some(what) = differs {
                return Err(Error::Invalid(format!(
                    "{} holds a catalogue of {what}; rerun with the same arguments, or use another --out",
                    self.root.display()
                )));
            }
            return Ok(());
        }
        create_dir(&self.root)?;
        write_atomic(&path, &json(plan)?)
    }

    /// Reads `plan.json`.
    pub fn read_plan(&self) -> Result<Plan> {
        read_json(&self.root.join("plan.json"), |path, e| {
            format!("{path} is not a catalogue plan ({e}); was the catalogue made by this version?")
        })
    }

    /// The folder of `unit`, `units/LAYER/CHANNEL` (LAYER the plan's safe folder name).
    pub fn unit_dir(&self, plan: &Plan, unit: &Unit) -> PathBuf {
        let folder = plan
            .layer(&unit.layer)
            .map_or_else(|| unit.layer.clone(), |l| l.folder.clone());
        self.root
            .join("units")
            .join(folder)
            .join(unit.channel.to_string())
    }

    /// Which of the plan's `units` are finished, from one listing of each of their layers'
    /// folders (a unit's folder appears whole, by a rename, once its record is written; a
    /// folder left without its record is reported as damaged by [`crate::site::build`]).
    pub fn finished(&self, plan: &Plan, units: Range<usize>) -> Vec<bool> {
        let mut listed: HashMap<&str, HashSet<String>> = HashMap::new();
        plan.units[units]
            .iter()
            .map(|unit| {
                let channels = listed.entry(unit.layer.as_str()).or_insert_with(|| {
                    let folder = self.unit_dir(plan, unit);
                    let entries = folder.parent().and_then(|dir| fs::read_dir(dir).ok());
                    entries
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                });
                channels.contains(&unit.channel.to_string())
            })
            .collect()
    }

    /// The file of `layer`'s dataset examples over the photo set `photos_sha256`.
    pub fn examples_path(&self, layer: &LayerEntry, photos_sha256: &str) -> PathBuf {
        let short = &photos_sha256[..photos_sha256.len().min(16)];
        self.root
            .join("examples")
            .join(format!("{}.{short}.json", layer.folder))
    }

    /// The record of `unit`, if finished.
    pub fn read_unit(&self, plan: &Plan, unit: &Unit) -> Result<Option<UnitRecord>> {
        let path = self.unit_dir(plan, unit).join(RECORD);
        if !path.is_file() {
            return Ok(None);
        }
        read_json(&path, |path, e| format!("{path} is damaged ({e})")).map(Some)
    }

    /// Writes a unit's `files` (name, bytes) and its record into its folder at once; `false`
    /// when another job finished the unit first (its folder is kept).
    pub fn write_unit(
        &self,
        plan: &Plan,
        record: &UnitRecord,
        files: &[(String, Vec<u8>)],
    ) -> Result<bool> {
        let unit = Unit {
            layer: record.layer.clone(),
            channel: record.channel,
        };
        let dir = self.unit_dir(plan, &unit);
        let parent = dir.parent().expect("units/LAYER");
        create_dir(parent)?;
        remove_stale_partials(parent, unit.channel);
        let staging = parent.join(format!(
            ".{}.{}-{:016x}.partial",
            unit.channel,
            std::process::id(),
            rand::random::<u64>()
        ));
        create_dir(&staging)?;
        for (name, bytes) in files {
            write_file(&staging.join(name), bytes)?;
        }
        write_file(&staging.join(RECORD), &json(record)?)?;
        if dir.join(RECORD).is_file() {
            let _ = fs::remove_dir_all(&staging);
            return Ok(false);
        }
        if dir.exists() {
            // A folder without a record is no unit (never made by this store): replace it.
            let _ = fs::remove_dir_all(&dir);
        }
        match fs::rename(&staging, &dir) {
            Ok(()) => Ok(true),
            Err(_) if dir.join(RECORD).is_file() => {
                let _ = fs::remove_dir_all(&staging);
                Ok(false)
            }
            Err(source) => Err(Error::Io { path: dir, source }),
        }
    }

    /// Writes `status.json`.
    pub fn write_status(&self, status: &Status) -> Result<()> {
        write_atomic(&self.root.join("status.json"), &json(status)?)
    }
}

/// A staging folder is filled in well under this once its batch is rendered; an older one
/// was left by a killed job.
const STALE: Duration = Duration::from_secs(60);

/// Removes the unit's staging folders left by killed jobs (`.CHANNEL.*.partial`, older than
/// [`STALE`]; a younger one may be another job's, being written now).
fn remove_stale_partials(parent: &Path, channel: usize) {
    let prefix = format!(".{channel}.");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(&prefix) && name.ends_with(".partial")) {
            continue;
        }
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE);
        if stale {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn json(value: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| Error::Invalid(format!("cannot encode: {e}")))
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads and parses the JSON file at `path`; a parse error is worded by `invalid(path, error)`.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    invalid: impl Fn(&str, &serde_json::Error) -> String,
) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Invalid(invalid(&path.display().to_string(), &e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CatalogueConfig;
    use crate::plan::LayerEntry;
    use crate::record::UnitFiles;

    fn plan() -> Plan {
        Plan {
            model: "m.onnx".into(),
            model_sha256: "0".into(),
            images: None,
            photo_size: 32,
            layers: vec![LayerEntry {
                name: "a/b".into(),
                op: "Conv".into(),
                shape: vec![1, 4, 8, 8],
                channels: [0, 4],
                folder: "a_b".into(),
            }],
            settings: CatalogueConfig::default(),
            units: (0..4)
                .map(|channel| Unit {
                    layer: "a/b".into(),
                    channel,
                })
                .collect(),
        }
    }

    fn record(channel: usize, activation: f32) -> UnitRecord {
        UnitRecord {
            layer: "a/b".into(),
            channel,
            seed: 0,
            batch: vec![channel],
            activation,
            negative_activation: None,
            diverse_activations: Vec::new(),
            dead: false,
            examples: None,
            files: UnitFiles::default(),
            settings: CatalogueConfig::default(),
            backend: "test".into(),
            seconds: 0.0,
        }
    }

    #[test]
    fn a_unit_is_written_whole_once_and_stale_staging_is_removed() {
        let root = std::env::temp_dir().join(format!("excite-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (store, plan) = (Store::new(&root), plan());
        store.write_plan(&plan).unwrap();
        let unit = &plan.units[2];
        let dir = store.unit_dir(&plan, unit);
        assert_eq!(dir, root.join("units/a_b/2"));
        // A killed job's staging folder, and a folder without a record.
        let stale = root.join("units/a_b/.2.1-0.partial");
        fs::create_dir_all(&stale).unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(3600);
        fs::File::open(&stale).unwrap().set_modified(old).unwrap();
        fs::create_dir_all(&dir).unwrap();
        assert!(store.read_unit(&plan, unit).unwrap().is_none());
        let files = vec![("render.png".to_string(), vec![1, 2, 3])];
        assert!(store.write_unit(&plan, &record(2, 1.5), &files).unwrap());
        assert!(store.read_unit(&plan, unit).unwrap().is_some() && !stale.exists());
        assert_eq!(fs::read(dir.join("render.png")).unwrap(), vec![1, 2, 3]);
        // A second writer of the same unit keeps the first one's folder.
        assert!(!store.write_unit(&plan, &record(2, 9.0), &files).unwrap());
        let kept = store.read_unit(&plan, unit).unwrap().unwrap();
        assert_eq!(kept.activation, 1.5);
        let leftovers = fs::read_dir(root.join("units/a_b")).unwrap().count();
        assert_eq!(leftovers, 1, "only the unit's folder remains");
        // A unit folder left without its record is reported as damaged, not silently missing.
        fs::create_dir_all(store.unit_dir(&plan, &plan.units[3])).unwrap();
        let status = crate::site::build(&store, &plan).unwrap();
        assert_eq!(status.done, 1, "{status:?}");
        assert!(
            status
                .damaged
                .iter()
                .any(|d| d.contains("has no unit.json")),
            "{status:?}"
        );
        // Another plan in the same folder is refused, naming what differs.
        let mut other = plan.clone();
        other.settings.steps = 7;
        let err = store.write_plan(&other).unwrap_err().to_string();
        assert!(err.contains("other settings"), "{err}");
        let _ = fs::remove_dir_all(&root);
    }
}
