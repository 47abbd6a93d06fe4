//! The catalogue's folder: `plan.json`, and one folder per finished unit,
//! `units/LAYER/CHANNEL/` with `unit.json` and its images. A unit's folder is written under a
//! temporary name and renamed into place, so it exists whole or not at all: a killed job leaves
//! no half unit, and a rerun skips what exists without rewriting it.

use std::fs;
use std::path::{Path, PathBuf};

use excite_core::image_io::write_atomic;
use excite_core::{Error, Result};
use serde::Serialize;

use crate::plan::{Plan, Unit};
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
            if existing != *plan {
                return Err(Error::Invalid(format!(
                    "{} holds a catalogue of other settings, layers or model; use another --out, or the same arguments",
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
        let path = self.root.join("plan.json");
        let text = fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!(
                "{} is not a catalogue plan ({e}); was the catalogue made by this version?",
                path.display()
            ))
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

    /// Whether `unit` is finished.
    pub fn is_done(&self, plan: &Plan, unit: &Unit) -> bool {
        self.unit_dir(plan, unit).join(RECORD).is_file()
    }

    /// The record of `unit`, if finished.
    pub fn read_unit(&self, plan: &Plan, unit: &Unit) -> Result<Option<UnitRecord>> {
        let path = self.unit_dir(plan, unit).join(RECORD);
        if !path.is_file() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Invalid(format!("{} is damaged ({e})", path.display())))
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
        remove_partials(parent, unit.channel);
        let staging = parent.join(format!(".{}.{}.partial", unit.channel, std::process::id()));
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

    /// Which of the plan's units are finished.
    pub fn status(&self, plan: &Plan) -> Status {
        let missing: Vec<String> = plan
            .units
            .iter()
            .filter(|u| !self.is_done(plan, u))
            .map(Unit::id)
            .collect();
        Status {
            total: plan.units.len(),
            done: plan.units.len() - missing.len(),
            missing,
        }
    }

    /// Writes `status.json`.
    pub fn write_status(&self, status: &Status) -> Result<()> {
        write_atomic(&self.root.join("status.json"), &json(status)?)
    }
}

/// Removes the unit's staging folders left by killed jobs (`.CHANNEL.PID.partial`).
fn remove_partials(parent: &Path, channel: usize) {
    let prefix = format!(".{channel}.");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".partial") {
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
