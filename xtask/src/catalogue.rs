//! `catalogue`: every unit of chosen layers into a folder and a static site, one shard of a
//! job array at a time; `catalogue index` builds the site from the units that exist.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use excite::OnnxModel;
use excite::catalogue::{
    CatalogueConfig, LayerSelection, PhotoSet, Plan, Shard, Store, Summary, Unit, estimate_seconds,
    run as run_shard, site,
};
use excite::core::channels::ChannelRange;
use excite::core::transform::copies_per_image;
use excite::core::{Observer, Progress};
use excite::model::memory_limit;
use excite::views::photos::list_photos;
use excite::viz::{RenderConfig, backend_name};
use indicatif::ProgressBar;

use crate::cli::{CatalogueArgs, CatalogueCommand, Param, maco_magnitude};
use crate::progress::bar;

/// Runs the shard (or the whole catalogue, then builds the site), or `index`.
pub fn run(args: &CatalogueArgs, device: &Device) -> Result<()> {
    match &args.command {
        Some(CatalogueCommand::Index { out }) => index(out),
        None => shard(args, device),
    }
}

/// Renders this job's slice of the plan, skipping finished units.
fn shard(args: &CatalogueArgs, device: &Device) -> Result<()> {
    let Some(out) = &args.out else {
        bail!("catalogue needs --out");
    };
    let model = OnnxModel::load(&args.model.model, device)?;
    let (plan, photos) = plan(args, &model)?;
    let shard = match &args.shard {
        Some(text) => text.parse::<Shard>()?,
        None => Shard::from_env(|k| std::env::var(k).ok())?.unwrap_or(Shard::WHOLE),
    };
    let store = Store::new(out);
    store.write_plan(&plan)?;
    let range = plan.shard_units(shard);
    let slice = &plan.units[range.clone()];
    let finished = store.finished(&plan, range);
    let pending: Vec<_> = slice
        .iter()
        .zip(&finished)
        .filter(|(_, done)| !**done)
        .map(|(u, _)| u.clone())
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
        // An estimate that cannot be made (the probe fails) is no reason not to try.
        match estimate_seconds(&model, &plan, &pending, device) {
            Ok(seconds) => println!(
                "estimate: {} on {} ({} images per unit, {} steps{})",
                duration(seconds),
                backend_name(device),
                plan.settings.images_per_unit(),
                plan.settings.steps,
                ranking_note(&store, &plan, &pending, &photos)?
            ),
            Err(e) => println!("no estimate: {e}"),
        }
    }
    let progress = bar("units", slice.len());
    let report = Mutex::new(Reporter::new(progress.clone(), slice.len()));
    let mut plan = plan;
    plan.settings.observer = Observer::new(move |p| {
        if let Ok(mut report) = report.lock() {
            report.event(p);
        }
    });
    let summary = run_shard(&model, &plan, shard, &store, &photos, device)?;
    progress.finish();
    finish(&store, &plan, shard, &summary)
}

/// What ranking the photos adds to the estimate: the layers of `pending` whose examples no
/// job has ranked yet.
fn ranking_note(store: &Store, plan: &Plan, pending: &[Unit], photos: &PhotoSet) -> Result<String> {
    if photos.is_empty() {
        return Ok(String::new());
    }
    let mut layers: Vec<&str> = pending.iter().map(|u| u.layer.as_str()).collect();
    layers.dedup();
    let to_rank = layers
        .iter()
        .filter_map(|name| plan.layer(name))
        .filter(|layer| !store.examples_path(layer, &photos.sha256).is_file())
        .count();
    Ok(match to_rank {
        0 => format!("; examples of {} photos ranked before", photos.photos.len()),
        n => format!(
            "; plus {} photos to rank in {n} layers",
            photos.photos.len()
        ),
    })
}

/// The plan the arguments describe, checked to fit in memory, and the photos.
fn plan(args: &CatalogueArgs, model: &OnnxModel) -> Result<(Plan, PhotoSet)> {
    let Some(layers) = &args.layers else {
        bail!("catalogue needs --layers");
    };
    let maco = args.param == Param::Maco;
    if maco && args.no_transforms {
        bail!(
            "--no-transforms does not apply to --param maco: its random crops are its transforms"
        );
    }
    if maco && args.size.is_some() {
        bail!(
            "with --param maco, the catalogue's pictures are the model's input size (the crops' size); --size is for `render`"
        );
    }
    let size = match maco {
        true => model.photo_side(),
        false => args.size.unwrap_or_else(|| model.render_side()),
    };
    let mut config = CatalogueConfig {
        size,
        steps: args.steps,
        learning_rate: args.lr.unwrap_or(if maco {
            RenderConfig::maco(2 * size, size, None).learning_rate
        } else {
            CatalogueConfig::default().learning_rate
        }),
        seed: args.seed,
        batch: args.batch,
        diverse: args.diverse,
        negative: !args.no_negative,
        top: args.top,
        saliency_method: args.saliency_method.clone(),
        param: args.param.name(),
        transforms: !args.no_transforms,
        ..CatalogueConfig::default()
    };
    if maco && let Some(magnitude) = maco_magnitude(&args.model.model, size)? {
        config = config.with_spectrum(magnitude);
    }
    let channels = args
        .channels
        .as_deref()
        .map(str::parse::<ChannelRange>)
        .transpose()?;
    let name = file_name(&args.model.model);
    let selection = LayerSelection::parse(layers)?;
    let mut plan = Plan::new(model, &name, &selection, channels, &config)?;
    // The largest batch is the diverse renders': every unit's images together, each seen
    // through MACO's crops with `maco`.
    let one = config.render_config(1, 0);
    let batch = config.batch * config.diverse.max(1) * copies_per_image(&one.transforms);
    let limit = memory_limit(args.max_memory)?;
    for layer in &plan.layers {
        model.check_memory(&[&layer.name], batch, one.input_size(), limit)?;
    }
    let photos = match &args.images {
        Some(dir) => {
            plan.images = Some(file_name(dir));
            PhotoSet::new(&list_photos(dir)?)?
        }
        None => PhotoSet::default(),
    };
    Ok((plan, photos))
}

