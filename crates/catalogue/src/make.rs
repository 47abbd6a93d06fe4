//! A catalogue in one call: [`make`] plans the units of [`Catalogue`]'s layers, renders the
//! shard's pending ones into its folder, and builds the site when the shard is the whole.

use std::path::PathBuf;

use burn::tensor::Device;
use excite_core::channels::ChannelRange;
use excite_core::{Result, VisualModel};

use crate::config::CatalogueConfig;
use crate::examples::PhotoSet;
use crate::plan::{LayerSelection, Plan};
use crate::run::{Summary, run};
use crate::shard::Shard;
use crate::site;
use crate::store::Store;

/// What to catalogue, where, and how: the one value [`make`] takes.
#[derive(Clone, Debug)]
pub struct Catalogue {
    /// The catalogue's folder: `plan.json`, `units/`, the site.
    pub out: PathBuf,
    /// The model's name on the pages (its file name).
    pub model_name: String,
    /// The layers.
    pub layers: LayerSelection,
    /// The channels of every chosen layer (clipped to each); all by default.
    pub channels: Option<ChannelRange>,
    /// Photos for dataset examples and saliency; none by default.
    pub photos: Vec<PathBuf>,
    /// This process's slice (default: the whole catalogue).
    pub shard: Shard,
    /// The settings of every unit, and the observer.
    pub config: CatalogueConfig,
}

impl Catalogue {
    /// Every unit of `layers` (as `--layers` writes them: `all`, or names separated by commas)
    /// into `out`, with the default settings.
    pub fn new(out: impl Into<PathBuf>, layers: &str) -> Result<Self> {
        Ok(Self {
            out: out.into(),
            model_name: "model".into(),
            layers: LayerSelection::parse(layers)?,
            channels: None,
            photos: Vec::new(),
            shard: Shard::WHOLE,
            config: CatalogueConfig::default(),
        })
    }

    /// With the channels `range` of every chosen layer.
    pub fn with_channels(mut self, range: ChannelRange) -> Self {
        self.channels = Some(range);
        self
    }

    /// With these settings.
    pub fn with_config(mut self, config: CatalogueConfig) -> Self {
        self.config = config;
        self
    }
}

/// Makes `catalogue` of `model` on `device`: its plan (checked against one already in the
/// folder), the pending units of its shard, and the site when the shard is the whole
/// catalogue. Returns what the run did.
///
/// # Shapes
/// - the model's input: `[N, 3, config.size, config.size]`
pub fn make(model: &dyn VisualModel, catalogue: &Catalogue, device: &Device) -> Result<Summary> {
    let mut plan = Plan::new(
        model,
        &catalogue.model_name,
        &catalogue.layers,
        catalogue.channels,
        &catalogue.config,
    )?;
    plan.images = catalogue
        .photos
        .first()
        .and_then(|p| p.parent()?.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let store = Store::new(&catalogue.out);
    store.write_plan(&plan)?;
    let summary = run(
        model,
        &plan,
        catalogue.shard,
        &store,
        &PhotoSet::new(&catalogue.photos)?,
        device,
    )?;
    if catalogue.shard == Shard::WHOLE {
        site::build(&store, &plan)?;
    }
    Ok(summary)
}
