//! The plan of a catalogue: the model, the layers and channel ranges chosen, the settings, and
//! the ordered list of units every shard slices the same way.

use std::collections::HashSet;

use excite_core::VisualModel;
use excite_core::channels::ChannelRange;
use excite_core::files::safe_component;
use excite_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::config::CatalogueConfig;

/// One unit: a channel of a layer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Unit {
    /// The layer's name in the model.
    pub layer: String,
    /// The channel.
    pub channel: usize,
}

impl Unit {
    /// `layer:channel`, as objectives write it.
    pub fn id(&self) -> String {
        format!("{}:{}", self.layer, self.channel)
    }
}

/// A layer of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerEntry {
    /// The layer's name in the model.
    pub name: String,
    /// Its operator.
    pub op: String,
    /// Its activation shape for one image at the model's input size (NCHW; `[1, K]` for a
    /// vector).
    pub shape: Vec<usize>,
    /// The channels catalogued, `[first, end)`.
    pub channels: [usize; 2],
    /// The layer's folder name under `units/` (its name made a safe path component, unique).
    pub folder: String,
}

/// Which layers: every layer of the model, or a list of names.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSelection {
    /// Every layer the model lists.
    All,
    /// These layers, in model order.
    Named(Vec<String>),
}

impl LayerSelection {
    /// `all`, or a comma-separated list of layer names.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text == "all" {
            return Ok(Self::All);
        }
        let names: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        if names.is_empty() {
            return Err(Error::Invalid(
                "--layers needs `all` or a comma-separated list of layer names".into(),
            ));
        }
        Ok(Self::Named(names))
    }
}

/// The whole catalogue's description, written as `plan.json` by every shard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The model file's name.
    pub model: String,
    /// The model file's SHA-256.
    pub model_sha256: String,
    /// The photos' folder name, when dataset examples are made.
    pub images: Option<String>,
    /// The side photos are scaled and cropped to for the model (its input size).
    pub photo_size: usize,
    /// The layers, in model order.
    pub layers: Vec<LayerEntry>,
    /// The settings.
    pub settings: CatalogueConfig,
    /// Every unit, in order: layer by layer, channel by channel.
    pub units: Vec<Unit>,
}

impl Plan {
    /// The plan for `selection` of `model`'s layers, each restricted to `channels` (clipped
    /// to the layer's channel count). Unknown layers are an error naming the first.
    pub fn new(
        model: &dyn VisualModel,
        model_name: &str,
        selection: &LayerSelection,
        channels: Option<ChannelRange>,
        settings: &CatalogueConfig,
    ) -> Result<Self> {
        settings.validate()?;
        let wanted: Option<HashSet<&str>> = match selection {
            LayerSelection::All => None,
            LayerSelection::Named(names) => {
                for name in names {
                    model.check_layer_name(name)?;
                }
                Some(names.iter().map(String::as_str).collect())
            }
        };
        model.check_side(settings.size)?;
        let mut folders = HashSet::new();
        let mut layers = Vec::new();
        for info in model.layer_summaries() {
            if wanted
                .as_ref()
                .is_some_and(|w| !w.contains(info.name.as_str()))
            {
                continue;
            }
            let shape = info.shape.clone();
            let count = shape.get(1).copied().unwrap_or(0);
            let range = channels.unwrap_or_default();
            let Some([first, end]) = range.clipped(count) else {
                if wanted.is_some() {
                    return Err(Error::Invalid(format!(
                        "layer `{}` has channels 0..{count}: none in {}..{}",
                        info.name,
                        range.start.unwrap_or(0),
                        range.end.map_or_else(|| "".into(), |e| e.to_string())
                    )));
                }
                continue;
            };
            let folder = unique_folder(&info.name, &mut folders);
            layers.push(LayerEntry {
                name: info.name.clone(),
                op: info.op.clone(),
                shape,
                channels: [first, end],
                folder,
            });
        }
        if layers.is_empty() {
            return Err(Error::Invalid(
                "no units to catalogue: the channel range is past every chosen layer's channels"
                    .into(),
            ));
        }
        let units = layers
            .iter()
            .flat_map(|l| {
                (l.channels[0]..l.channels[1]).map(|channel| Unit {
                    layer: l.name.clone(),
                    channel,
                })
            })
            .collect();
        Ok(Self {
            model: model_name.to_string(),
            model_sha256: model.model_fingerprint(),
            images: None,
            photo_size: model.input_side().unwrap_or(settings.size),
            layers,
            settings: settings.clone(),
            units,
        })
    }

    /// The batches of the plan, as ranges of unit indices: each layer's units in runs of
    /// [`CatalogueConfig::batch`] from the layer's first, so a unit's batch (its companions and
    /// its seed, the settings' seed plus the batch's first index) never depends on how the
    /// catalogue is sharded or rerun.
    pub fn batches(&self) -> Vec<std::ops::Range<usize>> {
        let size = self.settings.batch.max(1);
        let mut out = Vec::new();
        let mut start = 0;
        while start < self.units.len() {
            let layer = &self.units[start].layer;
            let end = self.units[start..]
                .iter()
                .position(|u| &u.layer != layer)
                .map_or(self.units.len(), |n| start + n);
            out.extend((start..end).step_by(size).map(|b| b..(b + size).min(end)));
            start = end;
        }
        out
    }

    /// The units of `shard`: the units of its slice of the [`Plan::batches`], as a range of
    /// unit indices (whole batches, so any shard count gives every unit the same batch).
    pub fn shard_units(&self, shard: crate::Shard) -> std::ops::Range<usize> {
        let batches = self.batches();
        let slice = shard.range(batches.len());
        if slice.is_empty() {
            return 0..0;
        }
        batches[slice.start].start..batches[slice.end - 1].end
    }

    /// Each of [`Plan::layers`]' units, as a range of unit indices (the units run layer by
    /// layer, in that order; a layer without units has an empty range).
    pub fn layer_units(&self) -> Vec<std::ops::Range<usize>> {
        let mut start = 0;
        self.layers
            .iter()
            .map(|layer| {
                let count = self.units[start..]
                    .iter()
                    .take_while(|u| u.layer == layer.name)
                    .count();
                start += count;
                start - count..start
            })
            .collect()
    }

    /// The entry of `layer`.
    pub fn layer(&self, layer: &str) -> Option<&LayerEntry> {
        self.layers.iter().find(|l| l.name == layer)
    }
}

/// `name` as a folder name not in `taken` (which it joins): layer names that differ only in
/// unsafe characters get numbered folders.
fn unique_folder(name: &str, taken: &mut HashSet<String>) -> String {
    let safe = safe_component(name);
    let mut folder = safe.clone();
    let mut n = 1;
    while !taken.insert(folder.clone()) {
        folder = format!("{safe}-{n}");
        n += 1;
    }
    folder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_stay_unique_whatever_the_names() {
        let mut taken = HashSet::new();
        let names = ["a/b", "a_b", "a:b", "a_b-1", ".x", ""];
        let folders: Vec<String> = names.iter().map(|n| unique_folder(n, &mut taken)).collect();
        assert_eq!(folders, ["a_b", "a_b-1", "a_b-2", "a_b-1-1", "_x", "_"]);
    }
}
