//! `render`: one objective into one PNG (a grid for a batch).

use anyhow::{Result, bail};
use burn::tensor::Device;
use excite::core::Progress;
use excite::core::grid::grid;
use excite::core::image_io::{
    check_writable, from_image, read_image, save_png, save_rgba_png, to_images,
};
use excite::{ImageParam, Objective, OnnxModel, render};

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
    let ascent = args.ascent.for_model(&model, true)?;
    let mut config = ascent.config(args.batch);
    if let Some(path) = &args.start_image {
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
    let rendered = render(&model, &objective, &config, device)?;
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
    Ok(())
}
