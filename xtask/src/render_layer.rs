//! `render-layer`: every channel of a layer (or a range), batched, into a folder with a grid,
//! one PNG per channel and `record.json`; resumable; with `--images`, each render's scores
//! (`scores.json`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};
use burn::tensor::Device;
use excite::core::Progress;
use excite::core::files::unique_component;
use excite::core::image_io::read_image;
use excite::core::transform::copies_per_image;
use excite::views::{Scores, score_layer};
use excite::viz::{LayerRecord, LayerSettings, backend_name};
use excite::{OnnxModel, render_channels};

use crate::cli::{AscentArgs, Param, RenderLayerArgs, channel_range};
use crate::progress::bar;

/// Renders the pending batches of the layer, recording each, then writes the grid.
pub fn run(args: &RenderLayerArgs, device: &Device) -> Result<()> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let photos = args
        .images
        .as_deref()
        .map(crate::render::enough_photos)
        .transpose()?;
    let model = OnnxModel::load(&args.ascent.model.model, device)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("renders").join(unique_component(&args.layer)));
    if args.ascent.param == Some(Param::Maco) && args.ascent.size.is_some() {
        bail!(
            "with --param maco, render-layer's pictures are the model's input size (the crops' size); --size is for `render`"
        );
    }
    let ascent = args.ascent.for_model(&model, false)?;
    let settings = settings(args, &ascent, &model, device)?;
    ascent.config(args.batch).validate()?;
    let limit = ascent.memory_limit()?;
    let [first, end] = settings.channels;
    // MACO's crops multiply the batch the model sees.
    let copies = copies_per_image(&ascent.config(1).transforms);
    let batch = args.batch.min(end - first) * copies;
    model.check_memory(&[&args.layer], batch, ascent.config(1).input_size(), limit)?;
    let mut record = LayerRecord::open(&out, settings, args.resume)?;
    let pending = record.pending();
    let steps = ascent.steps;
    let progress = bar(&args.layer, pending.len() * steps);
    for (done, chunk) in pending.iter().enumerate() {
        let observed = progress.clone();
        let label = format!("channels {}..{}", chunk[0], chunk[chunk.len() - 1] + 1);
        let config = ascent
            .config(chunk.len())
            .with_seed(ascent.seed.wrapping_add(chunk[0] as u64))
            .on_progress(move |p| {
                if let Progress::Step { step, value, .. } = p {
                    observed.set_position((done * steps + step) as u64);
                    observed.set_message(format!("{label} objective {value:.3}"));
                }
            });
        let start = Instant::now();
        match render_channels(&model, &args.layer, chunk, &config, device) {
            Ok(renders) => {
                let dead: Vec<usize> = renders
                    .iter()
                    .filter(|r| r.dead)
                    .map(|r| r.channel)
                    .collect();
                if !dead.is_empty() {
                    progress.suspend(|| {
                        eprintln!("channels {dead:?} are dead: their gradient is zero at the start")
                    });
                }
                record.add(renders, start.elapsed().as_secs_f32())?
            }
            Err(e) => {
                progress.suspend(|| eprintln!("channels {chunk:?} failed: {e}; continuing"));
                record.fail(chunk, &e)?;
            }
        }
    }
    progress.finish();
    let grid = record.finish()?;
    println!(
        "{} channels of `{}` in {:.1}s -> {}",
        record.channels.len(),
        args.layer,
        record.seconds,
        grid.display()
    );
    if let Some(photos) = &photos {
        write_scores(&model, &args.layer, &record, photos, &out, device)?;
    }
    if !record.failures.is_empty() {
        bail!(
            "{} channels failed; see {}",
            record.failures.len(),
            record.path().display()
        );
    }
    Ok(())
}

/// Scores every rendered channel against `photos`, writes `scores.json` into `out` and says
/// how many fail the path check.
fn write_scores(
    model: &OnnxModel,
    layer: &str,
    record: &LayerRecord,
    photos: &[PathBuf],
    out: &Path,
    device: &Device,
) -> Result<()> {
    let renders = record
        .channels
        .iter()
        .map(|c| Ok((c.channel, read_image(&out.join(&c.file), None)?)))
        .collect::<Result<Vec<_>>>()?;
    let scores = score_layer(model, layer, &renders, photos, model.photo_side(), device)?;
    let failing: Vec<usize> = scores
        .iter()
        .filter(|(_, s)| !s.path_ok())
        .map(|(c, _)| *c)
        .collect();
    let path = out.join("scores.json");
    let by_channel: std::collections::BTreeMap<usize, &Scores> =
        scores.iter().map(|(c, s)| (*c, s)).collect();
    std::fs::write(&path, serde_json::to_string_pretty(&by_channel)?)?;
    println!(
        "scores of {} renders against {} photos -> {}; {} fail the path check{}",
        scores.len(),
        photos.len(),
        path.display(),
        failing.len(),
        if failing.is_empty() {
            String::new()
        } else {
            format!(" (channels {failing:?}: distrust their pictures)")
        }
    );
    Ok(())
}

/// The settings of the run, with the channel range checked against the layer.
fn settings(
    args: &RenderLayerArgs,
    ascent: &AscentArgs,
    model: &OnnxModel,
    device: &Device,
) -> Result<LayerSettings> {
    model.check_layer(&args.layer)?;
    let info = model
        .layers()
        .iter()
        .find(|l| l.name == args.layer)
        .cloned()
        .expect("checked above");
    let Some(&channels) = info.shape.get(1) else {
        bail!(
            "layer `{}` has shape {:?}: it has no channels",
            args.layer,
            info.shape
        );
    };
    let range = match &args.channels {
        Some(text) => channel_range(text, channels)?,
        None => [0, channels],
    };
    Ok(LayerSettings {
        model: ascent
            .model
            .model
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        model_sha256: model.fingerprint().to_string(),
        layer: args.layer.clone(),
        channels: range,
        size: ascent.side(),
        steps: ascent.steps,
        lr: ascent.config(1).learning_rate,
        batch: args.batch,
        seed: ascent.seed,
        param: ascent.param.unwrap_or(Param::Fourier).name(),
        transforms: !ascent.no_transforms,
        variable_size: ascent.variable_size,
        backend: backend_name(device),
    })
}
