//! `catalogue`: every unit of chosen layers into a folder and a static site, one shard of a
//! job array at a time; `catalogue index` builds the site from the units that exist.

use std::path::Path;

use anyhow::{Context, Result, bail};
use excite::catalogue::{
    CatalogueConfig, Event, LayerSelection, Plan, Shard, Store, estimate_seconds, run as run_shard,
    site,
};
use excite::views::photos::list_photos;
use excite::viz::backend_name;
use excite::{OnnxModel, default_device};

use crate::cli::{CatalogueArgs, CatalogueCommand, channel_range};
use crate::progress::bar;

/// Runs the shard (or the whole catalogue, then builds the site), or `index`.
pub fn run(args: &CatalogueArgs) -> Result<()> {
    match &args.command {
        Some(CatalogueCommand::Index { out }) => index(out),
        None => shard(args),
    }
}

/// Renders this job's slice of the plan, skipping finished units.
fn shard(args: &CatalogueArgs) -> Result<()> {
    let (Some(layers), Some(out)) = (&args.layers, &args.out) else {
        bail!("catalogue needs --layers and --out");
    };
    let device = default_device();
    let model = OnnxModel::load(&args.model.model, &device)?;
    let config = CatalogueConfig {
        size: args.size.or(model.input_size()).unwrap_or(128),
        steps: args.steps,
        learning_rate: args.lr,
        seed: args.seed,
        batch: args.batch,
        diverse: args.diverse,
        negative: !args.no_negative,
        top: args.top,
        transforms: !args.no_transforms,
        ..CatalogueConfig::default()
    };
    let channels = args
        .channels
        .as_deref()
        .map(|text| channel_range(text, usize::MAX))
        .transpose()?;
    let name = file_name(&args.model.model);
    let mut plan = Plan::new(
        &model,
        &name,
        &LayerSelection::parse(layers)?,
        channels,
        &config,
    )?;
    let photos = match &args.images {
        Some(dir) => {
            plan.images = Some(file_name(dir));
            list_photos(dir)?
        }
        None => Vec::new(),
    };
    let shard = match &args.shard {
        Some(text) => text.parse::<Shard>()?,
        None => Shard::from_env(|k| std::env::var(k).ok())?.unwrap_or(Shard::WHOLE),
    };
    let store = Store::new(out);
    store.write_plan(&plan)?;
    let slice = &plan.units[shard.range(plan.units.len())];
    let pending: Vec<_> = slice
        .iter()
        .filter(|u| !store.is_done(&plan, u))
        .cloned()
        .collect();
    println!(
        "{} units in {} layers; shard {}/{}: {} units, {} finished, {} to render",
        plan.units.len(),
        plan.layers.len(),
        shard.index,
        shard.count,
        slice.len(),
        slice.len() - pending.len(),
        pending.len()
    );
    if !pending.is_empty() {
        let seconds = estimate_seconds(&model, &plan, &pending, &device)?;
        println!(
            "estimate: {} on {} ({} images per unit, {} steps{})",
            duration(seconds),
            backend_name(),
            config.images_per_unit(),
            config.steps,
            if photos.is_empty() {
                String::new()
            } else {
                format!("; plus {} photos per layer", photos.len())
            }
        );
    }
    let progress = bar("units", slice.len());
    // Without a terminal (a job's log), a line per batch instead of the bar.
    let lines = progress.is_hidden();
    let started = std::time::Instant::now();
    let (mut stored, mut skipped) = (0usize, 0usize);
    let mut on_event = |event: Event| match event {
        Event::Start { finished, .. } => {
            skipped = finished;
            progress.set_position(finished as u64)
        }
        Event::Photos { layer, done, total } => {
            progress.set_message(format!("{layer}: examples {done}/{total} photos"))
        }
        Event::Stored { units } => {
            progress.inc(units.len() as u64);
            progress.set_message(format!("stored {}", units[units.len() - 1]));
            stored += units.len();
            if lines {
                let left = slice.len() - skipped - stored;
                let eta = started.elapsed().as_secs_f32() / stored as f32 * left as f32;
                eprintln!(
                    "stored {}..{} ({}/{} units, ETA {})",
                    units[0],
                    units[units.len() - 1],
                    skipped + stored,
                    slice.len(),
                    duration(eta)
                );
            }
        }
        Event::Failed { units, error } => progress.suspend(|| {
            eprintln!(
                "units {}..{} failed: {error}; continuing",
                units[0],
                units[units.len() - 1]
            )
        }),
    };
    let summary = run_shard(
        &model,
        &plan,
        shard,
        &store,
        &photos,
        &device,
        &mut on_event,
    )?;
    progress.finish();
    println!(
        "{} units rendered in {}, {} skipped (finished before) -> {}",
        summary.stored,
        duration(summary.seconds),
        summary.skipped,
        out.display()
    );
    if shard == Shard::WHOLE {
        let status = site::build(&store, &plan)?;
        println!(
            "site: {} ({} of {} units)",
            out.join("index.html").display(),
            status.done,
            status.total
        );
    } else {
        println!(
            "when every shard is done: cargo xtask catalogue index --out {}",
            out.display()
        );
    }
    if !summary.failed.is_empty() {
        bail!(
            "{} units failed (first: {}); rerun this shard to retry them",
            summary.failed.len(),
            summary.failed[0]
        );
    }
    Ok(())
}

/// Builds the site from the units in `out` and reports the missing ones.
fn index(out: &Path) -> Result<()> {
    let store = Store::new(out);
    let plan = store
        .read_plan()
        .with_context(|| format!("{} has no catalogue", out.display()))?;
    let status = site::build(&store, &plan)?;
    println!(
        "site: {} ({} of {} units)",
        out.join("index.html").display(),
        status.done,
        status.total
    );
    if let Some(first) = status.missing.first() {
        bail!(
            "{} of {} units are missing (first: {first}); rerun their shards, then index again",
            status.missing.len(),
            status.total
        );
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Seconds as `1h 02m`, `3m 05s` or `12s`.
fn duration(seconds: f32) -> String {
    let s = seconds.round() as u64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}
