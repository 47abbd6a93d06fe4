//! The subcommands.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use burn::tensor::activation::softmax;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use excite_core::grid::grid;
use excite_core::image_io::{from_image, read_image, save_png, to_images};
use excite_core::spec::parse_objective;
use excite_core::transform::standard;
use excite_core::{ImageParam, VisualModel};
use excite_model::{Manifest, OnnxModel};
use excite_viz::{
    ProgressBar, RenderConfig, backend_name, default_device, render, render_channels,
};

use crate::cli::{Cli, Command, Param, RenderArgs};
use crate::layer_record::{ChannelEntry, LayerRecord, Settings};

type CmdResult = Result<(), String>;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> CmdResult {
    match cli.command {
        Command::Layers { model } => layers(&model),
        Command::Classify { image, model } => classify(&image, &model),
        Command::RenderLayer {
            layer,
            channels,
            batch,
            out,
            resume,
            render,
        } => render_layer(&layer, channels.as_deref(), batch, out, resume, &render),
        Command::Bench {
            steps,
            e2e_steps,
            quick,
        } => crate::bench::bench(&crate::bench::BenchArgs {
            steps,
            e2e_steps,
            quick,
        }),
        Command::Render {
            objective,
            batch,
            start_image,
            out,
            render,
        } => render_objective(&objective, batch, start_image.as_deref(), &out, &render),
    }
}

fn load(path: &Path, device: &Device) -> Result<(OnnxModel, Option<Manifest>), String> {
    OnnxModel::load_with_manifest(path, device).map_err(|e| e.to_string())
}

fn layers(path: &Path) -> CmdResult {
    let (model, _) = load(path, &Device::flex())?;
    let layers = model.layers().map_err(|e| e.to_string())?;
    let width = layers
        .iter()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(4)
        .max(5);
    println!("{:width$}  {:18}  shape", "layer", "op");
    for l in layers {
        let shape: Vec<String> = l.shape.iter().map(ToString::to_string).collect();
        println!("{:width$}  {:18}  {}", l.name, l.op, shape.join("x"));
    }
    Ok(())
}

fn classify(image: &Path, path: &Path) -> CmdResult {
    let device = Device::flex();
    let (model, manifest) = load(path, &device)?;
    let size = manifest.as_ref().map_or(224, |m| m.input_size);
    let labels = match &manifest {
        Some(m) => m.labels().map_err(|e| e.to_string())?,
        None => None,
    };
    let picture = read_image(image, None).map_err(|e| e.to_string())?;
    let mut x = from_image(&picture, &device);
    if picture.dimensions() != (size as u32, size as u32) {
        let options =
            InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([size, size]);
        x = interpolate(x, options);
    }
    let logits = model
        .activations(x, &["logits"])
        .map_err(|e| e.to_string())?
        .remove(0);
    let [_, k, _, _] = logits.dims();
    let probs = softmax(logits.reshape([1, k]), 1)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    for &i in order.iter().take(5) {
        let label = labels
            .as_ref()
            .and_then(|l| l.get(i))
            .map_or("", String::as_str);
        println!("{:>6.2}%  {i:>4}  {label}", probs[i] * 100.0);
    }
    Ok(())
}

fn config(args: &RenderArgs) -> RenderConfig {
    RenderConfig {
        steps: args.steps,
        learning_rate: args.lr,
        transforms: if args.no_transforms {
            Vec::new()
        } else {
            standard()
        },
        thresholds: Vec::new(),
        seed: args.seed,
    }
}

fn make_param(kind: Param, batch: usize, size: usize, device: &Device) -> ImageParam {
    match kind {
        Param::Fourier => ImageParam::fourier(batch, size, size, 1.0, device),
        Param::Pixels => ImageParam::pixels(batch, size, size),
        Param::Phase => ImageParam::phase_only(batch, size, size, None, device)
            .expect("the default magnitude fits"),
    }
}

fn parse_range(text: &str, channels: usize) -> Result<[usize; 2], String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("channels `{text}` must be a range A..B"))?;
    let parse = |s: &str, default: usize| {
        if s.is_empty() {
            Ok(default)
        } else {
            s.parse::<usize>()
                .map_err(|_| format!("`{s}` in `{text}` is not a channel number"))
        }
    };
    let (a, b) = (parse(a, 0)?, parse(b, channels)?);
    if a >= b || b > channels {
        return Err(format!(
            "channels {a}..{b} are out of range: the layer has channels 0..{channels}"
        ));
    }
    Ok([a, b])
}