/// The progress of a shard: the bar on a terminal, a line per batch in a job's log.
struct Reporter {
    progress: ProgressBar,
    lines: bool,
    started: Instant,
    units: usize,
    skipped: usize,
    stored: usize,
    /// The layer whose photos are being ranked, its first report (photos done, when), and
    /// when a line was last printed.
    ranking: Option<(String, usize, Instant, Instant)>,
}

impl Reporter {
    fn new(progress: ProgressBar, units: usize) -> Self {
        Self {
            lines: progress.is_hidden(),
            progress,
            started: Instant::now(),
            units,
            skipped: 0,
            stored: 0,
            ranking: None,
        }
    }

    /// Photos ranked for `layer`'s examples: the rate and the time left, on the bar, and in a
    /// job's log every half minute and at the end.
    fn photos(&mut self, layer: &str, done: usize, total: usize) {
        let now = Instant::now();
        let (_, first, since, printed) = match &mut self.ranking {
            Some(r) if r.0 == layer => r,
            ranking => ranking.insert((layer.to_string(), done, now, now)),
        };
        // The rate from the first report on (the first batch's time is unknown).
        let line = if done > *first {
            let rate = (done - *first) as f32 / since.elapsed().as_secs_f32().max(1e-3);
            format!(
                "{layer}: examples {done}/{total} photos, {rate:.1} photos/s, ETA {}",
                duration((total - done) as f32 / rate)
            )
        } else {
            format!("{layer}: examples {done}/{total} photos")
        };
        if self.lines {
            if done == total || printed.elapsed().as_secs() >= 30 {
                *printed = now;
                eprintln!("{line}");
            }
        } else {
            self.progress.set_message(line);
        }
    }

    fn event(&mut self, event: &Progress) {
        match event {
            Progress::Start { finished, .. } => {
                self.skipped = *finished;
                self.progress.set_position(*finished as u64);
            }
            Progress::Photos { layer, done, total } => self.photos(layer, *done, *total),
            Progress::Stored { units } => {
                self.stored += units.len();
                self.progress.inc(units.len() as u64);
                self.progress
                    .set_message(format!("stored {}", units[units.len() - 1]));
                if self.lines {
                    let left = self.units - self.skipped - self.stored;
                    let per_unit = self.started.elapsed().as_secs_f32() / self.stored as f32;
                    eprintln!(
                        "stored {}..{} ({}/{} units, ETA {})",
                        units[0],
                        units[units.len() - 1],
                        self.skipped + self.stored,
                        self.units,
                        duration(per_unit * left as f32)
                    );
                }
            }
            Progress::Failed { units, error } => self.progress.suspend(|| {
                eprintln!(
                    "units {}..{} failed: {error}; continuing",
                    units[0],
                    units[units.len() - 1]
                )
            }),
            Progress::Step { .. } | Progress::Passes { .. } => {}
        }
    }
}

/// The summary line, the site when this run was the whole catalogue, and the failures.
fn finish(store: &Store, plan: &Plan, shard: Shard, summary: &Summary) -> Result<()> {
    let out = store.root();
    let examples = if summary.examples_seconds > 0.0 {
        format!(
            " (of which {} on examples)",
            duration(summary.examples_seconds)
        )
    } else {
        String::new()
    };
    println!(
        "{} units rendered in {}{examples}, {} skipped (finished before) -> {}",
        summary.stored,
        duration(summary.seconds),
        summary.skipped,
        out.display()
    );
    if shard == Shard::WHOLE {
        let status = site::build(store, plan)?;
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
    if let Some(first) = summary.failed.first() {
        bail!(
            "{} units failed (first: {first}); rerun this shard to retry them",
            summary.failed.len()
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
    for damaged in &status.damaged {
        eprintln!("damaged: {damaged}");
    }
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
