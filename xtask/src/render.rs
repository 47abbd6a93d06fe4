//! `render`: one objective into one PNG (a grid for a batch).

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::tensor::{Device, Tensor};
use excite::core::Progress;
use excite::core::grid::grid;
use excite::core::image_io::{
    check_writable, from_image, read_image, save_png, save_rgba_png, to_images,
};
use excite::views::photos::{list_photos, load_square};
use excite::views::{Scores, class_rank, score_against};
use excite::viz::{Accentuation, accentuate};
use excite::{ImageParam, Objective, OnnxModel, render};
use image::RgbImage;

use crate::cli::RenderArgs;
use crate::progress::bar;

/// Renders the objective and writes the image.
pub fn run(args: &RenderArgs, device: &Device) -> Result<()> {
    let model = OnnxModel::load(&args.ascent.model.model, device)?;
    let objective: Objective = args.objective.parse()?;
    for layer in objective.layers() {
        model.check_layer(layer)?;
    }
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    check_writable(&args.out)?;
    // What the checks after the render need, checked before it.
    let class = check_with_class(args)?;
    let photos = args.images.as_deref().map(enough_photos).transpose()?;
    let ascent = args.ascent.for_model(&model, true)?;
    let mut config = ascent.config(args.batch);
    // DeepDream: pixels from the start image (accentuation starts its own basis from it).
    if let Some(path) = &args.start_image
        && !args.accentuate
    {
        let picture = from_image(&read_image(path, None)?, &Device::flex());
        config.param = ImageParam::from_image(picture).with_batch(args.batch);
    }
    if args.alpha {
        config.param = config.param.with_alpha(true);
        config.alpha_penalty = args.alpha_penalty;
    }
    config.validate()?;
    let layers: Vec<&str> = objective.layers().iter().map(String::as_str).collect();
    let limit = ascent.memory_limit()?;
    model.check_memory(&layers, args.batch, config.input_size(), limit)?;
    let progress = bar(&objective.to_string(), ascent.steps);
    let observed = progress.clone();
    let config = config.on_progress(move |p| {
        if let Progress::Step { step, value, .. } = p {
            observed.set_position(*step as u64);
            observed.set_message(format!("objective {value:.3}"));
        }
    });
    let rendered = match (&args.start_image, args.accentuate) {
        (Some(path), true) => {
            let photo = from_image(&load_square(path, ascent.side() as u32)?, device);
            let accentuation = Accentuation {
                stay_close: args.stay_close.clone(),
                closeness: args.closeness,
            };
            if let Some(layer) = &accentuation.stay_close {
                model.check_layer(layer)?;
            }
            let before = value(&objective, &model, photo.clone())?;
            let rendered = accentuate(
                &model,
                &objective,
                photo.clone(),
                &accentuation,
                &config,
                device,
            )?;
            let after = value(&objective, &model, rendered.images.clone())?;
            let moved = (rendered.images.clone() - photo)
                .abs()
                .mean()
                .into_scalar::<f32>();
            progress.suspend(|| {
                println!(
                    "accentuated: the objective {before:.4} on the photo, {after:.4} on the result; mean pixel change {:.1}/255",
                    moved * 255.0
                )
            });
            rendered
        }
        _ => render(&model, &objective, &config, device)?,
    };
    progress.finish();
    // MACO's margin, which no crop saw, is left out of the picture (it stays in the canvas
    // written with its transparency beside it).
    let images = match rendered.region {
        Some(_) => to_images(rendered.seen(ascent.side()))?,
        None => rendered.to_images()?,
    };
    let picture = match images.as_slice() {
        [one] => one.clone(),
        many => grid(many, &[], many.len()),
    };
    save_png(&picture, &args.out)?;
    if let Some(rgba) = rendered.to_rgba_images()? {
        let alpha = args.out.with_file_name(format!(
            "{}_alpha.png",
            args.out
                .file_stem()
                .map_or("render".into(), |s| s.to_string_lossy())
        ));
        save_rgba_png(&rgba[0], &alpha)?;
        let what = if args.alpha {
            "optimised alpha"
        } else {
            "the whole canvas, with its transparency (where the model looked)"
        };
        println!("{what} -> {}", alpha.display());
    }
    let history = &rendered.history;
    println!(
        "objective {:.4} -> {:.4} over {} steps -> {}",
        history[0],
        history[history.len() - 1],
        history.len(),
        args.out.display()
    );
    if let Some(photos) = &photos {
        let scores = score_against(
            &model,
            &objective,
            &images[0],
            photos,
            model.photo_side(),
            device,
        )?;
        print_scores(&scores, photos.len(), images.len());
    }
    if let Some(class) = class {
        transferability(class, &model, &args.check_with, &images[0], device)?;
    }
    Ok(())
}