fn render_layer(
    layer: &str,
    channels: Option<&str>,
    batch: usize,
    out: Option<PathBuf>,
    resume: bool,
    args: &RenderArgs,
) -> CmdResult {
    if batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    let device = default_device();
    let (model, _) = load(&args.model, &device)?;
    model.check_layer(layer).map_err(|e| e.to_string())?;
    let info = model
        .layers()
        .map_err(|e| e.to_string())?
        .iter()
        .find(|l| l.name == layer)
        .cloned()
        .expect("checked above");
    if info.shape.len() < 2 {
        return Err(format!(
            "layer `{layer}` has shape {:?}: it has no channels",
            info.shape
        ));
    }
    let range = match channels {
        Some(text) => parse_range(text, info.shape[1])?,
        None => [0, info.shape[1]],
    };
    let out = out.unwrap_or_else(|| PathBuf::from("renders").join(layer));
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let settings = Settings {
        model: args
            .model
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        layer: layer.to_string(),
        channels: range,
        size: args.size,
        steps: args.steps,
        lr: args.lr,
        batch,
        seed: args.seed,
        param: args.param,
        transforms: !args.no_transforms,
        backend: backend_name().to_string(),
    };
    let record_path = out.join("record.json");
    let mut record = match LayerRecord::read(&record_path)? {
        Some(previous) if resume => {
            if previous.settings != settings {
                return Err(format!(
                    "{} was made with other settings ({:?}); use another --out or drop --resume",
                    record_path.display(),
                    previous.settings
                ));
            }
            previous
        }
        _ => LayerRecord {
            settings: settings.clone(),
            channels: Vec::new(),
            failures: Vec::new(),
            seconds: 0.0,
        },
    };
    record.failures.clear();
    let all: Vec<usize> = (range[0]..range[1]).collect();
    // Batches are fixed by the range and batch size, so a resumed run renders the same images.
    let chunks: Vec<&[usize]> = all
        .chunks(batch)
        .filter(|chunk| !chunk.iter().all(|&c| record.has(c, &out)))
        .collect();
    let config = config(args);
    let mut bar = ProgressBar::new(layer.to_string(), chunks.len() * args.steps);
    for (done, chunk) in chunks.iter().enumerate() {
        let start = Instant::now();
        let chunk_config = RenderConfig {
            seed: args.seed.wrapping_add(chunk[0] as u64),
            ..config.clone()
        };
        let mut on_step = |p: &excite_viz::Progress| {
            bar.update(
                done * args.steps + p.step,
                &format!(
                    "channels {}..{} objective {:.3}",
                    chunk[0],
                    chunk[chunk.len() - 1] + 1,
                    p.value
                ),
            );
        };
        let param = |b: usize| make_param(args.param, b, args.size, &device);
        match render_channels(
            &model,
            layer,
            chunk,
            &param,
            &chunk_config,
            &device,
            &mut on_step,
        ) {
            Ok(renders) => {
                let seconds = start.elapsed().as_secs_f32();
                for r in renders {
                    let file = format!("channel_{:04}.png", r.channel);
                    save_png(&r.image, &out.join(&file)).map_err(|e| e.to_string())?;
                    record.channels.retain(|e| e.channel != r.channel);
                    record.channels.push(ChannelEntry {
                        channel: r.channel,
                        file,
                        activation: r.activation,
                        seconds: seconds / chunk.len() as f32,
                    });
                }
                record.seconds += seconds;
            }
            Err(e) => {
                eprintln!("\nchannels {:?} failed: {e}; continuing", chunk);
                record
                    .failures
                    .extend(chunk.iter().map(|&c| (c, e.to_string())));
            }
        }
        record.channels.sort_by_key(|e| e.channel);
        record.write(&record_path)?;
    }
    bar.finish();
    write_grid(&record, &out)?;
    println!(
        "{} channels of `{layer}` in {:.1}s -> {}",
        record.channels.len(),
        record.seconds,
        out.join("grid.png").display()
    );
    if record.failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} channels failed; see {}",
            record.failures.len(),
            record_path.display()
        ))
    }
}

fn write_grid(record: &LayerRecord, out: &Path) -> CmdResult {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for entry in &record.channels {
        images.push(read_image(&out.join(&entry.file), None).map_err(|e| e.to_string())?);
        labels.push(entry.channel.to_string());
    }
    if images.is_empty() {
        return Ok(());
    }
    let columns = (images.len() as f32).sqrt().ceil() as usize;
    save_png(&grid(&images, &labels, columns), &out.join("grid.png")).map_err(|e| e.to_string())
}

fn render_objective(
    spec: &str,
    batch: usize,
    start_image: Option<&Path>,
    out: &Path,
    args: &RenderArgs,
) -> CmdResult {
    let device = default_device();
    let (model, _) = load(&args.model, &device)?;
    let objective = parse_objective(spec).map_err(|e| e.to_string())?;
    for layer in objective.layers() {
        model.check_layer(layer).map_err(|e| e.to_string())?;
    }
    let param = match start_image {
        Some(path) => {
            let picture = read_image(path, None).map_err(|e| e.to_string())?;
            ImageParam::from_image(from_image(&picture, &device).without_autodiff())
        }
        None => make_param(args.param, batch.max(1), args.size, &device),
    };
    let mut bar = ProgressBar::new(objective.to_string(), args.steps);
    let rendered = render(
        &model,
        &objective,
        &param,
        &config(args),
        &device,
        &mut |p| {
            bar.update(p.step, &format!("objective {:.3}", p.value));
        },
    )
    .map_err(|e| e.to_string())?;
    bar.finish();
    let images = to_images(rendered.images).map_err(|e| e.to_string())?;
    let picture = if images.len() == 1 {
        images.into_iter().next().expect("one image")
    } else {
        grid(&images, &[], images.len())
    };
    save_png(&picture, out).map_err(|e| e.to_string())?;
    let history = &rendered.history;
    println!(
        "objective {:.4} -> {:.4} over {} steps -> {}",
        history[0],
        history[history.len() - 1],
        history.len(),
        out.display()
    );
    Ok(())
}
