//! One batch of units of one layer: their renders, negatives and diverse renders in three
//! batched optimisations, plus the dataset examples and the saliency of each unit's best photo
//! when the layer's examples are given; the result as records and encoded files.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use excite_core::image_io::from_image;
use excite_core::objective::{channel, neuron};
use excite_core::{Result, VisualModel};
use excite_views::output::THUMB;
use excite_views::photos::load_square;
use excite_views::strip::strip;
use excite_views::{ChannelExamples, Examples, SaliencyConfig, saliency, score_channel};
use excite_viz::{
    ChannelRender, backend_name, render_channels, render_diverse_channels, render_negative_channels,
};

use crate::config::CatalogueConfig;
use crate::figures::{FIGURES, UnitParts, UnitViews};
use crate::record::{ExampleSummary, UnitFiles, UnitRecord};

/// A finished unit: its record and its files (name, bytes).
pub struct UnitOutput {
    /// `unit.json`.
    pub record: UnitRecord,
    /// The images, encoded.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A layer's dataset examples and the photos they were ranked from.
#[derive(Clone, Copy)]
pub struct LayerPhotos<'a> {
    /// The examples (covering the channels rendered).
    pub examples: &'a Examples,
    /// The photo set: the baseline of the render scores draws from it.
    pub photos: &'a [PathBuf],
}

/// Renders `channels` of `layer` as one batch seeded with `seed`, and assembles each unit's
/// record and files; `photos` (the layer's examples) adds the strips, the saliency of each
/// unit's best photo and the render's scores against its top photos
/// ([`excite_views::scores`]).
pub fn render_units(
    model: &dyn VisualModel,
    layer: &str,
    channels: &[usize],
    seed: u64,
    photos: Option<LayerPhotos>,
    config: &CatalogueConfig,
    device: &Device,
) -> Result<Vec<UnitOutput>> {
    let started = Instant::now();
    let render_config = config.render_config(channels.len(), seed);
    let renders = render_channels(model, layer, channels, &render_config, device)?;
    let negatives = if config.negative {
        Some(render_negative_channels(
            model,
            layer,
            channels,
            &render_config,
            device,
        )?)
    } else {
        None
    };
    let diverse = if config.diverse >= 2 {
        render_diverse_channels(
            model,
            layer,
            channels,
            config.diverse,
            config.diversity,
            &render_config,
            device,
        )?
    } else {
        vec![Vec::new(); channels.len()]
    };
    let batch = Batch {
        layer,
        channels,
        seed,
        config,
        backend: backend_name(device),
    };
    let mut units = Vec::with_capacity(channels.len());
    for (i, render) in renders.into_iter().enumerate() {
        let found = photos.and_then(|p| {
            let unit = p
                .examples
                .channels
                .iter()
                .find(|c| c.channel == render.channel)?;
            Some((p, unit))
        });
        let views = match found {
            Some((photos, unit)) => Some(unit_views(&batch, photos, unit, &render, model, device)?),
            None => None,
        };
        let unit = UnitRenders {
            negative: negatives.as_ref().map(|n| &n[i]),
            diverse: &diverse[i],
            render,
        };
        units.push((unit, views));
    }
    let seconds = started.elapsed().as_secs_f32() / channels.len() as f32;
    units
        .into_iter()
        .map(|(unit, views)| assemble(&batch, unit, views, seconds))
        .collect()
}

/// What a batch shares: its layer, its channels, its seed and the settings.
struct Batch<'a> {
    layer: &'a str,
    channels: &'a [usize],
    seed: u64,
    config: &'a CatalogueConfig,
    /// The name of the backend rendering it.
    backend: String,
}

/// One unit's renders.
struct UnitRenders<'a> {
    render: ChannelRender,
    negative: Option<&'a ChannelRender>,
    diverse: &'a [ChannelRender],
}

/// The strip of `unit`'s examples, the saliency of the unit at its strongest position, and
/// `render`'s scores against its top photos.
fn unit_views(
    batch: &Batch,
    photos: LayerPhotos,
    unit: &ChannelExamples,
    render: &ChannelRender,
    model: &dyn VisualModel,
    device: &Device,
) -> Result<UnitViews> {
    let (layer, config, all) = (batch.layer, batch.config, photos.examples);
    let activation = render.activation;
    // The unit at its strongest position in its best photo: a neuron, whose saliency lies in
    // its receptive field (a channel mean's spreads over the whole photo as speckle).
    let best = &unit.top_max[0];
    let photo = load_square(&best.image, all.size as u32)?;
    let saliency_config =
        SaliencyConfig::new(&config.saliency_method).with_samples(config.saliency_samples);
    let objective = match best.position {
        Some([row, col]) => neuron(layer, unit.channel, Some((col, row))),
        None => channel(layer, unit.channel),
    };
    let map = saliency(
        model,
        &objective,
        from_image(&photo, device),
        &saliency_config,
    )?;
    let heat = excite_views::heatmap::overlay(&photo, &map.pixels, map.size);
    // A render is compared with at least two top photos.
    let scores = (unit.top_mean.len() >= 2)
        .then(|| {
            score_channel(
                model,
                layer,
                unit,
                &render.image,
                photos.photos,
                all.size,
                device,
            )
        })
        .transpose()?;
    Ok(UnitViews {
        strip: strip(unit, all.size as u32, THUMB)?,
        saliency: heat,
        summary: ExampleSummary {
            top: unit.top_mean.clone(),
            top_max: unit.top_max.clone(),
            photos: all.photos,
            ratio: unit
                .top_mean
                .first()
                .filter(|best| best.score > 0.0)
                .map(|best| activation / best.score),
            saliency_value: map.value,
            saliency_method: map.method.clone(),
            scores,
        },
    })
}

/// One unit's record and encoded files: every figure of [`FIGURES`].
fn assemble(
    batch: &Batch,
    unit: UnitRenders,
    views: Option<UnitViews>,
    seconds: f32,
) -> Result<UnitOutput> {
    let UnitRenders {
        render,
        negative,
        diverse,
    } = unit;
    let parts = UnitParts {
        render: &render,
        negative,
        diverse,
        views: views.as_ref(),
    };
    let mut files = Vec::new();
    let mut names = UnitFiles::default();
    for figure in FIGURES {
        let made = figure.files(&parts)?;
        if !made.is_empty() {
            let list = made.iter().map(|(name, _)| name.clone()).collect();
            names.0.insert(figure.name().to_string(), list);
        }
        files.extend(made);
    }
    let record = UnitRecord {
        layer: batch.layer.to_string(),
        channel: render.channel,
        seed: batch.seed,
        batch: batch.channels.to_vec(),
        activation: render.activation,
        negative_activation: negative.map(|n| n.activation),
        diverse_activations: diverse.iter().map(|d| d.activation).collect(),
        dead: render.dead,
        examples: views.map(|v| v.summary),
        files: names,
        settings: batch.config.clone(),
        backend: batch.backend.clone(),
        seconds,
    };
    Ok(UnitOutput { record, files })
}
