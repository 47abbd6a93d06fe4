//! Running one shard of a plan: the pending units of the slice, layer by layer, in batches,
//! each unit stored as soon as its batch finishes; and the time estimate shown before.

use std::time::Instant;

use burn::tensor::Device;
use excite_core::objective::channels_per_image;
use excite_core::{Progress, Result, VisualModel};
use excite_viz::Ascent;

use crate::examples::{PhotoSet, layer_examples};
use crate::plan::{Plan, Unit};
use crate::shard::Shard;
use crate::store::Store;
use crate::units::{LayerPhotos, render_units};

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Units rendered and stored by this run.
    pub stored: usize,
    /// Units of the slice finished before (skipped).
    pub skipped: usize,
    /// Units that failed, as `layer:channel`.
    pub failed: Vec<String>,
    /// Wall time, in seconds.
    pub seconds: f32,
    /// Of which ranking photos for dataset examples, or waiting for another job's ranking.
    pub examples_seconds: f32,
}

/// Renders the units of `shard` that `store` does not hold yet, telling the observer of the
/// plan's settings ([`CatalogueConfig::observer`](crate::CatalogueConfig::observer)); with
/// `photos`, each layer's dataset examples (ranked once per layer and photo set, and kept in
/// the store for reruns and the other shards: [`crate::examples`]) and saliency too. Which
/// units are finished is read from one listing of each layer's folder.
pub fn run(
    model: &dyn VisualModel,
    plan: &Plan,
    shard: Shard,
    store: &Store,
    photos: &PhotoSet,
    device: &Device,
) -> Result<Summary> {
    let observer = &plan.settings.observer;
    let started = Instant::now();
    let slice = plan.shard_units(shard);
    let done = store.finished(plan, slice.clone());
    let is_done = |i: usize| done[i - slice.start];
    let mut summary = Summary {
        skipped: done.iter().filter(|&&d| d).count(),
        ..Summary::default()
    };
    observer.notify(Progress::Start {
        units: slice.len(),
        finished: summary.skipped,
    });
    // The batches with a unit to make: each is rendered whole (its images depend on its
    // companions), and only its missing units are stored.
    let batches: Vec<std::ops::Range<usize>> = plan
        .batches()
        .into_iter()
        .filter(|b| b.start >= slice.start && b.end <= slice.end)
        .filter(|b| b.clone().any(|i| !is_done(i)))
        .collect();
    for group in batches.chunk_by(|a, b| plan.units[a.start].layer == plan.units[b.start].layer) {
        let layer = plan.units[group[0].start].layer.as_str();
        let examples = if photos.is_empty() {
            None
        } else {
            let layer = plan.layer(layer).expect("planned layer");
            let started = Instant::now();
            let examples = layer_examples(model, plan, layer, photos, store, device)?;
            summary.examples_seconds += started.elapsed().as_secs_f32();
            Some(examples)
        };
        for batch in group {
            let missing: Vec<usize> = batch.clone().filter(|&i| !is_done(i)).collect();
            let ids: Vec<String> = missing.iter().map(|&i| plan.units[i].id()).collect();
            match render_batch(
                model,
                plan,
                store,
                batch.clone(),
                &missing,
                examples.as_ref().map(|examples| LayerPhotos {
                    examples,
                    photos: &photos.photos,
                }),
                device,
            ) {
                Ok(()) => {
                    summary.stored += ids.len();
                    observer.notify(Progress::Stored { units: ids });
                }
                Err(e) => {
                    summary.failed.extend(ids.iter().cloned());
                    observer.notify(Progress::Failed {
                        units: ids,
                        error: e.to_string(),
                    });
                }
            }
        }
    }
    summary.seconds = started.elapsed().as_secs_f32();
    Ok(summary)
}

/// Renders one batch of the plan (unit indices `batch`, its first index seeding it) and stores
/// its `missing` units.
fn render_batch(
    model: &dyn VisualModel,
    plan: &Plan,
    store: &Store,
    batch: std::ops::Range<usize>,
    missing: &[usize],
    photos: Option<LayerPhotos>,
    device: &Device,
) -> Result<()> {
    let units = &plan.units[batch.clone()];
    let layer = units[0].layer.as_str();
    let channels: Vec<usize> = units.iter().map(|u| u.channel).collect();
    let seed = plan.settings.seed.wrapping_add(batch.start as u64);
    let outputs = render_units(
        model,
        layer,
        &channels,
        seed,
        photos,
        &plan.settings,
        device,
    )?;
    for (i, output) in batch.zip(outputs) {
        if missing.contains(&i) {
            store.write_unit(plan, &output.record, &output.files)?;
        }
    }
    Ok(())
}

/// An estimate of the seconds `run` needs for `pending` units, before it starts: two steps
/// of a full batch are timed at the first and the last layer with pending units (deeper
/// layers cost more), interpolated over the layers between, and scaled by the steps and the
/// images each unit costs (render, negative, diverse renders). Photos add their forward
/// passes, not counted here.
pub fn estimate_seconds(
    model: &dyn VisualModel,
    plan: &Plan,
    pending: &[Unit],
    device: &Device,
) -> Result<f32> {
    let (Some(first), Some(last)) = (pending.first(), pending.last()) else {
        return Ok(0.0);
    };
    let batch = plan.settings.batch.min(pending.len());
    let step = |layer: &str| -> Result<f32> {
        let config = plan.settings.render_config(batch, 0);
        let objective = channels_per_image(layer, vec![0; batch]);
        let mut ascent = Ascent::new(model, &objective, &config, device)?;
        ascent.step()?;
        let started = Instant::now();
        ascent.step()?;
        Ok(started.elapsed().as_secs_f32())
    };
    let (early, late) = (step(&first.layer)?, step(&last.layer)?);
    let position = |u: &Unit| {
        plan.layers
            .iter()
            .position(|l| l.name == u.layer)
            .unwrap_or(0) as f32
    };
    let (from, to) = (position(first), position(last));
    let per_unit_step: f32 = pending
        .iter()
        .map(|u| {
            let t = if to > from {
                (position(u) - from) / (to - from)
            } else {
                0.0
            };
            (early + t * (late - early)) / batch as f32
        })
        .sum();
    Ok(per_unit_step * plan.settings.steps as f32 * plan.settings.images_per_unit() as f32)
}