/// The objective's value on `images` (as the objective reduces a batch: a channel, its mean).
fn value(objective: &Objective, model: &OnnxModel, images: Tensor<4>) -> Result<f32> {
    Ok(objective
        .evaluate_on(model, images.detach())?
        .into_scalar::<f32>())
}

/// The photos of `dir`, checked to be enough to score against (a render is compared with its
/// top photos, at least two).
pub fn enough_photos(dir: &std::path::Path) -> Result<Vec<PathBuf>> {
    let photos = list_photos(dir)?;
    if photos.len() < 2 {
        bail!(
            "{} holds {} photo: scoring a render needs at least two",
            dir.display(),
            photos.len()
        );
    }
    Ok(photos)
}

/// The render's scores, a line each.
fn print_scores(scores: &Scores, photos: usize, images: usize) {
    let of = if images > 1 { " (the first image)" } else { "" };
    println!("scores{of} against {photos} photos:");
    match scores.activation_vs_photos {
        Some(r) => println!("  activation vs photos: {r:.2} (the render over the best photo)"),
        None => println!("  activation vs photos: - (no photo excites the objective)"),
    }
    match scores.path_similarity {
        Some(p) => println!(
            "  path similarity: {p:.3} over {} layers: {}",
            scores.path.len(),
            if scores.path_ok() {
                "passes (closer to the top photos' path than random photos)"
            } else {
                "FAILS (no closer to the top photos' path than random photos: distrust this picture)"
            }
        ),
        None => println!("  path similarity: - (no layer below the objective's)"),
    }
    println!(
        "  plausibility: {:.2} in {} (1 = as close to the top photos as a random photo is; higher is further)",
        scores.plausibility, scores.feature_layer
    );
}

/// With `--check-with`, the class of the `logit:N` objective, the models checked to exist.
fn check_with_class(args: &RenderArgs) -> Result<Option<usize>> {
    if args.check_with.is_empty() {
        return Ok(None);
    }
    let Some(class) = args
        .objective
        .strip_prefix("logit:")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        bail!(
            "--check-with needs a class logit objective (logit:N), not `{}`",
            args.objective
        );
    };
    if let Some(missing) = args.check_with.iter().find(|p| !p.is_file()) {
        bail!("--check-with: no model at {}", missing.display());
    }
    Ok(Some(class))
}

/// The rank of `class` that the rendering model and each of `others` give `image`.
fn transferability(
    class: usize,
    model: &OnnxModel,
    others: &[PathBuf],
    image: &RgbImage,
    device: &Device,
) -> Result<()> {
    println!("class {class} (transferability; rank 1 = first):");
    let (rank, first) = class_rank(model, image, class, model.photo_side(), device)?;
    println!("  the rendering model: rank {rank} (first: class {first})");
    for path in others {
        let other = OnnxModel::load(path, device)?;
        let (rank, first) = class_rank(&other, image, class, other.photo_side(), device)?;
        println!("  {}: rank {rank} (first: class {first})", path.display());
    }
    Ok(())
}
